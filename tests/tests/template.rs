//! template.yaml and the code agree: every variable a function's config reads is set in the
//! template (or has a default) and every variable the template sets is read; the template's
//! values parse; binary names match the crates; the Kinesis event source enables
//! ReportBatchItemFailures because batch-to-s3 answers batch item failures; every sample
//! event in events/ parses as what it claims to be.

use local_pipeline::settings::{function_environments, LocalResources};
use serde_yaml::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn template_text() -> String {
    std::fs::read_to_string(format!("{ROOT}/template.yaml")).unwrap()
}

fn environments() -> BTreeMap<String, BTreeMap<String, String>> {
    let local = LocalResources {
        stream: "stream".into(),
        bucket: "bucket".into(),
        account: "123456789012".into(),
        region: "us-east-1".into(),
    };
    function_environments(&template_text(), &local).unwrap()
}

/// Runs a config reader over the template's values; returns the names it asked for.
fn names_read<C, E: std::fmt::Debug>(
    env: &BTreeMap<String, String>,
    read: impl FnOnce(&dyn Fn(&str) -> Option<String>) -> Result<C, E>,
) -> BTreeSet<String> {
    let asked = RefCell::new(BTreeSet::new());
    let lookup = |name: &str| {
        asked.borrow_mut().insert(name.to_owned());
        env.get(name).cloned()
    };
    read(&lookup)
        .unwrap_or_else(|e| panic!("the template's values do not configure the function: {e:?}"));
    asked.into_inner()
}

fn check(binary: &str, asked: BTreeSet<String>, env: &BTreeMap<String, String>) {
    let unread: Vec<&String> = env.keys().filter(|k| !asked.contains(*k)).collect();
    assert!(
        unread.is_empty(),
        "{binary}: template.yaml sets {unread:?}, which its config never reads"
    );
}

#[test]
fn every_function_gets_the_variables_its_config_reads() {
    let envs = environments();
    let binaries: BTreeSet<&str> = envs.keys().map(String::as_str).collect();
    assert_eq!(
        binaries,
        BTreeSet::from([
            "batch-to-iceberg",
            "batch-to-s3",
            "firehose-transform",
            "ingest"
        ])
    );

    let env = &envs["ingest"];
    check(
        "ingest",
        names_read(env, |l| ingest::Config::from_lookup(l)),
        env,
    );
    let env = &envs["batch-to-s3"];
    check(
        "batch-to-s3",
        names_read(env, |l| batch_to_s3::Config::from_lookup(l)),
        env,
    );
    let env = &envs["firehose-transform"];
    check(
        "firehose-transform",
        names_read(env, |l| firehose_transform::Config::from_lookup(l)),
        env,
    );
    let env = &envs["batch-to-iceberg"];
    check(
        "batch-to-iceberg",
        names_read(env, |l| batch_to_iceberg::Config::from_lookup(l)),
        env,
    );
}

#[test]
fn binary_names_match_the_crates() {
    for binary in environments().keys() {
        let manifest = std::fs::read_to_string(format!("{ROOT}/functions/{binary}/Cargo.toml"))
            .unwrap_or_else(|_| {
                panic!("no crate functions/{binary} for the template's Binary {binary}")
            });
        let bins: Vec<&str> = manifest
            .split("[[bin]]")
            .skip(1)
            .filter_map(|section| section.lines().find(|l| l.trim_start().starts_with("name")))
            .collect();
        assert_eq!(
            bins,
            [format!("name = \"{binary}\"").as_str()],
            "functions/{binary}/Cargo.toml"
        );
    }
}

#[test]
fn the_kinesis_event_sources_match_what_the_functions_answer() {
    let t: Value = serde_yaml::from_str(&template_text()).unwrap();
    for (resource, binary) in [
        ("BatchToS3Function", "batch-to-s3"),
        ("IcebergFunction", "batch-to-iceberg"),
    ] {
        let f = &t["Resources"][resource];
        assert_eq!(f["Metadata"]["BuildProperties"]["Binary"], binary);
        let source = &f["Properties"]["Events"]["Stream"]["Properties"];
        let types: Vec<&str> = source["FunctionResponseTypes"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            types,
            ["ReportBatchItemFailures"],
            "{binary} returns batchItemFailures"
        );
        assert_eq!(
            source["ParallelizationFactor"].as_i64(),
            Some(1),
            "{binary}: the high-water mark and the Iceberg checkpoint assume one invocation per shard"
        );
        assert_eq!(source["BisectBatchOnFunctionError"].as_bool(), Some(true));
        assert!(
            !source["DestinationConfig"]["OnFailure"]["Destination"].is_null(),
            "{binary}: records that exhaust their retries need an on-failure destination"
        );
    }
    for (name, r) in t["Resources"].as_mapping().unwrap() {
        if r["Type"] == "AWS::Serverless::Function" {
            assert_eq!(r["Metadata"]["BuildMethod"], "rust-cargolambda", "{name:?}");
        }
    }
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Handler"], "bootstrap");
    assert_eq!(globals["Architectures"][0], "arm64");
}

#[test]
fn every_sample_event_parses() {
    let mut seen = 0;
    for entry in std::fs::read_dir(format!("{ROOT}/events")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if name.starts_with("ingest-") {
            let req: ingest::event::UrlRequest = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{name}: not a function URL event: {e}"));
            assert!(
                !req.request_context.http.method.is_empty(),
                "{name}: no method"
            );
        } else if name.starts_with("kinesis-") {
            serde_json::from_str::<aws_lambda_events::event::kinesis::KinesisEvent>(&text)
                .unwrap_or_else(|e| panic!("{name}: not a Kinesis event: {e}"));
        } else if name.starts_with("firehose-") || name.starts_with("cloudwatch-logs-") {
            serde_json::from_str::<firehose_transform::event::FirehoseEvent>(&text)
                .unwrap_or_else(|e| panic!("{name}: not a Firehose transform event: {e}"));
        } else {
            panic!("{name}: name events by what they hold (ingest-, kinesis-, firehose-, cloudwatch-logs-)");
        }
        seen += 1;
    }
    assert!(seen >= 15, "only {seen} sample events");
}

/// Collects a policy document's statements (a map, or a list of maps), with both branches
/// of a conditional statement (`!If [cond, statement, !Ref AWS::NoValue]`).
fn statements(doc: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    let items: Vec<&Value> = match &doc["Statement"] {
        Value::Sequence(s) => s.iter().collect(),
        v @ Value::Mapping(_) => vec![v],
        _ => vec![],
    };
    for item in items {
        match item {
            Value::Tagged(tag) if tag.tag == "If" => {
                if let Some(branches) = tag.value.as_sequence() {
                    out.extend(branches.iter().skip(1).filter(|b| b.is_mapping()));
                }
            }
            v => out.push(v),
        }
    }
    out
}

fn as_list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Sequence(s) => s.iter().collect(),
        Value::Null => vec![],
        other => vec![other],
    }
}

#[test]
fn roles_grant_no_wildcard_action_or_resource() {
    let t: Value = serde_yaml::from_str(&template_text()).unwrap();
    let mut roles = 0;
    for (name, r) in t["Resources"].as_mapping().unwrap() {
        let name = name.as_str().unwrap_or_default();
        if r["Type"] == "AWS::Serverless::Function" {
            assert!(!r["Properties"]["Role"].is_null(),
                "{name}: every function has its own role (SAM's generated roles attach managed policies with Resource *)");
            assert!(
                r["Properties"]["Policies"].is_null(),
                "{name}: permissions belong in its role"
            );
        }
        if r["Type"] != "AWS::IAM::Role" {
            continue;
        }
        roles += 1;
        assert!(
            r["Properties"]["ManagedPolicyArns"].is_null(),
            "{name}: managed policies are broader than needed"
        );
        for policy in r["Properties"]["Policies"].as_sequence().unwrap() {
            for st in statements(&policy["PolicyDocument"]) {
                assert_eq!(st["Effect"], "Allow", "{name}");
                for action in as_list(&st["Action"]) {
                    let a = action.as_str().unwrap_or_default();
                    assert!(!a.contains('*'), "{name}: action {a} has a wildcard");
                }
                let resources = as_list(&st["Resource"]);
                assert!(
                    !resources.is_empty(),
                    "{name}: a statement without a resource"
                );
                for res in resources {
                    assert_ne!(res.as_str(), Some("*"), "{name}: Resource \"*\" in {st:?}");
                }
            }
        }
    }
    assert_eq!(
        roles, 6,
        "one role per function, one for Firehose and one for Glue's table optimizers"
    );
}

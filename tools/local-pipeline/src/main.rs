//! `local-pipeline`: runs the batch-to-s3 and Firehose paths against the local stack until
//! the stream is drained, then prints what each did. Wiring only; see the library.

use anyhow::{bail, Context, Result};
use local_pipeline::runner::{Path, Pipeline};
use local_pipeline::settings::Settings;

const USAGE: &str = "usage: local-pipeline show --bucket NAME | local-pipeline env --stream NAME --bucket NAME [--functions a,b] | local-pipeline --stream NAME --bucket NAME [--paths batch,firehose] \
[--template template.yaml] [--lambda-endpoint http://127.0.0.1:9000] [--delivery-stream NAME] \
[--on-failure-file .local/on-failure.jsonl] [--inject-function-errors N] \
[--batch-function batch-to-s3|batch-to-iceberg]";

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::collections::HashMap::new();
    let mut it = std::env::args().skip(1).peekable();
    let command = match it.peek().map(String::as_str) {
        Some(c @ ("show" | "env")) => {
            let c = c.to_owned();
            it.next();
            c
        }
        _ => "run".to_owned(),
    };
    while let Some(flag) = it.next() {
        let Some(name) = flag.strip_prefix("--") else {
            bail!("unexpected argument {flag:?}\n{USAGE}")
        };
        let value = it
            .next()
            .with_context(|| format!("--{name} needs a value\n{USAGE}"))?;
        args.insert(name.to_owned(), value);
    }
    let get = |k: &str| args.get(k).cloned();
    if command == "show" {
        return show_bucket(&get("bucket").context(USAGE)?).await;
    }
    if command == "env" {
        return print_env(
            &get("template").unwrap_or_else(|| "template.yaml".into()),
            get("stream").context(USAGE)?,
            get("bucket").context(USAGE)?,
            get("functions"),
        );
    }
    let stream = get("stream").context(USAGE)?;
    let bucket = get("bucket").context(USAGE)?;
    let template = get("template").unwrap_or_else(|| "template.yaml".into());
    let port = std::env::var("LAMBDA_PORT").unwrap_or_else(|_| "9000".into());
    let lambda_endpoint =
        get("lambda-endpoint").unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
    let settings = Settings::from_template(
        &std::fs::read_to_string(&template).with_context(|| template.clone())?,
    )?
    .with_env_overrides();

    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let lambda = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(&sdk)
            .endpoint_url(lambda_endpoint)
            // cargo lambda watch compiles a function on its first invocation.
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_timeout(std::time::Duration::from_secs(900))
                    .build(),
            )
            .build(),
    );
    let pipeline = Pipeline {
        kinesis: aws_sdk_kinesis::Client::new(&sdk),
        s3,
        lambda,
        delivery_stream: get("delivery-stream").unwrap_or_else(|| format!("{stream}-delivery")),
        stream,
        bucket,
        region: sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into()),
        settings,
        // The Kinesis-triggered function the event source mapping invokes: batch-to-s3, or
        // batch-to-iceberg (the same event and batchItemFailures contract).
        batch_function: get("batch-function").unwrap_or_else(|| "batch-to-s3".into()),
        transform_function: "firehose-transform".into(),
        on_failure_file: get("on-failure-file")
            .unwrap_or_else(|| ".local/on-failure.jsonl".into())
            .into(),
        inject_batch_function_errors: get("inject-function-errors")
            .map(|n| n.parse())
            .transpose()
            .context("--inject-function-errors takes a count")?
            .unwrap_or(0usize)
            .into(),
    };
    for path in get("paths")
        .unwrap_or_else(|| "batch,firehose".into())
        .split(',')
    {
        let path = match path.trim() {
            "batch" => Path::BatchToS3,
            "firehose" => Path::Firehose,
            other => bail!("unknown path {other:?}: batch or firehose"),
        };
        let r = pipeline.drain(path).await?;
        println!(
            "{} shards read, {} of them to their end (closed by a reshard)",
            r.shards_read, r.shards_ended
        );
        if !r.shards_blocked.is_empty() {
            println!(
                "  not read, a parent's end not seen: {}",
                r.shards_blocked.join(", ")
            );
        }
        match path {
            Path::BatchToS3 => println!(
                "{} path: {} records read, {} invocations, {} retries, {} bisections, {} records to on-failure",
                pipeline.batch_function, r.records_read, r.batch_invocations, r.batch_retries, r.bisections, r.on_failure_records
            ),
            Path::Firehose => {
                println!(
                    "firehose path: {} records read, {} transform invocations, {} delivered, {} dropped, {} processing-failed",
                    r.records_read, r.transform_invocations, r.firehose_delivered, r.firehose_dropped, r.firehose_failed
                );
                for (key, bytes, records) in &r.firehose_objects {
                    println!("  wrote s3://{}/{key} ({bytes} bytes, {records} records)", pipeline.bucket);
                }
            }
        }
    }
    Ok(())
}

/// `local-pipeline show --bucket NAME`: what each path wrote, decoded.
async fn show_bucket(bucket: &str) -> Result<()> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    for (title, prefix) in [
        ("batch-to-s3 data", "data/"),
        ("batch-to-s3 errors", "errors/"),
        ("Firehose data", "firehose/"),
        ("Firehose errors", "firehose-errors/"),
    ] {
        let objects = local_pipeline::show::objects(&s3, bucket, prefix).await?;
        let records: usize = objects.iter().map(|o| o.lines.len()).sum();
        println!(
            "\n{title} (s3://{bucket}/{prefix}): {} objects, {records} records",
            objects.len()
        );
        for o in &objects {
            println!(
                "  {:>8} bytes {:>6} records  {}",
                o.bytes,
                o.lines.len(),
                o.key
            );
        }
        for line in objects.iter().flat_map(|o| o.lines.iter()).take(3) {
            let shown: String = line.chars().take(160).collect();
            println!("    | {shown}");
        }
    }
    Ok(())
}

/// `local-pipeline env`: the functions' environment from template.yaml, as an env file for
/// `cargo lambda watch --env-file` (one file serves every function it lists; a variable two
/// of them set differently is an error: give each its own file with `--functions`).
fn print_env(
    template: &str,
    stream: String,
    bucket: String,
    functions: Option<String>,
) -> Result<()> {
    let wanted: Option<Vec<String>> =
        functions.map(|f| f.split(',').map(|s| s.trim().to_owned()).collect());
    let text = std::fs::read_to_string(template).with_context(|| template.to_owned())?;
    let local = local_pipeline::settings::LocalResources {
        stream,
        bucket,
        account: "123456789012".into(),
        region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
    };
    let mut merged = std::collections::BTreeMap::<String, String>::new();
    for (binary, env) in local_pipeline::settings::function_environments(&text, &local)? {
        if wanted.as_ref().is_some_and(|w| !w.contains(&binary)) {
            continue;
        }
        for (k, v) in env {
            if let Some(old) = merged.get(&k).filter(|old| **old != v) {
                bail!("{k} is {old:?} for one function and {v:?} for {binary}: one env file cannot serve both (choose with --functions)");
            }
            merged.insert(k, v);
        }
    }
    for (k, v) in merged {
        println!("{k}={v}");
    }
    Ok(())
}

//! The runner's settings, read from `template.yaml` so local runs behave like the deployed
//! stack: the event source mapping's batch size, batching window, retry limit and bisection,
//! and the delivery stream's buffering and prefixes. Environment variables may override a
//! value for a local run (e.g. a shorter window for the demo); each override is named here.

use serde_yaml::Value;
use std::time::Duration;

/// Settings for both stand-ins.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `BatchSize` parameter: most records per batch-to-s3 invocation.
    pub batch_size: usize,
    /// `MaximumBatchingWindowInSeconds` parameter (override: `LOCAL_BATCHING_WINDOW_SECONDS`).
    pub batching_window: Duration,
    /// `MaximumRetryAttempts` parameter: retries of a failing batch (-1: until the record expires).
    pub max_retry_attempts: i64,
    /// `BisectBatchOnFunctionError` of the Kinesis event.
    pub bisect_on_error: bool,
    /// `FirehoseBufferIntervalSeconds` parameter (override: `LOCAL_FIREHOSE_BUFFER_SECONDS`).
    pub firehose_buffer_interval: Duration,
    /// `FirehoseBufferSizeMiB` parameter, in bytes.
    pub firehose_buffer_bytes: usize,
    /// The delivery stream's `Prefix` (without dynamic partitioning).
    pub firehose_prefix: String,
    /// The delivery stream's `ErrorOutputPrefix`.
    pub firehose_error_prefix: String,
    /// The prefix used when the transform returns partition keys: the
    /// `FirehoseDynamicPrefix` parameter (override: `LOCAL_FIREHOSE_DYNAMIC_PREFIX`).
    pub firehose_dynamic_prefix: String,
}

/// template.yaml lacks something the runner needs.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("template.yaml is not YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("template.yaml has no {0}")]
    Missing(String),
}

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

fn param_number(t: &Value, name: &str) -> Result<f64, SettingsError> {
    at(t, &["Parameters", name, "Default"])
        .and_then(|v| {
            v.as_f64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .ok_or_else(|| SettingsError::Missing(format!("Parameters.{name}.Default")))
}

/// A plain string, or the "else" branch of `!If [cond, then, else]` (the default deployment).
fn string_or_if_else(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Tagged(t) if t.tag == "!If" => {
            t.value.as_sequence()?.get(2)?.as_str().map(str::to_owned)
        }
        _ => None,
    }
}

fn env_seconds(name: &str) -> Option<Duration> {
    std::env::var(name)
        .ok()?
        .parse::<f64>()
        .ok()
        .map(Duration::from_secs_f64)
}

impl Settings {
    /// Reads the settings from the text of template.yaml.
    pub fn from_template(text: &str) -> Result<Self, SettingsError> {
        let t: Value = serde_yaml::from_str(text)?;
        let event = at(
            &t,
            &[
                "Resources",
                "BatchToS3Function",
                "Properties",
                "Events",
                "Stream",
                "Properties",
            ],
        )
        .ok_or_else(|| SettingsError::Missing("the Kinesis event of BatchToS3Function".into()))?;
        let s3 = at(
            &t,
            &[
                "Resources",
                "DeliveryStream",
                "Properties",
                "ExtendedS3DestinationConfiguration",
            ],
        )
        .ok_or_else(|| {
            SettingsError::Missing("DeliveryStream's ExtendedS3DestinationConfiguration".into())
        })?;
        Ok(Self {
            batch_size: param_number(&t, "BatchSize")? as usize,
            batching_window: Duration::from_secs_f64(param_number(
                &t,
                "MaximumBatchingWindowInSeconds",
            )?),
            max_retry_attempts: param_number(&t, "MaximumRetryAttempts")? as i64,
            bisect_on_error: event
                .get("BisectBatchOnFunctionError")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            firehose_buffer_interval: Duration::from_secs_f64(param_number(
                &t,
                "FirehoseBufferIntervalSeconds",
            )?),
            firehose_buffer_bytes: (param_number(&t, "FirehoseBufferSizeMiB")? * 1024.0 * 1024.0)
                as usize,
            firehose_prefix: s3
                .get("Prefix")
                .and_then(string_or_if_else)
                .ok_or_else(|| SettingsError::Missing("DeliveryStream Prefix".into()))?,
            firehose_error_prefix: s3
                .get("ErrorOutputPrefix")
                .and_then(string_or_if_else)
                .ok_or_else(|| SettingsError::Missing("DeliveryStream ErrorOutputPrefix".into()))?,
            firehose_dynamic_prefix: at(&t, &["Parameters", "FirehoseDynamicPrefix", "Default"])
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    SettingsError::Missing("Parameters.FirehoseDynamicPrefix.Default".into())
                })?,
        })
    }

    /// Applies the local overrides from the environment.
    pub fn with_env_overrides(mut self) -> Self {
        if let Some(d) = env_seconds("LOCAL_BATCHING_WINDOW_SECONDS") {
            self.batching_window = d;
        }
        if let Some(d) = env_seconds("LOCAL_FIREHOSE_BUFFER_SECONDS") {
            self.firehose_buffer_interval = d;
        }
        if let Ok(p) = std::env::var("LOCAL_FIREHOSE_DYNAMIC_PREFIX") {
            self.firehose_dynamic_prefix = p;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_projects_template() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"))
                .unwrap();
        let s = Settings::from_template(&text).unwrap();
        assert_eq!(s.batch_size, 10_000);
        assert_eq!(s.firehose_buffer_interval, Duration::from_secs(60));
        assert_eq!(s.firehose_prefix, "firehose/");
        assert!(s
            .firehose_dynamic_prefix
            .contains("!{partitionKeyFromLambda:"));
        assert!(s
            .firehose_error_prefix
            .contains("!{firehose:error-output-type}"));
        assert!(s.bisect_on_error);
    }
}

/// The names the local stack gives to the template's resources.
#[derive(Debug, Clone)]
pub struct LocalResources {
    pub stream: String,
    pub bucket: String,
    pub account: String,
    pub region: String,
}

/// Each function's environment as `template.yaml` sets it, keyed by binary name, with
/// `!Ref`/`!GetAtt` resolved: parameters to their defaults, the stream and bucket to the
/// local ones. The local runs and the template-agreement test both use this, so a function
/// runs locally with exactly the variables it gets when deployed.
pub fn function_environments(
    text: &str,
    local: &LocalResources,
) -> Result<
    std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    SettingsError,
> {
    let t: Value = serde_yaml::from_str(text)?;
    let resources = t
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| SettingsError::Missing("Resources".into()))?;
    let mut out = std::collections::BTreeMap::new();
    for (name, r) in resources {
        if r.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = name.as_str().unwrap_or_default();
        let binary = at(r, &["Metadata", "BuildProperties", "Binary"])
            .and_then(Value::as_str)
            .ok_or_else(|| {
                SettingsError::Missing(format!("{name}.Metadata.BuildProperties.Binary"))
            })?;
        let mut env = std::collections::BTreeMap::new();
        if let Some(vars) =
            at(r, &["Properties", "Environment", "Variables"]).and_then(Value::as_mapping)
        {
            for (k, v) in vars {
                let k = k.as_str().unwrap_or_default().to_owned();
                // `!If [condition, value, !Ref AWS::NoValue]` sets a variable only in some
                // deployments; at the defaults it takes its `else` branch (default_branch).
                let v = default_branch(v);
                if is_no_value(v) {
                    continue;
                }
                let value = resolve(&t, v, local).ok_or_else(|| {
                    SettingsError::Missing(format!("a local value for {name}'s {k}"))
                })?;
                env.insert(k, value);
            }
        }
        out.insert(binary.to_owned(), env);
    }
    Ok(out)
}

/// The branch of `!If [condition, then, else]` a deployment with the parameters' defaults
/// takes: `else`, followed through nested `!If`s. Every condition an environment variable
/// depends on is false at the defaults (IcebergOnS3Tables); tests/deploy/test_sam_deploy.py
/// (`test_every_if_in_an_environment_is_false_at_the_defaults`) fails if one is not.
fn default_branch(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) if t.tag == "If" => match t.value.as_sequence().and_then(|s| s.get(2)) {
            Some(otherwise) => default_branch(otherwise),
            None => v,
        },
        _ => v,
    }
}

/// `!Ref AWS::NoValue`: CloudFormation leaves the variable out.
fn is_no_value(v: &Value) -> bool {
    matches!(v, Value::Tagged(t) if t.tag == "Ref" && t.value.as_str() == Some("AWS::NoValue"))
}

fn resolve(t: &Value, v: &Value, local: &LocalResources) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Tagged(tag) => {
            let arg = tag.value.as_str().unwrap_or_default();
            match tag.tag.to_string().as_str() {
                "!Ref" => resolve_ref(t, arg, local),
                "!GetAtt" if arg == "Stream.Arn" => Some(format!(
                    "arn:aws:kinesis:{}:{}:stream/{}",
                    local.region, local.account, local.stream
                )),
                // `!Sub "s3://${Bucket}/${Prefix}"`: each `${Name}` as `!Ref Name` would be
                // (plus the pseudo parameters); anything else is not resolvable locally.
                "!Sub" => {
                    let mut out = String::new();
                    let mut rest = arg;
                    while let Some(start) = rest.find("${") {
                        out.push_str(&rest[..start]);
                        let end = rest[start..].find('}')? + start;
                        out.push_str(&resolve_ref(t, &rest[start + 2..end], local)?);
                        rest = &rest[end + 1..];
                    }
                    out.push_str(rest);
                    Some(out)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// `!Ref name` (or `${name}` in a `!Sub`): the local stream, bucket and request memory, a
/// pseudo parameter, or a parameter's default.
fn resolve_ref(t: &Value, name: &str, local: &LocalResources) -> Option<String> {
    match name {
        "Stream" => Some(local.stream.clone()),
        // ingest's request memory: a DynamoDB table named after the local stream.
        "IngestRequestMemory" => Some(format!("{}-requests", local.stream)),
        "Bucket" => Some(local.bucket.clone()),
        "AWS::Region" => Some(local.region.clone()),
        "AWS::AccountId" => Some(local.account.clone()),
        "AWS::Partition" => Some("aws".to_owned()),
        p => match at(t, &["Parameters", p, "Default"])? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        },
    }
}

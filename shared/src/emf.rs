//! CloudWatch Embedded Metric Format: a log line that CloudWatch turns into metrics, so a
//! function reports its numbers with no API call. Each function prints the document as one
//! raw JSON line on stdout (not through `tracing`, whose JSON would wrap it and hide it from
//! CloudWatch).

use serde_json::{json, Value};

/// One metric: name, CloudWatch unit (`Count`, `Bytes`, `Milliseconds`, ...), value.
pub type Metric<'a> = (&'a str, &'a str, i64);

/// The EMF document: every metric declared under `namespace` with the given dimensions
/// (name and value each; none for namespace-wide metrics), and every value set.
pub fn document(
    namespace: &str,
    timestamp_ms: i64,
    dimensions: &[(&str, &str)],
    metrics: &[Metric<'_>],
) -> Value {
    let names: Vec<&str> = dimensions.iter().map(|(name, _)| *name).collect();
    let mut doc = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [names],
                "Metrics": metrics.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
            }],
        },
    });
    for (name, value) in dimensions {
        doc[*name] = json!(value);
    }
    for (name, _, value) in metrics {
        doc[*name] = json!(value);
    }
    doc
}

/// Prints a document as one raw line on stdout, flushed; a failed write only loses the
/// metrics, never the invocation.
pub fn emit(doc: &Value) {
    use std::io::Write;
    let mut line = doc.to_string();
    line.push('\n');
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declares_and_sets_every_metric_and_dimension() {
        let doc = document(
            "ns",
            7,
            &[("Stream", "s")],
            &[("Records", "Count", 3), ("Bytes", "Bytes", 10)],
        );
        let decl = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(decl["Namespace"], "ns");
        assert_eq!(decl["Dimensions"], json!([["Stream"]]));
        assert_eq!(
            decl["Metrics"],
            json!([{"Name": "Records", "Unit": "Count"}, {"Name": "Bytes", "Unit": "Bytes"}])
        );
        assert_eq!(
            (
                doc["Stream"].clone(),
                doc["Records"].clone(),
                doc["Bytes"].clone()
            ),
            (json!("s"), json!(3), json!(10))
        );
        assert_eq!(
            document("ns", 7, &[], &[])["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
    }
}

//! CloudWatch Embedded Metric Format (EMF) for the per-invocation summary: the numbers reach
//! CloudWatch Metrics from the log line itself, with no API call.
//!
//! The document is written to stdout as one raw JSON line, not through `tracing`: CloudWatch
//! extracts metrics only from a log event that *is* an EMF object, and a tracing formatter
//! would wrap it in its own JSON.

use crate::handler::Summary;
use serde_json::{json, Value};
use std::io::Write;

/// The CloudWatch namespace of every metric.
pub const METRICS_NAMESPACE: &str = "trickle/firehose-transform";

/// The EMF document for one invocation's summary.
pub fn emf_document(summary: &Summary, timestamp_ms: i64) -> Value {
    let counts = [
        ("Records", summary.records),
        ("Ok", summary.ok),
        ("Dropped", summary.dropped),
        ("ProcessingFailed", summary.failed),
        ("Reingested", summary.reingested),
        ("ReingestFailed", summary.reingest_failed),
    ];
    let mut metrics: Vec<Value> = counts
        .iter()
        .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
        .collect();
    metrics.push(json!({"Name": "ResponseBytes", "Unit": "Bytes"}));
    let mut doc = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": [[]],
                "Metrics": metrics,
            }],
        },
        "ResponseBytes": summary.response_bytes,
    });
    for (name, value) in counts {
        doc[name] = json!(value);
    }
    doc
}

/// Writes the EMF line to stdout; a failed write only loses the metrics.
pub fn emit_emf(summary: &Summary) {
    let doc = emf_document(summary, chrono::Utc::now().timestamp_millis());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{doc}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_metric_has_a_value() {
        let s = Summary {
            records: 3,
            ok: 1,
            dropped: 1,
            failed: 1,
            reingested: 1,
            response_bytes: 123,
            ..Summary::default()
        };
        let doc = emf_document(&s, 1);
        let declared = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap();
        assert_eq!(declared.len(), 7);
        for m in declared {
            assert!(doc[m["Name"].as_str().unwrap()].is_number(), "{m}");
        }
        assert_eq!(doc["ProcessingFailed"], 1);
        assert_eq!(doc["ResponseBytes"], 123);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            METRICS_NAMESPACE
        );
    }
}

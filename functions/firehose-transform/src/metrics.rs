//! The per-invocation summary (`Summary`, how the records ended) and its CloudWatch Embedded
//! Metric Format (EMF) document: the numbers reach CloudWatch Metrics from the log line
//! itself, with no API call.
//!
//! The document is written to stdout as one raw JSON line, not through `tracing`: CloudWatch
//! extracts metrics only from a log event that *is* an EMF object, and a tracing formatter
//! would wrap it in its own JSON.

use serde_json::Value;
use std::collections::BTreeMap;
use trickle_shared::emf::{self, Metric};

/// The CloudWatch namespace of every metric.
pub const METRICS_NAMESPACE: &str = "trickle/firehose-transform";

/// How a record ended, for the summary line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub records: usize,
    pub ok: usize,
    pub dropped: usize,
    pub failed: usize,
    pub reingested: usize,
    pub reingest_failed: usize,
    /// `ProcessingFailed` counts by `RecordError::kind`.
    pub failures: BTreeMap<&'static str, usize>,
    /// The largest size the serialized response can have.
    pub response_bytes: usize,
}

/// The EMF document for one invocation's summary.
pub fn emf_document(summary: &Summary, timestamp_ms: i64) -> Value {
    let count = |n: usize| n as i64;
    let metrics: [Metric<'_>; 7] = [
        ("Records", "Count", count(summary.records)),
        ("Ok", "Count", count(summary.ok)),
        ("Dropped", "Count", count(summary.dropped)),
        ("ProcessingFailed", "Count", count(summary.failed)),
        ("Reingested", "Count", count(summary.reingested)),
        ("ReingestFailed", "Count", count(summary.reingest_failed)),
        ("ResponseBytes", "Bytes", count(summary.response_bytes)),
    ];
    emf::document(METRICS_NAMESPACE, timestamp_ms, &[], &metrics)
}

/// Writes the EMF line to stdout; a failed write only loses the metrics.
pub fn emit_emf(summary: &Summary) {
    emf::emit(&emf_document(
        summary,
        chrono::Utc::now().timestamp_millis(),
    ));
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

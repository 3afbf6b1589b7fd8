//! The Firehose transformation contract, checked on a serialized response: what Firehose
//! needs to accept a batch, plus trickle's own framing promise. Used by the tests (unit,
//! handler, property and integration); public so the tests crate and local runners can use
//! it too.
//!
//! Firehose rejects the whole batch unless: every input `recordId` comes back exactly once,
//! in input order; `result` is exactly `Ok`, `Dropped` or `ProcessingFailed`; `data` is
//! base64; and the response fits Lambda's 6 MB limit (our budget: 6,000,000 bytes).
//! Trickle adds: the data of an `Ok` record is one or more lines, each ending with exactly
//! one `\n` (no empty lines), and each line is one JSON value; `metadata`, when present, is
//! `{"partitionKeys": {<string>: <string>}}`.

use crate::event::FirehoseEvent;
use base64::Engine;
use serde_json::Value;

/// Counts of a valid response.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ContractReport {
    pub ok: usize,
    pub dropped: usize,
    pub processing_failed: usize,
    /// The serialized size.
    pub bytes: usize,
}

/// Checks a serialized response against its event; every violation is listed.
pub fn check_response(
    event: &FirehoseEvent,
    response: &[u8],
    budget: usize,
) -> Result<ContractReport, Vec<String>> {
    let mut v = Vec::new();
    let mut report = ContractReport {
        bytes: response.len(),
        ..Default::default()
    };
    if response.len() > budget {
        v.push(format!(
            "response is {} bytes, over the budget of {budget}",
            response.len()
        ));
    }
    let parsed: Value = match serde_json::from_slice(response) {
        Ok(p) => p,
        Err(e) => return Err(vec![format!("response is not JSON: {e}")]),
    };
    let Some(records) = parsed.get("records").and_then(Value::as_array) else {
        return Err(vec!["response has no records array".into()]);
    };
    if records.len() != event.records.len() {
        v.push(format!(
            "{} records answered for {} in the event",
            records.len(),
            event.records.len()
        ));
    }
    for (i, (input, out)) in event.records.iter().zip(records).enumerate() {
        match out.get("recordId").and_then(Value::as_str) {
            Some(id) if id == input.record_id => {}
            other => v.push(format!(
                "record {i}: recordId {other:?}, expected {:?} (same order as the input)",
                input.record_id
            )),
        }
        let result = out.get("result").and_then(Value::as_str);
        match result {
            Some("Ok") => report.ok += 1,
            Some("Dropped") => report.dropped += 1,
            Some("ProcessingFailed") => report.processing_failed += 1,
            other => v.push(format!(
                "record {i}: result {other:?} is not Ok, Dropped or ProcessingFailed"
            )),
        }
        let data = match out.get("data") {
            None if result != Some("Ok") => None,
            Some(Value::String(s)) => match base64::engine::general_purpose::STANDARD.decode(s) {
                Ok(d) => Some(d),
                Err(e) => {
                    v.push(format!("record {i}: data is not base64: {e}"));
                    None
                }
            },
            other => {
                v.push(format!("record {i}: data {other:?} is not a base64 string"));
                None
            }
        };
        if let (Some("Ok"), Some(data)) = (result, data) {
            if let Err(e) = check_lines(&data) {
                v.push(format!("record {i}: {e}"));
            }
        }
        if let Some(meta) = out.get("metadata") {
            let keys_ok = meta
                .get("partitionKeys")
                .and_then(Value::as_object)
                .is_some_and(|m| m.values().all(Value::is_string));
            if !keys_ok || result != Some("Ok") {
                v.push(format!(
                    "record {i}: metadata {meta} must be {{\"partitionKeys\":{{...strings}}}} on an Ok record"
                ));
            }
        }
    }
    if v.is_empty() {
        Ok(report)
    } else {
        Err(v)
    }
}

/// Newline framing of `Ok` data: non-empty, every line ends with exactly one `\n`, and every
/// line is one JSON value.
pub fn check_lines(data: &[u8]) -> Result<(), String> {
    if data.is_empty() {
        return Err("Ok data is empty".into());
    }
    let Some(body) = data.strip_suffix(b"\n") else {
        return Err("Ok data does not end with \\n".into());
    };
    for (n, line) in body.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            return Err(format!("line {n} is empty (a doubled \\n)"));
        }
        if serde_json::from_slice::<serde::de::IgnoredAny>(line).is_err() {
            return Err(format!("line {n} is not one JSON value"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::FirehoseRecord;
    use serde_json::json;

    fn event(ids: &[&str]) -> FirehoseEvent {
        FirehoseEvent {
            records: ids
                .iter()
                .map(|id| FirehoseRecord {
                    record_id: id.to_string(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn check(ids: &[&str], response: Value) -> Result<ContractReport, Vec<String>> {
        check_response(
            &event(ids),
            &serde_json::to_vec(&response).unwrap(),
            6_000_000,
        )
    }

    #[test]
    fn accepts_a_valid_response() {
        let r = check(
            &["a", "b", "c"],
            json!({"records": [
                {"recordId": "a", "result": "Ok", "data": "eyJhIjoxfQp7fQo=", "metadata": {"partitionKeys": {"k": "v"}}},
                {"recordId": "b", "result": "Dropped", "data": ""},
                {"recordId": "c", "result": "ProcessingFailed"},
            ]}),
        )
        .unwrap();
        assert_eq!((r.ok, r.dropped, r.processing_failed), (1, 1, 1));
    }

    #[test]
    fn rejects_missing_reordered_or_duplicated_ids() {
        let d = |id: &str| json!({"recordId": id, "result": "Dropped", "data": ""});
        assert!(check(&["a", "b"], json!({"records": [d("a")]})).is_err());
        assert!(check(&["a", "b"], json!({"records": [d("b"), d("a")]})).is_err());
        assert!(check(&["a", "b"], json!({"records": [d("a"), d("a")]})).is_err());
    }

    #[test]
    fn rejects_other_results_and_bad_base64() {
        for bad in [
            json!({"recordId": "a", "result": "TransformedStateOk", "data": ""}),
            json!({"recordId": "a", "result": "ok", "data": ""}),
            json!({"recordId": "a", "result": "Ok", "data": "not base64!"}),
            json!({"recordId": "a", "result": "Ok"}),
            json!({"recordId": "a", "result": "Dropped", "data": 5}),
        ] {
            assert!(check(&["a"], json!({ "records": [bad] })).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_broken_framing() {
        assert!(check_lines(b"{}\n").is_ok());
        assert!(check_lines(b"").is_err());
        assert!(check_lines(b"{}").is_err());
        assert!(check_lines(b"{}\n\n").is_err());
        assert!(check_lines(b"\n{}\n").is_err());
        assert!(check_lines(b"{}\nnot json\n").is_err());
    }

    #[test]
    fn rejects_a_response_over_the_budget_and_bad_metadata() {
        let r = json!({"records": [{"recordId": "a", "result": "Dropped", "data": ""}]});
        let bytes = serde_json::to_vec(&r).unwrap();
        assert!(check_response(&event(&["a"]), &bytes, bytes.len()).is_ok());
        assert!(check_response(&event(&["a"]), &bytes, bytes.len() - 1).is_err());
        let m = json!({"records": [{"recordId": "a", "result": "Ok", "data": "e30K", "metadata": {"partitionKeys": {"k": 1}}}]});
        assert!(check(&["a"], m).is_err());
    }
}

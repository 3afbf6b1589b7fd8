//! firehose-transform's peak memory is bounded by its decompression ceiling: counting the
//! bytes allocated (a counting global allocator is deterministic) while a CloudWatch Logs
//! record that decodes to the default bound is transformed gives the expansion, and the
//! ceiling times that expansion fits the function's 256 MB.
//!
//! One test function: the allocator is global to this binary.

use firehose_transform::config::{
    Config, DEFAULT_MAX_DECOMPRESSED_BYTES, MAX_DECOMPRESSED_BYTES_CEILING,
};
use firehose_transform::event::FirehoseRecord;
use firehose_transform::transform::{transform_record, Outcome};
use std::io::Write;
use trickle_shared::counting_alloc::{peak_of, CountingAllocator};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// The function's memory (template.yaml) and what the runtime, the event and the answer
/// around one record take besides it.
const FUNCTION_MEMORY: usize = 256 << 20;
const RUNTIME_ALLOWANCE: usize = 48 << 20;

/// A gzip CloudWatch Logs subscription record whose JSON is about `decoded` bytes, made of
/// the smallest events (the most per-event overhead).
fn cloudwatch_logs_record(decoded: usize) -> (FirehoseRecord, usize) {
    let mut json = String::from(
        r#"{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/lambda/x","logStream":"s","subscriptionFilters":["f"],"logEvents":["#,
    );
    let mut i = 0u64;
    while json.len() < decoded - 200 {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&format!(
            r#"{{"id":"{:056}","timestamp":1733300000000,"message":"m{i}"}}"#,
            i
        ));
        i += 1;
    }
    json.push_str("]}");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(json.as_bytes()).unwrap();
    let data = gz.finish().unwrap();
    use base64::Engine;
    let record = FirehoseRecord {
        record_id: "r".into(),
        approximate_arrival_timestamp: Some(1_733_300_000_000),
        data: Some(base64::engine::general_purpose::STANDARD.encode(data)),
        kinesis_record_metadata: None,
    };
    (record, json.len())
}

#[test]
fn the_decompression_ceiling_times_the_expansion_fits_the_function() {
    let config = Config::from_lookup(|_| None).unwrap();
    assert_eq!(
        config.max_decompressed_bytes,
        DEFAULT_MAX_DECOMPRESSED_BYTES
    );
    let (record, decoded) = cloudwatch_logs_record(DEFAULT_MAX_DECOMPRESSED_BYTES - 1024);
    let (outcome, peak) = peak_of(|| transform_record(&record, &config));
    // Ok, or too large to answer (the transform adds fields to every line): memory is the
    // point here, and both paths decode and transform the whole record.
    assert!(
        matches!(
            outcome,
            Outcome::Ok(_)
                | Outcome::Failed(
                    firehose_transform::error::RecordError::TooLargeForAnyResponse { .. }
                )
        ),
        "{outcome:?}"
    );
    drop(outcome);
    let expansion = peak as f64 / decoded as f64;
    let at_ceiling = expansion * MAX_DECOMPRESSED_BYTES_CEILING as f64;
    println!(
        "decoded {decoded} B, peak allocated {peak} B ({expansion:.2}x); at the ceiling of {MAX_DECOMPRESSED_BYTES_CEILING} B: {at_ceiling:.0} B"
    );
    assert!(
        at_ceiling + (RUNTIME_ALLOWANCE as f64) <= FUNCTION_MEMORY as f64,
        "the ceiling times the expansion ({at_ceiling:.0} B) leaves less than {RUNTIME_ALLOWANCE} B of {FUNCTION_MEMORY} B"
    );
}

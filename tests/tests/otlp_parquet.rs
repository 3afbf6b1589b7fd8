//! OTLP items as batch-to-s3's Parquet objects, field by field: each OTLP example
//! (events/otlp/) becomes rows (as ingest makes them), then Kinesis records, then one Parquet
//! object per signal with its ready SCHEMA (schemas/otel_*.schema): every item is a row once,
//! timestamps are timestamps, attributes are maps, and nothing lands in the extra column.
//! Pure: no local stack.

use arrow_array::cast::AsArray;
use arrow_array::Array;
use arrow_schema::DataType;
use batch_to_s3::event::SourceRecord;
use batch_to_s3::plan::{plan, ObjectKind};
use chrono::{TimeZone, Utc};
use trickle_otlp::{decode, Encoding, Signal};

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn parquet_object(
    signal: Signal,
    example: &str,
    schema: &str,
) -> (usize, arrow_array::RecordBatch) {
    let body = std::fs::read(root().join("events/otlp").join(example)).unwrap();
    let rows = decode(signal, Encoding::Json, &body)
        .unwrap()
        .rows(7, 1 << 20)
        .unwrap();
    let records: Vec<SourceRecord> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| SourceRecord {
            sequence: (i + 1).to_string().parse().unwrap(),
            sequence_text: (i + 1).to_string(),
            partition_key: r.trace_id.clone().unwrap_or_else(|| "k".into()),
            arrival: Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap(),
            data: r.json.clone(),
        })
        .collect();
    let schema = std::fs::read_to_string(root().join("schemas").join(schema)).unwrap();
    let pairs = [
        ("BUCKET_NAME", "b"),
        ("PREFIX", "raw/"),
        ("FORMAT", "parquet"),
        ("SCHEMA", schema.trim()),
    ];
    let config = batch_to_s3::Config::from_lookup(|name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .unwrap();
    let planned = plan(&config, "shardId-000000000000", &records).unwrap();
    assert_eq!(planned.objects.len(), 1, "one data object, no error object");
    assert_eq!(planned.objects[0].kind, ObjectKind::Data);
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(planned.objects[0].put.body.clone()),
    )
    .unwrap()
    .build()
    .unwrap();
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    let batch = arrow_select::concat::concat_batches(&batches[0].schema(), &batches).unwrap();
    (rows.len(), batch)
}

fn assert_typed_and_nothing_extra(batch: &arrow_array::RecordBatch) {
    assert!(matches!(
        batch.column_by_name("timestamp").unwrap().data_type(),
        DataType::Timestamp(_, _)
    ));
    assert!(matches!(
        batch
            .column_by_name("resource_attributes")
            .unwrap()
            .data_type(),
        DataType::Map(_, _)
    ));
    let extra = batch.column_by_name("_extra").unwrap();
    assert_eq!(
        extra.null_count(),
        extra.len(),
        "nothing in the extra column"
    );
}

#[test]
fn logs_land_as_parquet_rows_field_by_field() {
    let (items, batch) = parquet_object(Signal::Logs, "logs.json", "otel_logs.schema");
    assert_eq!(batch.num_rows(), items);
    assert_typed_and_nothing_extra(&batch);
    let body = batch.column_by_name("body").unwrap().as_string::<i32>();
    assert_eq!(body.value(0), "Example log record");
    let trace = batch.column_by_name("trace_id").unwrap().as_string::<i32>();
    assert_eq!(trace.value(0), "5b8efff798038103d269b633813fc60c");
    let ts = batch
        .column_by_name("timestamp")
        .unwrap()
        .as_primitive::<arrow_array::types::TimestampMicrosecondType>();
    assert_eq!(ts.value(0), 1_544_712_660_300_000, "to the microsecond");
}

#[test]
fn spans_land_as_parquet_rows_field_by_field() {
    let (items, batch) = parquet_object(Signal::Traces, "trace.json", "otel_traces.schema");
    assert_eq!(batch.num_rows(), items);
    assert_typed_and_nothing_extra(&batch);
    let kind = batch.column_by_name("kind").unwrap().as_string::<i32>();
    assert!((0..kind.len()).all(|i| !kind.value(i).is_empty()));
    assert!(matches!(
        batch.column_by_name("events").unwrap().data_type(),
        DataType::List(_)
    ));
}

#[test]
fn metric_points_land_as_parquet_rows_field_by_field() {
    let (items, batch) = parquet_object(Signal::Metrics, "metrics.json", "otel_metrics.schema");
    assert_eq!(batch.num_rows(), items);
    assert_typed_and_nothing_extra(&batch);
    let t = batch
        .column_by_name("metric_type")
        .unwrap()
        .as_string::<i32>();
    assert!((0..t.len()).any(|i| t.value(i) == "histogram"));
}

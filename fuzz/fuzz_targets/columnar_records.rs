//! trickle-columnar over untrusted record bytes: each record through `RecordEncoder::push`
//! against a schema drawn from a fixed set (every type, nested), then the batch to Parquet
//! and back.
//!
//! Invariants:
//! - never panics; a record is a row or a `RecordError`, never half of one;
//! - the batch has exactly the rows pushed successfully, in every column;
//! - the Parquet file reads back to the same batch, and the same rows give the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use trickle_columnar::{write_parquet, ParquetCompression, RecordEncoder, TableSchema};

const SCHEMAS: &[&str] = &[
    "ts timestamp, user string, n bigint, price double, ok boolean, d date",
    "tags array<string>, geo struct<lat:double,lon:double>, attrs map<string,string>",
    "a array<struct<b:map<string,array<int>>,c:decimal(10,2)>>, bin binary, t tinyint, s smallint, f float",
];
const MAX_RECORDS: usize = 64;

fuzz_target!(|input: (u8, bool, Vec<&[u8]>)| {
    let (which, extra, records) = input;
    let schema = TableSchema::parse(SCHEMAS[usize::from(which) % SCHEMAS.len()])
        .expect("the fixed schemas parse");
    let mut enc = RecordEncoder::new(&schema, extra.then_some("_extra"));
    let mut rows = 0;
    for r in records.iter().take(MAX_RECORDS) {
        if enc.push(r).is_ok() {
            rows += 1;
        }
        assert_eq!(enc.rows(), rows);
    }
    let batch = enc.finish();
    assert_eq!(batch.num_rows(), rows);
    for c in batch.columns() {
        assert_eq!(c.len(), rows);
    }
    let bytes = write_parquet(&batch, ParquetCompression::Zstd).expect("in memory");
    assert_eq!(
        bytes,
        write_parquet(&batch, ParquetCompression::Zstd).expect("in memory")
    );
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .expect("a Parquet file")
        .build()
        .expect("a reader");
    let back: Vec<_> = reader.map(|b| b.expect("a batch")).collect();
    let total: usize = back.iter().map(|b| b.num_rows()).sum();
    assert_eq!(total, rows);
    if rows > 0 {
        assert_eq!(back.len(), 1);
        assert_eq!(back[0], batch);
    }
});

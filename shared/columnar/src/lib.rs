//! JSON records to typed columns, for the writers that store Parquet (batch-to-s3; the
//! Iceberg writer next): the `SCHEMA` syntax (`schema.rs`), the value rules (`value.rs`),
//! records to rows with mismatch reasons and the extra column (`record.rs`, `column.rs`),
//! and Parquet files (`parquet.rs`). Pure: no SDK, no runtime. ingest and
//! firehose-transform never depend on it, so they do not grow by arrow and parquet.
//!
//! - `schema`: the `SCHEMA` syntax (`TableSchema`, `Column`, `ColumnType`).
//! - `value`: how one JSON value becomes one typed value.
//! - `record`: JSON records to the rows of one file (`RecordEncoder`), with mismatch reasons
//!   and the extra column.
//! - `column`: one column's values while a file is being built (private).
//! - `parquet`: Arrow batches to Parquet file bytes.

mod column;
pub mod parquet;
pub mod record;
pub mod schema;
pub mod value;

pub use column::Mismatch;
pub use parquet::{write_parquet, ParquetCompression, CONTENT_TYPE_PARQUET};
pub use record::{RecordEncoder, RecordError};
pub use schema::{Column, ColumnType, SchemaError, TableSchema, READY_SCHEMAS};

//! `batch-to-iceberg`: the Kinesis-triggered function that appends a stream to an Apache
//! Iceberg table in the Glue Data Catalog or S3 Tables, or routes its records to several
//! tables, exactly once.
//!
//! - `config`: the environment, read once.
//! - `partition`: `ICEBERG_PARTITION_SPEC`, the spec of a table it creates.
//! - `schema`: `SCHEMA` to a new table's schema; an existing table's schema to the columns
//!   records are matched against, and the rows to a data file's Arrow batch.
//! - `route`: `ICEBERG_ROUTES`, and which table each record goes to (pure).
//! - `rows`: records to rows and error lines (pure).
//! - `write`: rows to Parquet data files, split by the partition spec.
//! - `checkpoint`: the per-shard sequence number in the snapshot summaries (exactly once).
//! - `metadata location`: the catalog boundary (`MetadataLocationStore`: read, create, swap with `VersionId`),
//!   on Glue through `trickle-glue` (every commit keeps what another engine set on the Glue
//!   table and writes its columns and location).
//! - `glue_columns`: an Iceberg schema as Glue columns (pure).
//! - `s3tables`: the S3 Tables boundary, the same `MetadataLocationStore` (`ICEBERG_CATALOG=s3tables`).
//! - `catalog`: an Iceberg `Catalog` of one table over the metadata location, and `AnyLocation`, the
//!   metadata location `ICEBERG_CATALOG` names.
//! - `storage`: Iceberg's `Storage` on the S3 SDK client.
//! - `metrics`: the summary line and EMF metrics.
//! - `handler`: one invocation, end to end.

pub mod catalog;
pub mod checkpoint;
pub mod config;
pub mod glue_columns;
pub mod handler;
pub mod metadata_location;
pub mod metrics;
pub mod partition;
pub mod route;
pub mod rows;
pub mod s3tables;
pub mod schema;
pub mod storage;
pub mod write;

pub use config::Config;
pub use handler::BatchToIceberg;

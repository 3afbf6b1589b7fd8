//! The Glue Data Catalog as an Iceberg catalog is one metadata location per table: the Glue table's
//! `metadata_location` parameter names the current metadata file, and a commit moves it
//! with `UpdateTable`, guarded by Glue's optimistic lock: the `VersionId` that `GetTable`
//! returned. Glue answers a stale `VersionId` with `ConcurrentModificationException`; every
//! swap here sends one (moto ignores it: the tests put Glue's check in front, docs/design/iceberg-catalog.md).
//!
//! `UpdateTable` replaces the whole table, so a swap starts from the Glue table as read and
//! changes only what this function owns, as Iceberg's own Glue catalogs do: the
//! `metadata_location` and `previous_metadata_location` parameters, the storage
//! descriptor's location, and its columns, written from the current Iceberg schema
//! (`glue_columns`). The description, owner, other parameters, SerDe, formats and every other
//! field stay as another engine left them. The Glue calls themselves (timeout, error
//! classification) are `trickle-glue`'s.
//!
//! `MetadataLocationStore` is the narrow boundary: `GlueLocation` over any `GlueTables` (the SDK's, or
//! `trickle_glue::MemoryGlueTables` in tests, which replaces the whole table on update as
//! Glue does and can lose an answer or a race on request), and S3 Tables (`s3tables.rs`).
//!
//! A swap's outcome is one of: done; `Conflict` (not applied: someone else committed);
//! `Failed` (not applied: Glue refused it); `Unknown` (a timeout, a 5xx, a dropped
//! connection: it may have been applied). The handler settles `Unknown` by reading the
//! table again before it reports anything.

use crate::glue_columns::glue_columns;
use async_trait::async_trait;
use aws_sdk_glue::types::{StorageDescriptor, Table, TableInput};
use iceberg::spec::TableMetadata;
use trickle_glue::{table_input, GlueError, GlueTables, SdkGlueTables};

/// Glue table parameters of an Iceberg table (the convention of Iceberg's Glue catalog,
/// which Athena, Spark, Trino and pyiceberg read).
pub const TABLE_TYPE_PARAMETER: &str = "table_type";
pub const TABLE_TYPE_ICEBERG: &str = "ICEBERG";
pub const METADATA_LOCATION: &str = "metadata_location";
pub const PREVIOUS_METADATA_LOCATION: &str = "previous_metadata_location";
/// The Glue table type of a new Iceberg table (an existing table keeps its own).
pub const GLUE_EXTERNAL_TABLE: &str = "EXTERNAL_TABLE";

/// Where a table's metadata location stands.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentMetadata {
    pub metadata_location: String,
    /// Glue's `VersionId` (S3 Tables' version token) for the optimistic lock.
    pub version_id: Option<String>,
    /// The Glue table as read, the base of the next `UpdateTable` (`None` for S3 Tables).
    pub glue_table: Option<Table>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    #[error("the table moved on since it was read (ConcurrentModificationException): {0}")]
    Conflict(String),
    #[error("the table already exists")]
    AlreadyExists,
    #[error("the Glue table is not an Iceberg table: {0}")]
    NotIceberg(String),
    #[error("the catalog refused the request: {0}")]
    Failed(String),
    #[error("the outcome is unknown (the request may have been applied): {0}")]
    Unknown(String),
}

impl From<GlueError> for LocationError {
    fn from(e: GlueError) -> Self {
        match e {
            GlueError::Conflict { .. } => Self::Conflict(e.to_string()),
            GlueError::AlreadyExists { .. } => Self::AlreadyExists,
            GlueError::Unknown { .. } => Self::Unknown(e.to_string()),
            GlueError::NotFound { .. } | GlueError::Refused { .. } => Self::Failed(e.to_string()),
        }
    }
}

#[async_trait]
pub trait MetadataLocationStore: Send + Sync {
    /// The table's metadata location, or `None` when the table does not exist.
    async fn get(&self) -> Result<Option<CurrentMetadata>, LocationError>;
    /// Where a new table goes: `proposed` (the warehouse layout), unless the catalog
    /// chooses (S3 Tables does, and makes the table to learn where).
    async fn table_location(&self, proposed: &str) -> Result<String, LocationError> {
        Ok(proposed.to_owned())
    }
    /// Creates the table pointing at its first metadata file (`metadata`, written at
    /// `metadata_location`).
    async fn create(
        &self,
        metadata: &TableMetadata,
        metadata_location: &str,
    ) -> Result<(), LocationError>;
    /// Moves the metadata location from `current` (as read) to `metadata`, written at
    /// `metadata_location`.
    async fn swap(
        &self,
        current: &CurrentMetadata,
        metadata: &TableMetadata,
        metadata_location: &str,
    ) -> Result<(), LocationError>;
}

/// The Glue implementation, over the SDK (`SdkGlueTables`) or the in-memory fake.
#[derive(Debug, Clone)]
pub struct GlueLocation<T = SdkGlueTables> {
    tables: T,
    database: String,
    table: String,
}

impl<T: GlueTables> GlueLocation<T> {
    /// The table `table` among `tables` (the database `database`, named in messages).
    pub fn new(tables: T, database: impl Into<String>, table: impl Into<String>) -> Self {
        Self {
            tables,
            database: database.into(),
            table: table.into(),
        }
    }

    /// The Glue tables (tests inject faults and inspect the table through it).
    pub fn tables(&self) -> &T {
        &self.tables
    }

    /// The storage descriptor a commit writes: `base`'s (SerDe, formats, parameters, ...)
    /// with the table's location and its current schema's columns.
    fn storage_descriptor(
        base: Option<StorageDescriptor>,
        metadata: &TableMetadata,
    ) -> StorageDescriptor {
        let mut sd = base.unwrap_or_else(|| StorageDescriptor::builder().build());
        sd.columns = Some(glue_columns(metadata.current_schema(), sd.columns()));
        sd.location = Some(metadata.location().to_owned());
        sd
    }
}

#[async_trait]
impl<T: GlueTables> MetadataLocationStore for GlueLocation<T> {
    async fn get(&self) -> Result<Option<CurrentMetadata>, LocationError> {
        // A read has no outcome to settle: whatever failed, it is a failure.
        let Some(table) = self
            .tables
            .get_table(&self.table)
            .await
            .map_err(|e| LocationError::Failed(e.to_string()))?
        else {
            return Ok(None);
        };
        let parameters = table.parameters.as_ref();
        let is_iceberg = parameters
            .and_then(|p| p.get(TABLE_TYPE_PARAMETER))
            .is_some_and(|t| t.eq_ignore_ascii_case(TABLE_TYPE_ICEBERG));
        let location = parameters.and_then(|p| p.get(METADATA_LOCATION)).cloned();
        match (is_iceberg, location) {
            (true, Some(metadata_location)) => Ok(Some(CurrentMetadata {
                metadata_location,
                version_id: table.version_id.clone(),
                glue_table: Some(table),
            })),
            _ => Err(LocationError::NotIceberg(format!(
                "{}.{} has no table_type=ICEBERG and metadata_location parameters",
                self.database, self.table
            ))),
        }
    }

    async fn create(
        &self,
        metadata: &TableMetadata,
        metadata_location: &str,
    ) -> Result<(), LocationError> {
        let input = TableInput::builder()
            .name(&self.table)
            .table_type(GLUE_EXTERNAL_TABLE)
            .parameters(TABLE_TYPE_PARAMETER, TABLE_TYPE_ICEBERG)
            .parameters(METADATA_LOCATION, metadata_location)
            .storage_descriptor(Self::storage_descriptor(None, metadata))
            .build()
            .map_err(|e| LocationError::Failed(e.to_string()))?;
        Ok(self.tables.create_table(input).await?)
    }

    async fn swap(
        &self,
        current: &CurrentMetadata,
        metadata: &TableMetadata,
        metadata_location: &str,
    ) -> Result<(), LocationError> {
        let (Some(base), Some(version_id)) = (&current.glue_table, &current.version_id) else {
            return Err(LocationError::Failed(
                "no Glue table and VersionId read to update from".into(),
            ));
        };
        let mut input = table_input(base);
        let parameters = input.parameters.get_or_insert_with(Default::default);
        parameters.insert(METADATA_LOCATION.to_owned(), metadata_location.to_owned());
        parameters.insert(
            PREVIOUS_METADATA_LOCATION.to_owned(),
            current.metadata_location.clone(),
        );
        input
            .table_type
            .get_or_insert_with(|| GLUE_EXTERNAL_TABLE.to_owned());
        input.storage_descriptor = Some(Self::storage_descriptor(
            input.storage_descriptor.take(),
            metadata,
        ));
        // One commit per batch per shard: Glue's archived table versions would pile up.
        Ok(self.tables.update_table(input, version_id, true).await?)
    }
}

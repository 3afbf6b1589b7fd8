//! Amazon S3 Tables as the catalog (`ICEBERG_CATALOG=s3tables`): the same metadata location swap as
//! Glue's, with S3 Tables' own API. `GetTableMetadataLocation` returns the table's current
//! metadata file and a `versionToken`; `UpdateTableMetadataLocation` moves the metadata location only
//! if the token is still current (`ConflictException` otherwise): Glue's `VersionId`, by
//! another name. So the whole commit path (checkpoint, settling, conflict retry) is the
//! same code; only creation differs: S3 Tables chooses the table's location (its warehouse
//! bucket), so the table is created first (`CreateTable`, format ICEBERG) and its first
//! metadata file written there, then pointed at.
//!
//! The namespace (`ICEBERG_DATABASE`) must exist in the table bucket, as the Glue database
//! must. A table created by `CreateTable` but never pointed at (a crash in between) reads as
//! missing, and the next invocation finishes creating it.

use crate::metadata_location::{CurrentMetadata, LocationError, MetadataLocationStore};
use async_trait::async_trait;
use aws_sdk_s3tables::types::OpenTableFormat;
use iceberg::spec::TableMetadata;
use trickle_glue::{classify, SdkOutcome};

/// The S3 Tables implementation.
#[derive(Debug, Clone)]
pub struct S3TablesLocation {
    client: aws_sdk_s3tables::Client,
    table_bucket_arn: String,
    namespace: String,
    table: String,
}

impl S3TablesLocation {
    pub fn new(
        client: aws_sdk_s3tables::Client,
        table_bucket_arn: String,
        namespace: String,
        table: String,
    ) -> Self {
        Self {
            client,
            table_bucket_arn,
            namespace,
            table,
        }
    }

    /// The table's metadata location (if pointed at yet), version token and warehouse
    /// location, or `None` when there is no table.
    async fn read(&self) -> Result<Option<(Option<String>, String, String)>, LocationError> {
        match self
            .client
            .get_table_metadata_location()
            .table_bucket_arn(&self.table_bucket_arn)
            .namespace(&self.namespace)
            .name(&self.table)
            .send()
            .await
        {
            Ok(out) => Ok(Some((
                out.metadata_location,
                out.version_token,
                out.warehouse_location,
            ))),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(LocationError::Failed(format!(
                "GetTableMetadataLocation: {e:?}"
            ))),
        }
    }

    async fn update(&self, token: &str, metadata_location: &str) -> Result<(), LocationError> {
        match self
            .client
            .update_table_metadata_location()
            .table_bucket_arn(&self.table_bucket_arn)
            .namespace(&self.namespace)
            .name(&self.table)
            .version_token(token)
            .metadata_location(metadata_location)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conflict_exception()) =>
            {
                Err(LocationError::Conflict(format!("{e:?}")))
            }
            // The same SDK error types as Glue's: one classification by HTTP status.
            Err(e) => Err(match classify(&e, &[]) {
                SdkOutcome::NotApplied => LocationError::Failed(format!("{e:?}")),
                SdkOutcome::Unknown => LocationError::Unknown(format!("{e:?}")),
            }),
        }
    }
}

#[async_trait]
impl MetadataLocationStore for S3TablesLocation {
    async fn get(&self) -> Result<Option<CurrentMetadata>, LocationError> {
        Ok(match self.read().await? {
            Some((Some(metadata_location), token, _)) => Some(CurrentMetadata {
                metadata_location,
                version_id: Some(token),
                glue_table: None,
            }),
            // Created but never pointed at: missing, to be finished by `create`.
            _ => None,
        })
    }

    async fn table_location(&self, _proposed: &str) -> Result<String, LocationError> {
        if let Some((_, _, warehouse)) = self.read().await? {
            return Ok(warehouse);
        }
        match self
            .client
            .create_table()
            .table_bucket_arn(&self.table_bucket_arn)
            .namespace(&self.namespace)
            .name(&self.table)
            .format(OpenTableFormat::Iceberg)
            .send()
            .await
        {
            // Another shard may have created it a moment ago.
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conflict_exception()) => {}
            Err(e) => return Err(LocationError::Failed(format!("CreateTable: {e:?}"))),
        }
        match self.read().await? {
            Some((_, _, warehouse)) => Ok(warehouse),
            None => Err(LocationError::Failed(
                "the table was created but cannot be read".into(),
            )),
        }
    }

    async fn create(
        &self,
        _metadata: &TableMetadata,
        metadata_location: &str,
    ) -> Result<(), LocationError> {
        match self.read().await? {
            Some((None, token, _)) => match self.update(&token, metadata_location).await {
                Err(LocationError::Conflict(_)) => Err(LocationError::AlreadyExists),
                other => other,
            },
            Some((Some(_), _, _)) => Err(LocationError::AlreadyExists),
            None => Err(LocationError::Failed("the table is gone".into())),
        }
    }

    async fn swap(
        &self,
        current: &CurrentMetadata,
        _metadata: &TableMetadata,
        metadata_location: &str,
    ) -> Result<(), LocationError> {
        let token = current
            .version_id
            .as_deref()
            .ok_or_else(|| LocationError::Failed("no version token".into()))?;
        self.update(token, metadata_location).await
    }
}

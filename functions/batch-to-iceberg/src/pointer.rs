//! The Glue Data Catalog as an Iceberg catalog is one pointer per table: the Glue table's
//! `metadata_location` parameter names the current metadata file, and a commit moves it
//! with `UpdateTable`, guarded by Glue's optimistic lock: the `VersionId` that `GetTable`
//! returned. Glue answers a stale `VersionId` with `ConcurrentModificationException`; every
//! swap here sends one (moto ignores it: the tests put Glue's check in front, README).
//!
//! `TablePointer` is that narrow boundary, with the SDK implementation (`GluePointer`) and
//! an in-memory one for tests (`MemoryPointer`, which can lose an answer or lose a race on
//! request).
//!
//! A swap's outcome is one of: done; `Conflict` (not applied: someone else committed);
//! `Failed` (not applied: Glue refused it); `Unknown` (a timeout, a 5xx, a dropped
//! connection: it may have been applied). The handler settles `Unknown` by reading the
//! table again before it reports anything (`commit.rs`).

use async_trait::async_trait;
use aws_sdk_glue::config::http::HttpResponse;
use aws_sdk_glue::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_glue::types::{StorageDescriptor, TableInput};
use std::collections::HashMap;
use std::sync::Mutex;

/// Glue table parameters of an Iceberg table (the convention of Iceberg's Glue catalog,
/// which Athena, Spark, Trino and pyiceberg read).
pub const TABLE_TYPE_PARAMETER: &str = "table_type";
pub const TABLE_TYPE_ICEBERG: &str = "ICEBERG";
pub const METADATA_LOCATION: &str = "metadata_location";
pub const PREVIOUS_METADATA_LOCATION: &str = "previous_metadata_location";
/// The Glue table type of every Iceberg table.
pub const GLUE_EXTERNAL_TABLE: &str = "EXTERNAL_TABLE";

/// Where a table's pointer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    pub metadata_location: String,
    /// Glue's `VersionId` for the optimistic lock (`None` only if Glue sent none).
    pub version_id: Option<String>,
    /// The Glue table's other parameters, kept as they are on every swap.
    pub parameters: HashMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PointerError {
    #[error("the table moved on since it was read (ConcurrentModificationException): {0}")]
    Conflict(String),
    #[error("the table already exists")]
    AlreadyExists,
    #[error("the Glue table is not an Iceberg table: {0}")]
    NotIceberg(String),
    #[error("Glue refused the request: {0}")]
    Failed(String),
    #[error("the outcome is unknown (the request may have been applied): {0}")]
    Unknown(String),
}

#[async_trait]
pub trait TablePointer: Send + Sync {
    /// The table's pointer, or `None` when the table does not exist.
    async fn get(&self) -> Result<Option<Pointer>, PointerError>;
    /// Where a new table goes: `proposed` (the warehouse layout), unless the catalog
    /// chooses (S3 Tables does, and makes the table to learn where).
    async fn table_location(&self, proposed: &str) -> Result<String, PointerError> {
        Ok(proposed.to_owned())
    }
    /// Creates the table pointing at its first metadata file.
    async fn create(
        &self,
        metadata_location: &str,
        table_location: &str,
    ) -> Result<(), PointerError>;
    /// Moves the pointer from `current` (as read) to `metadata_location`.
    async fn swap(&self, current: &Pointer, metadata_location: &str) -> Result<(), PointerError>;
}

/// The Glue implementation.
#[derive(Debug, Clone)]
pub struct GluePointer {
    client: aws_sdk_glue::Client,
    database: String,
    table: String,
}

impl GluePointer {
    pub fn new(client: aws_sdk_glue::Client, database: String, table: String) -> Self {
        Self {
            client,
            database,
            table,
        }
    }

    fn input(
        &self,
        parameters: HashMap<String, String>,
        table_location: Option<&str>,
    ) -> Result<TableInput, PointerError> {
        let mut descriptor = StorageDescriptor::builder();
        if let Some(location) = table_location {
            descriptor = descriptor.location(location);
        }
        TableInput::builder()
            .name(&self.table)
            .table_type(GLUE_EXTERNAL_TABLE)
            .set_parameters(Some(parameters))
            .storage_descriptor(descriptor.build())
            .build()
            .map_err(|e| PointerError::Failed(e.to_string()))
    }
}

/// Whether a failed request may have been applied, for both catalogs (their SDKs share the
/// error and response types). Only a 4xx answer says it was not, unless its code is one of
/// `unknown_codes` (Glue's throttling and internal errors, settled like the rest). A 5xx, a
/// 2xx whose body the SDK could not read, a timeout or a lost connection may have been
/// applied; a request that could not be built was never sent.
pub(crate) fn classify<E>(e: SdkError<E, HttpResponse>, unknown_codes: &[&str]) -> PointerError
where
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    let text = format!("{e:?}");
    match &e {
        SdkError::ServiceError(s) => {
            let code = s.err().code().unwrap_or_default();
            let refused = (400..500).contains(&s.raw().status().as_u16())
                && !unknown_codes.iter().any(|c| code.contains(c));
            if refused {
                PointerError::Failed(text)
            } else {
                PointerError::Unknown(text)
            }
        }
        SdkError::ConstructionFailure(_) => PointerError::Failed(text),
        _ => PointerError::Unknown(text),
    }
}

/// Glue's codes that do not mean "not applied" although they come with a 4xx.
const GLUE_UNKNOWN_CODES: [&str; 2] = ["InternalService", "Throttling"];

#[async_trait]
impl TablePointer for GluePointer {
    async fn get(&self) -> Result<Option<Pointer>, PointerError> {
        let out = match self
            .client
            .get_table()
            .database_name(&self.database)
            .name(&self.table)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_entity_not_found_exception()) =>
            {
                return Ok(None)
            }
            // A read has no outcome to settle: whatever failed, it is a failure.
            Err(e) => return Err(PointerError::Failed(format!("GetTable: {e:?}"))),
        };
        let table = out
            .table
            .ok_or_else(|| PointerError::Failed("GetTable answered without a table".into()))?;
        let parameters = table.parameters.clone().unwrap_or_default();
        let is_iceberg = parameters
            .get(TABLE_TYPE_PARAMETER)
            .is_some_and(|t| t.eq_ignore_ascii_case(TABLE_TYPE_ICEBERG));
        let location = parameters.get(METADATA_LOCATION).cloned();
        match (is_iceberg, location) {
            (true, Some(metadata_location)) => Ok(Some(Pointer {
                metadata_location,
                version_id: table.version_id.clone(),
                parameters,
            })),
            _ => Err(PointerError::NotIceberg(format!(
                "{}.{} has no table_type=ICEBERG and metadata_location parameters",
                self.database, self.table
            ))),
        }
    }

    async fn create(
        &self,
        metadata_location: &str,
        table_location: &str,
    ) -> Result<(), PointerError> {
        let parameters = HashMap::from([
            (
                TABLE_TYPE_PARAMETER.to_owned(),
                TABLE_TYPE_ICEBERG.to_owned(),
            ),
            (METADATA_LOCATION.to_owned(), metadata_location.to_owned()),
        ]);
        let input = self.input(parameters, Some(table_location))?;
        match self
            .client
            .create_table()
            .database_name(&self.database)
            .table_input(input)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_already_exists_exception()) =>
            {
                Err(PointerError::AlreadyExists)
            }
            Err(e) => Err(classify(e, &GLUE_UNKNOWN_CODES)),
        }
    }

    async fn swap(&self, current: &Pointer, metadata_location: &str) -> Result<(), PointerError> {
        let mut parameters = current.parameters.clone();
        parameters.insert(METADATA_LOCATION.to_owned(), metadata_location.to_owned());
        parameters.insert(
            PREVIOUS_METADATA_LOCATION.to_owned(),
            current.metadata_location.clone(),
        );
        let input = self.input(parameters, None)?;
        let request = self
            .client
            .update_table()
            .database_name(&self.database)
            .table_input(input)
            // One commit per batch per shard: Glue's table versions would pile up.
            .skip_archive(true)
            .set_version_id(current.version_id.clone());
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_concurrent_modification_exception()) =>
            {
                Err(PointerError::Conflict(format!("{e:?}")))
            }
            Err(e) => Err(classify(e, &GLUE_UNKNOWN_CODES)),
        }
    }
}

/// What the in-memory pointer does to the next swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwapFault {
    /// Applies it, then answers as a lost response would (`Unknown`).
    LoseAnswer,
    /// Answers `Unknown` without applying it.
    FailUnknown,
    /// Another writer won the race: answers `Conflict` without applying it.
    LoseRace,
}

/// In-memory pointer: a version counter as Glue's `VersionId`.
#[derive(Debug, Default)]
pub struct MemoryPointer {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    current: Option<(String, u64)>,
    faults: Vec<SwapFault>,
    swaps: usize,
}

impl MemoryPointer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a fault for the next swaps, in order.
    pub fn inject(&self, fault: SwapFault) {
        self.state.lock().unwrap().faults.push(fault);
    }

    /// Moves the pointer as another writer would (its metadata file must exist).
    pub fn force(&self, metadata_location: &str) {
        let mut s = self.state.lock().unwrap();
        let version = s.current.as_ref().map_or(0, |(_, v)| v + 1);
        s.current = Some((metadata_location.to_owned(), version));
    }

    pub fn location(&self) -> Option<String> {
        self.state
            .lock()
            .unwrap()
            .current
            .as_ref()
            .map(|(l, _)| l.clone())
    }

    /// Swap requests that arrived (applied or not).
    pub fn swaps(&self) -> usize {
        self.state.lock().unwrap().swaps
    }
}

#[async_trait]
impl TablePointer for MemoryPointer {
    async fn get(&self) -> Result<Option<Pointer>, PointerError> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .current
            .as_ref()
            .map(|(l, v)| Pointer {
                metadata_location: l.clone(),
                version_id: Some(v.to_string()),
                parameters: HashMap::new(),
            }))
    }

    async fn create(
        &self,
        metadata_location: &str,
        _table_location: &str,
    ) -> Result<(), PointerError> {
        let mut s = self.state.lock().unwrap();
        if s.current.is_some() {
            return Err(PointerError::AlreadyExists);
        }
        s.current = Some((metadata_location.to_owned(), 0));
        Ok(())
    }

    async fn swap(&self, current: &Pointer, metadata_location: &str) -> Result<(), PointerError> {
        let mut s = self.state.lock().unwrap();
        s.swaps += 1;
        let fault = if s.faults.is_empty() {
            None
        } else {
            Some(s.faults.remove(0))
        };
        match fault {
            Some(SwapFault::FailUnknown) => {
                return Err(PointerError::Unknown("injected: no answer".into()))
            }
            Some(SwapFault::LoseRace) => {
                return Err(PointerError::Conflict(
                    "injected: another writer won".into(),
                ))
            }
            _ => {}
        }
        let (_, version) = s
            .current
            .clone()
            .ok_or(PointerError::Failed("no table".into()))?;
        if current.version_id.as_deref() != Some(version.to_string().as_str()) {
            return Err(PointerError::Conflict(format!(
                "VersionId {:?} is not the current {version}",
                current.version_id
            )));
        }
        s.current = Some((metadata_location.to_owned(), version + 1));
        match fault {
            Some(SwapFault::LoseAnswer) => {
                Err(PointerError::Unknown("injected: answer lost".into()))
            }
            _ => Ok(()),
        }
    }
}

/// The catalog `ICEBERG_CATALOG` names: one type for the binary to run.
#[derive(Debug, Clone)]
pub enum AnyPointer {
    Glue(GluePointer),
    S3Tables(crate::s3tables::S3TablesPointer),
}

#[async_trait]
impl TablePointer for AnyPointer {
    async fn get(&self) -> Result<Option<Pointer>, PointerError> {
        match self {
            Self::Glue(p) => p.get().await,
            Self::S3Tables(p) => p.get().await,
        }
    }
    async fn table_location(&self, proposed: &str) -> Result<String, PointerError> {
        match self {
            Self::Glue(p) => p.table_location(proposed).await,
            Self::S3Tables(p) => p.table_location(proposed).await,
        }
    }
    async fn create(
        &self,
        metadata_location: &str,
        table_location: &str,
    ) -> Result<(), PointerError> {
        match self {
            Self::Glue(p) => p.create(metadata_location, table_location).await,
            Self::S3Tables(p) => p.create(metadata_location, table_location).await,
        }
    }
    async fn swap(&self, current: &Pointer, metadata_location: &str) -> Result<(), PointerError> {
        match self {
            Self::Glue(p) => p.swap(current, metadata_location).await,
            Self::S3Tables(p) => p.swap(current, metadata_location).await,
        }
    }
}

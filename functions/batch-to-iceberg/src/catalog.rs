//! An Iceberg `Catalog` over one `MetadataLocationStore`: what iceberg-rust's `Transaction` commits
//! through. It serves exactly one table and does only what an append needs:
//!
//! - `load_table` reads the metadata location (Glue `GetTable`, with its `VersionId`) and the metadata
//!   file it names (cached while the metadata location stays put: a commit costs one metadata read
//!   only when someone else moved the table);
//! - `update_table` applies the commit to the table as last loaded, writes the new
//!   metadata file, and swaps the metadata location with that load's `VersionId`;
//! - `create_table` writes the first metadata file and creates the Glue table.
//!
//! Every failure comes back *not retryable* to iceberg-rust, whose own retry would re-apply
//! the same append (with the same checkpoint) on a newer table: the handler retries itself,
//! after reading the checkpoint again (`handler.rs`). The swap's own outcome is kept for the
//! handler (`take_swap_error`): a conflict and an unknown outcome are handled differently
//! from a failure.
//!
//! `AnyLocation` is the metadata location `ICEBERG_CATALOG` names (Glue, or S3 Tables), the one type
//! the binary runs.

use crate::metadata_location::{
    CurrentMetadata, GlueLocation, LocationError, MetadataLocationStore,
};
use crate::s3tables::S3TablesLocation;
use async_trait::async_trait;
use iceberg::io::FileIO;
use iceberg::spec::{TableMetadata, TableMetadataBuilder};
use iceberg::table::Table;
use iceberg::{
    Catalog, Error, ErrorKind, MetadataLocation, Namespace, NamespaceIdent, Result, Runtime,
    TableCommit, TableCreation, TableIdent,
};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

/// The catalog of one table.
pub struct LocationCatalog<P> {
    store: P,
    file_io: FileIO,
    ident: TableIdent,
    runtime: Runtime,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The metadata location as last read, with the metadata it names.
    loaded: Option<(CurrentMetadata, Arc<TableMetadata>)>,
    /// Why the last swap failed.
    swap_error: Option<LocationError>,
    /// Metadata files read from storage (the cache's misses).
    metadata_reads: usize,
}

impl<P> std::fmt::Debug for LocationCatalog<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocationCatalog")
            .field("table", &self.ident)
            .finish_non_exhaustive()
    }
}

impl<P: MetadataLocationStore> LocationCatalog<P> {
    /// Must be called inside the tokio runtime (iceberg's `Runtime::current`).
    pub fn new(store: P, file_io: FileIO, database: &str, table: &str) -> Result<Self> {
        Ok(Self {
            store,
            file_io,
            ident: TableIdent::new(NamespaceIdent::new(database.to_owned()), table.to_owned()),
            runtime: Runtime::try_current()?,
            state: Mutex::new(State::default()),
        })
    }

    pub fn ident(&self) -> &TableIdent {
        &self.ident
    }

    pub fn file_io(&self) -> &FileIO {
        &self.file_io
    }

    pub fn store(&self) -> &P {
        &self.store
    }

    /// Why the last `update_table` failed at the swap, if it did (taken once).
    pub fn take_swap_error(&self) -> Option<LocationError> {
        self.state.lock().ok()?.swap_error.take()
    }

    /// Metadata files read so far (for the benchmark's call count).
    pub fn metadata_reads(&self) -> usize {
        self.state
            .lock()
            .map(|s| s.metadata_reads)
            .unwrap_or_default()
    }

    /// The table, or `None` when it does not exist.
    pub async fn load(&self) -> Result<Option<Table>> {
        let Some(current) = self.store.get().await.map_err(location_error)? else {
            return Ok(None);
        };
        let cached = self
            .state
            .lock()
            .ok()
            .and_then(|s| {
                s.loaded
                    .as_ref()
                    .map(|(p, m)| (p.metadata_location.clone(), m.clone()))
            })
            .filter(|(location, _)| *location == current.metadata_location)
            .map(|(_, m)| m);
        let metadata = match cached {
            Some(m) => m,
            None => {
                let m = Arc::new(
                    TableMetadata::read_from(&self.file_io, &current.metadata_location).await?,
                );
                if let Ok(mut s) = self.state.lock() {
                    s.metadata_reads += 1;
                }
                m
            }
        };
        let table = self.table(metadata.clone(), &current.metadata_location)?;
        if let Ok(mut s) = self.state.lock() {
            s.loaded = Some((current, metadata));
        }
        Ok(Some(table))
    }

    fn table(&self, metadata: Arc<TableMetadata>, location: &str) -> Result<Table> {
        Table::builder()
            .file_io(self.file_io.clone())
            .metadata(metadata)
            .metadata_location(location)
            .identifier(self.ident.clone())
            .runtime(self.runtime.clone())
            .build()
    }

    /// Creates the table, or loads it when another shard created it first.
    pub async fn create(&self, creation: TableCreation) -> Result<Table> {
        let table_location = creation
            .location
            .clone()
            .ok_or_else(|| Error::new(ErrorKind::DataInvalid, "a new table needs a location"))?;
        let metadata = TableMetadataBuilder::from_table_creation(creation)?
            .build()?
            .metadata;
        let location = MetadataLocation::new_with_metadata(&table_location, &metadata);
        metadata.write_to(&self.file_io, &location).await?;
        match self.store.create(&metadata, &location.to_string()).await {
            Ok(()) | Err(LocationError::AlreadyExists) => {}
            // Settled by loading: if the create was applied, the table is there.
            Err(LocationError::Unknown(_)) => {}
            Err(e) => return Err(location_error(e)),
        }
        self.load().await?.ok_or_else(|| {
            Error::new(
                ErrorKind::TableNotFound,
                "the table was created but cannot be read",
            )
        })
    }
}

fn location_error(e: LocationError) -> Error {
    let kind = match e {
        LocationError::Conflict(_) => ErrorKind::CatalogCommitConflicts,
        LocationError::NotIceberg(_) => ErrorKind::DataInvalid,
        _ => ErrorKind::Unexpected,
    };
    Error::new(kind, e.to_string())
}

fn unsupported(what: &str) -> Error {
    Error::new(
        ErrorKind::FeatureUnsupported,
        format!("batch-to-iceberg's catalog serves one table's appends; {what} is not one"),
    )
}

#[async_trait]
impl<P: MetadataLocationStore> Catalog for LocationCatalog<P> {
    async fn list_namespaces(
        &self,
        _parent: Option<&NamespaceIdent>,
    ) -> Result<Vec<NamespaceIdent>> {
        Err(unsupported("list_namespaces"))
    }
    async fn create_namespace(
        &self,
        _namespace: &NamespaceIdent,
        _properties: HashMap<String, String>,
    ) -> Result<Namespace> {
        Err(unsupported("create_namespace"))
    }
    async fn get_namespace(&self, _namespace: &NamespaceIdent) -> Result<Namespace> {
        Err(unsupported("get_namespace"))
    }
    async fn namespace_exists(&self, _namespace: &NamespaceIdent) -> Result<bool> {
        Err(unsupported("namespace_exists"))
    }
    async fn update_namespace(
        &self,
        _namespace: &NamespaceIdent,
        _properties: HashMap<String, String>,
    ) -> Result<()> {
        Err(unsupported("update_namespace"))
    }
    async fn drop_namespace(&self, _namespace: &NamespaceIdent) -> Result<()> {
        Err(unsupported("drop_namespace"))
    }
    async fn list_tables(&self, _namespace: &NamespaceIdent) -> Result<Vec<TableIdent>> {
        Err(unsupported("list_tables"))
    }
    async fn create_table(
        &self,
        _namespace: &NamespaceIdent,
        creation: TableCreation,
    ) -> Result<Table> {
        self.create(creation).await
    }
    async fn load_table(&self, table: &TableIdent) -> Result<Table> {
        if *table != self.ident {
            return Err(unsupported("another table"));
        }
        self.load()
            .await?
            .ok_or_else(|| Error::new(ErrorKind::TableNotFound, format!("{table} does not exist")))
    }
    async fn drop_table(&self, _table: &TableIdent) -> Result<()> {
        Err(unsupported("drop_table"))
    }
    async fn purge_table(&self, _table: &TableIdent) -> Result<()> {
        Err(unsupported("purge_table"))
    }
    async fn table_exists(&self, _table: &TableIdent) -> Result<bool> {
        Ok(self.store.get().await.map_err(location_error)?.is_some())
    }
    async fn rename_table(&self, _src: &TableIdent, _dest: &TableIdent) -> Result<()> {
        Err(unsupported("rename_table"))
    }
    async fn register_table(
        &self,
        _table: &TableIdent,
        _metadata_location: String,
    ) -> Result<Table> {
        Err(unsupported("register_table"))
    }

    async fn update_table(&self, commit: TableCommit) -> Result<Table> {
        let (current, metadata) = self
            .state
            .lock()
            .ok()
            .and_then(|s| s.loaded.clone())
            .ok_or_else(|| {
                Error::new(ErrorKind::Unexpected, "commit before the table was loaded")
            })?;
        let base = self.table(metadata, &current.metadata_location)?;
        let staged = commit.apply(base)?;
        let location = staged.metadata_location_result()?.to_owned();
        staged
            .metadata()
            .write_to(&self.file_io, &MetadataLocation::from_str(&location)?)
            .await?;
        if let Err(e) = self
            .store
            .swap(&current, staged.metadata(), &location)
            .await
        {
            let error = location_error(e.clone());
            if let Ok(mut s) = self.state.lock() {
                s.swap_error = Some(e);
            }
            return Err(error);
        }
        if let Ok(mut s) = self.state.lock() {
            // The new metadata location's VersionId is Glue's to tell: the next load reads it, and
            // finds this metadata in the cache.
            s.loaded = Some((
                CurrentMetadata {
                    metadata_location: location.clone(),
                    version_id: None,
                    glue_table: None,
                },
                staged.metadata_ref(),
            ));
        }
        Ok(staged)
    }
}

/// The catalog `ICEBERG_CATALOG` names: one type for the binary to run.
#[derive(Debug, Clone)]
pub enum AnyLocation {
    Glue(GlueLocation),
    S3Tables(S3TablesLocation),
}

#[async_trait]
impl MetadataLocationStore for AnyLocation {
    async fn get(&self) -> std::result::Result<Option<CurrentMetadata>, LocationError> {
        match self {
            Self::Glue(p) => p.get().await,
            Self::S3Tables(p) => p.get().await,
        }
    }
    async fn table_location(&self, proposed: &str) -> std::result::Result<String, LocationError> {
        match self {
            Self::Glue(p) => p.table_location(proposed).await,
            Self::S3Tables(p) => p.table_location(proposed).await,
        }
    }
    async fn create(
        &self,
        metadata: &TableMetadata,
        metadata_location: &str,
    ) -> std::result::Result<(), LocationError> {
        match self {
            Self::Glue(p) => p.create(metadata, metadata_location).await,
            Self::S3Tables(p) => p.create(metadata, metadata_location).await,
        }
    }
    async fn swap(
        &self,
        current: &CurrentMetadata,
        metadata: &TableMetadata,
        metadata_location: &str,
    ) -> std::result::Result<(), LocationError> {
        match self {
            Self::Glue(p) => p.swap(current, metadata, metadata_location).await,
            Self::S3Tables(p) => p.swap(current, metadata, metadata_location).await,
        }
    }
}

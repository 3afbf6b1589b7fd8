//! The Glue Data Catalog: a narrow I/O boundary (`TableCatalog`: get, create and update one
//! table of one database), implemented once for the SDK client (`sdk`) and once in memory
//! (`memory`), and `ensure_table`, which makes an existing table match `catalog.rs`'s
//! definition without ever dropping or retyping a column.
//!
//! Glue semantics relied on:
//! - `GetTable` answers `EntityNotFoundException` for a missing table (or database), and
//!   gives the table's `VersionId`.
//! - `UpdateTable` replaces the whole table with its `TableInput`: properties left out are
//!   lost, so an update starts from the table as read. With `VersionId`, Glue answers
//!   `ConcurrentModificationException` when the table changed since that version (moto
//!   ignores `VersionId`: the in-memory fake checks it, so the retry is tested).
//! - `CreateTable` answers `AlreadyExistsException` when another container won the race.

use crate::catalog::{extended, reconcile, ColumnDef, TableDef, TypeConflict};
use std::future::Future;
use std::time::Duration;

/// Reads of the table and attempts at creating or updating it before giving up (another
/// writer changed it each time). The next invocation tries again.
pub const CATALOG_ATTEMPTS: usize = 3;
/// The longest the table is waited for in one invocation. The SDK has no overall timeout
/// by default: a Glue that never answers would otherwise hold every first invocation until
/// Lambda's timeout, and the stream would not move at all.
pub const CATALOG_TIMEOUT: Duration = Duration::from_secs(10);

/// A catalog call that failed after the SDK's own retries, or a lost race.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("Glue {operation} of table {table} failed ({code}): {message}")]
    Service {
        operation: &'static str,
        table: String,
        code: String,
        message: String,
    },
    #[error("Glue table {table} already exists")]
    AlreadyExists { table: String },
    #[error("Glue table {table} changed since it was read")]
    ConcurrentModification { table: String },
    #[error("Glue table {table} kept changing under us over {attempts} attempts")]
    KeptChanging { table: String, attempts: usize },
    #[error("Glue did not answer for table {table} within {after:?}")]
    TimedOut { table: String, after: Duration },
}

/// Tables in the configured database.
pub trait TableCatalog: Send + Sync {
    /// GetTable: the table and its `VersionId` (empty when Glue gave none); `None` when
    /// there is no such table.
    fn get_table(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<(TableDef, String)>, CatalogError>> + Send;
    /// CreateTable (`AlreadyExists` when it exists).
    fn create_table(
        &self,
        table: &TableDef,
    ) -> impl Future<Output = Result<(), CatalogError>> + Send;
    /// UpdateTable to `table`, only if the table is still at `version_id`
    /// (`ConcurrentModification` otherwise). Properties `TableDef` does not hold are kept.
    fn update_table(
        &self,
        table: &TableDef,
        version_id: &str,
    ) -> impl Future<Output = Result<(), CatalogError>> + Send;
}

/// The catalog of a function without a Glue table: it cannot be made, so it is never called
/// (`BatchToS3::new` holds none; `with_catalog` gives one).
#[derive(Debug, Clone, Copy)]
pub enum NoCatalog {}

impl TableCatalog for NoCatalog {
    async fn get_table(&self, _: &str) -> Result<Option<(TableDef, String)>, CatalogError> {
        match *self {}
    }
    async fn create_table(&self, _: &TableDef) -> Result<(), CatalogError> {
        match *self {}
    }
    async fn update_table(&self, _: &TableDef, _: &str) -> Result<(), CatalogError> {
        match *self {}
    }
}

/// What `ensure_table` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnsureOutcome {
    /// The table did not exist and was created.
    pub created: bool,
    /// Columns appended to an existing table.
    pub added: Vec<ColumnDef>,
    /// Columns the table types differently from `SCHEMA`: left as they are.
    pub conflicts: Vec<TypeConflict>,
}

/// Makes sure the table exists and has every wanted column: creates it when missing,
/// appends the columns it lacks (re-reading and retrying when another writer changed it in
/// between, at most `CATALOG_ATTEMPTS` times), and reports type conflicts without touching
/// them.
pub async fn ensure_table<C: TableCatalog>(
    catalog: &C,
    wanted: &TableDef,
) -> Result<EnsureOutcome, CatalogError> {
    for attempt in 1..=CATALOG_ATTEMPTS {
        let raced = match catalog.get_table(&wanted.name).await? {
            None => match catalog.create_table(wanted).await {
                Ok(()) => {
                    return Ok(EnsureOutcome {
                        created: true,
                        ..EnsureOutcome::default()
                    })
                }
                Err(e @ CatalogError::AlreadyExists { .. }) => e,
                Err(e) => return Err(e),
            },
            Some((existing, version_id)) => {
                let change = reconcile(wanted, &existing);
                if change.add.is_empty() {
                    return Ok(EnsureOutcome {
                        conflicts: change.conflicts,
                        ..EnsureOutcome::default()
                    });
                }
                let table = extended(&existing, wanted, &change);
                match catalog.update_table(&table, &version_id).await {
                    Ok(()) => {
                        return Ok(EnsureOutcome {
                            created: false,
                            added: change.add,
                            conflicts: change.conflicts,
                        })
                    }
                    Err(e @ CatalogError::ConcurrentModification { .. }) => e,
                    Err(e) => return Err(e),
                }
            }
        };
        tracing::warn!(table = %wanted.name, attempt, reason = %raced,
            "Glue table changed by another writer; reading it again");
    }
    Err(CatalogError::KeptChanging {
        table: wanted.name.clone(),
        attempts: CATALOG_ATTEMPTS,
    })
}

/// What one attempt at the table did, for the invocation's summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CatalogReport {
    /// The attempt failed (it is made again on the next invocation).
    pub failed: bool,
    pub columns_added: usize,
    pub type_conflicts: usize,
}

/// `ensure_table` within `timeout`, logged: creation and added columns at `info`, each type
/// conflict and a failure at `error` (data is written all the same: the objects do not
/// depend on the table).
pub async fn ensure_table_logged<C: TableCatalog>(
    catalog: &C,
    database: &str,
    wanted: &TableDef,
    timeout: Duration,
) -> CatalogReport {
    let result = tokio::time::timeout(timeout, ensure_table(catalog, wanted))
        .await
        .unwrap_or_else(|_| {
            Err(CatalogError::TimedOut {
                table: wanted.name.clone(),
                after: timeout,
            })
        });
    match result {
        Ok(outcome) => {
            if outcome.created {
                tracing::info!(database, table = %wanted.name, columns = wanted.columns.len(),
                    "created the Glue table");
            }
            if !outcome.added.is_empty() {
                let added: Vec<&str> = outcome.added.iter().map(|c| c.name.as_str()).collect();
                tracing::info!(database, table = %wanted.name, added = ?added,
                    "added columns to the Glue table");
            }
            for c in &outcome.conflicts {
                tracing::error!(database, table = %wanted.name, column = %c.column,
                    table_type = %c.existing, schema_type = %c.wanted,
                    "a Glue table column has another type than in SCHEMA; it is left as it is");
            }
            CatalogReport {
                failed: false,
                columns_added: outcome.added.len(),
                type_conflicts: outcome.conflicts.len(),
            }
        }
        Err(e) => {
            tracing::error!(database, table = %wanted.name, error = %e,
                "could not make the Glue table match; writing goes on and the next invocation tries again");
            CatalogReport {
                failed: true,
                ..CatalogReport::default()
            }
        }
    }
}

/// The SDK implementation.
pub mod sdk {
    use super::*;
    use aws_sdk_glue::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
    use aws_sdk_glue::operation::create_table::CreateTableError;
    use aws_sdk_glue::operation::get_table::GetTableError;
    use aws_sdk_glue::operation::update_table::UpdateTableError;
    use aws_sdk_glue::types::{Column, SerDeInfo, StorageDescriptor, Table, TableInput};
    use aws_sdk_glue::Client;
    use std::collections::{BTreeMap, HashMap};

    /// One database through the AWS SDK (which retries throttling and 5xx itself).
    #[derive(Debug, Clone)]
    pub struct GlueCatalog {
        client: Client,
        database: String,
    }

    impl GlueCatalog {
        pub fn new(client: Client, database: impl Into<String>) -> Self {
            Self {
                client,
                database: database.into(),
            }
        }
    }

    fn failed<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
        operation: &'static str,
        table: &str,
        err: SdkError<E, R>,
    ) -> CatalogError {
        let code = err.code().unwrap_or("Unknown").to_owned();
        let message = match &err {
            SdkError::ServiceError(_) => err.message().unwrap_or_default().to_owned(),
            other => DisplayErrorContext(other).to_string(),
        };
        CatalogError::Service {
            operation,
            table: table.to_owned(),
            code,
            message,
        }
    }

    fn column_def(c: &Column) -> ColumnDef {
        ColumnDef::new(&c.name, c.r#type.clone().unwrap_or_default())
    }

    fn sorted(m: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
        m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    fn non_empty(s: &str) -> Option<String> {
        Some(s.to_owned()).filter(|s| !s.is_empty())
    }

    /// The table as `TableDef` holds it.
    pub(crate) fn table_def(t: &Table) -> TableDef {
        let sd = t.storage_descriptor.as_ref();
        let serde = sd.and_then(|s| s.serde_info.as_ref());
        TableDef {
            name: t.name.clone(),
            table_type: t.table_type.clone().unwrap_or_default(),
            columns: sd
                .map(|s| s.columns().iter().map(column_def).collect())
                .unwrap_or_default(),
            partition_keys: t.partition_keys().iter().map(column_def).collect(),
            location: sd.and_then(|s| s.location.clone()).unwrap_or_default(),
            serde_library: serde
                .and_then(|s| s.serialization_library.clone())
                .unwrap_or_default(),
            serde_parameters: sorted(serde.and_then(|s| s.parameters.as_ref())),
            input_format: sd.and_then(|s| s.input_format.clone()).unwrap_or_default(),
            output_format: sd.and_then(|s| s.output_format.clone()).unwrap_or_default(),
            parameters: sorted(t.parameters.as_ref()),
        }
    }

    /// Glue columns for `wanted`, reusing a column of `base` with the same name and type so
    /// that its comment and parameters stay.
    fn columns(wanted: &[ColumnDef], base: &[Column]) -> Result<Vec<Column>, CatalogError> {
        wanted
            .iter()
            .map(|w| match base.iter().find(|b| b.name == w.name) {
                Some(b) if b.r#type.as_deref() == Some(w.ty.as_str()) => Ok(b.clone()),
                _ => Column::builder()
                    .name(&w.name)
                    .r#type(&w.ty)
                    .build()
                    .map_err(|e| invalid(&w.name, e)),
            })
            .collect()
    }

    fn invalid(table: &str, e: impl std::fmt::Display) -> CatalogError {
        CatalogError::Service {
            operation: "BuildTableInput",
            table: table.to_owned(),
            code: "InvalidInput".into(),
            message: e.to_string(),
        }
    }

    /// The `TableInput` for `def`: on top of `base` (the table as stored) when updating, so
    /// that what `TableDef` does not hold (description, owner, retention, storage
    /// parameters, column comments, ...) is kept.
    pub(crate) fn table_input(
        def: &TableDef,
        base: Option<&Table>,
    ) -> Result<TableInput, CatalogError> {
        let base_sd = base.and_then(|t| t.storage_descriptor.as_ref());
        let mut sd = base_sd
            .cloned()
            .unwrap_or_else(|| StorageDescriptor::builder().build());
        let mut serde = sd
            .serde_info
            .clone()
            .unwrap_or_else(|| SerDeInfo::builder().build());
        serde.serialization_library = non_empty(&def.serde_library);
        serde.parameters = Some(def.serde_parameters.clone().into_iter().collect());
        sd.serde_info = Some(serde);
        sd.columns = Some(columns(
            &def.columns,
            base_sd.map(|s| s.columns()).unwrap_or_default(),
        )?);
        sd.location = non_empty(&def.location);
        sd.input_format = non_empty(&def.input_format);
        sd.output_format = non_empty(&def.output_format);
        let partition_keys = columns(
            &def.partition_keys,
            base.map(|t| t.partition_keys()).unwrap_or_default(),
        )?;
        TableInput::builder()
            .name(&def.name)
            .set_description(base.and_then(|t| t.description.clone()))
            .set_owner(base.and_then(|t| t.owner.clone()))
            .set_last_access_time(base.and_then(|t| t.last_access_time))
            .set_last_analyzed_time(base.and_then(|t| t.last_analyzed_time))
            .set_retention(base.map(|t| t.retention))
            .set_view_original_text(base.and_then(|t| t.view_original_text.clone()))
            .set_view_expanded_text(base.and_then(|t| t.view_expanded_text.clone()))
            .set_target_table(base.and_then(|t| t.target_table.clone()))
            .set_federated_table(base.and_then(|t| t.federated_table.clone()))
            .storage_descriptor(sd)
            .set_partition_keys(Some(partition_keys))
            .set_table_type(non_empty(&def.table_type))
            .set_parameters(Some(def.parameters.clone().into_iter().collect()))
            .build()
            .map_err(|e| invalid(&def.name, e))
    }

    impl GlueCatalog {
        /// GetTable, as the SDK gives it.
        async fn read(&self, name: &str) -> Result<Option<Table>, CatalogError> {
            match self
                .client
                .get_table()
                .database_name(&self.database)
                .name(name)
                .send()
                .await
            {
                Ok(out) => Ok(out.table),
                Err(SdkError::ServiceError(e))
                    if matches!(e.err(), GetTableError::EntityNotFoundException(_)) =>
                {
                    Ok(None)
                }
                Err(e) => Err(failed("GetTable", name, e)),
            }
        }
    }

    impl TableCatalog for GlueCatalog {
        async fn get_table(&self, name: &str) -> Result<Option<(TableDef, String)>, CatalogError> {
            Ok(self.read(name).await?.map(|t| {
                let version = t.version_id.clone().unwrap_or_default();
                (table_def(&t), version)
            }))
        }

        async fn create_table(&self, table: &TableDef) -> Result<(), CatalogError> {
            match self
                .client
                .create_table()
                .database_name(&self.database)
                .table_input(table_input(table, None)?)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(SdkError::ServiceError(e))
                    if matches!(e.err(), CreateTableError::AlreadyExistsException(_)) =>
                {
                    Err(CatalogError::AlreadyExists {
                        table: table.name.clone(),
                    })
                }
                Err(e) => Err(failed("CreateTable", &table.name, e)),
            }
        }

        async fn update_table(
            &self,
            table: &TableDef,
            version_id: &str,
        ) -> Result<(), CatalogError> {
            // The table as stored, for what TableDef does not hold. Read again here rather
            // than kept from get_table: if it changed since `version_id`, Glue would refuse
            // the update anyway.
            let concurrent = || CatalogError::ConcurrentModification {
                table: table.name.clone(),
            };
            let base = self.read(&table.name).await?.ok_or_else(concurrent)?;
            if base.version_id.as_deref().unwrap_or_default() != version_id {
                return Err(concurrent());
            }
            match self
                .client
                .update_table()
                .database_name(&self.database)
                .table_input(table_input(table, Some(&base))?)
                .set_version_id(non_empty(version_id))
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(SdkError::ServiceError(e))
                    if matches!(
                        e.err(),
                        UpdateTableError::ConcurrentModificationException(_)
                    ) =>
                {
                    Err(concurrent())
                }
                Err(e) => Err(failed("UpdateTable", &table.name, e)),
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn an_update_keeps_what_table_def_does_not_hold() {
            let mut sd = StorageDescriptor::builder()
                .location("s3://b/raw/")
                .compressed(true)
                .parameters("storage", "kept")
                .columns(
                    Column::builder()
                        .name("a")
                        .r#type("int")
                        .comment("the a")
                        .build()
                        .unwrap(),
                )
                .build();
            sd.serde_info = Some(
                SerDeInfo::builder()
                    .name("serde-name")
                    .serialization_library("lib")
                    .build(),
            );
            let base = Table::builder()
                .name("t")
                .description("described")
                .owner("someone")
                .retention(7)
                .storage_descriptor(sd)
                .parameters("p", "1")
                .version_id("3")
                .build()
                .unwrap();
            let mut def = table_def(&base);
            assert_eq!(def.columns, [ColumnDef::new("a", "int")]);
            def.columns.push(ColumnDef::new("b", "string"));
            let input = table_input(&def, Some(&base)).unwrap();
            assert_eq!(input.description(), Some("described"));
            assert_eq!(input.owner(), Some("someone"));
            assert_eq!(input.retention(), 7);
            let sd = input.storage_descriptor().unwrap();
            assert!(sd.compressed);
            assert_eq!(sd.parameters.as_ref().unwrap()["storage"], "kept");
            assert_eq!(
                sd.serde_info.as_ref().unwrap().name.as_deref(),
                Some("serde-name")
            );
            let cols: Vec<_> = sd
                .columns()
                .iter()
                .map(|c| (c.name.as_str(), c.comment.as_deref()))
                .collect();
            assert_eq!(cols, [("a", Some("the a")), ("b", None)]);
            assert_eq!(input.parameters().unwrap()["p"], "1");
            assert_eq!(table_def(&as_table(&input)), def);
        }

        /// The table CreateTable would store from an input.
        fn as_table(input: &TableInput) -> Table {
            Table::builder()
                .name(input.name())
                .set_storage_descriptor(input.storage_descriptor().cloned())
                .set_partition_keys(Some(input.partition_keys().to_vec()))
                .set_table_type(input.table_type().map(str::to_owned))
                .set_parameters(input.parameters().cloned())
                .build()
                .unwrap()
        }

        #[test]
        fn a_created_table_reads_back_as_defined() {
            let config = crate::Config::from_lookup(trickle_shared::config::map_lookup(&[
                ("BUCKET_NAME", "b"),
                ("FORMAT", "parquet"),
                ("SCHEMA", "a int, g struct<x:double>"),
                ("GLUE_DATABASE", "db"),
                ("GLUE_TABLE", "t"),
                ("PARTITION_POINTER", "/c"),
            ]))
            .unwrap();
            let def = crate::catalog::table_definition(&config).unwrap();
            let input = table_input(&def, None).unwrap();
            assert_eq!(table_def(&as_table(&input)), def);
        }
    }
}

/// An in-memory catalog for tests: keeps version ids and refuses a stale one as Glue does,
/// and can be told to fail calls or to have another writer change the table first.
pub mod memory {
    use super::*;
    use std::collections::{BTreeMap, VecDeque};
    use std::sync::Mutex;

    type Change = Box<dyn FnOnce(&mut TableDef) + Send>;

    /// A fake database.
    #[derive(Default)]
    pub struct MemoryCatalog {
        tables: Mutex<BTreeMap<String, (TableDef, u64)>>,
        /// Every call, by operation name, in order.
        pub calls: Mutex<Vec<&'static str>>,
        fail: Mutex<bool>,
        stall: Mutex<bool>,
        /// Commits of "another writer", each applied just before an UpdateTable or
        /// CreateTable call is handled (so that call's view is stale).
        races: Mutex<VecDeque<Change>>,
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    impl MemoryCatalog {
        pub fn new() -> Self {
            Self::default()
        }

        /// Stores a table as it is (version 1).
        pub fn insert(&self, table: TableDef) {
            lock(&self.tables).insert(table.name.clone(), (table, 1));
        }

        /// A table and its version id.
        pub fn table(&self, name: &str) -> Option<(TableDef, String)> {
            lock(&self.tables)
                .get(name)
                .map(|(t, v)| (t.clone(), v.to_string()))
        }

        /// Every call fails (as after the SDK's retries) while set.
        pub fn fail_calls(&self, fail: bool) {
            *lock(&self.fail) = fail;
        }

        /// Before the next write call is handled, another writer commits `change` to the
        /// table (creating it from a default `TableDef` named as the call's table when
        /// missing).
        pub fn race_next_write(&self, change: impl FnOnce(&mut TableDef) + Send + 'static) {
            lock(&self.races).push_back(Box::new(change));
        }

        /// Every call hangs (Glue does not answer) while set.
        pub fn stall_calls(&self, stall: bool) {
            *lock(&self.stall) = stall;
        }

        async fn enter(&self, operation: &'static str, table: &str) -> Result<(), CatalogError> {
            lock(&self.calls).push(operation);
            if *lock(&self.stall) {
                std::future::pending::<()>().await;
            }
            if *lock(&self.fail) {
                return Err(CatalogError::Service {
                    operation,
                    table: table.to_owned(),
                    code: "InternalServiceException".into(),
                    message: "injected failure".into(),
                });
            }
            Ok(())
        }

        /// Applies a pending race to `name`, if any.
        fn race(&self, name: &str) {
            let Some(change) = lock(&self.races).pop_front() else {
                return;
            };
            let mut tables = lock(&self.tables);
            let entry = tables.entry(name.to_owned()).or_insert_with(|| {
                (
                    TableDef {
                        name: name.to_owned(),
                        ..TableDef::default()
                    },
                    0,
                )
            });
            change(&mut entry.0);
            entry.1 += 1;
        }
    }

    impl TableCatalog for MemoryCatalog {
        async fn get_table(&self, name: &str) -> Result<Option<(TableDef, String)>, CatalogError> {
            self.enter("GetTable", name).await?;
            Ok(self.table(name))
        }

        async fn create_table(&self, table: &TableDef) -> Result<(), CatalogError> {
            self.enter("CreateTable", &table.name).await?;
            self.race(&table.name);
            let mut tables = lock(&self.tables);
            if tables.contains_key(&table.name) {
                return Err(CatalogError::AlreadyExists {
                    table: table.name.clone(),
                });
            }
            tables.insert(table.name.clone(), (table.clone(), 1));
            Ok(())
        }

        async fn update_table(
            &self,
            table: &TableDef,
            version_id: &str,
        ) -> Result<(), CatalogError> {
            self.enter("UpdateTable", &table.name).await?;
            self.race(&table.name);
            let mut tables = lock(&self.tables);
            let Some((stored, version)) = tables.get_mut(&table.name) else {
                return Err(CatalogError::Service {
                    operation: "UpdateTable",
                    table: table.name.clone(),
                    code: "EntityNotFoundException".into(),
                    message: "no such table".into(),
                });
            };
            if version.to_string() != version_id {
                return Err(CatalogError::ConcurrentModification {
                    table: table.name.clone(),
                });
            }
            *stored = table.clone();
            *version += 1;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::memory::MemoryCatalog;
    use super::*;
    use crate::catalog::table_definition;
    use crate::Config;
    use trickle_shared::config::map_lookup;

    fn wanted(schema: &str) -> TableDef {
        let config = Config::from_lookup(map_lookup(&[
            ("BUCKET_NAME", "b"),
            ("FORMAT", "parquet"),
            ("SCHEMA", schema),
            ("GLUE_DATABASE", "db"),
            ("GLUE_TABLE", "t"),
        ]))
        .unwrap();
        table_definition(&config).unwrap()
    }

    fn names(t: &TableDef) -> Vec<&str> {
        t.columns.iter().map(|c| c.name.as_str()).collect()
    }

    #[tokio::test]
    async fn creates_a_missing_table_and_then_leaves_it() {
        let c = MemoryCatalog::new();
        let w = wanted("a int");
        let out = ensure_table(&c, &w).await.unwrap();
        assert!(out.created);
        assert_eq!(c.table("t").unwrap().0, w);
        let out = ensure_table(&c, &w).await.unwrap();
        assert_eq!(out, EnsureOutcome::default());
        assert_eq!(
            *c.calls.lock().unwrap(),
            ["GetTable", "CreateTable", "GetTable"]
        );
    }

    #[tokio::test]
    async fn appends_gained_columns_with_the_version_read() {
        let c = MemoryCatalog::new();
        let mut old = wanted("a int, gone string");
        old.parameters.insert("owner.note".into(), "kept".into());
        old.serde_parameters.insert("custom".into(), "kept".into());
        c.insert(old.clone());
        let out = ensure_table(&c, &wanted("a bigint, b string"))
            .await
            .unwrap();
        assert!(!out.created);
        assert_eq!(out.added, [ColumnDef::new("b", "string")]);
        assert_eq!(out.conflicts.len(), 1);
        assert_eq!(out.conflicts[0].column, "a");
        let (t, version) = c.table("t").unwrap();
        assert_eq!(version, "2");
        assert_eq!(names(&t), ["a", "gone", "_extra", "b"]);
        assert_eq!(t.columns[0], ColumnDef::new("a", "int"));
        assert_eq!(t.parameters["owner.note"], "kept");
        assert_eq!(t.serde_parameters["custom"], "kept");
        assert_eq!(t.parameters["trickle.schema"], "a bigint, b string");
    }

    #[tokio::test]
    async fn a_conflict_alone_changes_nothing() {
        let c = MemoryCatalog::new();
        c.insert(wanted("a int"));
        let out = ensure_table(&c, &wanted("a string")).await.unwrap();
        assert_eq!(out.added, []);
        assert_eq!(out.conflicts.len(), 1);
        assert_eq!(c.table("t").unwrap().1, "1");
        assert!(!c.calls.lock().unwrap().contains(&"UpdateTable"));
    }

    #[tokio::test]
    async fn a_stale_version_is_read_again_and_the_other_writers_columns_stay() {
        let c = MemoryCatalog::new();
        c.insert(wanted("a int"));
        c.race_next_write(|t| t.columns.push(ColumnDef::new("theirs", "date")));
        let out = ensure_table(&c, &wanted("a int, b string")).await.unwrap();
        assert_eq!(out.added, [ColumnDef::new("b", "string")]);
        let (t, version) = c.table("t").unwrap();
        assert_eq!(names(&t), ["a", "_extra", "theirs", "b"]);
        assert_eq!(version, "3");
        assert_eq!(
            *c.calls.lock().unwrap(),
            ["GetTable", "UpdateTable", "GetTable", "UpdateTable"]
        );
    }

    #[tokio::test]
    async fn a_column_another_writer_added_first_is_not_added_twice() {
        let c = MemoryCatalog::new();
        c.insert(wanted("a int"));
        c.race_next_write(|t| t.columns.push(ColumnDef::new("b", "string")));
        let out = ensure_table(&c, &wanted("a int, b string")).await.unwrap();
        assert_eq!(out.added, []);
        assert_eq!(names(&c.table("t").unwrap().0), ["a", "_extra", "b"]);
    }

    #[tokio::test]
    async fn a_create_race_is_lost_gracefully() {
        let c = MemoryCatalog::new();
        let w = wanted("a int, b string");
        let mut theirs = wanted("a int");
        theirs.parameters.insert("by".into(), "them".into());
        c.race_next_write(move |t| *t = theirs);
        let out = ensure_table(&c, &w).await.unwrap();
        assert!(!out.created);
        assert_eq!(out.added, [ColumnDef::new("b", "string")]);
        let t = c.table("t").unwrap().0;
        assert_eq!(names(&t), ["a", "_extra", "b"]);
        assert_eq!(t.parameters["by"], "them");
    }

    #[tokio::test]
    async fn gives_up_after_bounded_attempts_when_the_table_keeps_changing() {
        let c = MemoryCatalog::new();
        c.insert(wanted("a int"));
        for i in 0..CATALOG_ATTEMPTS {
            c.race_next_write(move |t| t.columns.push(ColumnDef::new(format!("x{i}"), "int")));
        }
        let err = ensure_table(&c, &wanted("a int, b string"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            CatalogError::KeptChanging {
                table: "t".into(),
                attempts: CATALOG_ATTEMPTS
            }
        );
        assert!(!names(&c.table("t").unwrap().0).contains(&"b"));
    }

    #[tokio::test]
    async fn a_failed_call_is_an_error() {
        let c = MemoryCatalog::new();
        c.fail_calls(true);
        let err = ensure_table(&c, &wanted("a int")).await.unwrap_err();
        assert!(
            matches!(
                err,
                CatalogError::Service {
                    operation: "GetTable",
                    ..
                }
            ),
            "{err}"
        );
        let report = ensure_table_logged(&c, "db", &wanted("a int"), CATALOG_TIMEOUT).await;
        assert!(report.failed);
    }

    #[tokio::test]
    async fn a_glue_that_does_not_answer_is_a_timed_out_failure() {
        let c = MemoryCatalog::new();
        c.stall_calls(true);
        let report =
            ensure_table_logged(&c, "db", &wanted("a int"), Duration::from_millis(20)).await;
        assert_eq!(
            report,
            CatalogReport {
                failed: true,
                ..CatalogReport::default()
            }
        );
    }
}

//! batch-to-s3's Glue table: `ensure_table`, which makes an existing table match
//! `catalog.rs`'s definition without ever dropping or retyping a column, over any
//! `trickle_glue::GlueTables` (the SDK's, or the in-memory fake in tests); and the mapping
//! between Glue's table and `TableDef` (`table_def`, `table_input`: `table_input.rs`).
//!
//! The Glue calls themselves (GetTable with its `VersionId`, CreateTable, UpdateTable only
//! if the table is still at that version, one timeout per call, one error classification)
//! are `trickle-glue`'s. `UpdateTable` replaces the whole table, so an update starts from
//! the table as read (`trickle_glue::table_input`) and changes only what `TableDef` holds;
//! everything else (description, owner, retention, storage parameters, column comments,
//! ...) is kept.

mod table_input;

pub use table_input::table_def;
pub(crate) use table_input::table_input;

use crate::catalog::{extended, reconcile, ColumnDef, TableDef, TypeConflict};
use aws_sdk_glue::types::{Table, TableInput};
use std::time::Duration;
use trickle_glue::{GlueError, GlueTables};

/// Reads of the table and attempts at creating or updating it before giving up (another
/// writer changed it each time). The next invocation tries again.
pub const CATALOG_ATTEMPTS: usize = 3;
/// The longest the table is waited for in one invocation, all calls together (each call is
/// also bounded by `trickle_glue::CALL_TIMEOUT`): the data objects do not depend on the
/// table, so a slow Glue must not hold the first invocation of every container.
pub const CATALOG_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the table could not be made to match (the next invocation tries again).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Glue(#[from] GlueError),
    #[error("Glue table {table} kept changing under us over {attempts} attempts")]
    KeptChanging { table: String, attempts: usize },
    #[error("Glue did not answer for table {table} within {after:?}")]
    TimedOut { table: String, after: Duration },
    #[error("Glue table {table}: {message}")]
    Invalid { table: String, message: String },
}

/// The catalog of a function without a Glue table: it cannot be made, so it is never called
/// (`BatchToS3::new` holds none; `with_catalog` gives one).
#[derive(Debug, Clone, Copy)]
pub enum NoCatalog {}

impl GlueTables for NoCatalog {
    async fn get_table(&self, _: &str) -> Result<Option<Table>, GlueError> {
        match *self {}
    }
    async fn create_table(&self, _: TableInput) -> Result<(), GlueError> {
        match *self {}
    }
    async fn update_table(&self, _: TableInput, _: &str, _: bool) -> Result<(), GlueError> {
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
/// them. A retry reads the table again at once: the other writer's change is then in it.
pub async fn ensure_table<C: GlueTables>(
    catalog: &C,
    wanted: &TableDef,
) -> Result<EnsureOutcome, CatalogError> {
    for attempt in 1..=CATALOG_ATTEMPTS {
        let raced = match catalog.get_table(&wanted.name).await? {
            None => match catalog.create_table(table_input(wanted, None)?).await {
                Ok(()) => {
                    return Ok(EnsureOutcome {
                        created: true,
                        ..EnsureOutcome::default()
                    })
                }
                Err(e @ GlueError::AlreadyExists { .. }) => e,
                Err(e) => return Err(e.into()),
            },
            Some(stored) => {
                let existing = table_def(&stored);
                let change = reconcile(wanted, &existing);
                if change.add.is_empty() {
                    return Ok(EnsureOutcome {
                        conflicts: change.conflicts,
                        ..EnsureOutcome::default()
                    });
                }
                let table = extended(&existing, wanted, &change);
                let version_id = stored.version_id.clone().unwrap_or_default();
                let input = table_input(&table, Some(&stored))?;
                match catalog.update_table(input, &version_id, false).await {
                    Ok(()) => {
                        return Ok(EnsureOutcome {
                            created: false,
                            added: change.add,
                            conflicts: change.conflicts,
                        })
                    }
                    Err(e @ GlueError::Conflict { .. }) => e,
                    Err(e) => return Err(e.into()),
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
pub async fn ensure_table_logged<C: GlueTables>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::table_definition;
    use crate::Config;
    use aws_sdk_glue::types::{Column, StorageDescriptor};
    use trickle_glue::MemoryGlueTables;
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

    /// A Glue holding `def` (version 1).
    fn glue_with(def: &TableDef) -> MemoryGlueTables {
        let g = MemoryGlueTables::new();
        g.insert(&table_input(def, None).unwrap());
        g
    }

    /// The table as stored, and its version.
    fn stored(g: &MemoryGlueTables) -> (TableDef, String) {
        let t = g.table("t").unwrap();
        (table_def(&t), t.version_id.unwrap())
    }

    /// Another writer's change to the table's columns.
    fn add_column(t: &mut Table, name: &str, ty: &str) {
        let sd = t
            .storage_descriptor
            .get_or_insert_with(|| StorageDescriptor::builder().build());
        sd.columns
            .get_or_insert_with(Vec::new)
            .push(Column::builder().name(name).r#type(ty).build().unwrap());
    }

    #[tokio::test]
    async fn creates_a_missing_table_and_then_leaves_it() {
        let g = MemoryGlueTables::new();
        let w = wanted("a int");
        let out = ensure_table(&g, &w).await.unwrap();
        assert!(out.created);
        assert_eq!(stored(&g).0, w);
        let out = ensure_table(&g, &w).await.unwrap();
        assert_eq!(out, EnsureOutcome::default());
        assert_eq!(g.calls(), ["GetTable", "CreateTable", "GetTable"]);
    }

    #[tokio::test]
    async fn appends_gained_columns_with_the_version_read() {
        let mut old = wanted("a int, gone string");
        old.parameters.insert("owner.note".into(), "kept".into());
        old.serde_parameters.insert("custom".into(), "kept".into());
        let g = glue_with(&old);
        g.change("t", |t| t.description = Some("by hand".into()));
        let out = ensure_table(&g, &wanted("a bigint, b string"))
            .await
            .unwrap();
        assert!(!out.created);
        assert_eq!(out.added, [ColumnDef::new("b", "string")]);
        assert_eq!(out.conflicts.len(), 1);
        assert_eq!(out.conflicts[0].column, "a");
        let (t, version) = stored(&g);
        assert_eq!(version, "3");
        assert_eq!(names(&t), ["a", "gone", "_extra", "b"]);
        assert_eq!(t.columns[0], ColumnDef::new("a", "int"));
        assert_eq!(t.parameters["owner.note"], "kept");
        assert_eq!(t.serde_parameters["custom"], "kept");
        assert_eq!(t.parameters["trickle.schema"], "a bigint, b string");
        // Glue replaced the whole table: what TableDef does not hold came from the read.
        assert_eq!(
            g.table("t").unwrap().description.as_deref(),
            Some("by hand")
        );
        assert_eq!(g.calls(), ["GetTable", "UpdateTable"]);
    }

    #[tokio::test]
    async fn a_conflict_alone_changes_nothing() {
        let g = glue_with(&wanted("a int"));
        let out = ensure_table(&g, &wanted("a string")).await.unwrap();
        assert_eq!(out.added, []);
        assert_eq!(out.conflicts.len(), 1);
        assert_eq!(stored(&g).1, "1");
        assert!(!g.calls().contains(&"UpdateTable"));
    }

    #[tokio::test]
    async fn a_stale_version_is_read_again_and_the_other_writers_columns_stay() {
        let g = glue_with(&wanted("a int"));
        g.race_next_write(|t| add_column(t, "theirs", "date"));
        let out = ensure_table(&g, &wanted("a int, b string")).await.unwrap();
        assert_eq!(out.added, [ColumnDef::new("b", "string")]);
        let (t, version) = stored(&g);
        assert_eq!(names(&t), ["a", "_extra", "theirs", "b"]);
        assert_eq!(version, "3");
        assert_eq!(
            g.calls(),
            ["GetTable", "UpdateTable", "GetTable", "UpdateTable"]
        );
    }

    #[tokio::test]
    async fn a_column_another_writer_added_first_is_not_added_twice() {
        let g = glue_with(&wanted("a int"));
        g.race_next_write(|t| add_column(t, "b", "string"));
        let out = ensure_table(&g, &wanted("a int, b string")).await.unwrap();
        assert_eq!(out.added, []);
        assert_eq!(names(&stored(&g).0), ["a", "_extra", "b"]);
    }

    #[tokio::test]
    async fn a_create_race_is_lost_gracefully() {
        let g = MemoryGlueTables::new();
        let w = wanted("a int, b string");
        let mut theirs = wanted("a int");
        theirs.parameters.insert("by".into(), "them".into());
        let theirs =
            trickle_glue::table::memory::stored_table(&table_input(&theirs, None).unwrap(), 0);
        g.race_next_write(move |t| *t = theirs);
        let out = ensure_table(&g, &w).await.unwrap();
        assert!(!out.created);
        assert_eq!(out.added, [ColumnDef::new("b", "string")]);
        let t = stored(&g).0;
        assert_eq!(names(&t), ["a", "_extra", "b"]);
        assert_eq!(t.parameters["by"], "them");
    }

    #[tokio::test]
    async fn gives_up_after_bounded_attempts_when_the_table_keeps_changing() {
        let g = glue_with(&wanted("a int"));
        for i in 0..CATALOG_ATTEMPTS {
            g.race_next_write(move |t| add_column(t, &format!("x{i}"), "int"));
        }
        let err = ensure_table(&g, &wanted("a int, b string"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            CatalogError::KeptChanging {
                table: "t".into(),
                attempts: CATALOG_ATTEMPTS
            }
        );
        assert!(!names(&stored(&g).0).contains(&"b"));
    }

    #[tokio::test]
    async fn a_failed_call_is_an_error() {
        let g = MemoryGlueTables::new();
        g.fail_all(true);
        let err = ensure_table(&g, &wanted("a int")).await.unwrap_err();
        assert!(
            matches!(
                err,
                CatalogError::Glue(GlueError::Unknown {
                    operation: "GetTable",
                    ..
                })
            ),
            "{err}"
        );
        let report = ensure_table_logged(&g, "db", &wanted("a int"), CATALOG_TIMEOUT).await;
        assert!(report.failed);
    }

    #[tokio::test]
    async fn a_glue_that_does_not_answer_is_a_timed_out_failure() {
        let g = MemoryGlueTables::new();
        g.stall(true);
        let report =
            ensure_table_logged(&g, "db", &wanted("a int"), Duration::from_millis(20)).await;
        assert_eq!(
            report,
            CatalogReport {
                failed: true,
                ..CatalogReport::default()
            }
        );
    }
}

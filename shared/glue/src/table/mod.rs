//! The boundary: one Glue database's tables, as trickle's writers use them.
//!
//! Glue semantics relied on:
//! - `GetTable` answers `EntityNotFoundException` for a missing table (or database) and
//!   gives the table's `VersionId`.
//! - `UpdateTable` replaces the whole table with its `TableInput`: whatever the input leaves
//!   out is gone. So an update starts from the table as read (`crate::input::table_input`)
//!   and changes only what the writer owns. With `VersionId`, Glue answers
//!   `ConcurrentModificationException` when the table changed since that version (moto
//!   ignores `VersionId`; the in-memory fake checks it).
//! - `CreateTable` answers `AlreadyExistsException` when another writer made it first.
//!
//! Every call is bounded by `CALL_TIMEOUT` (the SDK's own retries included): the SDK has no
//! overall timeout by default, and a Glue that never answers would otherwise hold the
//! invocation until Lambda's timeout.

pub mod memory;
pub mod sdk;

use aws_sdk_glue::types::{Table, TableInput};
use std::future::Future;
use std::time::Duration;

/// How long one Glue call (with the SDK's retries) may take. Glue answers in well under a
/// second; 10 s leaves room for the SDK's three attempts with backoff, and is short next to
/// the functions' timeouts (a stuck call must leave time to report the batch for retry).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A Glue call that did not succeed. `may_have_been_applied` says which ones must be settled
/// by reading the table again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlueError {
    /// `ConcurrentModificationException`: not applied, the table moved on since it was read.
    #[error("Glue {operation} of table {table}: the table changed since it was read (ConcurrentModificationException)")]
    Conflict {
        operation: &'static str,
        table: String,
    },
    /// `AlreadyExistsException`: not applied, another writer made the table first.
    #[error("Glue table {table} already exists")]
    AlreadyExists { table: String },
    /// `EntityNotFoundException` on a write: not applied (no such table or database).
    #[error("Glue {operation} of table {table}: no such table or database")]
    NotFound {
        operation: &'static str,
        table: String,
    },
    /// Any other refusal (a 4xx answer, or a request that could not be built): not applied.
    #[error("Glue refused {operation} of table {table} ({code}): {message}")]
    Refused {
        operation: &'static str,
        table: String,
        code: String,
        message: String,
    },
    /// A 5xx, throttling after the SDK's retries, a timeout or a lost connection: the request
    /// may have been applied.
    #[error(
        "Glue {operation} of table {table}: outcome unknown, it may have been applied: {message}"
    )]
    Unknown {
        operation: &'static str,
        table: String,
        message: String,
    },
}

impl GlueError {
    /// Whether the request may have changed the table (only `Unknown`).
    pub fn may_have_been_applied(&self) -> bool {
        matches!(self, Self::Unknown { .. })
    }
}

/// The tables of one Glue database.
pub trait GlueTables: Send + Sync {
    /// GetTable: the table as Glue holds it, with its `VersionId`; `None` when there is no
    /// such table.
    fn get_table(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<Table>, GlueError>> + Send;

    /// CreateTable (`AlreadyExists` when it exists).
    fn create_table(&self, input: TableInput)
        -> impl Future<Output = Result<(), GlueError>> + Send;

    /// UpdateTable: replaces the whole table named by `input` with `input`, only if the table
    /// is still at `version_id` (`Conflict` otherwise). Build `input` from the table as read
    /// (`crate::table_input`) so that what the caller does not own is kept. `skip_archive`:
    /// Glue keeps no copy of the version replaced (for frequent commits).
    fn update_table(
        &self,
        input: TableInput,
        version_id: &str,
        skip_archive: bool,
    ) -> impl Future<Output = Result<(), GlueError>> + Send;
}

//! `trickle-glue`: the Glue Data Catalog's tables, written once for every trickle function
//! that keeps a table there (batch-to-s3's table over its objects, batch-to-iceberg's
//! Iceberg pointer).
//!
//! - `table`: the boundary (`GlueTables`: GetTable with its `VersionId`, CreateTable, and
//!   UpdateTable only if the table is still at a version), its error (`GlueError`) and the
//!   per-call timeout (`CALL_TIMEOUT`);
//!   - `table::sdk`: the implementation on `aws_sdk_glue::Client`;
//!   - `table::memory`: an in-memory Glue for tests, which replaces the whole table on
//!     update as Glue does, checks `VersionId`, and injects faults.
//! - `input`: the `TableInput` that carries over everything a table read by GetTable holds,
//!   the start of every update (UpdateTable keeps nothing that its input leaves out).
//! - `outcome`: whether a failed AWS SDK call may have been applied, from its HTTP status
//!   (shared with S3 Tables' pointer, whose SDK has the same error types).

pub mod input;
pub mod outcome;
pub mod table;

pub use input::table_input;
pub use outcome::{classify, SdkOutcome};
pub use table::memory::{Fault, MemoryGlueTables};
pub use table::sdk::SdkGlueTables;
pub use table::{GlueError, GlueTables, CALL_TIMEOUT};

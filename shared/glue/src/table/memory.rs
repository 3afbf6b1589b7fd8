//! An in-memory Glue database for tests. It behaves as Glue does where trickle relies on it:
//! `UpdateTable` replaces the whole table with its input (what the input leaves out is
//! gone) and refuses a stale `VersionId`; `CreateTable` refuses an existing table. It can be
//! told to lose an answer after applying a write, to fail, to hang, or to let another writer
//! change the table first.

use super::{GlueError, GlueTables};
use aws_sdk_glue::types::{Table, TableInput};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

/// What happens to the next write (CreateTable or UpdateTable), in the order injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Applies it, then answers as a lost response would (`Unknown`).
    LoseAnswer,
    /// Answers `Unknown` without applying it (a 5xx, a timeout).
    Unknown,
    /// Another writer won the race: answers `Conflict` without applying it.
    Conflict,
    /// Glue refuses it (a 4xx): answers `Refused` without applying it.
    Refuse,
}

type Change = Box<dyn FnOnce(&mut Table) + Send>;

/// A fake database: tables by name, each with a numeric `VersionId`.
#[derive(Default)]
pub struct MemoryGlueTables {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    tables: BTreeMap<String, Table>,
    faults: VecDeque<Fault>,
    races: VecDeque<Change>,
    calls: Vec<&'static str>,
    fail_all: bool,
    stall: bool,
}

impl std::fmt::Debug for MemoryGlueTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryGlueTables")
            .field("tables", &self.lock().tables)
            .finish_non_exhaustive()
    }
}

/// The table Glue stores for `input` at `version`: exactly the input's fields, nothing kept
/// from before (a view definition is not kept: trickle's writers write no views).
pub fn stored_table(input: &TableInput, version: u64) -> Table {
    let mut t = Table::builder()
        .name(&input.name)
        .version_id(version.to_string())
        .build()
        .unwrap_or_else(|_| unreachable!("a Table with a name always builds"));
    crate::input::copy_common_fields!(t, input);
    t
}

fn version_of(t: &Table) -> u64 {
    t.version_id
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl MemoryGlueTables {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `input` as another engine's CreateTable would (version 1).
    pub fn insert(&self, input: &TableInput) {
        self.lock()
            .tables
            .insert(input.name.clone(), stored_table(input, 1));
    }

    /// A table as stored, with its `VersionId`.
    pub fn table(&self, name: &str) -> Option<Table> {
        self.lock().tables.get(name).cloned()
    }

    /// Another writer changes the table now (its version moves on).
    pub fn change(&self, name: &str, change: impl FnOnce(&mut Table)) {
        let mut s = self.lock();
        if let Some(t) = s.tables.get_mut(name) {
            change(t);
            t.version_id = Some((version_of(t) + 1).to_string());
        }
    }

    /// Queues a fault for the next writes, in order.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    /// Before the next write is handled, another writer commits `change` (creating the table,
    /// named as the write's, when it is missing), so that write's view is stale.
    pub fn race_next_write(&self, change: impl FnOnce(&mut Table) + Send + 'static) {
        self.lock().races.push_back(Box::new(change));
    }

    /// Every call answers `Unknown` (as after the SDK's retries of 5xx) while set.
    pub fn fail_all(&self, fail: bool) {
        self.lock().fail_all = fail;
    }

    /// Every call hangs (Glue does not answer) while set.
    pub fn stall(&self, stall: bool) {
        self.lock().stall = stall;
    }

    /// Every call so far, by operation name, in order.
    pub fn calls(&self) -> Vec<&'static str> {
        self.lock().calls.clone()
    }

    /// Write calls so far (CreateTable and UpdateTable, applied or not).
    pub fn writes(&self) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|c| **c != "GetTable")
            .count()
    }

    /// Records the call; hangs or fails it as told.
    async fn enter(&self, operation: &'static str, table: &str) -> Result<(), GlueError> {
        let (stall, fail) = {
            let mut s = self.lock();
            s.calls.push(operation);
            (s.stall, s.fail_all)
        };
        if stall {
            std::future::pending::<()>().await;
        }
        if fail {
            return Err(GlueError::Unknown {
                operation,
                table: table.to_owned(),
                message: "injected: InternalServiceException".into(),
            });
        }
        Ok(())
    }

    /// For a write: applies a pending race, then takes the next fault. `Err` when the fault
    /// answers before anything is applied.
    fn write_fault(
        &self,
        s: &mut State,
        operation: &'static str,
        table: &str,
    ) -> Result<Option<Fault>, GlueError> {
        if let Some(change) = s.races.pop_front() {
            let t = s.tables.entry(table.to_owned()).or_insert_with(|| {
                Table::builder()
                    .name(table)
                    .version_id("0")
                    .build()
                    .unwrap_or_else(|_| unreachable!("a Table with a name always builds"))
            });
            change(t);
            t.version_id = Some((version_of(t) + 1).to_string());
        }
        let table = table.to_owned();
        match s.faults.pop_front() {
            Some(Fault::Unknown) => Err(GlueError::Unknown {
                operation,
                table,
                message: "injected: no answer".into(),
            }),
            Some(Fault::Conflict) => Err(GlueError::Conflict { operation, table }),
            Some(Fault::Refuse) => Err(GlueError::Refused {
                operation,
                table,
                code: "InvalidInputException".into(),
                message: "injected refusal".into(),
            }),
            other => Ok(other),
        }
    }
}

/// The answer to an applied write: `Unknown` if its answer is to be lost.
fn answer(fault: Option<Fault>, operation: &'static str, table: &str) -> Result<(), GlueError> {
    match fault {
        Some(Fault::LoseAnswer) => Err(GlueError::Unknown {
            operation,
            table: table.to_owned(),
            message: "injected: answer lost".into(),
        }),
        _ => Ok(()),
    }
}

impl GlueTables for MemoryGlueTables {
    async fn get_table(&self, name: &str) -> Result<Option<Table>, GlueError> {
        self.enter("GetTable", name).await?;
        Ok(self.table(name))
    }

    async fn create_table(&self, input: TableInput) -> Result<(), GlueError> {
        const OP: &str = "CreateTable";
        self.enter(OP, &input.name).await?;
        let mut s = self.lock();
        let fault = self.write_fault(&mut s, OP, &input.name)?;
        if s.tables.contains_key(&input.name) {
            return Err(GlueError::AlreadyExists { table: input.name });
        }
        s.tables.insert(input.name.clone(), stored_table(&input, 1));
        answer(fault, OP, &input.name)
    }

    async fn update_table(
        &self,
        input: TableInput,
        version_id: &str,
        _skip_archive: bool,
    ) -> Result<(), GlueError> {
        const OP: &str = "UpdateTable";
        self.enter(OP, &input.name).await?;
        let mut s = self.lock();
        let fault = self.write_fault(&mut s, OP, &input.name)?;
        let Some(stored) = s.tables.get_mut(&input.name) else {
            return Err(GlueError::NotFound {
                operation: OP,
                table: input.name,
            });
        };
        if stored.version_id.as_deref() != Some(version_id) {
            return Err(GlueError::Conflict {
                operation: OP,
                table: input.name,
            });
        }
        // Glue replaces the whole table: nothing of the stored one survives but its version.
        *stored = stored_table(&input, version_of(stored) + 1);
        answer(fault, OP, &input.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table_input;
    use aws_sdk_glue::types::StorageDescriptor;

    fn input(name: &str) -> TableInput {
        TableInput::builder()
            .name(name)
            .description("described")
            .owner("them")
            .parameters("theirs", "1")
            .storage_descriptor(StorageDescriptor::builder().location("s3://b/t").build())
            .build()
            .unwrap()
    }

    fn bare(name: &str) -> TableInput {
        TableInput::builder()
            .name(name)
            .parameters("mine", "2")
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn an_update_replaces_the_whole_table_as_glue_does() {
        let g = MemoryGlueTables::new();
        g.insert(&input("t"));
        g.update_table(bare("t"), "1", false).await.unwrap();
        let t = g.get_table("t").await.unwrap().unwrap();
        assert_eq!(t.version_id.as_deref(), Some("2"));
        assert_eq!(t.description, None);
        assert_eq!(t.owner, None);
        assert_eq!(t.storage_descriptor, None);
        assert_eq!(
            t.parameters.unwrap(),
            std::collections::HashMap::from([("mine".to_owned(), "2".to_owned())])
        );
    }

    #[tokio::test]
    async fn an_update_from_the_table_as_read_keeps_everything_else() {
        let g = MemoryGlueTables::new();
        g.insert(&input("t"));
        let read = g.get_table("t").await.unwrap().unwrap();
        let mut update = table_input(&read);
        update
            .parameters
            .get_or_insert_with(Default::default)
            .insert("mine".into(), "2".into());
        g.update_table(update, read.version_id.as_deref().unwrap(), true)
            .await
            .unwrap();
        let t = g.table("t").unwrap();
        assert_eq!(t.description.as_deref(), Some("described"));
        assert_eq!(t.owner.as_deref(), Some("them"));
        assert_eq!(t.storage_descriptor, read.storage_descriptor);
        let p = t.parameters.unwrap();
        assert_eq!((p["theirs"].as_str(), p["mine"].as_str()), ("1", "2"));
    }

    #[tokio::test]
    async fn a_stale_version_is_a_conflict_and_changes_nothing() {
        let g = MemoryGlueTables::new();
        g.insert(&input("t"));
        g.change("t", |t| t.owner = Some("another".into()));
        let err = g.update_table(bare("t"), "1", false).await.unwrap_err();
        assert!(matches!(err, GlueError::Conflict { .. }), "{err}");
        assert!(!err.may_have_been_applied());
        let t = g.table("t").unwrap();
        assert_eq!(t.version_id.as_deref(), Some("2"));
        assert_eq!(t.owner.as_deref(), Some("another"));
    }

    #[tokio::test]
    async fn a_race_before_the_write_makes_it_stale() {
        let g = MemoryGlueTables::new();
        g.insert(&input("t"));
        g.race_next_write(|t| t.description = Some("theirs".into()));
        let err = g.update_table(bare("t"), "1", false).await.unwrap_err();
        assert!(matches!(err, GlueError::Conflict { .. }), "{err}");
        assert_eq!(g.table("t").unwrap().description.as_deref(), Some("theirs"));
        // A race on a missing table creates it: the create then finds it.
        g.race_next_write(|_| {});
        let err = g.create_table(input("u")).await.unwrap_err();
        assert_eq!(err, GlueError::AlreadyExists { table: "u".into() });
    }

    #[tokio::test]
    async fn updating_a_missing_table_is_not_found() {
        let g = MemoryGlueTables::new();
        let err = g.update_table(bare("t"), "1", false).await.unwrap_err();
        assert!(matches!(err, GlueError::NotFound { .. }), "{err}");
        assert_eq!(g.get_table("t").await.unwrap(), None);
    }

    #[tokio::test]
    async fn injected_faults_apply_or_not_as_named() {
        let g = MemoryGlueTables::new();
        g.insert(&input("t"));
        g.inject(Fault::LoseAnswer);
        let err = g.update_table(bare("t"), "1", false).await.unwrap_err();
        assert!(err.may_have_been_applied());
        assert_eq!(g.table("t").unwrap().version_id.as_deref(), Some("2"));

        for (fault, applied_maybe) in [
            (Fault::Unknown, true),
            (Fault::Conflict, false),
            (Fault::Refuse, false),
        ] {
            g.inject(fault);
            let err = g.update_table(bare("t"), "2", false).await.unwrap_err();
            assert_eq!(err.may_have_been_applied(), applied_maybe, "{fault:?}");
            assert_eq!(g.table("t").unwrap().version_id.as_deref(), Some("2"));
        }
        g.update_table(bare("t"), "2", false).await.unwrap();
        assert_eq!(g.writes(), 5);
        assert_eq!(g.calls().len(), 5);
    }

    #[tokio::test]
    async fn a_failing_glue_fails_every_call_with_an_unknown_outcome() {
        let g = MemoryGlueTables::new();
        g.fail_all(true);
        let err = g.get_table("t").await.unwrap_err();
        assert!(err.may_have_been_applied());
        let err = g.create_table(input("t")).await.unwrap_err();
        assert!(err.may_have_been_applied());
        g.fail_all(false);
        g.create_table(input("t")).await.unwrap();
        assert_eq!(g.table("t").unwrap().version_id.as_deref(), Some("1"));
    }
}

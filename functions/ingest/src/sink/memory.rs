//! An in-memory stream for tests: records what was written, and can be told to throttle
//! or fail calls and entries.

use super::*;
use std::collections::VecDeque;
use std::sync::Mutex;

/// What the next call should do.
#[derive(Debug, Clone)]
pub enum Script {
    /// The whole call answers this error.
    CallFails(SinkError),
    /// These entry positions of the call fail with this per-entry code.
    EntriesFail(Vec<usize>, &'static str),
}

/// A fake single-shard stream.
#[derive(Debug, Default)]
pub struct MemorySink {
    pub written: Mutex<Vec<Entry>>,
    pub calls: Mutex<Vec<usize>>,
    script: Mutex<VecDeque<Script>>,
    /// When set, every call fails with this error.
    pub always: Mutex<Option<Script>>,
}

impl MemorySink {
    pub fn new() -> Self {
        Self::default()
    }
    /// Queues what the next calls do; calls beyond the script succeed.
    pub fn script(&self, steps: impl IntoIterator<Item = Script>) {
        self.script.lock().unwrap().extend(steps);
    }
    pub fn written_data(&self) -> Vec<Vec<u8>> {
        self.written
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.data.to_vec())
            .collect()
    }
    fn next_step(&self) -> Option<Script> {
        self.always
            .lock()
            .unwrap()
            .clone()
            .or_else(|| self.script.lock().unwrap().pop_front())
    }
    fn write(&self, entries: &[&Entry]) -> Result<Vec<EntryOutcome>, SinkError> {
        self.calls.lock().unwrap().push(entries.len());
        let failing = match self.next_step() {
            Some(Script::CallFails(e)) => return Err(e),
            Some(Script::EntriesFail(positions, code)) => Some((positions, code)),
            None => None,
        };
        let mut written = self.written.lock().unwrap();
        Ok(entries
            .iter()
            .enumerate()
            .map(|(i, e)| match &failing {
                Some((positions, code)) if positions.contains(&i) => EntryOutcome::Failed {
                    error_code: (*code).to_owned(),
                    error_message: "injected".into(),
                },
                _ => {
                    written.push((*e).clone());
                    EntryOutcome::Written {
                        shard_id: "shardId-000000000000".into(),
                        sequence_number: written.len().to_string(),
                    }
                }
            })
            .collect())
    }
}

impl RecordSink for MemorySink {
    async fn put_record(&self, entry: &Entry) -> Result<EntryOutcome, SinkError> {
        let mut out = self.write(&[entry])?;
        match out.pop() {
            Some(EntryOutcome::Failed { error_code, .. }) => {
                Err(SinkError::Throttled { code: error_code })
            }
            Some(ok) => Ok(ok),
            None => unreachable!("one entry in, one outcome out"),
        }
    }
    async fn put_records(&self, entries: &[&Entry]) -> Result<Vec<EntryOutcome>, SinkError> {
        self.write(entries)
    }
}

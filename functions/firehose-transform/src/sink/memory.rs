//! An in-memory source for tests: records what was put, and can be told to fail calls or
//! entries.

use super::*;
use std::collections::VecDeque;
use std::sync::Mutex;

/// What the next call does.
#[derive(Debug, Clone)]
pub enum Script {
    /// The whole call fails.
    CallFails,
    /// These entry positions of the call fail.
    EntriesFail(Vec<usize>),
}

/// A fake source.
#[derive(Debug, Default)]
pub struct MemoryReingestSink {
    /// Every written entry with its target, in order.
    pub written: Mutex<Vec<(ReingestTarget, ReingestEntry)>>,
    /// The number of entries in each call.
    pub calls: Mutex<Vec<usize>>,
    script: Mutex<VecDeque<Script>>,
    /// When set, every call does this.
    pub always: Mutex<Option<Script>>,
}

impl MemoryReingestSink {
    pub fn new() -> Self {
        Self::default()
    }
    /// Queues what the next calls do; calls beyond the script succeed.
    pub fn script(&self, steps: impl IntoIterator<Item = Script>) {
        self.script.lock().unwrap().extend(steps);
    }
    /// The written entries.
    pub fn written_entries(&self) -> Vec<ReingestEntry> {
        self.written
            .lock()
            .unwrap()
            .iter()
            .map(|(_, e)| e.clone())
            .collect()
    }
}

impl ReingestSink for MemoryReingestSink {
    async fn put_batch(
        &self,
        target: &ReingestTarget,
        entries: &[&ReingestEntry],
    ) -> Result<Vec<EntryResult>, SinkError> {
        self.calls.lock().unwrap().push(entries.len());
        assert!(
            entries.len() <= target.max_entries(),
            "too many entries in one call"
        );
        let step = self
            .always
            .lock()
            .unwrap()
            .clone()
            .or_else(|| self.script.lock().unwrap().pop_front());
        let failing = match step {
            Some(Script::CallFails) => {
                return Err(SinkError {
                    code: "ServiceUnavailable".into(),
                    message: "injected".into(),
                })
            }
            Some(Script::EntriesFail(p)) => p,
            None => Vec::new(),
        };
        let mut written = self.written.lock().unwrap();
        Ok(entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                if failing.contains(&i) {
                    Err("ProvisionedThroughputExceededException".to_owned())
                } else if matches!(target, ReingestTarget::KinesisStream { .. })
                    && e.partition_key.is_none()
                {
                    Err("MissingPartitionKey".to_owned())
                } else {
                    written.push((target.clone(), (*e).clone()));
                    Ok(())
                }
            })
            .collect())
    }
}

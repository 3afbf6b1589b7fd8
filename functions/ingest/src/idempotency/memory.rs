//! The request memory in memory, for tests: the same rule (`decide`) and the same
//! conditions as the DynamoDB one, under one lock. Like DynamoDB, it keeps expired items
//! until something deletes them: `decide` reads them as absent.

use super::{decide, new_item, Claim, Decision, Item, MemoryError, Recorded, RequestMemory};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

#[derive(Debug, Default)]
pub struct MemoryRequests {
    items: Mutex<HashMap<String, Item>>,
    /// When set, every call fails (the memory is unreachable).
    unavailable: Mutex<bool>,
}

impl MemoryRequests {
    pub fn new() -> Self {
        Self::default()
    }

    /// The item held for `id` (tests look at it).
    pub fn item(&self, id: &str) -> Option<Item> {
        self.items.lock().expect("lock").get(id).cloned()
    }

    pub fn len(&self) -> usize {
        self.items.lock().expect("lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn set_unavailable(&self, unavailable: bool) {
        *self.unavailable.lock().expect("lock") = unavailable;
    }

    fn check(&self) -> Result<(), MemoryError> {
        if *self.unavailable.lock().expect("lock") {
            Err(MemoryError("unreachable (injected)".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl RequestMemory for MemoryRequests {
    async fn claim(
        &self,
        id: &str,
        digest: &str,
        entries: usize,
        now: SystemTime,
    ) -> Result<Claim, MemoryError> {
        self.check()?;
        let mut items = self.items.lock().expect("lock");
        match decide(items.get(id), digest, now) {
            Decision::Answer(claim) => Ok(claim),
            Decision::Create => {
                let item = new_item(digest, entries, now);
                let version = item.version;
                items.insert(id.to_owned(), item);
                Ok(Claim::New { version })
            }
            Decision::TakeOver { version } => {
                let item = items.get_mut(id).expect("decided on it");
                let fresh = new_item(digest, entries, now);
                item.version = version + 1;
                item.state = fresh.state;
                item.lease_until_ms = fresh.lease_until_ms;
                item.expires_at_s = fresh.expires_at_s;
                Ok(Claim::Resume {
                    version: item.version,
                    put: item.put.clone(),
                    outcomes: item.outcomes.clone(),
                })
            }
        }
    }

    async fn record(
        &self,
        id: &str,
        version: u64,
        recorded: Recorded,
        now: SystemTime,
    ) -> Result<bool, MemoryError> {
        self.check()?;
        let mut items = self.items.lock().expect("lock");
        let Some(item) = items.get_mut(id).filter(|i| i.version == version) else {
            return Ok(false);
        };
        item.state = recorded.state;
        item.put = recorded.put;
        item.outcomes = recorded.outcomes;
        item.answer = recorded.answer;
        item.lease_until_ms = 0;
        item.expires_at_s = super::expires_at(now);
        Ok(true)
    }
}

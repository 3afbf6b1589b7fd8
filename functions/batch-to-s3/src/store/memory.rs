//! An in-memory bucket for tests: honours the conditions as S3 does, and can be told to
//! fail calls.

use super::*;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A stored object with everything the PUT carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryObject {
    pub body: Vec<u8>,
    pub etag: String,
    pub content_type: String,
    pub content_encoding: Option<String>,
    pub metadata: Vec<(String, String)>,
}

type KeyPredicate = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// A fake bucket.
#[derive(Default)]
pub struct MemoryStore {
    pub objects: Mutex<BTreeMap<String, MemoryObject>>,
    /// Every PUT attempted, by key, in order.
    pub puts: Mutex<Vec<String>>,
    /// Every DELETE attempted, by key, in order.
    pub deletes: Mutex<Vec<String>>,
    versions: Mutex<u64>,
    fail_put: Mutex<Option<KeyPredicate>>,
    hang_put: Mutex<Option<KeyPredicate>>,
    fail_get: Mutex<bool>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// PUTs of keys matching `pred` fail (as after the SDK's retries) until cleared.
    pub fn fail_puts_where(&self, pred: impl Fn(&str) -> bool + Send + Sync + 'static) {
        *lock(&self.fail_put) = Some(Box::new(pred));
    }

    /// PUTs of keys matching `pred` never answer and are not applied (a process killed
    /// while it waits), until cleared.
    pub fn hang_puts_where(&self, pred: impl Fn(&str) -> bool + Send + Sync + 'static) {
        *lock(&self.hang_put) = Some(Box::new(pred));
    }

    /// Every GET fails while set.
    pub fn fail_gets(&self, fail: bool) {
        *lock(&self.fail_get) = fail;
    }

    /// Lets every call succeed again.
    pub fn heal(&self) {
        *lock(&self.fail_put) = None;
        *lock(&self.hang_put) = None;
        *lock(&self.fail_get) = false;
    }

    /// The keys under a prefix, in S3's (byte) order.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        lock(&self.objects)
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// One object.
    pub fn object(&self, key: &str) -> Option<MemoryObject> {
        lock(&self.objects).get(key).cloned()
    }

    fn injected(operation: &'static str, key: &str) -> StoreError {
        StoreError {
            operation,
            key: key.to_owned(),
            code: "InternalError".into(),
            message: "injected failure".into(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ObjectStore for MemoryStore {
    async fn put_object(&self, object: PutObject) -> Result<PutOutcome, StoreError> {
        lock(&self.puts).push(object.key.clone());
        let hang = lock(&self.hang_put)
            .as_ref()
            .is_some_and(|p| p(&object.key));
        if hang {
            std::future::pending::<()>().await;
        }
        if lock(&self.fail_put)
            .as_ref()
            .is_some_and(|p| p(&object.key))
        {
            return Err(Self::injected("PutObject", &object.key));
        }
        let mut objects = lock(&self.objects);
        let current = objects.get(&object.key).map(|o| o.etag.clone());
        let allowed = match (&object.condition, current) {
            (Condition::IfNoneMatch, None) => true,
            (Condition::IfNoneMatch, Some(_)) => false,
            (Condition::IfMatch(want), Some(have)) => *want == have,
            (Condition::IfMatch(_), None) => false,
            (Condition::None, _) => true,
        };
        if !allowed {
            return Ok(PutOutcome::PreconditionFailed);
        }
        let etag = {
            let mut v = lock(&self.versions);
            *v += 1;
            format!("\"{}\"", *v)
        };
        objects.insert(
            object.key,
            MemoryObject {
                body: object.body,
                etag: etag.clone(),
                content_type: object.content_type.to_owned(),
                content_encoding: object.content_encoding.map(str::to_owned),
                metadata: object.metadata,
            },
        );
        Ok(PutOutcome::Created { etag: Some(etag) })
    }

    async fn get_object(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        if *lock(&self.fail_get) {
            return Err(Self::injected("GetObject", key));
        }
        Ok(lock(&self.objects).get(key).map(|o| StoredObject {
            body: o.body.clone(),
            etag: Some(o.etag.clone()),
        }))
    }

    async fn object_metadata(
        &self,
        key: &str,
    ) -> Result<Option<Vec<(String, String)>>, StoreError> {
        if *lock(&self.fail_get) {
            return Err(Self::injected("HeadObject", key));
        }
        Ok(lock(&self.objects).get(key).map(|o| o.metadata.clone()))
    }

    async fn delete_object(&self, key: &str) -> Result<(), StoreError> {
        lock(&self.deletes).push(key.to_owned());
        lock(&self.objects).remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, condition: Condition) -> PutObject {
        PutObject {
            key: key.into(),
            body: b"x".to_vec(),
            content_type: "text/plain",
            content_encoding: None,
            metadata: vec![],
            condition,
        }
    }

    #[tokio::test]
    async fn honours_conditions_like_s3() {
        let s = MemoryStore::new();
        let created = s.put_object(put("k", Condition::IfNoneMatch)).await;
        let Ok(PutOutcome::Created { etag: Some(etag) }) = created else {
            panic!("{created:?}")
        };
        assert_eq!(
            s.put_object(put("k", Condition::IfNoneMatch)).await,
            Ok(PutOutcome::PreconditionFailed)
        );
        assert_eq!(
            s.put_object(put("k", Condition::IfMatch("\"nope\"".into())))
                .await,
            Ok(PutOutcome::PreconditionFailed)
        );
        assert!(matches!(
            s.put_object(put("k", Condition::IfMatch(etag))).await,
            Ok(PutOutcome::Created { .. })
        ));
    }
}

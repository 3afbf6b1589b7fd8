//! A set of futures run concurrently on the caller's task, taken back one at a time as each
//! finishes: a minimal `FuturesUnordered`. The shard readers borrow the pipeline, its
//! settings and the shared Firehose buffers; `tokio::spawn` would need all of them `'static`
//! (an `Arc` around a struct that callers build as a plain value).
//!
//! Every wake polls every future. With one future per shard being read (a handful) that costs
//! nothing next to the network calls they wait on.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// Futures making progress together.
pub struct Concurrent<'a, T> {
    futures: Vec<Pin<Box<dyn Future<Output = T> + Send + 'a>>>,
}

impl<T> Default for Concurrent<'_, T> {
    fn default() -> Self {
        Self {
            futures: Vec::new(),
        }
    }
}

impl<'a, T> Concurrent<'a, T> {
    /// Adds a future; it makes progress whenever `next` is awaited.
    pub fn push(&mut self, future: impl Future<Output = T> + Send + 'a) {
        self.futures.push(Box::pin(future));
    }

    pub fn is_empty(&self) -> bool {
        self.futures.is_empty()
    }

    pub fn len(&self) -> usize {
        self.futures.len()
    }

    /// The output of the next future to finish. Never finishes while the set is empty: guard
    /// it with `is_empty` (e.g. a `select!` precondition). Dropping it (a `select!` branch that
    /// lost) drops none of the futures.
    pub async fn next(&mut self) -> T {
        std::future::poll_fn(|cx| {
            for i in 0..self.futures.len() {
                if let Poll::Ready(out) = self.futures[i].as_mut().poll(cx) {
                    drop(self.futures.swap_remove(i));
                    return Poll::Ready(out);
                }
            }
            Poll::Pending
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn futures_progress_together_and_come_back_as_they_finish() {
        let started = std::time::Instant::now();
        let mut set = Concurrent::default();
        for (name, ms) in [("slow", 400), ("fast", 10), ("middle", 200)] {
            set.push(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                name
            });
        }
        let mut order = Vec::new();
        while !set.is_empty() {
            order.push(set.next().await);
        }
        assert_eq!(order, ["fast", "middle", "slow"]);
        // Together (400 ms), not one after another (610 ms).
        assert!(started.elapsed() < Duration::from_millis(600));
    }

    #[tokio::test]
    async fn a_dropped_next_loses_no_future() {
        let mut set = Concurrent::default();
        set.push(async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            1
        });
        tokio::select! {
            _ = set.next() => panic!("not yet"),
            () = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
        assert_eq!(set.len(), 1);
        assert_eq!(set.next().await, 1);
    }
}

//! Lambda's invocation deadline, read one way by every function.
//!
//! The runtime hands the deadline over as milliseconds since the Unix epoch. A deadline of
//! 0 or one not after the moment the invocation starts is not a real one: a hand-built
//! context has 0, and `cargo lambda watch` sends the function's timeout itself (600000, a
//! moment in 1970). The one rule: such a value means **no deadline known**, and nothing is
//! cut short for time (Lambda still ends the invocation at its timeout; a real deadline is
//! always in the future when the invocation starts).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The invocation's deadline from Lambda's `deadline_ms`, or `None` when it is 0 or not
/// after `now` (no deadline known).
pub fn invocation_deadline(deadline_ms: u64, now: SystemTime) -> Option<SystemTime> {
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_ms);
    (deadline_ms > 0 && deadline > now).then_some(deadline)
}

/// Time left before `deadline` at `now` (zero once it has passed).
pub fn time_left(deadline: SystemTime, now: SystemTime) -> Duration {
    deadline.duration_since(now).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: u64 = 1_764_583_200_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(NOW_MS)
    }

    #[test]
    fn a_deadline_ahead_is_kept() {
        let d = invocation_deadline(NOW_MS + 30_000, now()).unwrap();
        assert_eq!(time_left(d, now()), Duration::from_secs(30));
    }

    #[test]
    fn zero_or_a_deadline_already_past_is_no_deadline() {
        assert_eq!(invocation_deadline(0, now()), None);
        // What `cargo lambda watch` sends: the timeout, not a moment.
        assert_eq!(invocation_deadline(600_000, now()), None);
        assert_eq!(invocation_deadline(NOW_MS, now()), None);
    }

    #[test]
    fn no_time_is_left_after_the_deadline() {
        let d = invocation_deadline(NOW_MS + 1, now()).unwrap();
        assert_eq!(time_left(d, now() + Duration::from_secs(1)), Duration::ZERO);
    }
}

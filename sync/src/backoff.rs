//! When to dial a peer again after a failed attempt: exponential backoff per (group, device),
//! reset by a connection that worked. Sans-IO: the caller passes the time.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// First wait after a failure.
const FIRST: Duration = Duration::from_millis(500);
/// Longest wait.
const MAX: Duration = Duration::from_secs(30);

/// Backoff state for a set of keys.
#[derive(Debug)]
pub struct Backoff<K> {
    waits: HashMap<K, (Instant, Duration)>,
}

impl<K: Hash + Eq + Clone> Default for Backoff<K> {
    fn default() -> Self {
        Backoff {
            waits: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq + Clone> Backoff<K> {
    /// May `key` be tried at `now`?
    pub fn ready(&self, key: &K, now: Instant) -> bool {
        self.waits.get(key).is_none_or(|(at, _)| now >= *at)
    }

    /// An attempt failed at `now`: wait twice as long as last time (up to a cap).
    pub fn failed(&mut self, key: K, now: Instant) {
        let wait = self
            .waits
            .get(&key)
            .map(|(_, last)| (*last * 2).min(MAX))
            .unwrap_or(FIRST);
        self.waits.insert(key, (now + wait, wait));
    }

    /// A connection worked: the next failure starts from the shortest wait again.
    pub fn succeeded(&mut self, key: &K) {
        self.waits.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_reset_on_success() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        assert!(b.ready(&1, t0));
        b.failed(1, t0);
        assert!(!b.ready(&1, t0));
        assert!(b.ready(&1, t0 + FIRST));
        b.failed(1, t0);
        assert!(!b.ready(&1, t0 + FIRST));
        assert!(b.ready(&1, t0 + FIRST * 2));
        for _ in 0..20 {
            b.failed(1, t0);
        }
        assert!(b.ready(&1, t0 + MAX));
        b.succeeded(&1);
        assert!(b.ready(&1, t0));
        assert!(b.ready(&2, t0), "other keys are independent");
    }
}

//! Sliding-window counters: how many events a key had in the last `window` seconds.
//!
//! Each key keeps at most `threshold` timestamps (older ones fall out as time passes), so a key
//! costs a bounded amount of memory, and the table as a whole is capped: past
//! [`Windows::MAX_KEYS`] keys, keys whose events have all aged out are swept first, and if that
//! is not enough the oldest keys go. An attacker who makes up a new key per request fills the
//! table; he cannot grow it.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// Counters for one detector, keyed by principal.
#[derive(Debug)]
pub struct Windows<K: Hash + Eq + Clone> {
    window: i64,
    threshold: usize,
    keys: HashMap<K, VecDeque<i64>>,
}

/// What one more event did to its key's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Below(u32),
    /// This event made the count reach the threshold: act now (once per window).
    Crossed,
    /// The count was at the threshold already; the response stands.
    Above,
}

impl<K: Hash + Eq + Clone> Windows<K> {
    pub const MAX_KEYS: usize = 100_000;

    pub fn new(window_seconds: i64, threshold: u32) -> Self {
        Self {
            window: window_seconds.max(1),
            threshold: usize::try_from(threshold.max(1)).unwrap_or(usize::MAX),
            keys: HashMap::new(),
        }
    }

    /// Counts one event of `key` at `now`.
    pub fn add(&mut self, key: &K, now: i64) -> Count {
        if !self.keys.contains_key(key) && self.keys.len() >= Self::MAX_KEYS {
            self.sweep(now);
        }
        let window = self.window;
        let threshold = self.threshold;
        let times = self.keys.entry(key.clone()).or_default();
        while times.front().is_some_and(|t| now - *t >= window) {
            times.pop_front();
        }
        if times.len() >= threshold {
            // Keep the newest timestamps: the window slides on while the attack lasts.
            times.pop_front();
            times.push_back(now);
            return Count::Above;
        }
        times.push_back(now);
        if times.len() == threshold {
            Count::Crossed
        } else {
            Count::Below(u32::try_from(times.len()).unwrap_or(u32::MAX))
        }
    }

    /// Events of `key` within the window ending at `now`.
    pub fn count(&self, key: &K, now: i64) -> u32 {
        self.keys.get(key).map_or(0, |times| {
            let n = times.iter().filter(|t| now - **t < self.window).count();
            u32::try_from(n).unwrap_or(u32::MAX)
        })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Drops keys with no event in the window; if the table is still full, the keys whose
    /// newest event is oldest, down to three quarters of the cap.
    pub fn sweep(&mut self, now: i64) {
        let window = self.window;
        self.keys
            .retain(|_, times| times.back().is_some_and(|t| now - *t < window));
        if self.keys.len() >= Self::MAX_KEYS {
            let mut newest: Vec<(i64, K)> = self
                .keys
                .iter()
                .map(|(k, times)| (times.back().copied().unwrap_or(i64::MIN), k.clone()))
                .collect();
            newest.sort_unstable_by_key(|(t, _)| *t);
            let excess = self.keys.len() - Self::MAX_KEYS * 3 / 4;
            for (_, k) in newest.into_iter().take(excess) {
                self.keys.remove(&k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crosses_once_per_window_and_slides() {
        let mut w: Windows<u8> = Windows::new(60, 3);
        assert_eq!(w.add(&1, 0), Count::Below(1));
        assert_eq!(w.add(&1, 10), Count::Below(2));
        assert_eq!(w.add(&1, 20), Count::Crossed);
        assert_eq!(w.add(&1, 30), Count::Above);
        assert_eq!(w.count(&1, 30), 3);
        // Another key is counted apart.
        assert_eq!(w.add(&2, 30), Count::Below(1));
        // Long after, the window is empty again.
        assert_eq!(w.add(&1, 1_000), Count::Below(1));
        assert_eq!(w.count(&1, 1_000), 1);
    }

    #[test]
    fn slow_events_never_cross() {
        let mut w: Windows<u8> = Windows::new(60, 3);
        for i in 0..100 {
            assert!(matches!(w.add(&1, i * 31), Count::Below(_)), "event {i}");
        }
    }

    #[test]
    fn the_table_is_capped() {
        let mut w: Windows<u32> = Windows::new(60, 2);
        let cap = u32::try_from(Windows::<u32>::MAX_KEYS).unwrap_or(u32::MAX);
        for k in 0..cap + 10 {
            w.add(&k, 0);
        }
        assert!(w.len() <= Windows::<u32>::MAX_KEYS);
        // Keys that aged out go first.
        w.sweep(120);
        assert!(w.is_empty());
    }
}

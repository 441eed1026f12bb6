//! Throttling the guest order lookup (order number plus email or phone).
//!
//! Guarantees: each client (IPv4 address, IPv6 /64) may try a bounded number of lookups per
//! window, whatever their outcome, so order numbers cannot be walked; each order number takes a
//! bounded number of failed attempts per window from all clients together, so one order's
//! contact details cannot be guessed from many addresses. A refusal says when to come back.
//! State lives in this process's memory, is bounded, and forgets idle entries (OWASP
//! Authentication CS, "Protect against automated attacks"; ASVS 2.4.1).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

/// The numbers of the lookup throttle. Defaults: per 15 minutes, 10 lookups per client and 5
/// failed ones per order number.
#[derive(Debug, Clone, Copy)]
pub struct LookupPolicy {
    pub window_secs: i64,
    pub per_client: usize,
    pub failures_per_order: usize,
}

impl Default for LookupPolicy {
    fn default() -> Self {
        Self {
            window_secs: 15 * 60,
            per_client: 10,
            failures_per_order: 5,
        }
    }
}

const MAX_ENTRIES: usize = 100_000;

/// Moments per key within the window.
#[derive(Debug)]
struct Window<K: Eq + Hash>(HashMap<K, VecDeque<i64>>);

impl<K: Eq + Hash> Default for Window<K> {
    fn default() -> Self {
        Self(HashMap::new())
    }
}

impl<K: Eq + Hash + Clone> Window<K> {
    /// The wait before `key` may go again, if it is at `limit`.
    fn wait(&mut self, key: &K, limit: usize, window: i64, now: i64) -> Option<i64> {
        let list = self.0.get_mut(key)?;
        while list.front().is_some_and(|t| *t <= now - window) {
            list.pop_front();
        }
        (list.len() >= limit).then(|| {
            let oldest = list.front().copied().unwrap_or(now);
            (oldest + window - now).max(1)
        })
    }

    fn record(&mut self, key: K, window: i64, now: i64) {
        if self.0.len() >= MAX_ENTRIES {
            self.0
                .retain(|_, list| list.back().is_some_and(|t| *t > now - window));
        }
        self.0.entry(key).or_default().push_back(now);
    }
}

/// The in-memory lookup throttle.
#[derive(Debug, Default)]
pub struct LookupThrottle {
    policy: LookupPolicy,
    clients: Mutex<Window<IpAddr>>,
    orders: Mutex<Window<String>>,
}

/// IPv6 clients are counted per /64, which one subscriber usually holds whole.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
    }
}

impl LookupThrottle {
    pub fn new(policy: LookupPolicy) -> Self {
        Self {
            policy,
            ..Self::default()
        }
    }

    /// Counts an attempt by `client` on `number`, or answers how many seconds to wait.
    pub fn attempt(&self, client: IpAddr, number: &str, now: i64) -> Result<(), i64> {
        let p = self.policy;
        let client = client_key(client);
        if let Ok(mut orders) = self.orders.lock()
            && let Some(wait) = orders.wait(
                &number.to_string(),
                p.failures_per_order,
                p.window_secs,
                now,
            )
        {
            return Err(wait);
        }
        let Ok(mut clients) = self.clients.lock() else {
            return Ok(());
        };
        if let Some(wait) = clients.wait(&client, p.per_client, p.window_secs, now) {
            return Err(wait);
        }
        clients.record(client, p.window_secs, now);
        Ok(())
    }

    /// Records a failed attempt on `number` (no such order, or details that do not match).
    pub fn failed(&self, number: &str, now: i64) {
        if let Ok(mut orders) = self.orders.lock() {
            orders.record(number.to_string(), self.policy.window_secs, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_and_order_numbers_are_limited_apart() {
        let t = LookupThrottle::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for i in 0..10 {
            assert!(t.attempt(a, &format!("K-{i}"), 0).is_ok());
        }
        assert_eq!(t.attempt(a, "K-X", 10), Err(15 * 60 - 10));
        assert!(
            t.attempt(b, "K-X", 10).is_ok(),
            "another client is not held back"
        );
        assert!(t.attempt(a, "K-X", 15 * 60).is_ok(), "the window moves on");
        // Five failures on one number, from anywhere, close it for everyone for a while.
        for i in 0..5u8 {
            let ip = IpAddr::from([198, 51, 100, i]);
            assert!(t.attempt(ip, "K-AAAA-BBBB", 100).is_ok());
            t.failed("K-AAAA-BBBB", 100);
        }
        assert!(t.attempt(b, "K-AAAA-BBBB", 101).is_err());
        assert!(t.attempt(b, "K-CCCC-DDDD", 101).is_ok());
        // IPv6 clients count per /64.
        let x: IpAddr = "2001:db8::1".parse().unwrap();
        let y: IpAddr = "2001:db8::ffff".parse().unwrap();
        for i in 0..10 {
            assert!(t.attempt(x, &format!("K-6{i}"), 0).is_ok());
        }
        assert!(t.attempt(y, "K-7", 0).is_err());
    }
}

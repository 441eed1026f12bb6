//! Customer-account plumbing: one-time tokens, saved addresses and sign-in throttling.
//!
//! Guarantees:
//! - A one-time token (email verification, password reset) is 256 random bits handed to the
//!   customer once; the store keeps only its SHA-256 with a purpose and an expiry, and using it
//!   deletes it.
//! - Sign-in failures are throttled per account (keyed by the email's blind index, never the
//!   address) and per client IP, with growing waits, and no failure count an attacker can
//!   drive makes an account unusable for its owner: an IP that signed in to the account
//!   recently keeps its own, separate allowance, and a password reset clears the account's
//!   record (OWASP Credential Stuffing Prevention CS; NIST SP 800-63B-4 §3.2.2: at most 100
//!   consecutive failures per account).
//!
//! Throttle state lives in this process's memory; it is bounded and forgets idle entries.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

use kura_seal::Column;

pub use crate::records::{AccountTokenRecord, SavedAddressRecord, TokenPurpose};

/// The sealed column of a saved delivery address (one JSON `Person` record per row).
pub const ADDRESS_RECORD: Column = crate::sealed::col::ADDRESS_RECORD;

/// The numbers of the throttle. Defaults: 15-minute windows; 5 failures per account (from IPs
/// the account does not know) before waits start at a minute and double up to 15 minutes; 10
/// per account and IP for an IP that signed in to it within 30 days; 20 per IP; and after 100
/// consecutive failures only known IPs or a password reset get in.
#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    pub window_secs: i64,
    pub account_failures: usize,
    pub familiar_failures: usize,
    pub ip_failures: usize,
    pub familiar_for_secs: i64,
    pub max_consecutive: u32,
    pub first_wait_secs: i64,
    pub max_wait_secs: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            window_secs: 15 * 60,
            account_failures: 5,
            familiar_failures: 10,
            ip_failures: 20,
            familiar_for_secs: 30 * 86400,
            max_consecutive: 100,
            first_wait_secs: 60,
            max_wait_secs: 15 * 60,
        }
    }
}

/// Why a sign-in attempt is not even checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures from this IP (any account).
    Ip { retry_after: i64 },
    /// Too many recent failures on this account.
    Account { retry_after: i64 },
    /// So many consecutive failures that only a known IP or a password reset gets in.
    ResetRequired,
}

#[derive(Debug, Default)]
struct AccountState {
    failures: VecDeque<(i64, IpAddr)>,
    consecutive: u32,
    /// IPs (v6 as /64) that signed in to this account, and when last.
    familiar: Vec<(IpAddr, i64)>,
}

const MAX_ENTRIES: usize = 100_000;
const MAX_FAMILIAR: usize = 16;

/// The in-memory throttle. Account keys are blind indexes (opaque bytes).
#[derive(Debug, Default)]
pub struct LoginThrottle {
    policy: ThrottlePolicy,
    accounts: Mutex<HashMap<Vec<u8>, AccountState>>,
    ips: Mutex<HashMap<IpAddr, VecDeque<i64>>>,
}

/// IPv6 clients are counted per /64, which one subscriber usually holds whole.
fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let masked = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(masked.into())
        }
    }
}

impl LoginThrottle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            accounts: Mutex::new(HashMap::new()),
            ips: Mutex::new(HashMap::new()),
        }
    }

    pub fn policy(&self) -> ThrottlePolicy {
        self.policy
    }

    fn prune(&self, state: &mut AccountState, now: i64) {
        let horizon = now - self.policy.window_secs;
        while state.failures.front().is_some_and(|(t, _)| *t <= horizon) {
            state.failures.pop_front();
        }
        let familiar_horizon = now - self.policy.familiar_for_secs;
        state.familiar.retain(|(_, t)| *t > familiar_horizon);
    }

    /// Whether an attempt on `account` from `ip` may be checked at all.
    pub fn check(&self, account: Option<&[u8]>, ip: IpAddr, now: i64) -> Result<(), Refusal> {
        let ip = ip_key(ip);
        let p = self.policy;
        if let Ok(mut ips) = self.ips.lock()
            && let Some(list) = ips.get_mut(&ip)
        {
            while list.front().is_some_and(|t| *t <= now - p.window_secs) {
                list.pop_front();
            }
            if list.len() >= p.ip_failures {
                let oldest = list.front().copied().unwrap_or(now);
                return Err(Refusal::Ip {
                    retry_after: (oldest + p.window_secs - now).max(1),
                });
            }
        }
        let Some(key) = account else {
            return Ok(());
        };
        let Ok(mut accounts) = self.accounts.lock() else {
            return Ok(());
        };
        let Some(state) = accounts.get_mut(key) else {
            return Ok(());
        };
        self.prune(state, now);
        let familiar = state.familiar.iter().any(|(known, _)| *known == ip);
        if familiar {
            let mine: Vec<i64> = state
                .failures
                .iter()
                .filter(|(_, from)| *from == ip)
                .map(|(t, _)| *t)
                .collect();
            if mine.len() >= p.familiar_failures {
                let oldest = mine.first().copied().unwrap_or(now);
                return Err(Refusal::Account {
                    retry_after: (oldest + p.window_secs - now).max(1),
                });
            }
            return Ok(());
        }
        if state.consecutive >= p.max_consecutive {
            return Err(Refusal::ResetRequired);
        }
        let recent = state.failures.len();
        if recent >= p.account_failures {
            let doublings = u32::try_from(recent - p.account_failures)
                .unwrap_or(u32::MAX)
                .min(16);
            let wait = p
                .first_wait_secs
                .saturating_mul(1i64 << doublings)
                .min(p.max_wait_secs);
            let last = state.failures.back().map_or(now, |(t, _)| *t);
            if now < last + wait {
                return Err(Refusal::Account {
                    retry_after: last + wait - now,
                });
            }
        }
        Ok(())
    }

    /// Records a failed attempt (wrong password, or an unknown account).
    pub fn failed(&self, account: Option<&[u8]>, ip: IpAddr, now: i64) {
        let ip = ip_key(ip);
        if let Ok(mut ips) = self.ips.lock() {
            if ips.len() >= MAX_ENTRIES {
                let horizon = now - self.policy.window_secs;
                ips.retain(|_, l| l.back().is_some_and(|t| *t > horizon));
            }
            let list = ips.entry(ip).or_default();
            list.push_back(now);
            while list.len() > self.policy.ip_failures.saturating_mul(2) {
                list.pop_front();
            }
        }
        let Some(key) = account else {
            return;
        };
        let Ok(mut accounts) = self.accounts.lock() else {
            return;
        };
        if accounts.len() >= MAX_ENTRIES {
            let horizon = now - self.policy.window_secs;
            accounts.retain(|_, s| {
                s.consecutive > 0 || s.failures.back().is_some_and(|(t, _)| *t > horizon)
            });
        }
        let state = accounts.entry(key.to_vec()).or_default();
        self.prune(state, now);
        state.failures.push_back((now, ip));
        let cap = self
            .policy
            .familiar_failures
            .max(self.policy.account_failures)
            * 4;
        while state.failures.len() > cap {
            state.failures.pop_front();
        }
        state.consecutive = state.consecutive.saturating_add(1);
    }

    /// Records a success: the IP becomes known to the account and the streak ends.
    pub fn succeeded(&self, account: Option<&[u8]>, ip: IpAddr, now: i64) {
        let ip = ip_key(ip);
        let Some(key) = account else {
            return;
        };
        let Ok(mut accounts) = self.accounts.lock() else {
            return;
        };
        let state = accounts.entry(key.to_vec()).or_default();
        self.prune(state, now);
        state.consecutive = 0;
        state.failures.retain(|(_, from)| *from != ip);
        state.familiar.retain(|(known, _)| *known != ip);
        state.familiar.push((ip, now));
        if state.familiar.len() > MAX_FAMILIAR {
            state.familiar.remove(0);
        }
    }

    /// Forgets an account's failures (after the owner proved control of the mailbox).
    pub fn clear_account(&self, account: &[u8]) {
        if let Ok(mut accounts) = self.accounts.lock()
            && let Some(state) = accounts.get_mut(account)
        {
            state.failures.clear();
            state.consecutive = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn waits_grow_after_five_failures_and_end() {
        let t = LoginThrottle::new(ThrottlePolicy::default());
        let acct: &[u8] = b"acct";
        let a = ip("192.0.2.1");
        for i in 0..5 {
            assert_eq!(t.check(Some(acct), a, 1000 + i), Ok(()));
            t.failed(Some(acct), a, 1000 + i);
        }
        assert_eq!(
            t.check(Some(acct), a, 1005),
            Err(Refusal::Account { retry_after: 59 })
        );
        assert_eq!(t.check(Some(acct), a, 1064), Ok(()));
        t.failed(Some(acct), a, 1064);
        assert_eq!(
            t.check(Some(acct), a, 1065),
            Err(Refusal::Account { retry_after: 119 })
        );
        // After the window every failure is forgotten.
        assert_eq!(t.check(Some(acct), a, 1064 + 901), Ok(()));
    }

    #[test]
    fn a_known_ip_keeps_its_own_allowance() {
        let t = LoginThrottle::new(ThrottlePolicy::default());
        let acct: &[u8] = b"acct";
        let owner = ip("198.51.100.7");
        let attacker = ip("203.0.113.9");
        t.succeeded(Some(acct), owner, 10);
        for i in 0..8 {
            t.failed(Some(acct), attacker, 100 + i);
        }
        assert!(matches!(
            t.check(Some(acct), attacker, 110),
            Err(Refusal::Account { .. })
        ));
        assert_eq!(t.check(Some(acct), owner, 110), Ok(()));
    }

    #[test]
    fn per_ip_limit_and_consecutive_cap() {
        let t = LoginThrottle::new(ThrottlePolicy::default());
        let a = ip("2001:db8::1");
        for i in 0..20 {
            t.failed(Some(format!("k{i}").as_bytes()), a, 100);
        }
        // The same /64 is the same client.
        assert!(matches!(
            t.check(Some(b"other"), ip("2001:db8::ffff"), 101),
            Err(Refusal::Ip { .. })
        ));
        assert_eq!(t.check(Some(b"other"), ip("2001:db9::1"), 101), Ok(()));

        let t = LoginThrottle::new(ThrottlePolicy::default());
        let acct: &[u8] = b"acct";
        for i in 0..100 {
            t.failed(
                Some(acct),
                ip(&format!("10.0.{}.{}", i / 200, i % 200)),
                i64::from(i) * 10_000,
            );
        }
        assert_eq!(
            t.check(Some(acct), ip("10.9.9.9"), 2_000_000),
            Err(Refusal::ResetRequired)
        );
        t.clear_account(acct);
        assert_eq!(t.check(Some(acct), ip("10.9.9.9"), 2_000_000), Ok(()));
    }
}

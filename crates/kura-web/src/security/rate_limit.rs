//! Rate limiting (token buckets), per browser where there is one.
//!
//! Japanese mobile carriers put many customers behind one IPv4 address, and a sale brings them
//! all at once; an address budget would turn them away. So a request that carries a session
//! token this shop handed out (its tag proves that without the database) is counted against
//! that session's own bucket, and against a shared bucket for its address that is
//! `shared_factor` times larger (a script minting sessions still meets a ceiling). A request
//! without one (first visits, scripts, the JSON API) is counted per address; an IPv6 address by
//! its /64. Beyond a budget the answer is 429 with `Retry-After`, and the guard hears of it.
//! Buckets live in 32 shards to keep lock contention low, and idle full buckets are dropped.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kura_app::{SecurityEvent, SecurityEventKind};

use crate::AppState;
use crate::cookies::cookie_value;
use crate::error::{ErrorKind, WebError};
use crate::security::client_ip::ClientIp;
use crate::security::request_id::RequestId;

const SHARDS: usize = 32;
const MAX_PER_SHARD: usize = 4096;

/// Whose budget a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// An address (IPv6 by its /64) for requests without a session of ours.
    Address(IpAddr),
    /// One browser session, by the tag of its token.
    Session(u64),
    /// All sessions behind one address together.
    Shared(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    shared_factor: f64,
    hasher: std::hash::RandomState,
    shards: Vec<Mutex<HashMap<Key, Bucket>>>,
}

impl RateLimiter {
    pub fn new(rate_per_second: u32, burst: u32, shared_factor: u32) -> Self {
        Self {
            rate: f64::from(rate_per_second.max(1)),
            burst: f64::from(burst.max(1)),
            shared_factor: f64::from(shared_factor.max(1)),
            hasher: std::hash::RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    fn shard(&self, key: &Key) -> Option<&Mutex<HashMap<Key, Bucket>>> {
        let h = self.hasher.hash_one(key) as usize;
        self.shards.get(h % SHARDS)
    }

    fn limits(&self, key: &Key) -> (f64, f64) {
        match key {
            Key::Shared(_) => (
                self.rate * self.shared_factor,
                self.burst * self.shared_factor,
            ),
            _ => (self.rate, self.burst),
        }
    }

    /// Takes one token from `key`'s bucket. `Err(seconds)` says how long until one is
    /// available.
    pub fn check(&self, key: Key, now: Instant) -> Result<(), u64> {
        let (rate, burst) = self.limits(&key);
        let Some(shard) = self.shard(&key) else {
            return Ok(());
        };
        let Ok(mut map) = shard.lock() else {
            return Ok(());
        };
        if map.len() >= MAX_PER_SHARD {
            map.retain(|k, b| {
                let (rate, burst) = self.limits(k);
                b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst
            });
        }
        let b = map.entry(key).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refill = now.duration_since(b.at).as_secs_f64() * rate;
        b.tokens = (b.tokens + refill).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - b.tokens) / rate).ceil();
            Err(if wait.is_finite() && wait >= 1.0 {
                wait as u64
            } else {
                1
            })
        }
    }

    /// Spends a request from `ip`: from its session's bucket and the address's shared one
    /// when `session` is the tag of a token this shop handed out, else from the address's.
    pub fn admit(&self, ip: IpAddr, session: Option<u64>, now: Instant) -> Result<(), u64> {
        let address = kura_guard::source_address(ip);
        match session {
            Some(tag) => {
                self.check(Key::Session(tag), now)?;
                self.check(Key::Shared(address), now)
            }
            None => self.check(Key::Address(address), now),
        }
    }
}

/// The tag of the request's session token, when it is one this shop handed out. The JSON API
/// reads no cookies, so its requests count per address.
fn session_tag(state: &AppState, req: &Request) -> Option<u64> {
    if req.uri().path().starts_with("/api/") {
        return None;
    }
    let token = cookie_value(req.headers(), state.config.session_cookie_name())?;
    if !state.vault.ring().is_browser_token(token) {
        return None;
    }
    let tag = token.get(48..)?;
    u64::from_str_radix(tag, 16).ok()
}

pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let ip = req.extensions().get::<ClientIp>().map(|c| c.0);
    if let Some(ip) = ip
        && let Err(wait) = state
            .limiter
            .admit(ip, session_tag(&state, &req), Instant::now())
    {
        let mut event = SecurityEvent::new(SecurityEventKind::RateLimited).ip(ip);
        if let Some(id) = req.extensions().get::<RequestId>() {
            event = event.request(&id.0);
        }
        state.event(event);
        let mut res = WebError::new(ErrorKind::TooManyRequests).into_response();
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
        return res;
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let l = RateLimiter::new(2, 3, 10);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.admit(ip, None, t0).is_ok());
        }
        assert_eq!(l.admit(ip, None, t0), Err(1));
        assert!(l.admit("192.0.2.2".parse().unwrap(), None, t0).is_ok());
        assert!(l.admit(ip, None, t0 + Duration::from_millis(600)).is_ok());
    }

    #[test]
    fn sessions_behind_one_address_have_their_own_budgets_under_a_shared_ceiling() {
        let l = RateLimiter::new(2, 3, 10);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        // The address's own budget is spent by a sessionless script...
        while l.admit(ip, None, t0).is_ok() {}
        // ...and ten customers behind it still get their three each (the shared ceiling is 30).
        for tag in 0..10 {
            for _ in 0..3 {
                assert!(l.admit(ip, Some(tag), t0).is_ok(), "session {tag}");
            }
            assert!(
                l.admit(ip, Some(tag), t0).is_err(),
                "session {tag} over its own"
            );
        }
        // An eleventh session meets the shared ceiling.
        assert!(l.admit(ip, Some(99), t0).is_err());
    }

    #[test]
    fn an_ipv6_source_is_counted_by_its_64() {
        let l = RateLimiter::new(1, 2, 10);
        let t0 = Instant::now();
        assert!(l.admit("2001:db8::1".parse().unwrap(), None, t0).is_ok());
        assert!(l.admit("2001:db8::2".parse().unwrap(), None, t0).is_ok());
        assert!(l.admit("2001:db8::3".parse().unwrap(), None, t0).is_err());
        assert!(
            l.admit("2001:db8:0:1::3".parse().unwrap(), None, t0)
                .is_ok()
        );
    }
}

//! Per-IP rate limiting (token bucket).
//!
//! Each client IP may make `rate` requests per second on average with bursts up to `burst`.
//! Beyond that the answer is 429 with `Retry-After`, and the guard hears of it. Buckets live in
//! 32 shards to keep lock contention low, and idle full buckets are dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kura_app::{SecurityEvent, SecurityEventKind};

use crate::AppState;
use crate::error::{ErrorKind, WebError};
use crate::security::client_ip::ClientIp;
use crate::security::request_id::RequestId;

const SHARDS: usize = 32;
const MAX_PER_SHARD: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    shards: Vec<Mutex<HashMap<IpAddr, Bucket>>>,
}

impl RateLimiter {
    pub fn new(rate_per_second: u32, burst: u32) -> Self {
        Self {
            rate: f64::from(rate_per_second.max(1)),
            burst: f64::from(burst.max(1)),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    fn shard(&self, ip: &IpAddr) -> Option<&Mutex<HashMap<IpAddr, Bucket>>> {
        let n = match ip {
            IpAddr::V4(v4) => usize::from(v4.octets()[3]),
            IpAddr::V6(v6) => usize::from(v6.octets()[15]),
        };
        self.shards.get(n % SHARDS)
    }

    /// Takes one token for `ip`. `Err(seconds)` says how long until one is available.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let Some(shard) = self.shard(&ip) else {
            return Ok(());
        };
        let Ok(mut map) = shard.lock() else {
            return Ok(());
        };
        if map.len() >= MAX_PER_SHARD {
            let (rate, burst) = (self.rate, self.burst);
            map.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let b = map.entry(ip).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.duration_since(b.at).as_secs_f64() * self.rate;
        b.tokens = (b.tokens + refill).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - b.tokens) / self.rate).ceil();
            Err(if wait.is_finite() && wait >= 1.0 {
                wait as u64
            } else {
                1
            })
        }
    }
}

pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let ip = req.extensions().get::<ClientIp>().map(|c| c.0);
    if let Some(ip) = ip
        && let Err(wait) = state.limiter.check(ip, Instant::now())
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
        let l = RateLimiter::new(2, 3);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check(ip, t0).is_ok());
        }
        assert_eq!(l.check(ip, t0), Err(1));
        assert!(l.check("192.0.2.2".parse().unwrap(), t0).is_ok());
        assert!(l.check(ip, t0 + Duration::from_millis(600)).is_ok());
    }
}

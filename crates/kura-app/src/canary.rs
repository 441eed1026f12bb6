//! Honeytokens: canary customers whose data no legitimate process ever reads. They are ordinary
//! sealed customers (with orders) whose email is at a domain the shop configures and keeps out of
//! the database, so a copy of the database cannot tell them from real people; the shop knows
//! them by that domain when it opens their data. Any unmasking, export, contact search, order
//! read or mail to a canary's address raises the guard's highest alert.

use std::net::IpAddr;
use std::sync::Arc;

use crate::events::{SecurityEvent, SecurityEventKind, SecurityEvents};

pub struct Canaries {
    /// `@domain` in lower case; `None`: no canaries.
    suffix: Option<String>,
    events: Arc<dyn SecurityEvents>,
}

impl Canaries {
    pub fn new(domain: &str, events: Arc<dyn SecurityEvents>) -> Self {
        let domain = domain.trim().trim_start_matches('@').to_ascii_lowercase();
        Self {
            suffix: (!domain.is_empty()).then(|| format!("@{domain}")),
            events,
        }
    }

    /// Whether `email` is a canary's.
    pub fn is_canary(&self, email: &str) -> bool {
        self.suffix
            .as_deref()
            .is_some_and(|s| email.trim().to_ascii_lowercase().ends_with(s))
    }

    /// Raises the alert when `email` is a canary's; `how` says what touched it (a fixed word).
    pub fn check(
        &self,
        email: &str,
        how: &'static str,
        ip: Option<IpAddr>,
        staff: Option<i64>,
    ) -> bool {
        if !self.is_canary(email) {
            return false;
        }
        let mut e = SecurityEvent::new(SecurityEventKind::HoneytokenTouched).detail(how);
        e.ip = ip;
        e.subject = staff;
        self.events.record(e);
        tracing::error!(target: "kura::alert", how, staff, "a honeytoken was touched: someone is reading data nobody legitimate reads");
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Seen(Mutex<Vec<SecurityEvent>>);
    impl SecurityEvents for Seen {
        fn record(&self, e: SecurityEvent) {
            if let Ok(mut v) = self.0.lock() {
                v.push(e);
            }
        }
    }

    #[test]
    fn only_the_configured_domain_is_a_canary() {
        let seen = Arc::new(Seen::default());
        let c = Canaries::new("@Mail.Example-Canary.jp", Arc::clone(&seen) as _);
        assert!(c.is_canary("k.tanaka7@mail.example-canary.jp"));
        assert!(c.is_canary(" K.Tanaka7@MAIL.EXAMPLE-CANARY.JP "));
        assert!(!c.is_canary("k.tanaka7@example.jp"));
        assert!(!c.is_canary("k@mail.example-canary.jp.evil.example"));
        assert!(c.check("x@mail.example-canary.jp", "unmask", None, Some(3)));
        assert!(!c.check("x@example.jp", "unmask", None, Some(3)));
        assert_eq!(seen.0.lock().map(|v| v.len()).unwrap_or(0), 1);
        let off = Canaries::new("", Arc::clone(&seen) as _);
        assert!(!off.is_canary("x@mail.example-canary.jp"));
    }
}

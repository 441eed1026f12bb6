//! The shared state every handler receives.

use std::sync::Arc;

use kura_app::{Customers, SecurityEvent, SecurityEvents, Sessions, Store, Vault};

use crate::config::WebConfig;
use crate::security::rate_limit::RateLimiter;

pub struct Shop {
    pub store: Arc<dyn Store>,
    pub vault: Arc<Vault>,
    pub sessions: Sessions,
    pub customers: Customers,
    pub events: Arc<dyn SecurityEvents>,
    pub config: WebConfig,
    pub limiter: RateLimiter,
}

impl Shop {
    pub fn new(
        store: Arc<dyn Store>,
        vault: Arc<Vault>,
        sessions: Sessions,
        customers: Customers,
        events: Arc<dyn SecurityEvents>,
        config: WebConfig,
    ) -> Self {
        let limiter = RateLimiter::new(config.rate_per_second, config.rate_burst);
        Self {
            store,
            vault,
            sessions,
            customers,
            events,
            config,
            limiter,
        }
    }

    pub fn event(&self, event: SecurityEvent) {
        metrics::counter!("kura_security_events_total", "event" => event.kind.name()).increment(1);
        self.events.record(event);
    }
}

pub type AppState = Arc<Shop>;

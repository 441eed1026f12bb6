//! The shared state every handler receives.

use std::sync::Arc;

use kura_app::audit::Audit;
use kura_app::backoffice::BackOffice;
use kura_app::carts::Carts;
use kura_app::catalog::Catalog;
use kura_app::inquiries::Desk;
use kura_app::mail::{MailOutbox, Mailer};
use kura_app::orders::Orders;
use kura_app::payments::PaymentGateway;
use kura_app::retention::Retention;
use kura_app::staff::StaffDesk;
use kura_app::{Clock, Customers, SecurityEvent, SecurityEvents, Sessions, Store, Vault};

use crate::config::WebConfig;
use crate::security::rate_limit::RateLimiter;

/// Everything the shop is made of, as the binary wires it.
pub struct ShopParts {
    pub store: Arc<dyn Store>,
    pub vault: Arc<Vault>,
    pub sessions: Sessions,
    pub customers: Customers,
    pub catalog: Catalog,
    pub carts: Carts,
    pub orders: Orders,
    pub payments: Option<Arc<dyn PaymentGateway>>,
    pub outbox: Arc<MailOutbox>,
    pub mailer: Arc<dyn Mailer>,
    pub events: Arc<dyn SecurityEvents>,
    /// The time, for every handler that needs it (never the system clock directly).
    pub clock: Arc<dyn Clock>,
    pub config: WebConfig,
    pub staff: Arc<StaffDesk>,
    pub backoffice: Arc<BackOffice>,
    pub audit: Arc<Audit>,
    pub retention: Arc<Retention>,
    pub desk: Arc<Desk>,
}

pub struct Shop {
    pub store: Arc<dyn Store>,
    pub vault: Arc<Vault>,
    pub sessions: Sessions,
    pub customers: Customers,
    pub catalog: Catalog,
    pub carts: Carts,
    pub orders: Orders,
    pub payments: Option<Arc<dyn PaymentGateway>>,
    pub outbox: Arc<MailOutbox>,
    pub mailer: Arc<dyn Mailer>,
    pub events: Arc<dyn SecurityEvents>,
    /// The time, for every handler that needs it (never the system clock directly).
    pub clock: Arc<dyn Clock>,
    pub config: WebConfig,
    pub staff: Arc<StaffDesk>,
    pub backoffice: Arc<BackOffice>,
    pub audit: Arc<Audit>,
    pub retention: Arc<Retention>,
    pub desk: Arc<Desk>,
    pub limiter: RateLimiter,
    /// Where the card provider's hosted pages live (allowed by the CSP's `form-action`).
    pub payment_origin: Option<String>,
}

impl Shop {
    pub fn new(p: ShopParts) -> Self {
        let limiter = RateLimiter::new(p.config.rate_per_second, p.config.rate_burst);
        // Only an origin made of safe characters goes into the header.
        let payment_origin = p
            .payments
            .as_ref()
            .map(|g| g.checkout_origin())
            .filter(|o| {
                (o.starts_with("https://") || o.starts_with("http://"))
                    && o.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ":/.-[]".contains(c))
            });
        Self {
            store: p.store,
            vault: p.vault,
            sessions: p.sessions,
            customers: p.customers,
            catalog: p.catalog,
            carts: p.carts,
            orders: p.orders,
            payments: p.payments,
            outbox: p.outbox,
            mailer: p.mailer,
            events: p.events,
            clock: p.clock,
            config: p.config,
            staff: p.staff,
            backoffice: p.backoffice,
            audit: p.audit,
            retention: p.retention,
            desk: p.desk,
            limiter,
            payment_origin,
        }
    }

    pub fn event(&self, event: SecurityEvent) {
        metrics::counter!("kura_security_events_total", "event" => event.kind.name()).increment(1);
        self.events.record(event);
    }
}

pub type AppState = Arc<Shop>;

//! The shared state every handler receives.

use std::sync::Arc;

use kura_app::audit::Audit;
use kura_app::backoffice::BackOffice;
use kura_app::carts::Carts;
use kura_app::catalog::Catalog;
use kura_app::catalog_admin::CatalogAdmin;
use kura_app::incidents::Incidents;
use kura_app::inquiries::Desk;
use kura_app::mail::{MailInspector, MailOutbox, Mailer};
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
    /// Reads a pasted raw mail for the mail-check page (signatures, verification code).
    pub mail_inspector: Arc<dyn MailInspector>,
    pub events: Arc<dyn SecurityEvents>,
    /// The time, for every handler that needs it (never the system clock directly).
    pub clock: Arc<dyn Clock>,
    pub config: WebConfig,
    pub staff: Arc<StaffDesk>,
    pub backoffice: Arc<BackOffice>,
    pub audit: Arc<Audit>,
    pub retention: Arc<Retention>,
    pub desk: Arc<Desk>,
    /// The guard (also behind `events`), for the checks the web layer makes itself: is this
    /// source blocked. `None`: events are only logged.
    pub guard: Option<Arc<kura_guard::Guard>>,
    pub catalog_admin: Arc<CatalogAdmin>,
    /// Incidents, their public notices and the maintenance switch.
    pub incidents: Arc<Incidents>,
    /// 入荷お知らせ requests and their mails.
    pub restock: Arc<kura_app::restock::Restock>,
    /// Receipts and qualified invoices of paid orders.
    pub receipts: Arc<kura_app::receipts::Receipts>,
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
    /// Reads a pasted raw mail for the mail-check page (signatures, verification code).
    pub mail_inspector: Arc<dyn MailInspector>,
    pub events: Arc<dyn SecurityEvents>,
    /// The time, for every handler that needs it (never the system clock directly).
    pub clock: Arc<dyn Clock>,
    pub config: WebConfig,
    pub staff: Arc<StaffDesk>,
    pub backoffice: Arc<BackOffice>,
    pub audit: Arc<Audit>,
    pub retention: Arc<Retention>,
    pub desk: Arc<Desk>,
    pub guard: Option<Arc<kura_guard::Guard>>,
    /// The back office's catalog: products, details, variants, categories, images.
    pub catalog_admin: Arc<CatalogAdmin>,
    /// Incidents, their public notices and the maintenance switch.
    pub incidents: Arc<Incidents>,
    /// 入荷お知らせ requests and their mails.
    pub restock: Arc<kura_app::restock::Restock>,
    /// Receipts and qualified invoices of paid orders.
    pub receipts: Arc<kura_app::receipts::Receipts>,
    /// Coupons: the back office's list and form, and checkout's early check.
    pub coupons: Arc<kura_app::coupons::Coupons>,
    pub limiter: RateLimiter,
    /// Networks the back office answers (empty: any). Starts as the configuration's; the
    /// owner's setting replaces it on every node within a minute ([`Shop::load_staff_allow`]).
    admin_allow: std::sync::RwLock<Vec<ipnet::IpNet>>,
    /// Where the card provider's hosted pages live (allowed by the CSP's `form-action`).
    pub payment_origin: Option<String>,
}

impl Shop {
    pub fn new(p: ShopParts) -> Self {
        let limiter = RateLimiter::new(
            p.config.rate_per_second,
            p.config.rate_burst,
            p.config.rate_shared_factor,
        );
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
        let coupons = Arc::new(kura_app::coupons::Coupons::new(
            p.store.clone(),
            p.audit.clone(),
            p.clock.clone(),
            p.vault.clone(),
        ));
        Self {
            coupons,
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
            mail_inspector: p.mail_inspector,
            events: p.events,
            clock: p.clock,
            staff: p.staff,
            backoffice: p.backoffice,
            audit: p.audit,
            retention: p.retention,
            desk: p.desk,
            guard: p.guard,
            catalog_admin: p.catalog_admin,
            restock: p.restock,
            receipts: p.receipts,
            incidents: p.incidents,
            limiter,
            payment_origin,
            admin_allow: std::sync::RwLock::new(p.config.admin_allow.clone()),
            config: p.config,
        }
    }

    /// Whether the back office answers `ip` (the allow-list is empty, or holds it).
    pub fn admin_allows(&self, ip: Option<std::net::IpAddr>) -> bool {
        let list = self
            .admin_allow
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        list.is_empty() || ip.is_some_and(|ip| list.iter().any(|n| n.contains(&ip)))
    }

    pub fn admin_allow_list(&self) -> Vec<ipnet::IpNet> {
        self.admin_allow
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the owner's allow-list setting (if any) into this node.
    pub async fn load_staff_allow(&self) -> Result<(), kura_app::AppError> {
        let Some(text) = self.backoffice.staff_allow_list().await? else {
            return Ok(());
        };
        match parse_networks(&text) {
            Ok(list) => {
                *self
                    .admin_allow
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = list;
            }
            Err(bad) => {
                tracing::error!(target: "kura::admin", entry = %bad, "the stored staff allow-list does not parse; the previous one stays");
            }
        }
        Ok(())
    }
}

/// Network ranges, one per line or separated by spaces or commas: `203.0.113.0/24`,
/// `2001:db8::/48`, or a single address. `Err` names the first entry that is not one.
pub fn parse_networks(text: &str) -> Result<Vec<ipnet::IpNet>, String> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<ipnet::IpNet>()
                .or_else(|_| t.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map(|n| n.trunc())
                .map_err(|_| t.chars().take(60).collect())
        })
        .collect()
}

impl Shop {
    pub fn event(&self, event: SecurityEvent) {
        metrics::counter!("kura_security_events_total", "event" => event.kind.name()).increment(1);
        self.events.record(event);
    }
}

pub type AppState = Arc<Shop>;

//! Wiring: the one place where configuration, store, keys, payments, mail and the web layer
//! meet.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use kura_app::carts::Carts;
use kura_app::catalog::Catalog;
use kura_app::mail::{MailOutbox, Mailer};
use kura_app::orders::{OrderSettings, Orders};
use kura_app::payments::PaymentGateway;
use kura_app::{
    Clock, Customers, LogEvents, SecurityEvents, SessionPolicy, Sessions, Store, SystemClock, Vault,
};
use kura_seal::{FileKeyProvider, PasswordPolicy, Passwords};
use kura_store_pg::PgStore;
use kura_store_sqlite::SqliteStore;
use kura_web::{AppState, Shop, ShopParts, WebConfig};
use secrecy::SecretString;

use crate::config::Config;
use crate::notify::MailNotifier;

/// Opens the configured database (applying migrations).
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = &config.database.url;
    let store: Arc<dyn Store> = if url.starts_with("postgres") {
        Arc::new(
            PgStore::open(url)
                .await
                .context("cannot open the PostgreSQL database")?,
        )
    } else {
        Arc::new(
            SqliteStore::open(url)
                .await
                .context("cannot open the SQLite database")?,
        )
    };
    Ok(store)
}

/// Loads the key file, creating it (mode 0600) on first start.
pub fn open_vault(config: &Config) -> anyhow::Result<Arc<Vault>> {
    let provider = FileKeyProvider::new(&config.keys.file);
    let (_, created) = provider
        .load_or_create()
        .context("cannot load the master key file")?;
    if created {
        tracing::info!(target: "kura::keys", path = %config.keys.file.display(), "created a new master key file (mode 0600); back it up apart from the database");
    }
    Ok(Arc::new(Vault::new(
        Arc::new(provider),
        Duration::from_secs(config.keys.reload_seconds),
    )?))
}

pub fn passwords(config: &Config) -> anyhow::Result<Passwords> {
    let p = &config.passwords;
    Ok(Passwords::new(PasswordPolicy {
        memory_kib: p.memory_kib,
        iterations: p.iterations,
        parallelism: p.parallelism,
    })?)
}

/// The card gateway the configuration names, if any.
pub fn card_gateway(config: &Config) -> anyhow::Result<Option<Arc<dyn PaymentGateway>>> {
    if config.card.api_base.is_empty() {
        return Ok(None);
    }
    let stripe = kura_pay::StripeCheckout::new(kura_pay::StripeConfig::new(
        config.card.api_base.clone(),
        SecretString::from(config.card.secret_key.clone()),
        SecretString::from(config.card.webhook_secret.clone()),
    ))
    .context("cannot set up the card payment provider")?;
    Ok(Some(Arc::new(stripe)))
}

/// The configured mail transport.
pub fn mailer(config: &Config) -> anyhow::Result<Arc<dyn Mailer>> {
    let m = &config.mail;
    if m.transport == "smtp" {
        let tls = match m.smtp_tls.as_str() {
            "starttls" => kura_mail::SmtpTls::Starttls,
            "tls" => kura_mail::SmtpTls::Tls,
            _ => kura_mail::SmtpTls::None,
        };
        let smtp = kura_mail::SmtpConfig {
            host: m.smtp_host.clone(),
            port: m.smtp_port,
            username: (!m.smtp_username.is_empty()).then(|| m.smtp_username.clone()),
            password: (!m.smtp_password.is_empty())
                .then(|| SecretString::from(m.smtp_password.clone())),
            tls,
            from: m.from.clone(),
            ca_file: None,
        };
        Ok(Arc::new(
            kura_mail::SmtpMailer::new(&smtp).context("cannot set up SMTP")?,
        ))
    } else {
        Ok(Arc::new(
            kura_mail::OutboxMailer::new(&m.outbox_dir, &m.from)
                .context("cannot set up the mail outbox folder")?,
        ))
    }
}

/// Builds the shop with links pointing at the configured listen address.
pub async fn build(config: &Config) -> anyhow::Result<AppState> {
    let base = config.base_url(config.server.listen);
    build_at(config, &base, card_gateway(config)?).await
}

/// Builds the whole shop state; `base_url` is where customers reach it.
pub async fn build_at(
    config: &Config,
    base_url: &str,
    gateway: Option<Arc<dyn PaymentGateway>>,
) -> anyhow::Result<AppState> {
    let vault = open_vault(config)?;
    let store = open_store(config).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let events: Arc<dyn SecurityEvents> = Arc::new(LogEvents::with_pseudonyms(
        Arc::clone(&vault),
        Arc::clone(&clock),
    ));
    let policy = SessionPolicy {
        idle_seconds: config.session.idle_minutes * 60,
        absolute_seconds: config.session.absolute_hours * 3600,
        ..SessionPolicy::default()
    };
    let outbox = Arc::new(MailOutbox::new(
        Arc::clone(&store),
        Arc::clone(&vault),
        Arc::clone(&clock),
    ));
    let notifier = Arc::new(MailNotifier {
        outbox: Arc::clone(&outbox),
        shop_name: config.shop.name.clone(),
        bank: config.bank.clone(),
        clock: Arc::clone(&clock),
    });
    let orders = Orders::new(
        Arc::clone(&store),
        Arc::clone(&vault),
        Arc::clone(&clock),
        gateway.clone(),
        notifier,
        OrderSettings {
            base_url: base_url.to_string(),
            card_minutes: config.card.minutes,
        },
    );
    let web = WebConfig {
        public_origin: config.public_origin(),
        link_base: base_url.to_string(),
        tls: config.tls(),
        trusted_proxies: config.server.trusted_proxies.clone(),
        body_limit: config.server.body_limit_bytes,
        rate_per_second: config.server.rate_limit_per_second,
        rate_burst: config.server.rate_limit_burst,
        shop_name: config.shop.name.clone(),
        legal: config.legal.clone(),
        legal_en: config.legal.english(),
        bank: config.bank.clone(),
    };
    Ok(Arc::new(Shop::new(ShopParts {
        sessions: Sessions::new(
            Arc::clone(&store),
            Arc::clone(&vault),
            Arc::clone(&clock),
            policy,
        ),
        customers: Customers::new(
            Arc::clone(&store),
            Arc::clone(&vault),
            passwords(config)?,
            Arc::clone(&clock),
        ),
        catalog: Catalog::new(Arc::clone(&store)),
        carts: Carts::new(Arc::clone(&store), Arc::clone(&clock)),
        orders,
        payments: gateway,
        outbox,
        mailer: mailer(config)?,
        store,
        vault,
        events,
        config: web,
    })))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!(target: "kura::server", "shutting down");
}

pub async fn bind(config: &Config) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))
}

/// The background work of a running shop: mail delivery, card-order expiry, sweeping expired
/// sessions and idle guest carts.
pub fn spawn_workers(state: &AppState) {
    let s = Arc::clone(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tick.tick().await;
            if let Err(e) = s.outbox.deliver_due(s.mailer.as_ref()).await {
                tracing::warn!(target: "kura::mail", error = %e, "mail delivery round failed");
            }
        }
    });
    let s = Arc::clone(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            match s.orders.expire_due().await {
                Ok(n) if n > 0 => {
                    tracing::info!(target: "kura::orders", expired = n, "unpaid card orders expired; stock returned")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(target: "kura::orders", error = %e, "order expiry round failed")
                }
            }
        }
    });
    let s = Arc::clone(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            match s.sessions.purge_expired().await {
                Ok(n) if n > 0 => {
                    tracing::info!(target: "kura::sessions", purged = n, "expired sessions removed")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(target: "kura::sessions", error = %e, "session sweep failed")
                }
            }
            match s.carts.sweep_idle_guests().await {
                Ok(n) if n > 0 => {
                    tracing::info!(target: "kura::carts", removed = n, "idle guest carts removed")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(target: "kura::carts", error = %e, "cart sweep failed")
                }
            }
        }
    });
}

/// Serves the shop (and metrics on their own listener) until SIGINT or SIGTERM.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: &Config,
    state: AppState,
    announce: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    if let Some(metrics_addr) = config.metrics_addr() {
        crate::metrics::spawn(metrics_addr).await?;
    }
    spawn_workers(&state);
    tracing::info!(target: "kura::server", %addr, backend = state.store.backend(), "shop listening");
    announce(addr);
    let app = kura_web::router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

//! Wiring: the one place where configuration, store, keys and web layer meet.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use kura_app::{
    Clock, Customers, LogEvents, SecurityEvents, SessionPolicy, Sessions, Store, SystemClock, Vault,
};
use kura_seal::{FileKeyProvider, PasswordPolicy, Passwords};
use kura_store_pg::PgStore;
use kura_store_sqlite::SqliteStore;
use kura_web::{AppState, Shop, WebConfig};

use crate::config::Config;

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

/// Builds the whole shop state.
pub async fn build(config: &Config) -> anyhow::Result<AppState> {
    let vault = open_vault(config)?;
    let store = open_store(config).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let events: Arc<dyn SecurityEvents> = Arc::new(LogEvents);
    let policy = SessionPolicy {
        idle_seconds: config.session.idle_minutes * 60,
        absolute_seconds: config.session.absolute_hours * 3600,
        ..SessionPolicy::default()
    };
    let sessions = Sessions::new(
        Arc::clone(&store),
        Arc::clone(&vault),
        Arc::clone(&clock),
        policy,
    );
    let customers = Customers::new(
        Arc::clone(&store),
        Arc::clone(&vault),
        passwords(config)?,
        clock,
    );
    let web = WebConfig {
        public_origin: config.public_origin(),
        tls: config.tls(),
        trusted_proxies: config.server.trusted_proxies.clone(),
        body_limit: config.server.body_limit_bytes,
        rate_per_second: config.server.rate_limit_per_second,
        rate_burst: config.server.rate_limit_burst,
        shop_name: config.shop.name.clone(),
    };
    Ok(Arc::new(Shop::new(
        store, vault, sessions, customers, events, web,
    )))
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

/// Serves the shop (and metrics on their own listener) until SIGINT or SIGTERM.
pub async fn serve(
    config: &Config,
    state: AppState,
    announce: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let addr = listener.local_addr()?;
    if let Some(metrics_addr) = config.metrics_addr() {
        crate::metrics::spawn(metrics_addr).await?;
    }
    let sweeper = Arc::clone(&state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            match sweeper.sessions.purge_expired().await {
                Ok(n) if n > 0 => {
                    tracing::info!(target: "kura::sessions", purged = n, "expired sessions removed")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(target: "kura::sessions", error = %e, "session sweep failed")
                }
            }
        }
    });
    tracing::info!(target: "kura::server", %addr, backend = state.store.backend(), "shop listening");
    announce(addr);
    let app = kura_web::router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

//! Wiring: the one place where configuration, store, keys, payments, mail and the web layer
//! meet.

use std::fs::{DirBuilder, OpenOptions};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use kura_app::audit::Audit;
use kura_app::backoffice::BackOffice;
use kura_app::carts::Carts;
use kura_app::catalog::Catalog;
use kura_app::mail::{MailOutbox, Mailer};
use kura_app::orders::{OrderSettings, Orders};
use kura_app::payments::PaymentGateway;
use kura_app::staff::{StaffDesk, StaffPolicy};
use kura_app::{
    Clock, Customers, LogEvents, SecurityEvents, SessionPolicy, Sessions, Store, SystemClock, Vault,
};
use kura_seal::{FileKeyProvider, PasswordPolicy, Passwords};
use kura_store::pg::PgStore;
use kura_store::sqlite::SqliteStore;
use kura_web::{AppState, Shop, ShopParts, WebConfig};
use secrecy::ExposeSecret;

use crate::config::Config;
use crate::notify::MailNotifier;

/// Makes an SQLite database private before SQLite opens it, like the key file: the database
/// file is created empty with mode 0600 when missing (SQLite gives its `-wal` and `-shm` files
/// the database file's mode), and an existing database, WAL, shared-memory or journal file that
/// group or others may read is tightened to 0600. A new parent folder gets mode 0700.
pub fn private_sqlite_files(db: &Path) -> anyhow::Result<()> {
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(db)
    {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(e).with_context(|| format!("cannot create {}", db.display()));
        }
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let path = PathBuf::from(name);
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_file() && mode & 0o077 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot make {} private (mode 0600)", path.display()))?;
            tracing::warn!(target: "kura::store", path = %path.display(), was = format!("{mode:o}"), "database file was readable by other users; its mode is now 0600");
        }
    }
    Ok(())
}

/// Opens the configured database (applying migrations).
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = &config.database.url;
    if !url.starts_with("postgres") {
        private_sqlite_files(&kura_store::path_from_url(url)?)?;
    }
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

/// Loads the key file. It must exist: only `kura keys init` and `kura demo` create one (see
/// [`init_keys`]), so a missing volume or a wrong path never starts a shop under a new key.
pub fn open_vault(config: &Config) -> anyhow::Result<Arc<Vault>> {
    let path = &config.keys.file;
    if !path.exists() {
        anyhow::bail!(
            "there is no master key file at {}: a shop's data opens only with the key file it was sealed with. \
             If the shop has data, restore its key file (or mount the volume that holds it) and check keys.file; \
             if this is a new shop, create one with `kura keys init`",
            path.display()
        );
    }
    let provider = FileKeyProvider::new(path);
    Ok(Arc::new(
        Vault::new(
            Arc::new(provider),
            Duration::from_secs(config.keys.reload_seconds),
        )
        .context("cannot load the master key file")?,
    ))
}

/// Creates the key file (mode 0600) of a new shop: only when it is missing and the database
/// holds no data and knows no key, so a shop can never be split between two keys. Returns
/// whether a file was created.
pub async fn init_keys(config: &Config) -> anyhow::Result<bool> {
    let path = &config.keys.file;
    if path.exists() {
        return Ok(false);
    }
    let store = open_store(config).await?;
    let recorded = store.key_checks().await?;
    if let Some(k) = recorded.first() {
        anyhow::bail!(
            "the database already uses master key {} and more; a new key file would split the shop in two: \
             restore the shop's key file to {} instead",
            k.key_id,
            path.display()
        );
    }
    if store.count_customers().await? > 0 || store.count_orders().await? > 0 {
        anyhow::bail!(
            "the database already holds sealed data; a new key file could not open it: \
             restore the shop's key file to {} instead",
            path.display()
        );
    }
    let (material, created) = FileKeyProvider::new(path)
        .load_or_create()
        .context("cannot create the master key file")?;
    let recorded = store.key_checks().await?;
    kura_app::key_checks::record_new(store.as_ref(), &material, &recorded, SystemClock.now())
        .await?;
    if created {
        tracing::info!(target: "kura::keys", path = %path.display(), "created a new master key file (mode 0600); back it up apart from the database");
    }
    Ok(created)
}

/// Refuses a key file that cannot open this database's data (missing key, another shop's,
/// an older copy), naming the key the database needs; records keys it does not know yet.
pub async fn check_keys(config: &Config, store: &dyn Store, vault: &Vault) -> anyhow::Result<()> {
    let material = vault
        .provider()
        .load()
        .context("cannot load the master key file")?;
    if let Err(mismatch) =
        kura_app::key_checks::verify_and_record(store, &material, SystemClock.now()).await?
    {
        anyhow::bail!("{mismatch} (key file: {})", config.keys.file.display());
    }
    Ok(())
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
        config.card.secret_key.clone(),
        config.card.webhook_secret.clone(),
    ))
    .context("cannot set up the card payment provider")?;
    Ok(Some(Arc::new(stripe)))
}

/// The shop's DKIM keys (in the folder of the master key), for the sender's domain; `None`
/// when `kura mail keys` has not made them.
pub fn dkim_keys(config: &Config) -> anyhow::Result<Option<Arc<kura_mail::DkimKeys>>> {
    let files = kura_mail::DkimFiles::beside(&config.keys.file);
    let domain = sender_domain(&config.mail.from);
    let keys = kura_mail::DkimKeys::load(&files, &domain, &config.mail.dkim_selector)
        .context("cannot load the DKIM keys")?;
    Ok(keys.map(Arc::new))
}

/// The domain of the configured sender (`蔵ショップ <shop@example.jp>` → `example.jp`).
pub fn sender_domain(from: &str) -> String {
    let addr = from
        .rsplit_once('<')
        .map_or(from, |(_, a)| a.trim_end_matches('>'));
    addr.rsplit_once('@')
        .map(|(_, d)| d.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The configured mail transport, signing with the shop's DKIM keys when they exist.
pub fn mailer(config: &Config) -> anyhow::Result<Arc<dyn Mailer>> {
    let dkim = dkim_keys(config)?;
    if dkim.is_none() && config.mail.transport == "smtp" {
        tracing::warn!(target: "kura::config", "mail is sent without DKIM signatures: run `kura mail keys` and publish the records it prints");
    }
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
            password: (!m.smtp_password.expose_secret().is_empty())
                .then(|| m.smtp_password.clone()),
            tls,
            from: m.from.clone(),
            ca_file: None,
        };
        Ok(Arc::new(
            kura_mail::SmtpMailer::new(&smtp)
                .context("cannot set up SMTP")?
                .with_dkim(dkim),
        ))
    } else {
        Ok(Arc::new(
            kura_mail::OutboxMailer::new(&m.outbox_dir, &m.from)
                .context("cannot set up the mail outbox folder")?
                .with_dkim(dkim),
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
    build_with_clock(config, base_url, gateway, Arc::new(SystemClock)).await
}

/// [`build_at`] with the clock every use case reads (tests move it instead of waiting).
pub async fn build_with_clock(
    config: &Config,
    base_url: &str,
    gateway: Option<Arc<dyn PaymentGateway>>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<AppState> {
    let vault = open_vault(config)?;
    let store = open_store(config).await?;
    check_keys(config, store.as_ref(), &vault).await?;
    let log = Arc::new(LogEvents::with_pseudonyms(
        Arc::clone(&vault),
        Arc::clone(&clock),
    ));
    let shop_cell: crate::guarding::ShopCell = Arc::default();
    let guard = config.guard.enabled.then(|| {
        crate::guarding::guard(
            config.guard.detectors().unwrap_or_default(),
            config.guard.never_block.clone(),
            Arc::clone(&store),
            Arc::clone(&log),
            Arc::clone(&clock),
            (!config.guard.alert_webhook.is_empty()).then(|| crate::guarding::AlertHook {
                url: config.guard.alert_webhook.clone(),
                secret: config.guard.alert_webhook_secret.clone(),
            }),
            Arc::clone(&shop_cell),
            config.guard.working_hours().unwrap_or_default(),
        )
    });
    let events: Arc<dyn SecurityEvents> = match &guard {
        Some(g) => Arc::clone(g) as Arc<dyn SecurityEvents>,
        None => log,
    };
    let policy = SessionPolicy {
        idle_seconds: config.session.idle_minutes * 60,
        absolute_seconds: config.session.absolute_hours * 3600,
        ..SessionPolicy::default()
    };
    let canaries = Arc::new(kura_app::canary::Canaries::new(
        &config.guard.canary_domain,
        Arc::clone(&events),
    ));
    let outbox = Arc::new(
        MailOutbox::new(Arc::clone(&store), Arc::clone(&vault), Arc::clone(&clock))
            .with_lease_seconds(config.mail.lease_seconds)
            .with_domain_pace(config.mail.per_domain_per_minute)
            .with_canaries(Arc::clone(&canaries))
            .with_check_url(format!("{}/mail-check", base_url.trim_end_matches('/'))),
    );
    let notifier = Arc::new(MailNotifier {
        outbox: Arc::clone(&outbox),
        shop_name: config.shop.name.clone(),
        bank: config.bank.clone(),
        clock: Arc::clone(&clock),
        desk: mail_contact(config, false),
        desk_en: mail_contact(config, true),
    });
    let orders = Orders::new(
        Arc::clone(&store),
        Arc::clone(&vault),
        Arc::clone(&clock),
        gateway.clone(),
        Arc::clone(&notifier) as Arc<dyn kura_app::orders::OrderNotifier>,
        OrderSettings {
            base_url: base_url.to_string(),
            card_minutes: config.card.minutes,
            transfer_days: config.bank.deadline_days,
            pages: kura_web::order_pages(),
        },
    )
    .with_canaries(Arc::clone(&canaries))
    .with_events(Arc::clone(&events))
    .with_lookup_policy(kura_app::lookup::LookupPolicy {
        window_secs: config.server.lookup_window_minutes.max(1) * 60,
        per_client: config.server.lookup_per_address.max(1),
        failures_per_order: config.server.lookup_failures_per_order.max(1),
    });
    let web = WebConfig {
        public_origin: config.public_origin(),
        link_base: base_url.to_string(),
        tls: config.tls(),
        trusted_proxies: config.server.trusted_proxies.clone(),
        body_limit: config.server.body_limit_bytes,
        rate_per_second: config.server.rate_limit_per_second,
        rate_burst: config.server.rate_limit_burst,
        rate_shared_factor: config.server.rate_limit_shared_factor,
        shop_name: config.shop.name.clone(),
        legal: config.legal.clone(),
        legal_en: config.legal.english(),
        bank: config.bank.clone(),
        admin_path: config.admin.path.clone(),
        desk_phone: config.desk.phone.clone(),
        desk_hours: config.desk.hours.clone(),
        incident_desk: config.desk.incident_line(),
        admin_allow: config.admin.allow.clone(),
    };
    let audit = Arc::new(Audit::new(
        Arc::clone(&store),
        Arc::clone(&vault),
        Arc::clone(&clock),
    ));
    let staff = Arc::new(
        StaffDesk::new(
            Arc::clone(&store),
            Arc::clone(&outbox),
            Arc::clone(&notifier) as Arc<dyn kura_app::staff::StaffNotifier>,
            Arc::clone(&vault),
            Arc::new(passwords(config)?),
            Arc::clone(&clock),
            Arc::clone(&events),
            Arc::clone(&audit),
            StaffPolicy {
                idle_seconds: config.admin.idle_minutes * 60,
                ..StaffPolicy::default()
            },
            &config.shop.name,
        )
        .with_passkeys(kura_app::staff::RelyingParty::for_base_url(
            base_url,
            &config.shop.name,
        )),
    );
    let backoffice = BackOffice::new(
        Arc::clone(&store),
        Arc::clone(&staff),
        Arc::clone(&vault),
        Arc::clone(&audit),
        Arc::clone(&clock),
        Arc::clone(&events),
    )
    .with_canaries(Arc::clone(&canaries));
    // One font for every printed document: postal letters, receipts and invoices.
    let font = match kura_mail::pdf::PdfFont::from_file(&config.mail.letter_font) {
        Ok(font) => Some(font),
        Err(e) => {
            tracing::warn!(target: "kura::incidents", error = %e, "no font for printed documents: the postal list is CSV only and orders get no receipts (install fonts-ipafont-gothic or set mail.letter_font)");
            None
        }
    };
    let backoffice = Arc::new(match &font {
        Some(font) => backoffice.with_letters(Arc::new(kura_mail::letters::PdfLetters::new(
            font.clone(),
            config.shop.name.clone(),
            config.desk.line(),
            base_url.to_string(),
        ))),
        None => backoffice,
    });
    let registration = config.legal.invoice_registration_number.trim();
    let receipts = Arc::new(kura_app::receipts::Receipts::new(
        Arc::clone(&store),
        Arc::clone(&vault),
        Arc::clone(&clock),
        font.map(|f| {
            Arc::new(kura_mail::documents::PdfDocuments::new(f))
                as Arc<dyn kura_app::receipts::DocumentPrinter>
        }),
        kura_app::receipts::Seller {
            name: config.legal.seller.clone(),
            address: config.legal.address.clone(),
            phone: config.legal.phone.clone(),
            registration: if registration.is_empty() {
                None
            } else {
                Some(
                    kura_domain::RegistrationNumber::parse(registration)
                        .map_err(|e| anyhow::anyhow!("legal.invoice_registration_number: {e}"))?,
                )
            },
        },
    ));
    let retention = Arc::new(kura_app::retention::Retention::new(
        Arc::clone(&store),
        Arc::clone(&audit),
        Arc::clone(&clock),
    ));
    let desk = Arc::new(kura_app::inquiries::Desk::new(
        Arc::clone(&store),
        Arc::clone(&vault),
        Arc::clone(&outbox),
        Arc::clone(&notifier) as Arc<dyn kura_app::inquiries::InquiryNotifier>,
        Arc::clone(&audit),
        Arc::clone(&clock),
    ));
    let catalog_admin = Arc::new(kura_app::catalog_admin::CatalogAdmin::new(
        Arc::clone(&store),
        Arc::clone(&audit),
        Arc::clone(&clock),
    ));
    let incidents = Arc::new(
        kura_app::incidents::Incidents::new(
            Arc::clone(&store),
            Arc::clone(&audit),
            Arc::clone(&clock),
        )
        .with_people(kura_app::incident_people::PeopleParts {
            vault: Arc::clone(&vault),
            outbox: Arc::clone(&outbox),
            notifier: Arc::clone(&notifier) as Arc<dyn kura_app::incident_people::IncidentNotifier>,
            public_url: base_url.to_string(),
            canaries: Some(Arc::clone(&canaries)),
        }),
    );
    incidents.refresh().await?;
    let restock = Arc::new(kura_app::restock::Restock::new(
        Arc::clone(&store),
        Arc::clone(&vault),
        Arc::clone(&clock),
        Arc::clone(&notifier) as Arc<dyn kura_app::restock::RestockNotifier>,
        base_url,
    ));
    let shop = Arc::new(Shop::new(ShopParts {
        guard,
        receipts,
        catalog_admin,
        incidents,
        desk,
        retention,
        staff,
        backoffice,
        audit,
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
            notifier,
            kura_web::account_links(base_url),
        ),
        catalog: Catalog::new(Arc::clone(&store)),
        restock,
        carts: Carts::new(Arc::clone(&store), Arc::clone(&clock)),
        orders,
        payments: gateway,
        outbox,
        mailer: mailer(config)?,
        mail_inspector: Arc::new(kura_mail::RawMailReader::new(dkim_keys(config)?)),
        store,
        vault,
        events,
        clock,
        config: web,
    }));
    // The owner's allow-list, when set in the back office, replaces the configuration's.
    shop.load_staff_allow().await?;
    // Search text written by an older version of the folding is written again.
    if shop.catalog.reindex_if_stale().await? {
        tracing::info!(target: "kura::catalog", "search text written again for the current search form");
    }
    let _ = shop_cell.set(Arc::clone(&shop));
    Ok(shop)
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

/// Reads what arrived in the bounce mailbox: each delivery-status notification marks the
/// recipients it proves undeliverable; every mail read goes to `cur/`, where a person can
/// still look at it.
pub async fn read_bounces(state: &AppState, dir: &Path) {
    let d = dir.to_path_buf();
    let taken = match tokio::task::spawn_blocking(move || kura_mail::maildir::take_new(&d, 200))
        .await
    {
        Ok(Ok(taken)) => taken,
        Ok(Err(e)) => {
            tracing::warn!(target: "kura::mail", error = %e, "the bounce mailbox could not be read");
            return;
        }
        Err(_) => return,
    };
    for (path, raw) in taken {
        if let Some(report) = state.mail_inspector.read_bounce(&raw) {
            match state.outbox.record_bounce(&report).await {
                Ok(outcome) => {
                    tracing::info!(target: "kura::mail", marked = outcome.marked, ignored = outcome.ignored, "bounce read")
                }
                Err(e) => {
                    // Left in new/ to be read again once the store answers.
                    tracing::warn!(target: "kura::mail", error = %e, "a bounce could not be recorded");
                    continue;
                }
            }
        }
        if let Err(e) = kura_mail::maildir::mark_seen(dir, &path) {
            tracing::warn!(target: "kura::mail", error = %e, "a read bounce could not be moved to cur/");
        }
    }
}

/// The file transport's folder and how long its mails are kept, when mails are written as files.
#[derive(Debug, Clone)]
pub struct OutboxFiles {
    pub dir: PathBuf,
    pub keep: Duration,
}

impl OutboxFiles {
    pub fn from_config(config: &Config) -> Option<Self> {
        config.mail_to_files().then(|| Self {
            dir: config.mail.outbox_dir.clone(),
            keep: Duration::from_secs(u64::from(config.mail.outbox_keep_days) * 86_400),
        })
    }

    /// Deletes the mail files older than `keep`; a failure is logged, never fatal.
    pub async fn prune(&self) {
        let (dir, keep) = (self.dir.clone(), self.keep);
        match tokio::task::spawn_blocking(move || kura_mail::prune_outbox(&dir, keep)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => {
                tracing::info!(target: "kura::mail", removed = n, "old mail files deleted from the outbox folder")
            }
            Ok(Err(e)) => {
                tracing::warn!(target: "kura::mail", error = %e, "the outbox folder could not be pruned")
            }
            Err(e) => {
                tracing::warn!(target: "kura::mail", error = %e, "the outbox pruning task stopped")
            }
        }
    }
}

/// Sends what is left of every started notice campaign (after a crash, on any node), and
/// moves people whose notice bounced to the postal list.
pub async fn resume_notices(state: &AppState) {
    let ids = match state.incidents.campaigns_to_resume().await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(target: "kura::incidents", error = %e, "notice campaigns not read");
            return;
        }
    };
    for id in ids {
        if let Err(e) = state.incidents.send_notices(id).await {
            tracing::warn!(target: "kura::incidents", incident = id, error = %e, "incident notices not sent");
        }
    }
}

/// What every mail's footer says about who sends it and how to reach them: the seller, their
/// address and the desk's phone and hours (as the legal notice and the desk settings say).
pub fn mail_contact(config: &Config, english: bool) -> String {
    let desk = config.desk.line();
    let legal = if english {
        config.legal.english()
    } else {
        config.legal.clone()
    };
    [
        legal.seller.trim().to_string(),
        legal.address.trim().to_string(),
        if desk.is_empty() {
            String::new()
        } else {
            format!("TEL {desk}")
        },
    ]
    .into_iter()
    .filter(|l| !l.is_empty())
    .collect::<Vec<_>>()
    .join("\n")
}

/// How often the restock sweep looks for requests whose variant has stock again.
pub const RESTOCK_SWEEP_SECONDS: u64 = 30;

/// Mails every 入荷お知らせ whose variant has stock (in rounds of 200).
pub async fn notify_restocked(state: &AppState) {
    loop {
        match state.restock.notify_due(200).await {
            Ok(n) if n >= 200 => continue,
            Ok(n) => {
                if n > 0 {
                    tracing::info!(target: "kura::catalog", mails = n, "restock notices queued");
                }
                break;
            }
            Err(e) => {
                tracing::warn!(target: "kura::catalog", error = %e, "restock notices not queued");
                break;
            }
        }
    }
}

/// The background work of a running shop: mail delivery, card-order expiry, sweeping expired
/// sessions and idle guest carts, and pruning old mail files when mails are written as files.
pub fn spawn_workers(
    state: &AppState,
    outbox_files: Option<OutboxFiles>,
    bounce_maildir: Option<PathBuf>,
    guard_keep_months: i64,
) {
    if let Some(dir) = bounce_maildir {
        let s = Arc::clone(state);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            loop {
                tick.tick().await;
                read_bounces(&s, &dir).await;
            }
        });
    }
    if let Some(guard) = &state.guard {
        crate::guarding::spawn_workers(
            Arc::clone(guard),
            Arc::clone(&state.store),
            Arc::clone(&state.clock),
            guard_keep_months,
        );
    }
    let s = Arc::clone(state);
    tokio::spawn(async move {
        // 入荷お知らせ: requests whose variant has stock again, however it came back.
        let mut tick = tokio::time::interval(Duration::from_secs(RESTOCK_SWEEP_SECONDS));
        loop {
            tick.tick().await;
            notify_restocked(&s).await;
        }
    });
    let s = Arc::clone(state);
    tokio::spawn(async move {
        // Another node may have changed the staff allow-list.
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = s.load_staff_allow().await {
                tracing::warn!(target: "kura::admin", error = %e, "staff allow-list not refreshed");
            }
        }
    });
    let s = Arc::clone(state);
    tokio::spawn(async move {
        // Another node may have opened or closed the shop, or published a notice.
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            if let Err(e) = s.incidents.refresh().await {
                tracing::warn!(target: "kura::incidents", error = %e, "maintenance switch and notices not refreshed");
            }
        }
    });
    let s = Arc::clone(state);
    tokio::spawn(async move {
        // Incident notices: resumed after a restart, and bounces moved to the postal list.
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            resume_notices(&s).await;
        }
    });
    let s = Arc::clone(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tick.tick().await;
            // Round after round while each comes back full (a campaign's thousands of
            // notices), then the 2-second tick again.
            loop {
                match s.outbox.deliver_due(s.mailer.as_ref()).await {
                    Ok((sent, failed)) if sent + failed >= MailOutbox::round_capacity() => {}
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(target: "kura::mail", error = %e, "mail delivery round failed");
                        break;
                    }
                }
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
            match s.orders.expire_transfers_due().await {
                Ok(n) if n > 0 => {
                    tracing::info!(target: "kura::orders", cancelled = n, "bank transfers past their deadline; orders cancelled, stock returned")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(target: "kura::orders", error = %e, "bank-transfer deadline round failed")
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
            if let Some(files) = &outbox_files {
                files.prune().await;
            }
            if let Err(e) = s.staff.purge_expired().await {
                tracing::warn!(target: "kura::staff", error = %e, "staff session sweep failed");
            }
            // The audit log's head goes to the log, where the database cannot rewrite it.
            if let Err(e) = s.audit.log_head().await {
                tracing::warn!(target: "kura::audit", error = %e, "audit head could not be read");
            }
        }
    });
    let s = Arc::clone(state);
    tokio::spawn(async move {
        // Retention: once an hour (the first a minute after start), erase what expired.
        tokio::time::sleep(Duration::from_secs(60)).await;
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match s.retention.run().await {
                Ok(r) if !r.is_empty() => {
                    tracing::info!(target: "kura::retention", customers = r.customers, guest_orders = r.guest_keys, inquiries = r.inquiries, orders_deleted = r.orders, "retention erased expired personal data")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(target: "kura::retention", error = %e, "retention round failed")
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
    let outbox_files = OutboxFiles::from_config(config);
    if let Some(files) = &outbox_files {
        tracing::warn!(target: "kura::mail", dir = %files.dir.display(), keep_days = config.mail.outbox_keep_days, "mail.transport is \"outbox\": mails are not sent but written as files, in plain text (names, addresses, orders), into this folder; for demos only. Set mail.transport = \"smtp\" to send them");
        files.prune().await;
    }
    spawn_workers(
        &state,
        outbox_files,
        config.mail.bounce_maildir.clone(),
        config.guard.keep_months,
    );
    tracing::info!(target: "kura::server", %addr, backend = state.store.backend(), "shop listening");
    announce(addr);
    let app = kura_web::router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_sqlite_database_is_created_private_and_loose_files_are_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("new/kura.db");
        private_sqlite_files(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(std::fs::metadata(&db).unwrap().len(), 0);
        assert_eq!(mode(db.parent().unwrap()), 0o700);

        // A database, WAL and shared-memory file left readable by others (an older Kura, a
        // copy made with the default umask) are tightened; their content is untouched.
        let db = tmp.path().join("kura.db");
        for name in ["kura.db", "kura.db-wal", "kura.db-shm"] {
            let path = tmp.path().join(name);
            std::fs::write(&path, name).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        private_sqlite_files(&db).unwrap();
        for name in ["kura.db", "kura.db-wal", "kura.db-shm"] {
            let path = tmp.path().join(name);
            assert_eq!(mode(&path), 0o600, "{name}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), name);
        }
    }

    #[tokio::test]
    async fn a_shop_opens_its_sqlite_database_with_mode_0600() {
        let tmp = tempfile::tempdir().unwrap();
        let config = Config::load(Some(tmp.path()), None, &[]).unwrap();
        let store = open_store(&config).await.unwrap();
        drop(store);
        let db = tmp.path().join("kura.db");
        assert_eq!(mode(&db), 0o600);
        let wal = tmp.path().join("kura.db-wal");
        if wal.exists() {
            assert_eq!(mode(&wal), 0o600);
        }
    }
}

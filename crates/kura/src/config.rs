//! Typed configuration: defaults < `kura.toml` < `KURA_*` environment < command-line flags.
//!
//! Unknown keys in the file and unknown `KURA_*` variables are refused with a message naming
//! them, so a typo never silently leaves a setting at its default. Relative paths are resolved
//! against the shop directory (`--dir`) or the config file's folder.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

/// Secrets in the configuration are `SecretString`s: `Debug` shows `[REDACTED]`, the memory is
/// wiped on drop, and serialised output holds this placeholder instead of the value.
fn redacted<S: Serializer>(_: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("[redacted]")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[derive(Default)]
pub struct Config {
    pub shop: ShopSection,
    pub server: ServerSection,
    pub database: DatabaseSection,
    pub keys: KeysSection,
    pub session: SessionSection,
    pub admin: AdminSection,
    pub guard: GuardSection,
    pub desk: DeskSection,
    pub passwords: PasswordSection,
    pub log: LogSection,
    pub card: CardSection,
    pub mail: MailSection,
    pub bank: kura_web::BankAccount,
    pub legal: kura_web::LegalNotice,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CardSection {
    /// The payment provider's API (`https://api.stripe.com`); empty turns card payment off.
    pub api_base: String,
    #[serde(serialize_with = "redacted")]
    pub secret_key: SecretString,
    /// The secret that signs the provider's notifications to `/webhooks/payments`.
    #[serde(serialize_with = "redacted")]
    pub webhook_secret: SecretString,
    /// Minutes a card order waits for payment before its stock returns (at least 30).
    pub minutes: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSection {
    /// `smtp` (the default) or `outbox`: each mail written as a file, in plain text, into
    /// `outbox_dir` (the demo's transport; warned about at every start).
    pub transport: String,
    pub outbox_dir: PathBuf,
    /// Mail files in `outbox_dir` older than this many days are deleted (at start and every
    /// ten minutes).
    pub outbox_keep_days: u32,
    /// The sender, e.g. `蔵ショップ <shop@example.jp>`.
    pub from: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    /// `none`, `starttls` or `tls`.
    pub smtp_tls: String,
    pub smtp_username: String,
    #[serde(serialize_with = "redacted")]
    pub smtp_password: SecretString,
    /// Seconds a node holds the mails it claimed for sending; when it dies, another node sends
    /// them after this long.
    pub lease_seconds: i64,
    /// The DKIM selector prefix: the keys that `kura mail keys` makes are published at
    /// `{dkim_selector}-ed._domainkey.{sender's domain}` and `{dkim_selector}-rsa._domainkey…`.
    pub dkim_selector: String,
    /// Mails one node sends to one receiving domain per minute; more wait for the next minute
    /// (a notice to every customer must not arrive at one provider as a burst). 0: no limit.
    pub per_domain_per_minute: u32,
    /// A maildir the shop's bounce address delivers into: delivery-status notifications found
    /// there mark their recipients undeliverable (when they name a mail the shop sent them).
    pub bounce_maildir: Option<PathBuf>,
    /// The TrueType font (with glyph outlines) the letters of an incident's postal list, and
    /// the receipts and invoices of orders, are printed in; Debian's `fonts-ipafont-gothic` by
    /// default.
    pub letter_font: PathBuf,
}

impl Default for CardSection {
    fn default() -> Self {
        Self {
            api_base: String::new(),
            secret_key: SecretString::default(),
            webhook_secret: SecretString::default(),
            minutes: 30,
        }
    }
}

impl Default for MailSection {
    fn default() -> Self {
        Self {
            transport: "smtp".into(),
            outbox_dir: PathBuf::from("outbox"),
            outbox_keep_days: 7,
            from: "Kura <shop@kura.example.jp>".into(),
            smtp_host: "127.0.0.1".into(),
            smtp_port: 25,
            smtp_tls: "none".into(),
            smtp_username: String::new(),
            smtp_password: SecretString::default(),
            lease_seconds: 600,
            dkim_selector: "kura".into(),
            per_domain_per_minute: 120,
            bounce_maildir: None,
            letter_font: PathBuf::from(kura_mail::letters::DEFAULT_FONT),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShopSection {
    /// The shop's name, shown in every page header and mail.
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Address the shop listens on.
    pub listen: SocketAddr,
    /// The URL customers use, e.g. `https://shop.example.jp`. An https URL turns on Secure
    /// `__Host-` cookies and HSTS (TLS terminated here or by a proxy in front).
    pub public_url: Option<String>,
    /// Proxies (CIDR) whose X-Forwarded-For is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Largest request body, in bytes.
    pub body_limit_bytes: usize,
    /// Requests per second (and bursts) allowed per browser session, or per client address for
    /// requests without a session this shop handed out.
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    /// How many times `rate_limit_per_second` one address may send in all when its requests
    /// carry sessions (many customers behind one carrier address); each session still has its
    /// own budget.
    pub rate_limit_shared_factor: u32,
    /// Order lookups (number and email or phone, without an account) one address may try per
    /// `lookup_window_minutes`, and failed tries on one order number before it is held.
    pub lookup_per_address: usize,
    pub lookup_failures_per_order: usize,
    pub lookup_window_minutes: i64,
    /// Where Prometheus metrics are served, apart from the shop (keep it on loopback or a
    /// private network). An empty string turns the metrics listener off.
    pub metrics_listen: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSection {
    /// `sqlite://path/to/kura.db` (default) or `postgres://user@host/db`.
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysSection {
    /// The master key file (mode 0600), created on first start. Never put it beside backups.
    pub file: PathBuf,
    /// How often a running shop checks the key file for a rotation, in seconds.
    pub reload_seconds: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSection {
    pub idle_minutes: i64,
    pub absolute_hours: i64,
}

/// The customer desk (お問い合わせ窓口): shown on the contact form and in every mail's footer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeskSection {
    /// The desk's phone number, e.g. `0120-000-000`.
    pub phone: String,
    /// When the desk answers, e.g. `平日 10:00–17:00`.
    pub hours: String,
    /// The line opened for an incident (shown on its notice page), e.g. `0120-111-222`.
    pub incident_phone: String,
    /// Its hours, e.g. `毎日 9:00–20:00`.
    pub incident_hours: String,
}

impl DeskSection {
    /// The incident line as the notice page prints it; empty when none is set.
    pub fn incident_line(&self) -> String {
        match (self.incident_phone.trim(), self.incident_hours.trim()) {
            ("", "") => String::new(),
            (p, "") => p.to_string(),
            ("", h) => h.to_string(),
            (p, h) => format!("{p}（{h}）"),
        }
    }

    /// `0120-000-000（平日 10:00–17:00）`, what mail footers print; empty when nothing is set.
    pub fn line(&self) -> String {
        match (self.phone.trim(), self.hours.trim()) {
            ("", "") => String::new(),
            (p, "") => p.to_string(),
            ("", h) => h.to_string(),
            (p, h) => format!("{p}（{h}）"),
        }
    }
}

/// The guard: detectors and what they do (see `kura_guard::detect` for the ids and defaults).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardSection {
    /// Off: security events are only logged; nothing is counted, blocked or inspected (for
    /// measuring the guard's cost; a shop runs with it on).
    pub enabled: bool,
    /// Networks never blocked (monitoring, the office); their events still count and alert.
    pub never_block: Vec<IpNet>,
    /// Changes to detectors by id, e.g. `[guard.detectors."probes.source"] threshold = 10`.
    pub detectors: std::collections::BTreeMap<String, DetectorSetting>,
    /// Months security events are kept (the dashboard's history), then purged.
    pub keep_months: i64,
    /// The mail domain of the shop's canary customers (`kura honeytoken add`): any read of
    /// their data raises the highest alert. Kept here, out of the database, so a copy of the
    /// database cannot tell them from real customers. Empty: no canaries.
    pub canary_domain: String,
    /// Where every alert is also posted as JSON (a chat bridge, an on-call service); empty: none.
    /// Each post carries `Kura-Signature: t=UNIX,v1=HEX`, the HMAC-SHA256 of `"{t}.{body}"`
    /// under `alert_webhook_secret`.
    pub alert_webhook: String,
    #[serde(serialize_with = "redacted")]
    pub alert_webhook_secret: SecretString,
    /// When staff work, in Japan time (`mon-fri 09:00-19:00`, `daily 08:00-22:00`,
    /// `mon,wed,fri 10:00-16:00`): a new staff member, a changed role or an export outside
    /// these hours raises an alert.
    pub working_hours: String,
}

impl Default for GuardSection {
    fn default() -> Self {
        Self {
            enabled: true,
            never_block: Vec::new(),
            detectors: std::collections::BTreeMap::new(),
            keep_months: 12,
            canary_domain: String::new(),
            alert_webhook: String::new(),
            alert_webhook_secret: SecretString::from(String::new()),
            working_hours: "mon-fri 09:00-19:00".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorSetting {
    pub threshold: Option<u32>,
    pub window_seconds: Option<i64>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl GuardSection {
    /// The working hours as configured.
    pub fn working_hours(&self) -> anyhow::Result<kura_guard::WorkingHours> {
        kura_guard::WorkingHours::parse(&self.working_hours)
            .map_err(|e| anyhow::anyhow!("guard.working_hours: {e}"))
    }

    /// The detectors as configured; an unknown id is a configuration error.
    pub fn detectors(&self) -> anyhow::Result<Vec<kura_guard::Detector>> {
        let changes: Vec<(String, kura_guard::Tuning)> = self
            .detectors
            .iter()
            .map(|(id, d)| {
                (
                    id.clone(),
                    kura_guard::Tuning {
                        window_seconds: d.window_seconds,
                        threshold: d.threshold,
                        enabled: d.enabled,
                    },
                )
            })
            .collect();
        kura_guard::detect::tuned(&changes)
            .map_err(|id| anyhow::anyhow!("guard.detectors: no detector is called {id:?}"))
    }
}

/// The back office.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSection {
    /// Its path prefix, e.g. `/staff-7f3a` (Japan's card-security guideline asks for one that
    /// is hard to guess).
    pub path: String,
    /// Client networks (CIDR) allowed into the back office; empty: any.
    pub allow: Vec<IpNet>,
    /// Minutes a staff session may sit idle (at most 60).
    pub idle_minutes: i64,
}

impl Default for AdminSection {
    fn default() -> Self {
        Self {
            path: "/admin".into(),
            allow: Vec::new(),
            idle_minutes: 15,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordSection {
    /// Argon2id memory in KiB (at least 19456).
    pub memory_kib: u32,
    /// Argon2id iterations (at least 2).
    pub iterations: u32,
    /// Argon2id lanes (at least 1).
    pub parallelism: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// A tracing filter, e.g. `info` or `info,kura::store=debug`.
    pub level: String,
    /// `json` (default) or `text`.
    pub format: String,
}

impl Default for ShopSection {
    fn default() -> Self {
        Self {
            name: "Kura".into(),
        }
    }
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            trusted_proxies: Vec::new(),
            body_limit_bytes: 64 * 1024,
            rate_limit_per_second: 50,
            rate_limit_burst: 200,
            rate_limit_shared_factor: 25,
            lookup_per_address: 10,
            lookup_failures_per_order: 5,
            lookup_window_minutes: 15,
            metrics_listen: "127.0.0.1:9464".into(),
        }
    }
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self {
            url: "sqlite://kura.db".into(),
        }
    }
}

impl Default for KeysSection {
    fn default() -> Self {
        Self {
            file: PathBuf::from("kura.key"),
            reload_seconds: 5,
        }
    }
}

impl Default for SessionSection {
    fn default() -> Self {
        Self {
            idle_minutes: 30,
            absolute_hours: 12,
        }
    }
}

impl Default for PasswordSection {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: "json".into(),
        }
    }
}

/// Environment variables that belong to tools around Kura, not to its configuration.
const ENV_NOT_CONFIG: &[&str] = &["KURA_TEST_", "KURA_BENCH_"];

/// Every `section.key` of the configuration, as `KURA_SECTION_KEY` → (section, key).
fn env_names() -> anyhow::Result<BTreeMap<String, (String, String)>> {
    let value = serde_json::to_value(Config::default())?;
    let mut names = BTreeMap::new();
    if let Some(sections) = value.as_object() {
        for (section, body) in sections {
            for key in body
                .as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
            {
                names.insert(
                    format!("KURA_{}_{}", section.to_uppercase(), key.to_uppercase()),
                    (section.clone(), key),
                );
            }
        }
    }
    Ok(names)
}

fn env_value(raw: &str) -> toml::Value {
    // A TOML literal (number, boolean, array) when it parses as one; otherwise a string.
    if raw.is_empty() {
        return toml::Value::String(String::new());
    }
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

/// What `kura demo` changes in the defaults: mails are written as files into the outbox folder
/// (a demo has no mail server). Its `kura.toml` says so too; this covers demo directories made
/// before it did. The file and the environment still override it.
const DEMO_DEFAULTS: &[(&str, &str, &str)] = &[
    ("mail", "transport", "outbox"),
    ("desk", "phone", "0120-000-000"),
    ("desk", "hours", "平日 10:00–17:00"),
];

impl Config {
    /// Loads the configuration for a shop directory (`--dir`) or a config file.
    pub fn load(
        dir: Option<&Path>,
        file: Option<&Path>,
        env: &[(String, String)],
    ) -> anyhow::Result<Self> {
        Self::load_layered(dir, file, env, &[])
    }

    /// Loads a demo shop's configuration: the demo's defaults, then its `kura.toml`, then the
    /// environment.
    pub fn load_demo(dir: &Path, env: &[(String, String)]) -> anyhow::Result<Self> {
        Self::load_layered(Some(dir), None, env, DEMO_DEFAULTS)
    }

    fn load_layered(
        dir: Option<&Path>,
        file: Option<&Path>,
        env: &[(String, String)],
        defaults: &[(&str, &str, &str)],
    ) -> anyhow::Result<Self> {
        let (file, base) = match (dir, file) {
            (_, Some(f)) => (
                Some(f.to_path_buf()),
                f.parent().map(Path::to_path_buf).unwrap_or_default(),
            ),
            (Some(d), None) => (Some(d.join("kura.toml")), d.to_path_buf()),
            (None, None) => (Some(PathBuf::from("kura.toml")), PathBuf::new()),
        };
        let mut table = match &file {
            Some(f) if f.exists() => {
                let text = std::fs::read_to_string(f)
                    .with_context(|| format!("cannot read {}", f.display()))?;
                toml::from_str::<toml::Table>(&text)
                    .with_context(|| format!("{} is not valid TOML", f.display()))?
            }
            _ => toml::Table::new(),
        };
        if let Some(f) = file.as_ref().filter(|f| f.exists()) {
            // Check the file alone first, so its mistakes are reported as the file's.
            toml::Value::Table(table.clone())
                .try_into::<Config>()
                .map_err(|e| anyhow::anyhow!("{}: {}", f.display(), e.message()))?;
        }
        for (section, key, value) in defaults {
            let entry = table
                .entry(section.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(t) = entry {
                t.entry(key.to_string())
                    .or_insert_with(|| toml::Value::String(value.to_string()));
            }
        }
        let names = env_names()?;
        let mut unknown = Vec::new();
        for (name, raw) in env {
            if !name.starts_with("KURA_") || ENV_NOT_CONFIG.iter().any(|p| name.starts_with(p)) {
                continue;
            }
            let Some((section, key)) = names.get(name) else {
                unknown.push(name.clone());
                continue;
            };
            let entry = table
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(t) = entry {
                t.insert(key.clone(), env_value(raw));
            }
        }
        if !unknown.is_empty() {
            bail!(
                "unknown configuration variable(s): {}. Known ones are: {}",
                unknown.join(", "),
                names.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        let mut config: Config =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| {
                    anyhow::anyhow!(
                        "configuration (file or KURA_* environment): {}",
                        e.message()
                    )
                })?;
        config.resolve_paths(&base, dir.is_some());
        config.check()?;
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path, is_shop_dir: bool) {
        if self.mail.outbox_dir.is_relative() && !base.as_os_str().is_empty() {
            self.mail.outbox_dir = base.join(&self.mail.outbox_dir);
        }
        if let Some(dir) = &self.mail.bounce_maildir
            && dir.is_relative()
            && !base.as_os_str().is_empty()
        {
            self.mail.bounce_maildir = Some(base.join(dir));
        }
        if self.keys.file.is_relative() && !base.as_os_str().is_empty() {
            self.keys.file = base.join(&self.keys.file);
        }
        if let Some(path) = self.database.url.strip_prefix("sqlite://")
            && Path::new(path).is_relative()
            && (is_shop_dir || !base.as_os_str().is_empty())
        {
            self.database.url = format!("sqlite://{}", base.join(path).display());
        }
    }

    fn check(&self) -> anyhow::Result<()> {
        if let Some(name) = self.legal.unknown_english_fields().first() {
            bail!(
                "legal.en.{name} is not a field of [legal] (known: {})",
                kura_web::LegalNotice::FIELDS.join(", ")
            );
        }
        let registration = self.legal.invoice_registration_number.trim();
        if !registration.is_empty()
            && let Err(e) = kura_domain::RegistrationNumber::parse(registration)
        {
            bail!(
                "legal.invoice_registration_number {registration:?} is not an invoice registration number: {e}"
            );
        }
        let url = &self.database.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            bail!(
                "database.url must start with sqlite:// or postgres:// (got a value of another kind)"
            );
        }
        if let Some(public) = &self.server.public_url
            && !(public.starts_with("https://") || public.starts_with("http://"))
        {
            bail!("server.public_url must be an http:// or https:// URL");
        }
        self.guard.detectors()?;
        self.guard.working_hours()?;
        if !self.guard.alert_webhook.is_empty() {
            if !(self.guard.alert_webhook.starts_with("https://")
                || self.guard.alert_webhook.starts_with("http://127.0.0.1")
                || self.guard.alert_webhook.starts_with("http://localhost"))
            {
                bail!("guard.alert_webhook must be an https:// URL (or http on this machine)");
            }
            if self.guard.alert_webhook_secret.expose_secret().len() < 16 {
                bail!("guard.alert_webhook_secret must be set (16 characters or more)");
            }
        }
        if self.guard.keep_months < 1 {
            bail!("guard.keep_months must be at least 1");
        }
        if self.session.idle_minutes < 1 || self.session.absolute_hours < 1 {
            bail!("session.idle_minutes and session.absolute_hours must be at least 1");
        }
        let path = self.admin.path.as_str();
        let reserved = [
            "/api",
            "/assets",
            "/account",
            "/cart",
            "/checkout",
            "/orders",
            "/products",
            "/category",
            "/search",
            "/images",
            "/lang",
            "/login",
            "/logout",
            "/webhooks",
            "/legal",
            "/healthz",
            "/readyz",
            "/csp-report",
        ];
        if !(2..=64).contains(&path.len())
            || !path.starts_with('/')
            || path.ends_with('/')
            || !path[1..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            || reserved
                .iter()
                .any(|r| path == *r || path.starts_with(&format!("{r}/")))
        {
            bail!(
                "admin.path must be one path segment such as /admin or /staff-7f3a (letters, digits, - and _), not one the shop uses"
            );
        }
        if !(1..=60).contains(&self.admin.idle_minutes) {
            bail!("admin.idle_minutes must be from 1 to 60");
        }
        if !self.server.metrics_listen.is_empty()
            && self.server.metrics_listen.parse::<SocketAddr>().is_err()
        {
            bail!(
                "server.metrics_listen must be an address such as 127.0.0.1:9464, or empty to turn metrics off"
            );
        }
        if !matches!(self.mail.transport.as_str(), "outbox" | "smtp") {
            bail!("mail.transport must be \"smtp\" or \"outbox\"");
        }
        if self.mail.outbox_keep_days == 0 {
            bail!("mail.outbox_keep_days must be at least 1");
        }
        if !self.card.api_base.is_empty() {
            // Without the signing secret no notification verifies: every card order would wait
            // and then expire although paid. Refuse to start instead.
            for (key, value) in [
                ("webhook_secret", &self.card.webhook_secret),
                ("secret_key", &self.card.secret_key),
            ] {
                if value.expose_secret().trim().is_empty() {
                    bail!(
                        "card payment is configured (card.api_base = {:?}) but card.{key} is \
                         empty: set card.{key} in kura.toml or KURA_CARD_{} in the environment \
                         ({}), or leave card.api_base empty to turn card payment off",
                        self.card.api_base,
                        key.to_uppercase(),
                        if key == "webhook_secret" {
                            "the signing secret of the provider's webhook endpoint, whsec_..."
                        } else {
                            "the provider's secret API key, sk_live_..."
                        }
                    );
                }
            }
        }
        if !matches!(self.mail.smtp_tls.as_str(), "none" | "starttls" | "tls") {
            bail!("mail.smtp_tls must be \"none\", \"starttls\" or \"tls\"");
        }
        if !(5..=86_400).contains(&self.mail.lease_seconds) {
            bail!("mail.lease_seconds must be between 5 and 86400");
        }
        if self.card.minutes < 30 {
            bail!("card.minutes must be at least 30 (payment providers refuse shorter windows)");
        }
        if self.keys.reload_seconds == 0 {
            bail!("keys.reload_seconds must be at least 1");
        }
        Ok(())
    }

    /// The shop's origin (scheme://host[:port]) from `public_url`.
    pub fn public_origin(&self) -> Option<String> {
        let url = self.server.public_url.as_deref()?;
        let (scheme, rest) = url.split_once("://")?;
        let host = rest.split('/').next()?;
        Some(format!("{scheme}://{host}"))
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.server.metrics_listen.parse().ok()
    }

    /// The base URL links in mails and provider redirects point at.
    pub fn base_url(&self, listening: SocketAddr) -> String {
        match &self.server.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{listening}"),
        }
    }

    /// Whether mails are written as files instead of being sent.
    pub fn mail_to_files(&self) -> bool {
        self.mail.transport == "outbox"
    }

    pub fn tls(&self) -> bool {
        self.server
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("kura.toml"),
            "[shop]\nname = \"蔵の店\"\n[server]\nlisten = \"127.0.0.1:9000\"\n",
        )
        .unwrap();
        let c = Config::load(
            Some(dir.path()),
            None,
            &env(&[
                ("KURA_SERVER_LISTEN", "127.0.0.1:9100"),
                ("KURA_TEST_PG_URL", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(c.shop.name, "蔵の店");
        assert_eq!(c.server.listen.port(), 9100);
        assert_eq!(c.keys.file, dir.path().join("kura.key"));
        assert_eq!(
            c.database.url,
            format!("sqlite://{}", dir.path().join("kura.db").display())
        );
        let c = Config::load(
            Some(dir.path()),
            None,
            &env(&[("KURA_SERVER_TRUSTED_PROXIES", "[\"10.0.0.0/8\"]")]),
        )
        .unwrap();
        assert_eq!(c.server.trusted_proxies.len(), 1);
    }

    #[test]
    fn the_legal_notice_has_english_twins_and_refuses_unknown_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("kura.toml"),
            "[legal]\nseller = \"株式会社見本\"\naddress = \"大阪府大阪市北区梅田1-1\"\n[legal.en]\nseller = \"Mihon Ltd.\"\n",
        )
        .unwrap();
        let c = Config::load(Some(dir.path()), None, &[]).unwrap();
        assert_eq!(c.legal.seller, "株式会社見本");
        assert_eq!(c.legal.english().seller, "Mihon Ltd.");
        // A field of the shop's own without an English text shows the Japanese one.
        assert_eq!(c.legal.english().address, "大阪府大阪市北区梅田1-1");
        // A shop that writes its own Japanese notice never shows the demo's English.
        std::fs::write(
            dir.path().join("kura.toml"),
            "[legal]\nseller = \"株式会社見本\"\n",
        )
        .unwrap();
        let c = Config::load(Some(dir.path()), None, &[]).unwrap();
        assert_eq!(c.legal.english().seller, "株式会社見本");
        // Fields still holding the demo text get the demo's English.
        assert!(
            c.legal
                .english()
                .cancellation
                .starts_with("Until the order ships")
        );
        std::fs::write(
            dir.path().join("kura.toml"),
            "[legal.en]\nseler = \"typo\"\n",
        )
        .unwrap();
        let e = Config::load(Some(dir.path()), None, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("legal.en.seler"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("kura.toml"),
            "[server]\nlisten_addr = \"127.0.0.1:9000\"\n",
        )
        .unwrap();
        let e = Config::load(Some(dir.path()), None, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("listen_addr"), "{e}");
        let empty = tempfile::tempdir().unwrap();
        let e = Config::load(
            Some(empty.path()),
            None,
            &env(&[("KURA_SERVER_LISTN", "x")]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("KURA_SERVER_LISTN"), "{e}");
        let e = Config::load(
            Some(empty.path()),
            None,
            &env(&[("KURA_SERVER_LISTEN", "not an address")]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("listen") || e.contains("address"), "{e}");
    }

    #[test]
    fn secrets_never_show_in_debug_or_serialised_output() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("kura.toml"),
            "[card]\napi_base = \"https://api.stripe.com\"\nsecret_key = \"sk_live_card-secret-1\"\n\
             [mail]\nsmtp_username = \"shop\"\nsmtp_password = \"smtp-secret-2\"\n",
        )
        .unwrap();
        let c = Config::load(
            Some(dir.path()),
            None,
            &env(&[("KURA_CARD_WEBHOOK_SECRET", "whsec_hook-secret-3")]),
        )
        .unwrap();
        assert_eq!(c.card.secret_key.expose_secret(), "sk_live_card-secret-1");
        assert_eq!(c.card.webhook_secret.expose_secret(), "whsec_hook-secret-3");
        assert_eq!(c.mail.smtp_password.expose_secret(), "smtp-secret-2");
        let shown = [
            format!("{c:?}"),
            format!("{c:#?}"),
            serde_json::to_string(&c).unwrap(),
            toml::to_string(&c).unwrap(),
        ];
        for text in &shown {
            for secret in ["card-secret-1", "smtp-secret-2", "hook-secret-3"] {
                assert!(!text.contains(secret), "{secret} shown in {text}");
            }
            assert!(text.contains("api.stripe.com"), "{text}");
        }
    }

    #[test]
    fn card_payment_without_its_secrets_refuses_to_start() {
        let dir = tempfile::tempdir().unwrap();
        let e = Config::load(
            Some(dir.path()),
            None,
            &env(&[
                ("KURA_CARD_API_BASE", "https://api.stripe.com"),
                ("KURA_CARD_SECRET_KEY", "sk_live_x"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("card.webhook_secret"), "{e}");
        assert!(e.contains("KURA_CARD_WEBHOOK_SECRET"), "{e}");
        assert!(e.contains("whsec_"), "{e}");
        let e = Config::load(
            Some(dir.path()),
            None,
            &env(&[
                ("KURA_CARD_API_BASE", "https://api.stripe.com"),
                ("KURA_CARD_WEBHOOK_SECRET", "whsec_x"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("card.secret_key"), "{e}");
        // Both set: it starts; no card payment at all: it starts.
        Config::load(
            Some(dir.path()),
            None,
            &env(&[
                ("KURA_CARD_API_BASE", "https://api.stripe.com"),
                ("KURA_CARD_SECRET_KEY", "sk_live_x"),
                ("KURA_CARD_WEBHOOK_SECRET", "whsec_x"),
            ]),
        )
        .unwrap();
        Config::load(Some(dir.path()), None, &[]).unwrap();
    }

    #[test]
    fn mail_goes_by_smtp_unless_files_are_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(Some(dir.path()), None, &[]).unwrap();
        assert_eq!(c.mail.transport, "smtp");
        assert!(!c.mail_to_files());
        assert_eq!(c.mail.outbox_keep_days, 7);
        // A demo directory writes files, even one whose kura.toml predates the setting...
        let c = Config::load_demo(dir.path(), &[]).unwrap();
        assert!(c.mail_to_files());
        // ...unless its file or the environment says otherwise.
        let c = Config::load_demo(dir.path(), &env(&[("KURA_MAIL_TRANSPORT", "smtp")])).unwrap();
        assert!(!c.mail_to_files());
        std::fs::write(
            dir.path().join("kura.toml"),
            "[mail]\ntransport = \"smtp\"\noutbox_keep_days = 2\n",
        )
        .unwrap();
        let c = Config::load_demo(dir.path(), &[]).unwrap();
        assert!(!c.mail_to_files());
        assert_eq!(c.mail.outbox_keep_days, 2);
        std::fs::write(
            dir.path().join("kura.toml"),
            "[mail]\noutbox_keep_days = 0\n",
        )
        .unwrap();
        let e = Config::load(Some(dir.path()), None, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("mail.outbox_keep_days"), "{e}");
    }
}

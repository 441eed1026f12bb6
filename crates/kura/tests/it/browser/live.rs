//! A real shop on a real port for the browser: the demo catalog, the payment sandbox for cards
//! (its webhook pointed back at the shop), the serve workers delivering mail into the outbox.
//! Everything lives in one temporary directory, which also holds the browser's artifacts.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use kura::config::Config;
use kura_web::AppState;
use tempfile::TempDir;

use crate::support;

pub struct LiveShop {
    pub dir: TempDir,
    pub config: Config,
    pub state: AppState,
    /// `http://127.0.0.1:<port>`, as the browser reaches it.
    pub base: String,
    /// The demo owner's first password (`owner`), as `kura demo` shows it once.
    pub owner_password: String,
    sandbox: kura_pay::sandbox::RunningSandbox,
    server: tokio::task::JoinHandle<()>,
}

impl LiveShop {
    /// Starts the shop the way `kura demo` does, with the test configuration.
    pub async fn start() -> Self {
        Self::start_as(None).await
    }

    /// The shop as the browser reaches it at `http://localhost:<port>`: the address passkeys
    /// work on (browsers refuse an IP address as a WebAuthn relying party).
    pub async fn start_on_localhost() -> Self {
        Self::start_as(Some("localhost")).await
    }

    async fn start_as(host: Option<&str>) -> Self {
        support::init_logs();
        let dir = tempfile::tempdir().unwrap();
        let mut config = support::test_config(dir.path(), None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        if let Some(host) = host {
            config.server.public_url = Some(format!("http://{host}:{}", addr.port()));
        }
        let base = config.base_url(addr);
        let sandbox = kura_pay::sandbox::start(kura_pay::sandbox::SandboxConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            webhook_url: Some(format!("http://{addr}/webhooks/payments")),
            ..Default::default()
        })
        .await
        .unwrap();
        let gateway = kura_pay::StripeCheckout::new(kura_pay::StripeConfig::new(
            sandbox.base_url().to_string(),
            secrecy::SecretString::from(kura_pay::sandbox::DEFAULT_SECRET_KEY.to_string()),
            secrecy::SecretString::from(kura_pay::sandbox::DEFAULT_WEBHOOK_SECRET.to_string()),
        ))
        .unwrap();
        let gateway: Arc<dyn kura_app::payments::PaymentGateway> = Arc::new(gateway);
        kura::shop::init_keys(&config).await.unwrap();
        let state = kura::shop::build_at(&config, &base, Some(gateway))
            .await
            .unwrap();
        let owner_password = kura::demo::seed(&state, 0, 0).await.unwrap().unwrap();
        let server = {
            let (config, state) = (config.clone(), Arc::clone(&state));
            tokio::spawn(async move {
                if let Err(e) = kura::shop::serve(listener, &config, state, |_| {}).await {
                    eprintln!("the shop stopped: {e:#}");
                }
            })
        };
        Self {
            dir,
            config,
            state,
            base,
            owner_password,
            sandbox,
            server,
        }
    }

    /// The payment sandbox's origin, where the card page lives.
    pub fn sandbox_url(&self) -> &str {
        self.sandbox.base_url()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn artifacts(&self) -> PathBuf {
        let path = match std::env::var_os("KURA_BROWSER_ARTIFACTS") {
            // CI may collect failure screenshots from a folder of its choosing.
            Some(root) => PathBuf::from(root).join(
                self.dir
                    .path()
                    .file_name()
                    .map(PathBuf::from)
                    .unwrap_or_default(),
            ),
            None => self.dir.path().join("browser"),
        };
        std::fs::create_dir_all(&path).unwrap();
        path
    }

    /// Waits (up to 20 s: the workers deliver every 2 s) for a mail whose decoded text
    /// contains every one of `needles`, and returns that text.
    pub async fn wait_for_mail(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            for text in read_outbox(&self.config.mail.outbox_dir) {
                if needles.iter().all(|n| text.contains(n)) {
                    return text;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no mail with {needles:?} in {} within 20 s; outbox holds: {:#?}",
                self.config.mail.outbox_dir.display(),
                read_outbox(&self.config.mail.outbox_dir)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every mail in the outbox so far, decoded.
    pub fn mails(&self) -> Vec<String> {
        read_outbox(&self.config.mail.outbox_dir)
    }

    pub async fn stock(&self, sku: &str) -> i64 {
        self.state
            .store
            .catalog_items(&[sku.to_string()])
            .await
            .unwrap()[0]
            .stock
    }
}

impl Drop for LiveShop {
    fn drop(&mut self) {
        self.server.abort();
        if std::thread::panicking() {
            // Keep the screenshot, page source and logs of a failed story for a person to read.
            self.dir.disable_cleanup(true);
        }
    }
}

/// Every `.eml` in the outbox, decoded.
fn read_outbox(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|raw| mail_text(&raw))
        .collect()
}

/// The readable text of an RFC 5322 message: header lines as they are, then each MIME part's
/// body decoded from base64 or quoted-printable (RFC 2045 §6.7–6.8).
pub fn mail_text(raw: &str) -> String {
    let mut out = String::new();
    let mut in_headers = true;
    let mut encoding = String::new();
    let mut body: Vec<&str> = Vec::new();
    let flush = |out: &mut String, encoding: &str, body: &mut Vec<&str>| {
        out.push_str(&decode_part(encoding, body));
        out.push('\n');
        body.clear();
    };
    for line in raw.lines() {
        if line.starts_with("--") {
            flush(&mut out, &encoding, &mut body);
            in_headers = true;
            encoding.clear();
            out.push_str(line);
            out.push('\n');
        } else if in_headers {
            if line.is_empty() {
                in_headers = false;
            } else if let Some(v) = line
                .to_ascii_lowercase()
                .strip_prefix("content-transfer-encoding:")
            {
                encoding = v.trim().to_string();
            }
            out.push_str(line);
            out.push('\n');
        } else {
            body.push(line);
        }
    }
    flush(&mut out, &encoding, &mut body);
    out
}

fn decode_part(encoding: &str, lines: &[&str]) -> String {
    match encoding {
        "base64" => {
            let joined: String = lines.concat().split_whitespace().collect();
            base64::engine::general_purpose::STANDARD
                .decode(joined)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_else(|_| lines.join("\n"))
        }
        "quoted-printable" => {
            let mut bytes = Vec::new();
            for line in lines {
                let (line, soft) = match line.strip_suffix('=') {
                    Some(l) => (l, true),
                    None => (*line, false),
                };
                let raw = line.as_bytes();
                let mut i = 0;
                while i < raw.len() {
                    let hex = raw
                        .get(i + 1..i + 3)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match (raw[i], hex) {
                        (b'=', Some(b)) => {
                            bytes.push(b);
                            i += 3;
                        }
                        (c, _) => {
                            bytes.push(c);
                            i += 1;
                        }
                    }
                }
                if !soft {
                    bytes.push(b'\n');
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        _ => lines.join("\n"),
    }
}

#[test]
fn mail_parts_are_decoded() {
    let raw = "Subject: x\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--b\r\n\
Content-Transfer-Encoding: base64\r\n\r\n44GU5rOo5paH55Wq5Y+3\r\nIEsxMjM=\r\n--b\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\n=E3=81=94=E6=B3=A8=E6=96=87 =\r\nK123\r\n--b--\r\n";
    let text = mail_text(raw);
    assert!(text.contains("ご注文番号 K123"), "{text}");
    assert!(text.contains("ご注文 K123"), "{text}");
}

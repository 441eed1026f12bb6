//! The test harness: a real shop (router, store, keys) in a temporary directory, an HTTP client
//! with a cookie jar (in process, or over loopback to a `kura serve` node this harness starts),
//! captured logs, and fresh PostgreSQL databases when `KURA_TEST_PG_URL` is set.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use kura::config::Config;
use kura_domain::{
    AddressLine, BirthDate, CustomerProfile, Email, Gender, Kana, Person, PersonName, Phone,
    PostalCode, Prefecture,
};
use kura_web::AppState;
use tempfile::TempDir;
use tower::ServiceExt;

/// Everything the process logged while the tests ran (JSON lines, debug level).
static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn init_logs() {
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Capture(Arc::clone(&buf));
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_writer(move || sink.clone())
            .json()
            .with_current_span(true)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buf
    });
}

pub fn captured_logs() -> Vec<u8> {
    LOGS.get()
        .and_then(|b| b.lock().ok().map(|v| v.clone()))
        .unwrap_or_default()
}

pub struct TestShop {
    pub dir: TempDir,
    pub config: Config,
    pub state: AppState,
    pub router: Router,
}

pub fn test_config(dir: &Path, db_url: Option<&str>) -> Config {
    // Mails as files, so tests read what was sent (a shop sends by SMTP unless told otherwise).
    let mut env = vec![
        ("KURA_SERVER_METRICS_LISTEN".to_string(), String::new()),
        ("KURA_MAIL_TRANSPORT".to_string(), "outbox".to_string()),
    ];
    if let Some(url) = db_url {
        env.push(("KURA_DATABASE_URL".into(), url.into()));
    }
    Config::load(Some(dir), None, &env).unwrap()
}

pub async fn shop_with(db_url: Option<&str>, tweak: impl FnOnce(&mut Config)) -> TestShop {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), db_url);
    tweak(&mut config);
    kura::shop::init_keys(&config).await.unwrap();
    let state = kura::shop::build(&config).await.unwrap();
    let router = kura_web::router(Arc::clone(&state));
    TestShop {
        dir,
        config,
        state,
        router,
    }
}

pub async fn sqlite_shop() -> TestShop {
    shop_with(None, |_| {}).await
}

/// A fresh PostgreSQL database on the server named by `KURA_TEST_PG_URL`, or `None`.
pub async fn fresh_pg() -> Option<String> {
    let url = std::env::var("KURA_TEST_PG_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    let admin = sqlx::PgPool::connect(&url)
        .await
        .expect("KURA_TEST_PG_URL is set but the server does not answer");
    let name = format!(
        "kura_t_{}",
        hex::encode(kura_seal::random_bytes::<6>().unwrap())
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    Some(kura::bench::replace_db(&url, &name))
}

/// A fresh PostgreSQL database for a case that must run on PostgreSQL: a missing
/// `KURA_TEST_PG_URL` fails the case instead of letting it pass unrun.
pub async fn required_pg() -> String {
    fresh_pg().await.expect(
        "this PostgreSQL case was asked for (--include-ignored) but KURA_TEST_PG_URL is not set",
    )
}

/// A customer with distinctive values that the invariant tests search for.
pub fn profile(n: u32) -> CustomerProfile {
    CustomerProfile {
        person: Person {
            family_name: PersonName::parse(&format!(
                "鏑木{}",
                ["甲", "乙", "丙", "丁", "戊"][n as usize % 5]
            ))
            .unwrap(),
            given_name: PersonName::parse("瑞穂").unwrap(),
            family_name_kana: Kana::parse("カブラギ").unwrap(),
            given_name_kana: Kana::parse("ミズホ").unwrap(),
            postal_code: PostalCode::parse(&format!("98{:05}", 76543 + n)).unwrap(),
            prefecture: Prefecture::parse("北海道").unwrap(),
            address1: AddressLine::parse(&format!("札幌市中央区宮の森{n}条9丁目")).unwrap(),
            address2: Some(AddressLine::parse("ヴィラ月寒708号室").unwrap()),
            phone: Phone::parse(&format!("090-{:04}-8{:03}", 7000 + n, n)).unwrap(),
        },
        email: Email::parse(&format!("mizuho.kaburagi{n}@example.jp")).unwrap(),
        birth_date: Some(BirthDate::parse("1987-06-05", (2026, 1, 1)).unwrap()),
        gender: Some(Gender::Female),
    }
}

/// An HTTP response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    /// The body as sent (a PDF, an image).
    pub bytes: Vec<u8>,
}

/// A `kura serve` process, killed when dropped.
pub struct Node(pub Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the `kura` binary (`serve`) on the shop directory, listening on `listen` (port 0: any
/// free one), with mails to the outbox and no metrics listener unless `env` says otherwise;
/// no `KURA_*` variable of the test's own environment reaches it. Answers the node and its
/// base URL (`http://127.0.0.1:PORT/`) once it serves.
pub fn serve(dir: &Path, listen: &str, env: &[(&str, &str)]) -> (Node, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kura"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("KURA_")) {
        cmd.env_remove(k);
    }
    cmd.args(["serve", "--listen", listen, "--dir"])
        .arg(dir)
        .env("KURA_MAIL_TRANSPORT", "outbox")
        .env("KURA_SERVER_METRICS_LISTEN", "");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the kura binary runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("the node did not start: {line}"))
        .to_string();
    (Node(child), base)
}

/// A free loopback port (for a node whose address must be known before it starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where a client's requests go.
#[derive(Clone)]
enum Target {
    /// The router, called in process with `peer` as the connection's address.
    Router(Router),
    /// A node over loopback (`base` ends with `/`); the node trusts loopback as its proxy, so
    /// `X-Forwarded-For: peer's address` names the source, as a load balancer would.
    Remote { base: String, http: reqwest::Client },
}

/// A browser stand-in: keeps cookies and talks to the shop from a fixed peer address.
pub struct Client {
    target: Target,
    pub cookies: BTreeMap<String, String>,
    pub peer: SocketAddr,
}

impl Client {
    pub fn new(router: &Router) -> Self {
        Self {
            target: Target::Router(router.clone()),
            cookies: BTreeMap::new(),
            peer: "192.0.2.10:40000".parse().unwrap(),
        }
    }

    /// A browser reaching the node at `base` over HTTP from `source` (through the trusted
    /// loopback proxy); redirects are answered, not followed.
    pub fn remote(base: &str, source: &str) -> Self {
        let http = kura_pay::http_client(std::time::Duration::from_secs(30)).unwrap();
        Self {
            target: Target::Remote {
                base: base.to_string(),
                http,
            },
            cookies: BTreeMap::new(),
            peer: SocketAddr::new(source.parse().unwrap(), 40000),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn send(&mut self, mut req: Request<Body>) -> Reply {
        if !self.cookies.is_empty() && !req.headers().contains_key("cookie") {
            req.headers_mut()
                .insert("cookie", self.cookie_header().parse().unwrap());
        }
        let (status, headers, bytes) = match &self.target {
            Target::Router(router) => {
                req.extensions_mut().insert(ConnectInfo(self.peer));
                let res = router.clone().oneshot(req).await.unwrap();
                let (parts, body) = res.into_parts();
                let bytes = body.collect().await.unwrap().to_bytes();
                (parts.status, parts.headers, bytes)
            }
            Target::Remote { base, http } => {
                let (parts, body) = req.into_parts();
                let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                let url = format!("{}{}", base.trim_end_matches('/'), path);
                let origin = base.trim_end_matches('/');
                let mut headers = parts.headers;
                // The page was served by this node: its forms post back to it.
                headers.remove("host");
                if headers.contains_key("origin") {
                    headers.insert("origin", origin.parse().unwrap());
                }
                headers.insert(
                    "x-forwarded-for",
                    self.peer.ip().to_string().parse().unwrap(),
                );
                let body = body.collect().await.unwrap().to_bytes();
                let res = http
                    .request(parts.method, url)
                    .headers(headers)
                    .body(body)
                    .send()
                    .await
                    .expect("the node answers");
                let (status, headers) = (res.status(), res.headers().clone());
                (status, headers, res.bytes().await.unwrap())
            }
        };
        for v in headers.get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes: bytes.to_vec(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    /// Posts a form the way a browser on the shop's own page does.
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body = encode_form(fields);
        let req = Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", "http://shop.test")
            .header("host", "shop.test")
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    /// The CSRF token from the hidden field of the page at `path`.
    pub async fn csrf_from(&mut self, path: &str) -> String {
        let page = self.get(path).await;
        hidden_value(&page.body, "csrf_token").expect("page has a csrf_token field")
    }
}

pub fn encode_form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

//! `kura bench web`: the shop under load, beside a bare axum handler on the same machine.
//!
//! Starts a demo shop on SQLite as a child process (`kura serve`) and a bare server
//! (`kura bench-bare`: one axum handler that reads one product row and renders it), then drives
//! each with N keep-alive connections from this process and prints requests per second, p50 and
//! p99 latency, the ratio to the bare handler, and the shop's peak memory (VmHWM).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

pub(crate) struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str], dir: &Path) -> anyhow::Result<(ChildGuard, SocketAddr)> {
    spawn_with(args, dir, &[])
}

/// Runs this binary with `args` on `dir` (and `env`), and reads the address it serves on.
pub(crate) fn spawn_with(
    args: &[&str],
    dir: &Path,
    env: &[(&str, &str)],
) -> anyhow::Result<(ChildGuard, SocketAddr)> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(args)
        .arg("--dir")
        .arg(dir)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let addr = line
        .split("http://")
        .nth(1)
        .map(|s| s.trim().trim_end_matches('/'))
        .context("no address printed")?;
    Ok((ChildGuard(child), addr.parse()?))
}

/// What one connection does in a loop: the request to send, given the iteration number.
type MakeRequest = Arc<dyn Fn(u64, &ConnState) -> Request<Full<Bytes>> + Send + Sync>;

#[derive(Default, Clone)]
pub struct ConnState {
    cookie: String,
    csrf: String,
    cart: String,
    cart_token: String,
}

struct Outcome {
    requests: u64,
    errors: u64,
    elapsed: Duration,
    latencies: Vec<u32>,
    /// Latencies of the odd-numbered requests alone (the checkouts of the API scenario).
    odd_latencies: Vec<u32>,
}

async fn connect(
    addr: SocketAddr,
) -> anyhow::Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn send(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> anyhow::Result<(u16, hyper::HeaderMap, Bytes)> {
    sender.ready().await?;
    let res = sender.send_request(req).await?;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await?.to_bytes();
    Ok((status, headers, body))
}

fn get(addr: SocketAddr, path: &str, cookie: &str) -> Request<Full<Bytes>> {
    let mut b = Request::get(path).header("host", addr.to_string());
    if !cookie.is_empty() {
        b = b.header("cookie", cookie);
    }
    b.body(Full::new(Bytes::new())).unwrap_or_default()
}

/// Opens a browser-like session: the cookie and CSRF token from a product page.
async fn browser_session(addr: SocketAddr) -> anyhow::Result<ConnState> {
    let mut s = connect(addr).await?;
    let (_, headers, body) = send(&mut s, get(addr, "/products/electric-kettle-drip", "")).await?;
    let cookie = headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("kura_session="))
        .and_then(|v| v.split(';').next())
        .context("no session cookie")?
        .to_string();
    let html = String::from_utf8_lossy(&body);
    let csrf = html
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .context("no csrf token")?
        .to_string();
    Ok(ConnState {
        cookie,
        csrf,
        ..Default::default()
    })
}

/// An API cart per connection, for the checkout scenario.
async fn api_cart(addr: SocketAddr) -> anyhow::Result<ConnState> {
    let mut s = connect(addr).await?;
    let req = Request::post("/api/v1/carts")
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{}")))?;
    let (status, _, body) = send(&mut s, req).await?;
    anyhow::ensure!(status == 201, "cart creation answered {status}");
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    let cart = match v.get("cart_id") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => anyhow::bail!("no cart id"),
    };
    let token = v
        .get("cart_token")
        .and_then(serde_json::Value::as_str)
        .context("no cart token")?
        .to_string();
    Ok(ConnState {
        cart,
        cart_token: token,
        ..Default::default()
    })
}

async fn run(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
    setup: Option<fn(SocketAddr) -> futures_setup::SetupFuture>,
    make: MakeRequest,
    ok: fn(u16) -> bool,
) -> anyhow::Result<Outcome> {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for c in 0..connections {
        let make = Arc::clone(&make);
        tasks.push(tokio::spawn(async move {
            let state = match setup {
                Some(f) => f(addr).await?,
                None => ConnState::default(),
            };
            let mut sender = connect(addr).await?;
            let mut lat = Vec::with_capacity(4096);
            let mut odd = Vec::with_capacity(2048);
            let (mut n, mut errors) = (0u64, 0u64);
            let mut i = c as u64 * 1_000_000;
            while Instant::now() < deadline {
                let req = make(i, &state);
                let is_odd = i % 2 == 1;
                i += 1;
                let t = Instant::now();
                match send(&mut sender, req).await {
                    Ok((status, _, _)) if ok(status) => {}
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        sender = connect(addr).await?;
                    }
                }
                let micros = u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX);
                lat.push(micros);
                if is_odd {
                    odd.push(micros);
                }
                n += 1;
            }
            anyhow::Ok((n, errors, lat, odd))
        }));
    }
    let mut out = Outcome {
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        odd_latencies: Vec::new(),
    };
    for t in tasks {
        let (n, e, lat, odd) = t.await??;
        out.requests += n;
        out.errors += e;
        out.latencies.extend(lat);
        out.odd_latencies.extend(odd);
    }
    out.elapsed = start.elapsed();
    out.latencies.sort_unstable();
    out.odd_latencies.sort_unstable();
    Ok(out)
}

mod futures_setup {
    pub type SetupFuture = std::pin::Pin<
        Box<dyn std::future::Future<Output = anyhow::Result<super::ConnState>> + Send>,
    >;
}

fn pct(lat: &[u32], p: f64) -> f64 {
    if lat.is_empty() {
        return 0.0;
    }
    let i = ((lat.len() as f64 - 1.0) * p).round() as usize;
    f64::from(lat.get(i).copied().unwrap_or(0)) / 1000.0
}

/// One run's figures for a line: rate, p99 in ms, ratio.
type RunFigures = (f64, f64, f64);

/// Every run's figures by line, for the medians printed after the last run.
#[derive(Default)]
struct Tally {
    /// (line, what the ratio is to, each run's figures).
    lines: Vec<(String, &'static str, Vec<RunFigures>)>,
}

impl Tally {
    fn add(&mut self, line: &str, ratio_to: &'static str, rate: f64, p99: f64, ratio: f64) {
        match self.lines.iter_mut().find(|(l, _, _)| l == line) {
            Some((_, _, runs)) => runs.push((rate, p99, ratio)),
            None => self
                .lines
                .push((line.to_string(), ratio_to, vec![(rate, p99, ratio)])),
        }
    }

    fn print_medians(&self) {
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(0.0)
        };
        let range = |v: &[f64]| {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(0.0, f64::max);
            (lo, hi)
        };
        for (line, ratio_to, runs) in &self.lines {
            let rates: Vec<f64> = runs.iter().map(|r| r.0).collect();
            let p99s: Vec<f64> = runs.iter().map(|r| r.1).collect();
            let ratios: Vec<f64> = runs.iter().map(|r| r.2).collect();
            let (lo, hi) = range(&ratios);
            let ratio = if ratio_to.is_empty() {
                String::new()
            } else {
                format!(
                    "{:>6.3}x {ratio_to} (runs {lo:.3}-{hi:.3})",
                    median(ratios.clone())
                )
            };
            println!(
                "{line:<28} {:>9.0} /s   p99 {:>7.2} ms   {ratio}",
                median(rates),
                median(p99s),
            );
        }
    }
}

fn report(name: &str, o: &Outcome, baseline: Option<f64>) -> f64 {
    let rps = o.requests as f64 / o.elapsed.as_secs_f64();
    let ratio = baseline
        .map(|b| format!("{:>6.2}x bare", rps / b))
        .unwrap_or_default();
    println!(
        "{name:<28} {rps:>9.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   errors {:>5}   {ratio}",
        pct(&o.latencies, 0.5),
        pct(&o.latencies, 0.99),
        o.errors
    );
    rps
}

fn peak_memory_mib(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|kib| kib / 1024.0)
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// A demo shop in `dir` (its `kura.toml` already written) with stock that never runs out.
pub(crate) async fn prepare_demo(dir: &Path) -> anyhow::Result<()> {
    let prepared = Command::new(std::env::current_exe()?)
        .args(["demo", "--no-serve", "--dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .status()?;
    anyhow::ensure!(prepared.success(), "could not prepare the demo shop");
    let config = crate::config::Config::load(Some(dir), None, &[])?;
    let store = crate::shop::open_store(&config).await?;
    for p in crate::catalog_data::products() {
        for v in p.variants {
            store.set_stock(&v.sku, 100_000_000).await?;
        }
    }
    Ok(())
}

/// Requests per second of `path` on the server at `addr`, 64 connections for `duration`.
pub(crate) async fn product_page_rate(
    addr: SocketAddr,
    path: &'static str,
    duration: Duration,
) -> anyhow::Result<f64> {
    let o = run(
        addr,
        64,
        duration,
        None,
        Arc::new(move |_, _| get(addr, path, "")),
        |s| s == 200,
    )
    .await?;
    anyhow::ensure!(
        o.errors == 0,
        "{} of {} requests failed",
        o.errors,
        o.requests
    );
    Ok(o.requests as f64 / o.elapsed.as_secs_f64())
}

/// A fresh PostgreSQL database for one benchmark, dropped when this goes away.
pub(crate) struct BenchDatabase {
    admin_url: String,
    name: String,
    pub(crate) url: String,
}

impl BenchDatabase {
    pub(crate) async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let name = format!("kura_bench_{}", std::process::id());
        let admin = sqlx::PgPool::connect(admin_url)
            .await
            .context("the PostgreSQL server does not answer")?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await?;
        admin.close().await;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url, |(base, _)| base);
        Ok(Self {
            admin_url: admin_url.to_string(),
            url: format!("{base}/{name}"),
            name,
        })
    }

    pub(crate) async fn drop_now(self) {
        if let Ok(admin) = sqlx::PgPool::connect(&self.admin_url).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .execute(&admin)
            .await;
            admin.close().await;
        }
    }
}

pub async fn run_web(
    seconds: u64,
    connections: usize,
    guard: bool,
    pg_url: Option<String>,
    runs: usize,
) -> anyhow::Result<()> {
    let mut tally = Tally::default();
    let dir = std::env::temp_dir().join(format!("kura-bench-web-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let settings = format!(
        "[server]\nrate_limit_per_second = 10000000\nrate_limit_burst = 10000000\nmetrics_listen = \"\"\n[log]\nlevel = \"warn\"\n[mail]\ntransport = \"outbox\"\n[guard]\nenabled = {guard}\n"
    );
    std::fs::write(dir.join("kura.toml"), &settings)?;
    // The bare baselines always read the SQLite demo; the shop runs on PostgreSQL when asked.
    prepare_demo(&dir).await?;
    let database = match &pg_url {
        Some(url) => Some(BenchDatabase::create(url).await?),
        None => None,
    };
    let shop_dir = match &database {
        Some(db) => {
            let shop_dir = dir.join("pg");
            std::fs::create_dir_all(&shop_dir)?;
            std::fs::write(
                shop_dir.join("kura.toml"),
                format!("[database]\nurl = \"{}\"\n{settings}", db.url),
            )?;
            prepare_demo(&shop_dir).await?;
            shop_dir
        }
        None => dir.clone(),
    };
    let (shop, addr) = spawn(&["serve", "--listen", "127.0.0.1:0"], &shop_dir)?;
    let (_bare, bare_addr) = spawn(&["bench-bare", "--listen", "127.0.0.1:0"], &dir)?;
    let duration = Duration::from_secs(seconds);
    println!(
        "Kura web benchmark: {connections} connections, {seconds} s per scenario, shop on {}, guard {}, {} cores",
        if database.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        if guard { "on" } else { "off" },
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    for run in 1..=runs {
        if runs > 1 {
            println!("-- run {run} of {runs}");
        }
        one_run(addr, bare_addr, duration, connections, &mut tally).await?;
        if let Some((peak, now)) = peak_memory_mib(shop.0.id()) {
            println!("shop memory: peak {peak:.1} MiB, now {now:.1} MiB");
        }
    }
    if runs > 1 {
        println!("-- medians of {runs} runs (ratio ranges over the runs)");
        tally.print_medians();
        if let Some((peak, _)) = peak_memory_mib(shop.0.id()) {
            println!("shop memory: peak {peak:.1} MiB over all runs");
        }
    }
    drop(shop);
    if let Some(db) = database {
        db.drop_now().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The bare durable insert: one thread owns a rusqlite connection (WAL, `synchronous = FULL`)
/// and commits every insert waiting at that moment in one transaction (group commit); each
/// request is answered after the commit that holds its row. What a checkout's write could cost
/// at best on this disk.
struct GroupWriter {
    jobs: std::sync::mpsc::Sender<(i64, tokio::sync::oneshot::Sender<bool>)>,
}

static GROUP_WRITER: std::sync::OnceLock<GroupWriter> = std::sync::OnceLock::new();

impl GroupWriter {
    fn start(path: &Path) -> anyhow::Result<Self> {
        let mut conn = rusqlite::Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
             CREATE TABLE IF NOT EXISTS bare_orders (id INTEGER PRIMARY KEY, total_yen INTEGER NOT NULL)",
        )?;
        let (jobs, queue) = std::sync::mpsc::channel::<(i64, tokio::sync::oneshot::Sender<bool>)>();
        std::thread::spawn(move || {
            while let Ok(first) = queue.recv() {
                let mut batch = vec![first];
                while batch.len() < 4096 {
                    match queue.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                let kept = (|| -> rusqlite::Result<()> {
                    let tx = conn.transaction()?;
                    {
                        let mut insert =
                            tx.prepare_cached("INSERT INTO bare_orders (total_yen) VALUES (?1)")?;
                        for (total, _) in &batch {
                            insert.execute([total])?;
                        }
                    }
                    tx.commit()
                })()
                .is_ok();
                for (_, reply) in batch {
                    let _ = reply.send(kept);
                }
            }
        });
        Ok(Self { jobs })
    }
}

async fn bare_insert() -> axum::http::StatusCode {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let sent = GROUP_WRITER
        .get()
        .is_some_and(|w| w.jobs.send((5_980, reply)).is_ok());
    match (sent, answer.await) {
        (true, Ok(true)) => axum::http::StatusCode::CREATED,
        _ => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The database the inline baseline reads (set once by [`serve_bare`]).
static INLINE_DB: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

thread_local! {
    /// Each runtime thread's own read-only connection for the inline baseline.
    static INLINE_CONN: std::cell::RefCell<Option<rusqlite::Connection>> =
        const { std::cell::RefCell::new(None) };
}

/// The fastest a page can be here: one indexed row read with rusqlite on the request's own
/// thread (no hand-off to another thread, a prepared statement kept per thread), formatted
/// into a page. The shop's pages are measured against it.
async fn inline_product(
    axum::extract::Path(slug): axum::extract::Path<String>,
) -> axum::response::Html<String> {
    let row = INLINE_CONN.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let path = INLINE_DB.get()?;
            *slot = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .ok();
        }
        let conn = slot.as_ref()?;
        let mut stmt = conn
            .prepare_cached("SELECT name_ja, description_ja FROM products WHERE slug = ?1")
            .ok()?;
        stmt.query_row([&slug], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .ok()
    });
    let (name, desc) = row.unwrap_or_default();
    axum::response::Html(format!(
        "<!doctype html><html lang=\"ja\"><head><title>{name}</title></head><body><h1>{name}</h1><p>{desc}</p></body></html>"
    ))
}

/// The baseline: one axum handler that reads one product row from the same SQLite file and
/// renders it, with nothing else (no sessions, no security layers, no templates).
pub async fn serve_bare(db: &Path, listen: SocketAddr) -> anyhow::Result<()> {
    use axum::extract::{Path as UrlPath, State};
    use axum::response::Html;
    use sqlx::Row;
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(db)
                .read_only(true),
        )
        .await?;
    async fn product(
        State(pool): State<sqlx::SqlitePool>,
        UrlPath(slug): UrlPath<String>,
    ) -> Html<String> {
        let row = sqlx::query("SELECT name_ja, description_ja FROM products WHERE slug = ?")
            .bind(slug)
            .fetch_optional(&pool)
            .await
            .ok()
            .flatten();
        let (name, desc): (String, String) = row
            .map(|r| {
                (
                    r.try_get(0).unwrap_or_default(),
                    r.try_get(1).unwrap_or_default(),
                )
            })
            .unwrap_or_default();
        Html(format!(
            "<!doctype html><html lang=\"ja\"><head><title>{name}</title></head><body><h1>{name}</h1><p>{desc}</p></body></html>"
        ))
    }
    let app = axum::Router::new()
        .route("/products/{slug}", axum::routing::get(product))
        .route(
            "/inline/products/{slug}",
            axum::routing::get(inline_product),
        )
        .route("/insert", axum::routing::post(bare_insert))
        .with_state(pool);
    let insert_db = db.with_file_name("bare-insert.db");
    GROUP_WRITER
        .set(GroupWriter::start(&insert_db)?)
        .map_err(|_| anyhow::anyhow!("the insert baseline is set up twice"))?;
    INLINE_DB
        .set(db.to_path_buf())
        .map_err(|_| anyhow::anyhow!("the inline baseline is set up twice"))?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("bare handler on http://{}/", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// One pass over every scenario, printed as it goes and added to `tally`.
async fn one_run(
    addr: SocketAddr,
    bare_addr: SocketAddr,
    duration: Duration,
    connections: usize,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let always = |_status: u16| true;
    let product_path = "/products/electric-kettle-drip";
    // Warm up both servers.
    run(
        addr,
        4,
        Duration::from_millis(500),
        None,
        Arc::new(move |_, _| get(addr, product_path, "")),
        always,
    )
    .await?;
    run(
        bare_addr,
        4,
        Duration::from_millis(500),
        None,
        Arc::new(move |_, _| get(bare_addr, product_path, "")),
        always,
    )
    .await?;
    let bare = run(
        bare_addr,
        connections,
        duration,
        None,
        Arc::new(move |_, _| get(bare_addr, product_path, "")),
        |s| s == 200,
    )
    .await?;
    let rps = report("bare axum + sqlx pool (1 row)", &bare, None);
    let p99 = |o: &Outcome| pct(&o.latencies, 0.99);
    tally.add("bare axum + sqlx pool", "", rps, p99(&bare), 0.0);
    let inline_path = "/inline/products/electric-kettle-drip";
    let inline = run(
        bare_addr,
        connections,
        duration,
        None,
        Arc::new(move |_, _| get(bare_addr, inline_path, "")),
        |s| s == 200,
    )
    .await?;
    // The ratios below are to this one: the fastest a one-row page can be.
    let base = report("bare axum + inline rusqlite", &inline, None);
    tally.add("bare axum + inline rusqlite", "", base, p99(&inline), 0.0);
    let insert = run(
        bare_addr,
        connections,
        duration,
        None,
        Arc::new(move |_, _| {
            Request::post("/insert")
                .header("host", bare_addr.to_string())
                .body(Full::new(Bytes::new()))
                .unwrap_or_default()
        }),
        |s| s == 201,
    )
    .await?;
    let insert_rps = report("bare durable insert (group)", &insert, None);
    tally.add("bare durable insert", "", insert_rps, p99(&insert), 0.0);
    let product = run(
        addr,
        connections,
        duration,
        None,
        Arc::new(move |_, _| get(addr, product_path, "")),
        |s| s == 200,
    )
    .await?;
    let product_rps = report("product page", &product, Some(base));
    tally.add(
        "product page",
        "the inline baseline",
        product_rps,
        p99(&product),
        product_rps / base,
    );
    // The other storefront pages, each beside the product page too.
    for (name, path) in [
        ("home page", "/"),
        ("category page", "/category/kettles"),
        ("search page", "/search?q=%E3%82%B1%E3%83%88%E3%83%AB"),
    ] {
        let page = run(
            addr,
            connections,
            duration,
            None,
            Arc::new(move |_, _| get(addr, path, "")),
            |s| s == 200,
        )
        .await?;
        let rps = report(name, &page, Some(base));
        tally.add(name, "the product page", rps, p99(&page), rps / product_rps);
        println!(
            "{:<28} {:>9.2}x the product page",
            format!("  = {name}"),
            rps / product_rps
        );
    }
    let skus: Arc<Vec<(String, String)>> = Arc::new(
        crate::catalog_data::products()
            .into_iter()
            .flat_map(|p| p.variants.into_iter().map(move |v| (p.slug.clone(), v.sku)))
            .collect(),
    );
    let add = run(
        addr,
        connections,
        duration,
        Some(|a| Box::pin(browser_session(a))),
        Arc::new(move |i, st: &ConnState| {
            let (slug, sku) = skus
                .get(usize::try_from(i).unwrap_or(0) % skus.len())
                .cloned()
                .unwrap_or_default();
            let body = format!("csrf_token={}&slug={slug}&sku={sku}&quantity=1", st.csrf);
            Request::post("/cart/add")
                .header("host", addr.to_string())
                .header("origin", format!("http://{addr}"))
                .header("cookie", &st.cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Full::new(Bytes::from(body)))
                .unwrap_or_default()
        }),
        |s| s == 303,
    )
    .await?;
    let rps = report("add to cart", &add, Some(base));
    tally.add(
        "add to cart",
        "the inline baseline",
        rps,
        p99(&add),
        rps / base,
    );
    // A full API checkout per iteration would need three requests; this scenario measures the
    // checkout request itself on a cart refilled by one item request before it.
    let checkout = run(
        addr,
        connections,
        duration,
        Some(|a| Box::pin(api_cart(a))),
        Arc::new(move |i, st: &ConnState| {
            if i % 2 == 0 {
                Request::post(format!("/api/v1/carts/{}/items", st.cart))
                    .header("host", addr.to_string())
                    .header("authorization", format!("Bearer {}", st.cart_token))
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from_static(br#"{"sku":"EKD-08-RD","quantity":1}"#)))
                    .unwrap_or_default()
            } else {
                let body = r#"{"customer":{"family_name":"山田","given_name":"太郎","family_name_kana":"ヤマダ","given_name_kana":"タロウ","email":"taro@example.jp","phone":"090-1234-5678","postal_code":"100-0001","prefecture":"13","address1":"千代田区千代田1-1","address2":""},"shipping":null,"delivery":{},"payment_method":"cod"}"#;
                Request::post(format!("/api/v1/carts/{}/checkout", st.cart))
                    .header("host", addr.to_string())
                    .header("authorization", format!("Bearer {}", st.cart_token))
                    .header("idempotency-key", format!("bench-{i}"))
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from_static(body.as_bytes())))
                    .unwrap_or_default()
            }
        }),
        |s| s == 200 || s == 201,
    )
    .await?;
    let pairs = checkout.requests as f64 / 2.0 / checkout.elapsed.as_secs_f64();
    report("API item + checkout (pairs)", &checkout, Some(base));
    println!(
        "{:<28} {pairs:>9.0} checkouts/s (each a durable order)   checkout p50 {:>7.2} ms   p99 {:>7.2} ms   {:.3}x the bare durable insert",
        "  = API checkouts",
        pct(&checkout.odd_latencies, 0.5),
        pct(&checkout.odd_latencies, 0.99),
        pairs / insert_rps,
    );
    tally.add(
        "API checkouts",
        "the bare durable insert",
        pairs,
        pct(&checkout.odd_latencies, 0.99),
        pairs / insert_rps,
    );
    Ok(())
}

//! `kura bench-guard`: the guard's detection figures, printed.
//!
//! 1. A mass read: a support account unmasks customers one after another through the real
//!    router; how many records it obtains before the lock (aim: the budget plus at most 5).
//! 2. Probes: a script sends injection payloads from a fresh source; the seconds from its first
//!    probe to the alert stored and to the alert posted to a local webhook receiver (aim: under
//!    2), and how many probes were answered before the block.
//! 3. The guard's cost: the product page under load with the guard on and off, in alternating
//!    runs against two `kura serve` processes on one demo shop (aim: under 5 %).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use http_body_util::BodyExt;
use kura_app::staff::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

use crate::config::Config;

const BUDGET: u32 = 20;
const PROBE: &str = "/search?q=1%27%20UNION%20SELECT%20login%2Cpassword_hash%20FROM%20staff--";

async fn send(
    router: &axum::Router,
    peer: SocketAddr,
    mut req: Request<Body>,
) -> anyhow::Result<u16> {
    req.extensions_mut().insert(ConnectInfo(peer));
    let res = router.clone().oneshot(req).await?;
    let status = res.status().as_u16();
    res.into_body().collect().await?;
    Ok(status)
}

/// A webhook receiver on loopback: every post's arrival time and body.
type Arrivals = Arc<Mutex<Vec<(Instant, String)>>>;

async fn receiver() -> anyhow::Result<(SocketAddr, Arrivals)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let got: Arrivals = Arc::default();
    let seen = Arc::clone(&got);
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = conn.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else {
                        continue;
                    };
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        if let Ok(mut s) = seen.lock() {
                            s.push((Instant::now(), body.to_string()));
                        }
                        let _ = conn
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                            .await;
                        return;
                    }
                }
            });
        }
    });
    Ok((addr, got))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

pub async fn run(seconds: u64, runs: usize) -> anyhow::Result<()> {
    println!(
        "Kura guard benchmark ({} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let dir = std::env::temp_dir().join(format!("kura-bench-guard-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = async {
        detection(&dir.join("detection")).await?;
        cost(&dir.join("cost"), seconds, runs).await
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn detection(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let (hook, arrivals) = receiver().await?;
    let env: Vec<(String, String)> = [
        ("KURA_SERVER_METRICS_LISTEN", String::new()),
        ("KURA_MAIL_TRANSPORT", "outbox".into()),
        ("KURA_SERVER_RATE_LIMIT_PER_SECOND", "1000000".into()),
        ("KURA_SERVER_RATE_LIMIT_BURST", "1000000".into()),
        ("KURA_GUARD_ALERT_WEBHOOK", format!("http://{hook}/alerts")),
        (
            "KURA_GUARD_ALERT_WEBHOOK_SECRET",
            "bench webhook secret 0123456789abcdef".into(),
        ),
        ("KURA_LOG_LEVEL", "error".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let config = Config::load(Some(dir), None, &env)?;
    crate::shop::init_keys(&config).await?;
    let state = crate::shop::build(&config).await?;
    crate::shop::spawn_workers(&state, None, None, config.guard.keep_months);
    crate::demo::ensure_catalog(&state.store).await?;
    crate::demo::insert_synthetic(&state.store, &state.vault, 200).await?;
    state
        .store
        .set_setting(
            kura_app::backoffice::UNMASK_BUDGET_SETTING,
            &BUDGET.to_string(),
            state.clock.now(),
        )
        .await?;
    let (cookie, csrf) = crate::bench_admin::signed_in(&state, "reader", Role::Support).await?;
    let router = kura_web::router(Arc::clone(&state));
    let prefix = config.admin.path.clone();

    // 1. The mass read.
    let ids: Vec<i64> = state
        .store
        .customers_after(0, 200)
        .await?
        .iter()
        .map(|c| c.id)
        .collect();
    let office: SocketAddr = ([192, 0, 2, 44], 50000).into();
    let (mut shown, mut refused) = (0u32, 0u32);
    let started = Instant::now();
    for id in &ids {
        let body = format!("csrf_token={}&reason=bench", csrf.replace('.', "%2E"));
        let req = Request::post(format!("{prefix}/customers/{id}/unmask"))
            .header("cookie", &cookie)
            .header("host", "bench.test")
            .header("origin", "http://bench.test")
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))?;
        match send(&router, office, req).await? {
            200 => shown += 1,
            _ => refused += 1,
        }
        if refused >= 10 {
            break;
        }
    }
    let mut suspended = None;
    for _ in 0..100 {
        let staff = state.store.list_staff().await?;
        if staff.iter().any(|s| s.status == "suspended") {
            suspended = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!();
    println!(
        "mass read: {shown} customers unmasked before the lock (budget {BUDGET}; aim: at most {}), \
         then {refused} refused",
        BUDGET + 5
    );
    match suspended {
        Some(t) => println!(
            "  the account was suspended {:.2} s after its first read",
            t.as_secs_f64()
        ),
        None => println!("  the account was NOT suspended within 2 s"),
    }

    // 2. Probes from fresh sources, to the alert.
    let (mut stored, mut posted, mut answered) = (Vec::new(), Vec::new(), Vec::new());
    for trial in 0..5u8 {
        let ip = std::net::IpAddr::from([203, 0, 113, 10 + trial]);
        let pseudonym = state
            .guard
            .as_ref()
            .and_then(|g| g.source(ip))
            .ok_or_else(|| anyhow::anyhow!("the guard is off"))?;
        let peer = SocketAddr::new(ip, 41000);
        let first = Instant::now();
        let mut before_block = 0;
        for _ in 0..50 {
            let req = Request::get(PROBE).body(Body::empty())?;
            if send(&router, peer, req).await? == 403 {
                break;
            }
            before_block += 1;
        }
        answered.push(f64::from(before_block));
        let deadline = first + Duration::from_secs(10);
        let (mut at_store, mut at_hook) = (None, None);
        while Instant::now() < deadline && (at_store.is_none() || at_hook.is_none()) {
            if at_store.is_none()
                && state
                    .store
                    .alerts(50)
                    .await?
                    .iter()
                    .any(|a| a.principal == pseudonym)
            {
                at_store = Some(first.elapsed());
            }
            if at_hook.is_none()
                && let Ok(got) = arrivals.lock()
                && let Some((t, _)) = got.iter().find(|(_, b)| b.contains(&pseudonym))
            {
                at_hook = Some(t.duration_since(first));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stored.push(at_store.map_or(f64::INFINITY, |d| d.as_secs_f64()));
        posted.push(at_hook.map_or(f64::INFINITY, |d| d.as_secs_f64()));
    }
    println!(
        "probes: {} answered before the block (median of 5 sources; the threshold is 5)",
        median(&mut answered)
    );
    println!(
        "  first probe to alert stored: median {:.3} s, worst {:.3} s (aim: under 2)",
        median(&mut stored.clone()),
        stored.iter().copied().fold(0.0, f64::max)
    );
    println!(
        "  first probe to alert posted to the webhook: median {:.3} s, worst {:.3} s",
        median(&mut posted.clone()),
        posted.iter().copied().fold(0.0, f64::max)
    );
    Ok(())
}

async fn cost(dir: &std::path::Path, seconds: u64, runs: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("kura.toml"),
        "[server]\nrate_limit_per_second = 10000000\nrate_limit_burst = 10000000\nmetrics_listen = \"\"\n[log]\nlevel = \"warn\"\n[mail]\ntransport = \"outbox\"\n",
    )?;
    crate::bench_web::prepare_demo(dir).await?;
    let (_on, on) = crate::bench_web::spawn_with(&["serve", "--listen", "127.0.0.1:0"], dir, &[])?;
    let (_off, off) = crate::bench_web::spawn_with(
        &["serve", "--listen", "127.0.0.1:0"],
        dir,
        &[("KURA_GUARD_ENABLED", "false")],
    )?;
    let path = "/products/electric-kettle-drip";
    crate::bench_web::product_page_rate(on, path, Duration::from_millis(500)).await?;
    crate::bench_web::product_page_rate(off, path, Duration::from_millis(500)).await?;
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..runs.max(1) {
        without.push(
            crate::bench_web::product_page_rate(off, path, Duration::from_secs(seconds)).await?,
        );
        with.push(
            crate::bench_web::product_page_rate(on, path, Duration::from_secs(seconds)).await?,
        );
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let show = |v: &[f64]| {
        v.iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    println!();
    println!(
        "product page, 64 connections, {seconds} s per run, alternating:\n  guard off: {} req/s (mean {:.0})\n  guard on:  {} req/s (mean {:.0})\n  guard on / off = {:.3} (aim: at least 0.95)",
        show(&without),
        mean(&without),
        show(&with),
        mean(&with),
        mean(&with) / mean(&without)
    );
    Ok(())
}

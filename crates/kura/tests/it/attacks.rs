//! Attack tools against a real `kura serve` listening on loopback, from outside the process:
//! sqlmap (Debian's package) against the search page, the order lookup and the JSON API, and
//! wapiti (PyPI, in its own venv, with an explicit module list) against the storefront. They
//! find no injectable parameter and nothing reflected; their probes are stored as events and
//! raise alerts; and an ordinary source that starts the same attack is refused at once.
//!
//! The scanners' own sources are on `guard.never_block` (and the budgets are opened wide), so
//! that they try every payload instead of stopping at the first block: a scan that is refused
//! at its first request proves nothing about the pages behind it. The node trusts loopback as
//! its proxy, so `X-Forwarded-For` names each tool's source.
//!
//! Ignored by default (they need the tools); `bash .ci/test` installs sqlmap and wapiti and
//! runs them. `WAPITI_PROGRAM` names the wapiti program (default: `.ci/venv/bin/wapiti`, then
//! `wapiti` on the PATH).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support;

/// Tries every payload (exempt from blocks).
const SQLMAP_SOURCE: &str = "198.51.100.1";
const WAPITI_SOURCE: &str = "198.51.100.2";
/// An ordinary source starting the same attack.
const ATTACKER: &str = "203.0.113.9";

fn wapiti_program() -> PathBuf {
    if let Ok(p) = std::env::var("WAPITI_PROGRAM") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/venv/bin/wapiti");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("wapiti")
}

/// Runs a tool to its end (or kills it after `limit`), returning what it printed.
fn run(mut cmd: Command, limit: Duration) -> String {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("out");
    let file = std::fs::File::create(&out).unwrap();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?} does not run ({e}); bash .ci/test installs it"));
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!(
                "{cmd:?} ran over {limit:?}:\n{}",
                std::fs::read_to_string(&out).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    String::from_utf8_lossy(&std::fs::read(&out).unwrap()).into_owned()
}

/// sqlmap against one target, returning its output.
fn sqlmap(target: &str, source: &str, extra: &[&str]) -> String {
    let work = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("sqlmap");
    cmd.args([
        "--batch",
        "--level=3",
        "--risk=2",
        "--timeout=10",
        "--retries=1",
        "--flush-session",
        "--disable-coloring",
        "--ignore-code=400,401,404,422",
    ])
    .arg(format!("--output-dir={}", work.path().display()))
    .arg(format!("--headers=X-Forwarded-For: {source}"))
    .arg("-u")
    .arg(target)
    .args(extra)
    .env("HOME", work.path());
    run(cmd, Duration::from_secs(600))
}

fn assert_not_injectable(what: &str, out: &str) {
    let tail: String = out
        .lines()
        .filter(|l| l.contains("injectable") || l.contains("ERROR") || l.contains("CRITICAL"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !out.contains("identified the following injection point") && !out.contains("is vulnerable"),
        "sqlmap found an injection in {what}:\n{out}"
    );
    assert!(
        out.contains("all tested parameters do not appear to be injectable"),
        "sqlmap did not finish testing {what}:\n{tail}"
    );
    let codes = out
        .lines()
        .skip_while(|l| !l.contains("HTTP error codes detected"))
        .nth(1)
        .unwrap_or("none");
    println!("sqlmap, {what}: no injectable parameter (error codes: {codes})");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs sqlmap and wapiti (bash .ci/test installs them and runs this)"]
async fn sqlmap_and_wapiti_find_nothing_and_are_seen() {
    let shop = support::sqlite_shop().await;
    kura::demo::ensure_catalog(&shop.state.store).await.unwrap();
    std::fs::write(
        shop.dir.path().join("kura.toml"),
        r#"
[server]
trusted_proxies = ["127.0.0.1/32"]
rate_limit_per_second = 100000
rate_limit_burst = 100000
lookup_per_address = 100000
lookup_failures_per_order = 100000

[guard]
never_block = ["198.51.100.0/28"]
"#,
    )
    .unwrap();
    let (_node, base) = support::serve(shop.dir.path(), "127.0.0.1:0", &[]);
    let started = kura_app::Clock::now(&kura_app::SystemClock);

    // sqlmap: the search page, the order lookup (a form with a CSRF token), the JSON API.
    let search = sqlmap(
        &format!("{base}search?q=kettle"),
        SQLMAP_SOURCE,
        &["-p", "q", "--threads=4"],
    );
    assert_not_injectable("the search page (q)", &search);
    let lookup = sqlmap(
        &format!("{base}orders/lookup"),
        SQLMAP_SOURCE,
        &[
            "--data=csrf_token=x&number=K-2026-0001&contact=a%40example.jp",
            "-p",
            "number,contact",
            "--csrf-token=csrf_token",
            &format!("--csrf-url={base}orders/lookup"),
            "--csrf-method=GET",
        ],
    );
    assert_not_injectable("the order lookup (number, contact)", &lookup);
    let products = sqlmap(
        &format!("{base}api/v1/products?page=1&lang=ja"),
        SQLMAP_SOURCE,
        &["-p", "page,lang", "--threads=4"],
    );
    assert_not_injectable("the API's product list (page, lang)", &products);
    let product = sqlmap(
        &format!("{base}api/v1/products/rice*"),
        SQLMAP_SOURCE,
        &["--threads=4"],
    );
    assert_not_injectable("the API's product (slug)", &product);
    let order = sqlmap(
        &format!("{base}api/v1/orders/K-2026-0001*"),
        SQLMAP_SOURCE,
        &[
            "--threads=4",
            "--headers=X-Forwarded-For: 198.51.100.1\nAuthorization: Bearer 00000000000000000000000000000000000000000000000000000000000000aa",
        ],
    );
    assert_not_injectable("the API's order (number, with a bearer token)", &order);

    // wapiti over the storefront it crawls, with an explicit module list and no endpoint
    // outside this machine.
    let work = tempfile::tempdir().unwrap();
    let report = work.path().join("report.json");
    let mut cmd = Command::new(wapiti_program());
    cmd.args(["-u", &base])
        .args(["-m", "sql,xss,permanentxss,exec,file,crlf,redirect"])
        .args(["--scope", "folder", "-d", "2", "--max-links-per-page", "20"])
        .args(["--max-scan-time", "300", "--flush-session"])
        .args([
            "--endpoint",
            "http://127.0.0.1:9/",
            "--dns-endpoint",
            "localhost",
        ])
        .args(["-H", &format!("X-Forwarded-For: {WAPITI_SOURCE}")])
        .args(["-f", "json", "-o"])
        .arg(&report)
        .env("HOME", work.path());
    let printed = run(cmd, Duration::from_secs(480));
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&report).unwrap_or_else(|_| panic!("wapiti wrote no report:\n{printed}")),
    )
    .unwrap();
    let crawled = report["infos"]["crawled_pages_nbr"].as_u64().unwrap_or(0);
    assert!(crawled >= 20, "wapiti crawled the shop ({crawled} pages)");
    let found: Vec<String> = report["vulnerabilities"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| v.as_array().is_some_and(|a| !a.is_empty()))
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    assert!(found.is_empty(), "wapiti found: {found:#?}");
    println!(
        "wapiti: {crawled} pages crawled, nothing found by sql, xss, permanentxss, exec, file, crlf, redirect"
    );

    // Their probes are events and alerts, stored with the sources as pseudonyms.
    let store = &shop.state.store;
    let counts = store
        .security_event_counts(started - 60, 86_400)
        .await
        .unwrap();
    let of = |kind: &str| -> i64 {
        counts
            .iter()
            .filter(|(_, k, _)| k == kind)
            .map(|(_, _, n)| n)
            .sum()
    };
    let (probes, scanners) = (
        of("malicious_attack_tool:probe"),
        of("malicious_attack_tool:scanner"),
    );
    println!("events stored: {probes} request probes, {scanners} scanner requests");
    assert!(
        probes >= 100,
        "the tools' payloads are request probes ({probes})"
    );
    assert!(
        scanners >= 100,
        "sqlmap's requests are seen as a scanner ({scanners})"
    );
    let guard = shop.state.guard.as_ref().expect("the guard is on");
    let alerts = store.alerts(200).await.unwrap();
    for (tool, source) in [("sqlmap", SQLMAP_SOURCE), ("wapiti", WAPITI_SOURCE)] {
        let pseudonym = guard.source(source.parse().unwrap()).unwrap();
        let raised: Vec<&str> = alerts
            .iter()
            .filter(|a| a.principal == pseudonym)
            .map(|a| a.detector.as_str())
            .collect();
        assert!(
            raised.contains(&"probes.source"),
            "{tool}'s probes raised an alert: {raised:?}"
        );
        println!("{tool}: alerts {raised:?}");
    }
    for a in &alerts {
        assert!(
            !a.principal.contains("198.51.100"),
            "no address in the clear"
        );
    }

    // An ordinary source starting the same attack is refused within its first probes, and
    // stays refused on every page; another source shops on.
    let attack = sqlmap(&format!("{base}search?q=kettle"), ATTACKER, &["-p", "q"]);
    assert!(
        !attack.contains("identified the following injection point"),
        "{attack}"
    );
    let http = kura_pay::http_client(Duration::from_secs(10)).unwrap();
    let status = |source: &'static str, path: &'static str| {
        let http = http.clone();
        let url = format!("{base}{path}");
        async move {
            http.get(url)
                .header("x-forwarded-for", source)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(ATTACKER, "").await, 403, "the attacker is blocked");
    assert_eq!(status(ATTACKER, "products/rice").await, 403);
    assert_eq!(
        status("203.0.113.10", "products/rice").await,
        200,
        "a shopper is not"
    );
    let blocked = store.active_blocks(started + 1).await.unwrap();
    let attacker = guard.source(ATTACKER.parse().unwrap()).unwrap();
    assert!(
        blocked.iter().any(|b| b.source == attacker),
        "the block is stored"
    );
    assert!(
        !blocked
            .iter()
            .any(|b| b.source == guard.source(SQLMAP_SOURCE.parse().unwrap()).unwrap()),
        "never_block holds"
    );
}

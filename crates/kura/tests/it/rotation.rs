//! Key rotation under a running shop: the rotating process is killed mid-way, resumed, and the
//! old key retired, while the shop keeps serving sign-ins; every sealed value opens throughout.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kura_app::Customers;

use crate::support;

const BIN: &str = env!("CARGO_BIN_EXE_kura");

fn kura(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap()
}

/// A raw HTTP/1.1 exchange; returns (status, headers, body).
fn http(addr: &str, request: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

fn set_cookie(head: &str) -> Option<String> {
    head.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: kura_session=")
        })
        .and_then(|l| l.split_once(": "))
        .and_then(|(_, v)| v.split(';').next())
        .map(str::to_string)
}

/// Signs the demo customer in over real HTTP; true when the shop answers 303 to /account.
fn demo_sign_in(addr: &str) -> bool {
    let (_, head, body) = http(
        addr,
        &format!("GET /login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    );
    let (Some(cookie), Some(csrf)) = (
        set_cookie(&head),
        support::hidden_value(&body, "csrf_token"),
    ) else {
        return false;
    };
    let form = support::encode_form(&[
        ("email", kura::demo::DEMO_EMAIL),
        ("password", kura::demo::DEMO_PASSWORD),
        ("csrf_token", &csrf),
    ]);
    let (status, head, _) = http(
        addr,
        &format!(
            "POST /login HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        ),
    );
    status == 303 && head.contains("location: /account")
}

fn wait_for_sign_in(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !demo_sign_in(addr) {
        assert!(
            Instant::now() < deadline,
            "the running shop stopped accepting sign-ins"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(dir: &Path) -> (Server, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .trim_start_matches("Kura is serving on http://")
        .trim_end_matches('/')
        .to_string();
    assert!(
        addr.starts_with("127.0.0.1:"),
        "unexpected first line: {line}"
    );
    (Server(child), addr)
}

/// Opens every customer with a freshly loaded key ring; returns how many opened.
async fn open_all(dir: &Path) -> usize {
    let config = support::test_config(dir, None);
    let vault = kura::shop::open_vault(&config).unwrap();
    let store = kura::shop::open_store(&config).await.unwrap();
    let ring = vault.ring();
    let mut after = i64::MIN;
    let mut n = 0;
    loop {
        let page = store.customers_after(after, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        for rec in &page {
            let keys = kura_app::data_keys::PersonKeys::of_in(
                std::sync::Arc::clone(&ring),
                rec.data_key.as_ref(),
            )
            .expect("the data key unwraps");
            Customers::open(&keys, rec).expect("every value opens");
        }
        n += page.len();
    }
    n
}

fn usage_of(status: &str, key: u32) -> u64 {
    status
        .lines()
        .map(str::split_whitespace)
        .filter_map(|mut w| {
            Some((
                w.next()?.parse::<u32>().ok()?,
                w.nth(2)?.parse::<u64>().ok()?,
            ))
        })
        .find(|(id, _)| *id == key)
        .map_or(0, |(_, n)| n)
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_under_a_running_shop_kill_resume_and_retire() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("kura.toml"),
        "[server]\nmetrics_listen = \"\"\n[keys]\nreload_seconds = 1\n[log]\nlevel = \"warn\"\n",
    )
    .unwrap();
    let prepared = kura(dir, &["demo", "--no-serve", "--customers", "4000"]);
    assert!(
        prepared.status.success(),
        "{}",
        String::from_utf8_lossy(&prepared.stderr)
    );
    let customers = open_all(dir).await;
    assert_eq!(customers, 4001);

    let (_server, addr) = start_server(dir);
    wait_for_sign_in(&addr);

    // Start rotating in small batches and kill the process once it is under way.
    let mut rotation = Command::new(BIN)
        .args(["keys", "rotate", "--batch", "25", "--dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(rotation.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("rotation printed progress").unwrap();
        let resealed = line
            .split("resealed=")
            .nth(1)
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        if line.contains("table=customers") && resealed >= 100 {
            break;
        }
    }
    rotation.kill().unwrap();
    rotation.wait().unwrap();

    let status = String::from_utf8(kura(dir, &["keys", "status"]).stdout).unwrap();
    assert!(
        usage_of(&status, 1) > 0 && usage_of(&status, 2) > 0,
        "a killed rotation leaves both keys in use:\n{status}"
    );
    assert_eq!(
        open_all(dir).await,
        customers,
        "every value opens half-way through"
    );
    wait_for_sign_in(&addr);

    let refused = kura(dir, &["keys", "retire"]);
    assert!(
        !refused.status.success(),
        "a key still in use cannot be retired"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("still in use"));

    let resumed = kura(dir, &["keys", "rotate"]);
    let out = String::from_utf8_lossy(&resumed.stdout);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert!(out.contains("Resumed rotation to key 2"), "{out}");
    let status = String::from_utf8(kura(dir, &["keys", "status"]).stdout).unwrap();
    assert_eq!(usage_of(&status, 1), 0, "{status}");
    wait_for_sign_in(&addr);

    let retired = kura(dir, &["keys", "retire"]);
    assert!(
        retired.status.success(),
        "{}",
        String::from_utf8_lossy(&retired.stderr)
    );
    assert!(String::from_utf8_lossy(&retired.stdout).contains("Retired key 1."));
    let keyfile = std::fs::read_to_string(dir.join("kura.key")).unwrap();
    assert!(
        !keyfile.contains("id = 1\n"),
        "key 1 is gone from the key file"
    );
    assert_eq!(
        open_all(dir).await,
        customers,
        "every value opens with key 1 gone"
    );
    wait_for_sign_in(&addr);
}

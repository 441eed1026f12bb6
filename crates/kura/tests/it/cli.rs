//! The `kura` program as an operator meets it: help, a demo shop in a directory, migrations,
//! configuration mistakes named, a running demo server, and key status.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The real binary, with no `KURA_*` variable of the test run leaking into it.
fn kura() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kura"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("KURA_")) {
        cmd.env_remove(k);
    }
    cmd.stdin(Stdio::null());
    cmd
}

fn run(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().expect("the kura binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

fn run_ok(cmd: &mut Command) -> String {
    let (out, stdout, stderr) = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
    stdout
}

/// A prepared demo shop directory (not served).
fn demo_dir(parent: &Path) -> std::path::PathBuf {
    let dir = parent.join("shop");
    run_ok(kura().args(["demo", "--no-serve", "--dir"]).arg(&dir));
    dir
}

#[test]
fn orders_refuses_an_unknown_number_by_name() {
    let parent = tempfile::tempdir().unwrap();
    let dir = demo_dir(parent.path());
    let (out, stdout, stderr) = run(kura()
        .args([
            "orders",
            "ship",
            "K-NONE-NONE",
            "--carrier",
            "ヤマト運輸",
            "--tracking",
            "1",
        ])
        .arg("--dir")
        .arg(&dir));
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stderr.contains("K-NONE-NONE") && stderr.contains("no order"),
        "{stderr}"
    );
    let (out, _, stderr) = run(kura()
        .args(["orders", "paid", "K-NONE-NONE"])
        .arg("--dir")
        .arg(&dir));
    assert!(!out.status.success());
    assert!(stderr.contains("no order"), "{stderr}");
}

#[test]
fn help_lists_every_command() {
    let stdout = run_ok(kura().arg("--help"));
    for command in ["serve", "migrate", "demo", "orders", "keys", "bench"] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(command)),
            "`kura --help` does not list {command}:\n{stdout}"
        );
    }
    let (out, _, stderr) = run(kura().arg("no-such-command"));
    assert!(!out.status.success());
    assert!(stderr.contains("no-such-command"), "{stderr}");
}

#[test]
fn demo_creates_a_shop_directory_and_reuses_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    assert!(!dir.exists());
    let stdout = run_ok(kura().args(["demo", "--no-serve", "--dir"]).arg(&dir));
    assert!(stdout.contains("Demo shop prepared"), "{stdout}");

    let (toml, key, db) = (
        dir.join("kura.toml"),
        dir.join("kura.key"),
        dir.join("kura.db"),
    );
    for f in [&toml, &key, &db] {
        assert!(f.is_file(), "{} was not created", f.display());
    }
    for f in [&key, &db] {
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", f.display());
    }
    let toml_text = std::fs::read(&toml).unwrap();
    assert!(
        String::from_utf8_lossy(&toml_text).contains("transport = \"outbox\""),
        "the demo's kura.toml asks for mail files explicitly"
    );
    let key_bytes = std::fs::read(&key).unwrap();

    // Again: the same directory, key and configuration are reused, nothing is replaced.
    let stdout = run_ok(kura().args(["demo", "--no-serve", "--dir"]).arg(&dir));
    assert!(stdout.contains("Demo shop prepared"), "{stdout}");
    assert_eq!(
        std::fs::read(&key).unwrap(),
        key_bytes,
        "the master key was replaced"
    );
    assert_eq!(
        std::fs::read(&toml).unwrap(),
        toml_text,
        "kura.toml was rewritten"
    );
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // The demo account is still there exactly once (and still opens under the same key).
    let status = run_ok(kura().args(["keys", "status", "--dir"]).arg(&dir));
    let values_of_key_1 = key_values(&status, 1);
    assert!(values_of_key_1 > 0, "{status}");
    run_ok(kura().args(["demo", "--no-serve", "--dir"]).arg(&dir));
    assert_eq!(
        key_values(
            &run_ok(kura().args(["keys", "status", "--dir"]).arg(&dir)),
            1
        ),
        values_of_key_1
    );
}

/// The "values" column of key `id` in `kura keys status`.
fn key_values(status: &str, id: u32) -> u64 {
    status
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.first() == Some(&id.to_string().as_str()))
        .and_then(|f| f.last().and_then(|v| v.parse().ok()))
        .unwrap_or_else(|| panic!("no line for key {id} in:\n{status}"))
}

#[test]
fn migrate_lists_the_applied_migrations() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo_dir(tmp.path());
    let stdout = run_ok(kura().args(["migrate", "--dir"]).arg(&dir));
    assert!(
        stdout.lines().any(|l| l.trim() == "0001_foundation"),
        "{stdout}"
    );
    let expected: Vec<String> = kura_store::SQLITE_MIGRATIONS
        .iter()
        .map(|(v, n, _)| format!("{v:04}_{n}"))
        .collect();
    assert_eq!(
        stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>(),
        expected
    );
    // Twice is the same.
    assert_eq!(run_ok(kura().args(["migrate", "--dir"]).arg(&dir)), stdout);
}

#[test]
fn configuration_mistakes_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo_dir(tmp.path());

    // An unknown environment variable.
    let (out, _, stderr) = run(kura()
        .args(["migrate", "--dir"])
        .arg(&dir)
        .env("KURA_SERVER_LISTN", "127.0.0.1:1"));
    assert!(
        !out.status.success(),
        "an unknown KURA_* variable was accepted"
    );
    assert!(stderr.contains("KURA_SERVER_LISTN"), "{stderr}");

    // A variable of the tools around Kura is not configuration, and is not refused.
    run_ok(
        kura()
            .args(["migrate", "--dir"])
            .arg(&dir)
            .env("KURA_TEST_PG_URL", "postgres://x"),
    );

    // An unknown key in the file.
    let toml = dir.join("kura.toml");
    let original = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, format!("{original}\nbody_limit = 10\n")).unwrap();
    let (out, _, stderr) = run(kura().args(["migrate", "--dir"]).arg(&dir));
    assert!(
        !out.status.success(),
        "an unknown key in kura.toml was accepted"
    );
    assert!(stderr.contains("body_limit"), "{stderr}");

    // An unknown section.
    std::fs::write(
        &toml,
        format!("{original}\n[sever]\nlisten = \"127.0.0.1:1\"\n"),
    )
    .unwrap();
    let (out, _, stderr) = run(kura().args(["migrate", "--dir"]).arg(&dir));
    assert!(
        !out.status.success(),
        "an unknown section in kura.toml was accepted"
    );
    assert!(stderr.contains("sever"), "{stderr}");

    // Restored, it works again.
    std::fs::write(&toml, original).unwrap();
    run_ok(kura().args(["migrate", "--dir"]).arg(&dir));

    // Card payment without the secret that signs its notifications: the shop does not start,
    // and says what to set.
    let (out, _, stderr) = run(kura()
        .args(["serve", "--listen", "127.0.0.1:0", "--dir"])
        .arg(&dir)
        .env("KURA_CARD_API_BASE", "https://api.stripe.com")
        .env("KURA_CARD_SECRET_KEY", "sk_live_x"));
    assert!(
        !out.status.success(),
        "serve started without card.webhook_secret"
    );
    assert!(stderr.contains("card.webhook_secret"), "{stderr}");
    assert!(stderr.contains("KURA_CARD_WEBHOOK_SECRET"), "{stderr}");
}

/// Kills the child when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn demo_serves_and_announces_its_address() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo_dir(tmp.path());
    // Mail files from earlier runs: one older than the week they are kept, one recent.
    let outbox = dir.join("outbox");
    let (old, recent) = (
        outbox.join("20200101T000000Z-0000000000000001.eml"),
        outbox.join("20200101T000000Z-0000000000000002.eml"),
    );
    for (path, days) in [(&old, 8), (&recent, 1)] {
        std::fs::write(path, "Subject: earlier\r\n\r\nbody").unwrap();
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(std::time::SystemTime::now() - Duration::from_secs(days * 86_400))
            .unwrap();
    }
    let child = kura()
        .args(["demo", "--listen", "127.0.0.1:0", "--dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let mut stderr = running.0.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let stdout = running.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let addr: SocketAddr = loop {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => {
                if let Some(rest) = line.strip_prefix("Kura demo shop: http://") {
                    break rest
                        .trim_end_matches('/')
                        .parse()
                        .unwrap_or_else(|e| panic!("address in {line:?}: {e}"));
                }
                seen.push(line);
            }
            Err(e) => panic!("the demo never announced its address ({e}); it printed: {seen:?}"),
        }
    };
    assert!(addr.ip().is_loopback());
    assert_ne!(
        addr.port(),
        0,
        "the announced port is the one actually bound"
    );

    let response = http_get(addr, "/healthz");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("ok"), "{response}");
    let ready = http_get(addr, "/readyz");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    let login = http_get(addr, "/login");
    assert!(login.starts_with("HTTP/1.1 200"), "{login}");
    assert!(
        login
            .to_ascii_lowercase()
            .contains("content-security-policy:"),
        "{login}"
    );

    assert!(
        running.0.try_wait().unwrap().is_none(),
        "the server exited while serving"
    );
    // Pruned at start, before the address is announced.
    assert!(
        !old.exists(),
        "a mail file older than a week survived the start"
    );
    assert!(recent.exists(), "a recent mail file was deleted");
    running.0.kill().unwrap();
    running.0.wait().unwrap();
    let logs = logs.join().unwrap();
    let warning = logs
        .lines()
        .find(|l| l.contains("in plain text"))
        .unwrap_or_else(|| panic!("no warning that mails are written as files:\n{logs}"));
    assert!(warning.contains("\"WARN\""), "{warning}");
}

#[test]
fn keys_status_shows_the_active_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo_dir(tmp.path());
    let stdout = run_ok(kura().args(["keys", "status", "--dir"]).arg(&dir));
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some("1"))
        .unwrap_or_else(|| panic!("no line for key 1:\n{stdout}"));
    assert!(
        line.split_whitespace().any(|w| w == "active"),
        "key 1 is not active: {line}"
    );
    assert!(!stdout.contains("missing"), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.contains("active")).count(),
        1,
        "exactly one active key:\n{stdout}"
    );
}

/// `kura serve` on `dir`, expected to refuse to start: its stderr. A server that starts instead
/// is killed and the test fails.
fn serve_refused(dir: &Path) -> String {
    let mut child = kura()
        .args(["serve", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .env("KURA_SERVER_METRICS_LISTEN", "")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            assert!(!status.success(), "serve exited successfully: {err}");
            return err;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("kura serve started although it should have refused the key file");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_missing_key_file_never_starts_a_shop_nor_gets_replaced() {
    let parent = tempfile::tempdir().unwrap();
    let dir = demo_dir(parent.path());
    let key = dir.join("kura.key");
    std::fs::rename(&key, parent.path().join("kura.key.saved")).unwrap();

    let err = serve_refused(&dir);
    assert!(
        err.contains("no master key file") && err.contains("kura keys init"),
        "{err}"
    );
    assert!(!key.exists(), "serve created a key file");
    // Nor may `keys init` make one for a database that has data.
    let (out, _, err) = run(kura().args(["keys", "init", "--dir"]).arg(&dir));
    assert!(!out.status.success());
    assert!(err.contains("split the shop"), "{err}");
    assert!(
        !key.exists(),
        "keys init created a key file over existing data"
    );

    // The real file back: the shop starts again.
    std::fs::rename(parent.path().join("kura.key.saved"), &key).unwrap();
    let out = run_ok(kura().args(["keys", "init", "--dir"]).arg(&dir));
    assert!(out.contains("matches the database"), "{out}");
}

#[test]
fn another_shops_key_file_is_refused_by_name() {
    let parent = tempfile::tempdir().unwrap();
    let ours = demo_dir(parent.path());
    let theirs = parent.path().join("other");
    run_ok(kura().args(["demo", "--no-serve", "--dir"]).arg(&theirs));
    std::fs::copy(theirs.join("kura.key"), ours.join("kura.key")).unwrap();

    let err = serve_refused(&ours);
    assert!(
        err.contains("another shop") && err.contains("master key 1") && err.contains("UTC"),
        "{err}"
    );
    let (out, _, err) = run(kura().args(["keys", "status", "--dir"]).arg(&ours));
    assert!(!out.status.success());
    assert!(err.contains("another shop"), "{err}");
}

#[test]
fn an_older_key_file_from_before_a_rotation_is_refused() {
    let parent = tempfile::tempdir().unwrap();
    let dir = demo_dir(parent.path());
    let old = parent.path().join("kura.key.before-rotation");
    std::fs::copy(dir.join("kura.key"), &old).unwrap();
    run_ok(
        kura()
            .args(["keys", "rotate", "--dir"])
            .arg(&dir)
            .env("KURA_KEYS_RELOAD_SECONDS", "1"),
    );
    std::fs::copy(&old, dir.join("kura.key")).unwrap();

    let err = serve_refused(&dir);
    assert!(
        err.contains("master key 2") && err.contains("older copy"),
        "{err}"
    );
}

#[test]
fn bench_card_counts_no_real_address_or_phone_as_a_card() {
    let stdout = run_ok(kura().args(["bench-card", "--customers", "3000"]));
    assert!(stdout.contains("over 3000 synthetic customers"), "{stdout}");
    assert!(stdout.contains("refused in all: 0 "), "{stdout}");
    // The measurement is not empty: every customer's fields were typed in many ways.
    let typed: u64 = stdout
        .lines()
        .filter(|l| l.contains(" typed "))
        .filter_map(|l| l.split_whitespace().rev().nth(3)?.parse::<u64>().ok())
        .sum();
    assert!(typed > 3000 * 50, "{stdout}");
}

#[test]
fn bench_card_measure_refuses_none_of_the_synthetic_fields() {
    let check = kura::bench_card::measure(2000).unwrap();
    assert_eq!(check.refused(), 0, "{check:?}");
    assert!(check.addresses.typed > 2000 * 40);
    assert!(check.phones.typed > 2000 * 30);
    // The hardest case is reported, and it does hit the guard: the count is a real measurement.
    assert!(check.address_and_phone.refused > 0);
}

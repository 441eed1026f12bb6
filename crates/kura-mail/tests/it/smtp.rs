//! The SMTP transport against a real SMTP server: Python's aiosmtpd on a free loopback port,
//! with a handler that stores each message and its envelope, accepts most recipients, defers
//! `later@…` with 451 and rejects `reject@…` with 550 (echoing the address, as real servers do).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use kura_domain::PaymentMethod;
use kura_mail::{Lang, MailError, Mailer, SmtpConfig, SmtpMailer, SmtpTls};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::fixtures::{self, SHOP, TO};
use crate::parse::parse_eml;

const SERVER: &str = r#"
import asyncio, json, os, ssl, sys, time
from aiosmtpd.controller import Controller

port, folder = int(sys.argv[1]), sys.argv[2]
count = 0
tls = {}
if len(sys.argv) > 4:
    # STARTTLS offered and required before MAIL FROM.
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    tls = dict(tls_context=ctx, require_starttls=True)

class Store:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith('reject@'):
            return '550 5.1.1 <%s>: Recipient address rejected: User unknown' % address
        if address.startswith('later@'):
            return '451 4.3.0 <%s>: Temporary lookup failure' % address
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        global count
        count += 1
        stem = os.path.join(folder, '%04d' % count)
        with open(stem + '.eml', 'wb') as f:
            f.write(envelope.original_content or envelope.content)
        with open(stem + '.json', 'w') as f:
            json.dump({'mail_from': envelope.mail_from, 'rcpt_tos': envelope.rcpt_tos}, f)
        return '250 Message accepted for delivery'

controller = Controller(Store(), hostname='127.0.0.1', port=port, **tls)
controller.start()
print('READY', flush=True)
try:
    while True:
        time.sleep(3600)
finally:
    controller.stop()
"#;

/// A running aiosmtpd; killed when dropped.
struct SmtpServer {
    _child: Child,
    port: u16,
    folder: PathBuf,
    _tmp: tempfile::TempDir,
}

/// A self-signed end-entity certificate for 127.0.0.1 (openssl CLI): (cert.pem, key.pem).
fn make_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let cnf = dir.join("cert.cnf");
    std::fs::write(
        &cnf,
        "[req]\ndistinguished_name = dn\nx509_extensions = ext\nprompt = no\n\
         [dn]\nCN = 127.0.0.1\n\
         [ext]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n\
         extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1\n",
    )
    .unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-config"])
        .arg(&cnf)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("the STARTTLS test needs the openssl command-line tool to make a test certificate");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

async fn start_server() -> SmtpServer {
    start_server_with(None).await
}

async fn start_server_with(tls: Option<(&Path, &Path)>) -> SmtpServer {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "the SMTP test needs Python's aiosmtpd: run `pip install aiosmtpd` (CI installs it).\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!(
            "the SMTP test needs python3 with aiosmtpd: install python3, then `pip install aiosmtpd` \
             (CI installs it): {e}"
        ),
    }
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(SERVER)
        .arg(port.to_string())
        .arg(&folder)
        .args(
            tls.map(|(c, k)| [c.as_os_str(), k.as_os_str()])
                .into_iter()
                .flatten(),
        )
        .stdout(Stdio::piped())
        // The server's log (including the expected TLS handshake failure) goes to a file that is
        // shown only if the server does not start.
        .stderr(std::fs::File::create(tmp.path().join("server.log")).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("aiosmtpd did not start within 20 s")
        .unwrap();
    assert_eq!(
        ready.as_deref(),
        Some("READY"),
        "aiosmtpd failed to start:\n{}",
        std::fs::read_to_string(tmp.path().join("server.log")).unwrap_or_default()
    );
    SmtpServer {
        _child: child,
        port,
        folder,
        _tmp: tmp,
    }
}

fn config(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".to_owned(),
        port,
        username: None,
        password: None,
        tls: SmtpTls::None,
        from: "蔵ショップ <shop@example.jp>".to_owned(),
        ca_file: None,
    }
}

fn mailer(port: u16) -> SmtpMailer {
    SmtpMailer::new(&config(port)).unwrap()
}

fn received(folder: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_japanese_order_confirmation_arrives_intact() {
    let server = start_server().await;
    let smtp = mailer(server.port);
    let mail = fixtures::order(Lang::Ja, PaymentMethod::BankTransfer)
        .render(TO)
        .unwrap();
    smtp.send(&mail).await.unwrap();

    let files = received(&server.folder);
    assert_eq!(files.len(), 1, "{files:?}");
    let envelope: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(files[0].with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(envelope["rcpt_tos"], serde_json::json!([TO]));
    assert_eq!(envelope["mail_from"], "shop@example.jp");

    let got = parse_eml(&files[0]);
    assert_eq!(
        got.subject,
        "【蔵ショップ】ご注文ありがとうございます（ご注文番号 K-20250102-0042）"
    );
    assert_eq!(got.to, TO);
    assert!(got.from.contains(SHOP), "{}", got.from);
    assert!(got.message_id.starts_with('<') && got.message_id.ends_with("@example.jp>"));
    assert!(!got.date.is_empty());
    assert_eq!(got.content_type, "multipart/alternative");
    // The parts arrive exactly as rendered (modulo the line ends SMTP normalises).
    // (A mail sent without the outbox has its phrase and code marks removed.)
    assert_eq!(
        got.text.replace("\r\n", "\n").trim_end(),
        kura_mail::without_marks(&mail.text)
            .replace("\r\n", "\n")
            .trim_end()
    );
    assert_eq!(
        got.html.replace("\r\n", "\n").trim_end(),
        kura_mail::without_marks(&mail.html)
            .replace("\r\n", "\n")
            .trim_end()
    );
    assert!(got.text.contains("みずほ銀行"));
    assert!(got.html.contains("&#60;script&#62;"));
}

#[tokio::test]
async fn replies_4xx_are_temporary_and_5xx_permanent_without_the_address() {
    let server = start_server().await;
    let smtp = mailer(server.port);
    let mut mail = fixtures::shipping(Lang::En).render(TO).unwrap();

    mail.to = "later@example.com".to_owned();
    let err = smtp.send(&mail).await.unwrap_err();
    assert!(
        matches!(err, MailError::Temporary(ref s) if s.contains("451")),
        "{err:?}"
    );
    assert!(!err.to_string().contains("later@"), "{err}");

    mail.to = "reject@example.com".to_owned();
    let err = smtp.send(&mail).await.unwrap_err();
    assert!(
        matches!(err, MailError::Undeliverable(ref s) if s.contains("550")),
        "{err:?}"
    );
    assert!(!err.to_string().contains("reject@"), "{err}");

    assert!(received(&server.folder).is_empty());
}

#[tokio::test]
async fn starttls_is_required_and_the_certificate_is_checked() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = make_cert(certs.path());
    let server = start_server_with(Some((&cert, &key))).await;
    let mail = fixtures::verification(Lang::Ja).render(TO).unwrap();

    // A plain client is refused by a server that requires STARTTLS (530 before MAIL).
    let err = mailer(server.port).send(&mail).await.unwrap_err();
    assert!(
        matches!(err, MailError::Permanent(ref s) if s.contains("530")),
        "{err:?}"
    );

    // STARTTLS with a certificate that chains to nothing we trust: no mail leaves.
    let mut c = config(server.port);
    c.tls = SmtpTls::Starttls;
    let err = SmtpMailer::new(&c).unwrap().send(&mail).await.unwrap_err();
    assert!(matches!(err, MailError::Temporary(_)), "{err:?}");
    assert!(received(&server.folder).is_empty());

    // Trusting the server's certificate: the mail goes through over TLS (rustls, ring).
    c.ca_file = Some(cert.clone());
    SmtpMailer::new(&c).unwrap().send(&mail).await.unwrap();
    let files = received(&server.folder);
    assert_eq!(files.len(), 1);
    let got = parse_eml(&files[0]);
    assert_eq!(got.subject, "【蔵ショップ】メールアドレスのご確認");
    assert!(got.text.contains("https://shop.example.jp/verify?t=abc123"));
}

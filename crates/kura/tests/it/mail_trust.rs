//! Mail a customer can trust: `kura mail keys` makes the DKIM keys beside the master key and
//! prints the records to publish; every mail the shop sends carries an Ed25519 and an RSA
//! signature that an independent verifier (dkimpy from PyPI, given only the
//! printed records) accepts, and rejects once a byte of the mail is changed. Every mail also
//! carries a verification code, and the public mail-check page tells from the code or the whole
//! mail whether the shop sent it; forgeries (wrong code, changed body, a real code copied into
//! an unsigned mail) are told apart and reported to the guard.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::storefront::{add, place, submit_checkout, with};
use crate::support::{self, Client};

/// dkimpy verifies signature `idx` of the mail in argv[1]; the TXT records come from argv[2]
/// (one `name<TAB>value` per line) and nowhere else.
const VERIFY: &str = r#"
import sys, dkim
records = {}
for line in open(sys.argv[2], encoding='utf-8'):
    name, value = line.rstrip('\n').split('\t', 1)
    records[name.rstrip('.')] = value
def dns(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    value = records.get(name.rstrip('.'))
    return value.encode() if value else None
msg = open(sys.argv[1], 'rb').read()
d = dkim.DKIM(msg)
out = []
for i in range(int(sys.argv[3])):
    try:
        out.append('pass' if d.verify(idx=i, dnsfunc=dns) else 'fail')
    except Exception as e:
        out.append('fail')
print(' '.join(out))
"#;

/// The TXT records `kura mail keys` printed: name → value (quoted strings joined).
fn printed_records(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once(". IN TXT "))
        .map(|(name, rest)| {
            let value: String = rest
                .split('"')
                .enumerate()
                .filter(|(i, _)| i % 2 == 1)
                .map(|(_, s)| s)
                .collect();
            (name.to_string(), value)
        })
        .collect()
}

fn dkimpy(mail: &Path, records: &Path, signatures: usize) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(VERIFY)
        .arg(mail)
        .arg(records)
        .arg(signatures.to_string())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "dkimpy did not run (bash .ci/test installs dkimpy and pynacl from PyPI): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_mail_is_signed_and_an_independent_verifier_agrees() {
    let shop = support::sqlite_shop().await;
    kura::demo::ensure_catalog(&shop.state.store).await.unwrap();

    // The command makes the keys beside the master key and prints the records.
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_kura"))
            .args(["mail", "keys", "--dir"])
            .arg(shop.dir.path())
            .env_remove("KURA_TEST_PG_URL")
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{first:?}");
    let printed = String::from_utf8_lossy(&first.stdout).into_owned();
    println!("{printed}");
    let records = printed_records(&printed);
    let ed = records
        .get("kura-ed._domainkey.kura.example.jp")
        .expect("the Ed25519 record");
    let rsa = records
        .get("kura-rsa._domainkey.kura.example.jp")
        .expect("the RSA record");
    assert!(ed.starts_with("v=DKIM1; k=ed25519; p="), "{ed}");
    assert!(
        rsa.starts_with("v=DKIM1; k=rsa; p=") && rsa.len() > 300,
        "{rsa}"
    );
    assert!(printed.contains("_dmarc.kura.example.jp. IN TXT \"v=DMARC1; p=reject"));
    assert!(printed.contains("v=spf1"));
    for name in ["kura-dkim-ed25519.der", "kura-dkim-rsa.der"] {
        let meta = std::fs::metadata(shop.dir.path().join(name)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
    }
    // A second run keeps the keys and prints the same records.
    let again = run();
    assert!(again.status.success());
    assert_eq!(
        printed_records(&String::from_utf8_lossy(&again.stdout)),
        records
    );

    // A shop started now signs what it sends: a customer's order confirmation, through the
    // outbox transport (the same message SMTP would carry).
    let state = kura::shop::build(&shop.config).await.unwrap();
    let router = kura_web::router(std::sync::Arc::clone(&state));
    let mut customer = Client::new(&router);
    add(&mut customer, "food-jar", "FJ-40", "1").await;
    submit_checkout(&mut customer, &with(&[])).await;
    let placed = place(&mut customer).await;
    assert!(placed.status.is_redirection(), "{}", placed.body);
    let mailer = kura::shop::mailer(&shop.config).unwrap();
    state.outbox.deliver_due(mailer.as_ref()).await.unwrap();
    let outbox = &shop.config.mail.outbox_dir;
    let mails: Vec<_> = std::fs::read_dir(outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    assert!(!mails.is_empty(), "the order mail was written");

    let work = tempfile::tempdir().unwrap();
    let table = work.path().join("records.tsv");
    std::fs::write(
        &table,
        records
            .iter()
            .map(|(k, v)| format!("{k}\t{v}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let keys = kura::shop::dkim_keys(&shop.config).unwrap().unwrap();
    for mail in &mails {
        let raw = std::fs::read(mail).unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with("DKIM-Signature: "), "{text}");
        assert!(text.contains("a=ed25519-sha256") && text.contains("a=rsa-sha256"));
        assert_eq!(dkimpy(mail, &table, 2), "pass pass", "dkimpy accepts both");
        assert!(matches!(
            keys.verify(&raw).await,
            kura_mail::DkimCheck::Pass(ref s) if s.len() == 2
        ));

        // One changed character in the body (a forger's "updated bank account", say) and
        // neither signature holds.
        let body_at = text.find("\r\n\r\n").unwrap() + 4;
        let mut tampered = raw.clone();
        let i = body_at
            + tampered[body_at..]
                .iter()
                .position(u8::is_ascii_alphanumeric)
                .unwrap();
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        let changed = work.path().join("tampered.eml");
        std::fs::write(&changed, &tampered).unwrap();
        assert_eq!(
            dkimpy(&changed, &table, 2),
            "fail fail",
            "dkimpy rejects it"
        );
        assert_eq!(keys.verify(&tampered).await, kura_mail::DkimCheck::Fail);

        // A changed subject breaks them too.
        let resubject = text.replacen("Subject: ", "Subject: Re: ", 1);
        std::fs::write(&changed, resubject.as_bytes()).unwrap();
        assert_eq!(dkimpy(&changed, &table, 2), "fail fail");
    }
    println!(
        "DKIM: {} mail(s) signed with Ed25519 and RSA-SHA256; dkimpy passes them and fails them \
         once changed",
        mails.len()
    );

    mail_check_page(&state, &router, &std::fs::read(&mails[0]).unwrap()).await;
}

fn verdict(body: &str) -> Option<bool> {
    let at = body.find("data-genuine=\"")? + "data-genuine=\"".len();
    Some(body[at..].starts_with("true"))
}

async fn check(c: &mut Client, input: &str) -> crate::support::Reply {
    let csrf = c.csrf_from("/mail-check").await;
    c.post_form("/mail-check", &[("csrf_token", &csrf), ("mail", input)])
        .await
}

/// The mail-check page on the order mail: its code and its whole source are the shop's; a
/// wrong code, a changed body, a copied code in an unsigned mail are not, and three such
/// reports alert the owner that forgeries are going round.
async fn mail_check_page(state: &kura_web::AppState, router: &axum::Router, raw: &[u8]) {
    let parsed = mail_parser::MessageParser::default().parse(raw).unwrap();
    let text = parsed.body_text(0).unwrap().into_owned();
    assert!(!text.contains("[["), "every mark filled: {text}");
    assert!(text.contains("/mail-check"), "{text}");
    let code = kura_app::mail::find_check_code(&text).expect("the mail carries its code");
    assert!(
        text.contains(&format!("このメールの確認コード：{code}")),
        "{text}"
    );
    let source = String::from_utf8_lossy(raw).into_owned();

    let mut visitor = Client::new(router);
    let page = visitor.get("/mail-check").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("メールの確認"));

    // The code alone, as typed from the mail (lower case, with a space) and as printed.
    for typed in [code.clone(), code.to_lowercase().replace('-', " ")] {
        let r = check(&mut visitor, &typed).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(verdict(&r.body), Some(true), "{typed}: {}", r.body);
        assert!(r.body.contains("当店が送ったメールです。"));
        assert!(r.body.contains("***@example.jp"), "the masked recipient");
        assert!(r.body.contains("ご注文確認"));
    }
    // The whole source: the signature holds too.
    let r = check(&mut visitor, &source).await;
    assert_eq!(verdict(&r.body), Some(true), "{}", r.body);
    assert!(r.body.contains("電子署名（DKIM）も当店の鍵で確かめられ"));
    assert!(
        !r.body.contains(&source[..200]),
        "the pasted mail is not echoed"
    );

    // A code the shop never gave out.
    let r = check(&mut visitor, "00000-00000").await;
    assert_eq!(verdict(&r.body), Some(false));
    assert!(r.body.contains("当店はこのメールを送っていません。"));
    assert!(r.body.contains("当店の記録にありません"));
    // The real mail with one word of its text changed: the signature gives it away.
    let body_at = source.find("\r\n\r\n").unwrap() + 4;
    let mut changed = raw.to_vec();
    let i = body_at
        + changed[body_at..]
            .iter()
            .position(u8::is_ascii_alphanumeric)
            .unwrap();
    changed[i] = if changed[i] == b'A' { b'B' } else { b'A' };
    let r = check(&mut visitor, &String::from_utf8_lossy(&changed)).await;
    assert_eq!(verdict(&r.body), Some(false), "{}", r.body);
    assert!(r.body.contains("電子署名（DKIM）が当店の鍵と一致しません"));
    // A forgery that copied the real code into a mail of its own (no signature of the shop).
    let forged = format!(
        "From: Kura <shop@kura.example.jp>\r\nTo: victim@example.com\r\nSubject: =?utf-8?B?{}?=\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Your card was suspended. Enter your card number at https://kura-shop.example.net/\r\n\
         Verification code of this mail: {code}\r\n",
        "44CQ6YeN6KaB44CR"
    );
    let r = check(&mut visitor, &forged).await;
    assert_eq!(verdict(&r.body), Some(false), "{}", r.body);
    assert!(r.body.contains("本物のメールからコードを写した偽のメール"));
    // Not a code at all: a clear message, in the visitor's language.
    let r = check(&mut visitor, "abc").await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("英数字10文字"));
    let mut english = Client::new(router);
    english.cookies.insert("kura_lang".into(), "en".into());
    let r = check(&mut english, &code).await;
    assert!(r.body.contains("We sent this mail."), "{}", r.body);
    let r = check(&mut english, "00000-00001").await;
    assert!(r.body.contains("We did not send this mail."));

    // Four forgeries reported today: the owner is alerted that forged mail is going round.
    let store = std::sync::Arc::clone(&state.store);
    let mut alerted = false;
    for _ in 0..50 {
        if store
            .alerts(20)
            .await
            .unwrap()
            .iter()
            .any(|a| a.detector == "forged_mail.shop")
        {
            alerted = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(alerted, "the forged-mail alert is raised");
    println!(
        "mail check: code and source of the real mail pass; a wrong code, a changed body and a copied code are refused and alerted"
    );
}

/// Accepts every recipient but `gone…@` and, when given a third argument, those containing it
/// (550 5.1.1, echoing the address as real servers do), logs each RCPT it is offered and
/// stores each accepted message by arrival.
const REJECTING_SERVER: &str = r#"
import os, sys, time
from aiosmtpd.controller import Controller

port, folder = int(sys.argv[1]), sys.argv[2]
also = sys.argv[3] if len(sys.argv) > 3 else None
count = 0

class Store:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with open(os.path.join(folder, 'rcpt.log'), 'a') as f:
            f.write(address + '\n')
        if address.lower().startswith('gone') or (also and also in address):
            return '550 5.1.1 <%s>: Recipient address rejected: User unknown' % address
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        global count
        count += 1
        with open(os.path.join(folder, '%05d.eml' % count), 'wb') as f:
            f.write(envelope.original_content or envelope.content)
        return '250 Message accepted for delivery'

controller = Controller(Store(), hostname='127.0.0.1', port=port)
controller.start()
print('READY', flush=True)
while True:
    time.sleep(3600)
"#;

fn rejecting_smtp_server(folder: &Path) -> (support::Node, u16) {
    rejecting_smtp_server_also(folder, None)
}

/// As [`rejecting_smtp_server`], also refusing every address that contains `also`.
pub(crate) fn rejecting_smtp_server_also(
    folder: &Path,
    also: Option<&str>,
) -> (support::Node, u16) {
    use std::io::BufRead;
    let port = support::free_port();
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(REJECTING_SERVER)
        .arg(port.to_string())
        .arg(folder)
        .args(also)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "READY", "aiosmtpd did not start");
    (support::Node(child), port)
}

fn plain_mail(to: &str, subject: &str) -> kura_app::mail::OutgoingMail {
    kura_app::mail::OutgoingMail {
        to: to.into(),
        subject: subject.into(),
        text: format!("{subject}\n\n{}", kura_app::mail::CHECK_CODE_MARK),
        html: format!("<p>{subject}</p>"),
        kind: "order_update",
    }
}

/// The Message-ID header (without `<>`) of the stored message whose subject is `subject`.
fn message_id_of(folder: &Path, to: &str) -> String {
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let raw = std::fs::read_to_string(&path).unwrap();
        if raw.lines().any(|l| l == format!("To: {to}")) {
            let line = raw.lines().find(|l| l.starts_with("Message-ID:")).unwrap();
            return line
                .trim_start_matches("Message-ID:")
                .trim()
                .trim_matches(['<', '>'])
                .to_string();
        }
    }
    panic!("no stored message to {to}");
}

fn dsn(recipient: &str, message_id: &str, status: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.a.example\r\nTo: bounces@kura.example.jp\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n\
         --B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.a.example\r\n\r\n\
         Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: {status}\r\n\r\n\
         --B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: shop@kura.example.jp\r\n\
         Message-ID: <{message_id}>\r\n\r\n--B--\r\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_and_bounced_addresses_get_no_more_mail_and_each_domain_is_paced() {
    // The pace is per clock minute: start well inside one.
    while std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 60
        > 40
    {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let smtp_dir = tempfile::tempdir().unwrap();
    let (_smtp, port) = rejecting_smtp_server(smtp_dir.path());
    let shop = support::shop_with(None, |c| {
        c.mail.transport = "smtp".into();
        c.mail.smtp_port = port;
        c.mail.per_domain_per_minute = 3;
    })
    .await;
    let state = &shop.state;
    let mailer = kura::shop::mailer(&shop.config).unwrap();
    let rcpts = || {
        std::fs::read_to_string(smtp_dir.path().join("rcpt.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };

    // Two domains: a.example gets three mails (one to an address its server refuses),
    // b.example six, of which three may go this minute.
    for to in ["hanako@a.example", "gone@a.example", "taro@a.example"] {
        state.outbox.enqueue(&plain_mail(to, "a")).await.unwrap();
    }
    for n in 0..6 {
        let to = format!("user{n}@b.example");
        state.outbox.enqueue(&plain_mail(&to, "b")).await.unwrap();
    }
    let (sent, failed) = state.outbox.deliver_due(mailer.as_ref()).await.unwrap();
    assert_eq!(
        (sent, failed),
        (5, 1),
        "2 to a.example, 3 to b.example; gone@ refused"
    );
    let b_offered = rcpts().iter().filter(|r| r.ends_with("@b.example")).count();
    assert_eq!(
        b_offered, 3,
        "b.example was offered its share of this minute only"
    );
    // The rest wait for the next minute without counting as a failed attempt.
    let now = kura_app::clock::Clock::now(state.clock.as_ref());
    assert!(state.store.due_mail(now, 100).await.unwrap().is_empty());
    let waiting = state.store.due_mail(now + 61, 100).await.unwrap();
    assert_eq!(waiting.len(), 3, "three b.example mails wait");
    assert!(waiting.iter().all(|m| m.attempts == 0), "{waiting:?}");

    // The refused address is recorded, with the reply code only, and gets nothing more: a new
    // mail to it (typed differently) is given up without offering it to the server again.
    assert_eq!(
        state.outbox.undeliverable("gone@a.example").await.unwrap(),
        Some(("550".to_string(), "smtp".to_string()))
    );
    state
        .outbox
        .enqueue(&plain_mail(" Gone@A.example ", "again"))
        .await
        .unwrap();
    let offered_before = rcpts().len();
    let (sent, failed) = state.outbox.deliver_due(mailer.as_ref()).await.unwrap();
    assert_eq!((sent, failed), (0, 1));
    assert_eq!(
        rcpts().len(),
        offered_before,
        "the server was not asked again"
    );

    // A bounce comes back later for hanako@ (her mailbox was closed after the server accepted
    // the mail). It names the Message-ID the shop gave her mail, so it is believed.
    let maildir = shop.dir.path().join("bounces");
    std::fs::create_dir_all(maildir.join("new")).unwrap();
    let hanako_id = message_id_of(smtp_dir.path(), "hanako@a.example");
    std::fs::write(
        maildir.join("new/1.mx"),
        dsn("hanako@a.example", &hanako_id, "5.1.1"),
    )
    .unwrap();
    // A forged bounce: someone mails the bounce address naming taro@ with the Message-ID of
    // hanako's mail (or any other), to cut taro off from the shop's mail. Not believed.
    std::fs::write(
        maildir.join("new/2.mx"),
        dsn("taro@a.example", &hanako_id, "5.1.1"),
    )
    .unwrap();
    // A delayed delivery is not a failure either.
    let taro_id = message_id_of(smtp_dir.path(), "taro@a.example");
    std::fs::write(
        maildir.join("new/3.mx"),
        dsn("taro@a.example", &taro_id, "4.2.2"),
    )
    .unwrap();
    // And an ordinary reply to the bounce address is left alone.
    std::fs::write(
        maildir.join("new/4.mx"),
        "From: someone@a.example\r\nSubject: hello\r\n\r\nThanks!\r\n",
    )
    .unwrap();
    kura::shop::read_bounces(state, &maildir).await;
    assert_eq!(
        state
            .outbox
            .undeliverable("hanako@a.example")
            .await
            .unwrap(),
        Some(("5.1.1".to_string(), "dsn".to_string()))
    );
    assert_eq!(
        state.outbox.undeliverable("taro@a.example").await.unwrap(),
        None
    );
    assert_eq!(std::fs::read_dir(maildir.join("new")).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(maildir.join("cur")).unwrap().count(), 4);

    // The address itself is not in the database: only sealed and as a blind index.
    let db = std::fs::read(shop.dir.path().join("kura.db")).unwrap();
    let wal = std::fs::read(shop.dir.path().join("kura.db-wal")).unwrap_or_default();
    for needle in [b"gone@a.example".as_slice(), b"hanako@a.example"] {
        assert!(
            !db.windows(needle.len()).any(|w| w == needle)
                && !wal.windows(needle.len()).any(|w| w == needle),
            "{}",
            String::from_utf8_lossy(needle)
        );
    }
}

//! The outbox transport on a real file system.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use kura_domain::PaymentMethod;
use kura_mail::{Lang, Mailer, OutboxMailer, prune_outbox};

use crate::fixtures::{self, SHOP, TO};
use crate::parse::parse_eml;

#[tokio::test]
async fn writes_private_parseable_files_named_without_the_recipient() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("outbox");
    let outbox = OutboxMailer::new(&dir, "蔵ショップ <shop@example.jp>").unwrap();
    assert_eq!(
        fs::metadata(outbox.dir()).unwrap().permissions().mode() & 0o777,
        0o700
    );

    let order = fixtures::order(Lang::Ja, PaymentMethod::BankTransfer)
        .render(TO)
        .unwrap();
    outbox.send(&order).await.unwrap();
    let reset = fixtures::reset(Lang::En).render(TO).unwrap();
    outbox.send(&reset).await.unwrap();

    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(name.ends_with(".eml"), "{name}");
        assert!(!name.contains("hanako") && !name.contains('@'), "{name}");
        // 20250102T030405Z-<16 hex>.eml
        let (stamp, rest) = name.split_once('-').unwrap();
        assert_eq!(stamp.len(), 16, "{name}");
        assert!(stamp.starts_with("20") && stamp.ends_with('Z'), "{name}");
        assert_eq!(rest.len(), 16 + ".eml".len(), "{name}");
        let mode = fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name}");
    }

    let parsed: Vec<_> = files.iter().map(|p| parse_eml(p)).collect();
    let order_mail = parsed
        .iter()
        .find(|p| p.subject.contains("K-20250102-0042"))
        .expect("the order confirmation");
    assert_eq!(order_mail.subject, order.subject);
    assert_eq!(order_mail.to, TO);
    assert!(order_mail.from.contains(SHOP), "{}", order_mail.from);
    assert!(order_mail.text.contains("12,240円"), "{}", order_mail.text);
    assert!(order_mail.html.contains("12,240円"));
    assert!(order_mail.message_id.ends_with("@example.jp>"));
    assert!(!order_mail.date.is_empty());
    assert_eq!(order_mail.auto_submitted, "auto-generated");
    let reset_mail = parsed
        .iter()
        .find(|p| p.subject.contains("Reset your password"))
        .expect("the reset mail");
    assert!(
        reset_mail
            .text
            .contains("https://shop.example.jp/reset?t=def456")
    );
}

#[tokio::test]
async fn a_bad_recipient_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = OutboxMailer::new(tmp.path().join("o"), "shop@example.jp").unwrap();
    let mut mail = fixtures::verification(Lang::Ja).render(TO).unwrap();
    mail.to = "nobody".to_owned();
    let err = outbox.send(&mail).await.unwrap_err();
    assert!(
        matches!(err, kura_mail::MailError::Undeliverable(_)),
        "{err:?}"
    );
    assert_eq!(fs::read_dir(outbox.dir()).unwrap().count(), 0);
}

/// Sets a file's modification time `days` days into the past.
fn age(path: &std::path::Path, days: u64) {
    let when = std::time::SystemTime::now() - std::time::Duration::from_secs(days * 86_400);
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

#[tokio::test]
async fn pruning_deletes_only_mail_files_older_than_the_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = OutboxMailer::new(tmp.path().join("outbox"), "shop@example.jp").unwrap();
    for _ in 0..3 {
        let mail = fixtures::verification(Lang::Ja).render(TO).unwrap();
        outbox.send(&mail).await.unwrap();
    }
    let mut mails: Vec<_> = fs::read_dir(outbox.dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    mails.sort();
    assert_eq!(mails.len(), 3);
    // Eight days old, six days old, new; plus an old leftover of a crash and an old file that
    // is not a mail.
    age(&mails[0], 8);
    age(&mails[1], 6);
    let leftover = outbox.dir().join("20200101T000000Z-0000000000000000.tmp");
    fs::write(&leftover, "partial").unwrap();
    age(&leftover, 30);
    let notes = outbox.dir().join("README.txt");
    fs::write(&notes, "not a mail").unwrap();
    age(&notes, 30);

    let week = std::time::Duration::from_secs(7 * 86_400);
    assert_eq!(prune_outbox(outbox.dir(), week).unwrap(), 2);
    assert!(!mails[0].exists(), "the eight-day-old mail is kept");
    assert!(!leftover.exists(), "the old temporary file is kept");
    assert!(
        mails[1].exists() && mails[2].exists(),
        "a recent mail was deleted"
    );
    assert!(notes.exists(), "a file that is not a mail was deleted");
    // Nothing more to do the second time.
    assert_eq!(prune_outbox(outbox.dir(), week).unwrap(), 0);
}

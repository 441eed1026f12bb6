//! The outbox transport on a real file system.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use kura_domain::PaymentMethod;
use kura_mail::{Lang, Mailer, OutboxMailer};

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
    assert!(matches!(err, kura_mail::MailError::Permanent(_)), "{err:?}");
    assert_eq!(fs::read_dir(outbox.dir()).unwrap().count(), 0);
}

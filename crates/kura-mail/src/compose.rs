//! Turns a rendered [`OutgoingMail`] into the RFC 5322 message every transport sends.
//!
//! Guarantees: `multipart/alternative` with a `text/plain` then a `text/html` part (readers show
//! the last part they understand, RFC 2046 §5.1.4), both `charset=utf-8`; the subject and the
//! sender's display name are RFC 2047-encoded by lettre when they are not ASCII; a `Date`; a
//! `Message-ID` of 128 random bits at the sender's domain (never the host name, which would tell
//! a reader about our infrastructure); `Auto-Submitted: auto-generated` (RFC 3834) so
//! autoresponders do not answer the shop.

use kura_app::mail::{MailError, OutgoingMail};
use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

/// Parses the sender given in configuration, e.g. `"蔵ショップ <shop@example.jp>"`.
pub(crate) fn parse_from(from: &str) -> Option<Mailbox> {
    from.trim().parse::<Mailbox>().ok()
}

/// Builds the message. A recipient that does not parse is a permanent failure: retrying
/// the same address cannot succeed.
pub(crate) fn compose(mail: &OutgoingMail, from: &Mailbox) -> Result<Message, MailError> {
    compose_as(mail, from, None)
}

/// As [`compose`], with the `Message-ID` made from `reference` when given: the same outbox row
/// delivered twice (a node that died after the server accepted it, before it could record so)
/// is then recognisably one message to the receiving system.
pub(crate) fn compose_as(
    mail: &OutgoingMail,
    from: &Mailbox,
    reference: Option<&str>,
) -> Result<Message, MailError> {
    let to: Mailbox =
        mail.to.trim().parse().map_err(|_| {
            MailError::Undeliverable("the recipient address is not valid".to_owned())
        })?;
    let id = match reference.filter(|r| is_id_token(r)) {
        Some(r) => format!("<{r}@{}>", from.email.domain()),
        None => message_id(from)?,
    };
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(one_line(&mail.subject))
        .message_id(Some(id))
        .date_now()
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_owned(),
        ))
        .multipart(MultiPart::alternative_plain_html(
            without_marks(&mail.text),
            without_marks(&mail.html),
        ))
        .map_err(|e| MailError::Permanent(format!("the message could not be built: {e}")))
}

/// A mail that never passed the outbox has no verification code: its marks are removed rather
/// than shown.
pub fn without_marks(body: &str) -> String {
    use kura_app::mail::{CHECK_CODE_MARK, CHECK_URL_MARK, PHRASE_HTML_MARK, PHRASE_MARK};
    let mut out = body
        .replace(CHECK_CODE_MARK, "-")
        .replace(CHECK_URL_MARK, "-");
    for lang in ["ja", "en"] {
        for mark in [PHRASE_MARK, PHRASE_HTML_MARK] {
            let mark = format!("{mark}{lang}]]");
            out = out.replace(&format!("{mark}\n"), "").replace(&mark, "");
        }
    }
    out
}

/// `<32 hex digits@sender-domain>`.
fn message_id(from: &Mailbox) -> Result<String, MailError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| MailError::Temporary(format!("no randomness for the Message-ID: {e}")))?;
    Ok(format!("<{}@{}>", hex::encode(bytes), from.email.domain()))
}

/// A reference fit for a Message-ID's left side: 16 to 64 lower-case hex digits.
fn is_id_token(r: &str) -> bool {
    (16..=64).contains(&r.len())
        && r.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A subject is one line: control characters (a stray newline in a product name) become spaces.
pub(crate) fn one_line(subject: &str) -> String {
    subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A mail as it leaves the shop: composed, then signed with the shop's DKIM keys (for the
/// incident benchmark, which signs every notice of a large campaign).
pub fn signed_raw(
    mail: &OutgoingMail,
    from: &str,
    dkim: &crate::DkimKeys,
) -> Result<Vec<u8>, MailError> {
    let from = parse_from(from)
        .ok_or_else(|| MailError::Permanent("the sender address does not parse".into()))?;
    dkim.sign(&compose(mail, &from)?.formatted())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail() -> OutgoingMail {
        OutgoingMail {
            to: "hanako@example.com".to_owned(),
            subject: "【蔵ショップ】ご注文ありがとうございます\r\nBcc: evil@example.com".to_owned(),
            text: "本文".to_owned(),
            html: "<p>本文</p>".to_owned(),
            kind: "test",
        }
    }

    fn from() -> Mailbox {
        parse_from("蔵ショップ <shop@example.jp>").expect("valid sender")
    }

    #[test]
    fn message_has_the_headers_and_both_parts() {
        let msg = compose(&mail(), &from()).expect("composes");
        let raw = String::from_utf8_lossy(&msg.formatted()).into_owned();
        assert!(raw.contains("Message-ID: <"), "{raw}");
        assert!(raw.contains("@example.jp>"), "{raw}");
        assert!(raw.contains("Date: "), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("text/plain; charset=utf-8"), "{raw}");
        assert!(raw.contains("text/html; charset=utf-8"), "{raw}");
        assert!(
            raw.contains("Subject: =?utf-8?"),
            "subject is encoded: {raw}"
        );
        assert!(raw.contains("Auto-Submitted: auto-generated"), "{raw}");
        // The injected header line did not become a header.
        assert!(!raw.contains("\r\nBcc:"), "{raw}");
    }

    #[test]
    fn a_bad_recipient_is_permanent_and_not_echoed() {
        let mut m = mail();
        m.to = "not an address <<".to_owned();
        let err = compose(&m, &from()).expect_err("refused");
        assert!(matches!(err, MailError::Undeliverable(ref s) if !s.contains("not an address")));
    }

    #[test]
    fn a_reference_makes_the_same_message_id_every_time() {
        let reference = "00112233445566778899aabbccddeeff";
        let a = compose_as(&mail(), &from(), Some(reference)).expect("composes");
        let b = compose_as(&mail(), &from(), Some(reference)).expect("composes");
        let header = |m: &Message| {
            String::from_utf8_lossy(&m.formatted())
                .lines()
                .find(|l| l.starts_with("Message-ID:"))
                .map(str::to_owned)
        };
        assert_eq!(header(&a), header(&b));
        assert!(
            header(&a).is_some_and(|h| h.contains(reference)),
            "{:?}",
            header(&a)
        );
        // Anything else (a header injection attempt, say) falls back to a random id.
        let odd = compose_as(&mail(), &from(), Some("x>\r\nBcc: a@b")).expect("composes");
        assert!(!header(&odd).unwrap_or_default().contains("Bcc"));
    }

    #[test]
    fn message_ids_are_random() {
        let a = message_id(&from()).expect("id");
        let b = message_id(&from()).expect("id");
        assert_ne!(a, b);
        assert_eq!(a.len(), "<@example.jp>".len() + 32);
    }
}

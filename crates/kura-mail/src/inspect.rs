//! The mail-check page's reading of a pasted raw mail: its DKIM signatures checked against the
//! shop's own keys ([`DkimKeys::verify`]), and the verification code found in its decoded text
//! (base64 and quoted-printable parts decoded, either part of `multipart/alternative`).

use std::sync::Arc;

use async_trait::async_trait;
use kura_app::mail::{
    BounceReport, MailInspector, RawMailInspection, SignatureVerdict, find_check_code,
};
use mail_parser::MimeHeaders;

use crate::dkim::{DkimCheck, DkimKeys};

/// Reads raw mails with the shop's DKIM keys (`None`: the shop does not sign, so no signature
/// can be checked, and none is claimed).
pub struct RawMailReader {
    keys: Option<Arc<DkimKeys>>,
}

impl RawMailReader {
    pub fn new(keys: Option<Arc<DkimKeys>>) -> Self {
        Self { keys }
    }
}

#[async_trait]
impl MailInspector for RawMailReader {
    async fn inspect(&self, raw: &[u8]) -> RawMailInspection {
        // A mail program's "show source" may use bare newlines; DKIM was computed over CRLF.
        let raw = crlf(raw);
        let code = mail_parser::MessageParser::default()
            .parse(&raw)
            .and_then(|m| {
                (0..2)
                    .find_map(|i| m.body_text(i).and_then(|t| find_check_code(&t)))
                    .or_else(|| m.body_html(0).and_then(|t| find_check_code(&t)))
            });
        let signature = match &self.keys {
            None => SignatureVerdict::Unknown,
            Some(keys) => match keys.verify(&raw).await {
                DkimCheck::Pass(_) => SignatureVerdict::Pass,
                DkimCheck::Fail => SignatureVerdict::Fail,
                DkimCheck::NotSigned => SignatureVerdict::NotSigned,
                DkimCheck::Unreadable => SignatureVerdict::Unknown,
            },
        };
        RawMailInspection { signature, code }
    }

    fn read_bounce(&self, raw: &[u8]) -> Option<BounceReport> {
        parse_bounce(raw)
    }
}

/// Reads a delivery-status notification (RFC 3464): the recipients its
/// `message/delivery-status` part reports as failed, with their status codes, and the
/// `Message-ID` of the returned mail (from a `text/rfc822-headers` or `message/rfc822` part).
/// `None` when the mail is not a DSN (an auto-reply, a person writing to the bounce address).
pub fn parse_bounce(raw: &[u8]) -> Option<BounceReport> {
    let message = mail_parser::MessageParser::default().parse(raw)?;
    let mut report = BounceReport::default();
    let mut is_dsn = false;
    for part in &message.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let kind = (
            ct.ctype().to_ascii_lowercase(),
            ct.subtype().unwrap_or_default().to_ascii_lowercase(),
        );
        match (kind.0.as_str(), kind.1.as_str()) {
            ("message", "delivery-status" | "global-delivery-status") => {
                is_dsn = true;
                let text = String::from_utf8_lossy(part.contents());
                report.failed.extend(dsn_failures(&text));
            }
            ("text", "rfc822-headers") if report.message_id.is_none() => {
                let text = String::from_utf8_lossy(part.contents());
                report.message_id = header_value(&text, "message-id").map(bare_id);
            }
            ("message", "rfc822" | "global") if report.message_id.is_none() => {
                report.message_id = match part.message() {
                    Some(inner) => inner.message_id().map(bare_id),
                    None => header_value(&String::from_utf8_lossy(part.contents()), "message-id")
                        .map(bare_id),
                };
            }
            _ => {}
        }
    }
    is_dsn.then_some(report)
}

fn bare_id(id: impl AsRef<str>) -> String {
    id.as_ref()
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

/// Header-style lines with continuation lines joined (blank lines kept: they end DSN groups).
fn unfolded(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some(last) = lines.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
            }
            continue;
        }
        lines.push(line.to_string());
    }
    lines
}

fn header_value(text: &str, name: &str) -> Option<String> {
    unfolded(text).into_iter().find_map(|line| {
        let (field, value) = line.split_once(':')?;
        field
            .trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_string())
    })
}

/// The (recipient, status) of every per-recipient group whose `Action` is `failed`.
fn dsn_failures(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let (mut recipient, mut action, mut status) = (None, None, None);
    let mut flush = |r: &mut Option<String>, a: &mut Option<String>, s: &mut Option<String>| {
        if let (Some(r), Some(a)) = (r.take(), a.take())
            && a.eq_ignore_ascii_case("failed")
        {
            out.push((r, s.take().unwrap_or_else(|| "5.0.0".to_string())));
        }
        *s = None;
    };
    for line in unfolded(text) {
        if line.trim().is_empty() {
            flush(&mut recipient, &mut action, &mut status);
            continue;
        }
        let Some((field, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match field.trim().to_ascii_lowercase().as_str() {
            // "rfc822; hanako@example.jp"
            "final-recipient" => {
                let address = value.split_once(';').map_or(value, |(_, a)| a).trim();
                recipient = Some(bare_id(address));
            }
            "action" => action = Some(value.to_string()),
            "status" => {
                status = value
                    .split_whitespace()
                    .next()
                    .map(str::to_string)
                    .filter(|c| c.chars().all(|ch| ch.is_ascii_digit() || ch == '.'));
            }
            _ => {}
        }
    }
    flush(&mut recipient, &mut action, &mut status);
    out
}

/// Every line ending as CRLF.
fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

#[cfg(test)]
mod bounce_tests {
    use super::*;

    const DSN: &str = "From: MAILER-DAEMON@mx.example.com\r\n\
To: bounces@shop.example.jp\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\
Message-ID: <dsn-1@mx.example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain\r\n\
\r\n\
Your message could not be delivered.\r\n\
--b1\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; mx.example.com\r\n\
\r\n\
Final-Recipient: rfc822; Hanako@Example.com\r\n\
Action: failed\r\n\
Status: 5.1.1 (user unknown)\r\n\
\r\n\
Final-Recipient: rfc822;taro@example.com\r\n\
Action: delayed\r\n\
Status: 4.2.2\r\n\
--b1\r\n\
Content-Type: text/rfc822-headers\r\n\
\r\n\
From: shop@shop.example.jp\r\n\
Message-ID:\r\n\x20<00112233445566778899aabbccddeeff0011223344556677@shop.example.jp>\r\n\
Subject: order\r\n\
--b1--\r\n";

    #[test]
    fn a_dsn_names_its_failed_recipients_and_the_returned_message() {
        let report = parse_bounce(DSN.as_bytes()).expect("a DSN");
        assert_eq!(
            report.message_id.as_deref(),
            Some("00112233445566778899aabbccddeeff0011223344556677@shop.example.jp")
        );
        // The delayed recipient is not a failure.
        assert_eq!(
            report.failed,
            vec![("Hanako@Example.com".to_string(), "5.1.1".to_string())]
        );
    }

    #[test]
    fn a_plain_reply_is_not_a_bounce() {
        let reply = "From: someone@example.com\r\nTo: bounces@shop.example.jp\r\n\
Subject: Re: order\r\n\r\nFinal-Recipient: rfc822; x@example.com\r\nAction: failed\r\n";
        assert_eq!(parse_bounce(reply.as_bytes()), None);
    }
}

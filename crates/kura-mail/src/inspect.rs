//! The mail-check page's reading of a pasted raw mail: its DKIM signatures checked against the
//! shop's own keys ([`DkimKeys::verify`]), and the verification code found in its decoded text
//! (base64 and quoted-printable parts decoded, either part of `multipart/alternative`).

use std::sync::Arc;

use async_trait::async_trait;
use kura_app::mail::{MailInspector, RawMailInspection, SignatureVerdict, find_check_code};

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

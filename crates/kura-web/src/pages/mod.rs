//! Pages and the context every page shares.

pub mod account;
pub mod cart;
pub mod checkout;
pub mod contact;
pub mod forms;
pub mod info;
pub mod mail_check;
pub mod notice;
pub mod notices;
pub mod ops;
pub mod orders;
pub mod password;
pub mod profile;
pub mod receipts;
pub mod register;
pub mod storefront;
pub mod webhooks;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::AppState;
use crate::error::WebError;
use crate::i18n::{Lang, Tr};
use crate::security::headers::CspNonce;
use crate::security::session::Session;

/// What the layout needs: language, CSP nonce, shop name, and (when a session exists) the CSRF
/// token for the header's sign-out form. Anonymous page views create no session.
pub struct PageContext {
    pub tr: Tr,
    pub nonce: String,
    pub shop_name: String,
    pub csrf: String,
    pub signed_in: bool,
    /// The current path, percent-encoded, for "switch language and come back" links.
    pub back: String,
    /// While an incident has a public notice: its id and title in the page's language, linked
    /// from every page.
    pub notice: Option<(i64, String)>,
}

impl PageContext {
    /// A context for pages rendered outside a handler (the maintenance page): no session.
    pub fn bare(parts: &Parts, state: &AppState) -> Self {
        let tr = Tr(Lang::from_headers(&parts.headers));
        Self {
            tr,
            nonce: parts
                .extensions
                .get::<CspNonce>()
                .map(|n| n.0.clone())
                .unwrap_or_default(),
            shop_name: state.config.shop_name.clone(),
            csrf: String::new(),
            signed_in: false,
            back: encode_component(parts.uri.path()),
            notice: notice_for(state, tr),
        }
    }
}

/// The open incident's notice link, in `tr`'s language.
fn notice_for(state: &AppState, tr: Tr) -> Option<(i64, String)> {
    state.incidents.banner().map(|b| {
        let title = if tr.lang() == "ja" {
            b.title_ja
        } else {
            b.title_en
        };
        (b.incident_id, title)
    })
}

/// Percent-encodes everything but unreserved characters and '/'.
/// A moment in Japan as the visitor's language writes it (`2026年12月5日(土) 10:00`, or
/// `Sat 5 Dec 2026, 10:00 (Japan time)`).
pub fn moment(tr: crate::i18n::Tr, unix: i64) -> String {
    if tr.0 == crate::i18n::Lang::En {
        kura_domain::Date::moment_en(unix)
    } else {
        kura_domain::Date::moment_ja(unix)
    }
}

pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A local path to return to; anything else (other hosts, `//evil`, backslashes) becomes "/".
pub fn local_path(candidate: &str) -> &str {
    let ok = candidate.starts_with('/')
        && !candidate.starts_with("//")
        && !candidate.contains('\\')
        && !candidate.chars().any(char::is_control);
    if ok { candidate } else { "/" }
}

impl FromRequestParts<AppState> for PageContext {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state).await?;
        let signed_in = session.customer_id().await.is_some();
        let csrf = if session.exists().await {
            session.csrf_token().await?
        } else {
            String::new()
        };
        let tr = Tr(Lang::from_headers(&parts.headers));
        Ok(Self {
            tr,
            nonce: parts
                .extensions
                .get::<CspNonce>()
                .map(|n| n.0.clone())
                .unwrap_or_default(),
            shop_name: state.config.shop_name.clone(),
            csrf,
            signed_in,
            back: encode_component(parts.uri.path()),
            notice: notice_for(state, tr),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path("/account"), "/account");
        assert_eq!(local_path("//evil.example"), "/");
        assert_eq!(local_path("https://evil.example"), "/");
        assert_eq!(local_path("/\\evil"), "/");
        assert_eq!(encode_component("/a b&c"), "/a%20b%26c");
    }
}

//! Rendering: plain data in, an [`OutgoingMail`](kura_app::mail::OutgoingMail) with a text and
//! an HTML twin out.
//!
//! Guarantees: templates are compiled in (askama), so what a mail can say is fixed at build
//! time; HTML templates are auto-escaped (a product called `<script>` arrives as text); text
//! templates are not escaped because `text/plain` has no markup. Every mail checks its recipient
//! and its links before rendering, so a `javascript:` link or a broken address never reaches a
//! template.

pub(crate) mod incident;
pub(crate) mod incident_guidance;
pub(crate) mod incident_lookup;
pub(crate) mod inquiry;
pub(crate) mod order;
pub(crate) mod payment;
pub(crate) mod reset;
pub(crate) mod restock;
pub(crate) mod shipping;
pub(crate) mod staff;
pub(crate) mod update;
pub(crate) mod verify;

use crate::error::RenderError;

/// Declares the four templates of one mail (Japanese and English, text and HTML) over the same
/// data struct `m`, and a function that renders the pair for a language.
macro_rules! twin_templates {
    ($data:ty, ja_text = $jt:tt, ja_html = $jh:tt, en_text = $et:tt, en_html = $eh:tt $(,)?) => {
        #[derive(askama::Template)]
        #[template(path = $jt, escape = "none")]
        struct JaText<'a> {
            m: &'a $data,
        }

        #[derive(askama::Template)]
        #[template(path = $jh, escape = "html")]
        struct JaHtml<'a> {
            m: &'a $data,
        }

        #[derive(askama::Template)]
        #[template(path = $et, escape = "none")]
        struct EnText<'a> {
            m: &'a $data,
        }

        #[derive(askama::Template)]
        #[template(path = $eh, escape = "html")]
        struct EnHtml<'a> {
            m: &'a $data,
        }

        /// (text, html) in the mail's language.
        fn render_twins(m: &$data) -> Result<(String, String), askama::Error> {
            use askama::Template as _;
            Ok(match m.lang {
                $crate::Lang::Ja => (JaText { m }.render()?, JaHtml { m }.render()?),
                $crate::Lang::En => (EnText { m }.render()?, EnHtml { m }.render()?),
            })
        }
    };
}
pub(crate) use twin_templates;

/// The recipient must be a plain, valid address (`hanako@example.com`).
pub(crate) fn check_recipient(to: &str) -> Result<(), RenderError> {
    to.trim()
        .parse::<lettre::Address>()
        .map(|_| ())
        .map_err(|_| RenderError::Recipient)
}

/// Links in mails must be absolute http(s) URLs with no whitespace or control characters: a
/// `javascript:` or `data:` link, or a URL that breaks a text line, is refused. (Plain `http`
/// is allowed for the local demo; production configuration uses `https`.)
pub(crate) fn check_url(field: &'static str, url: &str) -> Result<(), RenderError> {
    let lower = url
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let scheme_ok = lower.starts_with("https://") || lower.starts_with("http://");
    let clean = !url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == '"');
    let has_host = url
        .split_once("://")
        .is_some_and(|(_, rest)| !rest.is_empty() && !rest.starts_with('/'));
    if scheme_ok && clean && has_host {
        Ok(())
    } else {
        Err(RenderError::Url { field })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clean_http_links_pass() {
        for ok in [
            "https://shop.example.jp/orders/K-1",
            "HTTPS://shop.example.jp/",
            "http://127.0.0.1:8080/verify?t=abc",
        ] {
            assert!(check_url("u", ok).is_ok(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "https://shop.example.jp/a b",
            "https://shop.example.jp/\r\nX",
            "https:///path",
            "//shop.example.jp/",
            "https://",
            "",
            "https://shop.example.jp/\"onclick=",
        ] {
            assert!(check_url("u", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn recipients_must_be_addresses() {
        assert!(check_recipient("hanako@example.com").is_ok());
        assert!(check_recipient("Hanako <hanako@example.com>").is_err());
        assert!(check_recipient("hanako").is_err());
        assert!(check_recipient("a@b.example\r\nBcc: x@y.example").is_err());
    }
}

//! The password-reset mail: a single link to choose a new password, when it stops
//! working, and that a customer who did not ask can ignore it (the password stays as it was).
//! It never contains the password, old or new.

use kura_app::mail::OutgoingMail;

use super::{check_recipient, check_url, twin_templates};
use crate::Lang;
use crate::error::RenderError;

/// Everything the password-reset mail says.
#[derive(Clone)]
pub struct PasswordReset {
    pub lang: Lang,
    pub shop_name: String,
    /// The one-time link (carries the token).
    pub reset_url: String,
    /// When the link expires, preformatted (e.g. "2025年1月2日 10:30" or "24 hours").
    pub expires_at: String,
    pub anti_phishing_phrase: Option<String>,
    /// The customer desk (phone and hours) every footer names; empty: none configured.
    pub desk: String,
}

impl std::fmt::Debug for PasswordReset {
    // The URL holds a bearer token: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordReset")
            .field("lang", &self.lang)
            .finish_non_exhaustive()
    }
}

twin_templates!(
    PasswordReset,
    ja_text = "ja/password_reset.txt",
    ja_html = "ja/password_reset.html",
    en_text = "en/password_reset.txt",
    en_html = "en/password_reset.html",
);

impl PasswordReset {
    pub const KIND: &'static str = "password_reset";

    pub fn render(&self, to: &str) -> Result<OutgoingMail, RenderError> {
        check_recipient(to)?;
        check_url("reset_url", &self.reset_url)?;
        let subject = match self.lang {
            Lang::Ja => format!("【{}】パスワード再設定のご案内", self.shop_name),
            Lang::En => format!("[{}] Reset your password", self.shop_name),
        };
        let (text, html) = render_twins(self)?;
        Ok(OutgoingMail {
            to: to.trim().to_owned(),
            subject,
            text,
            html,
            kind: Self::KIND,
        })
    }
}

//! The email-address verification mail: a single link that proves the customer reads this
//! mailbox, and when it stops working. It asks for nothing else.

use kura_app::mail::OutgoingMail;

use super::{check_recipient, check_url, twin_templates};
use crate::Lang;
use crate::error::RenderError;

/// Everything the verification mail says.
#[derive(Clone)]
pub struct EmailVerification {
    pub lang: Lang,
    pub shop_name: String,
    /// The one-time link (carries the token).
    pub verify_url: String,
    /// When the link expires, preformatted (e.g. "2025年1月2日 10:30" or "24 hours").
    pub expires_at: String,
    pub anti_phishing_phrase: Option<String>,
    /// The customer desk (phone and hours) every footer names; empty: none configured.
    pub desk: String,
}

impl std::fmt::Debug for EmailVerification {
    // The URL holds a bearer token: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailVerification")
            .field("lang", &self.lang)
            .finish_non_exhaustive()
    }
}

twin_templates!(
    EmailVerification,
    ja_text = "ja/verify_email.txt",
    ja_html = "ja/verify_email.html",
    en_text = "en/verify_email.txt",
    en_html = "en/verify_email.html",
);

impl EmailVerification {
    pub const KIND: &'static str = "verify_email";

    pub fn render(&self, to: &str) -> Result<OutgoingMail, RenderError> {
        check_recipient(to)?;
        check_url("verify_url", &self.verify_url)?;
        let subject = match self.lang {
            Lang::Ja => format!("【{}】メールアドレスのご確認", self.shop_name),
            Lang::En => format!("[{}] Please confirm your email address", self.shop_name),
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

//! Mails of the inquiry desk: the acknowledgement (which never repeats what was typed, so the
//! form cannot carry someone's text to another person's address) and a staff reply.

use kura_app::mail::OutgoingMail;

use super::{check_recipient, twin_templates};
use crate::Lang;
use crate::error::RenderError;

#[derive(Debug, Clone)]
pub struct InquiryMail {
    pub lang: Lang,
    pub shop_name: String,
    /// The sender's name as given on the form.
    pub name: String,
    /// The inquiry's number (`Q-XXXX-XXXX`).
    pub number: String,
    /// The reply's text; `None` for the acknowledgement.
    pub reply: Option<String>,
    pub anti_phishing_phrase: Option<String>,
    /// The customer desk (phone and hours) every footer names; empty: none configured.
    pub desk: String,
}

twin_templates!(
    InquiryMail,
    ja_text = "ja/inquiry.txt",
    ja_html = "ja/inquiry.html",
    en_text = "en/inquiry.txt",
    en_html = "en/inquiry.html",
);

impl InquiryMail {
    pub const KIND: &'static str = "inquiry";

    pub fn render(&self, to: &str) -> Result<OutgoingMail, RenderError> {
        check_recipient(to)?;
        let subject = match (self.lang, self.reply.is_some()) {
            (Lang::Ja, false) => format!(
                "【{}】お問い合わせを受け付けました（{}）",
                self.shop_name, self.number
            ),
            (Lang::Ja, true) => format!(
                "【{}】お問い合わせへのご回答（{}）",
                self.shop_name, self.number
            ),
            (Lang::En, false) => format!(
                "[{}] We received your inquiry ({})",
                self.shop_name, self.number
            ),
            (Lang::En, true) => format!(
                "[{}] Reply to your inquiry ({})",
                self.shop_name, self.number
            ),
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

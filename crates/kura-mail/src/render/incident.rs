//! The notice to a person whose data an incident touched. It carries what the Personal
//! Information Protection Commission's rules ask a notice to individuals to say: what
//! happened, which of their data, the cause as far as known, the harm that may follow and what
//! to do about it, and whom to contact. Like every mail of the shop, it has no link to a page
//! that asks for a card number, and it says how to tell it from a forged one.

use kura_app::mail::OutgoingMail;

use super::{check_recipient, twin_templates};
use crate::Lang;
use crate::error::RenderError;

#[derive(Debug, Clone)]
pub struct IncidentNotice {
    pub lang: Lang,
    pub shop_name: String,
    /// The person's name as the shop holds it ("山田 花子" or "Hanako Yamada").
    pub name: String,
    /// The title and text of the first entry of the public notice, in the mail's language.
    pub title: String,
    pub overview: String,
    /// The kinds of this person's data that were affected, in the mail's language.
    pub fields: Vec<String>,
    /// When it was found and the window in which data may have been taken (Japan time).
    pub discovered: String,
    pub window: String,
    pub cause: String,
    /// Whether password hashes were among the data (the mail then asks for a new password).
    pub passwords_affected: bool,
    /// The public notice page.
    pub notice_url: String,
    pub anti_phishing_phrase: Option<String>,
    pub desk: String,
}

twin_templates!(
    IncidentNotice,
    ja_text = "ja/incident_notice.txt",
    ja_html = "ja/incident_notice.html",
    en_text = "en/incident_notice.txt",
    en_html = "en/incident_notice.html",
);

impl IncidentNotice {
    pub const KIND: &'static str = "incident_notice";

    pub fn render(&self, to: &str) -> Result<OutgoingMail, RenderError> {
        check_recipient(to)?;
        let subject = match self.lang {
            Lang::Ja => format!(
                "【{}】お客さまの個人情報に関する重要なお知らせ",
                self.shop_name
            ),
            Lang::En => format!(
                "[{}] Important notice about your personal data",
                self.shop_name
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

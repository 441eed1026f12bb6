//! The aftercare mail of an incident: the account's password no longer works and how to set a
//! new one, and what to watch for (card statements, reused passwords, forged mail).

use kura_app::mail::OutgoingMail;

use super::{check_recipient, twin_templates};
use crate::Lang;
use crate::error::RenderError;

#[derive(Debug, Clone)]
pub struct IncidentGuidance {
    pub lang: Lang,
    pub shop_name: String,
    pub notice_url: String,
    /// Where a new password is asked for.
    pub reset_url: String,
    pub anti_phishing_phrase: Option<String>,
    pub desk: String,
}

twin_templates!(
    IncidentGuidance,
    ja_text = "ja/incident_guidance.txt",
    ja_html = "ja/incident_guidance.html",
    en_text = "en/incident_guidance.txt",
    en_html = "en/incident_guidance.html",
);

impl IncidentGuidance {
    pub const KIND: &'static str = "incident_guidance";

    pub fn render(&self, to: &str) -> Result<OutgoingMail, RenderError> {
        check_recipient(to)?;
        let subject = match self.lang {
            Lang::Ja => format!(
                "【{}】パスワードの再設定のお願いと、被害を防ぐためのご案内",
                self.shop_name
            ),
            Lang::En => format!(
                "[{}] Please set a new password, and how to stay safe",
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

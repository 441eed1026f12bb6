//! The answer to "was my data affected?" from an incident's notice page: sent only to the
//! address the shop holds, saying which data items of theirs are concerned, or that none are.

use kura_app::mail::OutgoingMail;

use super::{check_recipient, twin_templates};
use crate::Lang;
use crate::error::RenderError;

/// The answer to "was my data affected?", sent only to the address the shop holds.
#[derive(Debug, Clone)]
pub struct IncidentLookupAnswer {
    pub lang: Lang,
    pub shop_name: String,
    /// The person's affected data items (in the mail's language); `None`: not among them.
    pub fields: Option<Vec<String>>,
    pub notice_url: String,
    pub anti_phishing_phrase: Option<String>,
    pub desk: String,
}

twin_templates!(
    IncidentLookupAnswer,
    ja_text = "ja/incident_lookup.txt",
    ja_html = "ja/incident_lookup.html",
    en_text = "en/incident_lookup.txt",
    en_html = "en/incident_lookup.html",
);

impl IncidentLookupAnswer {
    pub const KIND: &'static str = "incident_lookup";

    pub fn render(&self, to: &str) -> Result<OutgoingMail, RenderError> {
        check_recipient(to)?;
        let subject = match self.lang {
            Lang::Ja => format!("【{}】個人情報に関するお問い合わせへの回答", self.shop_name),
            Lang::En => format!(
                "[{}] Answer to your question about your personal data",
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

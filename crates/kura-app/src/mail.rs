//! The outgoing-mail port. Kura renders a mail (text and HTML twins, in the customer's
//! language) and hands it to a transport: SMTP in production, an outbox folder in the demo.

use async_trait::async_trait;

/// A rendered mail, ready to send. `to` is personal data: it lives only in memory here and is
/// never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// What kind of mail this is ("order_confirmation", "verify_email", ...), for logs/metrics.
    pub kind: &'static str,
}

impl std::fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MailError {
    /// Worth retrying later (server down, temporary refusal).
    #[error("the mail could not be sent now: {0}")]
    Temporary(String),
    /// Retrying will not help (bad address, message refused).
    #[error("the mail was refused: {0}")]
    Permanent(String),
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError>;
}

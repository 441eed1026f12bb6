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

/// The durable outbox: a mail is sealed into the database first, then delivered by a worker
/// with retries, so a mail server that is down loses nothing and a crash after an order
/// still sends its confirmation.
pub struct MailOutbox {
    store: std::sync::Arc<dyn crate::ports::Store>,
    vault: std::sync::Arc<crate::vault::Vault>,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredMail {
    to: String,
    subject: String,
    text: String,
    html: String,
    kind: String,
}

/// Retry delays after each failed attempt; after the last, the mail is marked failed.
const BACKOFF_SECONDS: [i64; 8] = [30, 60, 300, 900, 1800, 3600, 7200, 21600];

fn static_kind(kind: &str) -> &'static str {
    match kind {
        "order_confirmation" => "order_confirmation",
        "email_verification" => "email_verification",
        "password_reset" => "password_reset",
        "shipping_notice" => "shipping_notice",
        "payment_received" => "payment_received",
        _ => "mail",
    }
}

impl MailOutbox {
    pub fn new(
        store: std::sync::Arc<dyn crate::ports::Store>,
        vault: std::sync::Arc<crate::vault::Vault>,
        clock: std::sync::Arc<dyn crate::clock::Clock>,
    ) -> Self {
        Self {
            store,
            vault,
            clock,
        }
    }

    pub async fn enqueue(&self, mail: &OutgoingMail) -> Result<(), crate::AppError> {
        let record = self.seal(mail)?;
        Ok(self.store.enqueue_mail(&record).await?)
    }

    /// The mail sealed as an outbox row, for a caller that stores it in its own transaction.
    pub fn seal(
        &self,
        mail: &OutgoingMail,
    ) -> Result<crate::sealed::OutboxRecord, crate::AppError> {
        let id = crate::ids::new_id();
        let stored = StoredMail {
            to: mail.to.clone(),
            subject: mail.subject.clone(),
            text: mail.text.clone(),
            html: mail.html.clone(),
            kind: mail.kind.to_string(),
        };
        let json = serde_json::to_vec(&stored).map_err(|e| crate::AppError::Task(e.to_string()))?;
        let payload = self
            .vault
            .ring()
            .seal(crate::sealed::col::OUTBOX_PAYLOAD, id, &json)?;
        let record = crate::sealed::OutboxRecord {
            id,
            kind: mail.kind.to_string(),
            payload,
            attempts: 0,
            next_attempt_at: self.clock.now(),
        };
        Ok(record)
    }

    /// Sends what is due. Returns (sent, failed attempts).
    pub async fn deliver_due(&self, mailer: &dyn Mailer) -> Result<(u64, u64), crate::AppError> {
        let now = self.clock.now();
        let (mut sent, mut failed) = (0, 0);
        for record in self.store.due_mail(now, 50).await? {
            let ring = self
                .vault
                .ring_holding(record.payload.key_id().unwrap_or(0));
            let stored: StoredMail = match ring.open(
                crate::sealed::col::OUTBOX_PAYLOAD,
                record.id,
                &record.payload,
            ) {
                Ok(plain) => match serde_json::from_slice(&plain) {
                    Ok(m) => m,
                    Err(_) => {
                        self.store.mail_failed(record.id, now, true).await?;
                        continue;
                    }
                },
                Err(e) => {
                    tracing::error!(target: "kura::mail", id = record.id, error = %e, "queued mail could not be opened");
                    self.store.mail_failed(record.id, now, true).await?;
                    continue;
                }
            };
            let mail = OutgoingMail {
                to: stored.to,
                subject: stored.subject,
                text: stored.text,
                html: stored.html,
                kind: static_kind(&stored.kind),
            };
            match mailer.send(&mail).await {
                Ok(()) => {
                    self.store.mail_sent(record.id).await?;
                    tracing::info!(target: "kura::mail", kind = mail.kind, "mail sent");
                    sent += 1;
                }
                Err(e) => {
                    failed += 1;
                    let attempt = usize::try_from(record.attempts).unwrap_or(usize::MAX);
                    let give_up =
                        matches!(e, MailError::Permanent(_)) || attempt >= BACKOFF_SECONDS.len();
                    let delay = BACKOFF_SECONDS.get(attempt).copied().unwrap_or(21_600);
                    tracing::warn!(target: "kura::mail", kind = mail.kind, attempt = record.attempts + 1, give_up, error = %e, "mail not sent");
                    self.store
                        .mail_failed(record.id, now + delay, give_up)
                        .await?;
                }
            }
        }
        Ok((sent, failed))
    }
}

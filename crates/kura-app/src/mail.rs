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
    /// Sends `mail` as the message named `reference`, a stable token of one outbox row, so a
    /// repeated delivery (a node that died between the server's acceptance and recording it)
    /// carries the same `Message-ID`. Transports without message ids just send.
    async fn send_as(&self, mail: &OutgoingMail, reference: &str) -> Result<(), MailError> {
        let _ = reference;
        self.send(mail).await
    }
}

/// The durable outbox: a mail is sealed into the database first, then delivered by a worker
/// with retries, so a mail server that is down loses nothing and a crash after an order
/// still sends its confirmation.
pub struct MailOutbox {
    store: std::sync::Arc<dyn crate::ports::Store>,
    vault: std::sync::Arc<crate::vault::Vault>,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    /// How long a claimed batch is this node's alone; longer than sending a batch takes.
    lease_seconds: i64,
    canaries: Option<std::sync::Arc<crate::canary::Canaries>>,
}

/// Mails claimed per round: few enough that a batch is sent well within its lease.
const CLAIM_BATCH: u32 = 10;
/// Batches one delivery round may send (50 mails every 2 s per node, as before claims):
/// delivery keeps pace with a busy shop without taking the writer from its checkouts.
const MAX_BATCHES_PER_ROUND: u32 = 5;

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredMail {
    to: String,
    subject: String,
    text: String,
    html: String,
    kind: String,
}

use crate::data_keys::PersonKeys;

/// Retry delays after each failed attempt; after the last, the mail is marked failed.
const BACKOFF_SECONDS: [i64; 8] = [30, 60, 300, 900, 1800, 3600, 7200, 21600];

fn static_kind(kind: &str) -> &'static str {
    match kind {
        "order_confirmation" => "order_confirmation",
        "email_verification" => "email_verification",
        "verify_email" => "verify_email",
        "password_reset" => "password_reset",
        "shipping_notice" => "shipping_notice",
        "payment_received" => "payment_received",
        "order_update" => "order_update",
        "inquiry" => "inquiry",
        "staff_notice" => "staff_notice",
        "guard_alert" => "guard_alert",
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
            lease_seconds: 600,
            canaries: None,
        }
    }

    /// Watches the shop's canary customers: a mail about to go to one raises the alert (it is
    /// still sent, so whoever caused it learns nothing).
    pub fn with_canaries(mut self, canaries: std::sync::Arc<crate::canary::Canaries>) -> Self {
        self.canaries = Some(canaries);
        self
    }

    /// How long a node holds the mails it claimed before another node may send them. A batch
    /// must be sent within it, or a slow node's mail could go out twice.
    pub fn with_lease_seconds(mut self, seconds: i64) -> Self {
        self.lease_seconds = seconds.max(1);
        self
    }

    /// Queues a mail that belongs to no stored person (sealed under the master key).
    pub async fn enqueue(&self, mail: &OutgoingMail) -> Result<(), crate::AppError> {
        let record = self.seal(mail, None)?;
        Ok(self.store.enqueue_mail(&record).await?)
    }

    /// The mail sealed as an outbox row under the data key of the person it goes to (`None`:
    /// under the master key), for a caller that stores it in its own transaction.
    pub fn seal(
        &self,
        mail: &OutgoingMail,
        data_key: Option<&crate::sealed::DataKeyRef>,
    ) -> Result<crate::sealed::OutboxRecord, crate::AppError> {
        let id = crate::ids::new_id();
        let stored = StoredMail {
            to: mail.to.clone(),
            subject: mail.subject.clone(),
            text: mail.text.clone(),
            html: mail.html.clone(),
            kind: mail.kind.to_string(),
        };
        let json = zeroize::Zeroizing::new(
            serde_json::to_vec(&stored).map_err(|e| crate::AppError::Task(e.to_string()))?,
        );
        let keys = PersonKeys::of(&self.vault, data_key)?;
        let payload = keys.seal(crate::sealed::col::OUTBOX_PAYLOAD, id, &json)?;
        let record = crate::sealed::OutboxRecord {
            id,
            kind: mail.kind.to_string(),
            payload,
            attempts: 0,
            next_attempt_at: self.clock.now(),
            data_key: data_key.map(|k| crate::sealed::DataKeyRef {
                id: k.id,
                wrapped: None,
            }),
        };
        Ok(record)
    }

    /// The stable reference of an outbox row's message: a keyed MAC of its id, so the id itself
    /// is not shown to recipients.
    fn message_reference(&self, id: i64) -> Result<String, crate::AppError> {
        let mac = self.vault.ring().blind_index(
            crate::sealed::col::OUTBOX_MESSAGE_ID,
            &id.to_string(),
            kura_seal::Normalize::Text,
        )?;
        Ok(hex::encode(mac.as_bytes().get(..16).unwrap_or_default()))
    }

    /// Sends what is due, claiming it first so that no other node sends the same mail.
    /// Returns (sent, failed attempts).
    pub async fn deliver_due(&self, mailer: &dyn Mailer) -> Result<(u64, u64), crate::AppError> {
        let (mut sent, mut failed) = (0, 0);
        // Batch after batch while full ones come back, each under its own lease.
        for _ in 0..MAX_BATCHES_PER_ROUND {
            let now = self.clock.now();
            let lease = now + self.lease_seconds;
            let batch = self.store.claim_mail(now, lease, CLAIM_BATCH).await?;
            let full = batch.len() >= CLAIM_BATCH as usize;
            for record in batch {
                let opened = PersonKeys::of(&self.vault, record.data_key.as_ref())
                    .map_err(|e| e.to_string())
                    .and_then(|keys| {
                        keys.open(
                            crate::sealed::col::OUTBOX_PAYLOAD,
                            record.id,
                            &record.payload,
                        )
                        .map_err(|e| e.to_string())
                    });
                let stored: StoredMail = match opened {
                    Ok(plain) => match serde_json::from_slice(&plain) {
                        Ok(m) => m,
                        Err(_) => {
                            self.store.mail_failed(record.id, lease, now, true).await?;
                            continue;
                        }
                    },
                    Err(e) => {
                        tracing::error!(target: "kura::mail", id = record.id, error = %e, "queued mail could not be opened");
                        self.store.mail_failed(record.id, lease, now, true).await?;
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
                if let Some(c) = &self.canaries {
                    c.check(&mail.to, "mail", None, None);
                }
                let reference = self.message_reference(record.id)?;
                match mailer.send_as(&mail, &reference).await {
                    Ok(()) => {
                        self.store.mail_sent(record.id).await?;
                        tracing::info!(target: "kura::mail", kind = mail.kind, "mail sent");
                        sent += 1;
                    }
                    Err(e) => {
                        failed += 1;
                        let attempt = usize::try_from(record.attempts).unwrap_or(usize::MAX);
                        let give_up = matches!(e, MailError::Permanent(_))
                            || attempt >= BACKOFF_SECONDS.len();
                        let delay = BACKOFF_SECONDS.get(attempt).copied().unwrap_or(21_600);
                        tracing::warn!(target: "kura::mail", kind = mail.kind, attempt = record.attempts + 1, give_up, error = %e, "mail not sent");
                        self.store
                            .mail_failed(record.id, lease, now + delay, give_up)
                            .await?;
                    }
                }
            }
            if !full {
                break;
            }
        }
        Ok((sent, failed))
    }
}

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
    /// Retrying will not help (message refused, or it could not be built).
    #[error("the mail was refused: {0}")]
    Permanent(String),
    /// The receiving side refused the recipient for good (SMTP 550, 551, 553, or an address
    /// that cannot be one): the address is recorded as undeliverable. The text holds codes only.
    #[error("the recipient was refused: {0}")]
    Undeliverable(String),
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

/// Where a mail's footer shows its verification code; the outbox puts the code in when it
/// queues the mail (a transport given a mail that never passed the outbox removes the mark).
pub const CHECK_CODE_MARK: &str = "[[mail-check-code]]";
/// Where a mail's footer shows the address of the mail-check page.
pub const CHECK_URL_MARK: &str = "[[mail-check-url]]";

/// Where a text mail's first line shows the recipient's anti-phishing phrase (`:ja`/`:en`
/// follows); filled, or removed with its line, when the mail is delivered, so it is the
/// phrase the customer has at that moment.
pub const PHRASE_MARK: &str = "[[anti-phishing-phrase:";
/// The same for an HTML mail.
pub const PHRASE_HTML_MARK: &str = "[[anti-phishing-phrase-html:";

/// Fills (or removes) the phrase marks of a rendered mail.
pub fn fill_phrase(mail: &mut OutgoingMail, phrase: Option<&str>) {
    for lang in ["ja", "en"] {
        let text_mark = format!("{PHRASE_MARK}{lang}]]");
        let html_mark = format!("{PHRASE_HTML_MARK}{lang}]]");
        let (text, html) = match phrase {
            None => (String::new(), String::new()),
            Some(p) => {
                let escaped = p
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace('"', "&quot;");
                if lang == "ja" {
                    (
                        format!(
                            "あなたの確認フレーズ：{p}\n（このフレーズが書かれていないメールは、当店からのものではありません）\n\n"
                        ),
                        format!(
                            "<p style=\"margin:0 0 16px;padding:8px 12px;border:1px solid #2a6;background:#f0faf3\">あなたの確認フレーズ：<strong>{escaped}</strong><br><small>このフレーズが書かれていないメールは、当店からのものではありません。</small></p>"
                        ),
                    )
                } else {
                    (
                        format!(
                            "Your anti-phishing phrase: {p}\n(A mail without this phrase does not come from us.)\n\n"
                        ),
                        format!(
                            "<p style=\"margin:0 0 16px;padding:8px 12px;border:1px solid #2a6;background:#f0faf3\">Your anti-phishing phrase: <strong>{escaped}</strong><br><small>A mail without this phrase does not come from us.</small></p>"
                        ),
                    )
                }
            }
        };
        mail.text = mail
            .text
            .replace(&format!("{text_mark}\n"), &text)
            .replace(&text_mark, &text);
        mail.html = mail
            .html
            .replace(&format!("{html_mark}\n"), &html)
            .replace(&html_mark, &html);
    }
}

/// Crockford's base32 alphabet: no I, L, O or U, so a code read aloud or retyped survives.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A fresh verification code: 50 random bits as `XXXXX-XXXXX`.
fn new_check_code() -> Result<String, crate::AppError> {
    let bytes = kura_seal::random_bytes::<8>()?;
    let mut n = u64::from_le_bytes(bytes);
    let mut code = String::with_capacity(11);
    for i in 0..10 {
        if i == 5 {
            code.push('-');
        }
        let digit = CODE_ALPHABET
            .get((n & 31) as usize)
            .copied()
            .unwrap_or(b'0');
        code.push(char::from(digit));
        n >>= 5;
    }
    Ok(code)
}

/// A code as typed (lower case, spaces, O for 0, I or L for 1) in its canonical form, or `None`
/// when it cannot be one.
pub fn normalize_check_code(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(11);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            '-' | ' ' | '\u{3000}' | 'ー' | '－' => continue,
            c => c,
        };
        if !CODE_ALPHABET.contains(&(c as u32 as u8)) || !c.is_ascii() {
            return None;
        }
        if out.len() == 5 {
            out.push('-');
        }
        out.push(c);
    }
    (out.len() == 11).then_some(out)
}

/// The first verification code written in a text (a mail's decoded body), if any.
pub fn find_check_code(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let is = |c: &char| c.is_ascii() && CODE_ALPHABET.contains(&(*c as u8));
    chars.windows(11).find_map(|w| {
        let (head, tail) = w.split_at(5);
        let (dash, tail) = tail.split_first()?;
        (*dash == '-' && head.iter().all(is) && tail.iter().all(is)).then(|| w.iter().collect())
    })
}

/// `hanako@example.jp` → `ha***@example.jp`: enough for its owner to know it, not to write to.
pub fn mask_address(to: &str) -> String {
    let to = to.trim();
    match to.rsplit_once('@') {
        Some((local, domain)) => {
            let keep: String = local
                .chars()
                .take(if local.chars().count() > 3 { 2 } else { 1 })
                .collect();
            format!("{keep}***@{domain}")
        }
        None => "***".to_string(),
    }
}

/// What a pasted raw mail's DKIM signatures say, checked against the shop's own keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureVerdict {
    /// A signature of the shop's verifies: the mail left the shop as it is now.
    Pass,
    /// A signature names the shop but does not verify: changed on the way, or forged.
    Fail,
    /// No signature names the shop.
    NotSigned,
    /// The text is not a mail message (or the shop has no signing keys to check with).
    Unknown,
}

/// What a pasted raw mail holds for the mail-check page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMailInspection {
    pub signature: SignatureVerdict,
    /// The verification code written in the mail's decoded text, if any.
    pub code: Option<String>,
}

/// Reads a raw mail (headers and MIME body, as a mail program shows its source).
#[async_trait]
pub trait MailInspector: Send + Sync {
    async fn inspect(&self, raw: &[u8]) -> RawMailInspection;
    /// The bounce report a raw mail carries, if it is a delivery-status notification.
    fn read_bounce(&self, raw: &[u8]) -> Option<BounceReport>;
}

/// What a delivery-status notification (a bounce) says, read from its
/// `message/delivery-status` part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BounceReport {
    /// The `Message-ID` of the mail that bounced (from the returned headers), without `<>`.
    pub message_id: Option<String>,
    /// Each recipient whose `Action` is `failed`, with its `Status` code (`5.1.1`).
    pub failed: Vec<(String, String)>,
}

/// What the shop can tell about a mail from its verification code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailCheck {
    pub kind: String,
    /// The recipient, masked (`ha***@example.jp`).
    pub recipient: String,
    /// When the shop wrote the mail (Unix seconds).
    pub created_at: i64,
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
    /// The public mail-check page every mail points to.
    check_url: String,
    /// Mails this node sends per receiving domain per minute (0: no limit).
    domain_pace: u32,
    /// This node's count per receiving domain in the current minute.
    pace: std::sync::Mutex<std::collections::HashMap<String, (i64, u32)>>,
}

/// What one pass over returned bounces did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BounceOutcome {
    /// Addresses recorded as undeliverable.
    pub marked: u32,
    /// Recipients named by a bounce that does not prove the shop sent them that mail (an
    /// unknown or forged Message-ID), or whose failure is not permanent: left alone.
    pub ignored: u32,
}

/// Mails claimed at once: few enough that a batch is sent well within its lease.
const CLAIM_BATCH: u32 = 48;
/// Batches one delivery round may send before the worker looks at its other work.
const MAX_BATCHES_PER_ROUND: u32 = 5;
/// Mails of a batch on their way at once (each to its receiving server; their records of
/// being sent share the writer's commits). Also the most mails a node killed mid-send can
/// leave accepted by a server but not yet recorded as sent: those go again (same Message-ID).
pub const SENDING_AT_ONCE: usize = 16;

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
        "incident_notice" => "incident_notice",
        "incident_lookup" => "incident_lookup",
        "incident_guidance" => "incident_guidance",
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
            check_url: String::new(),
            domain_pace: 0,
            pace: std::sync::Mutex::default(),
        }
    }

    /// Sends at most `per_minute` mails a minute from this node to one receiving domain; the
    /// rest wait for the next minute without counting as failed attempts. Receivers that see a
    /// burst from a new sender (a notice to every customer) throttle or junk it.
    pub fn with_domain_pace(mut self, per_minute: u32) -> Self {
        self.domain_pace = per_minute;
        self
    }

    /// Whether a mail to `domain` may go now, counting it if so.
    fn pace_allows(&self, domain: &str, now: i64) -> bool {
        if self.domain_pace == 0 {
            return true;
        }
        let minute = now.div_euclid(60);
        let mut pace = self
            .pace
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pace.retain(|_, (m, _)| *m == minute);
        let entry = pace.entry(domain.to_string()).or_insert((minute, 0));
        if entry.1 >= self.domain_pace {
            return false;
        }
        entry.1 += 1;
        true
    }

    fn undeliverable_indexes(
        &self,
        address: &str,
    ) -> Result<Vec<kura_seal::BlindIndex>, crate::AppError> {
        Ok(self.vault.ring().blind_indexes(
            crate::sealed::col::UNDELIVERABLE_BIDX,
            address,
            kura_seal::Normalize::Email,
        )?)
    }

    /// Whether mail cannot reach `address`: the status code and source that said so.
    pub async fn undeliverable(
        &self,
        address: &str,
    ) -> Result<Option<(String, String)>, crate::AppError> {
        let bidx = self.undeliverable_indexes(address)?;
        Ok(self
            .store
            .undeliverable(&bidx)
            .await?
            .map(|r| (r.status, r.source)))
    }

    /// Records that mail cannot reach `address`.
    pub async fn mark_undeliverable(
        &self,
        address: &str,
        status: &str,
        source: &'static str,
    ) -> Result<(), crate::AppError> {
        let ring = self.vault.ring();
        let id = crate::ids::new_id();
        let status: String = status
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '.')
            .take(12)
            .collect();
        let record = crate::records::UndeliverableRecord {
            id,
            address: ring.seal(
                crate::sealed::col::UNDELIVERABLE_ADDRESS,
                id,
                address.trim().as_bytes(),
            )?,
            email_bidx: ring.blind_index(
                crate::sealed::col::UNDELIVERABLE_BIDX,
                address,
                kura_seal::Normalize::Email,
            )?,
            status,
            source: source.to_string(),
            marked_at: self.clock.now(),
        };
        self.store.mark_undeliverable(&record).await?;
        tracing::info!(target: "kura::mail", source, "an address was recorded as undeliverable");
        Ok(())
    }

    /// Forgets that mail could not reach `address` (its owner says it works again, or the
    /// person was erased).
    pub async fn forget_undeliverable(&self, address: &str) -> Result<(), crate::AppError> {
        let bidx = self.undeliverable_indexes(address)?;
        Ok(self.store.forget_undeliverable(&bidx).await?)
    }

    /// Records the permanent failures a bounce reports, for the recipients the shop can prove
    /// it mailed: the bounced mail's Message-ID carries a tag keyed to its recipient, so a
    /// forged bounce (anyone can mail the bounce address) cannot mark someone's address.
    pub async fn record_bounce(
        &self,
        report: &BounceReport,
    ) -> Result<BounceOutcome, crate::AppError> {
        let mut outcome = BounceOutcome::default();
        for (address, status) in &report.failed {
            let proven = match report.message_id.as_deref() {
                Some(id) => self.message_id_names(id, address)?,
                None => false,
            };
            if proven && status.starts_with('5') {
                self.mark_undeliverable(address, status, "dsn").await?;
                outcome.marked += 1;
            } else {
                outcome.ignored += 1;
            }
        }
        if outcome.ignored > 0 {
            tracing::warn!(target: "kura::mail", ignored = outcome.ignored, "bounce recipients not recorded: the bounce does not prove a mail of the shop to them, or the failure is not permanent");
        }
        Ok(outcome)
    }

    /// Whether `message_id` (`<local@domain>` or bare) is one the shop gave a mail to `address`.
    fn message_id_names(&self, message_id: &str, address: &str) -> Result<bool, crate::AppError> {
        let id = message_id
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>');
        let Some((local, _domain)) = id.split_once('@') else {
            return Ok(false);
        };
        if local.len() != 48 || !local.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(false);
        }
        let (reference, tag) = local.split_at(32);
        let tags = self.vault.ring().blind_indexes(
            crate::sealed::col::MAIL_BOUNCE_TAG,
            &bounce_tag_source(reference, address),
            kura_seal::Normalize::Text,
        )?;
        Ok(tags.iter().any(|t| {
            let mine = hex::encode(t.as_bytes().get(..8).unwrap_or_default());
            constant_time_eq(mine.as_bytes(), tag.to_ascii_lowercase().as_bytes())
        }))
    }

    /// The address of the public mail-check page, written under each mail's code.
    pub fn with_check_url(mut self, url: impl Into<String>) -> Self {
        self.check_url = url.into();
        self
    }

    /// Whether the shop sent the mail with this verification code, and to whom (masked) and
    /// when. `None` for a code the shop never gave out (or one that cannot be a code).
    pub async fn check_code(&self, typed: &str) -> Result<Option<MailCheck>, crate::AppError> {
        let Some(code) = normalize_check_code(typed) else {
            return Ok(None);
        };
        let mac = self.code_mac(&code)?;
        let Some(receipt) = self.store.mail_receipt(&mac).await? else {
            return Ok(None);
        };
        let ring = self
            .vault
            .ring_holding(receipt.recipient.key_id().unwrap_or(0));
        let recipient = ring.open(
            crate::sealed::col::MAIL_RECEIPT_RECIPIENT,
            receipt.id,
            &receipt.recipient,
        )?;
        Ok(Some(MailCheck {
            kind: receipt.kind,
            recipient: String::from_utf8_lossy(&recipient).into_owned(),
            created_at: receipt.created_at,
        }))
    }

    fn code_mac(&self, code: &str) -> Result<Vec<u8>, crate::AppError> {
        Ok(self
            .vault
            .ring()
            .blind_index(
                crate::sealed::col::MAIL_RECEIPT_CODE,
                code,
                kura_seal::Normalize::Text,
            )?
            .as_bytes()
            .to_vec())
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
        // Each mail gets its own verification code, written where its footer asks for it.
        let code = new_check_code()?;
        let fill = |body: &str| {
            body.replace(CHECK_CODE_MARK, &code)
                .replace(CHECK_URL_MARK, &self.check_url)
        };
        let now = self.clock.now();
        let ring = self.vault.ring();
        let receipt = crate::records::MailReceiptRecord {
            id,
            code_mac: self.code_mac(&code)?,
            kind: mail.kind.to_string(),
            recipient: ring.seal(
                crate::sealed::col::MAIL_RECEIPT_RECIPIENT,
                id,
                mask_address(&mail.to).as_bytes(),
            )?,
            created_at: now,
        };
        let stored = StoredMail {
            to: mail.to.clone(),
            subject: mail.subject.clone(),
            text: fill(&mail.text),
            html: fill(&mail.html),
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
            next_attempt_at: now,
            data_key: data_key.map(|k| crate::sealed::DataKeyRef {
                id: k.id,
                wrapped: None,
            }),
            receipt: Some(receipt),
        };
        Ok(record)
    }

    /// The stable reference of an outbox row's message: a keyed MAC of its id, so the id itself
    /// is not shown to recipients.
    ///
    /// It is 32 hex digits of that MAC and 16 of a tag keyed to the recipient, which a bounce
    /// naming the Message-ID must match (see [`Self::record_bounce`]).
    fn message_reference(&self, id: i64, to: &str) -> Result<String, crate::AppError> {
        let ring = self.vault.ring();
        let mac = ring.blind_index(
            crate::sealed::col::OUTBOX_MESSAGE_ID,
            &id.to_string(),
            kura_seal::Normalize::Text,
        )?;
        let reference = hex::encode(mac.as_bytes().get(..16).unwrap_or_default());
        let tag = ring.blind_index(
            crate::sealed::col::MAIL_BOUNCE_TAG,
            &bounce_tag_source(&reference, to),
            kura_seal::Normalize::Text,
        )?;
        Ok(format!(
            "{reference}{}",
            hex::encode(tag.as_bytes().get(..8).unwrap_or_default())
        ))
    }

    /// Sends what is due, claiming it first so that no other node sends the same mail.
    /// Returns (sent, failed attempts).
    pub async fn deliver_due(&self, mailer: &dyn Mailer) -> Result<(u64, u64), crate::AppError> {
        use futures_util::StreamExt as _;
        let (mut sent, mut failed) = (0, 0);
        // Batch after batch while full ones come back, each under its own lease; within a
        // batch, several mails are on their way at once (their "sent" records share commits).
        for _ in 0..MAX_BATCHES_PER_ROUND {
            let now = self.clock.now();
            let lease = now + self.lease_seconds;
            let batch = self.store.claim_mail(now, lease, CLAIM_BATCH).await?;
            let full = batch.len() >= CLAIM_BATCH as usize;
            // Opened first, then grouped by recipient: one person's mails go one after the
            // other, in the order they were queued ("shipped" before "delivered"); different
            // people's go side by side.
            let mut groups: Vec<(String, Vec<(crate::records::OutboxRecord, StoredMail)>)> =
                Vec::new();
            for record in batch {
                let Some(stored) = self.open_claimed(&record, now, lease).await? else {
                    continue;
                };
                let to = stored.to.trim().to_lowercase();
                match groups.iter_mut().find(|(t, _)| *t == to) {
                    Some((_, list)) => list.push((record, stored)),
                    None => groups.push((to, vec![(record, stored)])),
                }
            }
            let outcomes: Vec<_> = futures_util::stream::iter(groups)
                .map(|(_, list)| async move {
                    let mut out = Vec::with_capacity(list.len());
                    for (record, stored) in list {
                        out.push(self.deliver_one(mailer, record, stored, now, lease).await);
                    }
                    out
                })
                .buffer_unordered(SENDING_AT_ONCE)
                .collect()
                .await;
            for outcome in outcomes.into_iter().flatten() {
                match outcome? {
                    Delivery::Sent => sent += 1,
                    Delivery::Failed => failed += 1,
                    Delivery::Skipped => {}
                }
            }
            if !full {
                break;
            }
        }
        Ok((sent, failed))
    }

    /// How many mails one [`Self::deliver_due`] round handles at most: a round that handled
    /// this many may have left more due (the worker then goes on at once).
    pub fn round_capacity() -> u64 {
        u64::from(CLAIM_BATCH) * u64::from(MAX_BATCHES_PER_ROUND)
    }

    /// A claimed mail opened; `None` when it cannot be (then marked failed for good).
    async fn open_claimed(
        &self,
        record: &crate::records::OutboxRecord,
        now: i64,
        lease: i64,
    ) -> Result<Option<StoredMail>, crate::AppError> {
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
        match opened {
            Ok(plain) => match serde_json::from_slice(&plain) {
                Ok(m) => Ok(Some(m)),
                Err(_) => {
                    self.store.mail_failed(record.id, lease, now, true).await?;
                    Ok(None)
                }
            },
            Err(e) => {
                tracing::error!(target: "kura::mail", id = record.id, error = %e, "queued mail could not be opened");
                self.store.mail_failed(record.id, lease, now, true).await?;
                Ok(None)
            }
        }
    }

    async fn deliver_one(
        &self,
        mailer: &dyn Mailer,
        record: crate::records::OutboxRecord,
        stored: StoredMail,
        now: i64,
        lease: i64,
    ) -> Result<Delivery, crate::AppError> {
        let mut mail = OutgoingMail {
            to: stored.to,
            subject: stored.subject,
            text: stored.text,
            html: stored.html,
            kind: static_kind(&stored.kind),
        };
        let phrase = crate::customers::anti_phishing_phrase_for(
            self.store.as_ref(),
            &self.vault,
            &mail.to,
        )
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(target: "kura::mail", error = %e, "anti-phishing phrase not read; the mail goes without it");
            None
        });
        fill_phrase(&mut mail, phrase.as_deref());
        if let Some(c) = &self.canaries {
            c.check(&mail.to, "mail", None, None);
        }
        if let Some((status, _)) = self.undeliverable(&mail.to).await? {
            // A receiving server refused this address for good: sending again only
            // hurts the shop's standing with receivers.
            tracing::info!(target: "kura::mail", kind = mail.kind, status = %status, "mail not sent: the address is undeliverable");
            self.store.mail_failed(record.id, lease, now, true).await?;
            return Ok(Delivery::Failed);
        }
        if !self.pace_allows(&domain_of(&mail.to), now) {
            let next_minute = (now.div_euclid(60) + 1) * 60;
            self.store.mail_defer(record.id, lease, next_minute).await?;
            return Ok(Delivery::Skipped);
        }
        let reference = self.message_reference(record.id, &mail.to)?;
        match mailer.send_as(&mail, &reference).await {
            Ok(()) => {
                self.store.mail_sent(record.id).await?;
                tracing::info!(target: "kura::mail", kind = mail.kind, "mail sent");
                Ok(Delivery::Sent)
            }
            Err(e) => {
                let attempt = usize::try_from(record.attempts).unwrap_or(usize::MAX);
                if let MailError::Undeliverable(code) = &e {
                    self.mark_undeliverable(&mail.to, code, "smtp").await?;
                }
                let give_up = matches!(e, MailError::Permanent(_) | MailError::Undeliverable(_))
                    || attempt >= BACKOFF_SECONDS.len();
                let delay = BACKOFF_SECONDS.get(attempt).copied().unwrap_or(21_600);
                tracing::warn!(target: "kura::mail", kind = mail.kind, attempt = record.attempts + 1, give_up, error = %e, "mail not sent");
                self.store
                    .mail_failed(record.id, lease, now + delay, give_up)
                    .await?;
                Ok(Delivery::Failed)
            }
        }
    }
}

/// What became of one claimed mail.
enum Delivery {
    Sent,
    Failed,
    /// Deferred (pacing) or dropped without counting as a failure.
    Skipped,
}

/// The text a bounce tag is a MAC of: the message reference and the recipient, lower-cased.
fn bounce_tag_source(reference: &str, to: &str) -> String {
    format!("{reference}:{}", to.trim().to_lowercase())
}

/// The receiving domain of an address, lower-cased (`""` when it has none).
fn domain_of(to: &str) -> String {
    to.trim()
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod check_code_tests {
    use super::*;

    #[test]
    fn codes_are_fresh_and_survive_being_retyped() {
        let a = new_check_code().unwrap();
        let b = new_check_code().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 11);
        assert_eq!(normalize_check_code(&a).as_deref(), Some(a.as_str()));
        let typed = a.to_lowercase().replace('-', " ");
        assert_eq!(normalize_check_code(&typed).as_deref(), Some(a.as_str()));
        assert_eq!(
            normalize_check_code("7k3m9 q2xhd").as_deref(),
            Some("7K3M9-Q2XHD")
        );
        // O and I/L are read as 0 and 1; U and other marks are not codes.
        assert_eq!(
            normalize_check_code("OIL00-00000").as_deref(),
            Some("01100-00000")
        );
        for bad in [
            "",
            "abc",
            "7K3M9-Q2XHDX",
            "7K3M9-Q2XHU",
            "７K3M9-Q2XHD",
            "<script>",
        ] {
            assert_eq!(normalize_check_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_code_is_found_in_text_and_addresses_are_masked() {
        let text = "ご注文番号 K-2026-000123\nこのメールの確認コード：7K3M9-Q2XHD\n";
        assert_eq!(find_check_code(text).as_deref(), Some("7K3M9-Q2XHD"));
        assert_eq!(find_check_code("no code here, K-2026-0001"), None);
        assert_eq!(mask_address("hanako@example.jp"), "ha***@example.jp");
        assert_eq!(mask_address("abc@example.jp"), "a***@example.jp");
        assert_eq!(mask_address("nonsense"), "***");
    }
}

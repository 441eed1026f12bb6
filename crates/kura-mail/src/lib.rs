//! Kura's outgoing mail: what the shop says to a customer, and how it gets there.
//!
//! Guarantees:
//! - Every mail is rendered from templates compiled into the binary, as a plain-text and an HTML
//!   twin, in Japanese (the default) or English. HTML is auto-escaped; no template loads a
//!   remote image, a tracking pixel or a script.
//! - Every mail's footer says, in the mail's language, that the shop never asks for a card number
//!   or a password by mail, names the shop, and shows the customer's anti-phishing phrase when
//!   one is set (MISSION.md: customers must be able to tell a genuine mail from a forgery).
//! - Links in a mail must be `https://` (or `http://` for a local demo) and free of whitespace;
//!   anything else is refused at render time.
//! - Transports ([`SmtpMailer`], [`OutboxMailer`]) send the same RFC 5322 message:
//!   `multipart/alternative`, UTF-8 parts, an encoded subject, `Date` and a random `Message-ID`.
//!   The recipient address is never logged, never put in an error message and never used in a
//!   file name.

mod compose;
mod dkim;
pub mod documents;
mod error;
mod inspect;
mod lang;
pub mod letters;
pub mod maildir;
mod outbox;
pub mod pdf;
mod render;
mod smtp;

pub use compose::{signed_raw, without_marks};
pub use dkim::{DkimCheck, DkimError, DkimFiles, DkimKeys};
pub use error::{OutboxError, RenderError, SmtpConfigError};
pub use inspect::{RawMailReader, parse_bounce};
pub use kura_app::mail::{MailError, Mailer, OutgoingMail};
pub use lang::Lang;
pub use outbox::{OutboxMailer, prune_outbox};
pub use render::incident::IncidentNotice;
pub use render::incident_guidance::IncidentGuidance;
pub use render::incident_lookup::IncidentLookupAnswer;
pub use render::inquiry::InquiryMail;
pub use render::order::{BankAccount, OrderConfirmation, OrderLine};
pub use render::payment::PaymentReceived;
pub use render::reset::PasswordReset;
pub use render::restock::RestockNotice;
pub use render::shipping::{ShippedItem, ShippingNotice};
pub use render::staff::{AlertSummary, StaffNotice, StaffNoticeKind};
pub use render::update::{OrderUpdate, UpdateKind, VoucherLines};
pub use render::verify::EmailVerification;
pub use smtp::{SmtpConfig, SmtpMailer, SmtpTls};

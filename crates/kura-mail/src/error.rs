//! Errors of this crate. None of them carries a recipient address, a name or a secret, so any of
//! them may be logged as is. Sending errors use the port's `kura_app::mail::MailError`.

/// Why a mail could not be rendered. These are programming or configuration errors (the caller
/// passed incomplete data), never worth retrying.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the recipient is not a valid email address")]
    Recipient,
    #[error("the link in `{field}` must be an http(s) URL without spaces")]
    Url { field: &'static str },
    #[error("a bank-transfer order needs the bank account and the payment deadline")]
    MissingBankDetails,
    #[error("an unpaid card order needs the time its payment page closes")]
    MissingCardDeadline,
    #[error("a payment-received notice is for a card or a bank transfer, never cash on delivery")]
    PaymentMethod,
    #[error("a convenience-store payment notice needs its voucher")]
    MissingVoucher,
    #[error("a template failed to render")]
    Template(#[from] askama::Error),
}

/// Why an SMTP transport could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum SmtpConfigError {
    #[error("`from` is not a valid mailbox (expected e.g. \"Shop <shop@example.jp>\")")]
    From,
    #[error("`username` and `password` must be set together")]
    HalfCredentials,
    #[error(
        "refusing to send SMTP credentials without TLS to a host that is not loopback; \
         set tls = \"starttls\" or \"tls\""
    )]
    CredentialsInClear,
    #[error("the extra root certificate (`ca_file`) could not be read")]
    CaFile(#[source] std::io::Error),
    #[error("the extra root certificate file (`ca_file`) holds no PEM certificate")]
    CaFileEmpty,
    #[error("the TLS setup for the SMTP host failed")]
    Tls(#[source] lettre::transport::smtp::Error),
}

/// Why an outbox folder could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("`from` is not a valid mailbox (expected e.g. \"Shop <shop@example.jp>\")")]
    From,
    #[error("the outbox folder could not be created or read")]
    Io(#[from] std::io::Error),
    #[error("the outbox path exists but is not a folder")]
    NotAFolder,
    #[error(
        "the outbox folder is readable by other users (mode {mode:o}); it holds personal data, \
         make it 0700"
    )]
    TooOpen { mode: u32 },
}

//! The production transport: SMTP through `lettre` on tokio, TLS by rustls (ring provider,
//! webpki roots plus an optional private root from `ca_file`; no OpenSSL, no aws-lc).
//!
//! Guarantees:
//! - `tls = "tls"` (implicit TLS, RFC 8314) and `tls = "starttls"` both *require* TLS: lettre
//!   refuses to go on in clear if the handshake or the STARTTLS upgrade fails, so a downgrade
//!   cannot leak a mail or the credentials.
//! - Credentials are never sent without TLS to anything but a loopback host (refused when the
//!   transport is built). The password is a [`SecretString`] and never appears in `Debug`.
//! - SMTP 4xx replies, timeouts and connection failures become [`MailError::Temporary`]
//!   (retry later); 5xx replies become [`MailError::Permanent`], or
//!   [`MailError::Undeliverable`] for 550, 551 and 553 (the recipient's mailbox is refused, and
//!   the address is recorded so nothing more is sent to it). The error text holds the reply
//!   code only, never the server's reply text, which often echoes the recipient address.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use kura_app::mail::{MailError, Mailer, OutgoingMail};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::compose::{compose, compose_as, parse_from};
use crate::dkim::DkimKeys;
use crate::error::SmtpConfigError;

/// How long one SMTP command may take before the attempt counts as a temporary failure.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain SMTP. Only for a relay on the same host or a trusted private network; credentials
    /// are refused unless the host is loopback.
    None,
    /// Connect in clear, then require `STARTTLS` (usually port 587).
    Starttls,
    /// TLS from the first byte (usually port 465). Preferred (RFC 8314 §3.3).
    Tls,
}

/// SMTP settings. `from` is the shop's sender, e.g. `"蔵ショップ <shop@example.jp>"`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<SecretString>,
    pub tls: SmtpTls,
    pub from: String,
    /// An extra root certificate (PEM) to trust besides the webpki (Mozilla) roots, for a relay
    /// whose certificate comes from a private CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("tls", &self.tls)
            .field("from", &self.from)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// Sends mail through an SMTP server. One connection per mail (no pool): transactional mail is
/// low volume, and a fresh connection never reuses a half-broken session.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    dkim: Option<std::sync::Arc<DkimKeys>>,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.email.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    pub fn new(config: &SmtpConfig) -> Result<Self, SmtpConfigError> {
        let from = parse_from(&config.from).ok_or(SmtpConfigError::From)?;
        let host = config.host.trim();
        let builder = match config.tls {
            SmtpTls::None => {
                if !is_loopback(host) {
                    tracing::warn!(
                        host,
                        "SMTP without TLS to a host that is not loopback; use only on a trusted \
                         private network"
                    );
                }
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).tls(Tls::None)
            }
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).tls(
                Tls::Required(tls_parameters(host, config.ca_file.as_deref())?),
            ),
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).tls(
                Tls::Wrapper(tls_parameters(host, config.ca_file.as_deref())?),
            ),
        };
        let builder = builder.port(config.port).timeout(Some(COMMAND_TIMEOUT));
        let builder = match (&config.username, &config.password) {
            (None, None) => builder,
            (Some(user), Some(password)) => {
                if config.tls == SmtpTls::None && !is_loopback(host) {
                    return Err(SmtpConfigError::CredentialsInClear);
                }
                builder.credentials(Credentials::new(
                    user.clone(),
                    password.expose_secret().to_owned(),
                ))
            }
            _ => return Err(SmtpConfigError::HalfCredentials),
        };
        Ok(Self {
            transport: builder.build(),
            from,
            dkim: None,
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        self.send_message(mail, compose(mail, &self.from)?).await
    }

    async fn send_as(&self, mail: &OutgoingMail, reference: &str) -> Result<(), MailError> {
        self.send_message(mail, compose_as(mail, &self.from, Some(reference))?)
            .await
    }
}

impl SmtpMailer {
    /// Signs every mail with the shop's DKIM keys before it is handed to the server.
    pub fn with_dkim(mut self, dkim: Option<std::sync::Arc<DkimKeys>>) -> Self {
        self.dkim = dkim;
        self
    }

    async fn send_message(
        &self,
        mail: &OutgoingMail,
        message: lettre::Message,
    ) -> Result<(), MailError> {
        let mut raw = message.formatted();
        if let Some(dkim) = &self.dkim {
            raw = dkim.sign(&raw)?;
        }
        match self.transport.send_raw(message.envelope(), &raw).await {
            Ok(_) => {
                tracing::info!(kind = mail.kind, "mail handed to the SMTP server");
                Ok(())
            }
            Err(e) => {
                let err = classify(&e);
                tracing::warn!(kind = mail.kind, error = %err, "mail not sent");
                Err(err)
            }
        }
    }
}

/// rustls with the ring provider; the server's certificate must be valid for `host` and chain
/// to a webpki root or to the configured extra root.
fn tls_parameters(host: &str, ca_file: Option<&Path>) -> Result<TlsParameters, SmtpConfigError> {
    let mut builder = TlsParameters::builder(host.to_owned());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(SmtpConfigError::CaFile)?;
        // lettre skips what it cannot read; a file without a complete certificate would then
        // add no root at all and fail later, at the first send. Refuse it now.
        let text = String::from_utf8_lossy(&pem);
        if !(text.contains("-----BEGIN CERTIFICATE-----")
            && text.contains("-----END CERTIFICATE-----"))
        {
            return Err(SmtpConfigError::CaFileEmpty);
        }
        let cert = Certificate::from_pem(&pem).map_err(SmtpConfigError::Tls)?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build_rustls().map_err(SmtpConfigError::Tls)
}

/// RFC 5321 §4.2.1: 4yz is transient, 5yz permanent. Anything that is not a reply (no
/// connection, timeout, TLS failure, protocol confusion) is treated as transient: the mail is
/// kept and retried rather than lost.
fn classify(e: &lettre::transport::smtp::Error) -> MailError {
    match e.status() {
        // Mailbox unavailable, user not local, mailbox name not allowed: the address itself.
        Some(code)
            if e.is_permanent() && matches!(code.to_string().as_str(), "550" | "551" | "553") =>
        {
            MailError::Undeliverable(format!(
                "the SMTP server refused the recipient (reply {code})"
            ))
        }
        Some(code) if e.is_permanent() => {
            MailError::Permanent(format!("the SMTP server refused the mail (reply {code})"))
        }
        Some(code) => {
            MailError::Temporary(format!("the SMTP server deferred the mail (reply {code})"))
        }
        None if e.is_timeout() => {
            MailError::Temporary("the SMTP server did not answer in time".to_owned())
        }
        None if e.is_tls() => {
            MailError::Temporary("the TLS connection to the SMTP server failed".to_owned())
        }
        None => MailError::Temporary(
            "the SMTP server could not be reached or answered unexpectedly".to_owned(),
        ),
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(tls: SmtpTls, host: &str) -> SmtpConfig {
        SmtpConfig {
            host: host.to_owned(),
            port: 587,
            username: Some("shop".to_owned()),
            password: Some(SecretString::from("hunter2-very-secret")),
            tls,
            from: "蔵ショップ <shop@example.jp>".to_owned(),
            ca_file: None,
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let shown = format!("{:?}", config(SmtpTls::Starttls, "smtp.example.jp"));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn credentials_in_clear_only_to_loopback() {
        assert!(matches!(
            SmtpMailer::new(&config(SmtpTls::None, "smtp.example.jp")),
            Err(SmtpConfigError::CredentialsInClear)
        ));
        assert!(SmtpMailer::new(&config(SmtpTls::None, "127.0.0.1")).is_ok());
        assert!(SmtpMailer::new(&config(SmtpTls::None, "[::1]")).is_ok());
        assert!(SmtpMailer::new(&config(SmtpTls::Starttls, "smtp.example.jp")).is_ok());
        assert!(SmtpMailer::new(&config(SmtpTls::Tls, "smtp.example.jp")).is_ok());
    }

    #[test]
    fn half_credentials_and_bad_sender_are_refused() {
        let mut c = config(SmtpTls::Tls, "smtp.example.jp");
        c.password = None;
        assert!(matches!(
            SmtpMailer::new(&c),
            Err(SmtpConfigError::HalfCredentials)
        ));
        let mut c = config(SmtpTls::Tls, "smtp.example.jp");
        c.from = "not a mailbox".to_owned();
        assert!(matches!(SmtpMailer::new(&c), Err(SmtpConfigError::From)));
    }

    #[test]
    fn a_missing_or_broken_ca_file_is_refused() {
        let mut c = config(SmtpTls::Starttls, "smtp.example.jp");
        c.ca_file = Some(PathBuf::from("/nonexistent/kura-ca.pem"));
        assert!(matches!(
            SmtpMailer::new(&c),
            Err(SmtpConfigError::CaFile(_))
        ));
        let tmp = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(tmp.path(), "-----BEGIN CERTIFICATE-----\nnot base64!\n").expect("write");
        c.ca_file = Some(tmp.path().to_owned());
        assert!(matches!(
            SmtpMailer::new(&c),
            Err(SmtpConfigError::CaFileEmpty)
        ));
        // Well-formed PEM around bytes that are not a certificate.
        std::fs::write(
            tmp.path(),
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        assert!(matches!(SmtpMailer::new(&c), Err(SmtpConfigError::Tls(_))));
    }

    #[tokio::test]
    async fn nobody_listening_is_temporary() {
        // Bind then drop a listener to get a port that refuses connections.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let mut c = config(SmtpTls::None, "127.0.0.1");
        c.port = port;
        c.username = None;
        c.password = None;
        c.ca_file = None;
        let mailer = SmtpMailer::new(&c).expect("mailer");
        let mail = OutgoingMail {
            to: "hanako@example.com".to_owned(),
            subject: "s".to_owned(),
            text: "t".to_owned(),
            html: "<p>h</p>".to_owned(),
            kind: "test",
        };
        let err = mailer.send(&mail).await.expect_err("nobody listens");
        assert!(matches!(err, MailError::Temporary(_)), "{err:?}");
    }
}

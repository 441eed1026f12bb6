//! DKIM (RFC 6376) on every message the shop sends, and the check of a pasted mail against the
//! shop's own keys.
//!
//! Guarantees:
//! - Each message carries two signatures over the same headers and body: Ed25519-SHA256
//!   (RFC 8463) and RSA-SHA256 with a 2048-bit key (for receivers that do not know Ed25519 yet).
//!   Both use relaxed/relaxed canonicalisation and sign `From`, `To`, `Subject`, `Date`,
//!   `Message-ID`, the MIME headers and `Auto-Submitted`; the headers the shop never sets
//!   (`Cc`, `Reply-To`, `Sender`) are signed as absent, so nobody can add them later.
//! - The private keys live in files beside the master key (`kura-dkim-ed25519.der`,
//!   `kura-dkim-rsa.der`, mode 0600), never in the database. A key file that group or others can
//!   read, or only one of the two, is refused when the shop starts.
//! - [`DkimKeys::verify`] checks only signatures that name the shop's domain and selectors,
//!   against the shop's own public keys: it never asks DNS, so a forger cannot make a check pass
//!   by publishing a record, and a pasted mail cannot make the shop send a query anywhere.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fs::OpenOptions;
use std::hash::Hash;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use kura_app::mail::MailError;
use mail_auth::common::crypto::{Algorithm, CryptoError, Ed25519Key, RsaKey, Sha256, SigningKey};
use mail_auth::common::headers::{HeaderWriter, Writable};
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::dkim::generate::DkimKeyPair;
use mail_auth::dkim::{Canonicalization, DkimSigner, Done};
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator, ResolverCache, Txt};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer};

/// The headers each signature covers (bottom-up occurrences of each are signed; absent ones are
/// signed as absent).
const SIGNED_HEADERS: &[&str] = &[
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Auto-Submitted",
    "Cc",
    "Reply-To",
    "Sender",
];

/// What went wrong with the key files.
#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    #[error("the DKIM key files already exist ({0}); move them away first to make new ones")]
    Exists(PathBuf),
    #[error("only one of the two DKIM key files exists ({0}); restore the other or move both away")]
    HalfPair(PathBuf),
    #[error(
        "the DKIM key file {path} can be read by group or others (mode {mode:o}); chmod 600 it"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("the DKIM key file {0} is not a key Kura made")]
    Bad(PathBuf),
    #[error("the DKIM keys could not be made: {0}")]
    Generate(String),
    #[error("the DKIM key file {0} could not be read or written: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("the sender address has no domain to sign for")]
    Domain,
}

/// Where a shop's two DKIM private keys are kept.
#[derive(Debug, Clone)]
pub struct DkimFiles {
    pub ed25519: PathBuf,
    pub rsa: PathBuf,
}

impl DkimFiles {
    /// The files in the folder of the master key file.
    pub fn beside(master_key: &Path) -> Self {
        let dir = master_key.parent().unwrap_or(Path::new("."));
        Self {
            ed25519: dir.join("kura-dkim-ed25519.der"),
            rsa: dir.join("kura-dkim-rsa.der"),
        }
    }

    /// Makes a new pair of keys; refuses to replace existing files.
    pub fn generate(&self) -> Result<(), DkimError> {
        for path in [&self.ed25519, &self.rsa] {
            if path.exists() {
                return Err(DkimError::Exists(path.clone()));
            }
        }
        let ed = DkimKeyPair::generate_ed25519().map_err(|e| DkimError::Generate(e.to_string()))?;
        let rsa =
            DkimKeyPair::generate_rsa(2048).map_err(|e| DkimError::Generate(e.to_string()))?;
        write_secret(&self.ed25519, ed.private_key())?;
        write_secret(&self.rsa, rsa.private_key())?;
        Ok(())
    }
}

fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), DkimError> {
    let io = |e| DkimError::Io(path.to_path_buf(), e);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

fn read_secret(path: &Path) -> Result<Vec<u8>, DkimError> {
    let io = |e| DkimError::Io(path.to_path_buf(), e);
    let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(DkimError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    std::fs::read(path).map_err(io)
}

/// The RSA-SHA256 signing key, signing with the system's OpenSSL (see the workspace manifest:
/// the same signature ring makes, in a fraction of the time on CPUs with AVX-512).
struct OpensslRsa(openssl::pkey::PKey<openssl::pkey::Private>);

impl SigningKey for OpensslRsa {
    type Hasher = Sha256;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        let failed = |e: openssl::error::ErrorStack| {
            mail_auth::Error::Crypto(CryptoError::Library(e.to_string()))
        };
        let mut data = Vec::with_capacity(512);
        input.write(&mut data);
        let mut signer =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &self.0)
                .map_err(failed)?;
        signer
            .set_rsa_padding(openssl::rsa::Padding::PKCS1)
            .map_err(failed)?;
        signer.update(&data).map_err(failed)?;
        signer.sign_to_vec().map_err(failed)
    }

    fn algorithm(&self) -> Algorithm {
        Algorithm::RsaSha256
    }
}

/// The shop's signing keys, for one domain and selector prefix.
pub struct DkimKeys {
    domain: String,
    selector: String,
    ed: DkimSigner<Ed25519Key, Done>,
    rsa: DkimSigner<OpensslRsa, Done>,
    ed_public: Vec<u8>,
    rsa_public: Vec<u8>,
}

impl std::fmt::Debug for DkimKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimKeys")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .finish_non_exhaustive()
    }
}

/// What [`DkimKeys::verify`] found in a pasted mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DkimCheck {
    /// At least one of the shop's signatures verifies (the selectors that passed).
    Pass(Vec<String>),
    /// A signature names the shop but does not verify: the mail was changed, or forged.
    Fail,
    /// No signature names the shop's domain and selectors.
    NotSigned,
    /// The text is not a mail message.
    Unreadable,
}

impl DkimKeys {
    /// Loads the keys, signing for `domain` with selectors `{selector}-ed` and `{selector}-rsa`.
    /// `None` when neither file exists (the shop then sends unsigned, and says so at start).
    pub fn load(
        files: &DkimFiles,
        domain: &str,
        selector: &str,
    ) -> Result<Option<Self>, DkimError> {
        match (files.ed25519.exists(), files.rsa.exists()) {
            (false, false) => return Ok(None),
            (true, false) => return Err(DkimError::HalfPair(files.ed25519.clone())),
            (false, true) => return Err(DkimError::HalfPair(files.rsa.clone())),
            (true, true) => {}
        }
        let domain = domain.trim().to_ascii_lowercase();
        if domain.is_empty() || !domain.contains('.') {
            return Err(DkimError::Domain);
        }
        let ed_der = read_secret(&files.ed25519)?;
        // Keys made by earlier versions are PKCS#8 v1 (no public key inside): still accepted.
        let ed = Ed25519Key::from_pkcs8_der(&ed_der)
            .or_else(|_| Ed25519Key::from_pkcs8_maybe_unchecked_der(&ed_der))
            .map_err(|_| DkimError::Bad(files.ed25519.clone()))?;
        let rsa_der = read_secret(&files.rsa)?;
        // ring reads the key (and gives the public half, as published); OpenSSL signs with it.
        let checked = RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs1(
            PrivatePkcs1KeyDer::from(rsa_der.as_slice()),
        ))
        .map_err(|_| DkimError::Bad(files.rsa.clone()))?;
        let rsa = openssl::rsa::Rsa::private_key_from_der(&rsa_der)
            .and_then(openssl::pkey::PKey::from_rsa)
            .map(OpensslRsa)
            .map_err(|_| DkimError::Bad(files.rsa.clone()))?;
        let (ed_public, rsa_public) = (ed.public_key(), checked.public_key());
        let ed = DkimSigner::from_key(ed)
            .domain(&domain)
            .selector(format!("{selector}-ed"))
            .headers(SIGNED_HEADERS.iter().copied())
            .header_canonicalization(Canonicalization::Relaxed)
            .body_canonicalization(Canonicalization::Relaxed);
        let rsa = DkimSigner::from_key(rsa)
            .domain(&domain)
            .selector(format!("{selector}-rsa"))
            .headers(SIGNED_HEADERS.iter().copied())
            .header_canonicalization(Canonicalization::Relaxed)
            .body_canonicalization(Canonicalization::Relaxed);
        Ok(Some(Self {
            ed_public,
            rsa_public,
            domain,
            selector: selector.to_owned(),
            ed,
            rsa,
        }))
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    fn ed_selector(&self) -> String {
        format!("{}-ed", self.selector)
    }

    fn rsa_selector(&self) -> String {
        format!("{}-rsa", self.selector)
    }

    /// The TXT records to publish: (name, value) for each selector.
    pub fn dns_records(&self) -> Vec<(String, String)> {
        let b64 = |k: &[u8]| base64::engine::general_purpose::STANDARD.encode(k);
        vec![
            (
                format!("{}._domainkey.{}", self.ed_selector(), self.domain),
                format!("v=DKIM1; k=ed25519; p={}", b64(&self.ed_public)),
            ),
            (
                format!("{}._domainkey.{}", self.rsa_selector(), self.domain),
                format!("v=DKIM1; k=rsa; p={}", b64(&self.rsa_public)),
            ),
        ]
    }

    /// The message with both signatures prepended (RSA first, so the Ed25519 one is on top).
    pub fn sign(&self, raw: &[u8]) -> Result<Vec<u8>, MailError> {
        let failed =
            |e: mail_auth::Error| MailError::Temporary(format!("DKIM signing failed: {e}"));
        let rsa = self.rsa.sign(raw).map_err(failed)?;
        let ed = self.ed.sign(raw).map_err(failed)?;
        let mut out = Vec::with_capacity(raw.len() + 1024);
        out.extend_from_slice(ed.to_header().as_bytes());
        out.extend_from_slice(rsa.to_header().as_bytes());
        out.extend_from_slice(raw);
        Ok(out)
    }

    /// Checks a pasted mail's signatures that name this shop, against this shop's keys.
    pub async fn verify(&self, raw: &[u8]) -> DkimCheck {
        let Some(mut message) = AuthenticatedMessage::parse(raw) else {
            return DkimCheck::Unreadable;
        };
        let (ed_sel, rsa_sel) = (self.ed_selector(), self.rsa_selector());
        message.dkim_headers.retain(|h| {
            h.header.d.eq_ignore_ascii_case(&self.domain)
                && (h.header.s == ed_sel || h.header.s == rsa_sel)
        });
        if message.dkim_headers.is_empty() {
            return DkimCheck::NotSigned;
        }
        let cache = OwnKeys::default();
        for (name, value) in self.dns_records() {
            if let Ok(key) = DomainKey::parse(value.as_bytes()) {
                let key = Txt::DomainKey(Arc::new(key));
                cache.put(format!("{name}."), key.clone());
                cache.put(name, key);
            }
        }
        // A resolver with no servers: every lookup the cache does not answer fails at once.
        let Ok(authenticator) = MessageAuthenticator::new(
            mail_auth::hickory_resolver::config::ResolverConfig::from_parts(None, vec![], vec![]),
            Default::default(),
        ) else {
            return DkimCheck::Unreadable;
        };
        let outputs = authenticator
            .verify_dkim(mail_auth::Parameters::new(&message).with_txt_cache(&cache))
            .await;
        let passed: Vec<String> = outputs
            .iter()
            .filter(|o| matches!(o.result(), DkimResult::Pass))
            .filter_map(|o| o.signature().map(|s| s.s.clone()))
            .collect();
        if passed.is_empty() {
            DkimCheck::Fail
        } else {
            DkimCheck::Pass(passed)
        }
    }
}

/// The TXT "cache" that holds the shop's own key records and nothing else.
#[derive(Default)]
struct OwnKeys(Mutex<HashMap<Box<str>, Txt>>);

impl OwnKeys {
    fn put(&self, name: String, value: Txt) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(name.into_boxed_str(), value);
        }
    }
}

impl ResolverCache<Box<str>, Txt> for OwnKeys {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().ok()?.get(name).cloned()
    }

    fn remove<Q>(&self, _: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }

    fn insert(&self, _: Box<str>, _: Txt, _: std::time::Instant) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn made(dir: &Path) -> DkimKeys {
        let files = DkimFiles::beside(&dir.join("kura.key"));
        files.generate().expect("keys made");
        DkimKeys::load(&files, "example.jp", "kura")
            .expect("loads")
            .expect("present")
    }

    const MAIL: &[u8] = b"From: shop@example.jp\r\nTo: hanako@example.com\r\nSubject: test\r\nDate: Tue, 1 Dec 2026 10:00:00 +0900\r\nMessage-ID: <1@example.jp>\r\n\r\nHello, this is the shop.\r\n";

    #[tokio::test]
    async fn a_signed_mail_verifies_and_a_changed_one_fails() {
        let dir = tempfile::tempdir().unwrap();
        let keys = made(dir.path());
        let signed = keys.sign(MAIL).unwrap();
        let text = String::from_utf8_lossy(&signed);
        assert!(text.contains("a=ed25519-sha256"), "{text}");
        assert!(text.contains("a=rsa-sha256"), "{text}");
        assert_eq!(
            keys.verify(&signed).await,
            DkimCheck::Pass(vec!["kura-ed".into(), "kura-rsa".into()])
        );
        let changed = String::from_utf8_lossy(&signed).replace("Hello", "Hallo");
        assert_eq!(keys.verify(changed.as_bytes()).await, DkimCheck::Fail);
        assert_eq!(keys.verify(MAIL).await, DkimCheck::NotSigned);
        // Another shop's keys do not vouch for this mail.
        let other = tempfile::tempdir().unwrap();
        let others = made(other.path());
        assert_eq!(others.verify(&signed).await, DkimCheck::Fail);
    }

    #[test]
    fn key_files_are_private_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let files = DkimFiles::beside(&dir.path().join("kura.key"));
        files.generate().unwrap();
        for p in [&files.ed25519, &files.rsa] {
            assert_eq!(
                std::fs::metadata(p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(matches!(files.generate(), Err(DkimError::Exists(_))));
        std::fs::set_permissions(&files.rsa, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            DkimKeys::load(&files, "example.jp", "kura"),
            Err(DkimError::TooOpen { .. })
        ));
        std::fs::remove_file(&files.rsa).unwrap();
        assert!(matches!(
            DkimKeys::load(&files, "example.jp", "kura"),
            Err(DkimError::HalfPair(_))
        ));
    }
}

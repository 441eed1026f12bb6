//! Passkeys: the relying-party half of WebAuthn (Level 2, with the Level 3 backup flags),
//! verifying a registration ([`verify_registration`], §7.1) and a sign-in
//! ([`verify_assertion`], §7.2) with `ring`, without OpenSSL and without trusting any
//! attestation certificate.
//!
//! Step numbers are those of Level 2. Guarantees, when a function returns `Ok`:
//! - The client data is JSON of the right ceremony (`webauthn.create` / `webauthn.get`), carries
//!   exactly the challenge the caller issued (compared in constant time), comes from exactly the
//!   configured origin and not from a cross-origin frame (§7.1 steps 7–10, §7.2 steps 11–14).
//! - The authenticator data names this relying party (SHA-256 of the RP ID), says the user was
//!   present, and says the user was verified when the policy asks for it (§7.1 steps 13–15,
//!   §7.2 steps 15–17). It is parsed to its last byte: extension outputs only when the ED flag
//!   says so, and nothing after them (§6.1).
//! - A registration holds an ES256 (P-256), EdDSA (Ed25519) or RS256 (2048–8192 bit) public key
//!   in COSE form, a credential id of at most 1023 bytes, and an attestation of format `none`
//!   (empty statement) or `packed` self attestation whose signature verifies with that very
//!   key (§8.2). Attestation certificate chains are refused rather than accepted unchecked: we
//!   ask browsers for attestation `none`, so a chain means something unexpected.
//! - A sign-in is for the stored credential id (constant time) and its signature over
//!   `authenticatorData || SHA-256(clientDataJSON)` verifies with the stored key, re-parsed
//!   from the stored COSE bytes every time (§7.2 steps 19–20). A signature counter that does
//!   not move up while both values are non-zero is refused as a possible clone (§6.1.1).
//! - Malformed input of any kind yields an error, never a panic; CBOR is decoded by a small
//!   decoder that checks every length against the bytes present and caps nesting.
//!
//! Left to the caller: issuing a fresh [`new_challenge`] per ceremony, keeping it server-side
//! and using it once; refusing a credential id that is already registered (§7.1 step 22);
//! finding the stored passkey by credential id and checking it belongs to the user signing in
//! (§7.2 steps 5–6); storing the returned sign count.

mod cbor;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;

pub use cbor::CborError;
use cbor::Value;

use crate::SealError;
use crate::token::{constant_time_eq, random_bytes, sha256};

/// COSE algorithm identifier (IANA "COSE Algorithms") of ECDSA on P-256 with SHA-256.
pub const COSE_ES256: i64 = -7;
/// COSE algorithm identifier of EdDSA; only on Ed25519 here.
pub const COSE_EDDSA: i64 = -8;
/// COSE algorithm identifier of RSASSA-PKCS1-v1_5 with SHA-256.
pub const COSE_RS256: i64 = -257;
/// The algorithms this module verifies, in the order a caller should list them in
/// `pubKeyCredParams`.
pub const SUPPORTED_ALGORITHMS: [i64; 3] = [COSE_ES256, COSE_EDDSA, COSE_RS256];

/// §13.4.3: challenges must be at least 16 random bytes; ours are 32.
pub const CHALLENGE_LEN: usize = 32;
const MIN_CHALLENGE_LEN: usize = 16;

/// Level 3 §7.1 refuses longer credential ids.
pub const MAX_CREDENTIAL_ID_LEN: usize = 1023;

// Authenticator data flags (§6.1).
const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_BE: u8 = 0x08;
const FLAG_BS: u8 = 0x10;
const FLAG_AT: u8 = 0x40;
const FLAG_ED: u8 = 0x80;

/// What this site expects of every ceremony.
#[derive(Debug, Clone, Copy)]
pub struct PasskeyPolicy<'a> {
    /// The RP ID, a registrable domain such as `shop.example`.
    pub rp_id: &'a str,
    /// The exact origin pages are served from, such as `https://shop.example`.
    pub origin: &'a str,
    /// Whether the authenticator must have verified the user (PIN or biometric), not only
    /// seen a touch.
    pub require_user_verification: bool,
}

/// A fresh random challenge for one ceremony.
pub fn new_challenge() -> Result<[u8; CHALLENGE_LEN], SealError> {
    random_bytes::<CHALLENGE_LEN>()
}

/// Unpadded URL-safe base64 (RFC 4648 §5), as WebAuthn uses in client data and JSON.
pub fn base64url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The inverse of [`base64url_encode`]; padding, the standard alphabet and non-zero trailing
/// bits are refused, so every byte string has exactly one accepted text.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// A passkey that passed registration, to be stored with the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPasskey {
    pub credential_id: Vec<u8>,
    /// The COSE_Key bytes as the authenticator sent them; [`verify_assertion`] parses them again
    /// at every use, so a stored value that is damaged fails there rather than verifying wrongly.
    pub public_key: Vec<u8>,
    /// The COSE algorithm of `public_key`, one of [`SUPPORTED_ALGORITHMS`].
    pub algorithm: i64,
    pub sign_count: u32,
    /// BE flag: the credential may be synced to other devices (a multi-device passkey).
    pub backup_eligible: bool,
    /// BS flag: the credential is currently backed up.
    pub backed_up: bool,
    /// UV flag at registration.
    pub user_verified: bool,
    /// The authenticator model, all zeros when the browser anonymised it for attestation `none`.
    pub aaguid: [u8; 16],
}

/// A stored passkey, as read back for a sign-in.
#[derive(Debug, Clone, Copy)]
pub struct StoredPasskey<'a> {
    pub credential_id: &'a [u8],
    /// [`NewPasskey::public_key`] as stored.
    pub public_key: &'a [u8],
    pub sign_count: u32,
}

/// What the browser returned from `navigator.credentials.get()`, base64url-decoded.
#[derive(Debug, Clone, Copy)]
pub struct Assertion<'a> {
    /// `rawId`.
    pub credential_id: &'a [u8],
    pub client_data_json: &'a [u8],
    pub authenticator_data: &'a [u8],
    pub signature: &'a [u8],
}

/// Why a registration or sign-in was refused. Each reason is its own variant so the caller can
/// log it and tests can tell them apart; none of them should be shown to the user in detail.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum PasskeyError {
    #[error("the expected challenge is shorter than 16 bytes")]
    ChallengeTooShort,
    #[error("the client data is not valid JSON")]
    ClientDataNotJson,
    #[error(
        "the client data lacks its type, challenge or origin, has one of the wrong kind, or repeats a member"
    )]
    ClientDataMalformed,
    #[error("the client data is for another kind of ceremony")]
    WrongType,
    #[error("the client data carries a different challenge from the one issued")]
    ChallengeMismatch,
    #[error("the client data comes from a different origin from this site's")]
    OriginMismatch,
    #[error("the ceremony ran in a cross-origin frame, which this site does not allow")]
    CrossOrigin,
    #[error("the client data claims a token binding, which this site does not use")]
    TokenBinding,
    #[error("the attestation object is not valid CBOR: {0}")]
    AttestationObjectCbor(CborError),
    #[error("the attestation object lacks fmt, attStmt or authData, or has one of the wrong kind")]
    AttestationObjectMalformed,
    #[error("the authenticator data ends early")]
    AuthDataTruncated,
    #[error("the authenticator data has bytes after its last part")]
    AuthDataTrailingBytes,
    #[error("the authenticator data is for a different relying party")]
    RpIdMismatch,
    #[error("the authenticator did not confirm that the user was present")]
    UserNotPresent,
    #[error("the authenticator did not verify the user with a PIN or biometric")]
    UserNotVerified,
    #[error("the authenticator data says the credential is backed up but cannot be")]
    BackupStateWithoutEligibility,
    #[error("the registration carries no attested credential data")]
    NoAttestedCredential,
    #[error("the sign-in carries attested credential data, which only a registration may")]
    UnexpectedAttestedCredential,
    #[error("the credential id is longer than 1023 bytes")]
    CredentialIdTooLong,
    #[error("the credential public key is not valid CBOR: {0}")]
    CredentialKeyCbor(CborError),
    #[error(
        "the credential public key uses an algorithm or curve this site does not accept (only ES256, EdDSA on Ed25519 and RS256)"
    )]
    UnsupportedAlgorithm,
    #[error("the credential public key lacks a parameter or has one of the wrong kind or size")]
    KeyMalformed,
    #[error("the extension outputs are not valid CBOR: {0}")]
    ExtensionsCbor(CborError),
    #[error("the extension outputs are not a CBOR map")]
    ExtensionsNotMap,
    #[error("the attestation statement of format none is not empty")]
    AttestationStatementNotEmpty,
    #[error(
        "the attestation carries a certificate chain; this site asks for attestation none and does not check certificates"
    )]
    AttestationCertificateChain,
    #[error("the attestation format is not accepted (only none and packed self attestation)")]
    UnsupportedAttestationFormat,
    #[error(
        "the packed attestation statement lacks alg or sig, has one of the wrong kind, or has unknown members"
    )]
    AttestationStatementMalformed,
    #[error("the packed attestation names a different algorithm from the credential key's")]
    AttestationAlgorithmMismatch,
    #[error("the attestation signature does not verify with the credential key")]
    BadAttestationSignature,
    #[error("the sign-in is for a different credential from the stored one")]
    CredentialIdMismatch,
    #[error("the stored public key cannot be parsed")]
    StoredKeyInvalid,
    #[error("the signature does not verify with the stored key")]
    BadSignature,
    #[error(
        "the signature counter went from {stored} to {received} instead of up; the authenticator may have been cloned"
    )]
    CounterNotIncreased { stored: u32, received: u32 },
}

/// Verifies a registration (`navigator.credentials.create()`), §7.1.
///
/// `client_data_json` and `attestation_object` are the `response` members of the returned
/// credential, base64url-decoded. The caller must still refuse a credential id that is already
/// registered, to anyone.
pub fn verify_registration(
    policy: &PasskeyPolicy,
    challenge: &[u8],
    client_data_json: &[u8],
    attestation_object: &[u8],
) -> Result<NewPasskey, PasskeyError> {
    verify_client_data(policy, "webauthn.create", challenge, client_data_json)?;
    let client_data_hash = sha256(client_data_json);

    // §7.1 step 12: the attestation object is a map of fmt, attStmt and authData (§6.5).
    let object = cbor::decode(attestation_object).map_err(PasskeyError::AttestationObjectCbor)?;
    let fmt = object
        .get_text("fmt")
        .and_then(Value::as_text)
        .ok_or(PasskeyError::AttestationObjectMalformed)?;
    let statement = object
        .get_text("attStmt")
        .and_then(Value::as_map)
        .ok_or(PasskeyError::AttestationObjectMalformed)?;
    let auth_data_bytes = object
        .get_text("authData")
        .and_then(Value::as_bytes)
        .ok_or(PasskeyError::AttestationObjectMalformed)?;

    let auth_data = AuthData::parse(auth_data_bytes)?;
    auth_data.check(policy)?;
    let credential = auth_data
        .attested
        .ok_or(PasskeyError::NoAttestedCredential)?;

    // §7.1 steps 18–21: only the attestation formats we can verify without trusting a vendor.
    match fmt {
        // §8.7: the browser replaced or the authenticator gave no attestation.
        "none" if statement.is_empty() => {}
        "none" => return Err(PasskeyError::AttestationStatementNotEmpty),
        "packed" => verify_packed_self_attestation(
            statement,
            &credential.key,
            auth_data_bytes,
            &client_data_hash,
        )?,
        _ => return Err(PasskeyError::UnsupportedAttestationFormat),
    }

    Ok(NewPasskey {
        credential_id: credential.id.to_vec(),
        public_key: credential.key_bytes.to_vec(),
        algorithm: credential.key.algorithm(),
        sign_count: auth_data.sign_count,
        backup_eligible: auth_data.flags & FLAG_BE != 0,
        backed_up: auth_data.flags & FLAG_BS != 0,
        user_verified: auth_data.flags & FLAG_UV != 0,
        aaguid: credential.aaguid,
    })
}

/// Verifies a sign-in (`navigator.credentials.get()`), §7.2, against the passkey the caller
/// found by `assertion.credential_id` for this user. Returns the sign count to store.
pub fn verify_assertion(
    policy: &PasskeyPolicy,
    challenge: &[u8],
    stored: &StoredPasskey,
    assertion: &Assertion,
) -> Result<u32, PasskeyError> {
    // §7.2 steps 5–6: the credential used is the one on record.
    if !constant_time_eq(assertion.credential_id, stored.credential_id) {
        return Err(PasskeyError::CredentialIdMismatch);
    }
    let key_value = cbor::decode(stored.public_key).map_err(|_| PasskeyError::StoredKeyInvalid)?;
    let key = CoseKey::parse(&key_value).map_err(|_| PasskeyError::StoredKeyInvalid)?;

    verify_client_data(
        policy,
        "webauthn.get",
        challenge,
        assertion.client_data_json,
    )?;

    let auth_data = AuthData::parse(assertion.authenticator_data)?;
    if auth_data.attested.is_some() {
        return Err(PasskeyError::UnexpectedAttestedCredential);
    }
    auth_data.check(policy)?;

    // §7.2 steps 19–20: the signature covers the authenticator data and the client data hash.
    let message = signed_message(assertion.authenticator_data, assertion.client_data_json);
    if !key.verify(&message, assertion.signature) {
        return Err(PasskeyError::BadSignature);
    }

    // §7.2 step 21 and §6.1.1: a counter that does not advance means two authenticators may
    // share this key. Authenticators without a counter always send zero (both zero says
    // nothing); once a counter was seen, a zero is a step back like any other. Checked only
    // after the signature, so only the key holder learns the stored value.
    let (old, new) = (stored.sign_count, auth_data.sign_count);
    if (old != 0 || new != 0) && new <= old {
        return Err(PasskeyError::CounterNotIncreased {
            stored: old,
            received: new,
        });
    }
    Ok(old.max(new))
}

/// The members of `CollectedClientData` (§5.8.1) this module reads. Unknown members are ignored,
/// as the spec requires (browsers add some); a repeated member is a serde error.
#[derive(Deserialize)]
struct ClientData {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: Option<bool>,
    #[serde(rename = "topOrigin", default)]
    top_origin: Option<String>,
    #[serde(rename = "tokenBinding", default)]
    token_binding: Option<TokenBinding>,
}

#[derive(Deserialize)]
struct TokenBinding {
    status: String,
}

/// §7.1 steps 5–10 / §7.2 steps 9–14.
fn verify_client_data(
    policy: &PasskeyPolicy,
    expected_type: &str,
    challenge: &[u8],
    client_data_json: &[u8],
) -> Result<(), PasskeyError> {
    // A short expected challenge is the caller's mistake; an empty one would match an empty
    // challenge sent by anyone.
    if challenge.len() < MIN_CHALLENGE_LEN {
        return Err(PasskeyError::ChallengeTooShort);
    }
    let client_data: ClientData = serde_json::from_slice(client_data_json).map_err(|e| {
        if e.is_data() {
            PasskeyError::ClientDataMalformed
        } else {
            PasskeyError::ClientDataNotJson
        }
    })?;
    // The type stops a signature made for one ceremony from being replayed as the other.
    if client_data.kind != expected_type {
        return Err(PasskeyError::WrongType);
    }
    let presented = base64url_decode(&client_data.challenge).unwrap_or_default();
    if !constant_time_eq(&presented, challenge) {
        return Err(PasskeyError::ChallengeMismatch);
    }
    // Exact comparison: the origin is what phishing protection rests on.
    if client_data.origin != policy.origin {
        return Err(PasskeyError::OriginMismatch);
    }
    // Level 3 sets topOrigin only in cross-origin iframes; this site embeds no sign-in frames.
    if client_data.cross_origin == Some(true) || client_data.top_origin.is_some() {
        return Err(PasskeyError::CrossOrigin);
    }
    // Level 2 step 10: "present" would have to match the TLS connection's token binding, and
    // our connections have none.
    if client_data
        .token_binding
        .is_some_and(|binding| binding.status == "present")
    {
        return Err(PasskeyError::TokenBinding);
    }
    Ok(())
}

/// Parsed authenticator data (§6.1).
struct AuthData<'a> {
    rp_id_hash: &'a [u8; 32],
    flags: u8,
    sign_count: u32,
    attested: Option<AttestedCredential<'a>>,
}

/// Attested credential data (§6.5.1).
struct AttestedCredential<'a> {
    aaguid: [u8; 16],
    id: &'a [u8],
    key_bytes: &'a [u8],
    key: CoseKey<'a>,
}

fn take<'a, const N: usize>(input: &mut &'a [u8]) -> Result<&'a [u8; N], PasskeyError> {
    let (taken, rest) = input
        .split_first_chunk::<N>()
        .ok_or(PasskeyError::AuthDataTruncated)?;
    *input = rest;
    Ok(taken)
}

impl<'a> AuthData<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, PasskeyError> {
        let mut rest = bytes;
        let rp_id_hash = take::<32>(&mut rest)?;
        let [flags] = *take::<1>(&mut rest)?;
        let sign_count = u32::from_be_bytes(*take::<4>(&mut rest)?);

        let attested = if flags & FLAG_AT != 0 {
            let aaguid = *take::<16>(&mut rest)?;
            let id_len = usize::from(u16::from_be_bytes(*take::<2>(&mut rest)?));
            if id_len > MAX_CREDENTIAL_ID_LEN {
                return Err(PasskeyError::CredentialIdTooLong);
            }
            let (id, after_id) = rest
                .split_at_checked(id_len)
                .ok_or(PasskeyError::AuthDataTruncated)?;
            // The COSE_Key has no length prefix: its end is where its CBOR ends.
            let (key_value, after_key) =
                cbor::decode_prefix(after_id).map_err(PasskeyError::CredentialKeyCbor)?;
            let key_len = after_id.len().saturating_sub(after_key.len());
            let key_bytes = after_id
                .get(..key_len)
                .ok_or(PasskeyError::AuthDataTruncated)?;
            let key = CoseKey::parse(&key_value)?;
            rest = after_key;
            Some(AttestedCredential {
                aaguid,
                id,
                key_bytes,
                key,
            })
        } else {
            None
        };

        // Extension outputs are skipped (we request none), but only where the ED flag says
        // they are; otherwise they would be trailing bytes.
        if flags & FLAG_ED != 0 {
            let (extensions, after) =
                cbor::decode_prefix(rest).map_err(PasskeyError::ExtensionsCbor)?;
            if extensions.as_map().is_none() {
                return Err(PasskeyError::ExtensionsNotMap);
            }
            rest = after;
        }
        if !rest.is_empty() {
            return Err(PasskeyError::AuthDataTrailingBytes);
        }
        Ok(Self {
            rp_id_hash,
            flags,
            sign_count,
            attested,
        })
    }

    /// §7.1 steps 13–15 / §7.2 steps 15–17, and the Level 3 rule on the backup flags.
    fn check(&self, policy: &PasskeyPolicy) -> Result<(), PasskeyError> {
        if *self.rp_id_hash != sha256(policy.rp_id.as_bytes()) {
            return Err(PasskeyError::RpIdMismatch);
        }
        if self.flags & FLAG_UP == 0 {
            return Err(PasskeyError::UserNotPresent);
        }
        if policy.require_user_verification && self.flags & FLAG_UV == 0 {
            return Err(PasskeyError::UserNotVerified);
        }
        // Level 3 §6.1: a credential that may not be backed up cannot be backed up.
        if self.flags & FLAG_BS != 0 && self.flags & FLAG_BE == 0 {
            return Err(PasskeyError::BackupStateWithoutEligibility);
        }
        Ok(())
    }
}

/// The bytes assertion signatures cover (§6.3.3, §7.2 step 20).
fn signed_message(auth_data: &[u8], client_data_json: &[u8]) -> Vec<u8> {
    let hash = sha256(client_data_json);
    let mut message = Vec::with_capacity(auth_data.len() + hash.len());
    message.extend_from_slice(auth_data);
    message.extend_from_slice(&hash);
    message
}

/// §8.2 packed attestation, self-attestation branch: the credential key signs its own creation.
fn verify_packed_self_attestation(
    statement: &[(Value<'_>, Value<'_>)],
    key: &CoseKey<'_>,
    auth_data: &[u8],
    client_data_hash: &[u8; 32],
) -> Result<(), PasskeyError> {
    let mut alg = None;
    let mut sig = None;
    for (name, value) in statement {
        match name.as_text() {
            Some("alg") => alg = value.as_i64(),
            Some("sig") => sig = value.as_bytes(),
            // Checked in a second pass so the answer does not depend on member order.
            Some("x5c" | "ecdaaKeyId") => {}
            _ => return Err(PasskeyError::AttestationStatementMalformed),
        }
    }
    for (name, _) in statement {
        match name.as_text() {
            Some("x5c") => return Err(PasskeyError::AttestationCertificateChain),
            // ECDAA was dropped in Level 3; nothing issues it.
            Some("ecdaaKeyId") => return Err(PasskeyError::UnsupportedAttestationFormat),
            _ => {}
        }
    }
    let (Some(alg), Some(sig)) = (alg, sig) else {
        return Err(PasskeyError::AttestationStatementMalformed);
    };
    if alg != key.algorithm() {
        return Err(PasskeyError::AttestationAlgorithmMismatch);
    }
    let mut message = Vec::with_capacity(auth_data.len() + client_data_hash.len());
    message.extend_from_slice(auth_data);
    message.extend_from_slice(client_data_hash);
    if !key.verify(&message, sig) {
        return Err(PasskeyError::BadAttestationSignature);
    }
    Ok(())
}

/// A credential public key in one of the accepted COSE forms (RFC 9053, RFC 8230, §6.5.1).
#[derive(Debug)]
enum CoseKey<'a> {
    /// Uncompressed SEC1 point `0x04 || x || y`, as `ring` takes it.
    Es256([u8; 65]),
    Ed25519(&'a [u8; 32]),
    /// Big-endian modulus and exponent without leading zeros, as `ring` requires.
    Rs256 {
        n: &'a [u8],
        e: &'a [u8],
    },
}

// COSE key parameters (RFC 9052 §7.1, RFC 9053 §7, RFC 8230 §4).
const KTY: i64 = 1;
const ALG: i64 = 3;
const KTY_OKP: i64 = 1;
const KTY_EC2: i64 = 2;
const KTY_RSA: i64 = 3;
const CRV_P256: i64 = 1;
const CRV_ED25519: i64 = 6;
const CRV: i64 = -1;
const EC_X: i64 = -2;
const EC_Y: i64 = -3;
const RSA_N: i64 = -1;
const RSA_E: i64 = -2;

impl<'a> CoseKey<'a> {
    fn parse(value: &Value<'a>) -> Result<Self, PasskeyError> {
        if value.as_map().is_none() {
            return Err(PasskeyError::KeyMalformed);
        }
        let int = |label| value.get_int(label).and_then(Value::as_i64);
        let bytes = |label| value.get_int(label).and_then(Value::as_bytes);
        // §6.5.1: the key must name its algorithm.
        let kty = int(KTY).ok_or(PasskeyError::KeyMalformed)?;
        let alg = int(ALG).ok_or(PasskeyError::KeyMalformed)?;
        match alg {
            COSE_ES256 => {
                if kty != KTY_EC2 {
                    return Err(PasskeyError::KeyMalformed);
                }
                if int(CRV).ok_or(PasskeyError::KeyMalformed)? != CRV_P256 {
                    return Err(PasskeyError::UnsupportedAlgorithm);
                }
                // WebAuthn keys are uncompressed: y is the coordinate, never a sign bit.
                let x: &[u8; 32] = bytes(EC_X)
                    .and_then(|x| x.try_into().ok())
                    .ok_or(PasskeyError::KeyMalformed)?;
                let y: &[u8; 32] = bytes(EC_Y)
                    .and_then(|y| y.try_into().ok())
                    .ok_or(PasskeyError::KeyMalformed)?;
                let mut point = [0u8; 65];
                let (prefix, coordinates) = point.split_at_mut(1);
                let (x_out, y_out) = coordinates.split_at_mut(32);
                prefix.copy_from_slice(&[0x04]);
                x_out.copy_from_slice(x);
                y_out.copy_from_slice(y);
                Ok(CoseKey::Es256(point))
            }
            COSE_EDDSA => {
                if kty != KTY_OKP {
                    return Err(PasskeyError::KeyMalformed);
                }
                if int(CRV).ok_or(PasskeyError::KeyMalformed)? != CRV_ED25519 {
                    return Err(PasskeyError::UnsupportedAlgorithm);
                }
                let x = bytes(EC_X)
                    .and_then(|x| x.try_into().ok())
                    .ok_or(PasskeyError::KeyMalformed)?;
                Ok(CoseKey::Ed25519(x))
            }
            COSE_RS256 => {
                if kty != KTY_RSA {
                    return Err(PasskeyError::KeyMalformed);
                }
                let n = strip_leading_zeros(bytes(RSA_N).ok_or(PasskeyError::KeyMalformed)?);
                let e = strip_leading_zeros(bytes(RSA_E).ok_or(PasskeyError::KeyMalformed)?);
                // What ring's RSA_PKCS1_2048_8192_SHA256 accepts: a 2048–8192 bit modulus and
                // an exponent of at most 33 bits. Checked here so a key that could never
                // verify is refused at registration, not at every sign-in.
                if !(256..=1024).contains(&n.len()) || e.is_empty() || e.len() > 5 {
                    return Err(PasskeyError::KeyMalformed);
                }
                Ok(CoseKey::Rs256 { n, e })
            }
            _ => Err(PasskeyError::UnsupportedAlgorithm),
        }
    }

    fn algorithm(&self) -> i64 {
        match self {
            CoseKey::Es256(_) => COSE_ES256,
            CoseKey::Ed25519(_) => COSE_EDDSA,
            CoseKey::Rs256 { .. } => COSE_RS256,
        }
    }

    fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        match self {
            // §6.5.5 (signature formats): ES256 signatures are ASN.1 DER, not raw r || s.
            CoseKey::Es256(point) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, point.as_slice())
                    .verify(message, sig)
                    .is_ok()
            }
            CoseKey::Ed25519(x) => UnparsedPublicKey::new(&signature::ED25519, x.as_slice())
                .verify(message, sig)
                .is_ok(),
            CoseKey::Rs256 { n, e } => RsaPublicKeyComponents { n: *n, e: *e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
                .is_ok(),
        }
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]

    use super::*;
    use proptest::prelude::*;
    use ring::rand::SystemRandom;
    use ring::signature::{
        ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
        RsaKeyPair,
    };

    const RP_ID: &str = "shop.example";
    const ORIGIN: &str = "https://shop.example";
    // Encodes to text with both URL-safe characters, `-` and `_`.
    const CHALLENGE: [u8; 32] = [0xfb; 32];

    fn policy(require_user_verification: bool) -> PasskeyPolicy<'static> {
        PasskeyPolicy {
            rp_id: RP_ID,
            origin: ORIGIN,
            require_user_verification,
        }
    }

    /// A tiny CBOR encoder, independent of the decoder under test.
    #[derive(Clone)]
    enum C {
        U(u64),
        N(i64),
        B(Vec<u8>),
        T(&'static str),
        A(Vec<C>),
        M(Vec<(C, C)>),
    }

    fn head(out: &mut Vec<u8>, major: u8, n: u64) {
        let m = major << 5;
        if n < 24 {
            out.push(m | n as u8);
        } else if n <= 0xff {
            out.extend([m | 24, n as u8]);
        } else if n <= 0xffff {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        } else {
            out.push(m | 27);
            out.extend(n.to_be_bytes());
        }
    }

    impl C {
        fn encode(&self) -> Vec<u8> {
            let mut out = Vec::new();
            self.write(&mut out);
            out
        }

        fn write(&self, out: &mut Vec<u8>) {
            match self {
                C::U(n) => head(out, 0, *n),
                C::N(n) if *n >= 0 => head(out, 0, *n as u64),
                C::N(n) => head(out, 1, (-1 - *n) as u64),
                C::B(b) => {
                    head(out, 2, b.len() as u64);
                    out.extend(b);
                }
                C::T(t) => {
                    head(out, 3, t.len() as u64);
                    out.extend(t.as_bytes());
                }
                C::A(items) => {
                    head(out, 4, items.len() as u64);
                    items.iter().for_each(|i| i.write(out));
                }
                C::M(entries) => {
                    head(out, 5, entries.len() as u64);
                    for (k, v) in entries {
                        k.write(out);
                        v.write(out);
                    }
                }
            }
        }
    }

    /// A test-only RSA-2048 key (PKCS#1 DER), generated for these tests: ring cannot generate
    /// RSA keys.
    const RSA_TEST_KEY: &str = concat!(
        "MIIEogIBAAKCAQEAi/4OKoKbxHsE8gmcfLpKi4btxH5OQBwgbe/ZXy+mphy90PiWarV722OL24K1vSfffSjtY3HG",
        "8HZxtKsgfG7RULR+Bpz8BPNicXFpuYcPV1v/7A8j9jeIxVU2WHjWFss0MIvREW9I+sn73zH0j8fAtiF4c7/fWYjs",
        "MMMjE9fE1hnWFYlsgUSYulCU2AgSQ8mw8Oe80U958zUolJwyHBMzQwShdRH7NoWUwPb7zGuZJ002YGG6Ex0OjdMX",
        "Ov9iTcFYyzU9DBo0qrEmMT/Ow0JxmJHafA5o47cPdAhbTF6eBUvZ0RrH4104TMYDt5C6QYpA56sBB2Oa1eRKfkaG",
        "jmExkwIDAQABAoIBABZU0OuvvqteuGY9FEJtRoZFYC5lEOnMfXvWs+/UM8WcdhxyBdnrLgvMMGY0I/Y9oxAIdFMr",
        "C4IWUthwJ+l8QABGGohxiF49zj6sdHdiTRcxbNIPhDwQQHgXZL5DiwXtz7B4IpdLukePQDzVb4l0DZDAJsJyzBfb",
        "Q1oaoWuBPZFYJ1FaR1vBPdzQrG/bhKHoVyCT1X4GGmpHlfRKgoS2R576nQUVwqrizSRZe0/3Lcls6BpbzK0AfNpR",
        "/UUjOV/kTcDQA2VV3f2fizytfqC1M1zNTSmssjdA93FyMINYcF/yE+TkLuvAT4FhvFjejUQvrTWLlqXqDg2GIqTc",
        "a9titUkCgYEAwoM5oJn46K/7pqCz+oQjqr3oiI6Eeg4SQpi18BZau+oiCkVBmyWeC3Jw1eeULEAOXf2y9j9kz8oo",
        "zU/LqYtTfxn2WoV5dTKYH2SKAr1odiszI4NJJG0QxvUK/2746hR6DFH0xbWTumWUGTm5U+9y7tFE7/HxMdQvmJcf",
        "+3+0kz0CgYEAuD7T2RwNKgsq4zdnLlT7Wp4dN0Sn37N1nHvcCPP2xTxHLUkyToA4mOjixJHfyBzIVmhh6hCh4Bel",
        "Csl4gKn/ndWCVaQauFj8UHoarYPDE5R35ZixhFP2cjqY2NXwHOJvMACWVkllJOP9SGLZvS8f2VOGOvgxEf8ppqvj",
        "qqzj5Q8CgYA9iD2mrI6tLV6ya4wD5+FQlhsFd/A4nFLydlS3ypqRb5OtJBOI/PFuNZm0UTnydaEV4rfGZm+BvDYE",
        "HQYUcFrNjmz8XdT6WjL9W1S9YSW2nBvlVBbDSy1Pgx0jiPt9MVUaqKKCGNrO0Gt1P2l9P/Zfzhu8vBDM7o7P+p7H",
        "dLKvEQKBgD+ONKfM/GGHbqjogKhD2lzc8/kPrtUE48oyE6nm9jX9YBQoDrlzk5Jzq13hcA9ollbwNO54BE73+Q+q",
        "he3kNm/sqcP/EtSKpabhJ/i43f8QFPfXX0zlZbrrqbQKwIRGO9KUMUfck45RMxrYNoIDEnp2THRlDxBFM8nxu1wx",
        "vX9TAoGAeIuLRPpUOwRKJCBdDjpMB1P8EbHtjyJg3dwIHs9C0mxFEZB0080+MQpywgWBZTXAk1gcFdDWuY+sY0Mb",
        "tb+D8egZn88b5YiKbQtYZ/7PuvVJqIF6FV9i/Zrhc9h0EXYtKzbtu0gw4BYJu+QFAeeY1IVr52EBajLP4WCWA81T",
        "X9E=",
    );

    enum Signer {
        Es256(EcdsaKeyPair),
        Ed25519(Ed25519KeyPair),
        Rs256(RsaKeyPair),
    }

    /// A software authenticator holding one credential.
    struct Authenticator {
        signer: Signer,
        credential_id: Vec<u8>,
        rng: SystemRandom,
    }

    impl Authenticator {
        fn es256() -> Self {
            let rng = SystemRandom::new();
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
                    .unwrap();
            Self::new(Signer::Es256(pair), rng)
        }

        fn ed25519() -> Self {
            let rng = SystemRandom::new();
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
            Self::new(Signer::Ed25519(pair), rng)
        }

        fn rs256() -> Self {
            use base64::engine::general_purpose::STANDARD;
            let der = STANDARD.decode(RSA_TEST_KEY).unwrap();
            let pair = RsaKeyPair::from_der(&der).unwrap();
            Self::new(Signer::Rs256(pair), SystemRandom::new())
        }

        fn new(signer: Signer, rng: SystemRandom) -> Self {
            let credential_id = random_bytes::<16>().unwrap().to_vec();
            Self {
                signer,
                credential_id,
                rng,
            }
        }

        fn alg(&self) -> i64 {
            match self.signer {
                Signer::Es256(_) => COSE_ES256,
                Signer::Ed25519(_) => COSE_EDDSA,
                Signer::Rs256(_) => COSE_RS256,
            }
        }

        fn cose_key(&self) -> C {
            match &self.signer {
                Signer::Es256(pair) => {
                    let point = pair.public_key().as_ref();
                    assert_eq!(point.len(), 65);
                    C::M(vec![
                        (C::U(1), C::U(2)),
                        (C::U(3), C::N(-7)),
                        (C::N(-1), C::U(1)),
                        (C::N(-2), C::B(point[1..33].to_vec())),
                        (C::N(-3), C::B(point[33..].to_vec())),
                    ])
                }
                Signer::Ed25519(pair) => C::M(vec![
                    (C::U(1), C::U(1)),
                    (C::U(3), C::N(-8)),
                    (C::N(-1), C::U(6)),
                    (C::N(-2), C::B(pair.public_key().as_ref().to_vec())),
                ]),
                Signer::Rs256(pair) => {
                    let parts: RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
                    C::M(vec![
                        (C::U(1), C::U(3)),
                        (C::U(3), C::N(-257)),
                        (C::N(-1), C::B(parts.n)),
                        (C::N(-2), C::B(parts.e)),
                    ])
                }
            }
        }

        fn sign(&self, message: &[u8]) -> Vec<u8> {
            match &self.signer {
                Signer::Es256(pair) => pair.sign(&self.rng, message).unwrap().as_ref().to_vec(),
                Signer::Ed25519(pair) => pair.sign(message).as_ref().to_vec(),
                Signer::Rs256(pair) => {
                    let mut sig = vec![0; pair.public().modulus_len()];
                    pair.sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut sig)
                        .unwrap();
                    sig
                }
            }
        }
    }

    /// Everything that goes into one ceremony, each part open to tampering.
    struct Ceremony {
        kind: &'static str,
        challenge: Vec<u8>,
        origin: &'static str,
        extra_client_data: &'static str,
        rp_id: &'static str,
        flags: u8,
        counter: u32,
        /// Registration only: the key as put into the attested credential data.
        key: Option<C>,
        extensions: Option<Vec<u8>>,
        trailing: Vec<u8>,
    }

    type Tamper = fn(&mut Ceremony);

    enum Attestation {
        None,
        PackedSelf,
        PackedX5c,
        Format(&'static str),
    }

    impl Ceremony {
        fn create() -> Self {
            Self {
                kind: "webauthn.create",
                challenge: CHALLENGE.to_vec(),
                origin: ORIGIN,
                extra_client_data: r#","crossOrigin":false"#,
                rp_id: RP_ID,
                flags: FLAG_UP | FLAG_UV | FLAG_AT,
                counter: 0,
                key: None,
                extensions: None,
                trailing: Vec::new(),
            }
        }

        fn get(counter: u32) -> Self {
            Self {
                kind: "webauthn.get",
                flags: FLAG_UP | FLAG_UV,
                counter,
                ..Self::create()
            }
        }

        fn client_data(&self) -> Vec<u8> {
            format!(
                r#"{{"type":"{}","challenge":"{}","origin":"{}"{}}}"#,
                self.kind,
                base64url_encode(&self.challenge),
                self.origin,
                self.extra_client_data
            )
            .into_bytes()
        }

        fn auth_data(&self, auth: &Authenticator, attested: bool) -> Vec<u8> {
            let mut out = sha256(self.rp_id.as_bytes()).to_vec();
            out.push(self.flags);
            out.extend(self.counter.to_be_bytes());
            if attested {
                out.extend([0xaa; 16]);
                out.extend((auth.credential_id.len() as u16).to_be_bytes());
                out.extend(&auth.credential_id);
                out.extend(self.key.clone().unwrap_or_else(|| auth.cose_key()).encode());
            }
            if let Some(extensions) = &self.extensions {
                out.extend(extensions);
            }
            out.extend(&self.trailing);
            out
        }

        /// (clientDataJSON, attestationObject)
        fn register(&self, auth: &Authenticator, attestation: Attestation) -> (Vec<u8>, Vec<u8>) {
            let client_data = self.client_data();
            let auth_data = self.auth_data(auth, true);
            let sig = || {
                let mut message = auth_data.clone();
                message.extend(sha256(&client_data));
                C::B(auth.sign(&message))
            };
            let (fmt, statement) = match attestation {
                Attestation::None => ("none", C::M(vec![])),
                Attestation::PackedSelf => (
                    "packed",
                    C::M(vec![(C::T("alg"), C::N(auth.alg())), (C::T("sig"), sig())]),
                ),
                Attestation::PackedX5c => (
                    "packed",
                    C::M(vec![
                        (C::T("alg"), C::N(auth.alg())),
                        (C::T("sig"), sig()),
                        (C::T("x5c"), C::A(vec![C::B(vec![0x30, 0x00])])),
                    ]),
                ),
                Attestation::Format(fmt) => (fmt, C::M(vec![(C::T("sig"), sig())])),
            };
            let object = C::M(vec![
                (C::T("fmt"), C::T(fmt)),
                (C::T("attStmt"), statement),
                (C::T("authData"), C::B(auth_data)),
            ]);
            (client_data, object.encode())
        }

        /// (clientDataJSON, authenticatorData, signature)
        fn sign(&self, auth: &Authenticator) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
            let client_data = self.client_data();
            let auth_data = self.auth_data(auth, false);
            let mut message = auth_data.clone();
            message.extend(sha256(&client_data));
            let sig = auth.sign(&message);
            (client_data, auth_data, sig)
        }
    }

    fn register(auth: &Authenticator, ceremony: &Ceremony) -> Result<NewPasskey, PasskeyError> {
        let (client_data, object) = ceremony.register(auth, Attestation::None);
        verify_registration(&policy(true), &CHALLENGE, &client_data, &object)
    }

    fn registered(auth: &Authenticator) -> NewPasskey {
        register(auth, &Ceremony::create()).unwrap()
    }

    fn sign_in_with(
        policy: &PasskeyPolicy,
        passkey: &NewPasskey,
        stored_count: u32,
        auth: &Authenticator,
        ceremony: &Ceremony,
        tamper: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>, &mut Vec<u8>),
    ) -> Result<u32, PasskeyError> {
        let (client_data, mut auth_data, mut sig) = ceremony.sign(auth);
        let mut credential_id = auth.credential_id.clone();
        tamper(&mut credential_id, &mut auth_data, &mut sig);
        verify_assertion(
            policy,
            &CHALLENGE,
            &StoredPasskey {
                credential_id: &passkey.credential_id,
                public_key: &passkey.public_key,
                sign_count: stored_count,
            },
            &Assertion {
                credential_id: &credential_id,
                client_data_json: &client_data,
                authenticator_data: &auth_data,
                signature: &sig,
            },
        )
    }

    fn sign_in(
        auth: &Authenticator,
        passkey: &NewPasskey,
        ceremony: &Ceremony,
    ) -> Result<u32, PasskeyError> {
        sign_in_with(
            &policy(true),
            passkey,
            passkey.sign_count,
            auth,
            ceremony,
            |_, _, _| {},
        )
    }

    fn all_authenticators() -> [Authenticator; 3] {
        [
            Authenticator::es256(),
            Authenticator::ed25519(),
            Authenticator::rs256(),
        ]
    }

    #[test]
    fn registration_and_sign_in_pass_for_every_algorithm() {
        for auth in all_authenticators() {
            let passkey = registered(&auth);
            assert_eq!(passkey.credential_id, auth.credential_id);
            assert_eq!(passkey.algorithm, auth.alg());
            assert_eq!(passkey.public_key, auth.cose_key().encode());
            assert_eq!(passkey.sign_count, 0);
            assert_eq!(passkey.aaguid, [0xaa; 16]);
            assert!(passkey.user_verified && !passkey.backup_eligible && !passkey.backed_up);
            assert_eq!(sign_in(&auth, &passkey, &Ceremony::get(0)), Ok(0));
            assert_eq!(sign_in(&auth, &passkey, &Ceremony::get(5)), Ok(5));
        }
    }

    #[test]
    fn rsa_components_with_a_sign_byte_are_accepted() {
        // Some encoders write the modulus as a signed integer, with a leading zero byte.
        let auth = Authenticator::rs256();
        let C::M(mut entries) = auth.cose_key() else {
            unreachable!()
        };
        for (label, value) in &mut entries {
            if let (C::N(-1), C::B(n)) = (label, value) {
                n.insert(0, 0);
            }
        }
        let ceremony = Ceremony {
            key: Some(C::M(entries)),
            ..Ceremony::create()
        };
        let passkey = register(&auth, &ceremony).unwrap();
        assert_eq!(sign_in(&auth, &passkey, &Ceremony::get(1)), Ok(1));
    }

    #[test]
    fn packed_self_attestation_is_verified() {
        for auth in all_authenticators() {
            let (client_data, object) = Ceremony::create().register(&auth, Attestation::PackedSelf);
            let passkey =
                verify_registration(&policy(true), &CHALLENGE, &client_data, &object).unwrap();
            assert_eq!(passkey.algorithm, auth.alg());

            // Signed by a different key than the one being registered.
            let other = Authenticator::es256();
            let mut ceremony = Ceremony::create();
            ceremony.key = Some(auth.cose_key());
            let (client_data, object) = ceremony.register(&other, Attestation::PackedSelf);
            let expected = if auth.alg() == COSE_ES256 {
                PasskeyError::BadAttestationSignature
            } else {
                PasskeyError::AttestationAlgorithmMismatch
            };
            assert_eq!(
                verify_registration(&policy(true), &CHALLENGE, &client_data, &object),
                Err(expected)
            );
        }
    }

    #[test]
    fn certificate_chains_and_other_formats_are_refused() {
        let auth = Authenticator::es256();
        let (client_data, object) = Ceremony::create().register(&auth, Attestation::PackedX5c);
        assert_eq!(
            verify_registration(&policy(true), &CHALLENGE, &client_data, &object),
            Err(PasskeyError::AttestationCertificateChain)
        );
        for fmt in ["tpm", "fido-u2f", "android-key", "apple", "None"] {
            let (client_data, object) =
                Ceremony::create().register(&auth, Attestation::Format(fmt));
            assert_eq!(
                verify_registration(&policy(true), &CHALLENGE, &client_data, &object),
                Err(PasskeyError::UnsupportedAttestationFormat),
                "{fmt}"
            );
        }
        // fmt none with a statement.
        let (client_data, _) = Ceremony::create().register(&auth, Attestation::None);
        let object = C::M(vec![
            (C::T("fmt"), C::T("none")),
            (C::T("attStmt"), C::M(vec![(C::T("sig"), C::B(vec![1]))])),
            (
                C::T("authData"),
                C::B(Ceremony::create().auth_data(&auth, true)),
            ),
        ]);
        assert_eq!(
            verify_registration(&policy(true), &CHALLENGE, &client_data, &object.encode()),
            Err(PasskeyError::AttestationStatementNotEmpty)
        );
        // An attestation object missing authData.
        let object = C::M(vec![
            (C::T("fmt"), C::T("none")),
            (C::T("attStmt"), C::M(vec![])),
        ]);
        assert_eq!(
            verify_registration(&policy(true), &CHALLENGE, &client_data, &object.encode()),
            Err(PasskeyError::AttestationObjectMalformed)
        );
    }

    #[test]
    fn client_data_tampering_is_refused_in_both_ceremonies() {
        let auth = Authenticator::es256();
        let passkey = registered(&auth);
        let cases: [(Tamper, PasskeyError); 6] = [
            (
                |c| c.challenge = vec![8; 32],
                PasskeyError::ChallengeMismatch,
            ),
            (
                |c| c.challenge = CHALLENGE[..31].to_vec(),
                PasskeyError::ChallengeMismatch,
            ),
            (
                |c| c.origin = "https://shop.example.evil",
                PasskeyError::OriginMismatch,
            ),
            (
                |c| c.origin = "http://shop.example",
                PasskeyError::OriginMismatch,
            ),
            (
                |c| c.extra_client_data = r#","crossOrigin":true"#,
                PasskeyError::CrossOrigin,
            ),
            (
                |c| c.extra_client_data = r#","tokenBinding":{"status":"present","id":"AA"}"#,
                PasskeyError::TokenBinding,
            ),
        ];
        for (tamper, expected) in cases {
            let mut create = Ceremony::create();
            tamper(&mut create);
            assert_eq!(register(&auth, &create), Err(expected));
            let mut get = Ceremony::get(1);
            tamper(&mut get);
            assert_eq!(sign_in(&auth, &passkey, &get), Err(expected));
        }
        // Each ceremony's type is refused in the other.
        let mut create = Ceremony::create();
        create.kind = "webauthn.get";
        assert_eq!(register(&auth, &create), Err(PasskeyError::WrongType));
        let mut get = Ceremony::get(1);
        get.kind = "webauthn.create";
        assert_eq!(sign_in(&auth, &passkey, &get), Err(PasskeyError::WrongType));
        // Members browsers add, and a missing crossOrigin, are fine.
        let mut get = Ceremony::get(1);
        get.extra_client_data =
            r#","other_keys_can_be_added_here":"x","tokenBinding":{"status":"supported"}"#;
        assert_eq!(sign_in(&auth, &passkey, &get), Ok(1));
    }

    #[test]
    fn malformed_client_data_is_refused() {
        let auth = Authenticator::es256();
        let (_, object) = Ceremony::create().register(&auth, Attestation::None);
        let cases: [(&[u8], PasskeyError); 6] = [
            (b"not json", PasskeyError::ClientDataNotJson),
            (b"{\"type\":\"webauthn.create\"", PasskeyError::ClientDataNotJson),
            (b"[]", PasskeyError::ClientDataMalformed),
            (br#"{"type":"webauthn.create","origin":"https://shop.example"}"#, PasskeyError::ClientDataMalformed),
            (
                br#"{"type":"webauthn.create","challenge":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc","challenge":"x","origin":"https://shop.example"}"#,
                PasskeyError::ClientDataMalformed,
            ),
            (
                br#"{"type":"webauthn.create","challenge":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc","origin":"https://shop.example","crossOrigin":"no"}"#,
                PasskeyError::ClientDataMalformed,
            ),
        ];
        for (client_data, expected) in cases {
            assert_eq!(
                verify_registration(&policy(true), &CHALLENGE, client_data, &object),
                Err(expected)
            );
        }
        // A challenge in standard base64 or with padding is not the one issued.
        let challenge = base64url_encode(&CHALLENGE);
        for presented in [
            format!("{challenge}="),
            challenge.replace('_', "/").replace('-', "+"),
        ] {
            let client_data = format!(
                r#"{{"type":"webauthn.create","challenge":"{presented}","origin":"{ORIGIN}"}}"#
            );
            assert_eq!(
                verify_registration(&policy(true), &CHALLENGE, client_data.as_bytes(), &object),
                Err(PasskeyError::ChallengeMismatch)
            );
        }
        // An expected challenge that is too short (an empty one would match an empty one sent).
        assert_eq!(
            verify_registration(
                &policy(true),
                &[],
                &Ceremony {
                    challenge: vec![],
                    ..Ceremony::create()
                }
                .client_data(),
                &object
            ),
            Err(PasskeyError::ChallengeTooShort)
        );
    }

    #[test]
    fn authenticator_data_tampering_is_refused_in_both_ceremonies() {
        let auth = Authenticator::ed25519();
        let passkey = registered(&auth);
        let cases: [(Tamper, PasskeyError); 6] = [
            (|c| c.rp_id = "evil.example", PasskeyError::RpIdMismatch),
            (|c| c.rp_id = "example", PasskeyError::RpIdMismatch),
            (|c| c.flags &= !FLAG_UP, PasskeyError::UserNotPresent),
            (|c| c.flags &= !FLAG_UV, PasskeyError::UserNotVerified),
            (
                |c| c.flags |= FLAG_BS,
                PasskeyError::BackupStateWithoutEligibility,
            ),
            (
                |c| c.trailing = vec![0],
                PasskeyError::AuthDataTrailingBytes,
            ),
        ];
        for (tamper, expected) in cases {
            let mut create = Ceremony::create();
            tamper(&mut create);
            assert_eq!(register(&auth, &create), Err(expected));
            let mut get = Ceremony::get(1);
            tamper(&mut get);
            assert_eq!(sign_in(&auth, &passkey, &get), Err(expected));
        }
    }

    #[test]
    fn user_verification_is_needed_only_when_the_policy_asks() {
        let auth = Authenticator::es256();
        let mut create = Ceremony::create();
        create.flags = FLAG_UP | FLAG_AT | FLAG_BE | FLAG_BS;
        let (client_data, object) = create.register(&auth, Attestation::None);
        assert_eq!(
            verify_registration(&policy(true), &CHALLENGE, &client_data, &object),
            Err(PasskeyError::UserNotVerified)
        );
        let passkey =
            verify_registration(&policy(false), &CHALLENGE, &client_data, &object).unwrap();
        assert!(!passkey.user_verified && passkey.backup_eligible && passkey.backed_up);

        let mut get = Ceremony::get(0);
        get.flags = FLAG_UP;
        assert_eq!(
            sign_in_with(&policy(false), &passkey, 0, &auth, &get, |_, _, _| {}),
            Ok(0)
        );
        assert_eq!(
            sign_in_with(&policy(true), &passkey, 0, &auth, &get, |_, _, _| {}),
            Err(PasskeyError::UserNotVerified)
        );
        // Presence is needed either way.
        get.flags = FLAG_UV;
        assert_eq!(
            sign_in_with(&policy(false), &passkey, 0, &auth, &get, |_, _, _| {}),
            Err(PasskeyError::UserNotPresent)
        );
    }

    #[test]
    fn extension_outputs_are_skipped_only_where_the_flag_says() {
        let auth = Authenticator::es256();
        let extensions = C::M(vec![(C::T("credProtect"), C::U(2))]).encode();
        let passkey = registered(&auth);
        for attested in [true, false] {
            let ceremony = |flags: u8, extensions: Option<Vec<u8>>| Ceremony {
                flags: if attested { flags | FLAG_AT } else { flags },
                extensions,
                ..if attested {
                    Ceremony::create()
                } else {
                    Ceremony::get(1)
                }
            };
            let check = |c: &Ceremony| {
                if attested {
                    register(&auth, c).map(|_| ())
                } else {
                    sign_in(&auth, &passkey, c).map(|_| ())
                }
            };
            let both = FLAG_UP | FLAG_UV;
            assert_eq!(
                check(&ceremony(both | FLAG_ED, Some(extensions.clone()))),
                Ok(())
            );
            assert_eq!(
                check(&ceremony(both, Some(extensions.clone()))),
                Err(PasskeyError::AuthDataTrailingBytes)
            );
            assert_eq!(
                check(&ceremony(both | FLAG_ED, None)),
                Err(PasskeyError::ExtensionsCbor(CborError::Truncated))
            );
            assert_eq!(
                check(&ceremony(both | FLAG_ED, Some(C::A(vec![]).encode()))),
                Err(PasskeyError::ExtensionsNotMap)
            );
            let mut with_trailing = extensions.clone();
            with_trailing.push(0);
            assert_eq!(
                check(&ceremony(both | FLAG_ED, Some(with_trailing))),
                Err(PasskeyError::AuthDataTrailingBytes)
            );
        }
    }

    #[test]
    fn signature_credential_and_counter_tampering_is_refused() {
        for auth in all_authenticators() {
            let passkey = registered(&auth);
            let get = Ceremony::get(10);
            let p = policy(true);
            let flipped = sign_in_with(&p, &passkey, 0, &auth, &get, |_, _, sig| {
                let last = sig.len() - 1;
                sig[last] ^= 0x01;
            });
            assert_eq!(flipped, Err(PasskeyError::BadSignature));
            let flipped_data = sign_in_with(&p, &passkey, 0, &auth, &get, |_, data, _| {
                data[33] ^= 0x02; // the counter, covered by the signature
            });
            assert_eq!(flipped_data, Err(PasskeyError::BadSignature));
            let other_id = sign_in_with(&p, &passkey, 0, &auth, &get, |id, _, _| id[0] ^= 1);
            assert_eq!(other_id, Err(PasskeyError::CredentialIdMismatch));
            let shorter_id = sign_in_with(&p, &passkey, 0, &auth, &get, |id, _, _| {
                id.pop();
            });
            assert_eq!(shorter_id, Err(PasskeyError::CredentialIdMismatch));

            // The counter: forward is stored, standing still or going back is refused.
            assert_eq!(
                sign_in_with(&p, &passkey, 9, &auth, &get, |_, _, _| {}),
                Ok(10)
            );
            for stored in [10, 11, u32::MAX] {
                assert_eq!(
                    sign_in_with(&p, &passkey, stored, &auth, &get, |_, _, _| {}),
                    Err(PasskeyError::CounterNotIncreased {
                        stored,
                        received: 10
                    })
                );
            }
            // Authenticators without a counter send zero, which proves nothing either way.
            let zero = Ceremony::get(0);
            assert_eq!(
                sign_in_with(&p, &passkey, 0, &auth, &zero, |_, _, _| {}),
                Ok(0)
            );
            assert_eq!(
                sign_in_with(&p, &passkey, 7, &auth, &zero, |_, _, _| {}),
                Err(PasskeyError::CounterNotIncreased {
                    stored: 7,
                    received: 0
                })
            );
        }
    }

    #[test]
    fn a_key_from_another_credential_does_not_verify() {
        let auth = Authenticator::es256();
        let other = Authenticator::es256();
        let mut passkey = registered(&auth);
        passkey.public_key = registered(&other).public_key;
        assert_eq!(
            sign_in(&auth, &passkey, &Ceremony::get(1)),
            Err(PasskeyError::BadSignature)
        );
        passkey.public_key = vec![0xa0];
        assert_eq!(
            sign_in(&auth, &passkey, &Ceremony::get(1)),
            Err(PasskeyError::StoredKeyInvalid)
        );
    }

    #[test]
    fn assertions_must_not_carry_a_new_credential() {
        let auth = Authenticator::es256();
        let passkey = registered(&auth);
        let get = Ceremony::get(1);
        let (client_data, _, _) = get.sign(&auth);
        let with_at = Ceremony {
            flags: get.flags | FLAG_AT,
            ..Ceremony::get(1)
        }
        .auth_data(&auth, true);
        let mut message = with_at.clone();
        message.extend(sha256(&client_data));
        let sig = auth.sign(&message);
        let result = verify_assertion(
            &policy(true),
            &CHALLENGE,
            &StoredPasskey {
                credential_id: &passkey.credential_id,
                public_key: &passkey.public_key,
                sign_count: 0,
            },
            &Assertion {
                credential_id: &auth.credential_id,
                client_data_json: &client_data,
                authenticator_data: &with_at,
                signature: &sig,
            },
        );
        assert_eq!(result, Err(PasskeyError::UnexpectedAttestedCredential));
    }

    #[test]
    fn registration_without_credential_data_is_refused() {
        let auth = Authenticator::es256();
        let client_data = Ceremony::create().client_data();
        let auth_data = Ceremony {
            flags: FLAG_UP | FLAG_UV,
            ..Ceremony::create()
        }
        .auth_data(&auth, false);
        let object = C::M(vec![
            (C::T("fmt"), C::T("none")),
            (C::T("attStmt"), C::M(vec![])),
            (C::T("authData"), C::B(auth_data.clone())),
        ]);
        assert_eq!(
            verify_registration(&policy(true), &CHALLENGE, &client_data, &object.encode()),
            Err(PasskeyError::NoAttestedCredential)
        );
        // Truncated authenticator data, at every length.
        let full = Ceremony::create().auth_data(&auth, true);
        for len in 0..full.len() {
            let object = C::M(vec![
                (C::T("fmt"), C::T("none")),
                (C::T("attStmt"), C::M(vec![])),
                (C::T("authData"), C::B(full[..len].to_vec())),
            ]);
            let result =
                verify_registration(&policy(true), &CHALLENGE, &client_data, &object.encode());
            assert!(
                matches!(
                    result,
                    Err(PasskeyError::AuthDataTruncated
                        | PasskeyError::CredentialKeyCbor(CborError::Truncated))
                ),
                "{len}: {result:?}"
            );
        }
    }

    #[test]
    fn long_credential_ids_are_refused() {
        let mut auth = Authenticator::es256();
        auth.credential_id = vec![1; MAX_CREDENTIAL_ID_LEN];
        assert!(register(&auth, &Ceremony::create()).is_ok());
        auth.credential_id = vec![1; MAX_CREDENTIAL_ID_LEN + 1];
        assert_eq!(
            register(&auth, &Ceremony::create()),
            Err(PasskeyError::CredentialIdTooLong)
        );
    }

    #[test]
    fn only_the_three_key_forms_are_accepted() {
        let auth = Authenticator::es256();
        let C::M(good) = auth.cose_key() else {
            unreachable!()
        };
        let with = |label: i64, value: C| {
            let mut entries: Vec<(C, C)> = good
                .iter()
                .filter(|(k, _)| {
                    !matches!(k, C::U(n) if *n as i64 == label)
                        && !matches!(k, C::N(n) if *n == label)
                })
                .cloned()
                .collect();
            entries.push((C::N(label), value));
            Ceremony {
                key: Some(C::M(entries)),
                ..Ceremony::create()
            }
        };
        let cases = [
            (with(3, C::N(-35)), PasskeyError::UnsupportedAlgorithm), // ES384
            (with(3, C::N(-37)), PasskeyError::UnsupportedAlgorithm), // PS256
            (with(3, C::N(-65535)), PasskeyError::UnsupportedAlgorithm), // RS1
            (with(3, C::U(0)), PasskeyError::UnsupportedAlgorithm),
            (with(3, C::T("ES256")), PasskeyError::KeyMalformed),
            (with(-1, C::U(2)), PasskeyError::UnsupportedAlgorithm), // P-384 curve
            (with(1, C::U(1)), PasskeyError::KeyMalformed),          // OKP key type with ES256
            (with(-2, C::B(vec![1; 31])), PasskeyError::KeyMalformed),
            (with(-3, C::B(vec![1; 33])), PasskeyError::KeyMalformed),
            (with(-3, C::U(1)), PasskeyError::KeyMalformed), // compressed point sign bit
        ];
        for (ceremony, expected) in cases {
            assert_eq!(register(&auth, &ceremony), Err(expected));
        }
        // A key without alg.
        let no_alg = C::M(
            good.iter()
                .filter(|(k, _)| !matches!(k, C::U(3)))
                .cloned()
                .collect(),
        );
        assert_eq!(
            register(
                &auth,
                &Ceremony {
                    key: Some(no_alg),
                    ..Ceremony::create()
                }
            ),
            Err(PasskeyError::KeyMalformed)
        );
        // Ed448 under EdDSA.
        let ed448 = C::M(vec![
            (C::U(1), C::U(1)),
            (C::U(3), C::N(-8)),
            (C::N(-1), C::U(7)),
            (C::N(-2), C::B(vec![1; 57])),
        ]);
        assert_eq!(
            register(
                &auth,
                &Ceremony {
                    key: Some(ed448),
                    ..Ceremony::create()
                }
            ),
            Err(PasskeyError::UnsupportedAlgorithm)
        );
        // An RSA modulus below 2048 bits.
        let small_rsa = C::M(vec![
            (C::U(1), C::U(3)),
            (C::U(3), C::N(-257)),
            (C::N(-1), C::B([vec![0; 4], vec![0xc1; 255]].concat())),
            (C::N(-2), C::B(vec![1, 0, 1])),
        ]);
        assert_eq!(
            register(
                &auth,
                &Ceremony {
                    key: Some(small_rsa),
                    ..Ceremony::create()
                }
            ),
            Err(PasskeyError::KeyMalformed)
        );
        // The key must be a map, and must be CBOR.
        assert_eq!(
            register(
                &auth,
                &Ceremony {
                    key: Some(C::A(vec![])),
                    ..Ceremony::create()
                }
            ),
            Err(PasskeyError::KeyMalformed)
        );
    }

    #[test]
    fn hostile_cbor_is_refused_without_panic_or_allocation() {
        let auth = Authenticator::es256();
        let client_data = Ceremony::create().client_data();
        let check = |object: &[u8], expected: PasskeyError| {
            assert_eq!(
                verify_registration(&policy(true), &CHALLENGE, &client_data, object),
                Err(expected)
            );
        };
        // Lengths of 2^64 - 1 for a byte string, text, array and map.
        for major in [0x5b_u8, 0x7b, 0x9b, 0xbb] {
            let mut object = vec![0xa3, 0x63, b'f', b'm', b't', major];
            object.extend([0xff; 8]);
            check(
                &object,
                PasskeyError::AttestationObjectCbor(CborError::Truncated),
            );
        }
        // A map claiming 2^32 entries.
        check(
            &[0xba, 0xff, 0xff, 0xff, 0xff, 0x00],
            PasskeyError::AttestationObjectCbor(CborError::Truncated),
        );
        // Deep nesting inside attStmt.
        let mut deep = C::M(vec![]);
        for _ in 0..64 {
            deep = C::A(vec![deep]);
        }
        let object = C::M(vec![
            (C::T("fmt"), C::T("none")),
            (C::T("attStmt"), deep),
            (
                C::T("authData"),
                C::B(Ceremony::create().auth_data(&auth, true)),
            ),
        ]);
        check(
            &object.encode(),
            PasskeyError::AttestationObjectCbor(CborError::TooDeep),
        );
        // Indefinite lengths and duplicate members.
        check(
            &[0xbf, 0xff],
            PasskeyError::AttestationObjectCbor(CborError::IndefiniteLength),
        );
        let (_, good) = Ceremony::create().register(&auth, Attestation::None);
        let mut duplicated = good.clone();
        duplicated[0] += 1;
        duplicated.extend(C::T("fmt").encode());
        duplicated.extend(C::T("packed").encode());
        check(
            &duplicated,
            PasskeyError::AttestationObjectCbor(CborError::DuplicateKey),
        );
        let mut trailing = good.clone();
        trailing.push(0);
        check(
            &trailing,
            PasskeyError::AttestationObjectCbor(CborError::TrailingBytes),
        );

        // A COSE key whose x claims an absurd length.
        let mut auth_data = Ceremony::create().auth_data(&auth, false);
        auth_data[32] |= FLAG_AT;
        auth_data.extend([0; 16]);
        auth_data.extend([0, 1, 9]);
        auth_data.extend([0xa1, 0x21, 0x5b]);
        auth_data.extend([0xff; 8]);
        let object = C::M(vec![
            (C::T("fmt"), C::T("none")),
            (C::T("attStmt"), C::M(vec![])),
            (C::T("authData"), C::B(auth_data)),
        ]);
        check(
            &object.encode(),
            PasskeyError::CredentialKeyCbor(CborError::Truncated),
        );
    }

    #[test]
    fn base64url_is_unpadded_and_strict() {
        assert_eq!(base64url_encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64url_decode("-_8"), Some(vec![0xfb, 0xff]));
        assert_eq!(base64url_decode("-_8="), None);
        assert_eq!(base64url_decode("+/8"), None);
        assert_eq!(base64url_decode("-_9"), None); // non-zero trailing bits
        let challenge = new_challenge().unwrap();
        assert_ne!(challenge, new_challenge().unwrap());
        assert_eq!(
            base64url_decode(&base64url_encode(&challenge)),
            Some(challenge.to_vec())
        );
    }

    #[test]
    fn errors_read_as_plain_english() {
        let message = PasskeyError::CounterNotIncreased {
            stored: 5,
            received: 3,
        }
        .to_string();
        assert!(message.contains("from 5 to 3"), "{message}");
        assert!(
            PasskeyError::AttestationObjectCbor(CborError::TooDeep)
                .to_string()
                .contains("more than 8 deep")
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn random_input_never_panics(
            a in proptest::collection::vec(any::<u8>(), 0..300),
            b in proptest::collection::vec(any::<u8>(), 0..300),
            c in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let _ = cbor::decode(&a);
            let _ = verify_registration(&policy(false), &CHALLENGE, &a, &b);
            let _ = verify_registration(&policy(false), &CHALLENGE, &Ceremony::create().client_data(), &b);
            let stored = StoredPasskey { credential_id: &c, public_key: &b, sign_count: 0 };
            let _ = verify_assertion(&policy(false), &CHALLENGE, &stored, &Assertion {
                credential_id: &c,
                client_data_json: &a,
                authenticator_data: &b,
                signature: &c,
            });
        }

        #[test]
        fn mutated_ceremonies_never_panic_and_never_pass(
            position in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            cut in any::<bool>(),
        ) {
            let auth = Authenticator::ed25519();
            let (client_data, mut object) = Ceremony::create().register(&auth, Attestation::PackedSelf);
            let at = position.index(object.len());
            if cut {
                object.truncate(at);
            } else {
                prop_assume!(object[at] != byte);
                object[at] = byte;
            }
            // Every byte is either CBOR framing the verifier reads strictly or covered by the
            // attestation signature, so no change can pass.
            let result = verify_registration(&policy(false), &CHALLENGE, &client_data, &object);
            prop_assert!(result.is_err(), "{:?}", result);

            let passkey = registered(&auth);
            let (client_data, mut auth_data, sig) = Ceremony::get(1).sign(&auth);
            let at = position.index(auth_data.len());
            if cut {
                auth_data.truncate(at);
            } else {
                prop_assume!(auth_data[at] != byte);
                auth_data[at] = byte;
            }
            let result = verify_assertion(&policy(false), &CHALLENGE, &StoredPasskey {
                credential_id: &passkey.credential_id,
                public_key: &passkey.public_key,
                sign_count: 0,
            }, &Assertion {
                credential_id: &auth.credential_id,
                client_data_json: &client_data,
                authenticator_data: &auth_data,
                signature: &sig,
            });
            prop_assert!(result.is_err());
        }
    }
}

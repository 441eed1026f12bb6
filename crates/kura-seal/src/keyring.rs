//! The key ring: purpose keys derived from every master key, ready for use.
//!
//! HKDF-SHA256 (RFC 5869) derives one key per purpose from each master key, so the sealing key,
//! each column's blind-index key, the CSRF key and the order-link key are independent even
//! though one secret backs them. New values use the active key; values under any held key still
//! open.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::RwLock;

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::SealError;
use crate::blind::{BlindIndex, Normalize, normalise};
use crate::envelope::{
    Column, DATA_VERSION, HEADER_LEN, NONCE_LEN, OVERHEAD, Sealed, TAG_LEN, VERSION,
    VERSION_UNPADDED, parse_header,
};
use crate::keys::{KeyError, KeyId, KeyMaterial};
use crate::padding::{pad_into, unpadded_len};
use crate::token::{SessionToken, constant_time_eq, random_bytes};

type HmacSha256 = Hmac<Sha256>;

/// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha): HChaCha20 turns the key and the first 16
/// nonce bytes into a subkey, then ChaCha20-Poly1305 (RFC 8439, here ring's implementation)
/// runs under that subkey with the nonce `0000 || nonce[16..24]`. Byte for byte the same as
/// RustCrypto's `XChaCha20Poly1305` (a test checks), about five times faster on short fields.
fn xchacha_key(key: &[u8; 32], nonce: &[u8]) -> Result<(LessSafeKey, Nonce), SealError> {
    let (head, tail) = nonce.split_at_checked(16).ok_or(SealError::Malformed)?;
    let head: [u8; 16] = head.try_into().map_err(|_| SealError::Malformed)?;
    let mut sub = Zeroizing::new([0u8; 32]);
    let derived = chacha20::hchacha::<chacha20::R20>(&(*key).into(), &head.into());
    sub.copy_from_slice(derived.as_slice());
    let unbound =
        UnboundKey::new(&CHACHA20_POLY1305, sub.as_slice()).map_err(|_| SealError::Encrypt)?;
    let mut short = [0u8; 12];
    short
        .get_mut(4..)
        .ok_or(SealError::Malformed)?
        .copy_from_slice(tail);
    Ok((
        LessSafeKey::new(unbound),
        Nonce::assume_unique_for_key(short),
    ))
}

/// Nonces: 16 random bytes drawn once per process, then a 64-bit counter. XChaCha20's 192-bit
/// nonce leaves room for this: two processes collide only if their random prefixes do
/// (2^-64 for 2^32 processes), and within a process the counter never repeats. It avoids a
/// system call per sealed field.
fn next_nonce() -> Result<[u8; NONCE_LEN], SealError> {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<Option<[u8; 16]>> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX
        .get_or_init(|| {
            let mut p = [0u8; 16];
            getrandom::fill(&mut p).ok().map(|()| p)
        })
        .ok_or(SealError::Random)?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut nonce = [0u8; NONCE_LEN];
    let (head, tail) = nonce.split_at_mut(16);
    head.copy_from_slice(&prefix);
    tail.copy_from_slice(&n.to_be_bytes());
    Ok(nonce)
}

/// Where wrapped data keys live; fixed width, so every wrapped key has one length.
pub const DATA_KEY_COLUMN: Column = Column::fixed("data_keys", "wrapped", 48);

/// Seals under a 32-byte key with the given envelope header (version and key-id field).
fn seal_under(
    seal_key: &[u8; 32],
    version: u8,
    key_field: u32,
    column: Column,
    row_id: i64,
    plaintext: &[u8],
) -> Result<Sealed, SealError> {
    let padded = column.padding().padded_len(plaintext.len());
    let mut out = Vec::with_capacity(OVERHEAD + padded);
    out.push(version);
    out.extend_from_slice(&key_field.to_be_bytes());
    out.resize(OVERHEAD + padded, 0);
    let (header, rest) = out.split_at_mut(HEADER_LEN);
    let (nonce, rest) = rest.split_at_mut(NONCE_LEN);
    nonce.copy_from_slice(&next_nonce()?);
    let (body, tag_out) = rest.split_at_mut(padded);
    pad_into(plaintext, body)?;
    let aad = column.associated_data(header, row_id);
    let (key, nonce) = xchacha_key(seal_key, nonce)?;
    let tag = key
        .seal_in_place_separate_tag(nonce, Aad::from(&aad), body)
        .map_err(|_| SealError::Encrypt)?;
    tag_out.copy_from_slice(tag.as_ref());
    Ok(Sealed::from_envelope(out))
}

/// Opens an envelope under a 32-byte key and removes its padding.
fn open_under(
    seal_key: &[u8; 32],
    column: Column,
    row_id: i64,
    sealed: &Sealed,
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let bytes = sealed.as_bytes();
    let (version, _) = parse_header(bytes)?;
    let header = bytes.get(..HEADER_LEN).ok_or(SealError::Malformed)?;
    let nonce = bytes
        .get(HEADER_LEN..HEADER_LEN + NONCE_LEN)
        .ok_or(SealError::Malformed)?;
    let body_end = bytes
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(SealError::Malformed)?;
    let body = bytes
        .get(HEADER_LEN + NONCE_LEN..body_end)
        .ok_or(SealError::Malformed)?;
    let tag = bytes.get(body_end..).ok_or(SealError::Malformed)?;
    let aad = column.associated_data(header, row_id);
    let (key, nonce) = xchacha_key(seal_key, nonce)?;
    let mut buf = Zeroizing::new(Vec::with_capacity(body.len() + TAG_LEN));
    buf.extend_from_slice(body);
    buf.extend_from_slice(tag);
    let len = key
        .open_in_place(nonce, Aad::from(&aad), buf.as_mut_slice())
        .map_err(|_| SealError::NotAuthentic)?
        .len();
    buf.truncate(len);
    if version != VERSION_UNPADDED {
        let value_len = unpadded_len(&buf)?;
        buf.truncate(value_len);
    }
    Ok(buf)
}

/// Moves opened bytes into a wiped string (the only copy of the text is the one wiped on drop).
fn into_text(mut plain: Zeroizing<Vec<u8>>) -> Result<Zeroizing<String>, SealError> {
    match String::from_utf8(std::mem::take(&mut *plain)) {
        Ok(text) => Ok(Zeroizing::new(text)),
        Err(e) => {
            drop(Zeroizing::new(e.into_bytes()));
            Err(SealError::NotText)
        }
    }
}

/// One person's data key: their personal fields (and their orders', mails', saved addresses')
/// are sealed under it, and it is kept only wrapped by the master key ring
/// ([`KeyRing::wrap_data_key`]). Destroying the wrapped key erases the person: every copy of
/// their sealed values, in any table, backup page or replica, can no longer be opened.
pub struct DataKey {
    secret: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, SealError> {
        let mut secret = Zeroizing::new([0u8; 32]);
        getrandom::fill(secret.as_mut_slice()).map_err(|_| SealError::Random)?;
        Ok(Self { secret })
    }

    /// Seals `plaintext` for `column` of row `row_id` under this key, padded as the column says.
    pub fn seal(&self, column: Column, row_id: i64, plaintext: &[u8]) -> Result<Sealed, SealError> {
        seal_under(&self.secret, DATA_VERSION, 0, column, row_id, plaintext)
    }

    pub fn seal_str(&self, column: Column, row_id: i64, text: &str) -> Result<Sealed, SealError> {
        self.seal(column, row_id, text.as_bytes())
    }

    /// Opens a value sealed under this key.
    pub fn open(
        &self,
        column: Column,
        row_id: i64,
        sealed: &Sealed,
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if !sealed.under_data_key() {
            return Err(SealError::NotAuthentic);
        }
        open_under(&self.secret, column, row_id, sealed)
    }

    pub fn open_string(
        &self,
        column: Column,
        row_id: i64,
        sealed: &Sealed,
    ) -> Result<Zeroizing<String>, SealError> {
        into_text(self.open(column, row_id, sealed)?)
    }
}

const SALT: &[u8] = b"kura key ring v1";

/// The purpose keys of one master key. The byte keys are in wiped buffers; `hkdf` and `csrf`
/// (and the per-column MACs cached from `hkdf`) hold keyed SHA-256 states, which wipe themselves
/// on drop through the `zeroize` features of `sha2` and `hmac` (hmac 0.13 and hkdf 0.13 do not
/// implement `Zeroize` themselves; their inner SHA-256 cores do).
struct DerivedKeys {
    seal_key: Zeroizing<[u8; 32]>,
    hkdf: Hkdf<Sha256>,
    csrf: HmacSha256,
    order_link: HmacSha256,
}

impl DerivedKeys {
    fn derive(master: &[u8; 32]) -> Result<Self, SealError> {
        let hkdf = Hkdf::<Sha256>::new(Some(SALT), master);
        let mut seal_key = Zeroizing::new([0u8; 32]);
        hkdf.expand(b"kura/seal/xchacha20poly1305", seal_key.as_mut_slice())
            .map_err(|_| SealError::Encrypt)?;
        let mut csrf_key = Zeroizing::new([0u8; 32]);
        hkdf.expand(b"kura/csrf/hmac-sha256", csrf_key.as_mut_slice())
            .map_err(|_| SealError::Encrypt)?;
        let csrf = <HmacSha256 as KeyInit>::new_from_slice(csrf_key.as_slice())
            .map_err(|_| SealError::Encrypt)?;
        let mut link_key = Zeroizing::new([0u8; 32]);
        hkdf.expand(b"kura/order-link/hmac-sha256", link_key.as_mut_slice())
            .map_err(|_| SealError::Encrypt)?;
        let order_link = <HmacSha256 as KeyInit>::new_from_slice(link_key.as_slice())
            .map_err(|_| SealError::Encrypt)?;
        Ok(Self {
            seal_key,
            hkdf,
            csrf,
            order_link,
        })
    }

    fn blind_mac(&self, column: Column) -> Result<HmacSha256, SealError> {
        let mut key = Zeroizing::new([0u8; 32]);
        let info = format!("kura/blind-index/{}/{}", column.table, column.column);
        self.hkdf
            .expand(info.as_bytes(), key.as_mut_slice())
            .map_err(|_| SealError::Encrypt)?;
        <HmacSha256 as KeyInit>::new_from_slice(key.as_slice()).map_err(|_| SealError::Encrypt)
    }
}

/// Every purpose key of a shop, derived from its master keys.
pub struct KeyRing {
    active: KeyId,
    keys: BTreeMap<KeyId, DerivedKeys>,
    blind_cache: RwLock<HashMap<(KeyId, Column), HmacSha256>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("active", &self.active)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    pub fn from_material(material: &KeyMaterial) -> Result<Self, KeyError> {
        let mut keys = BTreeMap::new();
        for info in &material.keys {
            let secret = info.secret_bytes().map_err(|reason| KeyError::Invalid {
                path: Default::default(),
                reason,
            })?;
            let derived = DerivedKeys::derive(&secret).map_err(|_| KeyError::Invalid {
                path: Default::default(),
                reason: "key derivation failed".into(),
            })?;
            keys.insert(info.id, derived);
        }
        if !keys.contains_key(&material.active) {
            return Err(KeyError::NoSuchKey(material.active));
        }
        Ok(Self {
            active: material.active,
            keys,
            blind_cache: RwLock::new(HashMap::new()),
        })
    }

    /// A ring with one random key, for tests and benchmarks.
    pub fn ephemeral() -> Result<Self, KeyError> {
        Self::from_material(&KeyMaterial::generate()?)
    }

    pub fn active_key_id(&self) -> KeyId {
        self.active
    }

    pub fn key_ids(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.keys.keys().copied()
    }

    pub fn holds(&self, id: KeyId) -> bool {
        self.keys.contains_key(&id)
    }

    /// Seals `plaintext` for `column` of row `row_id` under the active key, padded as the
    /// column says (see [`crate::Padding`]): there is no way to seal a value unpadded.
    pub fn seal(&self, column: Column, row_id: i64, plaintext: &[u8]) -> Result<Sealed, SealError> {
        let keys = self
            .keys
            .get(&self.active)
            .ok_or(SealError::UnknownKey(self.active.0))?;
        seal_under(
            &keys.seal_key,
            VERSION,
            self.active.0,
            column,
            row_id,
            plaintext,
        )
    }

    pub fn seal_str(&self, column: Column, row_id: i64, text: &str) -> Result<Sealed, SealError> {
        self.seal(column, row_id, text.as_bytes())
    }

    /// Opens a sealed value of `column` of row `row_id`, under whichever held key made it, and
    /// removes its padding (envelopes of version 1, sealed before padding, have none). The
    /// value is wiped from memory when the returned buffer drops.
    pub fn open(
        &self,
        column: Column,
        row_id: i64,
        sealed: &Sealed,
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let key_id = sealed.key_id()?;
        let keys = self
            .keys
            .get(&KeyId(key_id))
            .ok_or(SealError::UnknownKey(key_id))?;
        open_under(&keys.seal_key, column, row_id, sealed)
    }

    /// Opens a sealed text. The string is wiped from memory when it drops.
    pub fn open_string(
        &self,
        column: Column,
        row_id: i64,
        sealed: &Sealed,
    ) -> Result<Zeroizing<String>, SealError> {
        into_text(self.open(column, row_id, sealed)?)
    }

    /// Wraps a person's data key under the active master key, for the `data_keys` row `id`.
    /// Key rotation re-wraps it like any sealed value; erasure deletes it.
    pub fn wrap_data_key(&self, id: i64, key: &DataKey) -> Result<Sealed, SealError> {
        self.seal(DATA_KEY_COLUMN, id, key.secret.as_slice())
    }

    /// The data key of `data_keys` row `id`, from its wrapped form.
    pub fn unwrap_data_key(&self, id: i64, wrapped: &Sealed) -> Result<DataKey, SealError> {
        let plain = self.open(DATA_KEY_COLUMN, id, wrapped)?;
        let mut secret = Zeroizing::new([0u8; 32]);
        if plain.len() != secret.len() {
            return Err(SealError::Malformed);
        }
        secret.copy_from_slice(&plain);
        Ok(DataKey { secret })
    }

    fn blind_with(
        &self,
        id: KeyId,
        column: Column,
        value: &str,
        how: Normalize,
    ) -> Result<BlindIndex, SealError> {
        let normalised = Zeroizing::new(normalise(value, how));
        let cached = self
            .blind_cache
            .read()
            .ok()
            .and_then(|c| c.get(&(id, column)).cloned());
        let mut mac = match cached {
            Some(mac) => mac,
            None => {
                let keys = self.keys.get(&id).ok_or(SealError::UnknownKey(id.0))?;
                let mac = keys.blind_mac(column)?;
                if let Ok(mut cache) = self.blind_cache.write() {
                    cache.insert((id, column), mac.clone());
                }
                mac
            }
        };
        mac.update(normalised.as_bytes());
        Ok(BlindIndex::new(id, &mac.finalize().into_bytes()))
    }

    /// The blind index of `value` for `column` under the active key, for storing.
    pub fn blind_index(
        &self,
        column: Column,
        value: &str,
        how: Normalize,
    ) -> Result<BlindIndex, SealError> {
        self.blind_with(self.active, column, value, how)
    }

    /// The blind index of `value` under every held key, for lookups while a rotation runs.
    pub fn blind_indexes(
        &self,
        column: Column,
        value: &str,
        how: Normalize,
    ) -> Result<Vec<BlindIndex>, SealError> {
        self.keys
            .keys()
            .map(|id| self.blind_with(*id, column, value, how))
            .collect()
    }

    /// A blind index under the active key that matches no value: what an erased person's
    /// rows keep in place of their email and phone indexes.
    pub fn tombstone_index(&self) -> Result<BlindIndex, SealError> {
        let mut filler = [0u8; 32];
        getrandom::fill(&mut filler).map_err(|_| SealError::Random)?;
        Ok(BlindIndex::new(self.active, &filler))
    }

    /// A CSRF token bound to a session secret, under the active key.
    pub fn csrf_token(&self, session_secret: &[u8]) -> String {
        self.csrf_with(self.active, session_secret)
            .unwrap_or_default()
    }

    fn csrf_with(&self, id: KeyId, session_secret: &[u8]) -> Option<String> {
        let keys = self.keys.get(&id)?;
        let mut mac = keys.csrf.clone();
        mac.update(session_secret);
        let tag = mac.finalize().into_bytes();
        Some(format!("{}.{}", id.0, hex::encode(tag.as_slice())))
    }

    /// Checks a CSRF token in constant time against the session secret.
    pub fn verify_csrf(&self, session_secret: &[u8], token: &str) -> bool {
        let Some((id, _)) = token.split_once('.') else {
            return false;
        };
        let Ok(id) = id.parse::<u32>() else {
            return false;
        };
        let Some(expected) = self.csrf_with(KeyId(id), session_secret) else {
            return false;
        };
        expected.len() == token.len() && bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
    }

    /// The check value of master key `id`: an HMAC of a fixed label under a key derived for
    /// this purpose alone. The database records it, so that a start with a missing, foreign or
    /// outdated key file is refused; it tells nothing about the key itself.
    pub fn check_value(&self, id: KeyId) -> Option<[u8; 32]> {
        let keys = self.keys.get(&id)?;
        let mut key = Zeroizing::new([0u8; 32]);
        keys.hkdf
            .expand(b"kura/key-check", key.as_mut_slice())
            .ok()?;
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key.as_slice()).ok()?;
        mac.update(b"kura master key check v1");
        Some(mac.finalize().into_bytes().into())
    }
}

/// The prefix of an order link token; its letter also keeps the token from ever reading as a
/// typed card number to the card guard.
const ORDER_LINK_PREFIX: &str = "o";

impl KeyRing {
    /// A token for a mailed order link: the order id and the expiry (unix seconds), with an
    /// HMAC-SHA256 under the active key's order-link key. It can be checked without the
    /// database ([`KeyRing::verify_order_link`]). Form: `o<key id>-<hex: id ‖ expiry ‖ tag>`.
    pub fn order_link_token(&self, order_id: i64, expires_at: i64) -> Result<String, SealError> {
        let keys = self.keys.get(&self.active).ok_or(SealError::Encrypt)?;
        let payload = link_payload(order_id, expires_at);
        let mut mac = keys.order_link.clone();
        mac.update(&payload);
        let tag = mac.finalize().into_bytes();
        Ok(format!(
            "{ORDER_LINK_PREFIX}{}-{}{}",
            self.active.0,
            hex::encode(payload),
            hex::encode(tag.as_slice())
        ))
    }

    /// The order id of a genuine, unexpired order link token (tag compared in constant time),
    /// or `None`: forged, altered, expired, malformed, or under a key this ring no longer holds.
    pub fn verify_order_link(&self, token: &str, now: i64) -> Option<i64> {
        let (id, rest) = token.strip_prefix(ORDER_LINK_PREFIX)?.split_once('-')?;
        let keys = self.keys.get(&KeyId(id.parse().ok()?))?;
        let bytes = hex::decode(rest).ok()?;
        let (payload, tag) = bytes.split_at_checked(16)?;
        let mut mac = keys.order_link.clone();
        mac.update(payload);
        let expected = mac.finalize().into_bytes();
        if tag.len() != expected.len() || !bool::from(expected.as_slice().ct_eq(tag)) {
            return None;
        }
        let order_id = i64::from_be_bytes(payload.get(..8)?.try_into().ok()?);
        let expires_at = i64::from_be_bytes(payload.get(8..)?.try_into().ok()?);
        (now < expires_at).then_some(order_id)
    }
}

fn link_payload(order_id: i64, expires_at: i64) -> [u8; 16] {
    let mut payload = [0u8; 16];
    let (id, exp) = payload.split_at_mut(8);
    id.copy_from_slice(&order_id.to_be_bytes());
    exp.copy_from_slice(&expires_at.to_be_bytes());
    payload
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn data_keys_seal_open_wrap_and_stay_apart() {
        let ring = KeyRing::ephemeral().unwrap();
        let mine = DataKey::generate().unwrap();
        let other = DataKey::generate().unwrap();
        let sealed = mine.seal_str(NAME, 7, "山田").unwrap();
        assert!(sealed.under_data_key());
        assert_eq!(sealed.key_id(), Err(SealError::UnderDataKey));
        assert_eq!(mine.open_string(NAME, 7, &sealed).unwrap().as_str(), "山田");
        // Another person's key, another row, or the master ring: nothing opens.
        assert!(other.open(NAME, 7, &sealed).is_err());
        assert!(mine.open(NAME, 8, &sealed).is_err());
        assert!(ring.open(NAME, 7, &sealed).is_err());
        // A master-sealed value is not taken for a data-key one.
        let master = ring.seal_str(NAME, 7, "山田").unwrap();
        assert!(!master.under_data_key());
        assert!(mine.open(NAME, 7, &master).is_err());
        // Wrapped under the master key, bound to its row; every wrapped key has one length.
        let wrapped = ring.wrap_data_key(42, &mine).unwrap();
        assert_eq!(
            wrapped.as_bytes().len(),
            ring.wrap_data_key(43, &other).unwrap().as_bytes().len()
        );
        let back = ring.unwrap_data_key(42, &wrapped).unwrap();
        assert_eq!(back.open_string(NAME, 7, &sealed).unwrap().as_str(), "山田");
        assert!(ring.unwrap_data_key(43, &wrapped).is_err());
        assert!(
            KeyRing::ephemeral()
                .unwrap()
                .unwrap_data_key(42, &wrapped)
                .is_err()
        );
        // Padding applies under data keys too.
        let g1 = mine.seal_str(GENDER, 1, "male").unwrap();
        let g2 = mine.seal_str(GENDER, 1, "female").unwrap();
        assert_eq!(g1.as_bytes().len(), g2.as_bytes().len());
    }

    #[test]
    fn check_values_tell_keys_apart_and_repeat() {
        let a = KeyRing::ephemeral().unwrap();
        let b = KeyRing::ephemeral().unwrap();
        let id = a.active_key_id();
        assert_eq!(a.check_value(id), a.check_value(id));
        assert_ne!(a.check_value(id), b.check_value(b.active_key_id()));
        assert!(a.check_value(KeyId(999)).is_none());
    }

    #[test]
    fn order_links_verify_until_they_expire_and_only_as_issued() {
        let (old, new, _) = two_rings();
        let token = new.order_link_token(7_364_512_345_678_901, 2_000).unwrap();
        assert!(token.starts_with("o2-"), "{token}");
        assert_eq!(
            new.verify_order_link(&token, 1_999),
            Some(7_364_512_345_678_901)
        );
        assert_eq!(new.verify_order_link(&token, 2_000), None, "expired");
        // Any changed character, a cut or a longer token fails.
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            let altered = String::from_utf8(bytes).unwrap();
            assert_eq!(new.verify_order_link(&altered, 0), None, "{altered}");
        }
        assert_eq!(new.verify_order_link(&token[..token.len() - 2], 0), None);
        assert_eq!(new.verify_order_link(&format!("{token}00"), 0), None);
        assert_eq!(new.verify_order_link("", 0), None);
        assert_eq!(new.verify_order_link("o2-zz", 0), None);
        // Another shop's keys, or a ring without the issuing key, refuse it.
        let other = KeyRing::ephemeral().unwrap();
        assert_eq!(other.verify_order_link(&token, 0), None);
        assert_eq!(old.verify_order_link(&token, 0), None);
        // A link issued before a rotation still works while its key is held.
        let before = old.order_link_token(42, 2_000).unwrap();
        assert_eq!(new.verify_order_link(&before, 0), Some(42));
        // The expiry is inside the MAC: moving it forward breaks the tag.
        let (_, rest) = token.split_once('-').unwrap();
        let mut payload = hex::decode(&rest[..32]).unwrap();
        payload[15] = payload[15].wrapping_add(100);
        let moved = format!("o2-{}{}", hex::encode(payload), &rest[32..]);
        assert_eq!(new.verify_order_link(&moved, 0), None);
    }

    const NAME: Column = Column::new("customers", "family_name");
    const EMAIL: Column = Column::new("customers", "email");
    const GENDER: Column = Column::fixed("customers", "gender", 16);
    const PREFECTURE: Column = Column::fixed("customers", "prefecture", 16);

    fn two_rings() -> (KeyRing, KeyRing, KeyMaterial) {
        let mut m = KeyMaterial::generate().unwrap();
        let old = KeyRing::from_material(&m).unwrap();
        m.add_active_key().unwrap();
        (old, KeyRing::from_material(&m).unwrap(), m)
    }

    #[test]
    fn round_trip_japanese_text() {
        let ring = KeyRing::ephemeral().unwrap();
        let s = ring.seal_str(NAME, 7, "山田 太郎").unwrap();
        assert_eq!(ring.open_string(NAME, 7, &s).unwrap().as_str(), "山田 太郎");
        assert!(!s.as_bytes().windows(3).any(|w| w == "山".as_bytes()));
    }

    #[test]
    fn same_value_seals_differently() {
        let ring = KeyRing::ephemeral().unwrap();
        let a = ring.seal_str(NAME, 1, "x").unwrap();
        let b = ring.seal_str(NAME, 1, "x").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn rotated_ring_opens_old_values_and_writes_new_key() {
        let (old, new, _) = two_rings();
        let s = old.seal_str(NAME, 3, "佐藤").unwrap();
        assert_eq!(new.open_string(NAME, 3, &s).unwrap().as_str(), "佐藤");
        assert_eq!(new.seal_str(NAME, 3, "佐藤").unwrap().key_id().unwrap(), 2);
        let fresh = new.seal_str(NAME, 3, "佐藤").unwrap();
        assert_eq!(
            old.open(NAME, 3, &fresh).unwrap_err(),
            SealError::UnknownKey(2)
        );
    }

    #[test]
    fn blind_index_normalises_and_differs_per_column() {
        let ring = KeyRing::ephemeral().unwrap();
        let a = ring
            .blind_index(EMAIL, "  Taro@Example.JP ", Normalize::Email)
            .unwrap();
        let b = ring
            .blind_index(EMAIL, "taro@example.jp", Normalize::Email)
            .unwrap();
        let fullwidth = ring
            .blind_index(EMAIL, "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", Normalize::Email)
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a, fullwidth);
        let other = ring
            .blind_index(NAME, "taro@example.jp", Normalize::Email)
            .unwrap();
        assert_ne!(a, other);
        let (_, new, _) = two_rings();
        assert_eq!(
            new.blind_indexes(EMAIL, "a@b.jp", Normalize::Email)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn csrf_tokens_bind_to_session() {
        let ring = KeyRing::ephemeral().unwrap();
        let t = ring.csrf_token(b"session-a");
        assert!(ring.verify_csrf(b"session-a", &t));
        assert!(!ring.verify_csrf(b"session-b", &t));
        assert!(!ring.verify_csrf(b"session-a", "1.00"));
        assert!(!ring.verify_csrf(b"session-a", ""));
    }

    #[test]
    fn the_envelope_is_standard_xchacha20_poly1305() {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        let ring = KeyRing::ephemeral().unwrap();
        let sealed = ring.seal(NAME, 42, "鏑木 瑞穂".as_bytes()).unwrap();
        let bytes = sealed.as_bytes();
        let keys = ring.keys.get(&ring.active).unwrap();
        let reference =
            chacha20poly1305::XChaCha20Poly1305::new_from_slice(keys.seal_key.as_slice()).unwrap();
        let nonce =
            chacha20poly1305::XNonce::try_from(&bytes[HEADER_LEN..HEADER_LEN + NONCE_LEN]).unwrap();
        let aad = NAME.associated_data(&bytes[..HEADER_LEN], 42);
        let plain = reference
            .decrypt(
                &nonce,
                Payload {
                    msg: &bytes[HEADER_LEN + NONCE_LEN..],
                    aad: &aad,
                },
            )
            .unwrap();
        // The plaintext is the value, 0x80, then zeros up to the 32-byte bucket.
        let mut padded = "鏑木 瑞穂".as_bytes().to_vec();
        padded.push(0x80);
        padded.resize(32, 0);
        assert_eq!(plain, padded);
        let again = reference
            .encrypt(
                &nonce,
                Payload {
                    msg: &padded,
                    aad: &aad,
                },
            )
            .unwrap();
        assert_eq!(again.as_slice(), &bytes[HEADER_LEN + NONCE_LEN..]);
    }

    /// A version-1 envelope (the bare value, as sealed before padding existed), made with the
    /// reference implementation.
    fn unpadded_envelope(ring: &KeyRing, column: Column, row: i64, value: &[u8]) -> Sealed {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        let keys = ring.keys.get(&ring.active).unwrap();
        let reference =
            chacha20poly1305::XChaCha20Poly1305::new_from_slice(keys.seal_key.as_slice()).unwrap();
        let mut header = vec![crate::envelope::VERSION_UNPADDED];
        header.extend_from_slice(&ring.active.0.to_be_bytes());
        let nonce = [7u8; NONCE_LEN];
        let aad = column.associated_data(&header, row);
        let body = reference
            .encrypt(
                &chacha20poly1305::XNonce::from(nonce),
                Payload {
                    msg: value,
                    aad: &aad,
                },
            )
            .unwrap();
        let mut bytes = header;
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&body);
        assert_eq!(bytes.len(), value.len() + OVERHEAD);
        Sealed::from_stored(bytes)
    }

    #[test]
    fn values_sealed_before_padding_still_open() {
        let ring = KeyRing::ephemeral().unwrap();
        for (column, value) in [
            (NAME, "佐藤".as_bytes()),
            (GENDER, b"male".as_slice()),
            (GENDER, b"".as_slice()),
            // Bytes that look like padding stay: a version-1 value is never unpadded.
            (NAME, b"ab\x80\0\0".as_slice()),
        ] {
            let old = unpadded_envelope(&ring, column, 9, value);
            assert_eq!(old.key_id().unwrap(), ring.active.0);
            let opened = ring.open(column, 9, &old).unwrap();
            assert_eq!(opened.as_slice(), value);
            assert!(ring.open(column, 10, &old).is_err());
            // Re-sealed (as key rotation does), it becomes a padded version-2 envelope.
            let again = ring.seal(column, 9, &opened).unwrap();
            assert_eq!(again.as_bytes()[0], VERSION);
            assert_eq!(
                again.as_bytes().len(),
                column.padding().padded_len(value.len()) + OVERHEAD
            );
            assert_eq!(ring.open(column, 9, &again).unwrap().as_slice(), value);
        }
        let old = unpadded_envelope(&ring, NAME, 9, "佐藤".as_bytes());
        assert_eq!(ring.open_string(NAME, 9, &old).unwrap().as_str(), "佐藤");
        // Relabelled as version 2, the old envelope is not authentic (the version is bound).
        let mut bytes = old.into_bytes();
        bytes[0] = VERSION;
        assert_eq!(
            ring.open(NAME, 9, &Sealed::from_stored(bytes)).unwrap_err(),
            SealError::NotAuthentic
        );
    }

    #[test]
    fn every_gender_and_prefecture_seals_to_one_length() {
        let ring = KeyRing::ephemeral().unwrap();
        let lengths = |column: Column, values: &[String]| {
            let mut lengths: Vec<usize> = values
                .iter()
                .map(|v| ring.seal_str(column, 1, v).unwrap().as_bytes().len())
                .collect();
            lengths.dedup();
            lengths
        };
        let genders: Vec<String> = ["female", "male", "other"].map(String::from).to_vec();
        assert_eq!(lengths(GENDER, &genders), vec![16 + OVERHEAD]);
        let prefectures: Vec<String> = (1..=47).map(|c: u8| c.to_string()).collect();
        assert_eq!(lengths(PREFECTURE, &prefectures), vec![16 + OVERHEAD]);
        for g in &genders {
            let s = ring.seal_str(GENDER, 1, g).unwrap();
            assert_eq!(ring.open_string(GENDER, 1, &s).unwrap().as_str(), g);
        }
    }

    #[test]
    fn names_within_a_bucket_seal_to_one_length() {
        let ring = KeyRing::ephemeral().unwrap();
        // 1 to 10 kanji: 3 to 30 bytes, all in the first bucket (32 bytes with the mark).
        let names = [
            "林",
            "佐藤",
            "鏑木 瑞穂",
            "勅使河原 三郎",
            "長宗我部元親之介乃助",
        ];
        let lengths: Vec<usize> = names
            .iter()
            .map(|n| ring.seal_str(NAME, 1, n).unwrap().as_bytes().len())
            .collect();
        assert_eq!(lengths, vec![32 + OVERHEAD; names.len()]);
        // Eleven kanji (33 bytes) move to the next bucket; ASCII of 31 bytes does not.
        let long = "長宗我部元親之介乃助太";
        assert_eq!(
            ring.seal_str(NAME, 1, long).unwrap().as_bytes().len(),
            64 + OVERHEAD
        );
        let ascii = "a".repeat(31);
        assert_eq!(
            ring.seal_str(NAME, 1, &ascii).unwrap().as_bytes().len(),
            32 + OVERHEAD
        );
        for n in names.iter().chain([&long]) {
            let s = ring.seal_str(NAME, 4, n).unwrap();
            assert_eq!(ring.open_string(NAME, 4, &s).unwrap().as_str(), *n);
        }
    }

    #[test]
    fn mac_states_wipe_themselves_on_drop() {
        // Fails to compile if the `zeroize` features of sha2 (and so digest) are turned off:
        // the SHA-256 state inside every HMAC and HKDF state would then survive its drop.
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<sha2::block_api::Sha256VarCore>();
    }

    proptest! {
        #[test]
        fn envelope_round_trips(plain in proptest::collection::vec(any::<u8>(), 0..300), row in any::<i64>()) {
            let ring = KeyRing::ephemeral().unwrap();
            for column in [NAME, GENDER] {
                let s = ring.seal(column, row, &plain).unwrap();
                prop_assert_eq!(s.as_bytes().len(), column.padding().padded_len(plain.len()) + OVERHEAD);
                prop_assert_eq!(ring.open(column, row, &s).unwrap().to_vec(), plain.clone());
            }
        }

        #[test]
        fn any_flipped_bit_fails(plain in proptest::collection::vec(any::<u8>(), 0..64), row in any::<i64>(), bit in any::<usize>()) {
            let ring = KeyRing::ephemeral().unwrap();
            let s = ring.seal(NAME, row, &plain).unwrap();
            let mut bytes = s.into_bytes();
            let i = bit % (bytes.len() * 8);
            bytes[i / 8] ^= 1 << (i % 8);
            prop_assert!(ring.open(NAME, row, &Sealed::from_stored(bytes)).is_err());
        }

        #[test]
        fn swapped_row_column_or_key_fails(plain in proptest::collection::vec(any::<u8>(), 0..64), row in any::<i64>(), other in any::<i64>()) {
            prop_assume!(row != other);
            let (old, new, _) = two_rings();
            let s = new.seal(NAME, row, &plain).unwrap();
            prop_assert_eq!(new.open(NAME, other, &s).unwrap_err(), SealError::NotAuthentic);
            prop_assert_eq!(new.open(EMAIL, row, &s).unwrap_err(), SealError::NotAuthentic);
            prop_assert_eq!(new.open(Column::new("orders", "family_name"), row, &s).unwrap_err(), SealError::NotAuthentic);
            // Relabel the envelope as made by key 1, which the ring also holds: must not open.
            let mut bytes = s.into_bytes();
            bytes[1..5].copy_from_slice(&1u32.to_be_bytes());
            prop_assert_eq!(new.open(NAME, row, &Sealed::from_stored(bytes.clone())).unwrap_err(), SealError::NotAuthentic);
            prop_assert!(old.open(NAME, row, &Sealed::from_stored(bytes)).is_err());
        }
    }
}

/// What a keyed MAC of [`KeyRing::purpose_mac`] is for; each purpose has its own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacPurpose {
    /// The audit log's hash chain: each entry's MAC covers the previous entry's.
    AuditChain,
    /// A staff member's device cookie, as the database remembers it (new-device mails).
    StaffDevice,
    /// Where a failed staff sign-in came from, as the database remembers it (throttling).
    SignInSource,
    /// The tag that marks a browser's session token as one this shop handed out, checked
    /// without the database (the rate limiter counts such a browser on its own).
    BrowserToken,
}

impl MacPurpose {
    fn info(self) -> &'static [u8] {
        match self {
            Self::AuditChain => b"kura/audit-chain/hmac-sha256",
            Self::StaffDevice => b"kura/staff-device/hmac-sha256",
            Self::SignInSource => b"kura/sign-in-source/hmac-sha256",
            Self::BrowserToken => b"kura/browser-token/hmac-sha256",
        }
    }
}

impl KeyRing {
    /// HMAC-SHA256 over `parts` (each length-prefixed, so no two lists of parts give the same
    /// input) under the key master key `id` derives for `purpose`; `None` when the ring does
    /// not hold that key.
    pub fn purpose_mac(&self, purpose: MacPurpose, id: KeyId, parts: &[&[u8]]) -> Option<[u8; 32]> {
        let keys = self.keys.get(&id)?;
        let mut key = Zeroizing::new([0u8; 32]);
        keys.hkdf.expand(purpose.info(), key.as_mut_slice()).ok()?;
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key.as_slice()).ok()?;
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        Some(mac.finalize().into_bytes().into())
    }

    /// A fresh browser session token: 192 random bits and a 64-bit tag under the active key,
    /// 64 hex digits like any other token. [`KeyRing::is_browser_token`] tells it from a
    /// guessed or forged one without a database lookup.
    pub fn browser_token(&self) -> Result<SessionToken, SealError> {
        let random = Zeroizing::new(random_bytes::<24>()?);
        let tag = self.active_purpose_mac(MacPurpose::BrowserToken, &[random.as_slice()]);
        let mut text = hex::encode(random.as_slice());
        text.push_str(&hex::encode(&tag[..8]));
        SessionToken::parse(&text).ok_or(SealError::Random)
    }

    /// Whether `presented` is a token [`KeyRing::browser_token`] made under a key this ring
    /// holds (constant time in the tag).
    pub fn is_browser_token(&self, presented: &str) -> bool {
        let (Some(random), Some(tag)) = (presented.get(..48), presented.get(48..)) else {
            return false;
        };
        let (Ok(random), Ok(tag)) = (hex::decode(random), hex::decode(tag)) else {
            return false;
        };
        if tag.len() != 8 {
            return false;
        }
        self.key_ids().any(|id| {
            self.purpose_mac(MacPurpose::BrowserToken, id, &[random.as_slice()])
                .is_some_and(|mac| constant_time_eq(&mac[..8], &tag))
        })
    }

    /// [`KeyRing::purpose_mac`] under the active key.
    pub fn active_purpose_mac(&self, purpose: MacPurpose, parts: &[&[u8]]) -> [u8; 32] {
        self.purpose_mac(purpose, self.active, parts)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod purpose_mac_tests {
    use super::*;

    #[test]
    fn purposes_and_part_boundaries_give_different_macs() {
        let ring = KeyRing::ephemeral().unwrap();
        let a = ring.active_purpose_mac(MacPurpose::AuditChain, &[b"ab", b"c"]);
        let b = ring.active_purpose_mac(MacPurpose::AuditChain, &[b"a", b"bc"]);
        let c = ring.active_purpose_mac(MacPurpose::StaffDevice, &[b"ab", b"c"]);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            a,
            ring.active_purpose_mac(MacPurpose::AuditChain, &[b"ab", b"c"])
        );
        assert!(
            ring.purpose_mac(MacPurpose::AuditChain, KeyId(999), &[])
                .is_none()
        );
    }

    #[test]
    fn browser_tokens_carry_a_tag_only_the_ring_makes() {
        let ring = KeyRing::ephemeral().unwrap();
        let token = ring.browser_token().unwrap();
        assert!(SessionToken::parse(token.expose()).is_some());
        assert!(ring.is_browser_token(token.expose()));
        assert_ne!(token.expose(), ring.browser_token().unwrap().expose());
        // A random token, a flipped tag digit and another shop's token are not ours.
        assert!(!ring.is_browser_token(SessionToken::generate().unwrap().expose()));
        let mut flipped = token.expose().to_string();
        let last = if flipped.ends_with('0') { "1" } else { "0" };
        flipped.replace_range(63.., last);
        assert!(!ring.is_browser_token(&flipped));
        let other = KeyRing::ephemeral().unwrap();
        assert!(!other.is_browser_token(token.expose()));
        assert!(!ring.is_browser_token("zz"));
        assert!(!ring.is_browser_token(&"é".repeat(32)));
        assert!(!ring.is_browser_token(&format!("a{}", "é".repeat(32))));
    }
}

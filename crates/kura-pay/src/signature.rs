//! Stripe-style webhook signatures (`Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`).
//!
//! Guarantees:
//! - the signed payload is exactly `"{t}.{raw body}"` and the MAC is HMAC-SHA256 keyed with the
//!   endpoint secret's bytes (the whole `whsec_...` string, as Stripe documents);
//! - a header is accepted only when one of its `v1` values equals the expected MAC, compared in
//!   constant time (`subtle`), so the check does not leak how many bytes matched;
//! - the signature is checked before the age, so a forged header always yields `BadSignature`
//!   and never tells the sender whether its timestamp was plausible;
//! - a correctly signed header whose `t` is more than `tolerance` seconds away from `now` in
//!   either direction yields `Stale`, which bounds replay of captured events.
//!
//! Reference: <https://docs.stripe.com/webhooks#verify-manually>.

use hmac::{Hmac, KeyInit, Mac};
use kura_app::payments::PaymentError;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The header Stripe (and the sandbox) put the signature in.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// Stripe's libraries default to five minutes; we do the same.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

/// The hex HMAC-SHA256 of `"{timestamp}.{body}"` under `secret`.
pub fn compute_v1(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    hex::encode(mac_bytes(secret, timestamp, body))
}

/// A complete `Stripe-Signature` header value for `body` signed at `timestamp`.
pub fn header_value(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", compute_v1(secret, timestamp, body))
}

fn mac_bytes(secret: &[u8], timestamp: i64, body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail for SHA-256; the
    // fallback keeps the function total without a panic path.
    let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(secret) else {
        return Vec::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// The parts of a `Stripe-Signature` header we act on.
#[derive(Debug, PartialEq, Eq)]
struct ParsedHeader {
    timestamp: i64,
    v1: Vec<Vec<u8>>,
}

/// Parses `t=...,v1=...`. Unknown schemes (`v0`, future ones) are ignored as Stripe's libraries
/// do; a header without a timestamp or without any decodable `v1` is refused.
fn parse_header(header: &str) -> Result<ParsedHeader, PaymentError> {
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for item in header.split(',') {
        let Some((key, value)) = item.trim().split_once('=') else {
            return Err(PaymentError::BadSignature);
        };
        match key {
            "t" => {
                if timestamp.is_some() {
                    // Two timestamps would let an attacker pick which one we check the age of.
                    return Err(PaymentError::BadSignature);
                }
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| PaymentError::BadSignature)?,
                );
            }
            "v1" => {
                if let Ok(bytes) = hex::decode(value) {
                    v1.push(bytes);
                }
            }
            _ => {}
        }
    }
    match timestamp {
        Some(timestamp) if !v1.is_empty() => Ok(ParsedHeader { timestamp, v1 }),
        _ => Err(PaymentError::BadSignature),
    }
}

/// Verifies `header` for `body` under `secret`, at time `now` (unix seconds) with a window of
/// `tolerance` seconds either side. Returns the signed timestamp on success.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
    tolerance: i64,
) -> Result<i64, PaymentError> {
    let parsed = parse_header(header)?;
    let expected = mac_bytes(secret, parsed.timestamp, body);
    if expected.is_empty() {
        return Err(PaymentError::BadSignature);
    }
    // Check every candidate without stopping early; `ct_eq` on slices of different lengths is
    // false without comparing contents.
    let matched = parsed
        .v1
        .iter()
        .fold(subtle::Choice::from(0u8), |acc, candidate| {
            acc | candidate.as_slice().ct_eq(expected.as_slice())
        });
    if !bool::from(matched) {
        return Err(PaymentError::BadSignature);
    }
    let age = now.saturating_sub(parsed.timestamp);
    if age > tolerance || age < tolerance.saturating_neg() {
        return Err(PaymentError::Stale);
    }
    Ok(parsed.timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_secret";

    #[test]
    fn round_trip_verifies() {
        let header = header_value(SECRET, 1_700_000_000, b"{\"a\":1}");
        assert_eq!(
            verify(SECRET, &header, b"{\"a\":1}", 1_700_000_010, 300),
            Ok(1_700_000_000)
        );
    }

    #[test]
    fn any_of_several_v1_values_may_match() {
        let good = compute_v1(SECRET, 100, b"x");
        let header = format!("t=100,v0=abcd,v1={},v1={good}", "00".repeat(32));
        assert_eq!(verify(SECRET, &header, b"x", 100, 300), Ok(100));
    }

    #[test]
    fn wrong_secret_or_body_is_refused() {
        let header = header_value(SECRET, 100, b"x");
        assert_eq!(
            verify(b"whsec_other", &header, b"x", 100, 300),
            Err(PaymentError::BadSignature)
        );
        assert_eq!(
            verify(SECRET, &header, b"y", 100, 300),
            Err(PaymentError::BadSignature)
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let v1 = compute_v1(SECRET, 100, b"x");
        for header in [
            String::new(),
            "garbage".to_owned(),
            format!("v1={v1}"),
            "t=100".to_owned(),
            format!("t=abc,v1={v1}"),
            format!("t=100,t=100,v1={v1}"),
            "t=100,v1=zz".to_owned(),
        ] {
            assert_eq!(
                verify(SECRET, &header, b"x", 100, 300),
                Err(PaymentError::BadSignature),
                "{header}"
            );
        }
    }

    #[test]
    fn age_window_applies_in_both_directions() {
        let header = header_value(SECRET, 1000, b"x");
        assert_eq!(verify(SECRET, &header, b"x", 1300, 300), Ok(1000));
        assert_eq!(verify(SECRET, &header, b"x", 700, 300), Ok(1000));
        assert_eq!(
            verify(SECRET, &header, b"x", 1301, 300),
            Err(PaymentError::Stale)
        );
        assert_eq!(
            verify(SECRET, &header, b"x", 699, 300),
            Err(PaymentError::Stale)
        );
    }

    #[test]
    fn forged_and_old_is_bad_signature_not_stale() {
        let header = header_value(b"whsec_other", 1000, b"x");
        assert_eq!(
            verify(SECRET, &header, b"x", 99_999, 300),
            Err(PaymentError::BadSignature)
        );
    }
}

//! Webhook verification: forged, tampered, malformed and replayed events are refused; a
//! signature computed independently from Stripe's documented scheme verifies.

use hmac::{Hmac, KeyInit, Mac};
use kura_app::payments::{PaymentError, PaymentGateway, PaymentOutcome};
use sha2::Sha256;

use crate::support::{Harness, SECRET_KEY, WEBHOOK_SECRET, gateway, unix_now};

/// HMAC-SHA256, computed here independently of the crate under test.
fn hmac_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

#[test]
fn the_test_hmac_matches_rfc_4231() {
    // RFC 4231 §4.3, test case 2.
    assert_eq!(
        hmac_hex(b"Jefe", b"what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

fn completed_event() -> Vec<u8> {
    serde_json::json!({
        "id": "evt_test_vector",
        "object": "event",
        "type": "checkout.session.completed",
        "created": 1_700_000_000,
        "data": {"object": {
            "id": "cs_test_vector",
            "object": "checkout.session",
            "client_reference_id": "K-2026-000301",
            "amount_total": 4400,
            "currency": "jpy",
            "payment_status": "paid",
            "status": "complete",
        }}
    })
    .to_string()
    .into_bytes()
}

#[test]
fn a_signature_made_as_stripe_documents_verifies() {
    // https://docs.stripe.com/webhooks#verify-manually: signed_payload = "{t}.{body}",
    // v1 = hex(HMAC-SHA256(endpoint secret, signed_payload)).
    let body = completed_event();
    let t = unix_now();
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(&body);
    let v1 = hmac_hex(WEBHOOK_SECRET.as_bytes(), &signed);
    let header = format!("t={t},v1={v1}");

    let shop = gateway("http://127.0.0.1:9", SECRET_KEY);
    let notification = shop.verify_notification(&header, &body, t).unwrap();
    assert_eq!(notification.outcome, PaymentOutcome::Paid);
    assert_eq!(notification.order_number, "K-2026-000301");
    assert_eq!(notification.amount_yen, 4400);
    assert_eq!(notification.event_id, "evt_test_vector");
    assert_eq!(notification.session_id, "cs_test_vector");

    // Stripe may send several v1 values (during secret rotation) and a v0 one: any v1 may match.
    let rotated = format!("t={t},v1={},v0=deadbeef,v1={v1}", "ab".repeat(32));
    assert!(shop.verify_notification(&rotated, &body, t).is_ok());
}

#[test]
fn forged_tampered_missing_and_malformed_signatures_are_refused() {
    let body = completed_event();
    let t = unix_now();
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(&body);
    let good = hmac_hex(WEBHOOK_SECRET.as_bytes(), &signed);
    let forged = hmac_hex(b"whsec_attacker_guess", &signed);
    let shop = gateway("http://127.0.0.1:9", SECRET_KEY);
    let verify = |header: &str, body: &[u8]| shop.verify_notification(header, body, t);

    // The control: the genuine header is accepted, so the refusals below are about the change.
    assert!(verify(&format!("t={t},v1={good}"), &body).is_ok());

    // Signed with the wrong secret.
    assert_eq!(
        verify(&format!("t={t},v1={forged}"), &body),
        Err(PaymentError::BadSignature)
    );
    // Body changed after signing (amount raised to 999999).
    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("4400", "999999");
    assert_eq!(
        verify(&format!("t={t},v1={good}"), tampered.as_bytes()),
        Err(PaymentError::BadSignature)
    );
    // Timestamp changed after signing.
    assert_eq!(
        verify(&format!("t={},v1={good}", t + 1), &body),
        Err(PaymentError::BadSignature)
    );
    // Missing header.
    assert_eq!(verify("", &body), Err(PaymentError::BadSignature));
    // Malformed headers.
    for header in [
        format!("v1={good}"),
        format!("t={t}"),
        format!("t=yesterday,v1={good}"),
        format!("t={t},v0={good}"),
        format!("t={t};v1={good}"),
        format!("t={t},v1={}", &good[..32]),
        "garbage".to_owned(),
    ] {
        assert_eq!(
            verify(&header, &body),
            Err(PaymentError::BadSignature),
            "{header}"
        );
    }
}

#[tokio::test]
async fn a_replayed_event_outside_the_window_is_stale() {
    let mut h = Harness::start().await;
    let id = h.checkout("K-2026-000302", 900).await;
    assert_eq!(h.pay_with(&id, "4242424242424242").await.status(), 303);
    let captured = h.next_delivery().await;
    assert!(captured.result.is_ok());
    let header = captured.header.unwrap();
    let t: i64 = header
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .unwrap()
        .parse()
        .unwrap();

    // Within the five-minute window the captured event still verifies...
    assert!(
        h.gateway
            .verify_notification(&header, &captured.body, t + 300)
            .is_ok()
    );
    // ...a replay later is refused as stale, as is one dated too far in the future.
    assert_eq!(
        h.gateway
            .verify_notification(&header, &captured.body, t + 301),
        Err(PaymentError::Stale)
    );
    assert_eq!(
        h.gateway
            .verify_notification(&header, &captured.body, t - 301),
        Err(PaymentError::Stale)
    );
}

#[test]
fn events_the_shop_does_not_act_on_are_unsupported() {
    let body = br#"{"id":"evt_1","type":"charge.refunded","data":{"object":{"id":"ch_1"}}}"#;
    let t = unix_now();
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    let header = format!("t={t},v1={}", hmac_hex(WEBHOOK_SECRET.as_bytes(), &signed));
    let shop = gateway("http://127.0.0.1:9", SECRET_KEY);
    assert!(matches!(
        shop.verify_notification(&header, body, t),
        Err(PaymentError::Unsupported(_))
    ));
}

//! `StripeCheckout::create_checkout` against the sandbox's API.

use kura_app::payments::{PaymentError, PaymentGateway};

use crate::support::{Harness, SECRET_KEY, gateway, request};

#[tokio::test]
async fn creates_a_session_on_the_providers_page() {
    let h = Harness::start().await;
    let session = h
        .gateway
        .create_checkout(&request("K-2026-000101", 3300, h.sandbox.now()))
        .await
        .unwrap();
    assert!(session.id.starts_with("cs_test_"), "{}", session.id);
    assert_eq!(
        session.url,
        format!("{}/pay/{}", h.sandbox.base_url(), session.id)
    );

    // The provider holds what the shop sent, read back through the sandbox API.
    let stored: serde_json::Value = h
        .browser
        .get(h.url(&format!("/v1/checkout/sessions/{}", session.id)))
        .bearer_auth(SECRET_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["amount_total"], 3300);
    assert_eq!(stored["currency"], "jpy");
    assert_eq!(stored["client_reference_id"], "K-2026-000101");
    assert_eq!(stored["status"], "open");
    assert_eq!(stored["payment_status"], "unpaid");
}

#[tokio::test]
async fn a_retried_request_returns_the_same_session() {
    let h = Harness::start().await;
    let req = request("K-2026-000102", 5000, h.sandbox.now());
    let first = h.gateway.create_checkout(&req).await.unwrap();
    let second = h.gateway.create_checkout(&req).await.unwrap();
    assert_eq!(first, second);

    // Another order gets another session.
    let other = h
        .gateway
        .create_checkout(&request("K-2026-000103", 5000, h.sandbox.now()))
        .await
        .unwrap();
    assert_ne!(first.id, other.id);
}

#[tokio::test]
async fn reusing_an_order_number_with_other_parameters_is_refused() {
    let h = Harness::start().await;
    let mut req = request("K-2026-000104", 5000, h.sandbox.now());
    h.gateway.create_checkout(&req).await.unwrap();
    req.amount_yen = 1;
    let err = h.gateway.create_checkout(&req).await.unwrap_err();
    let PaymentError::Provider(message) = err else {
        panic!("wrong error: {err:?}");
    };
    assert!(message.contains("idempotency_error"), "{message}");
}

#[tokio::test]
async fn a_wrong_key_is_a_provider_error_without_the_key() {
    let h = Harness::start().await;
    let wrong_key = "sk_test_wrong_key_that_must_not_leak";
    let bad = gateway(h.sandbox.base_url(), wrong_key);
    let err = bad
        .create_checkout(&request("K-2026-000105", 5000, h.sandbox.now()))
        .await
        .unwrap_err();
    let PaymentError::Provider(message) = &err else {
        panic!("wrong error: {err:?}");
    };
    assert!(message.contains("Invalid API Key"), "{message}");
    assert!(message.contains("401"), "{message}");
    assert!(!message.contains(wrong_key), "{message}");
    assert!(!err.to_string().contains(wrong_key));
}

#[tokio::test]
async fn invalid_requests_carry_the_providers_message() {
    let h = Harness::start().await;
    let mut req = request("K-2026-000106", 0, h.sandbox.now());
    let err = h.gateway.create_checkout(&req).await.unwrap_err();
    assert!(
        matches!(&err, PaymentError::Provider(m) if m.contains("unit_amount")),
        "{err:?}"
    );
    // Stripe refuses an expiry under 30 minutes; so does the sandbox.
    req.amount_yen = 100;
    req.order_number = "K-2026-000107".into();
    req.expires_at = h.sandbox.now() + 60;
    let err = h.gateway.create_checkout(&req).await.unwrap_err();
    assert!(
        matches!(&err, PaymentError::Provider(m) if m.contains("expires_at")),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_a_provider_error() {
    // Port 9 (discard) on loopback: nothing listens there in the test environment.
    let g = gateway("http://127.0.0.1:9", SECRET_KEY);
    let err = g
        .create_checkout(&request("K-2026-000108", 100, 0))
        .await
        .unwrap_err();
    assert!(matches!(err, PaymentError::Provider(_)), "{err:?}");
}

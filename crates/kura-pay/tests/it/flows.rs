//! A customer paying on the sandbox's pages, and the shop learning the result by webhook.

use kura_app::payments::PaymentOutcome;

use crate::support::{Harness, SECRET_KEY, location};

const OK_CARD: &str = "4242 4242 4242 4242";
const DECLINED_CARD: &str = "4000 0000 0000 0002";
const THREE_DS_CARD: &str = "4000 0000 0000 3220";

async fn session_json(h: &Harness, id: &str) -> serde_json::Value {
    h.browser
        .get(h.url(&format!("/v1/checkout/sessions/{id}")))
        .bearer_auth(SECRET_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn paying_with_the_test_card_notifies_the_shop() {
    let mut h = Harness::start().await;
    let id = h.checkout("K-2026-000201", 12_345).await;

    let page = h
        .browser
        .get(h.url(&format!("/pay/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("¥12,345"), "amount missing");
    assert!(
        html.contains("Kura order K-2026-000201"),
        "description missing"
    );
    assert!(html.contains("TEST MODE"), "not labelled as a test page");
    assert!(html.contains("<label for=\"number\">"));

    let paid = h.pay_with(&id, OK_CARD).await;
    assert_eq!(paid.status(), 303);
    assert_eq!(
        location(&paid),
        format!("http://shop.test/checkout/done?order=K-2026-000201&session={id}")
    );

    let delivery = h.next_delivery().await;
    let notification = delivery.result.unwrap();
    assert_eq!(notification.outcome, PaymentOutcome::Paid);
    assert_eq!(notification.order_number, "K-2026-000201");
    assert_eq!(notification.amount_yen, 12_345);
    assert_eq!(notification.session_id, id);
    assert!(notification.event_id.starts_with("evt_"));
    // The event carries no card data.
    let body = String::from_utf8(delivery.body).unwrap();
    assert!(!body.contains("4242"), "{body}");

    let stored = session_json(&h, &id).await;
    assert_eq!(stored["status"], "complete");
    assert_eq!(stored["payment_status"], "paid");

    // The same page cannot take a second payment, and no second event is sent.
    let again = h.pay_with(&id, OK_CARD).await;
    assert_eq!(again.status(), 409);
    h.assert_no_delivery().await;
}

#[tokio::test]
async fn three_d_secure_challenge_completes_the_payment() {
    let mut h = Harness::start().await;
    let id = h.checkout("K-2026-000202", 800).await;

    let challenged = h.pay_with(&id, THREE_DS_CARD).await;
    assert_eq!(challenged.status(), 303);
    assert_eq!(location(&challenged), format!("/3ds/{id}"));
    // Nothing is paid before the challenge is answered.
    h.assert_no_delivery().await;

    let page = h
        .browser
        .get(h.url(&format!("/3ds/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Complete") && html.contains("Fail"), "{html}");
    assert!(html.contains("¥800"));

    let done = h
        .browser
        .post(h.url(&format!("/3ds/{id}")))
        .form(&[("result", "complete")])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    assert!(location(&done).starts_with("http://shop.test/checkout/done"));
    let notification = h.next_delivery().await.result.unwrap();
    assert_eq!(notification.outcome, PaymentOutcome::Paid);
    assert_eq!(notification.order_number, "K-2026-000202");
    assert_eq!(notification.amount_yen, 800);
}

#[tokio::test]
async fn a_failed_challenge_takes_no_payment() {
    let mut h = Harness::start().await;
    let id = h.checkout("K-2026-000203", 800).await;
    assert_eq!(h.pay_with(&id, THREE_DS_CARD).await.status(), 303);
    let failed = h
        .browser
        .post(h.url(&format!("/3ds/{id}")))
        .form(&[("result", "fail")])
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 402);
    assert!(
        failed
            .text()
            .await
            .unwrap()
            .contains("3-D Secure authentication failed")
    );
    h.assert_no_delivery().await;
    assert_eq!(session_json(&h, &id).await["payment_status"], "unpaid");

    // The challenge cannot be "completed" afterwards without a new card attempt.
    let late = h
        .browser
        .post(h.url(&format!("/3ds/{id}")))
        .form(&[("result", "complete")])
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), 409);
    h.assert_no_delivery().await;
}

#[tokio::test]
async fn a_declined_card_shows_a_message_and_takes_no_payment() {
    let mut h = Harness::start().await;
    let id = h.checkout("K-2026-000204", 800).await;
    // Typed without spaces, so it cannot be confused with the page's test-card hint.
    let declined = h.pay_with(&id, &DECLINED_CARD.replace(' ', "")).await;
    assert_eq!(declined.status(), 402);
    let html = declined.text().await.unwrap();
    assert!(html.contains("Your card was declined"), "{html}");
    assert!(
        !html.contains("4000000000000002"),
        "the page echoes the card number"
    );
    assert!(
        !html.contains("Hanako"),
        "the page echoes the cardholder name"
    );
    // The shop hears of the decline (the order named through the payment intent's metadata),
    // and the session stays open.
    let decline = h.next_delivery().await.result.unwrap();
    assert_eq!(decline.outcome, PaymentOutcome::Declined);
    assert_eq!(decline.order_number, "K-2026-000204");
    assert!(decline.session_id.starts_with("pi_test_"));
    h.assert_no_delivery().await;

    // The customer can still pay with another card.
    assert_eq!(h.pay_with(&id, OK_CARD).await.status(), 303);
    assert_eq!(
        h.next_delivery().await.result.unwrap().outcome,
        PaymentOutcome::Paid
    );
}

#[tokio::test]
async fn invalid_card_details_are_refused_with_a_reason() {
    let mut h = Harness::start().await;
    let id = h.checkout("K-2026-000205", 800).await;
    let typo = h.pay_with(&id, "4242 4242 4242 4241").await;
    assert_eq!(typo.status(), 400);
    assert!(
        typo.text()
            .await
            .unwrap()
            .contains("card number is not valid")
    );

    let expired_card = h
        .browser
        .post(h.url(&format!("/pay/{id}")))
        .form(&[
            ("name", "A"),
            ("number", OK_CARD),
            ("expiry", "01/20"),
            ("cvc", "123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(expired_card.status(), 400);
    assert!(expired_card.text().await.unwrap().contains("expiry"));
    h.assert_no_delivery().await;
}

#[tokio::test]
async fn an_expired_session_refuses_payment_and_tells_the_shop() {
    let mut h = Harness::start().await;
    let id = h.checkout("K-2026-000206", 800).await;
    // The checkout expires an hour after creation (see `support::request`).
    h.advance_clock(3601);

    let delivery = h.next_delivery().await;
    let notification = delivery.result.unwrap();
    assert_eq!(notification.outcome, PaymentOutcome::Expired);
    assert_eq!(notification.order_number, "K-2026-000206");

    let refused = h.pay_with(&id, OK_CARD).await;
    assert_eq!(refused.status(), 410);
    assert!(refused.text().await.unwrap().contains("expired"));
    // Exactly one expiry event.
    h.assert_no_delivery().await;
    assert_eq!(session_json(&h, &id).await["status"], "expired");
}

#[tokio::test]
async fn cancel_returns_to_the_shop() {
    let h = Harness::start().await;
    let id = h.checkout("K-2026-000207", 800).await;
    let cancelled = h
        .browser
        .get(h.url(&format!("/cancel/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 303);
    assert_eq!(
        location(&cancelled),
        "http://shop.test/checkout/cancelled?order=K-2026-000207"
    );
    let unknown = h
        .browser
        .get(h.url("/pay/cs_test_nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn webhooks_are_retried_until_the_shop_answers() {
    let mut h = Harness::start_failing_first(2).await;
    let id = h.checkout("K-2026-000208", 800).await;
    assert_eq!(h.pay_with(&id, OK_CARD).await.status(), 303);
    let first = h.next_delivery().await;
    let second = h.next_delivery().await;
    let third = h.next_delivery().await;
    for d in [&first, &second, &third] {
        assert_eq!(d.result.as_ref().unwrap().order_number, "K-2026-000208");
    }
    // The same event each time, and no more once it was accepted.
    let event_id = first.result.unwrap().event_id;
    assert_eq!(second.result.unwrap().event_id, event_id);
    assert_eq!(third.result.unwrap().event_id, event_id);
    h.assert_no_delivery().await;
}

#[tokio::test]
async fn the_api_refuses_a_missing_key() {
    let h = Harness::start().await;
    let answer = h
        .browser
        .post(h.url("/v1/checkout/sessions"))
        .form(&[("mode", "payment")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
}

#[tokio::test]
async fn an_expired_on_request_session_takes_no_payment_and_a_paid_one_says_so() {
    use kura_app::payments::{PaymentGateway, SessionClosed};
    let mut h = Harness::start().await;
    // Closed while open: one expiry event, and its page refuses a card afterwards.
    let id = h.checkout("K-2026-000210", 800).await;
    assert_eq!(
        h.gateway.expire_checkout(&id).await.unwrap(),
        SessionClosed::Unpaid
    );
    assert_eq!(
        h.next_delivery().await.result.unwrap().outcome,
        PaymentOutcome::Expired
    );
    assert_eq!(session_json(&h, &id).await["status"], "expired");
    assert_eq!(h.pay_with(&id, OK_CARD).await.status(), 410);
    // Asked again: still closed, unpaid, and no second event.
    assert_eq!(
        h.gateway.expire_checkout(&id).await.unwrap(),
        SessionClosed::Unpaid
    );
    h.assert_no_delivery().await;
    // A paid session cannot be closed: the answer says it was paid.
    let paid = h.checkout("K-2026-000211", 900).await;
    assert_eq!(h.pay_with(&paid, OK_CARD).await.status(), 303);
    assert_eq!(
        h.next_delivery().await.result.unwrap().outcome,
        PaymentOutcome::Paid
    );
    assert_eq!(
        h.gateway.expire_checkout(&paid).await.unwrap(),
        SessionClosed::Paid
    );
    h.assert_no_delivery().await;
    // An id that is not one is refused before any request is made.
    assert!(h.gateway.expire_checkout("../v1/x").await.is_err());
    // A fresh session for the same order needs a fresh idempotency key; with one, it is new.
    let mut again = crate::support::request("K-2026-000210", 800, h.sandbox.now());
    again.idempotency_key = "K-2026-000210-2".into();
    let fresh = h.gateway.create_checkout(&again).await.unwrap();
    assert_ne!(fresh.id, id);
    assert_eq!(session_json(&h, &fresh.id).await["status"], "open");
}

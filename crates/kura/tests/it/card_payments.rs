//! Card orders as their customer lives them: the mail at order time says the payment is
//! awaited (never that it is done), the "payment received" mail comes only with the
//! provider's paid notification, an unpaid order's page offers to pay again (on a fresh
//! provider page) or to order again with another method, and a payment made on a page that was
//! being replaced still counts.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Request;
use kura_app::Clock;
use kura_app::mail::{MailError, Mailer, OutgoingMail};
use kura_domain::OrderStatus;
use kura_pay::sandbox::{DEFAULT_SECRET_KEY, DEFAULT_WEBHOOK_SECRET, RunningSandbox};

use crate::storefront::{add, c_recent, location, place, submit_checkout, with};
use crate::support::{self, Client, hidden_value};

/// Mails as the outbox worker would hand them to a transport.
#[derive(Default)]
pub(crate) struct Captured(Mutex<Vec<OutgoingMail>>);

#[async_trait::async_trait]
impl Mailer for Captured {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        self.0.lock().unwrap().push(mail.clone());
        Ok(())
    }
}

impl Captured {
    /// Delivers what is due and returns the mails sent by this call.
    pub(crate) async fn deliver(&self, state: &kura_web::AppState) -> Vec<OutgoingMail> {
        let before = self.0.lock().unwrap().len();
        state.outbox.deliver_due(self).await.unwrap();
        self.0.lock().unwrap()[before..].to_vec()
    }
}

pub(crate) struct CardShop {
    _dir: tempfile::TempDir,
    pub state: kura_web::AppState,
    pub router: axum::Router,
    pub sandbox: RunningSandbox,
}

/// A shop whose card payments go to the sandbox (notifications are posted by the tests).
pub(crate) async fn card_shop() -> CardShop {
    support::init_logs();
    let dir = tempfile::tempdir().unwrap();
    let config = support::test_config(dir.path(), None);
    let sandbox = kura_pay::sandbox::start(kura_pay::sandbox::SandboxConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .unwrap();
    let gateway = kura_pay::StripeCheckout::new(kura_pay::StripeConfig::new(
        sandbox.base_url().to_string(),
        secrecy::SecretString::from(DEFAULT_SECRET_KEY.to_string()),
        secrecy::SecretString::from(DEFAULT_WEBHOOK_SECRET.to_string()),
    ))
    .unwrap();
    kura::shop::init_keys(&config).await.unwrap();
    let state = kura::shop::build_at(&config, "http://shop.test", Some(Arc::new(gateway)))
        .await
        .unwrap();
    kura::demo::ensure_catalog(&state.store).await.unwrap();
    let router = kura_web::router(Arc::clone(&state));
    CardShop {
        _dir: dir,
        state,
        router,
        sandbox,
    }
}

impl CardShop {
    /// Places a card order for one food jar; answers its number.
    pub(crate) async fn card_order(&self, c: &mut Client) -> String {
        add(c, "food-jar", "FJ-40", "1").await;
        assert_eq!(
            location(&submit_checkout(c, &with(&[("payment", "card")])).await),
            "/checkout/confirm"
        );
        let placed = place(c).await;
        assert!(
            location(&placed).starts_with(self.sandbox.base_url()),
            "sent to the provider's page"
        );
        let id = *c_recent(&self.state, c).await.last().unwrap();
        self.state
            .orders
            .view_by_id(id)
            .await
            .unwrap()
            .unwrap()
            .number
    }

    pub(crate) async fn status(&self, number: &str) -> OrderStatus {
        self.order(number).await.status
    }

    pub(crate) async fn order(&self, number: &str) -> kura_app::sealed::OrderRecord {
        self.state
            .store
            .order_by_number(number)
            .await
            .unwrap()
            .unwrap()
    }

    /// The sandbox's own view of a session (`open`, `complete`, `expired`).
    pub(crate) async fn session_status(&self, id: &str) -> String {
        let v: serde_json::Value = reqwest::Client::new()
            .get(format!(
                "{}/v1/checkout/sessions/{id}",
                self.sandbox.base_url()
            ))
            .bearer_auth(DEFAULT_SECRET_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["status"].as_str().unwrap_or_default().to_string()
    }

    /// Posts the provider's signed "paid" notification for `session` of order `number`.
    pub(crate) async fn notify_paid(
        &self,
        c: &mut Client,
        event: &str,
        number: &str,
        session: &str,
    ) {
        let total = self.order(number).await.totals.total.0;
        let body = serde_json::json!({
            "id": event, "object": "event", "type": "checkout.session.completed", "created": 0,
            "data": {"object": {"id": session, "object": "checkout.session",
              "client_reference_id": number, "amount_total": total, "currency": "jpy",
              "payment_status": "paid", "status": "complete"}}
        })
        .to_string();
        let signature = kura_pay::signature::header_value(
            DEFAULT_WEBHOOK_SECRET.as_bytes(),
            kura_app::SystemClock.now(),
            body.as_bytes(),
        );
        let r = c
            .send(
                Request::post("/webhooks/payments")
                    .header("content-type", "application/json")
                    .header("stripe-signature", signature)
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, 200);
    }
}

/// Posts one of the order page's buttons (`pay` or `reopen`).
pub(crate) async fn press(c: &mut Client, number: &str, action: &str) -> support::Reply {
    let page = c.get(&format!("/orders/{number}")).await;
    let csrf = match hidden_value(&page.body, "csrf_token") {
        Some(csrf) => csrf,
        // A page without buttons: a forged press, with this session's token.
        None => c.csrf_from("/products/food-jar").await,
    };
    c.post_form(
        &format!("/orders/{number}/{action}"),
        &[("csrf_token", &csrf)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_card_order_is_mailed_as_awaiting_payment_and_as_paid_only_by_the_provider() {
    let shop = card_shop().await;
    let mail = Captured::default();
    let mut c = Client::new(&shop.router);
    let number = shop.card_order(&mut c).await;
    let first_session = shop.order(&number).await.payment_session_id.unwrap();

    // The mail at order time: payment awaited, with the page to pay from and the deadline.
    let sent = mail.deliver(&shop.state).await;
    assert_eq!(sent.len(), 1);
    let confirmation = &sent[0];
    assert_eq!(confirmation.kind, "order_confirmation");
    assert!(
        confirmation.subject.contains("お支払いをお待ちしています"),
        "{}",
        confirmation.subject
    );
    for body in [&confirmation.text, &confirmation.html] {
        assert!(body.contains("お支払いはまだ完了していません"), "{body}");
        assert!(!body.contains("お支払いは完了しています"), "{body}");
        assert!(!body.contains("ご注文を承りました"), "{body}");
        assert!(body.contains(&format!("/orders/{number}")), "{body}");
    }
    let deadline =
        kura_domain::Date::moment_ja(shop.order(&number).await.payment_expires_at.unwrap());
    assert!(
        confirmation.text.contains(&deadline),
        "{}",
        confirmation.text
    );

    // Back from the provider without paying (declined, or "back"): the page says so.
    let back = c.get(&format!("/checkout/return/{number}")).await;
    assert_eq!(location(&back), format!("/orders/{number}?from=provider"));
    let page = c.get(&location(&back)).await;
    assert!(
        !page.body.contains("ご注文が確定しました"),
        "not paid, not thanked"
    );
    let page = c.get(&format!("/orders/{number}")).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("ご注文を承りました"), "{}", page.body);
    assert!(!page.body.contains("ご注文ありがとうございます"));
    assert!(page.body.contains("お支払いはまだ完了していません"));
    assert!(page.body.contains(&deadline));
    assert!(
        page.body
            .contains(&format!("action=\"/orders/{number}/pay\""))
    );
    assert!(
        page.body
            .contains(&format!("action=\"/orders/{number}/reopen\""))
    );

    // Pay again: a fresh provider page; the old one can no longer take money.
    let again = press(&mut c, &number, "pay").await;
    assert_eq!(again.status, 303);
    let fresh_url = location(&again);
    assert!(
        fresh_url.starts_with(&format!("{}/pay/", shop.sandbox.base_url())),
        "{fresh_url}"
    );
    let fresh_session = shop.order(&number).await.payment_session_id.unwrap();
    assert_ne!(fresh_session, first_session);
    assert!(fresh_url.ends_with(&fresh_session));
    assert_eq!(shop.session_status(&first_session).await, "expired");
    assert_eq!(shop.session_status(&fresh_session).await, "open");
    // The old page's expiry does not touch the order.
    assert_eq!(shop.status(&number).await, OrderStatus::AwaitingPayment);
    assert!(mail.deliver(&shop.state).await.is_empty(), "no mail yet");

    // The provider says it is paid: the order is paid and the "payment received" mail goes out.
    shop.notify_paid(&mut c, "evt_paid_1", &number, &fresh_session)
        .await;
    assert_eq!(shop.status(&number).await, OrderStatus::Paid);
    let sent = mail.deliver(&shop.state).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, "payment_received");
    assert!(sent[0].subject.contains("お支払いを確認しました"));
    assert!(sent[0].text.contains("クレジットカード"));
    assert!(sent[0].text.contains(&number));
    let page = c.get(&format!("/orders/{number}")).await;
    assert!(page.body.contains("お支払い済み"));
    assert!(page.body.contains("お支払いを確認し、ご注文が確定しました"));
    assert!(
        !page.body.contains("/pay\""),
        "a paid order offers no payment"
    );
    assert!(
        !page
            .body
            .contains("決済代行会社の画面でお支払いいただきます"),
        "a paid order no longer says how to pay"
    );
    // The same notification again changes nothing and mails nothing.
    shop.notify_paid(&mut c, "evt_paid_1", &number, &fresh_session)
        .await;
    assert!(mail.deliver(&shop.state).await.is_empty());
    // Paying again is no longer possible: the button answers with the order page.
    assert_eq!(
        location(&press(&mut c, &number, "pay").await),
        format!("/orders/{number}")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unpaid_card_order_can_be_ordered_again_with_another_method() {
    let shop = card_shop().await;
    let mut c = Client::new(&shop.router);
    let stock = || async {
        shop.state
            .store
            .catalog_items(&["FJ-40".to_string()])
            .await
            .unwrap()[0]
            .stock
    };
    let before = stock().await;
    let number = shop.card_order(&mut c).await;
    let session = shop.order(&number).await.payment_session_id.unwrap();
    assert_eq!(stock().await, before - 1);

    // Someone else cannot press the buttons, whatever the number.
    let mut stranger = Client::new(&shop.router);
    let csrf = stranger.csrf_from("/products/food-jar").await;
    for action in ["pay", "reopen"] {
        let r = stranger
            .post_form(
                &format!("/orders/{number}/{action}"),
                &[("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(r.status, 404, "{action}");
    }
    assert_eq!(shop.status(&number).await, OrderStatus::AwaitingPayment);

    let r = press(&mut c, &number, "reopen").await;
    assert_eq!(location(&r), "/checkout?again=1");
    // The unpaid order is cancelled, its stock back, its payment page closed.
    assert!(matches!(
        shop.status(&number).await,
        OrderStatus::Cancelled | OrderStatus::Expired
    ));
    assert_eq!(stock().await, before);
    assert_eq!(shop.session_status(&session).await, "expired");
    // The form comes back filled in, the payment method to choose anew.
    let form = c.get("/checkout?again=1").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("お支払い方法を選び直してください"));
    assert!(form.body.contains("value=\"札幌市中央区北一条西2-1\""));
    assert!(!form.body.contains("value=\"card\" checked"));
    assert!(
        form.body.contains("真空断熱フードジャー"),
        "the items are back"
    );
    // And it orders with cash on delivery.
    assert_eq!(
        location(&submit_checkout(&mut c, &with(&[("payment", "cod")])).await),
        "/checkout/confirm"
    );
    let placed = place(&mut c).await;
    let new_number = location(&placed).trim_start_matches("/orders/").to_string();
    assert_ne!(new_number, number);
    assert_eq!(shop.status(&new_number).await, OrderStatus::Confirmed);
    assert_eq!(stock().await, before - 1);
    // The old order's page says what happened and offers the same again.
    let old = c.get(&format!("/orders/{number}")).await;
    assert!(old.body.contains("カードでのお支払いが完了しなかったため"));
    assert!(old.body.contains("同じ内容でもう一度注文する"));
    assert!(!old.body.contains("お支払いはまだ完了していません"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payment_on_the_page_being_replaced_still_counts() {
    let shop = card_shop().await;
    let mail = Captured::default();
    let mut c = Client::new(&shop.router);
    let number = shop.card_order(&mut c).await;
    let first = shop.order(&number).await.payment_session_id.unwrap();
    mail.deliver(&shop.state).await;
    assert_eq!(press(&mut c, &number, "pay").await.status, 303);
    let fresh = shop.order(&number).await.payment_session_id.unwrap();
    // The customer had paid on the first page just before it closed: the provider's signed
    // notification names it. The money is taken, so the order is paid, and the fresh page is
    // closed so that it cannot take a second payment.
    shop.notify_paid(&mut c, "evt_paid_old", &number, &first)
        .await;
    assert_eq!(shop.status(&number).await, OrderStatus::Paid);
    assert_eq!(shop.session_status(&fresh).await, "expired");
    let sent = mail.deliver(&shop.state).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, "payment_received");
}

/// The first link to an order page in a mail's text.
pub(crate) fn order_link(text: &str) -> String {
    let at = text
        .find("http://shop.test/orders/")
        .expect("an order link");
    text[at..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect::<String>()
        .trim_start_matches("http://shop.test")
        .to_string()
}

fn security_events(name: &str) -> usize {
    String::from_utf8_lossy(&support::captured_logs())
        .matches(name)
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mailed_order_link_opens_the_order_in_any_browser() {
    let shop = card_shop().await;
    let mail = Captured::default();
    let mut placing = Client::new(&shop.router);
    let number = shop.card_order(&mut placing).await;
    let sent = mail.deliver(&shop.state).await;
    let link = order_link(&sent[0].text);
    assert!(link.starts_with(&format!("/orders/{number}?k=o")), "{link}");
    assert_eq!(
        order_link(&sent[0].html.replace('"', " ")),
        link,
        "both twins"
    );

    // Another browser (a phone): the link lets it in, then the address loses the token.
    let mut phone = Client::new(&shop.router);
    phone.peer = "203.0.113.7:50000".parse().unwrap();
    let opened = phone.get(&link).await;
    assert_eq!(opened.status, 303);
    assert_eq!(location(&opened), format!("/orders/{number}"));
    let page = phone.get(&format!("/orders/{number}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&number) && page.body.contains("鏑木 瑞穂"));
    assert!(page.body.contains("お支払いはまだ完了していません"));
    // And it can pay from there.
    let pay = press(&mut phone, &number, "pay").await;
    assert!(
        location(&pay).starts_with(shop.sandbox.base_url()),
        "{}",
        location(&pay)
    );

    // Altered, for another order, or expired: refused, with the lookup form and no order.
    let rejected_before = security_events("authn_token_invalid:order_link");
    let id = shop.order(&number).await.id;
    let ring = shop.state.vault.ring();
    let now = kura_app::SystemClock.now();
    let mut altered = link.clone().into_bytes();
    let last = altered.len() - 1;
    altered[last] = if altered[last] == b'0' { b'1' } else { b'0' };
    let altered = String::from_utf8(altered).unwrap();
    let other_token = ring.order_link_token(id + 1, now + 3600).unwrap();
    let expired_token = ring.order_link_token(id, now - 1).unwrap();
    for bad in [
        altered,
        format!("/orders/{number}?k={other_token}"),
        format!("/orders/{number}?k={expired_token}"),
        format!("/orders/K-ZZZZ-ZZZZ?k={}", link.split("k=").nth(1).unwrap()),
    ] {
        let mut stranger = Client::new(&shop.router);
        let r = stranger.get(&bad).await;
        assert_eq!(r.status, 404, "{bad}");
        assert!(
            r.body
                .contains("このリンクは有効期限が切れているか、正しくありません")
        );
        assert!(r.body.contains("action=\"/orders/lookup\""));
        assert!(!r.body.contains("鏑木"), "no order data");
        assert_eq!(stranger.get(&format!("/orders/{number}")).await.status, 404);
    }
    assert!(security_events("authn_token_invalid:order_link") >= rejected_before + 4);

    // Without a link, an existing and a made-up number get the same answer.
    let mut stranger = Client::new(&shop.router);
    let real = stranger.get(&format!("/orders/{number}")).await;
    let made_up = stranger.get("/orders/K-ZZZZ-ZZZZ").await;
    assert_eq!(real.status, 404);
    assert_eq!(made_up.status, 404);
    assert!(
        real.body
            .contains("このご注文は、このブラウザーからは表示できません")
    );
    let strip = |body: &str, n: &str| {
        body.replace(n, "NUMBER")
            .lines()
            .filter(|l| !l.contains("csrf_token"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(&real.body, &number),
        strip(&made_up.body, "K-ZZZZ-ZZZZ")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_looks_an_order_up_by_number_and_email_or_phone() {
    let shop = card_shop().await;
    let mut buyer = Client::new(&shop.router);
    let number = shop.card_order(&mut buyer).await;
    async fn look(c: &mut Client, number: &str, contact: &str) -> support::Reply {
        let csrf = c.csrf_from("/orders/lookup").await;
        c.post_form(
            "/orders/lookup",
            &[
                ("csrf_token", &csrf),
                ("number", number),
                ("contact", contact),
            ],
        )
        .await
    }

    // The page, in both languages.
    let mut guest = Client::new(&shop.router);
    guest.peer = "198.51.100.1:40000".parse().unwrap();
    let page = guest.get("/orders/lookup").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("ご注文の確認") && page.body.contains("メールアドレスまたは電話番号")
    );
    let en = guest
        .send(
            Request::get("/orders/lookup")
                .header("accept-language", "en")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(
        en.body.contains("Find your order") && en.body.contains("Email address or phone number")
    );

    // By email, typed loosely: found, and this browser may now see the order and pay.
    let loose_number = number.to_lowercase().replace('-', "");
    let found = look(&mut guest, &loose_number, " MIZUHO@example.jp ").await;
    assert_eq!(location(&found), format!("/orders/{number}"));
    let order = guest.get(&format!("/orders/{number}")).await;
    assert_eq!(order.status, 200);
    assert!(
        order
            .body
            .contains(&format!("action=\"/orders/{number}/pay\""))
    );
    // By phone, in full-width digits, from another browser.
    let mut other = Client::new(&shop.router);
    other.peer = "198.51.100.2:40000".parse().unwrap();
    let found = look(&mut other, &number, "０１１－２２２－３３３３").await;
    assert_eq!(location(&found), format!("/orders/{number}"));

    // A wrong email, a wrong phone and an unknown number: one answer.
    let failed_before = security_events("authn_fail:order_lookup");
    let mut wrong = Client::new(&shop.router);
    wrong.peer = "198.51.100.3:40000".parse().unwrap();
    let answers = [
        look(&mut wrong, &number, "someone@example.jp").await,
        look(&mut wrong, &number, "090-0000-0000").await,
        look(&mut wrong, "K-ZZZZ-ZZZZ", "mizuho@example.jp").await,
    ];
    for a in &answers {
        assert_eq!(a.status, 404);
        assert!(a.body.contains("ご注文が見つかりませんでした"));
        assert!(!a.body.contains("鏑木"));
    }
    assert_eq!(wrong.get(&format!("/orders/{number}")).await.status, 404);
    assert!(security_events("authn_fail:order_lookup") >= failed_before + 3);

    // Per client: after ten tries, even the right details wait.
    let mut walker = Client::new(&shop.router);
    walker.peer = "198.51.100.4:40000".parse().unwrap();
    for i in 0..10 {
        let r = look(&mut walker, &format!("K-AAAA-{i:04}"), "mizuho@example.jp").await;
        assert_eq!(r.status, 404, "try {i}");
    }
    let held = look(&mut walker, &number, "mizuho@example.jp").await;
    assert_eq!(held.status, 429);
    assert!(held.headers.contains_key("retry-after"));
    assert!(held.body.contains("しばらく受け付けを止めています"));
    assert!(security_events("excess_rate_limit_exceeded:order_lookup") >= 1);

    // Per order number: five failures from five addresses close it for everyone a while.
    let mut second = Client::new(&shop.router);
    let target = shop.card_order(&mut second).await;
    for i in 0..5u8 {
        let mut guesser = Client::new(&shop.router);
        guesser.peer = format!("192.0.2.{}:40000", 100 + i).parse().unwrap();
        assert_eq!(
            look(&mut guesser, &target, "x@example.jp").await.status,
            404
        );
    }
    let mut owner = Client::new(&shop.router);
    owner.peer = "192.0.2.200:40000".parse().unwrap();
    assert_eq!(
        look(&mut owner, &target, "mizuho@example.jp").await.status,
        429
    );
}

/// Pays a session on the sandbox's card page as a browser would (the test card that succeeds).
async fn pay_in_sandbox(shop: &CardShop, session: &str) {
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/pay/{session}", shop.sandbox.base_url()))
        .form(&[
            ("name", "KENTA SATO"),
            ("number", "4242 4242 4242 4242"),
            ("expiry", "12/34"),
            ("cvc", "123"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paid_card_order_is_refunded_once_through_the_provider() {
    let shop = card_shop().await;
    let mut c = Client::new(&shop.router);
    let number = shop.card_order(&mut c).await;
    let session = shop.order(&number).await.payment_session_id.unwrap();
    pay_in_sandbox(&shop, &session).await;
    shop.notify_paid(&mut c, "evt_refund_1", &number, &session)
        .await;
    assert_eq!(shop.status(&number).await, OrderStatus::Paid);
    let stock_before = stock_of(&shop, "FJ-40").await;
    let captured = Captured::default();
    captured.deliver(&shop.state).await;

    let total = shop.order(&number).await.totals.total.0;
    let done = shop.state.orders.refund(&number).await.unwrap().unwrap();
    assert!(
        done.receipt.id.starts_with("re_test_"),
        "{}",
        done.receipt.id
    );
    assert_eq!(done.receipt.amount_yen, total);
    assert_eq!(done.was, OrderStatus::Paid);
    assert_eq!(shop.status(&number).await, OrderStatus::Refunded);
    assert_eq!(
        stock_of(&shop, "FJ-40").await,
        stock_before + 1,
        "a refund before shipping returns the stock"
    );

    // A second press refunds nothing more.
    assert_eq!(
        shop.state
            .orders
            .refund(&number)
            .await
            .unwrap()
            .unwrap_err(),
        kura_app::orders::FulfilError::WrongStatus(OrderStatus::Refunded)
    );
    // The provider answers a retry of the same request with the same refund, and refuses a
    // new one: the money went back once.
    let sandbox_refund = |key: &'static str| {
        let url = format!("{}/v1/checkout/sessions/{session}", shop.sandbox.base_url());
        let refunds = format!("{}/v1/refunds", shop.sandbox.base_url());
        async move {
            let http = reqwest::Client::new();
            let s: serde_json::Value = http
                .get(url)
                .bearer_auth(DEFAULT_SECRET_KEY)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let intent = s["payment_intent"].as_str().unwrap().to_string();
            http.post(refunds)
                .bearer_auth(DEFAULT_SECRET_KEY)
                .header("Idempotency-Key", key)
                .form(&[
                    ("payment_intent", intent.as_str()),
                    ("amount", &total.to_string()),
                    ("reason", "requested_by_customer"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let again = sandbox_refund("kura-refund-replay").await;
    assert_eq!(again.status(), 400, "a new refund of a refunded payment");
    let replay: serde_json::Value =
        sandbox_refund(Box::leak(format!("kura-refund-{number}").into_boxed_str()))
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(replay["id"].as_str(), Some(done.receipt.id.as_str()));

    // The customer is told once, in Japanese, with the amount and without the card.
    let mails = captured.deliver(&shop.state).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail.kind, "order_update");
    assert!(mail.subject.contains("ご返金"), "{}", mail.subject);
    let grouped = kura_domain::Yen(total).grouped();
    assert!(mail.text.contains(&format!("{grouped}円")), "{}", mail.text);
    assert!(!mail.text.contains("4242 4242"), "nothing of the card");

    // A bank transfer is not refunded through the card provider.
    let transfer = crate::storefront::bank_transfer_order(&mut c).await;
    assert_eq!(
        shop.state
            .orders
            .refund(&transfer)
            .await
            .unwrap()
            .unwrap_err(),
        kura_app::orders::FulfilError::NotRefundable
    );
}

async fn stock_of(shop: &CardShop, sku: &str) -> i64 {
    shop.state
        .store
        .catalog_items(&[sku.to_string()])
        .await
        .unwrap()[0]
        .stock
}

//! Convenience-store payment (コンビニ払い) end to end, with the payment sandbox delivering its
//! signed events to a shop listening on a real port: the order is placed, the customer picks a
//! store on the provider's page and gets a payment number, the shop reads the voucher from the
//! provider, mails it and shows it; the payment at the store makes the order paid; a number
//! that lapses (the provider's word, or the shop's own sweep after a grace period) expires the
//! order and gives its stock back. Nothing is said as fact before it is recorded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use kura_app::Clock;
use kura_domain::{Date, OrderStatus};
use kura_pay::sandbox::{DEFAULT_SECRET_KEY, DEFAULT_WEBHOOK_SECRET, RunningSandbox};

use crate::backoffice::Manual;
use crate::card_payments::Captured;
use crate::storefront::{add, c_recent, location, place, submit_checkout, with};
use crate::support::{self, Client};

struct KonbiniShop {
    _dir: tempfile::TempDir,
    state: kura_web::AppState,
    router: axum::Router,
    sandbox: RunningSandbox,
    clock: Arc<Manual>,
}

/// A shop served on a loopback port, so that the sandbox's events reach its webhook.
async fn konbini_shop(db_url: Option<&str>) -> KonbiniShop {
    support::init_logs();
    let dir = tempfile::tempdir().unwrap();
    let config = support::test_config(dir.path(), db_url);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shop_addr = listener.local_addr().unwrap();
    let sandbox = kura_pay::sandbox::start(kura_pay::sandbox::SandboxConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        webhook_url: Some(format!("http://{shop_addr}/webhooks/payments")),
        webhook_backoff: Duration::from_millis(200),
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
    // The shop's clock moves with the sandbox's, so that signed events stay fresh.
    let clock = Arc::new(Manual(AtomicI64::new(kura_app::SystemClock.now())));
    let state = kura::shop::build_with_clock(
        &config,
        &format!("http://{shop_addr}"),
        Some(Arc::new(gateway)),
        Arc::clone(&clock) as Arc<dyn Clock>,
    )
    .await
    .unwrap();
    kura::demo::ensure_catalog(&state.store).await.unwrap();
    let router = kura_web::router(Arc::clone(&state));
    let app = router
        .clone()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    KonbiniShop {
        _dir: dir,
        state,
        router,
        sandbox,
        clock,
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl KonbiniShop {
    async fn order(&self, number: &str) -> kura_app::sealed::OrderRecord {
        self.state
            .store
            .order_by_number(number)
            .await
            .unwrap()
            .unwrap()
    }

    /// Waits (up to 10 s) until the order reaches `status`: events arrive over the network.
    async fn wait_for(&self, number: &str, status: OrderStatus) {
        for _ in 0..100 {
            if self.order(number).await.status == status {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "order {number} stayed {:?}, expected {status:?}",
            self.order(number).await.status
        );
    }

    async fn stock(&self, sku: &str) -> i64 {
        self.state
            .store
            .catalog_items(&[sku.to_string()])
            .await
            .unwrap()[0]
            .stock
    }

    fn advance(&self, seconds: i64) {
        self.clock.advance(seconds);
        self.sandbox.advance_clock(seconds);
    }

    /// Orders one food jar to be paid at a convenience store; answers the order number and
    /// the provider's page the customer was sent to.
    async fn konbini_order(&self, c: &mut Client) -> (String, String) {
        add(c, "food-jar", "FJ-40", "1").await;
        let to_confirm = submit_checkout(c, &with(&[("payment", "konbini")])).await;
        assert_eq!(location(&to_confirm), "/checkout/confirm");
        let confirm = c.get("/checkout/confirm").await;
        assert!(confirm.body.contains("コンビニ払い"), "{}", confirm.body);
        assert!(
            confirm.body.contains("番号発行日の3日後の23:59"),
            "the deadline rule is on the final confirmation page"
        );
        assert!(confirm.body.contains("自動的に取り消されます"));
        let placed = place(c).await;
        let page = location(&placed);
        assert!(
            page.starts_with(&format!("{}/pay/", self.sandbox.base_url())),
            "{page}"
        );
        let id = *c_recent(&self.state, c).await.last().unwrap();
        let number = self
            .state
            .orders
            .view_by_id(id)
            .await
            .unwrap()
            .unwrap()
            .number;
        (number, page)
    }

    /// The customer picks `store` on the provider's page; answers where they are sent back.
    async fn issue_number(&self, page: &str, store: &str) -> String {
        let form = browser().get(page).send().await.unwrap();
        assert_eq!(form.status(), 200);
        let html = form.text().await.unwrap();
        assert!(html.contains("お支払い番号を発行する"), "{html}");
        assert!(!html.contains("カード番号"), "no card is asked for");
        let r = browser()
            .post(page)
            .form(&[("store", store)])
            .send()
            .await
            .unwrap();
        assert!(r.status().is_redirection(), "{}", r.status());
        r.headers()["location"].to_str().unwrap().to_string()
    }
}

async fn story(db_url: Option<&str>) {
    let shop = konbini_shop(db_url).await;
    let mail = Captured::default();
    let mut c = Client::new(&shop.router);
    let before = shop.stock("FJ-40").await;

    // Placed: the mail says a number is still to be issued, never that anything is paid.
    let (number, page) = shop.konbini_order(&mut c).await;
    assert_eq!(
        shop.order(&number).await.status,
        OrderStatus::AwaitingPayment
    );
    assert_eq!(shop.stock("FJ-40").await, before - 1, "stock held");
    let sent = mail.deliver(&shop.state).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, "order_confirmation");
    assert!(
        sent[0].text.contains("お支払い番号の発行待ち"),
        "{}",
        sent[0].text
    );
    assert!(!sent[0].text.contains("お支払いを確認しました"));
    let order_page = c.get(&format!("/orders/{number}")).await;
    assert!(order_page.body.contains("お支払い番号を発行する"));

    // A store is chosen: the provider completes the session unpaid and tells the shop, which
    // reads the voucher and keeps its page and deadline.
    let issued_at = shop.clock.now();
    let back = shop.issue_number(&page, "lawson").await;
    assert!(
        back.contains(&format!("/checkout/return/{number}")),
        "{back}"
    );
    shop.wait_for(&number, OrderStatus::AwaitingStorePayment)
        .await;
    let rec = shop.order(&number).await;
    let voucher_url = rec.payment_url.clone().unwrap();
    assert!(
        voucher_url.starts_with(&format!("{}/voucher/pi_", shop.sandbox.base_url())),
        "{voucher_url}"
    );
    let deadline = rec.payment_expires_at.unwrap();
    let last_day = Date::today_in_japan(issued_at).add_days(kura_domain::KONBINI_DAYS);
    assert_eq!(Date::today_in_japan(deadline), last_day);
    assert_eq!(
        Date::today_in_japan(deadline + 1),
        last_day.add_days(1),
        "the number works to the last second of its third day"
    );
    assert_eq!(shop.stock("FJ-40").await, before - 1, "still held");

    // The voucher mail: the page with the numbers, the amount and the deadline.
    let sent = mail.deliver(&shop.state).await;
    assert_eq!(sent.len(), 1, "one voucher mail");
    let voucher_mail = &sent[0];
    assert!(voucher_mail.subject.contains("お支払い番号のご案内"));
    let deadline_ja = Date::moment_ja(deadline);
    for part in [voucher_url.as_str(), deadline_ja.as_str(), &number] {
        assert!(
            voucher_mail.text.contains(part),
            "{part}: {}",
            voucher_mail.text
        );
    }
    assert!(
        voucher_mail
            .text
            .contains(&format!("{}円", rec.totals.total.grouped()))
    );
    assert!(!voucher_mail.text.contains("お支払いを確認"));

    // The order page shows the voucher while it can be paid; no receipt yet.
    let order_page = c.get(&format!("/orders/{number}?from=provider")).await;
    assert!(order_page.body.contains("コンビニでのお支払い待ち"));
    assert!(order_page.body.contains("お支払い番号を発行しました"));
    assert!(order_page.body.contains(&voucher_url));
    assert!(order_page.body.contains(&deadline_ja));
    assert!(
        !order_page
            .body
            .contains("お支払いを確認し、ご注文が確定しました")
    );
    let receipt = c.get(&format!("/orders/{number}/receipt.pdf")).await;
    assert_ne!(receipt.status, 200, "no receipt before the money arrives");
    // The shop cannot take an issued number back: no cancel while it runs.
    assert!(matches!(
        shop.state.orders.cancel(&number).await.unwrap(),
        Err(kura_app::orders::FulfilError::WrongStatus(
            OrderStatus::AwaitingStorePayment
        ))
    ));

    // The voucher page at the provider names the store and the numbers.
    let voucher = browser().get(&voucher_url).send().await.unwrap();
    let html = voucher.text().await.unwrap();
    assert!(html.contains("ローソン"), "{html}");
    assert!(html.contains(&deadline_ja), "{html}");

    // Paid at the store: the provider's word makes the order paid, with its mail.
    let paid = browser()
        .post(format!("{voucher_url}/pay"))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    shop.wait_for(&number, OrderStatus::Paid).await;
    let sent = mail.deliver(&shop.state).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, "payment_received");
    assert!(sent[0].text.contains("コンビニ払い"), "{}", sent[0].text);
    let order_page = c.get(&format!("/orders/{number}")).await;
    assert!(order_page.body.contains("お支払い済み"));
    assert!(
        !order_page.body.contains(&voucher_url),
        "no voucher once paid"
    );
    assert_eq!(
        c.get(&format!("/orders/{number}/receipt.pdf")).await.status,
        200,
        "paid: the receipt can be issued"
    );
    assert_eq!(shop.stock("FJ-40").await, before - 1, "sold");

    // A number that lapses at the provider: the order expires, the stock comes back and the
    // customer is told.
    let (lapsing, page) = shop.konbini_order(&mut c).await;
    shop.issue_number(&page, "familymart").await;
    shop.wait_for(&lapsing, OrderStatus::AwaitingStorePayment)
        .await;
    assert_eq!(shop.stock("FJ-40").await, before - 2);
    mail.deliver(&shop.state).await;
    shop.advance(4 * 86_400);
    shop.wait_for(&lapsing, OrderStatus::Expired).await;
    assert_eq!(shop.stock("FJ-40").await, before - 1, "stock returned");
    let sent = mail.deliver(&shop.state).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0]
            .text
            .contains("お支払い期限までにコンビニでのお支払いを確認できなかった")
    );
    // Four days on, the browser's session has ended: the mailed link opens the order.
    let link = sent[0]
        .text
        .split_whitespace()
        .find(|w| w.contains(&format!("/orders/{lapsing}?k=")))
        .unwrap()
        .split_once("/orders/")
        .map(|(_, rest)| format!("/orders/{rest}"))
        .unwrap();
    let mut c = Client::new(&shop.router);
    assert_eq!(c.get(&link).await.status, 303);
    let order_page = c.get(&format!("/orders/{lapsing}")).await;
    assert!(
        order_page.body.contains("期限までに確認できなかったため"),
        "{}",
        order_page.body
    );
    // Paying a lapsed number is refused by the store (the sandbox) and changes nothing.
    let lapsed_voucher = shop.order(&lapsing).await.payment_url.unwrap();
    browser()
        .post(format!("{lapsed_voucher}/pay"))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(shop.order(&lapsing).await.status, OrderStatus::Expired);

    // Without the provider's word the shop lapses the order itself, but only after a grace
    // period past the deadline (a payment made at 23:59 is reported a little later).
    let (silent, page) = shop.konbini_order(&mut c).await;
    shop.issue_number(&page, "ministop").await;
    shop.wait_for(&silent, OrderStatus::AwaitingStorePayment)
        .await;
    mail.deliver(&shop.state).await;
    let deadline = shop.order(&silent).await.payment_expires_at.unwrap();
    // Only the shop's clock moves: the provider stays silent.
    shop.clock.advance(deadline - shop.clock.now() + 60);
    shop.state.orders.expire_due().await.unwrap();
    assert_eq!(
        shop.order(&silent).await.status,
        OrderStatus::AwaitingStorePayment,
        "within the grace period"
    );
    shop.clock.advance(kura_app::orders::KONBINI_GRACE_SECONDS);
    assert_eq!(shop.state.orders.expire_due().await.unwrap(), 1);
    assert_eq!(shop.order(&silent).await.status, OrderStatus::Expired);
    assert_eq!(shop.stock("FJ-40").await, before - 1);
    let sent = mail.deliver(&shop.state).await;
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].subject.contains("お支払い期限"),
        "{}",
        sent[0].subject
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_convenience_store_order_gets_a_number_is_paid_at_the_store_or_lapses_on_sqlite() {
    story(None).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "PostgreSQL: needs KURA_TEST_PG_URL and --include-ignored (bash .ci/test)"]
async fn a_convenience_store_order_gets_a_number_is_paid_at_the_store_or_lapses_on_postgres() {
    let url = support::required_pg().await;
    story(Some(&url)).await;
}

/// Convenience stores take at most ¥300,000 in one payment: a larger order is refused on the
/// final page with a clear message, and nothing is placed.
#[tokio::test(flavor = "multi_thread")]
async fn a_convenience_store_payment_above_the_stores_limit_is_refused_before_anything_is_placed() {
    let shop = konbini_shop(None).await;
    let mut c = Client::new(&shop.router);
    // 11 × ¥29,800 = ¥327,800.
    add(&mut c, "ih-rice-cooker-kamado", "IRCK-55", "11").await;
    assert_eq!(
        location(&submit_checkout(&mut c, &with(&[("payment", "konbini")])).await),
        "/checkout/confirm"
    );
    let refused = place(&mut c).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.body.contains("コンビニ払いは1回30万円"),
        "{}",
        refused.body
    );
    assert!(c_recent(&shop.state, &c).await.is_empty(), "nothing placed");
    let cart = c.get("/cart").await;
    assert!(cart.body.contains("327,800"), "the cart is kept");
}

//! A sandbox on port 0, a shop-side webhook receiver on port 0 that verifies every event with
//! `StripeCheckout::verify_notification`, and a browser client that does not follow redirects.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use kura_app::payments::{CheckoutRequest, PaymentError, PaymentGateway, PaymentNotification};
use kura_pay::sandbox::{self, RunningSandbox, SandboxConfig};
use kura_pay::{StripeCheckout, StripeConfig};
use secrecy::SecretString;
use tokio::sync::mpsc;

pub const SECRET_KEY: &str = "sk_test_it_0123456789abcdef";
pub const WEBHOOK_SECRET: &str = "whsec_it_0123456789abcdef";

/// One webhook request as the shop saw it.
#[derive(Debug)]
pub struct Delivery {
    pub header: Option<String>,
    pub body: Vec<u8>,
    pub result: Result<PaymentNotification, PaymentError>,
}

struct Receiver {
    gateway: StripeCheckout,
    clock_offset: Arc<AtomicI64>,
    /// Answer 500 to this many requests first, to exercise the sandbox's retries.
    fail_first: AtomicU32,
    deliveries: mpsc::UnboundedSender<Delivery>,
}

pub fn unix_now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

async fn receive(State(rx): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let now = unix_now() + rx.clock_offset.load(Ordering::SeqCst);
    let result = rx
        .gateway
        .verify_notification(header.as_deref().unwrap_or(""), &body, now);
    let failing = rx
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else if result.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let _ = rx.deliveries.send(Delivery {
        header,
        body: body.to_vec(),
        result,
    });
    status
}

pub fn gateway(api_base: &str, secret_key: &str) -> StripeCheckout {
    StripeCheckout::new(StripeConfig::new(
        api_base,
        SecretString::from(secret_key),
        SecretString::from(WEBHOOK_SECRET),
    ))
    .unwrap()
}

pub struct Harness {
    pub sandbox: RunningSandbox,
    /// The shop's adapter, pointed at the sandbox.
    pub gateway: StripeCheckout,
    pub deliveries: mpsc::UnboundedReceiver<Delivery>,
    /// A browser: no redirects followed, so each 303 can be asserted.
    pub browser: reqwest::Client,
    clock_offset: Arc<AtomicI64>,
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_failing_first(0).await
    }

    pub async fn start_failing_first(fail_first: u32) -> Self {
        let (tx, deliveries) = mpsc::unbounded_channel();
        let clock_offset = Arc::new(AtomicI64::new(0));
        let receiver = Arc::new(Receiver {
            gateway: gateway("http://127.0.0.1:9", SECRET_KEY),
            clock_offset: Arc::clone(&clock_offset),
            fail_first: AtomicU32::new(fail_first),
            deliveries: tx,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver_addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/webhooks/payments", post(receive))
            .with_state(receiver);
        tokio::spawn(async move { axum::serve(listener, app).await });

        let sandbox = sandbox::start(SandboxConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            secret_key: SecretString::from(SECRET_KEY),
            webhook_url: Some(format!("http://{receiver_addr}/webhooks/payments")),
            webhook_secret: SecretString::from(WEBHOOK_SECRET),
            webhook_backoff: Duration::from_millis(20),
            expiry_sweep: Duration::from_millis(50),
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let gateway = gateway(sandbox.base_url(), SECRET_KEY);
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            sandbox,
            gateway,
            deliveries,
            browser,
            clock_offset,
        }
    }

    /// Moves both the sandbox's and the shop's clocks forward.
    pub fn advance_clock(&self, seconds: i64) {
        self.sandbox.advance_clock(seconds);
        self.clock_offset.fetch_add(seconds, Ordering::SeqCst);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.base_url())
    }

    /// The next webhook the shop received, failing the test after five seconds.
    pub async fn next_delivery(&mut self) -> Delivery {
        tokio::time::timeout(Duration::from_secs(5), self.deliveries.recv())
            .await
            .expect("no webhook arrived within 5 s")
            .expect("receiver gone")
    }

    /// Asserts that no webhook arrives within a short while.
    pub async fn assert_no_delivery(&mut self) {
        let got = tokio::time::timeout(Duration::from_millis(300), self.deliveries.recv()).await;
        assert!(got.is_err(), "unexpected webhook: {got:?}");
    }

    /// Creates a checkout through the adapter and returns its session id.
    pub async fn checkout(&self, order_number: &str, amount_yen: i64) -> String {
        let session = self
            .gateway
            .create_checkout(&request(order_number, amount_yen, self.sandbox.now()))
            .await
            .unwrap();
        session.id
    }

    pub async fn pay_with(&self, session_id: &str, number: &str) -> reqwest::Response {
        self.browser
            .post(self.url(&format!("/pay/{session_id}")))
            .form(&[
                ("name", "Hanako Suzuki"),
                ("number", number),
                ("expiry", "12/49"),
                ("cvc", "123"),
            ])
            .send()
            .await
            .unwrap()
    }
}

pub fn request(order_number: &str, amount_yen: i64, now: i64) -> CheckoutRequest {
    CheckoutRequest {
        order_number: order_number.to_owned(),
        amount_yen,
        description: format!("Kura order {order_number}"),
        success_url: format!(
            "http://shop.test/checkout/done?order={order_number}&session={{CHECKOUT_SESSION_ID}}"
        ),
        cancel_url: format!("http://shop.test/checkout/cancelled?order={order_number}"),
        locale: "en".to_owned(),
        expires_at: now + 3600,
        idempotency_key: order_number.to_owned(),
        method: kura_domain::PaymentMethod::Card,
    }
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .expect("no Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

//! The JSON store API: a whole checkout by API on SQLite and PostgreSQL, every error code, one
//! order per Idempotency-Key (also when two requests race), order reads only with the order's
//! token, card checkout through the payment sandbox, and the OpenAPI document.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Mutex;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use kura_domain::{PaymentMethod, Prefecture, PricedLine, TaxRate, Totals, Yen};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support;

/// A reply, its body read as JSON (`Null` when it is not JSON).
struct Res {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

impl Res {
    fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }
    fn field(&self) -> &str {
        self.json["error"]["field"].as_str().unwrap_or("")
    }
}

/// Sends a request from a fixed peer, as the server sees it. Every API answer is checked for
/// the one thing the API must never do: hand out a cookie.
async fn send(
    router: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Res {
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let mut req = b.body(body.into()).unwrap();
    let peer: SocketAddr = "192.0.2.77:41000".parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(peer));
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    assert!(
        headers.get("set-cookie").is_none(),
        "{method} {path} set a cookie"
    );
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Res {
        status,
        headers,
        json,
    }
}

async fn get(router: &Router, path: &str, bearer: Option<&str>) -> Res {
    let auth = bearer.map(|t| format!("Bearer {t}"));
    let mut h = vec![];
    if let Some(a) = &auth {
        h.push(("authorization", a.as_str()));
    }
    send(router, "GET", path, &h, Body::empty()).await
}

async fn post_json(
    router: &Router,
    path: &str,
    bearer: &str,
    extra: &[(&str, &str)],
    body: &Value,
) -> Res {
    let auth = format!("Bearer {bearer}");
    let mut h = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    h.extend_from_slice(extra);
    send(router, "POST", path, &h, body.to_string()).await
}

struct Cart {
    id: String,
    token: String,
}

async fn new_cart(router: &Router) -> Cart {
    let r = send(router, "POST", "/api/v1/carts", &[], Body::empty()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let id = r.json["cart_id"].as_str().unwrap().to_string();
    assert!(id.parse::<i64>().is_ok(), "cart_id is the i64 as a string");
    Cart {
        id,
        token: r.json["cart_token"].as_str().unwrap().to_string(),
    }
}

async fn add(router: &Router, cart: &Cart, sku: &str, quantity: Value) -> Res {
    post_json(
        router,
        &format!("/api/v1/carts/{}/items", cart.id),
        &cart.token,
        &[],
        &json!({ "sku": sku, "quantity": quantity }),
    )
    .await
}

async fn checkout(router: &Router, cart: &Cart, key: &str, body: &Value) -> Res {
    post_json(
        router,
        &format!("/api/v1/carts/{}/checkout", cart.id),
        &cart.token,
        &[("idempotency-key", key)],
        body,
    )
    .await
}

fn customer() -> Value {
    json!({
        "family_name": "山田",
        "given_name": "花子",
        "family_name_kana": "ヤマダ",
        "given_name_kana": "ハナコ",
        "email": "hanako.yamada@example.jp",
        "phone": "090-1234-5678",
        "postal_code": "100-0001",
        "prefecture": 13,
        "address1": "千代田区千代田1-1",
        "address2": null,
        "birth_date": "1990-04-01",
        "gender": "female"
    })
}

fn order_body(payment: &str) -> Value {
    json!({
        "customer": customer(),
        "shipping": null,
        "delivery": { "slot": "14-16" },
        "payment_method": payment
    })
}

async fn stock(shop: &support::TestShop, sku: &str) -> i64 {
    shop.state
        .store
        .catalog_items(&[sku.to_string()])
        .await
        .unwrap()[0]
        .stock
}

async fn seeded(db: Option<&str>) -> support::TestShop {
    let shop = support::shop_with(db, |_| {}).await;
    kura::demo::ensure_catalog(&shop.state.store).await.unwrap();
    shop
}

/// Browse, fill a cart, check out (cash on delivery), read the order back.
async fn full_checkout(shop: &support::TestShop) {
    let r = &shop.router;
    let list = get(r, "/api/v1/products?per_page=100&lang=en", None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.json);
    assert_eq!(list.json["page"], 1);
    assert_eq!(list.json["per_page"], 100);
    let products = list.json["products"].as_array().unwrap();
    assert_eq!(list.json["total"].as_u64().unwrap(), products.len() as u64);
    let kettle = products
        .iter()
        .find(|p| p["slug"] == "electric-kettle-drip")
        .unwrap();
    assert_eq!(kettle["name"], "Electric kettle Drip");
    let red = kettle["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["sku"] == "EKD-08-RD")
        .unwrap();
    assert_eq!(red["price_yen"], 5980);
    assert_eq!(red["tax_rate_percent"], 10);
    assert_eq!(red["in_stock"], true);
    let one = get(r, "/api/v1/products/rice", None).await;
    assert_eq!(
        one.json["name"], "特選 コシヒカリ 2kg",
        "Japanese by default"
    );
    assert_eq!(one.json["variants"][0]["sku"], "R-2KG");
    assert_eq!(one.json["variants"][0]["tax_rate_percent"], 8);
    let paged = get(r, "/api/v1/products?page=2&per_page=5", None).await;
    assert_eq!(paged.json["products"].as_array().unwrap().len(), 5);
    assert_ne!(paged.json["products"][0]["slug"], products[0]["slug"]);

    let before_kettle = stock(shop, "EKD-08-RD").await;
    let before_rice = stock(shop, "R-2KG").await;
    let cart = new_cart(r).await;
    assert_eq!(
        add(r, &cart, "EKD-08-RD", json!(2)).await.status,
        StatusCode::OK
    );
    let added = add(r, &cart, "R-2KG", json!(1)).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.json);
    assert_eq!(added.json["goods_total_yen"], 2 * 5980 + 1980);
    let view = get(r, &format!("/api/v1/carts/{}", cart.id), Some(&cart.token)).await;
    assert_eq!(view.json["item_count"], 3);
    assert_eq!(view.json["goods_reduced_rate_yen"], 1980);
    assert_eq!(view.json["lines"].as_array().unwrap().len(), 2);

    let (first, _) = shop.state.orders.delivery_window();
    let mut body = order_body("cod");
    body["delivery"]["date"] = json!(first.iso());
    let placed = checkout(r, &cart, "order-1", &body).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.json);
    let expected = Totals::compute(
        &[
            PricedLine {
                sku: "EKD-08-RD".into(),
                unit_price: Yen(5980),
                quantity: 2,
                tax: TaxRate::Standard,
            },
            PricedLine {
                sku: "R-2KG".into(),
                unit_price: Yen(1980),
                quantity: 1,
                tax: TaxRate::Reduced,
            },
        ],
        Prefecture::parse("13").unwrap(),
        PaymentMethod::Cod,
    );
    assert!(expected.cod_fee.0 > 0);
    assert_eq!(placed.json["total_yen"], expected.total.0);
    assert_eq!(placed.json["status"], "confirmed");
    assert!(placed.json.get("payment_url").is_none());
    let number = placed.json["order_number"].as_str().unwrap();
    let token = placed.json["order_token"].as_str().unwrap();

    let order = get(r, &format!("/api/v1/orders/{number}"), Some(token)).await;
    assert_eq!(order.status, StatusCode::OK, "{}", order.json);
    let o = &order.json;
    assert_eq!(o["order_number"], number);
    assert_eq!(o["status"], "confirmed");
    assert_eq!(o["payment_method"], "cod");
    assert_eq!(o["delivery"]["date"], first.iso());
    assert_eq!(o["delivery"]["slot"], "14-16");
    assert_eq!(o["lines"].as_array().unwrap().len(), 2);
    assert_eq!(o["totals"]["goods_yen"], expected.goods.0);
    assert_eq!(o["totals"]["shipping_yen"], expected.shipping.0);
    assert_eq!(o["totals"]["cod_fee_yen"], expected.cod_fee.0);
    assert_eq!(o["totals"]["total_yen"], expected.total.0);
    let tax = o["totals"]["tax"].as_array().unwrap();
    let rate = |p: i64| tax.iter().find(|t| t["rate_percent"] == p).unwrap();
    assert_eq!(rate(10)["taxable_yen"], expected.tax.standard_total.0);
    assert_eq!(rate(10)["tax_yen"], expected.tax.standard_tax.0);
    assert_eq!(rate(8)["taxable_yen"], expected.tax.reduced_total.0);
    assert_eq!(rate(8)["tax_yen"], expected.tax.reduced_tax.0);
    let text = o.to_string();
    assert!(
        !text.contains("山田") && !text.contains("hanako") && !text.contains("1234"),
        "no personal data in the order answer"
    );

    assert_eq!(stock(shop, "EKD-08-RD").await, before_kettle - 2);
    assert_eq!(stock(shop, "R-2KG").await, before_rice - 1);
    let emptied = get(r, &format!("/api/v1/carts/{}", cart.id), Some(&cart.token)).await;
    assert_eq!(emptied.json["lines"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn api_checkout_cash_on_delivery_sqlite() {
    let shop = seeded(None).await;
    full_checkout(&shop).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "PostgreSQL: needs KURA_TEST_PG_URL and --include-ignored (bash .ci/test)"]
async fn api_checkout_cash_on_delivery_postgres() {
    let url = support::required_pg().await;
    let shop = seeded(Some(&url)).await;
    full_checkout(&shop).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn api_same_idempotency_key_makes_one_order() {
    let shop = seeded(None).await;
    let r = &shop.router;
    let before = stock(&shop, "EKD-08-RD").await;

    let cart = new_cart(r).await;
    add(r, &cart, "EKD-08-RD", json!(1)).await;
    let first = checkout(r, &cart, "same-key", &order_body("bank_transfer")).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.json);
    assert_eq!(first.json["status"], "awaiting_transfer");
    let again = checkout(r, &cart, "same-key", &order_body("bank_transfer")).await;
    assert!(again.status.is_success(), "{}", again.json);
    assert_eq!(again.json["order_number"], first.json["order_number"]);
    assert_eq!(again.json["order_token"], first.json["order_token"]);
    assert_eq!(shop.state.store.count_orders().await.unwrap(), 1);
    assert_eq!(stock(&shop, "EKD-08-RD").await, before - 1);

    // A different key on the emptied cart is a new attempt, and there is nothing to order.
    let other = checkout(r, &cart, "other-key", &order_body("bank_transfer")).await;
    assert_eq!(other.status, StatusCode::CONFLICT);
    assert_eq!(other.code(), "cart_empty");

    // Two submissions at once.
    let cart2 = new_cart(r).await;
    add(r, &cart2, "EKD-08-RD", json!(2)).await;
    let body = order_body("cod");
    let (a, b) = tokio::join!(
        checkout(r, &cart2, "race", &body),
        checkout(r, &cart2, "race", &body)
    );
    assert!(
        a.status.is_success() && b.status.is_success(),
        "{} / {}",
        a.json,
        b.json
    );
    assert_eq!(a.json["order_number"], b.json["order_number"]);
    assert_eq!(a.json["order_token"], b.json["order_token"]);
    let created = [a.status, b.status]
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "exactly one of the two placed the order");
    assert_eq!(shop.state.store.count_orders().await.unwrap(), 2);
    assert_eq!(stock(&shop, "EKD-08-RD").await, before - 3);

    // The key belongs to its cart: the same key on another cart is another order.
    let cart3 = new_cart(r).await;
    add(r, &cart3, "EKD-08-RD", json!(1)).await;
    let third = checkout(r, &cart3, "same-key", &order_body("bank_transfer")).await;
    assert_eq!(third.status, StatusCode::CREATED);
    assert_ne!(third.json["order_number"], first.json["order_number"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn api_order_is_read_only_with_its_own_token() {
    let shop = seeded(None).await;
    let r = &shop.router;
    let mut orders = vec![];
    for key in ["a", "b"] {
        let cart = new_cart(r).await;
        add(r, &cart, "EKD-08-BK", json!(1)).await;
        let placed = checkout(r, &cart, key, &order_body("cod")).await;
        assert_eq!(placed.status, StatusCode::CREATED);
        orders.push((
            placed.json["order_number"].as_str().unwrap().to_string(),
            placed.json["order_token"].as_str().unwrap().to_string(),
        ));
    }
    let (n1, t1) = &orders[0];
    let (_, t2) = &orders[1];
    let right = get(r, &format!("/api/v1/orders/{n1}"), Some(t1)).await;
    assert_eq!(right.status, StatusCode::OK);
    assert_eq!(right.json["order_number"], n1.as_str());
    let mut refusals = vec![];
    let forged = "0".repeat(64);
    for (path, token) in [
        (format!("/api/v1/orders/{n1}"), Some(t2.as_str())),
        (format!("/api/v1/orders/{n1}"), Some(forged.as_str())),
        (format!("/api/v1/orders/{n1}"), Some("wrong")),
        (format!("/api/v1/orders/{n1}"), None),
        ("/api/v1/orders/K-0000-0000".to_string(), Some(t1.as_str())),
    ] {
        let res = get(r, &path, token).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(res.code(), "not_found");
        refusals.push(res.json["error"]["message"].clone());
    }
    assert!(
        refusals.windows(2).all(|w| w[0] == w[1]),
        "one answer for all"
    );
    // The cart token does not open orders, nor an order token carts.
    let cart = new_cart(r).await;
    assert_eq!(
        get(r, &format!("/api/v1/orders/{n1}"), Some(&cart.token))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(r, &format!("/api/v1/carts/{}", cart.id), Some(t1))
            .await
            .code(),
        "unauthorized"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn api_sold_out_and_short_stock() {
    let shop = seeded(None).await;
    let r = &shop.router;
    let cart = new_cart(r).await;
    for sku in ["VBL-50-NV", "DRC-55"] {
        let res = add(r, &cart, sku, json!(1)).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{sku}");
        assert_eq!((res.code(), res.field()), ("sold_out", "sku"));
        assert_eq!(res.json["error"]["sku"], sku);
    }
    let res = add(r, &cart, "EKD-08-RD", json!(16)).await;
    assert_eq!((res.code(), res.field()), ("insufficient_stock", "sku"));
    assert_eq!(
        add(r, &cart, "EKD-08-RD", json!(15)).await.status,
        StatusCode::OK
    );
    let res = add(r, &cart, "EKD-08-RD", json!(1)).await;
    assert_eq!(res.code(), "insufficient_stock", "the cart's 15 count too");

    // Stock that left while the item sat in the cart.
    shop.state.store.set_stock("EKD-08-RD", 3).await.unwrap();
    let view = get(r, &format!("/api/v1/carts/{}", cart.id), Some(&cart.token)).await;
    assert_eq!(view.json["lines"][0]["problem"], "insufficient_stock");
    let res = checkout(r, &cart, "k1", &order_body("cod")).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.code(), "insufficient_stock");
    assert_eq!(res.json["error"]["sku"], "EKD-08-RD");
    shop.state.store.set_stock("EKD-08-RD", 0).await.unwrap();
    let res = checkout(r, &cart, "k2", &order_body("cod")).await;
    assert_eq!(res.code(), "sold_out");
    assert_eq!(shop.state.store.count_orders().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn api_card_checkout_sends_the_customer_to_the_provider() {
    let sandbox = kura_pay::sandbox::start(kura_pay::sandbox::SandboxConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .unwrap();
    let base = sandbox.base_url().to_string();
    let shop = support::shop_with(None, |c| {
        c.card.api_base = base.clone();
        c.card.secret_key = kura_pay::sandbox::DEFAULT_SECRET_KEY.into();
        c.card.webhook_secret = kura_pay::sandbox::DEFAULT_WEBHOOK_SECRET.into();
    })
    .await;
    kura::demo::ensure_catalog(&shop.state.store).await.unwrap();
    let r = &shop.router;
    let cart = new_cart(r).await;
    add(r, &cart, "FJ-40", json!(1)).await;
    let placed = checkout(r, &cart, "card-1", &order_body("card")).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.json);
    assert_eq!(placed.json["status"], "awaiting_payment");
    let url = placed.json["payment_url"].as_str().unwrap();
    assert!(url.starts_with(&base), "{url}");
    let again = checkout(r, &cart, "card-1", &order_body("card")).await;
    assert_eq!(
        again.json["payment_url"], url,
        "the repeat points at the same payment"
    );
    let number = placed.json["order_number"].as_str().unwrap();
    let token = placed.json["order_token"].as_str().unwrap();
    let order = get(r, &format!("/api/v1/orders/{number}"), Some(token)).await;
    assert_eq!(order.json["payment_url"], url);
    assert_eq!(order.json["totals"]["cod_fee_yen"], 0);
}

/// Records every code seen, so the last assertion can check none was missed.
struct Seen(Mutex<BTreeSet<String>>);

impl Seen {
    fn expect(&self, res: &Res, status: StatusCode, code: &str, field: &str) {
        assert_eq!(
            (res.status, res.code(), res.field()),
            (status, code, field),
            "{}",
            res.json
        );
        assert!(
            !res.json["error"]["message"]
                .as_str()
                .unwrap_or("")
                .is_empty(),
            "{code} has a message"
        );
        assert_eq!(
            res.headers.get("content-type").unwrap().to_str().unwrap(),
            "application/json",
            "{code}"
        );
        self.0.lock().unwrap().insert(code.to_string());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn api_every_error_code() {
    let shop = seeded(None).await;
    let r = &shop.router;
    let seen = Seen(Mutex::new(BTreeSet::new()));
    const BAD: StatusCode = StatusCode::BAD_REQUEST;
    const UNPROC: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;
    const CONFLICT: StatusCode = StatusCode::CONFLICT;
    let cart = new_cart(r).await;
    let items = format!("/api/v1/carts/{}/items", cart.id);
    let auth = format!("Bearer {}", cart.token);
    let raw = |body: &'static [u8], ct: &'static str| {
        let items = items.clone();
        let auth = auth.clone();
        async move {
            send(
                r,
                "POST",
                &items,
                &[("authorization", auth.as_str()), ("content-type", ct)],
                body,
            )
            .await
        }
    };

    // Reading bodies.
    seen.expect(
        &raw(b"{\"sku\": ", "application/json").await,
        BAD,
        "invalid_json",
        "",
    );
    seen.expect(
        &raw(
            b"{\"sku\": \"EKD-08-\xff\", \"quantity\": 1}",
            "application/json",
        )
        .await,
        BAD,
        "invalid_json",
        "",
    );
    seen.expect(
        &raw(b"{\"sku\":\"EKD-08-RD\",\"quantity\":1}", "text/plain").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "",
    );
    let res = post_json(
        r,
        &items,
        &cart.token,
        &[],
        &json!({"sku": "EKD-08-RD", "quantity": 1, "colour": "red"}),
    )
    .await;
    seen.expect(&res, BAD, "unknown_field", "colour");
    let res = post_json(r, &items, &cart.token, &[], &json!({"sku": "EKD-08-RD"})).await;
    seen.expect(&res, BAD, "missing_field", "quantity");
    let res = post_json(
        r,
        &items,
        &cart.token,
        &[],
        &json!({"sku": 12, "quantity": 1}),
    )
    .await;
    seen.expect(&res, BAD, "invalid_type", "sku");

    // Quantities.
    for (q, code) in [
        (json!("two"), "invalid_quantity"),
        (json!(1.5), "invalid_quantity"),
        (json!(0), "quantity_too_small"),
        (json!(-3), "quantity_too_small"),
        (json!(100), "quantity_too_large"),
        // The largest u64-sized quantity without a card-shaped run inside (u64::MAX has 20
        // digits, and a run of 20 holds a Luhn-valid stretch, which the card guard refuses).
        (json!(9_999_999_999_999_999_999u64), "quantity_too_large"),
    ] {
        seen.expect(
            &add(r, &cart, "EKD-08-RD", q).await,
            UNPROC,
            code,
            "quantity",
        );
    }
    for body in [
        &b"{\"sku\":\"EKD-08-RD\",\"quantity\":1e400}"[..],
        &b"{\"sku\":\"EKD-08-RD\",\"quantity\":100000000000000000000000000000000000000}"[..],
    ] {
        seen.expect(
            &raw(body, "application/json").await,
            UNPROC,
            "quantity_too_large",
            "quantity",
        );
    }
    seen.expect(
        &add(r, &cart, "NO-SUCH-SKU", json!(1)).await,
        UNPROC,
        "unknown_sku",
        "sku",
    );
    seen.expect(
        &add(r, &cart, "DRC-55", json!(1)).await,
        CONFLICT,
        "sold_out",
        "sku",
    );
    seen.expect(
        &add(r, &cart, "EKD-08-RD", json!(99)).await,
        CONFLICT,
        "insufficient_stock",
        "sku",
    );

    // Tokens.
    let no_token = send(
        r,
        "GET",
        &format!("/api/v1/carts/{}", cart.id),
        &[],
        Body::empty(),
    )
    .await;
    seen.expect(&no_token, StatusCode::UNAUTHORIZED, "unauthorized", "");
    assert_eq!(no_token.headers.get("www-authenticate").unwrap(), "Bearer");
    let other = new_cart(r).await;
    let res = get(r, &format!("/api/v1/carts/{}", cart.id), Some(&other.token)).await;
    seen.expect(&res, StatusCode::UNAUTHORIZED, "unauthorized", "");
    let res = get(r, "/api/v1/carts/12345", Some(&cart.token)).await;
    seen.expect(&res, StatusCode::UNAUTHORIZED, "unauthorized", "");
    let res = get(r, "/api/v1/products/no-such-thing", None).await;
    seen.expect(&res, StatusCode::NOT_FOUND, "not_found", "");
    let res = get(r, "/api/v1/products?per_page=101", None).await;
    seen.expect(&res, BAD, "invalid_parameter", "per_page");
    let res = get(r, "/api/v1/products?sort=price", None).await;
    seen.expect(&res, BAD, "unknown_parameter", "sort");

    // Checkout: the cart is empty so far.
    let body = order_body("cod");
    let res = checkout(r, &cart, "empty", &body).await;
    seen.expect(&res, CONFLICT, "cart_empty", "");
    assert_eq!(
        add(r, &cart, "EKD-08-RD", json!(1)).await.status,
        StatusCode::OK
    );
    let path = format!("/api/v1/carts/{}/checkout", cart.id);
    let res = post_json(r, &path, &cart.token, &[], &body).await;
    seen.expect(&res, BAD, "idempotency_key_required", "");
    let long = "k".repeat(201);
    let res = checkout(r, &cart, &long, &body).await;
    seen.expect(&res, BAD, "invalid_idempotency_key", "");

    let with = |pointer: &str, value: Value| {
        let mut b = order_body("cod");
        *b.pointer_mut(pointer).unwrap() = value;
        b
    };
    for (b, code, field) in [
        (
            with("/customer/postal_code", json!("12-345")),
            "invalid_postal_code",
            "customer.postal_code",
        ),
        (
            with("/customer/family_name_kana", json!("Yamada")),
            "not_katakana",
            "customer.family_name_kana",
        ),
        (
            with("/customer/given_name", json!("  ")),
            "required",
            "customer.given_name",
        ),
        (
            with("/customer/family_name", json!("山".repeat(31))),
            "too_long",
            "customer.family_name",
        ),
        (
            with("/customer/email", json!("hanako@")),
            "invalid_email",
            "customer.email",
        ),
        (
            with("/customer/phone", json!("12345")),
            "invalid_phone",
            "customer.phone",
        ),
        (
            with("/customer/prefecture", json!(48)),
            "unknown_prefecture",
            "customer.prefecture",
        ),
        (
            with("/customer/prefecture", json!("Atlantis")),
            "unknown_prefecture",
            "customer.prefecture",
        ),
        (
            with("/customer/birth_date", json!("1990-02-30")),
            "invalid_date",
            "customer.birth_date",
        ),
        (
            with("/customer/gender", json!("robot")),
            "unknown_choice",
            "customer.gender",
        ),
        (
            with("/delivery/slot", json!("noon")),
            "unknown_choice",
            "delivery.slot",
        ),
        (
            with("/delivery", json!({"date": "tomorrow"})),
            "invalid_date",
            "delivery.date",
        ),
        (
            with("/delivery", json!({"date": "2020-01-01"})),
            "delivery_date_out_of_range",
            "delivery.date",
        ),
        (
            with("/payment_method", json!("paypal")),
            "unknown_choice",
            "payment_method",
        ),
        (
            with("/payment_method", json!("card")),
            "card_payment_unavailable",
            "payment_method",
        ),
        (
            with("/shipping", json!({"family_name": "佐藤"})),
            "missing_field",
            "shipping.given_name",
        ),
    ] {
        let res = checkout(r, &cart, "validation", &b).await;
        let status = if code == "missing_field" { BAD } else { UNPROC };
        seen.expect(&res, status, code, field);
    }
    let mut b = order_body("cod");
    b["customer"]["nickname"] = json!("hana");
    seen.expect(
        &checkout(r, &cart, "v", &b).await,
        BAD,
        "unknown_field",
        "customer.nickname",
    );
    let mut b = order_body("cod");
    b["customer"].as_object_mut().unwrap().remove("email");
    seen.expect(
        &checkout(r, &cart, "v", &b).await,
        BAD,
        "missing_field",
        "customer.email",
    );
    let res = checkout(
        r,
        &cart,
        "v",
        &with("/customer/address2", json!("あ".repeat(101))),
    )
    .await;
    assert_eq!(res.json["error"]["max"], 100);
    // Prefecture by name, and in a recipient address.
    let mut b = with("/customer/prefecture", json!("東京都"));
    b["shipping"] = customer();
    for f in ["email", "birth_date", "gender"] {
        b["shipping"].as_object_mut().unwrap().remove(f);
    }
    b["shipping"]["prefecture"] = json!("Hokkaido");
    b["expected_total_yen"] = json!(1);
    // The price the client showed is not the price now.
    let res = checkout(r, &cart, "v", &b).await;
    seen.expect(&res, CONFLICT, "price_changed", "");
    let hokkaido = Totals::compute(
        &[PricedLine {
            sku: "EKD-08-RD".into(),
            unit_price: Yen(5980),
            quantity: 1,
            tax: TaxRate::Standard,
        }],
        Prefecture::parse("01").unwrap(),
        PaymentMethod::Cod,
    );
    assert_eq!(
        res.json["error"]["total_yen"], hokkaido.total.0,
        "shipping goes by the recipient"
    );
    shop.state
        .store
        .set_price("EKD-08-RD", Yen(6480))
        .await
        .unwrap();
    b["expected_total_yen"] = json!(hokkaido.total.0);
    let res = checkout(r, &cart, "v", &b).await;
    seen.expect(&res, CONFLICT, "price_changed", "");
    assert_eq!(
        shop.state.store.count_orders().await.unwrap(),
        0,
        "nothing was placed"
    );

    // Japanese messages on request.
    let ja = send(
        r,
        "GET",
        "/api/v1/products/nope",
        &[("accept-language", "ja")],
        Body::empty(),
    )
    .await;
    assert_eq!(ja.json["error"]["message"], "見つかりません。");
    let en = get(r, "/api/v1/products/nope", None).await;
    assert_eq!(en.json["error"]["message"], "Not found.");
    assert!(
        en.json["error"]["operation_id"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );

    // Cart full: 50 distinct lines at most.
    let all = get(r, "/api/v1/products?per_page=100", None).await;
    let skus: Vec<String> = all.json["products"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["variants"].as_array().unwrap().clone())
        .filter(|v| v["in_stock"] == true)
        .map(|v| v["sku"].as_str().unwrap().to_string())
        .collect();
    assert!(skus.len() > 50, "the demo catalog has enough variants");
    let full = new_cart(r).await;
    for sku in &skus[..50] {
        assert_eq!(
            add(r, &full, sku, json!(1)).await.status,
            StatusCode::OK,
            "{sku}"
        );
    }
    seen.expect(
        &add(r, &full, &skus[50], json!(1)).await,
        CONFLICT,
        "cart_full",
        "sku",
    );

    // Produced by the layers in front of the API.
    let res = post_json(
        r,
        &items,
        &cart.token,
        &[],
        &json!({"sku": "4242 4242 4242 4242", "quantity": 1}),
    )
    .await;
    seen.expect(&res, UNPROC, "card_number_refused", "");
    let huge = format!("{{\"sku\":\"{}\",\"quantity\":1}}", "A".repeat(70_000));
    let res = send(
        r,
        "POST",
        &items,
        &[
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ],
        huge,
    )
    .await;
    seen.expect(&res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "");

    let slow = support::shop_with(None, |c| {
        c.server.rate_limit_per_second = 1;
        c.server.rate_limit_burst = 3;
    })
    .await;
    let mut limited = None;
    for _ in 0..10 {
        let res = get(&slow.router, "/api/v1/products", None).await;
        if res.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(res);
            break;
        }
    }
    let limited = limited.expect("the rate limit answers 429");
    seen.expect(
        &limited,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        "",
    );

    let seen = seen.0.into_inner().unwrap();
    for code in [
        "invalid_json",
        "unknown_field",
        "missing_field",
        "required",
        "too_long",
        "invalid_postal_code",
        "not_katakana",
        "invalid_email",
        "invalid_phone",
        "unknown_prefecture",
        "invalid_date",
        "unknown_choice",
        "invalid_quantity",
        "quantity_too_small",
        "quantity_too_large",
        "unknown_sku",
        "sold_out",
        "insufficient_stock",
        "cart_full",
        "cart_empty",
        "price_changed",
        "delivery_date_out_of_range",
        "card_payment_unavailable",
        "unauthorized",
        "not_found",
        "idempotency_key_required",
        "payload_too_large",
        "card_number_refused",
        "too_many_requests",
        "unsupported_media_type",
    ] {
        assert!(seen.contains(code), "no request produced {code}");
    }
    // Every code the API answered with is in the OpenAPI document.
    let doc = get(r, "/api/openapi.json", None).await.json;
    let listed: BTreeSet<String> =
        doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
    let missing: Vec<_> = seen.difference(&listed).collect();
    assert!(missing.is_empty(), "not in the document: {missing:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_cart_lines_can_be_changed_and_removed() {
    let shop = seeded(None).await;
    let r = &shop.router;
    let cart = new_cart(r).await;
    add(r, &cart, "EKD-08-RD", json!(2)).await;
    add(r, &cart, "R-2KG", json!(1)).await;
    let auth = format!("Bearer {}", cart.token);
    let h = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let put = send(
        r,
        "PUT",
        &format!("/api/v1/carts/{}/items/EKD-08-RD", cart.id),
        &h,
        json!({"quantity": 5}).to_string(),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.json);
    assert_eq!(put.json["goods_total_yen"], 5 * 5980 + 1980);
    let del = send(
        r,
        "DELETE",
        &format!("/api/v1/carts/{}/items/R-2KG", cart.id),
        &h[..1],
        Body::empty(),
    )
    .await;
    assert_eq!(del.json["goods_total_yen"], 5 * 5980);
    let zero = send(
        r,
        "PUT",
        &format!("/api/v1/carts/{}/items/EKD-08-RD", cart.id),
        &h,
        json!({"quantity": 0}).to_string(),
    )
    .await;
    assert_eq!(zero.json["lines"].as_array().unwrap().len(), 0);
    // `{}` is accepted as the body of a new cart; anything else in it is not.
    let made = send(
        r,
        "POST",
        "/api/v1/carts",
        &[("content-type", "application/json")],
        "{}",
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED);
    let refused = send(
        r,
        "POST",
        "/api/v1/carts",
        &[("content-type", "application/json")],
        "{\"x\":1}",
    )
    .await;
    assert_eq!((refused.code(), refused.field()), ("unknown_field", "x"));
}

#[tokio::test(flavor = "multi_thread")]
async fn api_openapi_document_lists_every_endpoint() {
    let shop = support::sqlite_shop().await;
    let res = get(&shop.router, "/api/openapi.json", None).await;
    assert_eq!(res.status, StatusCode::OK);
    let doc = &res.json;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (path, method) in [
        ("/api/v1/products", "get"),
        ("/api/v1/products/{slug}", "get"),
        ("/api/v1/carts", "post"),
        ("/api/v1/carts/{cart_id}", "get"),
        ("/api/v1/carts/{cart_id}/items", "post"),
        ("/api/v1/carts/{cart_id}/items/{sku}", "put"),
        ("/api/v1/carts/{cart_id}/items/{sku}", "delete"),
        ("/api/v1/carts/{cart_id}/checkout", "post"),
        ("/api/v1/orders/{order_number}", "get"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is documented");
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {path}"
        );
        assert!(
            responses
                .iter()
                .filter(|(s, _)| !s.starts_with('2'))
                .all(|(_, r)| r["content"]["application/json"]["schema"]["$ref"]
                    == "#/components/schemas/Error"),
            "{method} {path}: errors use the error schema"
        );
        if method == "post" && path != "/api/v1/carts" || method == "put" {
            assert!(
                op["requestBody"]["content"]["application/json"].is_object(),
                "{path}"
            );
        }
    }
    let documented = doc["paths"].as_object().unwrap().len();
    assert_eq!(documented, 9, "no path documented twice or forgotten");
    for schema in [
        "Error",
        "Product",
        "Cart",
        "CheckoutRequest",
        "PlacedOrder",
        "Order",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["cart_token"]["scheme"],
        "bearer"
    );
    // The API's own routes are the ones documented: an undocumented method is refused.
    let res = send(&shop.router, "PATCH", "/api/v1/carts", &[], Body::empty()).await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.code(), "method_not_allowed");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_ignores_the_browser_session() {
    let shop = seeded(None).await;
    // A browser with a session and a cart of its own.
    let mut browser = support::Client::new(&shop.router);
    let csrf = browser.csrf_from("/products/electric-kettle-drip").await;
    browser
        .post_form(
            "/cart/add",
            &[
                ("csrf_token", &csrf),
                ("slug", "electric-kettle-drip"),
                ("sku", "EKD-08-RD"),
                ("quantity", "1"),
            ],
        )
        .await;
    let cookie = browser.cookie_header();
    assert!(!cookie.is_empty());
    // The cookie opens no API cart, and API calls with it set no cookie (checked in `send`).
    let res = send(
        &shop.router,
        "GET",
        "/api/v1/carts/1",
        &[("cookie", cookie.as_str())],
        Body::empty(),
    )
    .await;
    assert_eq!(res.code(), "unauthorized");
    let made = send(
        &shop.router,
        "POST",
        "/api/v1/carts",
        &[("cookie", cookie.as_str())],
        Body::empty(),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED);
    let cart_id = made.json["cart_id"].as_str().unwrap();
    let token = made.json["cart_token"].as_str().unwrap();
    let view = get(
        &shop.router,
        &format!("/api/v1/carts/{cart_id}"),
        Some(token),
    )
    .await;
    assert_eq!(
        view.json["lines"].as_array().unwrap().len(),
        0,
        "not the browser's cart"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn orders_are_marked_paid_and_shipped_and_the_notice_is_mailed() {
    use kura_app::orders::{FulfilError, Parcel};
    let shop = seeded(None).await;
    let r = &shop.router;
    let parcel = Parcel {
        carrier: "ヤマト運輸".into(),
        tracking_number: "4321-8765-0987".into(),
        tracking_url: Some("https://track.example.jp/4321-8765-0987".into()),
    };
    let orders = &shop.state.orders;

    // A bank transfer ships only once the money is in.
    let cart = new_cart(r).await;
    add(r, &cart, "EKD-08-RD", json!(1)).await;
    let bank = checkout(r, &cart, "bank", &order_body("bank_transfer")).await;
    let number = bank.json["order_number"].as_str().unwrap().to_string();
    let token = bank.json["order_token"].as_str().unwrap().to_string();
    assert_eq!(
        orders.mark_shipped(&number, &parcel).await.unwrap(),
        Err(FulfilError::WrongStatus(
            kura_domain::OrderStatus::AwaitingTransfer
        ))
    );
    assert_eq!(
        orders.mark_transfer_received(&number).await.unwrap(),
        Ok(())
    );
    assert!(matches!(
        orders.mark_transfer_received(&number).await.unwrap(),
        Err(FulfilError::WrongStatus(_))
    ));
    assert_eq!(orders.mark_shipped(&number, &parcel).await.unwrap(), Ok(()));
    let seen = get(r, &format!("/api/v1/orders/{number}"), Some(&token)).await;
    assert_eq!(seen.json["status"], "shipped", "{}", seen.json);
    assert!(matches!(
        orders.mark_shipped(&number, &parcel).await.unwrap(),
        Err(FulfilError::WrongStatus(kura_domain::OrderStatus::Shipped))
    ));

    // Cash on delivery ships at once and was never a transfer.
    let cart = new_cart(r).await;
    add(r, &cart, "EKD-08-RD", json!(1)).await;
    let cod = checkout(r, &cart, "cod", &order_body("cod")).await;
    let cod_number = cod.json["order_number"].as_str().unwrap().to_string();
    assert!(
        orders
            .mark_transfer_received(&cod_number)
            .await
            .unwrap()
            .is_err()
    );
    assert_eq!(
        orders.mark_shipped(&cod_number, &parcel).await.unwrap(),
        Ok(())
    );
    assert_eq!(
        orders.mark_shipped("K-NONE-NONE", &parcel).await.unwrap(),
        Err(FulfilError::UnknownOrder)
    );

    // Two shipping notices went out, in the order's language, with carrier and tracking.
    let mails = crate::accounts::delivered_mails(&shop).await;
    // The recorded transfer was mailed as received, once, and only for the bank transfer.
    let received: Vec<&String> = mails
        .iter()
        .filter(|m| m.contains("ご注文代金のお支払いを確認しました"))
        .collect();
    assert_eq!(received.len(), 1, "one payment-received mail");
    assert!(received[0].contains(&number) && received[0].contains("銀行振込"));
    let notices: Vec<&String> = mails
        .iter()
        .filter(|m| m.contains("4321-8765-0987"))
        .collect();
    assert_eq!(notices.len(), 2, "one shipping notice per shipped order");
    for m in &notices {
        assert!(m.contains("ヤマト運輸"));
        assert!(m.contains(&number) || m.contains(&cod_number));
    }
}

//! The storefront through its real pages: catalog and search, the cart's limits, every
//! checkout field refusing bad input with a message, ordering (once, even when submitted
//! twice), stock never oversold, card payments through the provider's signed notifications
//! (forged or replayed ones refused), and unpaid card orders giving their stock back.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use kura_app::Clock;
use kura_app::orders::{OrderSettings, Orders};
use kura_domain::OrderStatus;

use crate::support::{self, Client, TestShop, hidden_value};

pub(crate) async fn shop() -> TestShop {
    let shop = support::sqlite_shop().await;
    kura::demo::ensure_catalog(&shop.state.store).await.unwrap();
    shop
}

pub(crate) async fn stock(shop: &TestShop, sku: &str) -> i64 {
    shop.state
        .store
        .catalog_items(&[sku.to_string()])
        .await
        .unwrap()[0]
        .stock
}

pub(crate) async fn add(c: &mut Client, slug: &str, sku: &str, qty: &str) -> support::Reply {
    let csrf = c.csrf_from(&format!("/products/{slug}")).await;
    c.post_form(
        "/cart/add",
        &[
            ("csrf_token", &csrf),
            ("slug", slug),
            ("sku", sku),
            ("quantity", qty),
        ],
    )
    .await
}

pub(crate) fn location(r: &support::Reply) -> String {
    r.headers
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

pub(crate) const GOOD: &[(&str, &str)] = &[
    ("family_name", "鏑木"),
    ("given_name", "瑞穂"),
    ("family_name_kana", "かぶらぎ"),
    ("given_name_kana", "ミズホ"),
    ("postal_code", "０６０－０００１"),
    ("prefecture", "1"),
    ("address1", "札幌市中央区北一条西2-1"),
    ("address2", ""),
    ("phone", "011-222-3333"),
    ("email", "mizuho@example.jp"),
    ("ship_to", "same"),
    ("delivery_date", ""),
    ("delivery_slot", "19-21"),
    ("payment", "cod"),
    ("birth_date", ""),
    ("gender", ""),
];

pub(crate) fn with(
    overrides: &[(&'static str, &'static str)],
) -> Vec<(&'static str, &'static str)> {
    GOOD.iter()
        .map(|(k, v)| {
            (
                *k,
                overrides
                    .iter()
                    .find(|(ok, _)| ok == k)
                    .map_or(*v, |(_, ov)| *ov),
            )
        })
        .collect()
}

pub(crate) async fn submit_checkout(c: &mut Client, fields: &[(&str, &str)]) -> support::Reply {
    let csrf = c.csrf_from("/checkout").await;
    let mut all: Vec<(&str, &str)> = vec![("csrf_token", &csrf)];
    all.extend_from_slice(fields);
    c.post_form("/checkout", &all).await
}

pub(crate) async fn place(c: &mut Client) -> support::Reply {
    let confirm = c.get("/checkout/confirm").await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    let csrf = hidden_value(&confirm.body, "csrf_token").unwrap();
    let attempt = hidden_value(&confirm.body, "attempt").unwrap();
    let total = hidden_value(&confirm.body, "total").unwrap();
    c.post_form(
        "/checkout/confirm",
        &[
            ("csrf_token", &csrf),
            ("attempt", &attempt),
            ("total", &total),
        ],
    )
    .await
}

/// A bank-transfer order placed through the shop's pages; returns its number.
pub(crate) async fn bank_transfer_order(c: &mut Client) -> String {
    add(c, "food-jar", "FJ-40", "1").await;
    let r = submit_checkout(c, &with(&[("payment", "bank_transfer")])).await;
    assert_eq!(location(&r), "/checkout/confirm", "{}", r.body);
    let placed = place(c).await;
    let to = location(&placed);
    assert!(
        to.starts_with("/orders/"),
        "{} {}",
        placed.status,
        placed.body
    );
    to.trim_start_matches("/orders/")
        .split(['?', '/'])
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_pages_and_japanese_search() {
    let shop = shop().await;
    let mut c = Client::new(&shop.router);
    let home = c.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("圧力IH炊飯器 かまど炊き"));
    let parts = c.get("/category/parts").await;
    assert!(
        parts.body.contains("内釜") && parts.body.contains("rel=\"next\""),
        "spare parts span pages"
    );
    let page2 = c.get("/category/parts?page=2").await;
    assert!(page2.body.contains("2 / 2"));
    assert_eq!(c.get("/category/parts?page=abc").await.status, 200);
    for (q, expect) in [
        ("内釜", "内釜（かまど炊き 3合用）"),
        ("パッキン", "内ぶたパッキン"),
        ("ｹﾄﾙ", "電気ケトル"),
        ("kettle", "電気ケトル"),
        ("KETTLE drip", "電気ケトル ドリップ"),
    ] {
        let r = c
            .get(&format!(
                "/search?q={}",
                support::encode_form(&[("", q)]).trim_start_matches('=')
            ))
            .await;
        assert_eq!(r.status, 200);
        assert!(r.body.contains(expect), "search {q:?} finds {expect:?}");
    }
    let none = c
        .get("/search?q=%E5%AD%98%E5%9C%A8%E3%81%97%E3%81%AA%E3%81%84%E5%95%86%E5%93%81")
        .await;
    assert!(none.body.contains("該当する商品はありません"));
    let wild = c.get("/search?q=%25%25%25_").await;
    assert_eq!(wild.status, 200, "LIKE wildcards are matched literally");
    assert!(wild.body.contains("該当する商品はありません"));
    assert_eq!(c.get("/products/no-such-thing").await.status, 404);
    let en = c
        .send(
            Request::get("/products/rice")
                .header("accept-language", "en")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(en.body.contains("Koshihikari rice 2 kg") && en.body.contains("reduced rate"));
    let svg = c.get("/images/kettle.svg").await;
    assert_eq!(svg.headers["content-type"], "image/svg+xml");
    assert_eq!(c.get("/images/../../etc/passwd").await.status, 404);
    let legal = c.get("/legal").await;
    assert!(legal.body.contains("特定商取引法に基づく表記") && legal.body.contains("販売業者"));
    assert!(legal.body.contains("株式会社蔵デモ製作所"));
    let legal_en = c
        .send(
            Request::get("/legal")
                .header("accept-language", "en")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(
        legal_en.body.contains("Kura Demo Works Co., Ltd.")
            && legal_en.body.contains("Until the order ships"),
        "the English page shows the notice in English"
    );
    assert!(!legal_en.body.contains("株式会社蔵デモ製作所"));
}

#[tokio::test(flavor = "multi_thread")]
async fn browsing_writes_no_session_rows() {
    let shop = shop().await;
    let mut c = Client::new(&shop.router);
    c.get("/products/rice").await;
    c.get("/products/kettle-filter").await;
    let rows = shop
        .state
        .store
        .count_rows(&kura_app::sealed::SESSIONS)
        .await
        .unwrap();
    assert_eq!(
        rows, 0,
        "a visitor who only browses costs no database write"
    );
    assert!(!c.cookies.is_empty(), "but holds a token for the forms");
    add(&mut c, "rice", "R-2KG", "1").await;
    assert_eq!(
        shop.state
            .store
            .count_rows(&kura_app::sealed::SESSIONS)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cart_refuses_odd_quantities_and_keeps_what_it_had() {
    let shop = shop().await;
    let mut c = Client::new(&shop.router);
    let ok = add(&mut c, "electric-kettle-drip", "EKD-08-RD", "２").await;
    assert_eq!(
        location(&ok),
        "/products/electric-kettle-drip?added=1",
        "full-width digits are read"
    );
    for (qty, code) in [
        ("0", "quantity_too_small"),
        ("-3", "quantity_too_small"),
        ("100", "quantity_too_large"),
        ("99999999999999999999999", "quantity_too_large"),
        ("two", "invalid_quantity"),
        ("", "invalid_quantity"),
    ] {
        let r = add(&mut c, "electric-kettle-drip", "EKD-08-RD", qty).await;
        assert_eq!(
            location(&r),
            format!("/products/electric-kettle-drip?problem={code}"),
            "quantity {qty:?}"
        );
        let page = c.get(&location(&r)).await;
        assert!(
            page.body.contains("class=\"notice\""),
            "the product page explains the problem"
        );
    }
    let sold = add(&mut c, "vacuum-bottle-light", "VBL-50-NV", "1").await;
    assert!(location(&sold).ends_with("problem=sold_out"));
    let short = add(&mut c, "electric-pot", "EP-30", "9").await;
    assert!(
        location(&short).ends_with("problem=insufficient_stock"),
        "{}",
        location(&short)
    );
    let unknown = add(&mut c, "rice", "NOPE-1", "1").await;
    assert!(location(&unknown).ends_with("problem=unknown_sku"));
    let cart = c.get("/cart").await;
    assert!(
        cart.body.contains("電気ケトル ドリップ") && cart.body.contains("¥11,960"),
        "the earlier line is intact"
    );
    assert!(!cart.body.contains("電動給湯ポット"));
    // Updating: a bad quantity keeps the line as it was and says why.
    let csrf = hidden_value(&cart.body, "csrf_token").unwrap();
    let bad = c
        .post_form(
            "/cart/update",
            &[
                ("csrf_token", &csrf),
                ("sku", "EKD-08-RD"),
                ("quantity", "1000"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("数量は99まで") && bad.body.contains("¥11,960"));
    let odd = c
        .post_form(
            "/cart/update",
            &[
                ("csrf_token", &csrf),
                ("sku", "EKD-08-RD"),
                ("quantity", "1"),
                ("price", "1"),
            ],
        )
        .await;
    assert_eq!(odd.status, 422, "unknown fields are refused, not ignored");
    let gone = c
        .post_form(
            "/cart/update",
            &[("csrf_token", &csrf), ("sku", "EKD-08-RD"), ("remove", "1")],
        )
        .await;
    assert_eq!(gone.status, 303);
    assert!(c.get("/cart").await.body.contains("カートは空です"));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_checkout_field_refuses_bad_input_with_a_message() {
    let shop = shop().await;
    let mut c = Client::new(&shop.router);
    add(&mut c, "rice", "R-2KG", "1").await;
    let empty: Vec<(&str, &str)> = GOOD.iter().map(|(k, _)| (*k, "")).collect();
    let r = submit_checkout(&mut c, &empty).await;
    assert_eq!(r.status, 422);
    for field in [
        "family_name",
        "given_name",
        "family_name_kana",
        "given_name_kana",
        "postal_code",
        "prefecture",
        "address1",
        "phone",
        "email",
        "payment",
    ] {
        assert!(
            r.body.contains(&format!("id=\"{field}-error\""))
                || r.body.contains("お支払い方法を選んでください"),
            "{field} has a message"
        );
    }
    assert!(
        !r.body.contains("id=\"birth_date-error\"") && !r.body.contains("id=\"gender-error\""),
        "optional fields may stay empty"
    );
    let long = "あ".repeat(31);
    type Case = (
        Vec<(&'static str, &'static str)>,
        &'static str,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            with(&[("family_name_kana", "鏑木")]),
            "family_name_kana",
            "カタカナで入力してください",
        ),
        (
            with(&[("postal_code", "12345")]),
            "postal_code",
            "郵便番号は7桁",
        ),
        (
            with(&[("phone", "12-34")]),
            "phone",
            "電話番号は0から始まる",
        ),
        (
            with(&[("email", "mizuho@")]),
            "email",
            "メールアドレスの形式",
        ),
        (
            with(&[("prefecture", "48")]),
            "prefecture",
            "都道府県を選んでください",
        ),
        (
            with(&[("given_name", "<b>瑞穂</b>")]),
            "given_name",
            "使えない文字",
        ),
        (
            with(&[("gender", "robot")]),
            "gender",
            "選択肢からお選びください",
        ),
        (
            with(&[("delivery_slot", "12-14")]),
            "delivery_slot",
            "選択肢からお選びください",
        ),
        (
            with(&[("delivery_date", "2000-01-01")]),
            "delivery_date",
            "表示されている日付",
        ),
        (
            with(&[("payment", "bitcoin")]),
            "payment",
            "お支払い方法を選んでください",
        ),
        (
            with(&[("payment", "card")]),
            "payment",
            "クレジットカードをご利用いただけません",
        ),
        (
            with(&[("ship_to", "other")]),
            "ship_family_name",
            "入力してください",
        ),
    ];
    for (fields, field, message) in cases {
        let r = submit_checkout(&mut c, &fields).await;
        assert_eq!(r.status, 422, "{field}");
        assert!(r.body.contains(message), "{field}: expected {message:?}");
        assert!(
            r.body.contains("value=\"札幌市中央区北一条西2-1\""),
            "{field}: what was typed is kept"
        );
    }
    let mut too_long = with(&[]);
    too_long[0] = ("family_name", Box::leak(long.into_boxed_str()));
    let r = submit_checkout(&mut c, &too_long).await;
    assert!(r.body.contains("30文字以内"));
    // Unknown fields and broken UTF-8: a clear message, nothing lost, no 500.
    let mut extra = with(&[]);
    extra.push(("admin", "1"));
    let r = submit_checkout(&mut c, &extra).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("送信内容を読み取れませんでした"));
    let csrf = c.csrf_from("/checkout").await;
    let raw = format!("csrf_token={csrf}&family_name=%FF%FE&given_name=x");
    let req = Request::post("/checkout")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "http://shop.test")
        .header("host", "shop.test")
        .body(Body::from(raw))
        .unwrap();
    let r = c.send(req).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("送信内容を読み取れませんでした"));
    // And the well-formed form goes through, normalising what was typed.
    let r = submit_checkout(&mut c, GOOD).await;
    assert_eq!(location(&r), "/checkout/confirm");
    let confirm = c.get("/checkout/confirm").await;
    assert!(confirm.body.contains("カブラギ ミズホ") && confirm.body.contains("〒060-0001"));
}

/// The log lines of one request (by its `x-request-id`).
fn log_lines_of(reply: &support::Reply) -> Vec<String> {
    let id = reply.headers["x-request-id"].to_str().unwrap().to_string();
    String::from_utf8_lossy(&support::captured_logs())
        .lines()
        .filter(|l| l.contains(&id))
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_card_number_in_a_checkout_field_empties_that_field_and_keeps_the_rest() {
    let shop = shop().await;
    let mut c = Client::new(&shop.router);
    add(&mut c, "rice", "R-2KG", "1").await;
    // Typed after the room number, in the buyer's second address line.
    let r = submit_checkout(
        &mut c,
        &with(&[("address2", "コーポ101 4242 4242 4242 4242")]),
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(
        r.body
            .contains("<form method=\"post\" action=\"/checkout\""),
        "the form comes back"
    );
    assert!(
        r.body.contains(
            "「建物名・部屋番号」にカード番号と思われる数字が含まれていたため、その欄を空にしました"
        ),
        "the field is named: {}",
        r.body
    );
    assert!(r.body.contains("id=\"address2-error\""));
    assert!(r.body.contains(
        "name=\"address2\" type=\"text\" autocomplete=\"billing address-line2\" value=\"\""
    ));
    for kept in [
        "value=\"鏑木\"",
        "value=\"瑞穂\"",
        "value=\"札幌市中央区北一条西2-1\"",
        "value=\"011-222-3333\"",
        "value=\"mizuho@example.jp\"",
        "value=\"19-21\" selected",
        "value=\"1\" selected",
        "value=\"cod\" checked",
    ] {
        assert!(r.body.contains(kept), "{kept} is kept");
    }
    assert!(!r.body.contains("4242 4242"), "the number is not echoed");
    assert_eq!(
        c.get("/checkout/confirm").await.status,
        303,
        "no draft was kept"
    );
    // The guard heard of it, and the log holds no number.
    let lines = log_lines_of(&r);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("input_validation_fail:card_number")),
        "{lines:?}"
    );
    // The number as typed, or its digits run together; a bare "4242" may occur by chance in
    // a timing or a random id on the line.
    let leaks = |l: &&String| l.contains("4242 4242") || l.contains("42424242");
    assert!(
        !lines.iter().any(|l| leaks(&l)),
        "{:?}",
        lines.iter().filter(leaks).collect::<Vec<_>>()
    );

    // In English, in the recipient's phone, with other mistakes on the form: each is named.
    let csrf = c.csrf_from("/checkout").await;
    let request = {
        let mut fields: Vec<(&str, &str)> = with(&[
            ("ship_to", "other"),
            ("family_name_kana", "鏑木"),
            ("email", "not-an-email"),
        ]);
        fields.extend([
            ("ship_family_name", "佐藤"),
            ("ship_given_name", "花子"),
            ("ship_family_name_kana", "サトウ"),
            ("ship_given_name_kana", "ハナコ"),
            ("ship_postal_code", "100-0001"),
            ("ship_prefecture", "13"),
            ("ship_address1", "千代田区千代田1-1"),
            ("ship_address2", ""),
            ("ship_phone", "03-1234-5678 4242-4242-4242-4242"),
        ]);
        fields.push(("csrf_token", &csrf));
        Request::post("/checkout")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", "http://shop.test")
            .header("host", "shop.test")
            .header("accept-language", "en")
            .header("cookie", c.cookie_header())
            .body(Body::from(support::encode_form(&fields)))
            .unwrap()
    };
    let r = c.send(request).await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains(
            "“Phone number (recipient)” held what looks like a card number, so we emptied it"
        ),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("id=\"ship_phone-error\"")
            && r.body.contains("Please do not enter a card number here.")
    );
    assert!(
        r.body.contains("id=\"family_name_kana-error\"") && r.body.contains("id=\"email-error\"")
    );
    assert!(
        r.body.contains("value=\"千代田区千代田1-1\"") && r.body.contains("value=\"not-an-email\"")
    );
    assert!(!r.body.contains("4242-4242") && !r.body.contains("4242 4242"));

    // Elsewhere the request is refused outright, as before: a search, and the JSON API.
    let q = c.get("/search?q=4111111111111111").await;
    assert_eq!(q.status, 422);
    let api = c
        .send(
            Request::post("/api/v1/carts/abc/checkout")
                .header("content-type", "application/json")
                .body(Body::from(
                    r#"{"customer":{"address2":"1-2-3 4242424242424242"}}"#,
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(api.status, 422);
    assert!(api.body.contains("\"card_number_refused\""), "{}", api.body);
    assert!(!api.body.contains("42424242"));
    let logs = String::from_utf8_lossy(&support::captured_logs()).into_owned();
    assert!(
        !logs.contains("4242 4242 4242 4242") && !logs.contains("4111111111111111"),
        "card numbers never reach the log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cash_on_delivery_order_once_with_stock_taken_and_mail_sent() {
    let shop = shop().await;
    let before = stock(&shop, "EKD-08-RD").await;
    let mut c = Client::new(&shop.router);
    add(&mut c, "electric-kettle-drip", "EKD-08-RD", "2").await;
    add(&mut c, "rice", "R-2KG", "1").await;
    assert_eq!(
        location(&submit_checkout(&mut c, GOOD).await),
        "/checkout/confirm"
    );
    let confirm = c.get("/checkout/confirm").await;
    // Goods ¥13,940 reach free shipping (¥11,000); COD fee ¥440; tax once per rate.
    for fact in [
        "¥11,960",
        "¥1,980",
        "¥0",
        "¥440",
        "¥14,380",
        "10%対象",
        "¥12,400",
        "¥1,127",
        "8%対象",
        "¥146",
        "キャンセル",
        "代金引換",
        "19時〜21時",
    ] {
        assert!(
            confirm.body.contains(fact),
            "the confirmation page shows {fact}"
        );
    }
    let csrf = hidden_value(&confirm.body, "csrf_token").unwrap();
    let attempt = hidden_value(&confirm.body, "attempt").unwrap();
    let total = hidden_value(&confirm.body, "total").unwrap();
    let first = c
        .post_form(
            "/checkout/confirm",
            &[
                ("csrf_token", &csrf),
                ("attempt", &attempt),
                ("total", &total),
            ],
        )
        .await;
    let second = c
        .post_form(
            "/checkout/confirm",
            &[
                ("csrf_token", &csrf),
                ("attempt", &attempt),
                ("total", &total),
            ],
        )
        .await;
    assert_eq!(
        location(&first),
        location(&second),
        "submitting twice shows the same order"
    );
    assert_eq!(shop.state.store.count_orders().await.unwrap(), 1);
    assert_eq!(stock(&shop, "EKD-08-RD").await, before - 2);
    let order = c.get(&location(&first)).await;
    assert!(
        order.body.contains("ご注文ありがとうございます")
            && order.body.contains("ご注文確定")
            && order.body.contains("¥14,380")
    );
    let number = location(&first).trim_start_matches("/orders/").to_string();
    // Someone else cannot see it, whatever the number.
    let mut stranger = Client::new(&shop.router);
    assert_eq!(stranger.get(&location(&first)).await.status, 404);
    // The confirmation mail is queued sealed, then delivered.
    assert_eq!(
        shop.state
            .store
            .count_rows(&kura_app::sealed::MAIL_OUTBOX)
            .await
            .unwrap(),
        1
    );
    let (sent, failed) = shop
        .state
        .outbox
        .deliver_due(shop.state.mailer.as_ref())
        .await
        .unwrap();
    assert_eq!((sent, failed), (1, 0));
    let files: Vec<_> = std::fs::read_dir(&shop.config.mail.outbox_dir)
        .unwrap()
        .collect();
    assert_eq!(files.len(), 1);
    let eml = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
    assert!(
        eml.contains(&number) || eml.contains("Content-Transfer-Encoding"),
        "the mail names the order"
    );
    assert_eq!(
        shop.state
            .store
            .count_rows(&kura_app::sealed::MAIL_OUTBOX)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_unit_goes_to_one_buyer_only() {
    let shop = shop().await;
    shop.state.store.set_stock("EKD-12-BK", 1).await.unwrap();
    let mut a = Client::new(&shop.router);
    let mut b = Client::new(&shop.router);
    for c in [&mut a, &mut b] {
        add(c, "electric-kettle-drip", "EKD-12-BK", "1").await;
        assert_eq!(
            location(&submit_checkout(c, GOOD).await),
            "/checkout/confirm"
        );
    }
    // Both reached the final page while one unit was left; then both press the button.
    let mut forms = Vec::new();
    for c in [&mut a, &mut b] {
        let confirm = c.get("/checkout/confirm").await;
        forms.push((
            hidden_value(&confirm.body, "csrf_token").unwrap(),
            hidden_value(&confirm.body, "attempt").unwrap(),
            hidden_value(&confirm.body, "total").unwrap(),
        ));
    }
    let ra = a
        .post_form(
            "/checkout/confirm",
            &[
                ("csrf_token", &forms[0].0),
                ("attempt", &forms[0].1),
                ("total", &forms[0].2),
            ],
        )
        .await;
    let rb = b
        .post_form(
            "/checkout/confirm",
            &[
                ("csrf_token", &forms[1].0),
                ("attempt", &forms[1].1),
                ("total", &forms[1].2),
            ],
        )
        .await;
    assert!(location(&ra).starts_with("/orders/"));
    assert_eq!(rb.status, 409);
    assert!(rb.body.contains("売り切れた商品があります"));
    assert_eq!(stock(&shop, "EKD-12-BK").await, 0);
    assert_eq!(shop.state.store.count_orders().await.unwrap(), 1);
    let cart = b.get("/cart").await;
    assert!(
        cart.body.contains("売り切れです") && !cart.body.contains("href=\"/checkout\""),
        "the cart says what sold out and holds checkout back"
    );
}

/// A clock the test moves.
pub(crate) struct Later(pub(crate) i64);
impl Clock for Later {
    fn now(&self) -> i64 {
        self.0
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn card_orders_are_paid_only_by_a_genuine_notification_and_expire_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let config = support::test_config(dir.path(), None);
    let sandbox = kura_pay::sandbox::start(kura_pay::sandbox::SandboxConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .unwrap();
    let secret = kura_pay::sandbox::DEFAULT_WEBHOOK_SECRET;
    let gateway = kura_pay::StripeCheckout::new(kura_pay::StripeConfig::new(
        sandbox.base_url().to_string(),
        secrecy::SecretString::from(kura_pay::sandbox::DEFAULT_SECRET_KEY.to_string()),
        secrecy::SecretString::from(secret.to_string()),
    ))
    .unwrap();
    kura::shop::init_keys(&config).await.unwrap();
    let state = kura::shop::build_at(&config, "http://shop.test", Some(Arc::new(gateway)))
        .await
        .unwrap();
    kura::demo::ensure_catalog(&state.store).await.unwrap();
    let router = kura_web::router(Arc::clone(&state));
    let before = state
        .store
        .catalog_items(&["FJ-40".to_string()])
        .await
        .unwrap()[0]
        .stock;
    let mut c = Client::new(&router);
    let csrf = c.csrf_from("/products/food-jar").await;
    c.post_form(
        "/cart/add",
        &[
            ("csrf_token", &csrf),
            ("slug", "food-jar"),
            ("sku", "FJ-40"),
            ("quantity", "1"),
        ],
    )
    .await;
    assert_eq!(
        location(&submit_checkout(&mut c, &with(&[("payment", "card")])).await),
        "/checkout/confirm"
    );
    let placed = place(&mut c).await;
    let pay_url = location(&placed);
    assert!(
        pay_url.starts_with(sandbox.base_url()),
        "the customer is sent to the provider's page: {pay_url}"
    );
    let order = state.store.orders_of_customer(0, 1).await.unwrap();
    assert!(order.is_empty());
    let number = {
        let page = c.get("/cart").await;
        assert!(page.body.contains("カートは空です"));
        let rec = state.store.count_orders().await.unwrap();
        assert_eq!(rec, 1);
        // The order number is in the provider's session; read it back from the order page link.
        let data_order = state
            .orders
            .view_by_id(*c_recent(&state, &c).await.last().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(data_order.status, OrderStatus::AwaitingPayment);
        data_order.number
    };
    let rec = state.store.order_by_number(&number).await.unwrap().unwrap();
    let session_id = rec.payment_session_id.clone().unwrap();
    let event = |id: &str, kind: &str, amount: i64| {
        serde_json::json!({
            "id": id, "object": "event", "type": kind, "created": 0,
            "data": {"object": {"id": session_id, "object": "checkout.session", "client_reference_id": number,
              "amount_total": amount, "currency": "jpy", "payment_status": "paid", "status": "complete"}}
        })
        .to_string()
    };
    let now = kura_app::SystemClock.now();
    let post = |body: String, signature: String| {
        Request::post("/webhooks/payments")
            .header("content-type", "application/json")
            .header("stripe-signature", signature)
            .body(Body::from(body))
            .unwrap()
    };
    let total = rec.totals.total.0;
    // Forged: wrong secret, tampered amount, stale timestamp, no header.
    let body = event("evt_1", "checkout.session.completed", total);
    let forged = kura_pay::signature::header_value(b"whsec_attacker", now, body.as_bytes());
    assert_eq!(c.send(post(body.clone(), forged)).await.status, 400);
    let good_sig = kura_pay::signature::header_value(secret.as_bytes(), now, body.as_bytes());
    let tampered = event("evt_1", "checkout.session.completed", 1);
    assert_eq!(c.send(post(tampered, good_sig.clone())).await.status, 400);
    let stale = kura_pay::signature::header_value(secret.as_bytes(), now - 3600, body.as_bytes());
    assert_eq!(c.send(post(body.clone(), stale)).await.status, 400);
    assert_eq!(c.send(post(body.clone(), String::new())).await.status, 400);
    assert_eq!(
        state
            .store
            .order_by_number(&number)
            .await
            .unwrap()
            .unwrap()
            .status,
        OrderStatus::AwaitingPayment
    );
    // A genuine notification with the wrong amount does not mark it paid either.
    let wrong_amount = event("evt_2", "checkout.session.completed", total - 1);
    let sig = kura_pay::signature::header_value(secret.as_bytes(), now, wrong_amount.as_bytes());
    assert_eq!(c.send(post(wrong_amount, sig)).await.status, 200);
    assert_eq!(
        state
            .store
            .order_by_number(&number)
            .await
            .unwrap()
            .unwrap()
            .status,
        OrderStatus::AwaitingPayment
    );
    // Genuine: paid; replayed: nothing more happens.
    assert_eq!(
        c.send(post(body.clone(), good_sig.clone())).await.status,
        200
    );
    assert_eq!(
        state
            .store
            .order_by_number(&number)
            .await
            .unwrap()
            .unwrap()
            .status,
        OrderStatus::Paid
    );
    assert_eq!(c.send(post(body, good_sig)).await.status, 200);
    assert_eq!(
        state
            .store
            .order_by_number(&number)
            .await
            .unwrap()
            .unwrap()
            .status,
        OrderStatus::Paid
    );
    let page = c.get(&format!("/orders/{number}")).await;
    assert!(page.body.contains("お支払い済み"));
    // A second card order nobody pays expires after its deadline and gives its stock back.
    let csrf = c.csrf_from("/products/food-jar").await;
    c.post_form(
        "/cart/add",
        &[
            ("csrf_token", &csrf),
            ("slug", "food-jar"),
            ("sku", "FJ-40"),
            ("quantity", "3"),
        ],
    )
    .await;
    assert_eq!(
        location(&submit_checkout(&mut c, &with(&[("payment", "card")])).await),
        "/checkout/confirm"
    );
    place(&mut c).await;
    assert_eq!(
        state
            .store
            .catalog_items(&["FJ-40".to_string()])
            .await
            .unwrap()[0]
            .stock,
        before - 4
    );
    let unpaid_id = *c_recent(&state, &c).await.last().unwrap();
    let notifier = Arc::new(NoMail);
    let later = Orders::new(
        Arc::clone(&state.store),
        Arc::clone(&state.vault),
        Arc::new(Later(now + 31 * 60)),
        None,
        notifier,
        OrderSettings {
            base_url: "http://shop.test".into(),
            transfer_days: 7,
            card_minutes: 30,
            pages: kura_web::order_pages(),
        },
    );
    assert_eq!(
        state.orders.expire_due().await.unwrap(),
        0,
        "not before the deadline"
    );
    assert_eq!(later.expire_due().await.unwrap(), 1);
    assert_eq!(
        state
            .orders
            .view_by_id(unpaid_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        OrderStatus::Expired
    );
    assert_eq!(
        state
            .store
            .catalog_items(&["FJ-40".to_string()])
            .await
            .unwrap()[0]
            .stock,
        before - 1,
        "only the paid unit is gone"
    );
}

struct NoMail;
impl kura_app::orders::OrderNotifier for NoMail {
    fn order_placed(
        &self,
        _: &kura_app::orders::OrderView,
        _: &str,
    ) -> Result<Option<kura_app::sealed::OutboxRecord>, kura_app::AppError> {
        Ok(None)
    }
}

/// The orders this browser's session placed.
pub(crate) async fn c_recent(state: &kura_web::AppState, c: &Client) -> Vec<i64> {
    let token = c.cookies.get("kura_session").unwrap();
    let token = kura_seal::SessionToken::parse(token).unwrap();
    state
        .sessions
        .load(&token)
        .await
        .unwrap()
        .unwrap()
        .data
        .recent_orders
}

#[tokio::test(flavor = "multi_thread")]
async fn a_price_that_moves_after_the_final_page_is_not_charged_silently() {
    let shop = shop().await;
    let mut c = Client::new(&shop.router);
    add(&mut c, "rice", "R-2KG", "1").await;
    assert_eq!(
        location(&submit_checkout(&mut c, GOOD).await),
        "/checkout/confirm"
    );
    let confirm = c.get("/checkout/confirm").await;
    assert!(confirm.body.contains("¥1,980"));
    let csrf = hidden_value(&confirm.body, "csrf_token").unwrap();
    let attempt = hidden_value(&confirm.body, "attempt").unwrap();
    let total = hidden_value(&confirm.body, "total").unwrap();
    shop.state
        .store
        .set_price("R-2KG", kura_domain::Yen(2_180))
        .await
        .unwrap();
    let r = c
        .post_form(
            "/checkout/confirm",
            &[
                ("csrf_token", &csrf),
                ("attempt", &attempt),
                ("total", &total),
            ],
        )
        .await;
    assert_eq!(r.status, 409);
    assert!(
        r.body.contains("価格が変更された商品があります") && r.body.contains("¥2,180"),
        "the new price is shown"
    );
    assert_eq!(shop.state.store.count_orders().await.unwrap(), 0);
    let new_total = hidden_value(&r.body, "total").unwrap();
    let placed = c
        .post_form(
            "/checkout/confirm",
            &[
                ("csrf_token", &csrf),
                ("attempt", &attempt),
                ("total", &new_total),
            ],
        )
        .await;
    assert!(
        location(&placed).starts_with("/orders/"),
        "confirming the new total orders"
    );
}

/// An order's later steps as staff record them: packed, shipped, delivered, each mailed; an
/// unpaid order cancelled with its stock back; a bank transfer past its deadline cancelled by
/// the shop's job (not a day before), with a mail that says why.
#[tokio::test(flavor = "multi_thread")]
async fn orders_move_through_packed_shipped_delivered_and_cancelled_with_a_mail_each() {
    let shop = shop().await;
    let mut c = Client::new(&shop.router);
    let captured = crate::card_payments::Captured::default();
    let orders = &shop.state.orders;

    // Cash on delivery: confirmed → packed → shipped → delivered.
    add(&mut c, "food-jar", "FJ-40", "1").await;
    let r = submit_checkout(&mut c, &with(&[("payment", "cod")])).await;
    assert_eq!(location(&r), "/checkout/confirm", "{}", r.body);
    let to = location(&place(&mut c).await);
    let cod = to
        .trim_start_matches("/orders/")
        .split(['?', '/'])
        .next()
        .unwrap()
        .to_string();
    captured.deliver(&shop.state).await;
    assert_eq!(
        orders.mark_delivered(&cod).await.unwrap().unwrap_err(),
        kura_app::orders::FulfilError::WrongStatus(OrderStatus::Confirmed),
        "not delivered before it ships"
    );
    assert_eq!(orders.mark_packed(&cod).await.unwrap(), Ok(()));
    assert_eq!(
        orders.mark_packed(&cod).await.unwrap().unwrap_err(),
        kura_app::orders::FulfilError::WrongStatus(OrderStatus::Packed)
    );
    let parcel = kura_app::orders::Parcel {
        carrier: "ヤマト運輸".into(),
        tracking_number: "1234-5678-9012".into(),
        tracking_url: None,
    };
    assert_eq!(orders.mark_shipped(&cod, &parcel).await.unwrap(), Ok(()));
    assert_eq!(orders.mark_delivered(&cod).await.unwrap(), Ok(()));
    let rec = shop
        .state
        .store
        .order_by_number(&cod)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, OrderStatus::Delivered);
    let kinds: Vec<String> = captured
        .deliver(&shop.state)
        .await
        .iter()
        .map(|m| format!("{}: {}", m.kind, m.subject))
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert!(kinds[0].contains("発送準備が整いました"), "{kinds:?}");
    assert!(kinds[1].starts_with("shipping_notice"), "{kinds:?}");
    assert!(kinds[2].contains("お届けが完了しました"), "{kinds:?}");
    assert_eq!(
        orders.cancel(&cod).await.unwrap().unwrap_err(),
        kura_app::orders::FulfilError::WrongStatus(OrderStatus::Delivered),
        "a delivered order is not cancelled"
    );

    // An unpaid bank transfer cancelled by the shop: stock back, one mail.
    let before = stock(&shop, "FJ-40").await;
    let cancelled = bank_transfer_order(&mut c).await;
    assert_eq!(stock(&shop, "FJ-40").await, before - 1);
    captured.deliver(&shop.state).await;
    assert_eq!(orders.cancel(&cancelled).await.unwrap(), Ok(()));
    assert_eq!(stock(&shop, "FJ-40").await, before);
    let mails = captured.deliver(&shop.state).await;
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].text.contains("ご注文をキャンセルいたしました"),
        "{}",
        mails[0].text
    );

    // A transfer that never comes: cancelled the day after its deadline, not on it.
    let late = bank_transfer_order(&mut c).await;
    captured.deliver(&shop.state).await;
    let placed_at = shop
        .state
        .store
        .order_by_number(&late)
        .await
        .unwrap()
        .unwrap()
        .created_at;
    let later = |seconds: i64| {
        Orders::new(
            Arc::clone(&shop.state.store),
            Arc::clone(&shop.state.vault),
            Arc::new(Later(placed_at + seconds)),
            None,
            Arc::new(kura::notify::MailNotifier {
                outbox: Arc::clone(&shop.state.outbox),
                shop_name: "Kura".into(),
                bank: kura_web::BankAccount::default(),
                clock: Arc::new(Later(placed_at + seconds)),
                desk: String::new(),
                desk_en: String::new(),
            }),
            OrderSettings {
                base_url: "http://shop.test".into(),
                transfer_days: 7,
                card_minutes: 30,
                pages: kura_web::order_pages(),
            },
        )
    };
    // Seven days later it is still the deadline day (or before) in Japan.
    assert_eq!(later(6 * 86_400).expire_transfers_due().await.unwrap(), 0);
    assert_eq!(later(9 * 86_400).expire_transfers_due().await.unwrap(), 1);
    let rec = shop
        .state
        .store
        .order_by_number(&late)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, OrderStatus::Cancelled);
    let mails = captured.deliver(&shop.state).await;
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0]
            .text
            .contains("お振込期限までにご入金を確認できなかった"),
        "{}",
        mails[0].text
    );
    assert!(mails[0].text.contains(&late));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postal_code_fills_in_the_address_with_or_without_scripts() {
    let shop = shop().await;
    let mut c = Client::new(&shop.router);
    // The lookup the page's script calls: Japan Post's data, compiled in.
    let r = c.get("/postal/1050011").await;
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        (
            v["prefecture"].as_str(),
            v["city"].as_str(),
            v["town"].as_str()
        ),
        (Some("13"), Some("港区"), Some("芝公園"))
    );
    assert_eq!(c.get("/postal/0000000").await.status, 404);
    assert_eq!(c.get("/postal/12-34").await.status, 404);
    // Without scripts: the lookup button posts the form, which comes back with the prefecture
    // and the first address line filled in and everything typed kept; no order step is taken.
    add(&mut c, "rice", "R-2KG", "1").await;
    let typed = with(&[
        ("postal_code", "〒１５０－００４１"),
        ("prefecture", ""),
        ("address1", ""),
        ("family_name", "岡"),
    ]);
    let mut fields = typed.clone();
    fields.push(("lookup", "billing"));
    let r = submit_checkout(&mut c, &fields).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("〒150-0041 の住所を入力しました"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("<option value=\"13\" selected>"),
        "Tokyo is chosen"
    );
    assert!(r.body.contains("value=\"渋谷区神南\""), "{}", r.body);
    assert!(r.body.contains("value=\"岡\""), "what was typed is kept");
    assert_ne!(
        c.get("/checkout/confirm").await.status,
        200,
        "a lookup makes no draft order"
    );
    // The recipient's lookup chooses "another address" too; an unknown code is named.
    let mut fields = GOOD.to_vec();
    fields.extend([("ship_postal_code", "530-0001"), ("lookup", "shipping")]);
    let r = submit_checkout(&mut c, &fields).await;
    assert!(r.body.contains("value=\"大阪市北区梅田\""), "{}", r.body);
    assert!(r.body.contains("name=\"ship_to\" value=\"other\" checked"));
    let mut fields = with(&[("postal_code", "999-9999")]);
    fields.push(("lookup", "billing"));
    let r = submit_checkout(&mut c, &fields).await;
    assert!(
        r.body.contains("この郵便番号の住所が見つかりません"),
        "{}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_final_page_names_the_transfer_deadline_and_the_earliest_delivery() {
    let shop = shop().await;
    let mut c = Client::new(&shop.router);
    add(&mut c, "rice", "R-2KG", "1").await;
    let today = kura_domain::Date::today_in_japan(shop.state.clock.now());
    let r = submit_checkout(&mut c, &with(&[("payment", "bank_transfer")])).await;
    assert_eq!(location(&r), "/checkout/confirm", "{}", r.body);
    let page = c.get("/checkout/confirm").await.body;
    let deadline = today.add_days(shop.config.bank.deadline_days).label_ja();
    assert!(
        page.contains(&format!("お振込期限：{deadline}")) && page.contains("自動的にキャンセル"),
        "{page}"
    );
    // Sapporo (Hokkaido) without a chosen date: a day after the general earliest.
    let (first, _) = shop.state.orders.delivery_window();
    assert!(
        page.contains(&format!("最短で{}のお届け", first.add_days(1).label_ja())),
        "{page}"
    );
    // The general earliest date is refused for Hokkaido, accepted for Tokyo.
    let r = submit_checkout(
        &mut c,
        &with(&[("delivery_date", &*Box::leak(first.iso().into_boxed_str()))]),
    )
    .await;
    assert_eq!(r.status, 422, "Hokkaido needs a day more");
    assert!(r.body.contains("id=\"delivery_date\""));
    let tokyo = with(&[
        ("delivery_date", Box::leak(first.iso().into_boxed_str())),
        ("prefecture", "13"),
        ("postal_code", "105-0011"),
        ("address1", "港区芝公園4-2-8"),
    ]);
    let r = submit_checkout(&mut c, &tokyo).await;
    assert_eq!(location(&r), "/checkout/confirm", "{}", r.body);
    // The earliest date keeps the promise: at least five business days away.
    assert!(first > kura_domain::calendar::business_days_after(today, 5));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pages_every_shop_has_state_what_the_shop_does() {
    let shop = shop().await;
    let mut c = Client::new(&shop.router);
    let home = c.get("/").await.body;
    for link in [
        "/faq",
        "/contact",
        "/terms",
        "/privacy",
        "/legal",
        "/mail-check",
        "/orders/lookup",
    ] {
        assert!(
            home.contains(&format!("href=\"{link}\"")),
            "the footer links {link}"
        );
    }
    // The calendar and the earliest date come from the calendar the checkout uses.
    let today = kura_domain::Date::today_in_japan(shop.state.clock.now());
    let tokyo = kura_domain::Prefecture::parse("東京都").unwrap();
    let earliest = kura_domain::calendar::earliest_delivery_to(today, tokyo);
    assert!(
        home.contains(&format!("最短のお届けは{}です", earliest.label_ja())),
        "{home}"
    );
    assert!(home.contains(&format!("{}年{}月", today.year, today.month)));
    assert!(home.contains("<td>¥770</td>") && home.contains("11,000円以上で送料無料"));
    // The privacy policy states the periods the retention job uses and where the key lives.
    let (personal, accounting) = shop.state.retention.periods().await.unwrap();
    let privacy = c.get("/privacy").await;
    assert_eq!(privacy.status, 200);
    assert!(
        privacy
            .body
            .contains(&format!("最後のご注文から{personal}年"))
    );
    assert!(
        privacy
            .body
            .contains(&format!("税法に基づき{accounting}年"))
    );
    assert!(
        privacy
            .body
            .contains("マスター鍵はデータベースとは別の鍵ファイル")
    );
    assert!(privacy.body.contains("href=\"/contact\""));
    for (path, ja, en) in [
        (
            "/terms",
            "第1条（ご注文と契約の成立）",
            "1. Orders and contract",
        ),
        ("/faq", "送料はいくらですか？", "How much is shipping?"),
        (
            "/privacy",
            "開示・訂正・消去のご請求",
            "Seeing, correcting or erasing your data",
        ),
    ] {
        let r = c.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(r.body.contains(ja), "{path}");
        let mut en_client = Client::new(&shop.router);
        en_client.get("/lang/en?back=/").await;
        let r = en_client.get(path).await;
        assert!(r.body.contains(en), "{path} in English: {}", r.body);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_character_is_named_in_the_message() {
    let shop = shop().await;
    let mut c = Client::new(&shop.router);
    add(&mut c, "rice", "R-2KG", "1").await;
    let r = submit_checkout(
        &mut c,
        &with(&[("given_name", "瑞穂😀"), ("address2", "<b>")]),
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("「😀」(U+1F600) は使えない文字です"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("value=\"瑞穂😀\""),
        "what was typed is kept"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_english_checkout_takes_a_name_without_a_japanese_reading() {
    let shop = shop().await;
    let mut c = Client::new(&shop.router);
    add(&mut c, "rice", "R-2KG", "1").await;
    let foreign = with(&[
        ("family_name", "Miller"),
        ("given_name", "Emma"),
        ("family_name_kana", ""),
        ("given_name_kana", ""),
    ]);
    // A Japanese page asks for the reading in katakana.
    let r = submit_checkout(&mut c, &foreign).await;
    assert_eq!(r.status, 422);
    // An English page takes the name as its own reading, and writes it given name first.
    c.get("/lang/en?back=/").await;
    let r = submit_checkout(&mut c, &foreign).await;
    assert_eq!(location(&r), "/checkout/confirm", "{}", r.body);
    let page = c.get("/checkout/confirm").await.body;
    assert!(page.contains("<p>Emma Miller<br>"), "{page}");
    // A reading in Latin letters is taken as typed; a kanji one is not a reading.
    let r = submit_checkout(
        &mut c,
        &with(&[("family_name_kana", "Mira"), ("given_name_kana", "Mizuho")]),
    )
    .await;
    assert_eq!(location(&r), "/checkout/confirm", "{}", r.body);
    let r = submit_checkout(&mut c, &with(&[("family_name_kana", "鏑木")])).await;
    assert_eq!(r.status, 422);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gift_order_carries_its_noshi_wrapping_and_note_sealed() {
    let shop = shop().await;
    let mut c = Client::new(&shop.router);
    add(&mut c, "rice", "R-2KG", "1").await;
    let note = "置き配を希望します。\n玄関前にお願いします。";
    let mut fields = GOOD.to_vec();
    fields.extend([
        ("noshi", "return_gift"),
        ("noshi_name", "鏑木"),
        ("wrapping", "1"),
        ("note", note),
    ]);
    // A name on a のし that is not chosen, an unknown purpose and a card number are refused.
    let mut bad = GOOD.to_vec();
    bad.extend([
        ("noshi", ""),
        ("noshi_name", "鏑木"),
        ("note", "4242 4242 4242 4242"),
    ]);
    let r = submit_checkout(&mut c, &bad).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("id=\"noshi_name-error\"") && r.body.contains("id=\"note-error\""));
    let r = submit_checkout(&mut c, &fields).await;
    assert_eq!(location(&r), "/checkout/confirm", "{}", r.body);
    let confirm = c.get("/checkout/confirm").await.body;
    assert!(
        confirm.contains("のし：内祝（名入れ：鏑木）、ギフト包装"),
        "{confirm}"
    );
    assert!(confirm.contains("置き配を希望します。\n玄関前にお願いします。"));
    // Back to the form: what was chosen is kept.
    let form = c.get("/checkout").await.body;
    assert!(form.contains("<option value=\"return_gift\" selected>"));
    assert!(form.contains("name=\"wrapping\" value=\"1\" checked"));
    let placed = place(&mut c).await;
    let to = location(&placed);
    let page = c.get(&to).await.body;
    assert!(
        page.contains("のし：内祝（名入れ：鏑木）、ギフト包装"),
        "{page}"
    );
    assert!(page.contains("玄関前にお願いします。"));
    let mails = crate::accounts::delivered_mails(&shop).await;
    let mail = mails
        .iter()
        .find(|m| m.contains("ご注文番号"))
        .expect("the order mail");
    assert!(
        mail.contains("ギフト：のし：内祝（名入れ：鏑木）、ギフト包装"),
        "{mail}"
    );
    assert!(mail.contains("置き配を希望します。"), "{mail}");
    // The note and the name on the のし are sealed with the buyer: not in the database files.
    for name in ["kura.db", "kura.db-wal"] {
        let bytes = std::fs::read(shop.dir.path().join(name)).unwrap_or_default();
        for secret in ["置き配を希望します", "玄関前にお願いします"] {
            let needle = secret.as_bytes();
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{secret} in {name}"
            );
        }
    }
}

//! Customer accounts, as a customer and an attacker would try them: register, confirm the
//! address, sign in, be throttled, reset, change details, close the account.

use base64::Engine;
use kura_app::sealed::CUSTOMER_ADDRESSES;

use crate::support::{self, Client, TestShop};

const PASSWORD: &str = "Tsuki no Usagi ga hashiru 42";
const NEW_PASSWORD: &str = "Kaminari to ame no yoru ni 17";

fn profile_fields(n: u32, email: &str) -> Vec<(String, String)> {
    let p = support::profile(n);
    let person = &p.person;
    vec![
        ("family_name".into(), person.family_name.as_str().into()),
        ("given_name".into(), person.given_name.as_str().into()),
        (
            "family_name_kana".into(),
            person.family_name_kana.as_str().into(),
        ),
        (
            "given_name_kana".into(),
            person.given_name_kana.as_str().into(),
        ),
        ("postal_code".into(), person.postal_code.as_str().into()),
        ("prefecture".into(), person.prefecture.code().to_string()),
        ("address1".into(), person.address1.as_str().into()),
        (
            "address2".into(),
            person
                .address2
                .as_ref()
                .map(|a| a.as_str().to_string())
                .unwrap_or_default(),
        ),
        ("phone".into(), person.phone.as_str().into()),
        ("email".into(), email.into()),
        ("birth_date".into(), String::new()),
        ("gender".into(), String::new()),
    ]
}

async fn post(client: &mut Client, path: &str, fields: &[(String, String)]) -> support::Reply {
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    client.post_form(path, &refs).await
}

async fn register(client: &mut Client, email: &str, password: &str) -> support::Reply {
    let csrf = client.csrf_from("/account/register").await;
    let mut fields = profile_fields(1, email);
    fields.push(("csrf_token".into(), csrf));
    fields.push(("password".into(), password.into()));
    fields.push(("password_confirm".into(), password.into()));
    post(client, "/account/register", &fields).await
}

async fn sign_in(client: &mut Client, email: &str, password: &str) -> support::Reply {
    let csrf = client.csrf_from("/login").await;
    client
        .post_form(
            "/login",
            &[
                ("email", email),
                ("password", password),
                ("csrf_token", &csrf),
            ],
        )
        .await
}

/// Every mail delivered so far, bodies decoded, one string each.
pub(crate) async fn delivered_mails(shop: &TestShop) -> Vec<String> {
    shop.state
        .outbox
        .deliver_due(shop.state.mailer.as_ref())
        .await
        .unwrap();
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(&shop.config.mail.outbox_dir) else {
        return out;
    };
    for entry in dir {
        let raw = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let mut text = raw
            .replace("=\r\n", "")
            .replace("=\n", "")
            .replace("=3D", "=");
        // Base64 parts: decode every run of base64-looking lines.
        let mut block = String::new();
        for line in raw.lines().chain(std::iter::once("")) {
            let l = line.trim();
            if !l.is_empty()
                && l.len() >= 16
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
            {
                block.push_str(l);
            } else if !block.is_empty() {
                if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&block) {
                    text.push_str(&String::from_utf8_lossy(&bytes));
                }
                block.clear();
            }
        }
        out.push(text);
    }
    out
}

/// The path of the newest link `/account/<kind>/<64 hex>` in the delivered mails.
async fn link_in_mail(shop: &TestShop, kind: &str) -> Option<String> {
    let marker = format!("/account/{kind}/");
    let mut found = None;
    for mail in delivered_mails(shop).await {
        let mut rest = mail.as_str();
        while let Some(at) = rest.find(&marker) {
            let tail = &rest[at + marker.len()..];
            let token: String = tail.chars().take_while(char::is_ascii_hexdigit).collect();
            if token.len() == 64 {
                found = Some(format!("{marker}{token}"));
            }
            rest = tail;
        }
    }
    found
}

async fn customer_id(shop: &TestShop, email: &str) -> i64 {
    shop.state
        .customers
        .account_for_reset(email)
        .await
        .unwrap()
        .expect("the account exists")
        .0
}

#[tokio::test]
async fn register_verify_sign_in_and_see_the_account() {
    let shop = support::sqlite_shop().await;
    let mut browser = Client::new(&shop.router);
    let email = "mizuho.kaburagi1@example.jp";
    let done = register(&mut browser, email, PASSWORD).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("メールをご確認ください"));
    let id = customer_id(&shop, email).await;
    assert!(!shop.state.customers.email_verified(id).await.unwrap());

    let link = link_in_mail(&shop, "verify")
        .await
        .expect("a verification link was mailed");
    // Opening the link (what a mail scanner does) changes nothing.
    for _ in 0..2 {
        let page = Client::new(&shop.router).get(&link).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains(&format!("action=\"{link}\"")));
    }
    assert!(!shop.state.customers.email_verified(id).await.unwrap());

    // An unverified account may sign in and is asked to confirm.
    let signed = sign_in(&mut browser, email, PASSWORD).await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    let account = browser.get("/account").await;
    assert!(account.body.contains("鏑木乙"), "the page shows the name");
    assert!(account.body.contains("/account/verify-resend"));

    let csrf = support::hidden_value(&account.body, "csrf_token").unwrap();
    let verified = browser.post_form(&link, &[("csrf_token", &csrf)]).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert!(shop.state.customers.email_verified(id).await.unwrap());
    // Single use.
    let again = browser.post_form(&link, &[("csrf_token", &csrf)]).await;
    assert_eq!(again.status, 404);
    let account = browser.get("/account").await;
    assert!(!account.body.contains("/account/verify-resend"));
}

#[tokio::test]
async fn weak_short_and_personal_passwords_are_refused_with_the_reason() {
    let shop = support::sqlite_shop().await;
    let mut browser = Client::new(&shop.router);
    let email = "mizuho.kaburagi1@example.jp";
    for (password, reason) in [
        ("password1234", "推測されやすい"),
        ("short pw", "短すぎます"),
        ("kaburagimizuho1987", "似すぎています"),
    ] {
        let page = register(&mut browser, email, password).await;
        assert_eq!(page.status, 422, "{password} was accepted");
        assert!(page.body.contains(reason), "{password}: no reason shown");
        assert!(page.body.contains("aria-invalid=\"true\""));
        assert!(page.body.contains("value=\"鏑木乙\""), "typed values kept");
        assert!(!page.body.contains(password), "a password is never echoed");
    }
    // English too.
    let page = {
        let csrf = browser.csrf_from("/account/register").await;
        let mut fields = profile_fields(1, email);
        fields.push(("csrf_token".into(), csrf));
        fields.push(("password".into(), "password1234".into()));
        fields.push(("password_confirm".into(), "password1234".into()));
        let refs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body = support::encode_form(&refs);
        let req = axum::http::Request::post("/account/register")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", "http://shop.test")
            .header("host", "shop.test")
            .header("sec-fetch-site", "same-origin")
            .header("accept-language", "en")
            .body(axum::body::Body::from(body))
            .unwrap();
        browser.send(req).await
    };
    assert_eq!(page.status, 422);
    assert!(page.body.contains("too easy to guess"));
    // Broken input is a message, not a crash.
    let csrf = browser.csrf_from("/account/register").await;
    let broken = browser
        .post_form(
            "/account/register",
            &[
                ("csrf_token", &csrf),
                ("family_name", "\u{0}"),
                ("nope", "x"),
            ],
        )
        .await;
    assert_eq!(broken.status, 422);
    assert_eq!(shop.state.store.count_customers().await.unwrap(), 0);
}

#[tokio::test]
async fn registering_a_known_address_reveals_nothing() {
    let shop = support::sqlite_shop().await;
    let email = "mizuho.kaburagi1@example.jp";
    let first = register(&mut Client::new(&shop.router), email, PASSWORD).await;
    let second = register(&mut Client::new(&shop.router), email, NEW_PASSWORD).await;
    assert_eq!(first.status, second.status);
    let strip = |b: &str| {
        b.lines()
            .filter(|l| !l.contains("csrf_token"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&first.body), strip(&second.body));
    assert_eq!(shop.state.store.count_customers().await.unwrap(), 1);
    // The first password still works; the second never became one.
    let mut b = Client::new(&shop.router);
    assert_eq!(sign_in(&mut b, email, NEW_PASSWORD).await.status, 401);
    assert_eq!(sign_in(&mut b, email, PASSWORD).await.status, 303);
}

#[tokio::test]
async fn failures_are_throttled_without_locking_the_owner_out() {
    let shop = support::sqlite_shop().await;
    let email = "mizuho.kaburagi1@example.jp";
    register(&mut Client::new(&shop.router), email, PASSWORD).await;
    // The owner has signed in from home before.
    let mut owner = Client::new(&shop.router);
    owner.peer = "198.51.100.20:50000".parse().unwrap();
    assert_eq!(sign_in(&mut owner, email, PASSWORD).await.status, 303);

    let mut attacker = Client::new(&shop.router);
    attacker.peer = "203.0.113.66:40000".parse().unwrap();
    let csrf = attacker.csrf_from("/login").await;
    let mut statuses = Vec::new();
    for i in 0..7 {
        let guess = format!("guess number {i} for you");
        let r = attacker
            .post_form(
                "/login",
                &[
                    ("email", email),
                    ("password", &guess),
                    ("csrf_token", &csrf),
                ],
            )
            .await;
        statuses.push(r.status.as_u16());
        if r.status == 429 {
            assert!(r.body.contains("分後"), "the page says how long to wait");
        }
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429]);
    // Even the right password is not checked from the attacker's address now.
    let r = attacker
        .post_form(
            "/login",
            &[
                ("email", email),
                ("password", PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status, 429);
    // The owner, from the known address, still gets in.
    let mut owner_again = Client::new(&shop.router);
    owner_again.peer = "198.51.100.20:50001".parse().unwrap();
    assert_eq!(sign_in(&mut owner_again, email, PASSWORD).await.status, 303);

    // Per IP: 20 failures on any accounts stop that address for everyone.
    let mut sprayer = Client::new(&shop.router);
    sprayer.peer = "192.0.2.99:40000".parse().unwrap();
    let csrf = sprayer.csrf_from("/login").await;
    for i in 0..20 {
        let who = format!("someone{i}@example.jp");
        let r = sprayer
            .post_form(
                "/login",
                &[("email", &who), ("password", "x"), ("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(r.status, 401);
    }
    let r = sprayer
        .post_form(
            "/login",
            &[
                ("email", "fresh@example.jp"),
                ("password", "x"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status, 429);
}

/// Password-reset poisoning: an attacker asks for a reset of someone else's account with a
/// forged `Host`; the mailed link must still point at the shop, never at the attacker.
#[tokio::test]
async fn a_forged_host_never_reaches_a_mailed_link() {
    let shop = support::sqlite_shop().await;
    let email = "mizuho.kaburagi1@example.jp";
    register(&mut Client::new(&shop.router), email, PASSWORD).await;
    let mut attacker = Client::new(&shop.router);
    let page = attacker
        .send(
            axum::http::Request::get("/account/reset")
                .header("host", "evil.example")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    let csrf = support::hidden_value(&page.body, "csrf_token").unwrap();
    let asked = attacker
        .send(
            axum::http::Request::post("/account/reset")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("host", "evil.example")
                .header("origin", "http://evil.example")
                .header("x-forwarded-host", "evil.example")
                .body(axum::body::Body::from(support::encode_form(&[
                    ("email", email),
                    ("csrf_token", &csrf),
                ])))
                .unwrap(),
        )
        .await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let path = link_in_mail(&shop, "reset").await.expect("a reset link");
    let mails = delivered_mails(&shop).await;
    let mail = mails
        .iter()
        .find(|m| m.contains(&path))
        .expect("the reset mail");
    assert!(!mail.contains("evil.example"), "poisoned link: {mail}");
    assert!(
        mail.contains(&format!("{}{path}", shop.state.config.link_base)),
        "the link uses the shop's own base"
    );
}

#[tokio::test]
async fn a_reset_sets_the_password_and_ends_every_session() {
    let shop = support::sqlite_shop().await;
    let email = "mizuho.kaburagi1@example.jp";
    register(&mut Client::new(&shop.router), email, PASSWORD).await;
    let mut old_device = Client::new(&shop.router);
    assert_eq!(sign_in(&mut old_device, email, PASSWORD).await.status, 303);
    assert_eq!(old_device.get("/account").await.status, 200);

    let mut browser = Client::new(&shop.router);
    let csrf = browser.csrf_from("/account/reset").await;
    let known = browser
        .post_form("/account/reset", &[("email", email), ("csrf_token", &csrf)])
        .await;
    let unknown = browser
        .post_form(
            "/account/reset",
            &[("email", "nobody@example.jp"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(known.status, 200);
    assert_eq!(known.body, unknown.body, "the answer does not tell");

    let link = link_in_mail(&shop, "reset").await.expect("a reset link");
    let page = browser.get(&link).await;
    assert_eq!(page.status, 200);
    let csrf = support::hidden_value(&page.body, "csrf_token").unwrap();
    let weak = browser
        .post_form(
            &link,
            &[
                ("password", "password1234"),
                ("password_confirm", "password1234"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(weak.status, 422);
    let done = browser
        .post_form(
            &link,
            &[
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    // The old device is signed out; the old password is dead; the link is used up.
    let old = old_device.get("/account").await;
    assert_eq!(old.status, 303);
    let mut b = Client::new(&shop.router);
    assert_eq!(sign_in(&mut b, email, PASSWORD).await.status, 401);
    assert_eq!(sign_in(&mut b, email, NEW_PASSWORD).await.status, 303);
    assert_eq!(browser.get(&link).await.status, 404);
}

#[tokio::test]
async fn changes_need_the_current_password() {
    let shop = support::sqlite_shop().await;
    let email = "mizuho.kaburagi1@example.jp";
    register(&mut Client::new(&shop.router), email, PASSWORD).await;
    let id = customer_id(&shop, email).await;
    let mut browser = Client::new(&shop.router);
    assert_eq!(sign_in(&mut browser, email, PASSWORD).await.status, 303);
    let mut other_device = Client::new(&shop.router);
    assert_eq!(
        sign_in(&mut other_device, email, PASSWORD).await.status,
        303
    );

    let page = browser.get("/account/profile").await;
    assert!(
        page.body.contains("value=\"鏑木乙\""),
        "the form is filled in"
    );
    let csrf = support::hidden_value(&page.body, "csrf_token").unwrap();
    let mut fields = profile_fields(1, email);
    fields.retain(|(k, _)| k != "email");
    for (k, v) in &mut fields {
        if k == "phone" {
            *v = "03-1234-5678".into();
        }
    }
    fields.push(("csrf_token".into(), csrf.clone()));
    let mut wrong = fields.clone();
    wrong.push(("current_password".into(), "not my password at all".into()));
    let refused = post(&mut browser, "/account/profile", &wrong).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("現在のパスワードが正しくありません"));
    let profile = shop.state.customers.profile(id).await.unwrap().unwrap();
    assert_ne!(profile.person.phone.as_str(), "0312345678");

    fields.push(("current_password".into(), PASSWORD.into()));
    let ok = post(&mut browser, "/account/profile", &fields).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let profile = shop.state.customers.profile(id).await.unwrap().unwrap();
    assert_eq!(profile.person.phone.as_str(), "0312345678");

    // A new password: the other device is signed out, this one stays.
    let csrf = browser.csrf_from("/account/password").await;
    let changed = browser
        .post_form(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    assert_eq!(browser.get("/account").await.status, 200);
    assert_eq!(other_device.get("/account").await.status, 303);

    // A new email address: re-verified, and the sign-in address from now on.
    let csrf = browser.csrf_from("/account/email").await;
    let new_email = "mizuho.new@example.jp";
    let moved = browser
        .post_form(
            "/account/email",
            &[
                ("email", new_email),
                ("current_password", NEW_PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(moved.status, 303, "{}", moved.body);
    assert!(!shop.state.customers.email_verified(id).await.unwrap());
    let mut b = Client::new(&shop.router);
    assert_eq!(sign_in(&mut b, email, NEW_PASSWORD).await.status, 401);
    assert_eq!(sign_in(&mut b, new_email, NEW_PASSWORD).await.status, 303);
}

#[tokio::test]
async fn closing_the_account_erases_the_customer_and_keeps_the_order() {
    let shop = support::sqlite_shop().await;
    let email = "mizuho.kaburagi1@example.jp";
    register(&mut Client::new(&shop.router), email, PASSWORD).await;
    let id = customer_id(&shop, email).await;
    let mut browser = Client::new(&shop.router);
    assert_eq!(sign_in(&mut browser, email, PASSWORD).await.status, 303);

    // A saved address, sealed.
    let csrf = browser.csrf_from("/account/addresses/new").await;
    let mut fields = profile_fields(3, email);
    fields.retain(|(k, _)| !["email", "birth_date", "gender"].contains(&k.as_str()));
    fields.push(("csrf_token".into(), csrf));
    let saved = post(&mut browser, "/account/addresses", &fields).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let account = browser.get("/account").await;
    assert!(
        account.body.contains("宮の森3条9丁目"),
        "the address is listed"
    );
    assert_eq!(
        shop.state
            .store
            .count_rows(&CUSTOMER_ADDRESSES)
            .await
            .unwrap(),
        1
    );

    // An order, placed through the pages while signed in.
    kura::demo::ensure_catalog(&shop.state.store).await.unwrap();
    let csrf = browser.csrf_from("/products/rice").await;
    browser
        .post_form(
            "/cart/add",
            &[
                ("csrf_token", &csrf),
                ("slug", "rice"),
                ("sku", "R-2KG"),
                ("quantity", "1"),
            ],
        )
        .await;
    let csrf = browser.csrf_from("/checkout").await;
    let mut fields = profile_fields(1, email);
    fields.extend([
        ("csrf_token".to_string(), csrf),
        ("ship_to".to_string(), "same".to_string()),
        ("delivery_date".to_string(), String::new()),
        ("delivery_slot".to_string(), String::new()),
        ("payment".to_string(), "cod".to_string()),
    ]);
    let checkout = post(&mut browser, "/checkout", &fields).await;
    assert_eq!(checkout.status, 303, "{}", checkout.body);
    let confirm = browser.get("/checkout/confirm").await;
    let csrf = support::hidden_value(&confirm.body, "csrf_token").unwrap();
    let attempt = support::hidden_value(&confirm.body, "attempt").unwrap();
    let total = support::hidden_value(&confirm.body, "total").unwrap();
    let placed = browser
        .post_form(
            "/checkout/confirm",
            &[
                ("csrf_token", &csrf),
                ("attempt", &attempt),
                ("total", &total),
            ],
        )
        .await;
    assert_eq!(placed.status, 303);
    let history = shop.state.orders.history(id, 20).await.unwrap();
    assert_eq!(history.len(), 1);
    let number = history[0].number.clone();
    assert!(browser.get("/account").await.body.contains(&number));

    // Closing needs the password.
    let csrf = browser.csrf_from("/account/delete").await;
    let refused = browser
        .post_form(
            "/account/delete",
            &[
                ("current_password", "wrong password here"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(shop.state.store.customer(id).await.unwrap().is_some());
    let closed = browser
        .post_form(
            "/account/delete",
            &[("current_password", PASSWORD), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert!(closed.body.contains("退会しました"));

    assert!(shop.state.store.customer(id).await.unwrap().is_none());
    assert_eq!(shop.state.store.count_customers().await.unwrap(), 0);
    assert_eq!(
        shop.state
            .store
            .count_rows(&CUSTOMER_ADDRESSES)
            .await
            .unwrap(),
        0
    );
    let order = shop
        .state
        .store
        .order_by_number(&number)
        .await
        .unwrap()
        .expect("the order is kept");
    assert_eq!(order.customer_id, None);
    assert_eq!(browser.get("/account").await.status, 303);
    let mut b = Client::new(&shop.router);
    assert_eq!(sign_in(&mut b, email, PASSWORD).await.status, 401);
}

#[tokio::test]
async fn checkout_offers_saved_addresses_and_fills_in_only_the_customers_own() {
    let shop = support::sqlite_shop().await;
    kura::demo::ensure_catalog(&shop.state.store).await.unwrap();
    let email = "mizuho.kaburagi1@example.jp";
    let mut browser = Client::new(&shop.router);
    register(&mut browser, email, PASSWORD).await;
    assert_eq!(sign_in(&mut browser, email, PASSWORD).await.status, 303);
    let me = customer_id(&shop, email).await;
    let grandma = support::profile(7).person;
    assert!(
        shop.state
            .customers
            .add_address(me, &grandma)
            .await
            .unwrap()
    );
    let mine = shop.state.customers.addresses(me).await.unwrap()[0].id;

    let other_email = "someone.else@example.jp";
    register(&mut Client::new(&shop.router), other_email, PASSWORD).await;
    let other = customer_id(&shop, other_email).await;
    let stranger = support::profile(9).person;
    assert!(
        shop.state
            .customers
            .add_address(other, &stranger)
            .await
            .unwrap()
    );
    let theirs = shop.state.customers.addresses(other).await.unwrap()[0].id;

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
    let page = browser.get("/checkout").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&format!("/checkout?ship={mine}")));
    assert!(page.body.contains(grandma.address1.as_str()));
    assert!(!page.body.contains(&format!("ship={theirs}")));
    assert!(!page.body.contains(stranger.address1.as_str()));

    let filled = browser.get(&format!("/checkout?ship={mine}")).await;
    assert_eq!(
        filled.status,
        200,
        "{:?} {}",
        filled.headers.get("location"),
        filled.body.chars().take(600).collect::<String>()
    );
    assert!(
        filled
            .body
            .contains(&format!("value=\"{}\"", grandma.address1.as_str())),
        "the recipient's fields hold the saved address"
    );
    assert!(filled.body.contains("value=\"other\" checked"));

    // Another customer's address id, or nonsense, fills in nothing and breaks nothing.
    for query in [
        format!("ship={theirs}"),
        "ship=%FF%00x".into(),
        "ship=".into(),
    ] {
        let page = browser.get(&format!("/checkout?{query}")).await;
        assert_eq!(page.status, 200, "{query}");
        assert!(!page.body.contains(stranger.address1.as_str()), "{query}");
        assert!(!page.body.contains("value=\"other\" checked"), "{query}");
    }
    // A guest sees no saved addresses at all.
    let mut guest = Client::new(&shop.router);
    let csrf = guest.csrf_from("/products/electric-kettle-drip").await;
    guest
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
    let page = guest.get(&format!("/checkout?ship={mine}")).await;
    assert!(!page.body.contains("saved-addresses"));
    assert!(!page.body.contains(grandma.address1.as_str()));
}

/// Adds to the browser's cart from the product page, as a visitor would.
async fn add_to_cart(client: &mut Client, slug: &str, sku: &str, quantity: &str) {
    let csrf = client.csrf_from(&format!("/products/{slug}")).await;
    let added = client
        .post_form(
            "/cart/add",
            &[
                ("csrf_token", &csrf),
                ("slug", slug),
                ("sku", sku),
                ("quantity", quantity),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
}

#[tokio::test]
async fn a_guest_cart_joins_the_accounts_cart_at_sign_in() {
    let shop = support::sqlite_shop().await;
    kura::demo::ensure_catalog(&shop.state.store).await.unwrap();
    let email = "mizuho.kaburagi1@example.jp";
    let mut owner = Client::new(&shop.router);
    assert_eq!(register(&mut owner, email, PASSWORD).await.status, 200);
    let id = customer_id(&shop, email).await;
    assert_eq!(sign_in(&mut owner, email, PASSWORD).await.status, 303);
    add_to_cart(&mut owner, "rice", "R-2KG", "1").await;

    // Another browser fills a cart as a guest, then signs in to the same account.
    let mut guest = Client::new(&shop.router);
    add_to_cart(&mut guest, "rice", "R-2KG", "2").await;
    add_to_cart(&mut guest, "food-jar", "FJ-40", "1").await;
    assert_eq!(sign_in(&mut guest, email, PASSWORD).await.status, 303);

    let carts = &shop.state.carts;
    let cart = carts.of_customer(id).await.unwrap();
    let lines: Vec<(String, u32)> = carts
        .view(cart)
        .await
        .unwrap()
        .lines
        .iter()
        .map(|l| (l.item.sku.clone(), l.quantity))
        .collect();
    assert_eq!(
        lines,
        [("FJ-40".to_string(), 1), ("R-2KG".to_string(), 3)],
        "the guest's lines joined the account's, quantities summed"
    );
    // The signed-in session keeps no guest cart of its own: what it adds goes to the account.
    add_to_cart(&mut guest, "food-jar", "FJ-40", "1").await;
    let fj = carts
        .view(cart)
        .await
        .unwrap()
        .lines
        .iter()
        .find(|l| l.item.sku == "FJ-40")
        .map(|l| l.quantity);
    assert_eq!(fj, Some(2));
}

/// The anti-phishing phrase: set with the current password (a wrong one changes nothing and
/// keeps what was typed), refused with a clear message when it could break a mail, stored
/// sealed, and written at the top of every mail to the account from then on; cleared, gone.
#[tokio::test(flavor = "multi_thread")]
async fn the_anti_phishing_phrase_heads_every_mail_to_the_account() {
    let shop = support::sqlite_shop().await;
    let email = "mizuho.kaburagi1@example.jp";
    let mut browser = Client::new(&shop.router);
    register(&mut browser, email, PASSWORD).await;
    assert_eq!(sign_in(&mut browser, email, PASSWORD).await.status, 303);
    delivered_mails(&shop).await;
    let phrase = "梅と鶯 2026";
    async fn post_phrase(c: &mut Client, phrase: &str, password: &str) -> support::Reply {
        let csrf = c.csrf_from("/account").await;
        c.post_form(
            "/account/phrase",
            &[
                ("csrf_token", &csrf),
                ("phrase", phrase),
                ("current_password", password),
            ],
        )
        .await
    }

    // A wrong password: nothing stored, the typed phrase kept, the reason given.
    let r = post_phrase(&mut browser, phrase, "not my password at all 1").await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains(&format!("value=\"{phrase}\"")));
    assert!(r.body.contains("aria-invalid=\"true\""));
    assert_eq!(
        shop.state
            .customers
            .anti_phishing_phrase(email)
            .await
            .unwrap(),
        None
    );
    // Markup that could break an HTML mail is refused, with the reason.
    let r = post_phrase(&mut browser, "<b>梅</b>", PASSWORD).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("記号"), "{}", r.body);
    let r = post_phrase(&mut browser, &"長".repeat(41), PASSWORD).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("40文字まで"));

    let r = post_phrase(&mut browser, phrase, PASSWORD).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = browser.get("/account?done=phrase").await;
    assert!(page.body.contains(&format!("value=\"{phrase}\"")));
    assert!(page.body.contains("確認フレーズを保存しました"));
    // Sealed: the database files never hold it in the clear.
    for entry in std::fs::read_dir(shop.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                memchr::memmem::find(&bytes, phrase.as_bytes()).is_none(),
                "{} holds the phrase in the clear",
                path.display()
            );
        }
    }

    // A mail to the account (a reset link) starts with the phrase, in text and in HTML.
    async fn reset_mail(shop: &TestShop, c: &mut Client, email: &str) -> String {
        let csrf = c.csrf_from("/account/reset").await;
        c.post_form("/account/reset", &[("email", email), ("csrf_token", &csrf)])
            .await;
        let before: std::collections::BTreeSet<_> = std::fs::read_dir(&shop.config.mail.outbox_dir)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        shop.state
            .outbox
            .deliver_due(shop.state.mailer.as_ref())
            .await
            .unwrap();
        let new: Vec<_> = std::fs::read_dir(&shop.config.mail.outbox_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| !before.contains(p))
            .collect();
        assert_eq!(new.len(), 1, "one reset mail");
        let raw = std::fs::read(&new[0]).unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        format!(
            "{}\n----\n{}",
            parsed.body_text(0).unwrap(),
            parsed.body_html(0).unwrap()
        )
        .replace("\r\n", "\n")
    }
    let mut other = Client::new(&shop.router);
    let mail = reset_mail(&shop, &mut other, email).await;
    assert!(
        mail.starts_with(&format!("あなたの確認フレーズ：{phrase}\n")),
        "{mail}"
    );
    assert!(mail.contains(&format!("あなたの確認フレーズ：<strong>{phrase}</strong>")));
    assert!(!mail.contains("[["), "{mail}");

    // Cleared: the next mail has no phrase, and no trace of where it would go.
    let r = post_phrase(&mut browser, "", PASSWORD).await;
    assert_eq!(r.status, 303);
    let mail = reset_mail(&shop, &mut other, email).await;
    assert!(!mail.contains("確認フレーズ："), "{mail}");
    assert!(!mail.contains("[["), "{mail}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restock_notice_is_mailed_once_when_stock_returns_and_goes_with_the_account() {
    let shop = support::sqlite_shop().await;
    kura::demo::ensure_catalog(&shop.state.store).await.unwrap();
    let email = "restock@example.jp";
    let mut browser = Client::new(&shop.router);
    register(&mut browser, email, PASSWORD).await;
    sign_in(&mut browser, email, PASSWORD).await;
    let id = customer_id(&shop, email).await;
    // 500 ml navy is sold out: the page offers the notice for it and for no other variant.
    let page = browser.get("/products/vacuum-bottle-light").await;
    assert!(page.body.contains("入荷お知らせ"), "{}", page.body);
    assert!(
        page.body
            .contains("type=\"hidden\" name=\"sku\" value=\"VBL-50-NV\"")
    );
    assert!(
        !page
            .body
            .contains("type=\"hidden\" name=\"sku\" value=\"VBL-35-WH\"")
    );
    let csrf = hidden_value_of(&page.body);
    let r = restock(&mut browser, &csrf, "VBL-50-NV", "ask").await;
    assert_eq!(r.status, 303);
    let to = r.headers["location"].to_str().unwrap().to_string();
    assert!(to.ends_with("?restock=asked#restock"), "{to}");
    let page = browser.get(to.trim_end_matches("#restock")).await;
    assert!(page.body.contains("入荷お知らせを登録しました"));
    assert!(page.body.contains("登録済み"));
    // One in stock needs no notice; a guest is sent to sign in.
    let r = restock(&mut browser, &csrf, "VBL-35-WH", "ask").await;
    assert!(
        r.headers["location"]
            .to_str()
            .unwrap()
            .contains("restock=in_stock")
    );
    let mut guest = Client::new(&shop.router);
    let guest_csrf = guest.csrf_from("/products/vacuum-bottle-light").await;
    let r = guest
        .post_form(
            "/restock",
            &[
                ("csrf_token", &guest_csrf),
                ("slug", "vacuum-bottle-light"),
                ("sku", "VBL-50-NV"),
            ],
        )
        .await;
    assert_eq!(r.headers["location"].to_str().unwrap(), "/login");
    assert_eq!(
        shop.state.restock.requests_of(id).await.unwrap(),
        ["VBL-50-NV"]
    );

    // Nothing is mailed while it is sold out; once stock returns, one mail, once.
    assert_eq!(shop.state.restock.notify_due(100).await.unwrap(), 0);
    shop.state.store.set_stock("VBL-50-NV", 4).await.unwrap();
    assert_eq!(shop.state.restock.notify_due(100).await.unwrap(), 1);
    assert_eq!(shop.state.restock.notify_due(100).await.unwrap(), 0);
    assert!(shop.state.restock.requests_of(id).await.unwrap().is_empty());
    let mails = delivered_mails(&shop).await;
    let notice = mails
        .iter()
        .find(|m| m.contains("入荷お知らせにご登録いただいた商品が入荷しました"))
        .expect("the restock mail");
    assert!(notice.contains("500ml ネイビー"), "{notice}");
    assert!(notice.contains("/products/vacuum-bottle-light"), "{notice}");
    assert!(
        notice.contains("品切れになっている場合があります"),
        "{notice}"
    );

    // A request goes with the account when it is closed.
    let r = restock(&mut browser, &csrf, "DRC-55", "ask").await;
    assert!(
        r.headers["location"]
            .to_str()
            .unwrap()
            .contains("restock=asked")
    );
    shop.state.store.set_stock("VBL-50-NV", 0).await.unwrap();
    restock(&mut browser, &csrf, "VBL-50-NV", "ask").await;
    restock(&mut browser, &csrf, "DRC-55", "withdraw").await;
    assert_eq!(
        shop.state.restock.requests_of(id).await.unwrap(),
        ["VBL-50-NV"]
    );
    assert!(shop.state.customers.delete_account(id).await.unwrap());
    assert!(shop.state.restock.requests_of(id).await.unwrap().is_empty());
    shop.state.store.set_stock("VBL-50-NV", 3).await.unwrap();
    assert_eq!(shop.state.restock.notify_due(100).await.unwrap(), 0);
}

async fn restock(c: &mut Client, csrf: &str, sku: &str, action: &str) -> support::Reply {
    c.post_form(
        "/restock",
        &[
            ("csrf_token", csrf),
            ("slug", "vacuum-bottle-light"),
            ("sku", sku),
            ("action", action),
        ],
    )
    .await
}

fn hidden_value_of(html: &str) -> String {
    support::hidden_value(html, "csrf_token").unwrap()
}

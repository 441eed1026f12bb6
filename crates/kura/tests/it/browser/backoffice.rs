//! The back office in Chromium: the owner signs in with TOTP, changes a price and stock the
//! storefront then shows, records a bank transfer and ships the order (the customer's mail
//! arrives), adds a support member who enrols, unmasks a customer with a reason and is
//! stopped at the budget, and a fulfilment member who is refused the customer pages.

use kura_seal::TotpSecret;

use super::live::LiveShop;
use super::webdriver::{Browser, Language};
use super::{
    ONE_BROWSER_AT_A_TIME, SATO, add_to_cart, amount_of, checkout, pay_on_sandbox, place_order,
    totals, visit, wait_for_status,
};
use crate::backoffice::base32_decode;

/// A code for a TOTP step later than any used before (`nth` counts uses of this secret), so
/// the shop's replay check never refuses it: the enrolment takes this step, the next sign-in
/// the one after (one step of clock skew is allowed).
fn code(secret: &TotpSecret, nth: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    secret.code_at(now + 30 * nth)
}

/// Password, then enrolment of a new authenticator; returns its secret. Ends on the
/// recovery-codes page.
async fn sign_in_and_enrol(
    b: &mut Browser,
    shop: &LiveShop,
    login: &str,
    password: &str,
) -> TotpSecret {
    visit(b, &shop.url("/admin/login")).await;
    b.find("#login").await.type_text(login).await;
    b.find("#password").await.type_text(password).await;
    b.find("form[action=\"/admin/login\"] button[type=submit]")
        .await
        .click()
        .await;
    b.wait_for_url("the enrolment page", |u| u.ends_with("/admin/enrol"))
        .await;
    b.assert_no_csp_violation().await;
    let text = b.find("#totp-secret").await.text().await;
    let secret = TotpSecret::from_bytes(&base32_decode(&text)).unwrap();
    b.find("#code").await.type_text(&code(&secret, 0)).await;
    b.find("form[action=\"/admin/enrol\"] button[type=submit]")
        .await
        .click()
        .await;
    wait_text(b, "#recovery-codes", "-").await;
    b.assert_no_csp_violation().await;
    secret
}

/// Waits (up to 10 s) until the element `css` says `needle` (the page may still be the one
/// the form was sent from).
async fn wait_text(b: &Browser, css: &str, needle: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(e) = b.try_find(css).await
            && e.try_text().await.is_some_and(|t| t.contains(needle))
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{css} never said {needle:?}: {}",
            b.page_text().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn sign_out(b: &mut Browser) {
    b.find("form[action=\"/admin/logout\"] button[type=submit]")
        .await
        .click()
        .await;
    b.wait_for_url("the sign-in page", |u| u.ends_with("/admin/login"))
        .await;
}

async fn add_staff(b: &mut Browser, shop: &LiveShop, login: &str, role: &str, password: &str) {
    visit(b, &shop.url("/admin/staff")).await;
    b.find("#new-login").await.type_text(login).await;
    b.find(&format!("#new-role option[value=\"{role}\"]"))
        .await
        .click()
        .await;
    b.find("#new-email")
        .await
        .type_text(&format!("{login}@staff.example.jp"))
        .await;
    b.find("#new-password").await.type_text(password).await;
    b.find("#staff-add button[type=submit]").await.click().await;
    wait_text(b, "#staff-message", login).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_and_staff_run_the_shop_from_the_back_office() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let shop = LiveShop::start().await;
    kura::demo::insert_synthetic(&shop.state.store, &shop.state.vault, 3)
        .await
        .unwrap();
    let mut b = Browser::start(&shop.artifacts(), Language::Japanese).await;

    // A customer orders by bank transfer.
    add_to_cart(&mut b, &shop, "electric-kettle-drip", "EKD-08-RD", "1").await;
    checkout(&mut b, &shop, Some(&SATO), "bank_transfer").await;
    place_order(&mut b).await;
    b.wait_for_url("the order page", |u| u.contains("/orders/"))
        .await;
    let number = b.find(".order-number").await.text().await;

    // The customer also writes to the desk.
    visit(&mut b, &shop.url("/contact")).await;
    b.find("#category option[value=\"delivery\"]")
        .await
        .click()
        .await;
    b.find("#order_number").await.type_text(&number).await;
    b.find("#name").await.type_text("佐藤 健太").await;
    b.find("#email").await.type_text(SATO.email).await;
    b.find("#message")
        .await
        .type_text("配達日を来週の土曜日に変更できますか。")
        .await;
    b.find("form[action=\"/contact\"] button[type=submit]")
        .await
        .click()
        .await;
    wait_text(&b, "#contact-done", "受付番号").await;
    b.assert_no_csp_violation().await;
    let done = b.find("#contact-done").await.text().await;
    let inquiry = done
        .split_whitespace()
        .find(|w| w.starts_with("Q-"))
        .map(|w| w.trim_end_matches('。').to_string())
        .unwrap();
    b.screenshot("contact-done-ja").await;
    shop.wait_for_mail(&[&inquiry, "お問い合わせを受け付けました"])
        .await;

    // The owner signs in with the password shown once and enrols TOTP.
    let owner_totp = sign_in_and_enrol(&mut b, &shop, "owner", &shop.owner_password).await;
    b.screenshot("admin-recovery-codes-ja").await;
    b.find("main a").await.click().await;
    b.wait_for_url("the dashboard", |u| u.ends_with("/admin"))
        .await;
    assert_eq!(b.find("#staff-who").await.text().await, "owner (オーナー)");
    let dash = b.find("#dashboard").await.text().await;
    assert!(dash.contains("本日の注文"), "{dash}");
    b.screenshot("admin-dashboard-ja").await;

    // A price and stock change shows on the storefront.
    visit(&mut b, &shop.url("/admin/catalog")).await;
    b.find("#price-FJ-40").await.type_text("２，４８０").await;
    b.find("#stock-FJ-40").await.type_text("3").await;
    b.find("form[action=\"/admin/catalog/FJ-40\"] button[type=submit]")
        .await
        .click()
        .await;
    wait_text(&b, "#catalog-message", "FJ-40").await;
    assert_eq!(shop.stock("FJ-40").await, 3);
    visit(&mut b, &shop.url("/products/food-jar")).await;
    assert!(
        b.page_text().await.contains("¥2,480"),
        "the storefront shows the new price"
    );

    // The owner records the transfer and ships; the customer's mail arrives.
    visit(&mut b, &shop.url(&format!("/admin/orders/{number}"))).await;
    b.find("#mark-paid").await.click().await;
    wait_text(&b, "#order-message", "入金を記録しました").await;
    b.find("#carrier").await.type_text("ヤマト運輸").await;
    b.find("#tracking").await.type_text("4321-8765-0099").await;
    b.find("#mark-shipped").await.click().await;
    wait_text(&b, "#order-message", "出荷を記録しました").await;
    assert_eq!(b.find("#order-status").await.text().await, "発送済み");
    b.screenshot("admin-order-shipped-ja").await;
    let mail = shop.wait_for_mail(&["4321-8765-0099"]).await;
    assert!(
        mail.contains("ヤマト運輸") && mail.contains(&number),
        "{mail}"
    );

    // The owner lowers the budget to two records an hour and adds a support and a
    // fulfilment member (the sign-in minutes ago counts as the step-up).
    visit(&mut b, &shop.url("/admin/settings")).await;
    b.find("#unmask_budget").await.type_text("2").await;
    b.find("form[action=\"/admin/settings\"] button[type=submit]")
        .await
        .click()
        .await;
    wait_text(&b, "#settings-message", "保存しました").await;
    add_staff(
        &mut b,
        &shop,
        "sato",
        "support",
        "support passphrase: quiet river stones 44",
    )
    .await;
    add_staff(
        &mut b,
        &shop,
        "kato",
        "fulfilment",
        "fulfilment passphrase: cedar boxes ship 63",
    )
    .await;
    b.screenshot("admin-staff-ja").await;
    sign_out(&mut b).await;

    // Support enrols, answers an inquiry (one read), unmasks one customer with a reason (the
    // second), and is stopped at the next.
    sign_in_and_enrol(
        &mut b,
        &shop,
        "sato",
        "support passphrase: quiet river stones 44",
    )
    .await;
    // Support first answers the customer's inquiry from the queue, starting from a template.
    visit(&mut b, &shop.url("/admin/inquiries")).await;
    b.find("#inquiries a").await.click().await;
    wait_text(&b, "#inquiry-messages", "土曜日").await;
    b.find("#body")
        .await
        .type_text("お問い合わせありがとうございます。土曜日のお届けに変更いたしました。")
        .await;
    b.find("#send-reply").await.click().await;
    wait_text(&b, "#inquiry-message", "回答を記録し").await;
    b.screenshot("admin-inquiry-answered-ja").await;
    let reply = shop
        .wait_for_mail(&[&inquiry, "土曜日のお届けに変更いたしました"])
        .await;
    assert!(reply.contains(SATO.email), "{reply}");
    let demo_customer = shop
        .state
        .store
        .customers_after(0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect::<Vec<_>>();
    visit(&mut b, &shop.url("/admin/customers")).await;
    let list = b.find("#customers").await.text().await;
    assert!(
        !list.contains("demo@kura.example.jp"),
        "the list is masked: {list}"
    );
    b.screenshot("admin-customers-masked-ja").await;
    let first = demo_customer[0];
    b.find(&format!("#reason-{first}"))
        .await
        .type_text("お電話でのご本人確認")
        .await;
    b.find(&format!(
        "form[action=\"/admin/customers/{first}/unmask\"] button"
    ))
    .await
    .click()
    .await;
    wait_text(&b, "#customer-email", "@").await;
    b.screenshot("admin-customer-unmasked-ja").await;
    visit(&mut b, &shop.url("/admin/customers")).await;
    let second = demo_customer[1];
    {
        b.find(&format!("#reason-{second}"))
            .await
            .type_text("お電話でのご本人確認")
            .await;
        b.find(&format!(
            "form[action=\"/admin/customers/{second}/unmask\"] button"
        ))
        .await
        .click()
        .await;
        wait_text(&b, "#admin-notice", "オーナーに通知").await;
        b.screenshot("admin-budget-stop-ja").await;
        let notice = shop
            .wait_for_mail(&["スタッフ sato が1時間に開ける個人情報の件数（2 件）に達した"])
            .await;
        assert!(notice.contains("owner@kura.example.jp"), "{notice}");
    }
    sign_out(&mut b).await;

    // Fulfilment is refused the customer pages, whatever URL it types.
    sign_in_and_enrol(
        &mut b,
        &shop,
        "kato",
        "fulfilment passphrase: cedar boxes ship 63",
    )
    .await;
    visit(&mut b, &shop.url("/admin/customers")).await;
    assert!(b.page_text().await.contains("この操作はできません"));
    assert!(!b.page_text().await.contains("@"));
    visit(&mut b, &shop.url("/admin/audit")).await;
    assert!(b.page_text().await.contains("この操作はできません"));
    b.screenshot("admin-fulfilment-refused-ja").await;
    visit(&mut b, &shop.url("/admin")).await;
    sign_out(&mut b).await;

    // The owner, in English, signs in with the next code and reads the audit log.
    visit(&mut b, &shop.url("/lang/en?back=/admin/login")).await;
    b.find("#login").await.type_text("owner").await;
    b.find("#password")
        .await
        .type_text(&shop.owner_password)
        .await;
    b.find("form[action=\"/admin/login\"] button[type=submit]")
        .await
        .click()
        .await;
    b.wait_for_url("the code prompt", |u| u.ends_with("/admin/verify"))
        .await;
    b.find("#code").await.type_text(&code(&owner_totp, 1)).await;
    b.find("form[action=\"/admin/verify\"] button[type=submit]")
        .await
        .click()
        .await;
    b.wait_for_url("the dashboard", |u| u.ends_with("/admin"))
        .await;
    visit(&mut b, &shop.url("/admin/audit")).await;
    let log = b.find("#audit").await.text().await;
    for needle in [
        "customer.unmask",
        "customer.unmask_refused",
        "order.shipped",
        "catalog.change",
        "staff.add",
        "お電話でのご本人確認",
    ] {
        assert!(log.contains(needle), "the audit log shows {needle}: {log}");
    }
    assert_eq!(b.find("h1").await.text().await, "Audit log");
    b.screenshot("admin-audit-en").await;
    assert!(matches!(
        shop.state.audit.verify(None).await.unwrap(),
        kura_app::audit::ChainReport::Intact { .. }
    ));
}

/// The owner adds a passkey (Chromium's virtual authenticator), signs in with the password
/// and the passkey instead of a code, and refunds a card order through the payment sandbox;
/// the customer's order page and mail then say refunded, with the amount.
#[tokio::test(flavor = "multi_thread")]
async fn the_owner_signs_in_with_a_passkey_and_refunds_a_card_order() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let shop = LiveShop::start_on_localhost().await;
    assert!(shop.base.starts_with("http://localhost:"), "{}", shop.base);
    let mut b = Browser::start(&shop.artifacts(), Language::Japanese).await;

    // A customer pays by card on the sandbox.
    add_to_cart(&mut b, &shop, "electric-kettle-drip", "EKD-08-RD", "1").await;
    checkout(&mut b, &shop, Some(&SATO), "card").await;
    let total = amount_of(&totals(&b).await, "お支払い合計（税込）")
        .unwrap()
        .to_string();
    place_order(&mut b).await;
    pay_on_sandbox(&mut b, &shop, &total).await;
    let order_url = b.current_url().await;
    let number = b.find(".order-number").await.text().await;
    wait_for_status(&mut b, &order_url, "お支払い済み").await;
    let stock_after_sale = shop.stock("EKD-08-RD").await;

    // The owner signs in with TOTP and adds a passkey on the security page.
    let owner_totp = sign_in_and_enrol(&mut b, &shop, "owner", &shop.owner_password).await;
    let authenticator = b.add_virtual_authenticator().await;
    visit(&mut b, &shop.url("/admin/security")).await;
    assert!(b.try_find("#no-passkeys").await.is_some());
    b.find("#passkey-name")
        .await
        .type_text("テスト用キー")
        .await;
    b.find("#passkey-add").await.click().await;
    wait_text(&b, "#security-message", "パスキーを追加しました").await;
    b.assert_no_csp_violation().await;
    assert!(
        b.find("#passkeys")
            .await
            .text()
            .await
            .contains("テスト用キー")
    );
    assert_eq!(b.virtual_credentials(&authenticator).await.len(), 1);
    b.screenshot("admin-passkey-added-ja").await;
    sign_out(&mut b).await;

    // Password, then the passkey instead of a code.
    b.find("#login").await.type_text("owner").await;
    b.find("#password")
        .await
        .type_text(&shop.owner_password)
        .await;
    b.find("form[action=\"/admin/login\"] button[type=submit]")
        .await
        .click()
        .await;
    b.wait_for_url("the code prompt", |u| u.ends_with("/admin/verify"))
        .await;
    b.screenshot("admin-verify-passkey-ja").await;
    b.find("#passkey-sign-in").await.click().await;
    b.wait_for_url("the dashboard", |u| u.ends_with("/admin"))
        .await;
    b.assert_no_csp_violation().await;
    assert_eq!(b.find("#staff-who").await.text().await, "owner (オーナー)");

    // The refund is a sensitive change: the form takes a fresh code (a sign-in within the last
    // minutes counts as one too).
    visit(&mut b, &shop.url(&format!("/admin/orders/{number}"))).await;
    assert_eq!(b.find("#order-status").await.text().await, "お支払い済み");
    b.find("#refund-otp")
        .await
        .type_text(&code(&owner_totp, 1))
        .await;
    b.find("#refund-order").await.click().await;
    wait_text(&b, "#order-message", "返金しました").await;
    let message = b.find("#order-message").await.text().await;
    assert!(message.contains("re_test_"), "{message}");
    assert_eq!(b.find("#order-status").await.text().await, "返金済み");
    assert!(b.try_find("#refund-order").await.is_none(), "refunded once");
    b.screenshot("admin-order-refunded-ja").await;
    assert_eq!(
        shop.stock("EKD-08-RD").await,
        stock_after_sale + 1,
        "an unshipped refund returns the stock"
    );

    // The customer is told, in their language, with the amount.
    let mail = shop
        .wait_for_mail(&[&number, "返金する手続きをいたしました"])
        .await;
    assert!(
        mail.contains(&format!("{}円", total.trim_start_matches('¥'))),
        "{mail}"
    );
    visit(&mut b, &order_url).await;
    assert_eq!(b.find(".status").await.text().await, "返金済み");

    // The log names the passkey, the sign-in with it and the refund.
    visit(&mut b, &shop.url("/admin/audit")).await;
    let log = b.find("#audit").await.text().await;
    for needle in [
        "staff.passkey_added",
        "staff.sign_in_passkey",
        "order.refunded",
    ] {
        assert!(log.contains(needle), "the audit log shows {needle}: {log}");
    }

    // The guard's page draws the day's events (an SVG the back office's CSP allows).
    visit(&mut b, &shop.url("/admin/guard")).await;
    assert!(b.try_find("#guard-chart rect").await.is_some());
    assert!(
        b.find("#guard-detectors")
            .await
            .text()
            .await
            .contains("probes.source")
    );
    b.screenshot("admin-guard-ja").await;
}

/// Sets a form field's value the way a date picker would.
async fn set_value(b: &Browser, id: &str, value: &str) {
    b.execute(
        "document.getElementById(arguments[0]).value = arguments[1];",
        vec![id.into(), value.into()],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_runs_an_incident_and_visitors_see_the_notice_in_both_languages() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let shop = LiveShop::start().await;
    kura::demo::insert_synthetic(&shop.state.store, &shop.state.vault, 5)
        .await
        .unwrap();
    let mut b = Browser::start(&shop.artifacts(), Language::Japanese).await;
    sign_in_and_enrol(&mut b, &shop, "owner", &shop.owner_password).await;

    // The owner declares the incident.
    visit(&mut b, &shop.url("/admin/incidents")).await;
    b.find("#title")
        .await
        .type_text("不正アクセスによる個人情報漏えいのおそれ")
        .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    set_value(&b, "window_start", "2024-04-01T00:00").await;
    set_value(
        &b,
        "window_end",
        &kura_domain::Date::japan_minute(now + 120).replace(' ', "T"),
    )
    .await;
    b.find("#cause")
        .await
        .type_text("管理画面の脆弱性を突いた不正アクセス。調査中です。")
        .await;
    for c in ["name", "address", "email", "phone"] {
        b.find(&format!("#cat_{c}")).await.click().await;
    }
    b.find("#attack").await.click().await;
    b.find("#declare-form button[type=submit]")
        .await
        .click()
        .await;
    let detail = b
        .wait_for_url("the incident page", |u| {
            u.contains("/admin/incidents/") && !u.ends_with("/admin/incidents")
        })
        .await;
    b.assert_no_csp_violation().await;

    // The first entry of the public notice, in both languages, then the people affected.
    b.find("#title_ja")
        .await
        .type_text("不正アクセスに関するお詫びとお知らせ")
        .await;
    b.find("#body_ja")
        .await
        .type_text("当店のサイトが不正アクセスを受け、お客さまの個人情報が漏えいしたおそれがあります。\n\n当店からカード番号をおたずねするメールは送りません。")
        .await;
    b.find("#title_en")
        .await
        .type_text("Our apology and notice about unauthorised access")
        .await;
    b.find("#body_en")
        .await
        .type_text("Our shop was accessed without authorisation; your personal data may have been taken.\n\nWe never ask for your card number by mail.")
        .await;
    b.find("#entry-form button[type=submit]")
        .await
        .click()
        .await;
    wait_text(&b, "#incident-message", "掲載").await;
    b.find("#scope-form button[type=submit]")
        .await
        .click()
        .await;
    // The five customers and the demo account.
    wait_text(&b, "#incident-message", "6 名を特定しました").await;
    assert!(b.find("#reach-mail").await.text().await.contains('6'));
    b.screenshot("admin-incident-ja").await;
    visit(&mut b, &format!("{detail}/report")).await;
    let report = b.find("#report-items").await.text().await;
    for needle in ["1. 概要", "9. その他参考となる事項", "6 名", "0600"] {
        assert!(report.contains(needle), "{needle}: {report}");
    }
    b.screenshot("admin-incident-report-ja").await;

    // Every storefront page links the notice; it has the "was I affected?" form.
    visit(&mut b, &shop.url("/")).await;
    b.find("#incident-banner a").await.click().await;
    b.wait_for_url("the notice", |u| u.contains("/notices/"))
        .await;
    b.assert_no_csp_violation().await;
    assert!(
        b.find("#notice-title")
            .await
            .text()
            .await
            .contains("お詫びとお知らせ")
    );
    assert!(b.try_find("#lookup-form").await.is_some());
    b.screenshot("notice-ja").await;
    let notice_url = b.current_url().await;
    let other = shop.artifacts().join("english-browser");
    std::fs::create_dir_all(&other).unwrap();
    let mut en = Browser::start(&other, Language::English).await;
    visit(&mut en, &notice_url).await;
    assert!(
        en.find("#notice-title")
            .await
            .text()
            .await
            .contains("Our apology")
    );
    en.find("#lookup-contact")
        .await
        .type_text("someone@example.com")
        .await;
    en.find("#lookup-form button[type=submit]")
        .await
        .click()
        .await;
    wait_text(&en, "#lookup-message", "the answer has been sent").await;
    en.assert_no_csp_violation().await;
    en.screenshot("notice-lookup-en").await;

    // Ordering closes; the notice stays open.
    visit(&mut b, &shop.url("/admin/incidents")).await;
    b.find("#maintenance-form button[type=submit]")
        .await
        .click()
        .await;
    wait_text(&b, "#maintenance-state", "メンテナンス中").await;
    b.goto(&shop.url("/")).await;
    assert!(
        b.page_text()
            .await
            .contains("ただいまご注文を停止しています")
    );
    b.assert_no_csp_violation().await;
    b.screenshot("maintenance-ja").await;
    en.goto(&shop.url("/cart")).await;
    assert!(en.page_text().await.contains("Ordering is paused"));
    en.screenshot("maintenance-en").await;
    visit(&mut en, &notice_url).await;
}

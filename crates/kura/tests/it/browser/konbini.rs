//! Convenience-store payment as customers live it in Chromium: a Japanese guest chooses
//! コンビニ払い, gets a payment number on the provider's page, opens the voucher from the order
//! page, pays at the "store" (the sandbox's test button) and sees the order paid; an English
//! visitor gets a number and reads the voucher notice in English.

use super::live::LiveShop;
use super::webdriver::{Browser, Language};
use super::{
    MILLER, ONE_BROWSER_AT_A_TIME, SATO, add_to_cart, checkout, place_order, visit, wait_for_status,
};

/// On the sandbox's convenience-store page: picks `store` and asks for the number; waits for
/// the return to the shop's order page.
async fn get_number(b: &mut Browser, shop: &LiveShop, store: &str, expected_amount: &str) {
    let sandbox = shop.sandbox_url().to_string();
    b.wait_for_url("the payment sandbox's convenience-store page", |u| {
        u.starts_with(&sandbox) && u.contains("/pay/")
    })
    .await;
    let amount = b.find("[data-testid=amount]").await.text().await;
    assert_eq!(
        amount, expected_amount,
        "the number is for the confirmed total"
    );
    b.screenshot("konbini-provider-page").await;
    b.find(&format!("input[name=store][value={store}]"))
        .await
        .click()
        .await;
    b.find("form button[type=submit]").await.click().await;
    let base = shop.base.clone();
    b.wait_for_url("the return to the shop's order page", |u| {
        u.starts_with(&base) && u.contains("/orders/")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn customers_pay_at_a_convenience_store_through_the_sandbox_in_japanese_and_english() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let shop = LiveShop::start().await;

    // Japanese: the final confirmation page states the deadline rule and the cancellation.
    let mut b = Browser::start(&shop.artifacts(), Language::Japanese).await;
    add_to_cart(&mut b, &shop, "food-jar", "FJ-40", "1").await;
    checkout(&mut b, &shop, Some(&SATO), "konbini").await;
    let confirm = b.page_text().await;
    assert!(confirm.contains("コンビニ払い"), "{confirm}");
    assert!(confirm.contains("番号発行日の3日後の23:59"), "{confirm}");
    assert!(confirm.contains("自動的に取り消されます"), "{confirm}");
    let total = b.find("dl.totals dd.grand").await.text().await;
    b.screenshot("konbini-confirm-ja").await;
    place_order(&mut b).await;
    get_number(&mut b, &shop, "lawson", &total).await;

    let order_url = b.current_url().await;
    let number = b.find(".order-number").await.text().await;
    wait_for_status(&mut b, &order_url, "コンビニでのお支払い待ち").await;
    let page = b.page_text().await;
    assert!(page.contains("お支払い番号を発行しました"), "{page}");
    assert!(
        !page.contains("ご注文が確定しました"),
        "not paid yet: {page}"
    );
    b.screenshot("konbini-order-awaiting-ja").await;
    let mail = shop
        .wait_for_mail(&["コンビニでのお支払い番号を発行しました", &number])
        .await;
    assert!(mail.contains("/voucher/pi_"), "{mail}");

    // The voucher from the order page: the store, the numbers and the deadline.
    b.find("#voucher a.button").await.click().await;
    let sandbox = shop.sandbox_url().to_string();
    b.wait_for_url("the provider's voucher", |u| {
        u.starts_with(&sandbox) && u.contains("/voucher/")
    })
    .await;
    let voucher = b.page_text().await;
    assert!(voucher.contains("ローソン"), "{voucher}");
    let code = b.find("[data-testid=payment-code]").await.text().await;
    assert_eq!(code.len(), 11, "{code}");
    assert!(
        mail.contains(&b.find("[data-testid=deadline]").await.text().await),
        "the mail names the voucher's deadline"
    );
    b.screenshot("konbini-voucher-ja").await;

    // Paid at the store: the shop learns it from the provider only.
    b.find("form button[type=submit]").await.click().await;
    b.wait_for_url("the voucher after paying", |u| u.contains("/voucher/"))
        .await;
    assert!(
        b.page_text()
            .await
            .contains("店頭でのお支払いを受け付けました")
    );
    visit(&mut b, &order_url).await;
    wait_for_status(&mut b, &order_url, "お支払い済み").await;
    let paid = shop
        .wait_for_mail(&["お支払い方法：コンビニ払い", &number])
        .await;
    assert!(paid.contains("コンビニ払い"), "{paid}");
    b.screenshot("konbini-order-paid-ja").await;
    drop(b);

    // English: the same way to a number, in English, names given first.
    let mut b = Browser::start(&shop.artifacts(), Language::English).await;
    add_to_cart(&mut b, &shop, "electric-kettle-drip", "EKD-12-BK", "1").await;
    checkout(&mut b, &shop, Some(&MILLER), "konbini").await;
    let confirm = b.page_text().await;
    assert!(confirm.contains("Convenience store"), "{confirm}");
    assert!(
        confirm.contains("third day after the number is issued"),
        "{confirm}"
    );
    place_order(&mut b).await;
    get_number(&mut b, &shop, "familymart", "¥8,250").await;
    let order_url = b.current_url().await;
    wait_for_status(&mut b, &order_url, "Awaiting payment at the store").await;
    let page = b.page_text().await;
    assert!(page.contains("Your payment number is issued"), "{page}");
    assert!(page.contains("Show the payment voucher"), "{page}");
    b.screenshot("konbini-order-awaiting-en").await;
    let number = b.find(".order-number").await.text().await;
    let mail = shop
        .wait_for_mail(&[
            "Your convenience-store payment number has been issued",
            &number,
        ])
        .await;
    assert!(mail.contains("¥8,250"), "{mail}");
    assert!(mail.contains("(Japan time)"), "{mail}");
    // An English mail names the seller as the English legal notice does.
    assert!(mail.contains("Kura Demo Works Co., Ltd."), "{mail}");
    assert!(!mail.contains("株式会社蔵デモ製作所"), "{mail}");
}

//! A coupon as a customer lives it in Chromium: she types the demo's `welcome500` (lower case)
//! at checkout, sees "クーポン割引 (WELCOME500) −¥500" and the lowered total on the final
//! confirmation page, orders, and sees the same on her order page; a second order with the
//! same code and email is refused next to the coupon field, with what she typed kept.

use super::live::LiveShop;
use super::webdriver::{Browser, Language};
use super::{
    Buyer, MILLER, ONE_BROWSER_AT_A_TIME, add_to_cart, amount_of, place_order, texts, totals,
    type_buyer, visit,
};

/// From the cart: types the buyer and `coupon`, chooses cash on delivery and presses
/// "continue"; returns the URL the browser ends on.
async fn checkout_with_coupon(b: &mut Browser, shop: &LiveShop, buyer: &Buyer, coupon: &str) {
    visit(b, &shop.url("/cart")).await;
    b.find("a.button[href=\"/checkout\"]").await.click().await;
    b.wait_for_url("the checkout form", |u| u.ends_with("/checkout"))
        .await;
    type_buyer(b, buyer).await;
    b.find("#coupon").await.type_text(coupon).await;
    b.find("input[name=payment][value=cod]").await.click().await;
    b.find("#to-confirm").await.click().await;
}

/// Waits (up to 15 s) for the checkout form to come back with a message under the coupon
/// field; returns it.
async fn coupon_error(b: &Browser) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        if let Some(e) = b.try_find("#coupon-error").await
            && let Some(text) = e.try_text().await
        {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no coupon message; the page says {:?}",
            texts(b, "p.alert, p.error").await
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_uses_a_coupon_once_and_is_told_when_she_tries_again() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let shop = LiveShop::start().await;
    kura::demo::ensure_coupons(&shop.state.store, shop.state.clock.now())
        .await
        .unwrap();
    let mut b = Browser::start(&shop.artifacts(), Language::Japanese).await;

    add_to_cart(&mut b, &shop, "electric-kettle-drip", "EKD-08-RD", "1").await;
    checkout_with_coupon(&mut b, &shop, &MILLER, "welcome500").await;
    b.wait_for_url("the confirmation page", |u| {
        u.ends_with("/checkout/confirm")
    })
    .await;
    b.assert_no_csp_violation().await;
    let t = totals(&b).await;
    // ¥5,980 kettle less ¥500; Osaka ¥770; COD on ¥6,250 is ¥330.
    assert_eq!(amount_of(&t, "商品合計"), Some("¥5,980"), "{t:?}");
    assert_eq!(
        amount_of(&t, "クーポン割引 (WELCOME500)"),
        Some("−¥500"),
        "{t:?}"
    );
    assert_eq!(amount_of(&t, "代引手数料"), Some("¥330"), "{t:?}");
    assert_eq!(
        amount_of(&t, "お支払い合計（税込）"),
        Some("¥6,580"),
        "{t:?}"
    );
    // The 10 % base is after the discount: 5,480 + 770 + 330 = 6,580, of which 598.
    assert_eq!(
        amount_of(&t, "10%対象"),
        Some("¥6,580（うち消費税 ¥598）"),
        "{t:?}"
    );
    b.screenshot("coupon-confirm-ja").await;

    place_order(&mut b).await;
    b.wait_for_url("the order page", |u| u.contains("/orders/"))
        .await;
    b.assert_no_csp_violation().await;
    let t = totals(&b).await;
    assert_eq!(
        amount_of(&t, "クーポン割引 (WELCOME500)"),
        Some("−¥500"),
        "{t:?}"
    );
    assert_eq!(amount_of(&t, "お支払い合計（税込）"), Some("¥6,580"));
    assert_eq!(shop.state.store.count_orders().await.unwrap(), 1);

    // Again with the same email: refused next to the field, everything typed kept.
    add_to_cart(&mut b, &shop, "electric-kettle-drip", "EKD-08-RD", "1").await;
    checkout_with_coupon(&mut b, &shop, &MILLER, "WELCOME500").await;
    let message = coupon_error(&b).await;
    b.assert_no_csp_violation().await;
    b.execute(
        "document.getElementById('coupon').scrollIntoView({block: 'center'});",
        Vec::new(),
    )
    .await;
    b.screenshot("coupon-refused-again-ja").await;
    assert_eq!(
        message,
        "このクーポンは、このメールアドレスまたはアカウントで既にご利用済みです（お一人様1回限り）。"
    );
    assert!(b.current_url().await.ends_with("/checkout"));
    let kept = b.find("#email").await.attribute("value").await;
    assert_eq!(kept.as_deref(), Some(MILLER.email));
    assert_eq!(shop.state.store.count_orders().await.unwrap(), 1);
}

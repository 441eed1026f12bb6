//! Stories told through real pages in headless Chromium (Debian's `chromium` and
//! `chromium-driver` packages): a shop on a real port, the payment sandbox on another, and
//! a browser that clicks, types and reads what a person would.
//!
//! The stories run one at a time (they share two cores with the rest of the suite), and every
//! page they visit must cause no Content-Security-Policy violation on the console.

mod backoffice;
mod coupon;
mod konbini;
mod live;
mod webdriver;

use live::LiveShop;
use webdriver::{Browser, Language};

/// One Chromium at a time: several at once only make each story slower and flakier.
static ONE_BROWSER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What a buyer types into the checkout form (field ids equal the field names).
struct Buyer {
    family_name: &'static str,
    given_name: &'static str,
    family_name_kana: &'static str,
    given_name_kana: &'static str,
    postal_code: &'static str,
    /// JIS X 0401 code, the value of the prefecture option.
    prefecture: &'static str,
    address1: &'static str,
    address2: &'static str,
    phone: &'static str,
    email: &'static str,
    /// A note typed into the order (and, when not empty, the order is a gift with a のし).
    note: &'static str,
}

const SATO: Buyer = Buyer {
    family_name: "佐藤",
    given_name: "健太",
    family_name_kana: "サトウ",
    given_name_kana: "ケンタ",
    postal_code: "150-0041",
    prefecture: "13",
    address1: "渋谷区神南1丁目19-11",
    address2: "パークウェースクエア2 4階",
    phone: "03-5456-7890",
    email: "kenta.sato@example.jp",
    note: "不在時は宅配ボックスへお願いします",
};

const MILLER: Buyer = Buyer {
    family_name: "ミラー",
    given_name: "エマ",
    family_name_kana: "ミラー",
    given_name_kana: "エマ",
    postal_code: "530-0001",
    prefecture: "27",
    address1: "大阪市北区梅田3丁目1-3",
    address2: "",
    phone: "080-1234-5678",
    email: "emma.miller@example.com",
    note: "",
};

/// Visits a page and checks that it loaded without a CSP violation.
async fn visit(b: &mut Browser, url: &str) {
    b.goto(url).await;
    b.assert_no_csp_violation().await;
}

/// Chooses a variant and quantity on the product page and presses "add to cart".
async fn add_to_cart(b: &mut Browser, shop: &LiveShop, slug: &str, sku: &str, quantity: &str) {
    visit(b, &shop.url(&format!("/products/{slug}"))).await;
    b.find(&format!("input[name=sku][value=\"{sku}\"]"))
        .await
        .click()
        .await;
    b.find("#quantity").await.type_text(quantity).await;
    b.find("form[action=\"/cart/add\"] button[type=submit]")
        .await
        .click()
        .await;
    b.wait_for_url("the product page to confirm the addition", |u| {
        u.contains("added=1")
    })
    .await;
    b.assert_no_csp_violation().await;
    let notice = b.find("p.notice").await.text().await;
    assert!(
        notice.contains("カートに追加しました") || notice.contains("Added to your cart"),
        "{notice}"
    );
}

/// Types the buyer into the checkout form. The postal code fills in the prefecture and the
/// start of the address (Japan Post's data through the page's script); the buyer types the rest.
async fn type_buyer(b: &mut Browser, buyer: &Buyer) {
    b.find("#postal_code")
        .await
        .type_text(buyer.postal_code)
        .await;
    let filled = wait_for_address(b, "", buyer.prefecture).await;
    let rest = buyer
        .address1
        .strip_prefix(filled.as_str())
        .unwrap_or_else(|| panic!("{filled:?} does not begin {:?}", buyer.address1));
    for (id, value) in [
        ("family_name", buyer.family_name),
        ("given_name", buyer.given_name),
        ("family_name_kana", buyer.family_name_kana),
        ("given_name_kana", buyer.given_name_kana),
        ("address2", buyer.address2),
        ("phone", buyer.phone),
        ("email", buyer.email),
    ] {
        b.find(&format!("#{id}")).await.type_text(value).await;
    }
    b.find("#address1").await.append_text(rest).await;
}

/// From the cart to the confirmation page: types the buyer's details (or keeps what the shop
/// filled in when `buyer` is `None`), chooses the payment and presses "continue".
async fn checkout(b: &mut Browser, shop: &LiveShop, buyer: Option<&Buyer>, payment: &str) {
    visit(b, &shop.url("/cart")).await;
    b.find("a.button[href=\"/checkout\"]").await.click().await;
    b.wait_for_url("the checkout form", |u| u.ends_with("/checkout"))
        .await;
    b.assert_no_csp_violation().await;
    if let Some(buyer) = buyer {
        type_buyer(b, buyer).await;
        b.screenshot(&format!("checkout-filled-{}", buyer.prefecture))
            .await;
    }
    b.find(&format!("input[name=payment][value={payment}]"))
        .await
        .click()
        .await;
    if let Some(buyer) = buyer.filter(|b| !b.note.is_empty()) {
        // A gift: のし (内祝) with the buyer's family name, wrapping and a note.
        b.find("#noshi option[value=\"return_gift\"]")
            .await
            .click()
            .await;
        b.find("#noshi_name")
            .await
            .type_text(buyer.family_name)
            .await;
        b.find("input[name=wrapping]").await.click().await;
        b.find("#note").await.type_text(buyer.note).await;
    }
    b.find("#to-confirm").await.click().await;
    let url = b
        // The form posts to /checkout, the page we are on: only the confirmation URL tells
        // that the submission went through (a refusal stays on /checkout until the deadline).
        .wait_for_url("the confirmation page", |u| {
            u.ends_with("/checkout/confirm")
        })
        .await;
    if !url.ends_with("/checkout/confirm") {
        let errors: Vec<String> = texts(b, ".field.invalid, p.alert").await;
        panic!("the checkout form was refused: {errors:#?}");
    }
    b.assert_no_csp_violation().await;
}

/// The text of every element matching `css`.
async fn texts(b: &Browser, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in b.find_all(css).await {
        out.push(e.text().await);
    }
    out
}

/// The `dl.totals` of the page as (term, amount) pairs.
async fn totals(b: &Browser) -> Vec<(String, String)> {
    let terms = texts(b, "dl.totals dt").await;
    let amounts = texts(b, "dl.totals dd").await;
    assert_eq!(terms.len(), amounts.len(), "{terms:?} / {amounts:?}");
    terms.into_iter().zip(amounts).collect()
}

fn amount_of<'a>(totals: &'a [(String, String)], term: &str) -> Option<&'a str> {
    totals
        .iter()
        .find(|(t, _)| t == term)
        .map(|(_, a)| a.as_str())
}

/// Presses the place-order button on the confirmation page.
async fn place_order(b: &mut Browser) {
    b.find("form[action=\"/checkout/confirm\"] button[type=submit]")
        .await
        .click()
        .await;
}

/// Reloads the order page until its status reads `wanted` (the webhook is asynchronous).
async fn wait_for_status(b: &mut Browser, order_url: &str, wanted: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let status = b.find(".status").await.text().await;
        if status == wanted {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the order still shows {status:?}, not {wanted:?}, after 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        visit(b, order_url).await;
    }
}

/// Pays on the sandbox's card page with the test card that succeeds.
async fn pay_on_sandbox(b: &mut Browser, shop: &LiveShop, expected_amount: &str) {
    let sandbox = shop.sandbox_url().to_string();
    b.wait_for_url("the payment sandbox's card page", |u| {
        u.starts_with(&sandbox) && u.contains("/pay/")
    })
    .await;
    let amount = b.find("[data-testid=amount]").await.text().await;
    assert_eq!(
        amount, expected_amount,
        "the card page charges what the confirmation showed"
    );
    b.find("#name").await.type_text("KENTA SATO").await;
    b.find("#number")
        .await
        .type_text("4242 4242 4242 4242")
        .await;
    b.find("#expiry").await.type_text("12/34").await;
    b.find("#cvc").await.type_text("123").await;
    b.find("form button[type=submit]").await.click().await;
    let base = shop.base.clone();
    b.wait_for_url("the return to the shop's order page", |u| {
        u.starts_with(&base) && u.contains("/orders/")
    })
    .await;
    b.assert_no_csp_violation().await;
}

/// Waits until the address script has chosen `prefecture` for the postal code typed under
/// `prefix` and filled in the first address line; returns that line.
async fn wait_for_address(b: &Browser, prefix: &str, prefecture: &str) -> String {
    let script = format!(
        "return [document.getElementById('{prefix}prefecture').value, \
         document.getElementById('{prefix}address1').value, \
         document.getElementById('postal-status').textContent];"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let v = b.execute(&script, Vec::new()).await;
        let got = |i: usize| v[i].as_str().unwrap_or_default().to_string();
        if got(0) == prefecture && !got(1).is_empty() {
            assert!(
                got(2).contains("住所を入力しました") || got(2).contains("address is filled in"),
                "the change is announced: {:?}",
                got(2)
            );
            return got(1);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the address was not filled in from the postal code: {v:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_buys_two_products_cash_on_delivery_in_japanese() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let shop = LiveShop::start().await;
    let (kettle_before, rice_before) = (shop.stock("EKD-08-RD").await, shop.stock("R-2KG").await);
    let mut b = Browser::start(&shop.artifacts(), Language::Japanese).await;

    visit(&mut b, &shop.url("/")).await;
    assert_eq!(
        b.find("html").await.attribute("lang").await.as_deref(),
        Some("ja")
    );
    add_to_cart(&mut b, &shop, "electric-kettle-drip", "EKD-08-RD", "1").await;
    add_to_cart(&mut b, &shop, "rice", "R-2KG", "2").await;
    checkout(&mut b, &shop, Some(&SATO), "cod").await;

    // 特定商取引法 §12-6: the final page shows what is bought and what it costs, tax per rate.
    assert_eq!(b.find("h1").await.text().await, "ご注文内容の確認");
    let page = b.page_text().await;
    assert!(
        page.contains("佐藤 健太（サトウ ケンタ）"),
        "the buyer and reading: {page}"
    );
    assert!(
        page.contains("〒150-0041 東京都 渋谷区神南1丁目19-11"),
        "{page}"
    );
    assert!(
        page.contains("のし：内祝（名入れ：佐藤）、ギフト包装"),
        "{page}"
    );
    assert!(
        page.contains("不在時は宅配ボックスへお願いします"),
        "{page}"
    );
    let t = totals(&b).await;
    // ¥5,980 kettle + 2 × ¥1,980 rice; Tokyo ¥770; COD on ¥10,710 is ¥440.
    assert_eq!(amount_of(&t, "商品合計"), Some("¥9,940"), "{t:?}");
    assert_eq!(amount_of(&t, "送料"), Some("¥770"), "{t:?}");
    assert_eq!(amount_of(&t, "代引手数料"), Some("¥440"), "{t:?}");
    assert_eq!(
        amount_of(&t, "お支払い合計（税込）"),
        Some("¥11,150"),
        "{t:?}"
    );
    // Fees are taxed at 10 %: 5,980 + 770 + 440 = 7,190, of which ⌊7,190 × 10/110⌋ = 653.
    assert_eq!(
        amount_of(&t, "10%対象"),
        Some("¥7,190（うち消費税 ¥653）"),
        "{t:?}"
    );
    // Rice at the reduced rate: 3,960, of which ⌊3,960 × 8/108⌋ = 293.
    assert_eq!(
        amount_of(&t, "8%対象（軽減税率）"),
        Some("¥3,960（うち消費税 ¥293）"),
        "{t:?}"
    );
    assert_eq!(shop.state.store.count_orders().await.unwrap(), 0);

    place_order(&mut b).await;
    let url = b
        .wait_for_url("the order page", |u| u.contains("/orders/"))
        .await;
    b.assert_no_csp_violation().await;
    let number = b.find(".order-number").await.text().await;
    assert!(!number.is_empty() && url.ends_with(&format!("/orders/{number}")));
    let notice = b.find("p.notice").await.text().await;
    assert!(notice.contains("ご注文ありがとうございます"), "{notice}");
    assert_eq!(b.find(".status").await.text().await, "ご注文確定");
    assert_eq!(
        amount_of(&totals(&b).await, "お支払い合計（税込）"),
        Some("¥11,150")
    );
    assert_eq!(shop.state.store.count_orders().await.unwrap(), 1);
    assert_eq!(shop.stock("EKD-08-RD").await, kettle_before - 1);
    assert_eq!(shop.stock("R-2KG").await, rice_before - 2);

    let mail = shop
        .wait_for_mail(&[&format!("ご注文番号：{number}")])
        .await;
    assert!(mail.contains("kenta.sato@example.jp"), "{mail}");
    assert!(mail.contains("11,150"), "the mail states the total: {mail}");
    assert!(
        mail.contains("ギフト：のし：内祝（名入れ：佐藤）、ギフト包装"),
        "{mail}"
    );
    assert!(mail.contains("ご要望："), "{mail}");

    // The buyer doubts the mail and checks its code on the shop's own page.
    let code = kura_app::mail::find_check_code(&mail).expect("a verification code in the mail");
    let (genuine, verdict) = check_mail(&mut b, &shop, &code).await;
    b.screenshot("mail-check-genuine-ja").await;
    assert_eq!(genuine, "true", "{verdict}");
    assert!(verdict.contains("当店が送ったメールです。"), "{verdict}");
    assert!(
        verdict.contains("ke***@example.jp"),
        "the address, masked: {verdict}"
    );
    assert!(
        !verdict.contains("kenta.sato"),
        "never the whole address: {verdict}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_registers_verifies_and_pays_by_card_on_the_sandbox() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let shop = LiveShop::start().await;
    let mut b = Browser::start(&shop.artifacts(), Language::Japanese).await;

    // Register, confirm the mailed link, then sign in with the new account.
    let email = "haruka.morimoto@example.jp";
    let password = "river lantern mosaic harbour 71";
    visit(&mut b, &shop.url("/account/register")).await;
    for (field, value) in [
        ("#family_name", "森本"),
        ("#given_name", "遥"),
        ("#family_name_kana", "もりもと"),
        ("#given_name_kana", "ハルカ"),
        ("#postal_code", "530-0001"),
        ("#address1", "大阪市北区梅田3-1-1"),
        ("#phone", "06-1234-5678"),
        ("#email", email),
        ("#password", password),
        ("#password_confirm", password),
    ] {
        b.find(field).await.type_text(value).await;
    }
    b.find("#prefecture option[value=\"27\"]")
        .await
        .click()
        .await;
    b.find("form[action=\"/account/register\"] button[type=submit]")
        .await
        .click()
        .await;
    b.assert_no_csp_violation().await;
    let mail = shop.wait_for_mail(&["/account/verify/"]).await;
    let at = mail.find("/account/verify/").expect("a verification link");
    let start = mail[..at].rfind("http").expect("an absolute link");
    let link: String = mail[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || ":/.-_".contains(*c))
        .collect();
    visit(&mut b, &link).await;
    b.find("main form button[type=submit]").await.click().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let heading = match b.try_find("h1").await {
            Some(h) => h.try_text().await.unwrap_or_default(),
            None => String::new(),
        };
        if heading.contains("メールアドレスを確認しました") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the mailed link verifies the address"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    visit(&mut b, &shop.url("/login")).await;
    b.find("#email").await.type_text(email).await;
    b.find("#password").await.type_text(password).await;
    b.find("form[action=\"/login\"] button[type=submit]")
        .await
        .click()
        .await;
    b.wait_for_url("the account page", |u| u.ends_with("/account"))
        .await;
    b.assert_no_csp_violation().await;
    assert!(b.try_find("a[href=\"/account\"]").await.is_some());

    // 500 ml navy is sold out: she asks to be told when it is back, and is mailed once it is.
    visit(&mut b, &shop.url("/products/vacuum-bottle-light")).await;
    b.find("form[action=\"/restock\"] button[value=ask]")
        .await
        .click()
        .await;
    b.wait_for_url("the restock answer", |u| u.contains("restock=asked"))
        .await;
    b.assert_no_csp_violation().await;
    let notice = b.find("p.notice").await.text().await;
    assert!(notice.contains("入荷お知らせを登録しました"), "{notice}");
    b.screenshot("restock-asked").await;
    shop.state.store.set_stock("VBL-50-NV", 3).await.unwrap();
    // The shop's sweep runs every 30 s; the story does not wait for it (either may send it).
    shop.state.restock.notify_due(10).await.unwrap();
    let mail = shop
        .wait_for_mail(&["入荷お知らせにご登録いただいた商品が入荷しました"])
        .await;
    assert!(
        mail.contains("500ml ネイビー") && mail.contains(email),
        "{mail}"
    );

    add_to_cart(&mut b, &shop, "vacuum-bottle-light", "VBL-35-WH", "1").await;
    add_to_cart(&mut b, &shop, "rice", "R-2KG", "1").await;
    // The form is filled from the customer's profile; only the payment is chosen.
    visit(&mut b, &shop.url("/checkout")).await;
    let family = b.find("#family_name").await.attribute("value").await;
    assert!(
        family.is_some_and(|v| !v.is_empty()),
        "the profile fills the form"
    );
    checkout(&mut b, &shop, None, "card").await;
    let t = totals(&b).await;
    assert_eq!(
        amount_of(&t, "代引手数料"),
        None,
        "no COD fee on a card order"
    );
    let total = amount_of(&t, "お支払い合計（税込）")
        .unwrap_or_default()
        .to_string();
    assert!(b.page_text().await.contains("クレジットカード"));

    place_order(&mut b).await;
    pay_on_sandbox(&mut b, &shop, &total).await;
    let url = b.current_url().await;
    let number = b.find(".order-number").await.text().await;
    wait_for_status(&mut b, &url, "お支払い済み").await;
    assert_eq!(
        amount_of(&totals(&b).await, "お支払い合計（税込）"),
        Some(total.as_str())
    );
    assert!(
        b.try_find("a.button[href*=\"/pay/\"]").await.is_none(),
        "a paid order offers no payment link"
    );
    shop.wait_for_mail(&[&format!("ご注文番号：{number}")])
        .await;

    // Paid: the order page offers a receipt. She sets the addressee (a company), then fetches
    // the PDF through the page's link as the browser would download it.
    b.find("#addressee")
        .await
        .type_text("株式会社森本商店")
        .await;
    b.find("form[action$=\"/addressee\"] button[type=submit]")
        .await
        .click()
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while b.try_find("#receipts p.notice").await.is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the addressee is saved"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    b.assert_no_csp_violation().await;
    b.screenshot("receipt-section").await;
    let pdf = b
        .execute(
            "const a = document.querySelector('a[href$=\"/receipt.pdf\"]'); \
             return fetch(a.href).then(r => r.arrayBuffer()).then(b => { \
               let s = ''; const u = new Uint8Array(b); \
               for (let i = 0; i < u.length; i += 8192) { \
                 s += String.fromCharCode(...u.subarray(i, i + 8192)); } \
               return btoa(s); });",
            Vec::new(),
        )
        .await;
    let bytes = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(pdf.as_str().unwrap_or_default())
            .expect("the receipt PDF")
    };
    assert!(bytes.starts_with(b"%PDF"), "a PDF");
    let path = shop.artifacts().join("receipt.pdf");
    std::fs::write(&path, &bytes).unwrap();
    let text = std::process::Command::new("pdftotext")
        .args([path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("領収書") && text.contains("株式会社森本商店"),
        "{text}"
    );
    assert!(text.contains(total.trim_start_matches('¥')), "{text}");
    // Issued once, the addressee is fixed.
    visit(&mut b, &url).await;
    assert!(
        b.find("strong.addressee")
            .await
            .text()
            .await
            .contains("株式会社森本商店")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_english_visitor_pays_by_card_and_sees_paid() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let shop = LiveShop::start().await;
    // Accept-Language: en (the browser's preference) picks English without any click.
    let mut b = Browser::start(&shop.artifacts(), Language::English).await;

    visit(&mut b, &shop.url("/")).await;
    assert_eq!(
        b.find("html").await.attribute("lang").await.as_deref(),
        Some("en")
    );
    assert_eq!(b.find("a[href=\"/cart\"]").await.text().await, "Cart");
    add_to_cart(&mut b, &shop, "electric-kettle-drip", "EKD-12-BK", "1").await;
    visit(&mut b, &shop.url("/cart")).await;
    assert_eq!(b.find("h1").await.text().await, "Shopping cart");
    checkout(&mut b, &shop, Some(&MILLER), "card").await;

    assert_eq!(b.find("h1").await.text().await, "Review your order");
    let t = totals(&b).await;
    // ¥7,480 kettle; Osaka ¥770; no COD fee; 8,250 of which ⌊8,250 × 10/110⌋ = 750.
    assert_eq!(amount_of(&t, "Goods"), Some("¥7,480"), "{t:?}");
    assert_eq!(amount_of(&t, "Shipping"), Some("¥770"), "{t:?}");
    assert_eq!(amount_of(&t, "Cash-on-delivery fee"), None, "{t:?}");
    assert_eq!(
        amount_of(&t, "Total to pay (incl. tax)"),
        Some("¥8,250"),
        "{t:?}"
    );
    assert_eq!(
        amount_of(&t, "Taxed at 10%"),
        Some("¥8,250（of which tax ¥750）"),
        "{t:?}"
    );
    assert!(b.page_text().await.contains("Credit card"));
    assert_eq!(
        b.find("form[action=\"/checkout/confirm\"] button[type=submit]")
            .await
            .text()
            .await,
        "Place order"
    );

    place_order(&mut b).await;
    pay_on_sandbox(&mut b, &shop, "¥8,250").await;
    let url = b.current_url().await;
    let number = b.find(".order-number").await.text().await;
    wait_for_status(&mut b, &url, "Paid").await;
    assert!(b.page_text().await.contains("Status: Paid"));
    let mail = shop
        .wait_for_mail(&[&format!("Order number: {number}")])
        .await;
    assert!(mail.contains("Thank you"), "{mail}");

    // A mail in the shop's name with a made-up code is not the shop's.
    let (genuine, verdict) = check_mail(&mut b, &shop, "00000-00001").await;
    b.screenshot("mail-check-forged-en").await;
    assert_eq!(genuine, "false", "{verdict}");
    assert!(verdict.contains("We did not send this mail."), "{verdict}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sold_out_variant_cannot_be_bought_even_by_forcing_the_form() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let shop = LiveShop::start().await;
    let mut b = Browser::start(&shop.artifacts(), Language::Japanese).await;

    // The sold-out variant's radio is disabled and says so; the others can be chosen.
    visit(&mut b, &shop.url("/products/vacuum-bottle-light")).await;
    let navy = b.find("input[name=sku][value=\"VBL-50-NV\"]").await;
    assert!(!navy.is_enabled().await, "the sold-out radio is disabled");
    assert!(!navy.is_selected().await);
    let white = b.find("input[name=sku][value=\"VBL-50-WH\"]").await;
    assert!(white.is_enabled().await);
    let label = b.find("label.choice.disabled").await.text().await;
    assert!(
        label.contains("500ml ネイビー") && label.contains("売り切れ"),
        "{label}"
    );

    // The header's English link switches language and comes back to the same product.
    b.find("header a[href^=\"/lang/en\"]").await.click().await;
    b.wait_for_url("the product page in English", |u| {
        u.ends_with("/products/vacuum-bottle-light")
    })
    .await;
    b.assert_no_csp_violation().await;
    let label = b.find("label.choice.disabled").await.text().await;
    assert!(
        label.contains("500 ml navy") && label.contains("Sold out"),
        "{label}"
    );
    b.find("header a[href^=\"/lang/ja\"]").await.click().await;
    b.wait_for_url("the product page in Japanese", |u| {
        u.ends_with("/products/vacuum-bottle-light")
    })
    .await;
    assert_eq!(
        b.find("html").await.attribute("lang").await.as_deref(),
        Some("ja")
    );

    // An entirely sold-out product offers no way to add it.
    visit(&mut b, &shop.url("/products/donabe-rice-cooker")).await;
    assert!(b.try_find("form[action=\"/cart/add\"]").await.is_none());
    assert!(b.try_find("main button[type=submit]").await.is_none());
    assert!(
        b.find("main p.soldout")
            .await
            .text()
            .await
            .contains("すべて売り切れ")
    );

    // Forcing it: enable the disabled radio in the page and submit the form anyway.
    visit(&mut b, &shop.url("/products/vacuum-bottle-light")).await;
    let navy = b.find("input[name=sku][value=\"VBL-50-NV\"]").await;
    b.execute(
        "arguments[0].disabled = false; arguments[0].checked = true;",
        vec![navy.as_arg()],
    )
    .await;
    assert!(navy.is_selected().await, "the forced radio is chosen");
    b.find("form[action=\"/cart/add\"] button[type=submit]")
        .await
        .click()
        .await;
    b.wait_for_url("the refusal on the product page", |u| {
        u.contains("problem=")
    })
    .await;
    let notice = b.find("p.notice").await.text().await;
    assert!(notice.contains("売り切れです"), "{notice}");

    // Forcing the other one: the same form, pointed at the sold-out product's SKU.
    b.execute(
        "const f = document.querySelector('form[action=\"/cart/add\"]');\
         f.elements.slug.value = 'donabe-rice-cooker';\
         const r = f.querySelector('input[name=sku]:checked') || f.querySelector('input[name=sku]');\
         r.disabled = false; r.checked = true; r.value = 'DRC-55';",
        vec![],
    )
    .await;
    b.find("form[action=\"/cart/add\"] button[type=submit]")
        .await
        .click()
        .await;
    b.wait_for_url("the refusal on the sold-out product's page", |u| {
        u.contains("/products/donabe-rice-cooker?problem=")
    })
    .await;
    let notice = b.find("p.notice").await.text().await;
    assert!(notice.contains("売り切れです"), "{notice}");

    // Nothing reached the cart, checkout sends the visitor back to it, and no order exists.
    visit(&mut b, &shop.url("/cart")).await;
    assert!(b.page_text().await.contains("カートは空です"));
    visit(&mut b, &shop.url("/checkout")).await;
    assert!(b.current_url().await.ends_with("/cart"));
    visit(&mut b, &shop.url("/checkout/confirm")).await;
    assert!(!b.current_url().await.ends_with("/checkout/confirm"));
    assert_eq!(shop.state.store.count_orders().await.unwrap(), 0);
    assert_eq!(shop.stock("VBL-50-NV").await, 0);
    assert_eq!(shop.stock("DRC-55").await, 0);
}

/// Opens the mail-check page from the footer, pastes `input` and returns the verdict section's
/// `data-genuine` and text.
async fn check_mail(b: &mut Browser, shop: &LiveShop, input: &str) -> (String, String) {
    b.find("footer a[href=\"/mail-check\"]").await.click().await;
    b.wait_for_url("the mail-check page", |u| u.ends_with("/mail-check"))
        .await;
    b.assert_no_csp_violation().await;
    b.find("#mail").await.type_text(input).await;
    b.find("form[action=\"/mail-check\"] button[type=submit]")
        .await
        .click()
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(verdict) = b.try_find("#mail-check-verdict").await {
            let genuine = verdict.attribute("data-genuine").await.unwrap_or_default();
            let text = verdict.text().await;
            b.assert_no_csp_violation().await;
            assert_eq!(b.current_url().await, shop.url("/mail-check"));
            return (genuine, text);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the mail-check page shows a verdict: {}",
            b.page_text().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Types a card number the sandbox's issuer declines, and stays on its page.
async fn decline_on_sandbox(b: &mut Browser, shop: &LiveShop) {
    let sandbox = shop.sandbox_url().to_string();
    b.wait_for_url("the payment sandbox's card page", |u| {
        u.starts_with(&sandbox) && u.contains("/pay/")
    })
    .await;
    b.find("#name").await.type_text("KENTA SATO").await;
    b.find("#number")
        .await
        .type_text("4000 0000 0000 0002")
        .await;
    b.find("#expiry").await.type_text("12/34").await;
    b.find("#cvc").await.type_text("123").await;
    b.find("form button[type=submit]").await.click().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !b.page_text().await.contains("Your card was declined") {
        assert!(
            std::time::Instant::now() < deadline,
            "the sandbox shows the decline"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The signed order link in a mail's text.
fn mailed_order_link(mail: &str, base: &str) -> String {
    let start = mail
        .find(&format!("{base}/orders/"))
        .expect("an order link in the mail");
    mail[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || ":/.-_?=&".contains(*c))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declined_card_is_not_mailed_as_paid_and_its_mailed_link_opens_in_a_fresh_browser() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let shop = LiveShop::start().await;
    let mut b = Browser::start(&shop.artifacts(), Language::Japanese).await;

    add_to_cart(&mut b, &shop, "food-jar", "FJ-40", "1").await;
    // A card number typed after the room number: the form comes back, only that field emptied.
    visit(&mut b, &shop.url("/checkout")).await;
    for (id, value) in [
        ("family_name", SATO.family_name),
        ("given_name", SATO.given_name),
        ("family_name_kana", SATO.family_name_kana),
        ("given_name_kana", SATO.given_name_kana),
        ("postal_code", SATO.postal_code),
        ("address1", SATO.address1),
        ("address2", "4階 401 4242 4242 4242 4242"),
        ("phone", SATO.phone),
        ("email", SATO.email),
    ] {
        b.find(&format!("#{id}")).await.type_text(value).await;
    }
    b.find("#prefecture option[value=\"13\"]")
        .await
        .click()
        .await;
    b.find("input[name=payment][value=card]")
        .await
        .click()
        .await;
    b.find("#to-confirm").await.click().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while b.try_find("#address2-error").await.is_none() {
        assert!(std::time::Instant::now() < deadline, "the field is named");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    b.assert_no_csp_violation().await;
    let alert = texts(&b, "p.alert").await.join("\n");
    assert!(
        alert.contains("「建物名・部屋番号」にカード番号と思われる数字"),
        "{alert}"
    );
    assert_eq!(
        b.find("#address2")
            .await
            .attribute("value")
            .await
            .as_deref(),
        Some("")
    );
    assert_eq!(
        b.find("#address1")
            .await
            .attribute("value")
            .await
            .as_deref(),
        Some(SATO.address1)
    );
    b.screenshot("checkout-card-emptied-ja").await;
    b.execute(
        "document.getElementById('address2').scrollIntoView({block: 'center'})",
        Vec::new(),
    )
    .await;
    b.screenshot("checkout-card-emptied-field-ja").await;

    // Order by card, and the card is declined.
    checkout(&mut b, &shop, Some(&SATO), "card").await;
    let total = amount_of(&totals(&b).await, "お支払い合計（税込）")
        .unwrap_or_default()
        .to_string();
    place_order(&mut b).await;
    decline_on_sandbox(&mut b, &shop).await;
    // Back to the shop without paying.
    b.find("a[href^=\"/cancel/\"]").await.click().await;
    let base = shop.base.clone();
    let order_url = b
        .wait_for_url("the order page", |u| {
            u.starts_with(&base) && u.contains("/orders/")
        })
        .await;
    b.assert_no_csp_violation().await;
    let number = b.find(".order-number").await.text().await;
    let page = b.page_text().await;
    assert!(!page.contains("ご注文を承りました"), "{page}");
    assert!(page.contains("お支払いはまだ完了していません"), "{page}");
    assert_eq!(b.find(".status").await.text().await, "カード決済待ち");
    assert!(
        b.try_find(&format!("form[action=\"/orders/{number}/pay\"] button"))
            .await
            .is_some()
    );
    b.screenshot("order-unpaid-ja").await;

    // The order-time mail says the payment is awaited; no "paid" mail came.
    let mail = shop
        .wait_for_mail(&[
            &format!("ご注文番号：{number}"),
            "お支払いはまだ完了していません",
        ])
        .await;
    assert!(!mail.contains("お支払いは完了しています"), "{mail}");
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(
        shop.mails()
            .iter()
            .all(|m| !m.contains("ご注文代金のお支払いを確認しました")),
        "no payment-received mail for a declined card"
    );
    let link = mailed_order_link(&mail, &shop.base);
    assert!(link.contains("?k="), "a signed link: {link}");

    // The mailed link, opened in a fresh browser (another device), in English.
    let other = shop.artifacts().join("second-browser");
    std::fs::create_dir_all(&other).unwrap();
    let mut phone = Browser::start(&other, Language::English).await;
    visit(&mut phone, &link).await;
    phone
        .wait_for_url("the order page without the token", |u| {
            u.ends_with(&format!("/orders/{number}"))
        })
        .await;
    assert_eq!(phone.find(".order-number").await.text().await, number);
    let page = phone.page_text().await;
    assert!(page.contains("Your payment is not complete yet"), "{page}");
    assert!(page.contains("Awaiting card payment"), "{page}");
    phone.screenshot("order-unpaid-en").await;
    // A way to pay: a fresh provider page, paid with a card that works this time.
    phone
        .find(&format!("form[action=\"/orders/{number}/pay\"] button"))
        .await
        .click()
        .await;
    pay_on_sandbox(&mut phone, &shop, &total).await;
    let url = phone.current_url().await;
    wait_for_status(&mut phone, &url, "Paid").await;
    assert!(
        phone.try_find("form[action$=\"/pay\"]").await.is_none(),
        "a paid order offers no payment"
    );
    assert!(
        phone
            .page_text()
            .await
            .contains("We have received your payment"),
        "back from the provider, the paid order says so"
    );
    phone.screenshot("order-paid-en").await;
    let paid = shop
        .wait_for_mail(&[
            "ご注文代金のお支払いを確認しました",
            &format!("ご注文番号：{number}"),
        ])
        .await;
    assert!(paid.contains("クレジットカード"), "{paid}");

    // The lookup page, in both languages.
    visit(&mut phone, &shop.url("/orders/lookup")).await;
    assert_eq!(phone.find("h1").await.text().await, "Find your order");
    phone.screenshot("lookup-en").await;
    visit(&mut b, &shop.url("/orders/lookup")).await;
    assert_eq!(b.find("h1").await.text().await, "ご注文の確認");
    b.screenshot("lookup-ja").await;
    // The first browser sees the payment too.
    visit(&mut b, &order_url).await;
    assert_eq!(b.find(".status").await.text().await, "お支払い済み");

    // In English: a card number in the form, then an unpaid card order ordered again with
    // another payment method.
    add_to_cart(&mut phone, &shop, "food-jar", "FJ-30", "1").await;
    visit(&mut phone, &shop.url("/checkout")).await;
    for (id, value) in [
        ("family_name", MILLER.family_name),
        ("given_name", MILLER.given_name),
        ("family_name_kana", MILLER.family_name_kana),
        ("given_name_kana", MILLER.given_name_kana),
        ("postal_code", MILLER.postal_code),
        ("address1", MILLER.address1),
        ("address2", ""),
        ("phone", "1-2-3 4242424242424242"),
        ("email", MILLER.email),
    ] {
        phone.find(&format!("#{id}")).await.type_text(value).await;
    }
    phone
        .find("#prefecture option[value=\"27\"]")
        .await
        .click()
        .await;
    phone
        .find("input[name=payment][value=card]")
        .await
        .click()
        .await;
    phone.find("#to-confirm").await.click().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while phone.try_find("#phone-error").await.is_none() {
        assert!(std::time::Instant::now() < deadline, "the field is named");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let alert = texts(&phone, "p.alert").await.join("\n");
    assert!(
        alert.contains("“Phone number” held what looks like a card number"),
        "{alert}"
    );
    phone.screenshot("checkout-card-emptied-en").await;
    phone.find("#phone").await.type_text(MILLER.phone).await;
    phone.find("#to-confirm").await.click().await;
    phone
        .wait_for_url("the confirmation page", |u| {
            u.ends_with("/checkout/confirm")
        })
        .await;
    place_order(&mut phone).await;
    let sandbox = shop.sandbox_url().to_string();
    phone
        .wait_for_url("the payment sandbox's card page", |u| {
            u.starts_with(&sandbox) && u.contains("/pay/")
        })
        .await;
    phone.find("a[href^=\"/cancel/\"]").await.click().await;
    phone
        .wait_for_url("the order page", |u| u.contains("/orders/"))
        .await;
    let second = phone.find(".order-number").await.text().await;
    phone
        .find(&format!("form[action=\"/orders/{second}/reopen\"] button"))
        .await
        .click()
        .await;
    phone
        .wait_for_url("the checkout form again", |u| {
            u.ends_with("/checkout?again=1")
        })
        .await;
    phone.assert_no_csp_violation().await;
    let notice = texts(&phone, "p.notice").await.join("\n");
    assert!(
        notice.contains("Please choose a payment method"),
        "{notice}"
    );
    assert_eq!(
        phone
            .find("#address1")
            .await
            .attribute("value")
            .await
            .as_deref(),
        Some(MILLER.address1)
    );
    assert!(
        !phone
            .find("input[name=payment][value=card]")
            .await
            .is_selected()
            .await
    );
    phone.screenshot("checkout-again-en").await;
}

/// What overflows at the current width: the page scrolling sideways, an element ending past
/// the viewport, or a block whose content spills out of its box (text that does not wrap).
/// Content inside a container that scrolls on its own (a wide table) is allowed.
const LAYOUT_PROBLEMS: &str = r#"
const w = document.documentElement.clientWidth;
const bad = [];
const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
  (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '') +
  ' "' + (el.textContent || '').trim().slice(0, 30) + '"';
if (document.documentElement.scrollWidth > w + 1) {
  bad.push('the page scrolls sideways: ' + document.documentElement.scrollWidth + ' > ' + w);
}
for (const el of document.body.querySelectorAll('*')) {
  const cs = getComputedStyle(el);
  if (cs.display === 'none' || cs.visibility === 'hidden' || el.closest('.visually-hidden, .skip, script, style')) continue;
  const r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;
  let p = el.parentElement, scrolls = false;
  while (p) { const o = getComputedStyle(p).overflowX; if (o === 'auto' || o === 'scroll') { scrolls = true; break; } p = p.parentElement; }
  if (scrolls) continue;
  if (r.right > w + 1) bad.push(name(el) + ' ends at ' + Math.round(r.right) + ' > ' + w);
  if (cs.display !== 'inline' && cs.overflowX === 'visible' && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
    bad.push(name(el) + ' holds ' + el.scrollWidth + ' in ' + el.clientWidth);
  }
}
return bad.slice(0, 20);
"#;

/// Where the layout story keeps its screenshots: `$KURA_SCREENSHOTS`, else
/// `target/screenshots` of the workspace.
fn screenshot_dir() -> std::path::PathBuf {
    std::env::var_os("KURA_SCREENSHOTS").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots"),
        std::path::PathBuf::from,
    )
}

/// Checks the current page at a phone's and a desktop's width and keeps a screenshot of each.
async fn fits(b: &Browser, label: &str) {
    let dir = screenshot_dir();
    for (width, height) in [(390, 844), (1280, 900)] {
        b.set_viewport_width(width, height).await;
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        let v = b.execute(LAYOUT_PROBLEMS, Vec::new()).await;
        let problems: Vec<String> = v
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        b.screenshot_to(&dir, &format!("{label}-{width}")).await;
        assert!(problems.is_empty(), "{label} at {width} px: {problems:#?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_fits_a_phone_and_a_desktop_without_sideways_scrolling() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let shop = LiveShop::start().await;
    for lang in [Language::Japanese, Language::English] {
        let code = if lang == Language::Japanese {
            "ja"
        } else {
            "en"
        };
        let mut b = Browser::start(&shop.artifacts(), lang).await;
        visit(&mut b, &shop.url("/")).await;
        fits(&b, &format!("home-{code}")).await;
        // The phone grid shows two products a row.
        b.set_viewport_width(390, 844).await;
        let tops = b
            .execute(
                "return [...document.querySelectorAll('.grid .card')].slice(0, 2).map(c => c.getBoundingClientRect().top);",
                Vec::new(),
            )
            .await;
        assert_eq!(tops[0], tops[1], "two cards side by side on a phone");
        visit(&mut b, &shop.url("/products/vacuum-bottle-light")).await;
        fits(&b, &format!("product-{code}")).await;
        visit(&mut b, &shop.url("/search?q=%E3%81%BC%E3%81%A8%E3%82%8B")).await;
        fits(&b, &format!("search-{code}")).await;
        b.set_viewport_width(1280, 900).await;
        add_to_cart(&mut b, &shop, "electric-kettle-drip", "EKD-08-RD", "1").await;
        add_to_cart(&mut b, &shop, "rice", "R-2KG", "2").await;
        visit(&mut b, &shop.url("/cart")).await;
        fits(&b, &format!("cart-{code}")).await;
        b.set_viewport_width(1280, 900).await;
        checkout(
            &mut b,
            &shop,
            Some(if code == "ja" { &SATO } else { &MILLER }),
            "cod",
        )
        .await;
        fits(&b, &format!("confirm-{code}")).await;
        // The order page of a paid order, with its receipt and invoice section (cash on
        // delivery is paid once the delivery is recorded).
        place_order(&mut b).await;
        b.wait_for_url("the order page", |u| u.contains("/orders/"))
            .await;
        let number = b.find(".order-number").await.text().await;
        let parcel = kura_app::orders::Parcel {
            carrier: "ヤマト運輸".into(),
            tracking_number: "1234-5678-9012".into(),
            tracking_url: None,
        };
        shop.state
            .orders
            .mark_shipped(&number, &parcel)
            .await
            .unwrap()
            .unwrap();
        shop.state
            .orders
            .mark_delivered(&number)
            .await
            .unwrap()
            .unwrap();
        visit(&mut b, &shop.url(&format!("/orders/{number}"))).await;
        let receipt = b
            .find("#receipts a[href$=\"receipt.pdf\"]")
            .await
            .text()
            .await;
        assert!(
            receipt.contains("領収書") || receipt.contains("receipt"),
            "a paid order offers its receipt"
        );
        fits(&b, &format!("receipt-{code}")).await;
        add_to_cart(&mut b, &shop, "electric-kettle-drip", "EKD-08-RD", "1").await;
        visit(&mut b, &shop.url("/checkout")).await;
        fits(&b, &format!("checkout-{code}")).await;
        // The check sees what it is meant to: a word too long for its box, a wide element.
        b.set_viewport_width(390, 844).await;
        b.execute(
            "const p = document.createElement('p'); p.style.overflowWrap = 'normal'; \
             p.style.wordBreak = 'normal'; p.textContent = 'x'.repeat(200); \
             document.querySelector('main').appendChild(p);",
            Vec::new(),
        )
        .await;
        let found = b.execute(LAYOUT_PROBLEMS, Vec::new()).await;
        assert!(
            found.as_array().is_some_and(|a| !a.is_empty()),
            "an overflowing word is found: {found}"
        );
    }
}

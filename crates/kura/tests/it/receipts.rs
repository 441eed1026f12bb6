//! Receipts (領収書) and qualified invoices (適格請求書) through the real pages: nothing before
//! the money arrives (a page that says why, never a PDF), then PDFs whose text (read back with
//! poppler's `pdftotext`) names the addressee, the total, the tax per rate and the seller's
//! registration number; a second download marked 再発行; an addressee that is fixed once a
//! document was issued; nobody else's documents; and an addressee that is never in the database
//! in clear.

use kura_app::receipts::DocumentKind;
use kura_domain::{TaxRate, Yen};

use crate::storefront::{add, location, place, submit_checkout, with};
use crate::support::{self, Client, Reply, TestShop};

/// A made-up registration number with a right check digit.
const REGISTRATION: &str = "T7123456789012";
const COMPANY: &str = "株式会社鏑木商会 経理部";

async fn shop_on(db: Option<&str>, registration: &str) -> TestShop {
    let shop = support::shop_with(db, |c| {
        c.legal.invoice_registration_number = registration.to_string();
    })
    .await;
    kura::demo::ensure_catalog(&shop.state.store).await.unwrap();
    shop
}

/// An order of a food jar (10 %) and rice (8 %), placed as a guest by `payment`; its number.
async fn mixed_order(c: &mut Client, payment: &'static str) -> String {
    add(c, "food-jar", "FJ-40", "1").await;
    add(c, "rice", "R-2KG", "2").await;
    let r = submit_checkout(c, &with(&[("payment", payment)])).await;
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

/// The PDF's text as `pdftotext` reads it, runs of white space as one space.
fn pdf_text(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.bytes.starts_with(b"%PDF-"),
        "not a PDF: {}",
        reply.body
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doc.pdf");
    std::fs::write(&file, &reply.bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext is installed (poppler-utils; .ci/test installs it)");
    assert!(out.status.success(), "pdftotext could not read the PDF");
    squash(&String::from_utf8(out.stdout).unwrap())
}

/// Where a redirect points, without its `#fragment` (a browser keeps that to itself).
fn page_of(reply: &Reply) -> &str {
    let to = reply
        .headers
        .get("location")
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default();
    to.split('#').next().unwrap_or_default()
}

fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

async fn addressee(c: &mut Client, number: &str, name: &str) -> Reply {
    // The session's token (the order page has no form once the addressee is fixed).
    let csrf = c.csrf_from("/orders/lookup").await;
    c.post_form(
        &format!("/orders/{number}/addressee"),
        &[("csrf_token", &csrf), ("addressee", name)],
    )
    .await
}

/// `10%対象 ¥5,060 消費税 ¥460` for each rate with something at it.
fn tax_lines(shop_totals: &kura_domain::Totals) -> Vec<String> {
    let t = &shop_totals.tax;
    let mut lines = Vec::new();
    for (rate, total, tax) in [
        (TaxRate::Standard, t.standard_total, t.standard_tax),
        (TaxRate::Reduced, t.reduced_total, t.reduced_tax),
    ] {
        if total != Yen::ZERO {
            lines.push(format!("{}%対象 {total} 消費税 {tax}", rate.percent()));
        }
    }
    lines
}

/// The whole story on one database: unpaid, paid, addressed, issued, reissued, fixed, and the
/// addressee sealed in the store.
async fn story(db: Option<&str>) {
    let shop = shop_on(db, REGISTRATION).await;
    let mut c = Client::new(&shop.router);
    let number = mixed_order(&mut c, "bank_transfer").await;

    // Not paid yet: the page says why, and the PDF address answers a page, not a PDF.
    let page = c.get(&format!("/orders/{number}")).await;
    assert!(page.body.contains("領収書・適格請求書"), "{}", page.body);
    assert!(page.body.contains("ご入金を確認した後に"), "{}", page.body);
    assert!(!page.body.contains("receipt.pdf"));
    let early = c.get(&format!("/orders/{number}/receipt.pdf")).await;
    assert_eq!(early.status, 409);
    assert!(header(&early, "content-type").starts_with("text/html"));
    assert!(
        early.body.contains("ご入金を確認した後に"),
        "{}",
        early.body
    );
    assert!(!early.bytes.starts_with(b"%PDF"));

    // The transfer arrives: the section offers the addressee (the buyer's name) and the PDFs.
    shop.state
        .orders
        .mark_transfer_received(&number)
        .await
        .unwrap()
        .unwrap();
    let page = c.get(&format!("/orders/{number}")).await;
    assert!(page.body.contains("value=\"鏑木 瑞穂\""), "{}", page.body);
    assert!(page.body.contains(&format!("/orders/{number}/receipt.pdf")));
    assert!(page.body.contains(&format!("/orders/{number}/invoice.pdf")));

    // A company name instead.
    let saved = addressee(&mut c, &number, COMPANY).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert!(location(&saved).contains("receipt=saved"));
    let page = c.get(page_of(&saved)).await;
    assert!(page.body.contains("宛名を保存しました"), "{}", page.body);
    assert!(page.body.contains(&format!("value=\"{COMPANY}\"")));

    // The receipt: addressee, total, tax per rate, registration number; the original.
    let order = shop
        .state
        .orders
        .view_by_number(&number)
        .await
        .unwrap()
        .unwrap();
    let receipt = c.get(&format!("/orders/{number}/receipt.pdf")).await;
    assert_eq!(header(&receipt, "content-type"), "application/pdf");
    assert_eq!(
        header(&receipt, "content-disposition"),
        format!("attachment; filename=\"receipt-{number}.pdf\"")
    );
    assert_eq!(header(&receipt, "cache-control"), "no-store");
    let text = pdf_text(&receipt);
    let mut wanted = vec![
        "領収書".to_string(),
        format!("{COMPANY} 様"),
        format!("{}-（税込）", order.totals.total),
        format!("登録番号 {REGISTRATION}"),
        format!("No. {number}-R1"),
    ];
    let rates = tax_lines(&order.totals);
    assert_eq!(rates.len(), 2, "both rates are on this order");
    wanted.extend(rates.clone());
    for want in &wanted {
        assert!(
            text.contains(want.as_str()),
            "{want:?} missing from: {text}"
        );
    }
    assert!(
        !text.contains("再発行"),
        "the first receipt is the original"
    );

    // Issued: the addressee is shown, no longer a field, and a change is refused.
    let page = c.get(&format!("/orders/{number}")).await;
    assert!(
        page.body.contains(&format!("{COMPANY} 様")),
        "{}",
        page.body
    );
    assert!(!page.body.contains("name=\"addressee\""));
    let changed = addressee(&mut c, &number, "別の宛名株式会社").await;
    assert_eq!(changed.status, 303);
    assert!(location(&changed).contains("receipt=fixed"));
    let page = c.get(page_of(&changed)).await;
    assert!(page.body.contains("宛名は変更できません"), "{}", page.body);

    // The second download is a reissue, numbered, with the addressee as first printed.
    let again = pdf_text(&c.get(&format!("/orders/{number}/receipt.pdf")).await);
    assert!(again.contains("再発行"), "{again}");
    assert!(again.contains("第2回発行"), "{again}");
    assert!(again.contains(&format!("No. {number}-R2")), "{again}");
    assert!(again.contains(&format!("{COMPANY} 様")), "{again}");
    assert!(!again.contains("別の宛名株式会社"), "{again}");

    // The invoice counts apart: its first issue is an original, with every required item.
    let invoice = c.get(&format!("/orders/{number}/invoice.pdf")).await;
    assert_eq!(
        header(&invoice, "content-disposition"),
        format!("attachment; filename=\"invoice-{number}.pdf\"")
    );
    let text = pdf_text(&invoice);
    let mut wanted = vec![
        "適格請求書".to_string(),
        format!("{COMPANY} 様"),
        format!("登録番号 {REGISTRATION}"),
        "取引年月日".to_string(),
        "特選 コシヒカリ 2kg 2kg ※".to_string(),
        format!("合計 {}（税込）", order.totals.total),
    ];
    wanted.extend(rates);
    for want in &wanted {
        assert!(
            text.contains(want.as_str()),
            "{want:?} missing from: {text}"
        );
    }
    assert!(!text.contains("再発行"), "{text}");
    let again = pdf_text(&c.get(&format!("/orders/{number}/invoice.pdf")).await);
    assert!(again.contains("再発行"), "{again}");

    // Issues at the same moment each get a number of their own.
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let receipts = std::sync::Arc::clone(&shop.state.receipts);
            let order = order.clone();
            tokio::spawn(async move {
                receipts
                    .issue(&order, DocumentKind::Receipt)
                    .await
                    .unwrap()
                    .unwrap()
                    .issue
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, [3, 4, 5, 6]);

    // The store counted every issue, and holds the addressee sealed only.
    let record = shop
        .state
        .store
        .order_receipt(order.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            record.issues(DocumentKind::Receipt),
            record.issues(DocumentKind::Invoice)
        ),
        (6, 2)
    );
    let stored = record.addressee.as_bytes();
    assert!(
        memchr::memmem::find(stored, COMPANY.as_bytes()).is_none(),
        "the addressee is sealed"
    );
    assert!(record.data_key.is_some(), "under the order's data key");
}

#[tokio::test(flavor = "multi_thread")]
async fn receipts_and_invoices_of_a_paid_order_on_sqlite() {
    story(None).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "PostgreSQL: needs KURA_TEST_PG_URL and --include-ignored (bash .ci/test)"]
async fn receipts_and_invoices_of_a_paid_order_on_postgres() {
    let url = support::required_pg().await;
    story(Some(&url)).await;
}

/// Cash on delivery is paid at the door: nothing until the delivery is recorded.
#[tokio::test(flavor = "multi_thread")]
async fn cash_on_delivery_gets_a_receipt_only_once_delivered() {
    let shop = shop_on(None, REGISTRATION).await;
    let mut c = Client::new(&shop.router);
    let number = mixed_order(&mut c, "cod").await;
    let orders = &shop.state.orders;
    let parcel = kura_app::orders::Parcel {
        carrier: "ヤマト運輸".into(),
        tracking_number: "1234-5678-9012".into(),
        tracking_url: None,
    };
    for step in ["confirmed", "packed", "shipped"] {
        match step {
            "packed" => orders.mark_packed(&number).await.unwrap().unwrap(),
            "shipped" => orders
                .mark_shipped(&number, &parcel)
                .await
                .unwrap()
                .unwrap(),
            _ => {}
        }
        let r = c.get(&format!("/orders/{number}/receipt.pdf")).await;
        assert_eq!(r.status, 409, "{step}: {}", r.body);
        assert!(r.body.contains("お届けの記録後に"), "{step}: {}", r.body);
        let page = c.get(&format!("/orders/{number}")).await;
        assert!(page.body.contains("代金引換のお支払いは商品のお届け時です"));
    }
    orders.mark_delivered(&number).await.unwrap().unwrap();
    let text = pdf_text(&c.get(&format!("/orders/{number}/receipt.pdf")).await);
    assert!(
        text.contains("鏑木 瑞穂 様"),
        "the buyer by default: {text}"
    );
    assert!(text.contains("代金引換"), "{text}");
}

/// Someone else's order: the same "not found" as for an order that does not exist, for the
/// PDFs and the form alike; the owner is unaffected.
#[tokio::test(flavor = "multi_thread")]
async fn another_visitor_gets_no_receipt() {
    let shop = shop_on(None, REGISTRATION).await;
    let mut owner = Client::new(&shop.router);
    let number = mixed_order(&mut owner, "bank_transfer").await;
    shop.state
        .orders
        .mark_transfer_received(&number)
        .await
        .unwrap()
        .unwrap();
    let mut stranger = Client::new(&shop.router);
    stranger.peer = "198.51.100.7:50000".parse().unwrap();
    for path in ["receipt.pdf", "invoice.pdf"] {
        let r = stranger.get(&format!("/orders/{number}/{path}")).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.bytes.starts_with(b"%PDF"));
        assert!(!r.body.contains("鏑木"), "nothing of the buyer shows");
    }
    let nowhere = stranger.get("/orders/K-0000-0000/receipt.pdf").await;
    assert_eq!(nowhere.status, 404, "the same answer as for no order");
    let csrf = stranger.csrf_from("/orders/lookup").await;
    let r = stranger
        .post_form(
            &format!("/orders/{number}/addressee"),
            &[("csrf_token", &csrf), ("addressee", "乗っ取り")],
        )
        .await;
    assert_eq!(r.status, 404);
    let order = shop
        .state
        .orders
        .view_by_number(&number)
        .await
        .unwrap()
        .unwrap();
    assert!(
        shop.state
            .store
            .order_receipt(order.id)
            .await
            .unwrap()
            .is_none(),
        "nothing was saved or issued"
    );
    // Nor does a form posted from another site reach it (CSRF), even the owner's.
    let forged = owner
        .post_form(
            &format!("/orders/{number}/addressee"),
            &[("csrf_token", "1.forged"), ("addressee", "乗っ取り")],
        )
        .await;
    assert_eq!(forged.status, 403);
    let text = pdf_text(&owner.get(&format!("/orders/{number}/receipt.pdf")).await);
    assert!(text.contains("鏑木 瑞穂 様"), "{text}");
}

/// A refused addressee names what is wrong, keeps what was typed, and saves nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_bad_addressee_is_refused_with_a_message_and_kept() {
    let shop = shop_on(None, REGISTRATION).await;
    let mut c = Client::new(&shop.router);
    let number = mixed_order(&mut c, "bank_transfer").await;
    shop.state
        .orders
        .mark_transfer_received(&number)
        .await
        .unwrap()
        .unwrap();
    let long = "長".repeat(61);
    for (typed, message) in [
        ("", "入力してください"),
        (long.as_str(), "60文字以内"),
        ("鏑木\u{202e}商会", "使えない文字"),
    ] {
        let r = addressee(&mut c, &number, typed).await;
        assert_eq!(r.status, 422, "{typed:?}: {}", r.body);
        assert!(r.body.contains(message), "{typed:?}: {}", r.body);
        assert!(r.body.contains("aria-invalid=\"true\""));
        if !typed.is_empty() && !typed.contains('\u{202e}') {
            assert!(r.body.contains(typed), "what was typed is kept");
        }
    }
    let order = shop
        .state
        .orders
        .view_by_number(&number)
        .await
        .unwrap()
        .unwrap();
    assert!(
        shop.state
            .store
            .order_receipt(order.id)
            .await
            .unwrap()
            .is_none()
    );
}

/// A shop without a registration number gives receipts but no qualified invoices.
#[tokio::test(flavor = "multi_thread")]
async fn without_a_registration_number_there_are_receipts_but_no_invoices() {
    let shop = shop_on(None, "").await;
    let mut c = Client::new(&shop.router);
    let number = mixed_order(&mut c, "bank_transfer").await;
    shop.state
        .orders
        .mark_transfer_received(&number)
        .await
        .unwrap()
        .unwrap();
    let page = c.get(&format!("/orders/{number}")).await;
    assert!(page.body.contains("receipt.pdf"));
    assert!(!page.body.contains("invoice.pdf"));
    let r = c.get(&format!("/orders/{number}/invoice.pdf")).await;
    assert_eq!(r.status, 404);
    assert!(
        r.body.contains("適格請求書を発行していません"),
        "{}",
        r.body
    );
    let text = pdf_text(&c.get(&format!("/orders/{number}/receipt.pdf")).await);
    assert!(text.contains("領収書"), "{text}");
    assert!(!text.contains("登録番号"), "{text}");
}

/// The addressee is in neither the SQLite file nor its WAL in clear, in any usual encoding.
#[tokio::test(flavor = "multi_thread")]
async fn the_addressee_is_not_in_the_sqlite_files() {
    let shop = shop_on(None, REGISTRATION).await;
    let mut c = Client::new(&shop.router);
    let number = mixed_order(&mut c, "bank_transfer").await;
    shop.state
        .orders
        .mark_transfer_received(&number)
        .await
        .unwrap()
        .unwrap();
    let distinctive = "株式会社蒼穹堂みずほ";
    assert_eq!(addressee(&mut c, &number, distinctive).await.status, 303);
    pdf_text(&c.get(&format!("/orders/{number}/receipt.pdf")).await);
    let mut raw = std::fs::read(shop.dir.path().join("kura.db")).unwrap();
    raw.extend(std::fs::read(shop.dir.path().join("kura.db-wal")).unwrap_or_default());
    let mut needles = vec![
        distinctive.as_bytes().to_vec(),
        distinctive
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect(),
        distinctive
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect(),
        hex::encode(distinctive).into_bytes(),
    ];
    for enc in [encoding_rs::SHIFT_JIS, encoding_rs::EUC_JP] {
        needles.push(enc.encode(distinctive).0.into_owned());
    }
    for needle in needles {
        assert!(
            memchr::memmem::find(&raw, &needle).is_none(),
            "the addressee is in the SQLite files in clear"
        );
    }
    let logs = support::captured_logs();
    assert!(
        memchr::memmem::find(&logs, distinctive.as_bytes()).is_none(),
        "the addressee is in the logs"
    );
}

/// A registration number that is not one stops the shop at start, naming the setting.
#[test]
fn a_bad_registration_number_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let load = |value: &str| {
        kura::config::Config::load(
            Some(dir.path()),
            None,
            &[(
                "KURA_LEGAL_INVOICE_REGISTRATION_NUMBER".to_string(),
                value.to_string(),
            )],
        )
    };
    let e = load("T1234567890123").unwrap_err().to_string();
    assert!(e.contains("legal.invoice_registration_number"), "{e}");
    assert!(e.contains("check digit"), "{e}");
    let e = load("T12-345").unwrap_err().to_string();
    assert!(e.contains("T followed by 13 digits"), "{e}");
    let ok = load(REGISTRATION).unwrap();
    assert_eq!(ok.legal.invoice_registration_number, REGISTRATION);
    assert!(load("").is_ok(), "none: no qualified invoices");
    // The demo's own configuration holds a well-formed one.
    let demo = tempfile::tempdir().unwrap();
    kura::demo::prepare_dir(demo.path()).unwrap();
    let c = kura::config::Config::load_demo(demo.path(), &[]).unwrap();
    assert!(
        kura_domain::RegistrationNumber::parse(&c.legal.invoice_registration_number).is_ok(),
        "{:?}",
        c.legal.invoice_registration_number
    );
}

//! Every mail, in both languages: the facts a customer needs are in both twins, HTML is
//! escaped, and the anti-phishing footer is always there.

use kura_app::mail::OutgoingMail;
use kura_domain::PaymentMethod;
use kura_mail::{Lang, RenderError};

use crate::fixtures::{self, SHOP, TO};

/// The footer every mail must carry, per language.
fn never_ask(lang: Lang) -> &'static str {
    match lang {
        Lang::Ja => "メールでクレジットカード番号やパスワードをお尋ねすることは決してありません",
        Lang::En => "will never ask for your card number or your password by email",
    }
}

/// Yen as the language writes it.
fn yen(lang: Lang, grouped: &str) -> String {
    match lang {
        Lang::Ja => format!("{grouped}円"),
        Lang::En => format!("¥{grouped}"),
    }
}

/// What holds for every mail: footer in both twins, shop named, the HTML has no active or
/// remote content.
fn check_common(mail: &OutgoingMail, lang: Lang) {
    assert_eq!(mail.to, TO);
    assert!(mail.subject.contains(SHOP), "{}", mail.subject);
    for body in [&mail.text, &mail.html] {
        assert!(
            body.contains(never_ask(lang)),
            "footer missing in {lang:?}:\n{body}"
        );
        assert!(body.contains(SHOP));
    }
    let html = mail.html.to_ascii_lowercase();
    let banned_tags = [
        "<script",
        "<img",
        "<iframe",
        "<object",
        "<embed",
        "<link",
        "<form",
        "<video",
        "<audio",
        "<source",
        "<svg",
        "url(",
        "javascript:",
    ];
    for banned in banned_tags {
        assert!(
            !html.contains(banned),
            "{banned} in {lang:?} HTML:\n{}",
            mail.html
        );
    }
    let lang_attr = format!("<html lang=\"{}\">", lang.code());
    assert!(mail.html.contains(&lang_attr), "{}", mail.html);
}

#[test]
fn order_confirmation_states_the_facts_in_both_languages() {
    for lang in Lang::ALL {
        for payment in PaymentMethod::ALL {
            let mail = fixtures::order(lang, payment).render(TO).unwrap();
            check_common(&mail, lang);
            assert_eq!(mail.kind, "order_confirmation");
            assert!(mail.subject.contains("K-20250102-0042"));
            let total = if payment == PaymentMethod::Cod {
                "12,680"
            } else {
                "12,240"
            };
            let std_target = if payment == PaymentMethod::Cod {
                "9,440"
            } else {
                "9,000"
            };
            let std_tax = if payment == PaymentMethod::Cod {
                "858"
            } else {
                "818"
            };
            for (twin, body) in [("text", &mail.text), ("html", &mail.html)] {
                let ctx = format!("{lang:?} {payment:?} {twin}:\n{body}");
                assert!(body.contains("K-20250102-0042"), "{ctx}");
                assert!(body.contains("2025-01-02 10:30"), "{ctx}");
                assert!(body.contains("山田 花子"), "{ctx}");
                assert!(body.contains("電気ケトル KT-200"), "{ctx}");
                assert!(body.contains("ホワイト"), "{ctx}");
                assert!(body.contains(&yen(lang, "6,800")), "{ctx}");
                assert!(body.contains(&yen(lang, "3,240")), "{ctx}");
                assert!(body.contains(&yen(lang, "12,240")), "goods subtotal: {ctx}");
                assert!(body.contains(&yen(lang, total)), "total: {ctx}");
                // Tax per rate: 10 % target and tax, 8 % target and tax.
                let (standard, reduced) = match lang {
                    Lang::Ja => (
                        format!("10%対象 {std_target}円\u{3000}内消費税 {std_tax}円"),
                        "8%対象 3,240円\u{3000}内消費税 240円".to_owned(),
                    ),
                    Lang::En => (
                        format!("10% items ¥{std_target}, of which tax ¥{std_tax}"),
                        "8% items ¥3,240, of which tax ¥240".to_owned(),
                    ),
                };
                assert!(body.contains(&standard), "{standard} missing: {ctx}");
                assert!(body.contains(&reduced), "{reduced} missing: {ctx}");
                // ※ marks the reduced-rate tea and only it.
                assert!(body.contains("静岡煎茶 100g ※"), "{ctx}");
                assert!(!body.contains("KT-200 ※"), "{ctx}");
                assert_eq!(body.matches('※').count(), 2, "one mark, one legend: {ctx}");
                // Delivery.
                assert!(body.contains("東京都渋谷区渋谷2-1-1"), "{ctx}");
                assert!(body.contains("2025-01-05"), "{ctx}");
                let slot = match lang {
                    Lang::Ja => "14時〜16時",
                    Lang::En => "14:00–16:00",
                };
                assert!(body.contains(slot), "{ctx}");
                assert!(
                    body.contains("https://shop.example.jp/account/orders/K-20250102-0042"),
                    "{ctx}"
                );
                assert!(body.contains("青い富士山と梅"), "phrase: {ctx}");
                // Payment instructions: bank details only for a bank transfer.
                let is_bank = payment == PaymentMethod::BankTransfer;
                for bank_fact in [
                    "みずほ銀行",
                    "渋谷支店 (210)",
                    "1234567",
                    "カ）クラ",
                    "2025-01-09",
                ] {
                    assert_eq!(body.contains(bank_fact), is_bank, "{bank_fact}: {ctx}");
                }
                let (cod_text, card_text) = match lang {
                    Lang::Ja => ("配達員へ", "お支払いはまだ完了していません"),
                    Lang::En => ("to the driver", "Your payment is not complete yet"),
                };
                // Placed is not paid: no confirmation ever says a card payment is done.
                for claim in ["お支払いは完了しています", "payment is complete"] {
                    assert!(!body.contains(claim), "{claim}: {ctx}");
                }
                // A card or convenience-store order names the time its payment page closes,
                // and nothing else does.
                assert_eq!(
                    body.contains("2025-01-02 11:00"),
                    payment.is_hosted(),
                    "{ctx}"
                );
                // A convenience-store order says its number is still to be issued.
                let konbini_text = match lang {
                    Lang::Ja => "お支払い番号の発行待ち",
                    Lang::En => "payment number not issued yet",
                };
                assert_eq!(
                    body.contains(konbini_text),
                    payment == PaymentMethod::Konbini,
                    "{ctx}"
                );
                assert_eq!(
                    body.contains(cod_text),
                    payment == PaymentMethod::Cod,
                    "{ctx}"
                );
                assert_eq!(
                    body.contains(card_text),
                    payment == PaymentMethod::Card,
                    "{ctx}"
                );
                let cod_fee = match lang {
                    Lang::Ja => "代引手数料",
                    Lang::En => "Cash-on-delivery fee",
                };
                assert_eq!(
                    body.contains(cod_fee),
                    payment == PaymentMethod::Cod,
                    "{ctx}"
                );
            }
        }
    }
}

#[test]
fn html_escapes_product_names_and_text_keeps_them_verbatim() {
    for lang in Lang::ALL {
        let mail = fixtures::order(lang, PaymentMethod::Card)
            .render(TO)
            .unwrap();
        assert!(
            !mail.html.contains("<script>alert(1)</script>"),
            "{}",
            mail.html
        );
        // askama writes numeric character references.
        assert!(
            mail.html
                .contains("&#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;mug&#34;"),
            "{}",
            mail.html
        );
        // text/plain has no markup: the name is shown as the customer saw it.
        assert!(
            mail.text.contains("<script>alert(1)</script> & \"mug\""),
            "{}",
            mail.text
        );

        let notice = fixtures::shipping(lang).render(TO).unwrap();
        assert!(
            notice.html.contains("&#60;img src=x onerror=alert(1)&#62;"),
            "{}",
            notice.html
        );
        assert!(!notice.html.contains("<img"), "{}", notice.html);
    }
}

#[test]
fn verification_and_reset_carry_link_and_expiry() {
    for lang in Lang::ALL {
        let mail = fixtures::verification(lang).render(TO).unwrap();
        check_common(&mail, lang);
        assert_eq!(mail.kind, "verify_email");
        for body in [&mail.text, &mail.html] {
            assert!(
                body.contains("https://shop.example.jp/verify?t=abc123"),
                "{body}"
            );
            assert!(body.contains("2025-01-03 10:30"), "{body}");
        }
        assert!(
            mail.html
                .contains("href=\"https://shop.example.jp/verify?t=abc123\"")
        );

        let mail = fixtures::reset(lang).render(TO).unwrap();
        check_common(&mail, lang);
        assert_eq!(mail.kind, "password_reset");
        let ignore = match lang {
            Lang::Ja => "お心当たりがない場合は、このメールを無視してください",
            Lang::En => "If you did not ask for this, ignore this mail",
        };
        for body in [&mail.text, &mail.html] {
            assert!(
                body.contains("https://shop.example.jp/reset?t=def456"),
                "{body}"
            );
            assert!(body.contains("2025-01-02 11:30"), "{body}");
            assert!(body.contains(ignore), "{body}");
            assert!(body.contains("青い富士山と梅"), "{body}");
        }
    }
}

#[test]
fn shipping_notice_names_carrier_tracking_and_items() {
    for lang in Lang::ALL {
        let mail = fixtures::shipping(lang).render(TO).unwrap();
        check_common(&mail, lang);
        assert_eq!(mail.kind, "shipping_notice");
        assert!(mail.subject.contains("K-20250102-0042"));
        for body in [&mail.text, &mail.html] {
            assert!(body.contains("ヤマト運輸"), "{body}");
            assert!(body.contains("4912-3456-7890"), "{body}");
            assert!(body.contains("tneko?no=491234567890"), "{body}");
            assert!(body.contains("電気ケトル KT-200"), "{body}");
            assert!(body.contains("× 2"), "{body}");
        }
    }
}

#[test]
fn a_card_order_is_confirmed_as_awaiting_payment_in_both_languages() {
    for (lang, subject, intro) in [
        (
            Lang::Ja,
            "【蔵ショップ】ご注文を受け付けました・お支払いをお待ちしています（ご注文番号 K-20250102-0042）",
            "クレジットカードでのお支払いはまだ完了していません",
        ),
        (
            Lang::En,
            "[蔵ショップ] Order received, awaiting your payment (K-20250102-0042)",
            "Your card payment is not complete yet",
        ),
    ] {
        let mail = fixtures::order(lang, PaymentMethod::Card)
            .render(TO)
            .unwrap();
        assert_eq!(mail.subject, subject);
        for body in [&mail.text, &mail.html] {
            assert!(body.contains(intro), "{body}");
            assert!(!body.contains("ご注文を承りました"), "{body}");
        }
        // The link to pay from, as a button in HTML.
        let button = match lang {
            Lang::Ja => ">お支払いへ進む</a>",
            Lang::En => ">Go to payment</a>",
        };
        assert!(
            mail.html.contains(&format!(
                "<a href=\"https://shop.example.jp/account/orders/K-20250102-0042\" style=\"display:inline-block;padding:8px 16px;background:#333;color:#fff;text-decoration:none\"{button}"
            )),
            "{}",
            mail.html
        );
    }
}

#[test]
fn payment_received_states_the_payment_in_both_languages() {
    for lang in Lang::ALL {
        for method in [PaymentMethod::Card, PaymentMethod::BankTransfer] {
            let mail = fixtures::payment(lang, method).render(TO).unwrap();
            check_common(&mail, lang);
            assert_eq!(mail.kind, "payment_received");
            let subject = match lang {
                Lang::Ja => "【蔵ショップ】お支払いを確認しました（ご注文番号 K-20250102-0042）",
                Lang::En => "[蔵ショップ] Payment received (K-20250102-0042)",
            };
            assert_eq!(mail.subject, subject);
            let (said, name) = match (lang, method) {
                (Lang::Ja, PaymentMethod::Card) => {
                    ("ご注文代金のお支払いを確認しました", "クレジットカード")
                }
                (Lang::Ja, _) => ("ご注文代金のお支払いを確認しました", "銀行振込"),
                (Lang::En, PaymentMethod::Card) => ("We have received the payment", "Credit card"),
                (Lang::En, _) => ("We have received the payment", "Bank transfer"),
            };
            for (twin, body) in [("text", &mail.text), ("html", &mail.html)] {
                let ctx = format!("{lang:?} {method:?} {twin}:\n{body}");
                assert!(body.contains(said), "{ctx}");
                assert!(body.contains(name), "{ctx}");
                assert!(body.contains(&yen(lang, "12,240")), "{ctx}");
                assert!(body.contains("K-20250102-0042"), "{ctx}");
                assert!(body.contains("2025-01-02 10:41"), "{ctx}");
                assert!(body.contains("青い富士山と梅"), "{ctx}");
                assert!(
                    body.contains("https://shop.example.jp/orders/K-20250102-0042?k=o1-abc"),
                    "{ctx}"
                );
            }
            assert!(mail.text.contains("山田 花子 <b>"));
            assert!(!mail.html.contains("<b>"), "{}", mail.html);
        }
    }
    // Cash on delivery is paid at the door, never "received" by mail.
    assert!(matches!(
        fixtures::payment(Lang::Ja, PaymentMethod::Cod).render(TO),
        Err(RenderError::PaymentMethod)
    ));
    let mut bad = fixtures::payment(Lang::En, PaymentMethod::Card);
    bad.order_url = "javascript:alert(1)".to_owned();
    assert!(matches!(
        bad.render(TO),
        Err(RenderError::Url { field: "order_url" })
    ));
    let debug = format!("{:?}", fixtures::payment(Lang::Ja, PaymentMethod::Card));
    assert!(!debug.contains("山田"), "{debug}");
}

#[test]
fn japanese_is_the_default_and_subjects_are_japanese() {
    let mut order = fixtures::order(Lang::Ja, PaymentMethod::Cod);
    order.lang = Lang::default();
    let mail = order.render(TO).unwrap();
    assert!(
        mail.subject
            .starts_with("【蔵ショップ】ご注文ありがとうございます"),
        "{}",
        mail.subject
    );
    // The first line is left for the recipient's anti-phishing phrase, which the outbox fills
    // in (or removes) when it delivers the mail.
    assert!(
        mail.text.starts_with("[[anti-phishing-phrase:ja]]\n"),
        "{}",
        mail.text
    );
    assert!(
        kura_mail::without_marks(&mail.text).starts_with("山田 花子 様"),
        "{}",
        mail.text
    );
}

#[test]
fn bad_input_is_refused_before_rendering() {
    let mut order = fixtures::order(Lang::Ja, PaymentMethod::BankTransfer);
    order.bank = None;
    assert!(matches!(
        order.render(TO),
        Err(RenderError::MissingBankDetails)
    ));
    let mut order = fixtures::order(Lang::Ja, PaymentMethod::BankTransfer);
    order.payment_deadline = None;
    assert!(matches!(
        order.render(TO),
        Err(RenderError::MissingBankDetails)
    ));
    // A card order names when its payment page closes.
    let mut order = fixtures::order(Lang::Ja, PaymentMethod::Card);
    order.payment_deadline = None;
    assert!(matches!(
        order.render(TO),
        Err(RenderError::MissingCardDeadline)
    ));
    // Not needed for cash on delivery.
    let mut order = fixtures::order(Lang::Ja, PaymentMethod::Cod);
    order.bank = None;
    order.payment_deadline = None;
    assert!(order.render(TO).is_ok());

    let mut v = fixtures::verification(Lang::En);
    v.verify_url = "javascript:alert(1)".to_owned();
    assert!(matches!(
        v.render(TO),
        Err(RenderError::Url {
            field: "verify_url"
        })
    ));
    let mut s = fixtures::shipping(Lang::En);
    s.tracking_url = Some("https://evil.example/\"><script>".to_owned());
    assert!(matches!(
        s.render(TO),
        Err(RenderError::Url {
            field: "tracking_url"
        })
    ));
    let r = fixtures::reset(Lang::Ja);
    assert!(matches!(r.render("hanako"), Err(RenderError::Recipient)));
    assert!(matches!(
        r.render("a@b.example\r\nBcc: c@d.example"),
        Err(RenderError::Recipient)
    ));
}

#[test]
fn debug_output_holds_no_personal_data_or_token() {
    let order = format!("{:?}", fixtures::order(Lang::Ja, PaymentMethod::Cod));
    assert!(
        !order.contains("山田") && !order.contains("渋谷"),
        "{order}"
    );
    let notice = format!("{:?}", fixtures::shipping(Lang::Ja));
    assert!(!notice.contains("山田"), "{notice}");
    let v = format!("{:?}", fixtures::verification(Lang::Ja));
    assert!(!v.contains("abc123"), "{v}");
    let r = format!("{:?}", fixtures::reset(Lang::Ja));
    assert!(!r.contains("def456"), "{r}");
    let mail = format!("{:?}", fixtures::reset(Lang::Ja).render(TO).unwrap());
    assert!(!mail.contains("hanako"), "{mail}");
}

/// Writes every rendered mail to `$KURA_MAIL_PREVIEW` (if set) for a human to look at.
#[test]
fn preview_when_asked() {
    let Some(dir) = std::env::var_os("KURA_MAIL_PREVIEW") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    for lang in Lang::ALL {
        let mails = [
            fixtures::order(lang, PaymentMethod::BankTransfer)
                .render(TO)
                .unwrap(),
            fixtures::order(lang, PaymentMethod::Cod)
                .render(TO)
                .unwrap(),
            fixtures::order(lang, PaymentMethod::Card)
                .render(TO)
                .unwrap(),
            fixtures::payment(lang, PaymentMethod::Card)
                .render(TO)
                .unwrap(),
            fixtures::verification(lang).render(TO).unwrap(),
            fixtures::reset(lang).render(TO).unwrap(),
            fixtures::shipping(lang).render(TO).unwrap(),
        ];
        for (i, m) in mails.iter().enumerate() {
            let stem = format!("{}-{i}-{}", lang.code(), m.kind);
            std::fs::write(
                dir.join(format!("{stem}.txt")),
                format!("{}\n\n{}", m.subject, m.text),
            )
            .unwrap();
            std::fs::write(dir.join(format!("{stem}.html")), &m.html).unwrap();
        }
    }
}

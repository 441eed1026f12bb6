//! Sample mails shared by the tests.

use kura_domain::{DeliverySlot, PaymentMethod, TaxBreakdown, Totals, Yen};
use kura_mail::{
    BankAccount, EmailVerification, Lang, OrderConfirmation, OrderLine, PasswordReset,
    PaymentReceived, ShippedItem, ShippingNotice,
};

pub const SHOP: &str = "蔵ショップ";
pub const TO: &str = "hanako.yamada@example.com";

/// Two standard-rate lines (one with a hostile name) and one reduced-rate line (tea).
pub fn order(lang: Lang, payment: PaymentMethod) -> OrderConfirmation {
    let lines = vec![
        OrderLine {
            name: "電気ケトル KT-200".to_owned(),
            variant: "ホワイト".to_owned(),
            quantity: 1,
            unit_price: Yen(6_800),
            line_total: Yen(6_800),
            reduced: false,
        },
        OrderLine {
            name: "<script>alert(1)</script> & \"mug\"".to_owned(),
            variant: String::new(),
            quantity: 2,
            unit_price: Yen(1_100),
            line_total: Yen(2_200),
            reduced: false,
        },
        OrderLine {
            name: "静岡煎茶 100g".to_owned(),
            variant: String::new(),
            quantity: 3,
            unit_price: Yen(1_080),
            line_total: Yen(3_240),
            reduced: true,
        },
    ];
    // Goods 12,240 (standard 9,000 + reduced 3,240): free shipping from 11,000.
    let cod_fee = if payment == PaymentMethod::Cod {
        Yen(440)
    } else {
        Yen::ZERO
    };
    let standard = Yen(9_000 + cod_fee.0);
    let totals = Totals {
        goods: Yen(12_240),
        discount: Yen::ZERO,
        shipping: Yen::ZERO,
        cod_fee,
        total: Yen(12_240 + cod_fee.0),
        tax: TaxBreakdown::from_totals(standard, Yen(3_240)),
    };
    OrderConfirmation {
        gift: None,
        note: None,
        coupon_code: None,
        lang,
        shop_name: SHOP.to_owned(),
        order_number: "K-20250102-0042".to_owned(),
        ordered_at: "2025-01-02 10:30".to_owned(),
        customer_name: "山田 花子".to_owned(),
        lines,
        totals,
        payment,
        bank: Some(BankAccount {
            bank_name: "みずほ銀行".to_owned(),
            branch_name: "渋谷支店 (210)".to_owned(),
            account_kind: "普通".to_owned(),
            account_number: "1234567".to_owned(),
            account_holder: "カ）クラ".to_owned(),
        }),
        payment_deadline: match payment {
            PaymentMethod::BankTransfer => Some("2025-01-09".to_owned()),
            PaymentMethod::Card | PaymentMethod::Konbini => Some("2025-01-02 11:00".to_owned()),
            PaymentMethod::Cod => None,
        },
        delivery_date: Some("2025-01-05".to_owned()),
        delivery_slot: Some(DeliverySlot::S14To16),
        ship_to: "〒150-0002\n東京都渋谷区渋谷2-1-1\n山田 花子 様".to_owned(),
        order_url: "https://shop.example.jp/account/orders/K-20250102-0042".to_owned(),
        anti_phishing_phrase: Some("青い富士山と梅".to_owned()),
        desk: "0120-000-000 (平日 10:00–17:00)".into(),
    }
}

pub fn verification(lang: Lang) -> EmailVerification {
    EmailVerification {
        lang,
        shop_name: SHOP.to_owned(),
        verify_url: "https://shop.example.jp/verify?t=abc123".to_owned(),
        expires_at: "2025-01-03 10:30".to_owned(),
        anti_phishing_phrase: None,
        desk: "0120-000-000 (平日 10:00–17:00)".into(),
    }
}

pub fn reset(lang: Lang) -> PasswordReset {
    PasswordReset {
        lang,
        shop_name: SHOP.to_owned(),
        reset_url: "https://shop.example.jp/reset?t=def456".to_owned(),
        expires_at: "2025-01-02 11:30".to_owned(),
        anti_phishing_phrase: Some("青い富士山と梅".to_owned()),
        desk: "0120-000-000 (平日 10:00–17:00)".into(),
    }
}

pub fn shipping(lang: Lang) -> ShippingNotice {
    ShippingNotice {
        lang,
        shop_name: SHOP.to_owned(),
        order_number: "K-20250102-0042".to_owned(),
        customer_name: "山田 花子".to_owned(),
        carrier: "ヤマト運輸".to_owned(),
        tracking_number: "4912-3456-7890".to_owned(),
        tracking_url: Some(
            "https://toi.kuronekoyamato.co.jp/cgi-bin/tneko?no=491234567890".to_owned(),
        ),
        items: vec![
            ShippedItem {
                name: "電気ケトル KT-200".to_owned(),
                variant: "ホワイト".to_owned(),
                quantity: 1,
            },
            ShippedItem {
                name: "<img src=x onerror=alert(1)>".to_owned(),
                variant: String::new(),
                quantity: 2,
            },
        ],
        order_url: "https://shop.example.jp/account/orders/K-20250102-0042".to_owned(),
        anti_phishing_phrase: None,
        desk: "0120-000-000 (平日 10:00–17:00)".into(),
    }
}

pub fn payment(lang: Lang, payment: PaymentMethod) -> PaymentReceived {
    PaymentReceived {
        lang,
        shop_name: SHOP.to_owned(),
        order_number: "K-20250102-0042".to_owned(),
        customer_name: "山田 花子 <b>".to_owned(),
        payment,
        amount: Yen(12_240),
        received_at: "2025-01-02 10:41".to_owned(),
        order_url: "https://shop.example.jp/orders/K-20250102-0042?k=o1-abc".to_owned(),
        anti_phishing_phrase: Some("青い富士山と梅".to_owned()),
        desk: "0120-000-000 (平日 10:00–17:00)".into(),
    }
}

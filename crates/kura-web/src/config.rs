//! What the web layer needs to know of the shop's configuration.

use ipnet::IpNet;

#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The origin customers use, e.g. `https://shop.example.jp`. When unset, the request's
    /// `Host` is the origin that forms may post from.
    pub public_origin: Option<String>,
    /// Where links in mails point (`server.public_url`, else the address the shop listens
    /// on). Never taken from a request: a forged `Host` must not put a reset token into a link
    /// to someone else's server.
    pub link_base: String,
    /// The shop is reached over TLS (directly or through a TLS-terminating proxy): cookies get
    /// `Secure` and the `__Host-` prefix, and HSTS is sent.
    pub tls: bool,
    /// Peers whose `X-Forwarded-For` is believed. Anyone else's is ignored.
    pub trusted_proxies: Vec<IpNet>,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Sustained requests per second allowed per client IP.
    pub rate_per_second: u32,
    /// Requests a client IP may burst above the sustained rate.
    pub rate_burst: u32,
    /// How many times the rate one address may use in all across sessions the shop handed out.
    pub rate_shared_factor: u32,
    pub shop_name: String,
    /// The seller's legal notice (特定商取引法に基づく表記).
    pub legal: LegalNotice,
    /// The notice as English pages show it (see [`LegalNotice::english`]).
    pub legal_en: LegalNotice,
    /// Where bank-transfer customers pay.
    pub bank: BankAccount,
    /// The path prefix of the back office (`/admin` unless configured: a hard-to-guess one
    /// keeps it out of scanners' way).
    pub admin_path: String,
    /// When not empty, the back office answers only these client networks (anyone else gets
    /// "not found").
    pub admin_allow: Vec<IpNet>,
    /// The customer desk's phone number and hours (empty when not configured).
    pub desk_phone: String,
    pub desk_hours: String,
    /// The line opened for an incident (phone and hours), shown on its notice page.
    pub incident_desk: String,
}

/// The seller's notice under the Specified Commercial Transactions Act, shown at `/legal` and
/// summarised on the final confirmation page. Edited in `kura.toml` (`[legal]`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LegalNotice {
    pub seller: String,
    pub representative: String,
    pub address: String,
    pub phone: String,
    pub email: String,
    pub hours: String,
    pub prices: String,
    pub extra_fees: String,
    pub payment_methods: String,
    pub payment_timing: String,
    pub delivery_timing: String,
    pub returns: String,
    pub cancellation: String,
    /// The seller's invoice registration number (適格請求書発行事業者登録番号, `T` and 13
    /// digits), printed on receipts and qualified invoices; empty: the shop is not a registered
    /// issuer and gives no qualified invoices. Checked at start (shape and check digit).
    pub invoice_registration_number: String,
    /// The same notice for English pages, by field name (`[legal.en]`, e.g. `seller = "..."`).
    /// A field left out shows the Japanese text, which is the binding one.
    pub en: std::collections::BTreeMap<String, String>,
}

impl LegalNotice {
    /// The fields of the notice, as named in `[legal]` and `[legal.en]`.
    pub const FIELDS: [&'static str; 13] = [
        "seller",
        "representative",
        "address",
        "phone",
        "email",
        "hours",
        "prices",
        "extra_fees",
        "payment_methods",
        "payment_timing",
        "delivery_timing",
        "returns",
        "cancellation",
    ];

    fn field_mut(&mut self, name: &str) -> Option<&mut String> {
        Some(match name {
            "seller" => &mut self.seller,
            "representative" => &mut self.representative,
            "address" => &mut self.address,
            "phone" => &mut self.phone,
            "email" => &mut self.email,
            "hours" => &mut self.hours,
            "prices" => &mut self.prices,
            "extra_fees" => &mut self.extra_fees,
            "payment_methods" => &mut self.payment_methods,
            "payment_timing" => &mut self.payment_timing,
            "delivery_timing" => &mut self.delivery_timing,
            "returns" => &mut self.returns,
            "cancellation" => &mut self.cancellation,
            _ => return None,
        })
    }

    /// Names in `[legal.en]` that are not fields of the notice (refused at start).
    pub fn unknown_english_fields(&self) -> Vec<String> {
        self.en
            .keys()
            .filter(|k| !Self::FIELDS.contains(&k.as_str()))
            .cloned()
            .collect()
    }

    /// The notice as English pages show it: `[legal.en]` where given; else, for a field still
    /// holding the demo shop's Japanese text, the demo's English; else the Japanese text. A
    /// shop that writes its own `[legal]` never shows the demo's English by mistake.
    pub fn english(&self) -> LegalNotice {
        let mut demo = LegalNotice::default();
        let mut out = self.clone();
        for name in Self::FIELDS {
            // `out` still holds this shop's text for the field when it is compared.
            let Some(field) = out.field_mut(name) else {
                continue;
            };
            let text = match self.en.get(name) {
                Some(t) => Some(t.clone()),
                None if demo.field_mut(name).is_some_and(|d| d == field) => {
                    demo_english(name).map(str::to_string)
                }
                None => None,
            };
            if let Some(text) = text {
                *field = text;
            }
        }
        out.en.clear();
        out
    }
}

/// English for the demo shop's notice.
fn demo_english(name: &str) -> Option<&'static str> {
    DEMO_ENGLISH
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
}

const DEMO_ENGLISH: &[(&str, &str)] = &[
    ("seller", "Kura Demo Works Co., Ltd."),
    ("representative", "Taro Mihon, Representative Director"),
    ("address", "1-1 Chiyoda, Chiyoda-ku, Tokyo 100-0001, Japan"),
    ("phone", "03-0000-0000 (weekdays 10:00–17:00 JST)"),
    (
        "hours",
        "Weekdays 10:00–17:00 JST (closed weekends, national holidays and over the New Year)",
    ),
    ("prices", "Shown tax included on each product page."),
    (
        "extra_fees",
        "Shipping (from ¥770 nationwide; Hokkaido ¥1,300, Okinawa ¥1,600; free from ¥11,000), the cash-on-delivery fee (¥330–¥1,100) and bank-transfer charges are paid by the customer.",
    ),
    (
        "payment_methods",
        "Credit card (on the payment provider's page, with 3-D Secure), cash on delivery, bank transfer",
    ),
    (
        "payment_timing",
        "Card: when ordering. Cash on delivery: on receiving the goods. Bank transfer: in advance, within 7 days of ordering.",
    ),
    (
        "delivery_timing",
        "Shipped within 3–5 business days of the order being confirmed (for bank transfer, of the payment arriving). You may choose a delivery date and time slot.",
    ),
    (
        "returns",
        "Unused goods only: please contact us within 8 days of delivery. Return shipping for a change of mind is paid by the customer; faulty goods are exchanged at our cost.",
    ),
    (
        "cancellation",
        "Until the order ships, contact us to cancel it. After shipping, a cancellation is handled as a return.",
    ),
];

impl Default for LegalNotice {
    fn default() -> Self {
        Self {
            seller: "株式会社蔵デモ製作所".into(),
            representative: "代表取締役 見本 太郎".into(),
            address: "〒100-0001 東京都千代田区千代田1-1".into(),
            phone: "03-0000-0000（平日 10:00〜17:00）".into(),
            email: "shop@kura.example.jp".into(),
            hours: "平日 10:00〜17:00（土日祝・年末年始を除く）".into(),
            prices: "各商品ページに税込価格で表示しています。".into(),
            extra_fees: "送料（全国一律770円〜、北海道1,300円、沖縄1,600円、11,000円以上で無料）、代金引換手数料（330円〜1,100円）、銀行振込手数料はお客さま負担です。".into(),
            payment_methods: "クレジットカード（決済代行会社の画面、3-Dセキュア）、代金引換、銀行振込".into(),
            payment_timing: "クレジットカード：ご注文時／代金引換：商品お受け取り時／銀行振込：ご注文から7日以内の前払い".into(),
            delivery_timing: "ご注文確定（銀行振込はご入金確認）から3〜5営業日以内に発送します。お届け日・時間帯のご指定ができます。".into(),
            returns: "未使用品に限り、商品到着後8日以内にご連絡ください。お客さま都合の返品送料はお客さま負担、不良品は当店負担で交換します。".into(),
            cancellation: "発送前であれば、お問い合わせ窓口へのご連絡でキャンセルできます。発送後のキャンセルは返品の扱いとなります。".into(),
            invoice_registration_number: String::new(),
            en: std::collections::BTreeMap::new(),
        }
    }
}

/// The account bank-transfer customers pay into.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BankAccount {
    pub bank: String,
    pub branch: String,
    pub kind: String,
    pub number: String,
    pub holder: String,
    /// Days after ordering by which the transfer must arrive.
    pub deadline_days: i64,
}

impl Default for BankAccount {
    fn default() -> Self {
        Self {
            bank: "デモ銀行".into(),
            branch: "本店営業部".into(),
            kind: "普通".into(),
            number: "1234567".into(),
            holder: "カ）クラデモセイサクシヨ".into(),
            deadline_days: 7,
        }
    }
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            public_origin: None,
            link_base: "http://127.0.0.1:8080".into(),
            tls: false,
            trusted_proxies: Vec::new(),
            body_limit: 64 * 1024,
            rate_per_second: 50,
            rate_burst: 200,
            rate_shared_factor: 25,
            shop_name: "Kura".into(),
            legal: LegalNotice::default(),
            legal_en: LegalNotice::default().english(),
            bank: BankAccount::default(),
            admin_path: "/admin".into(),
            admin_allow: Vec::new(),
            desk_phone: String::new(),
            desk_hours: String::new(),
            incident_desk: String::new(),
        }
    }
}

impl WebConfig {
    /// The staff session cookie: its own name, `SameSite=Strict`, never the customers' one.
    pub fn staff_cookie_name(&self) -> &'static str {
        if self.tls {
            "__Host-kura_staff"
        } else {
            "kura_staff"
        }
    }

    /// The long-lived cookie that tells a staff member's devices apart (new-device notices and
    /// the CSRF token of the sign-in form).
    pub fn staff_device_cookie_name(&self) -> &'static str {
        if self.tls {
            "__Host-kura_staff_device"
        } else {
            "kura_staff_device"
        }
    }

    pub fn session_cookie_name(&self) -> &'static str {
        // The __Host- prefix pins the cookie to this host, path / and Secure (RFC 6265bis §4.1.3.2);
        // browsers refuse it without TLS, so plain-HTTP demos use a plain name.
        if self.tls {
            "__Host-kura_session"
        } else {
            "kura_session"
        }
    }
}

//! The order confirmation (ご注文確認). It states what a customer bought and owes, the tax per
//! rate as a Japanese receipt does (10 % and 8 % targets and the tax in each, ※ marking
//! reduced-rate lines), and how to pay: the bank account and deadline for a bank transfer (shown
//! only for a bank transfer), the amount due at the door for cash on delivery, or, for a card,
//! that the payment is still awaited, by when, and the page to pay from. It is sent when the
//! order is placed, before any card payment, so it never says a card payment is done: that is
//! the [`crate::PaymentReceived`] notice. It never shows anything about the card itself.

use kura_app::mail::OutgoingMail;
use kura_domain::{DeliverySlot, PaymentMethod, Totals, Yen};

use super::{check_recipient, check_url, twin_templates};
use crate::Lang;
use crate::error::RenderError;

/// One line of the order as the customer saw it at checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    pub name: String,
    /// Colour, size, …; empty when the product has one variant.
    pub variant: String,
    pub quantity: u32,
    pub unit_price: Yen,
    pub line_total: Yen,
    /// Taxed at the reduced 8 % rate (food and drink); marked ※.
    pub reduced: bool,
}

/// The shop's account for bank transfers (振込先).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankAccount {
    /// e.g. "みずほ銀行".
    pub bank_name: String,
    /// e.g. "渋谷支店 (210)".
    pub branch_name: String,
    /// e.g. "普通" / "Ordinary".
    pub account_kind: String,
    pub account_number: String,
    /// In katakana, as the bank shows it (e.g. "カ）クラ").
    pub account_holder: String,
}

/// Everything the order confirmation says. Dates come preformatted in the mail's language.
#[derive(Clone)]
pub struct OrderConfirmation {
    pub lang: Lang,
    pub shop_name: String,
    pub order_number: String,
    /// e.g. "2025年1月2日 10:30" or "2 January 2025, 10:30".
    pub ordered_at: String,
    pub customer_name: String,
    pub lines: Vec<OrderLine>,
    pub totals: Totals,
    pub payment: PaymentMethod,
    /// Required for a bank transfer; ignored otherwise.
    pub bank: Option<BankAccount>,
    /// Required for a bank transfer (e.g. "2025年1月9日") and for a card (when the payment page
    /// closes, e.g. "2025年1月2日 11:00"); ignored for cash on delivery.
    pub payment_deadline: Option<String>,
    /// Preferred delivery date, preformatted; `None` = no preference.
    pub delivery_date: Option<String>,
    pub delivery_slot: Option<DeliverySlot>,
    /// The delivery address, one line per address line (postal code, prefecture…, name).
    pub ship_to: String,
    /// The gift options, preformatted (のし and its name, wrapping); `None`: not a gift.
    pub gift: Option<String>,
    /// The customer's note (ご要望), as they wrote it.
    pub note: Option<String>,
    pub order_url: String,
    /// The customer's anti-phishing phrase, shown in the footer when set.
    pub anti_phishing_phrase: Option<String>,
    /// The customer desk (phone and hours) every footer names; empty: none configured.
    pub desk: String,
    /// The coupon `totals.discount` is for, when the order used one.
    pub coupon_code: Option<String>,
}

impl std::fmt::Debug for OrderConfirmation {
    // Names and addresses are personal data: keep them out of any log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderConfirmation")
            .field("lang", &self.lang)
            .field("order_number", &self.order_number)
            .field("payment", &self.payment)
            .finish_non_exhaustive()
    }
}

twin_templates!(
    OrderConfirmation,
    ja_text = "ja/order_confirmation.txt",
    ja_html = "ja/order_confirmation.html",
    en_text = "en/order_confirmation.txt",
    en_html = "en/order_confirmation.html",
);

impl OrderConfirmation {
    pub const KIND: &'static str = "order_confirmation";

    pub fn render(&self, to: &str) -> Result<OutgoingMail, RenderError> {
        check_recipient(to)?;
        check_url("order_url", &self.order_url)?;
        if self.payment == PaymentMethod::BankTransfer
            && (self.bank.is_none() || self.payment_deadline.is_none())
        {
            return Err(RenderError::MissingBankDetails);
        }
        if self.is_card() && self.payment_deadline.is_none() {
            return Err(RenderError::MissingCardDeadline);
        }
        let subject = match (self.lang, self.is_card()) {
            (Lang::Ja, false) => format!(
                "【{}】ご注文ありがとうございます（ご注文番号 {}）",
                self.shop_name, self.order_number
            ),
            (Lang::Ja, true) => format!(
                "【{}】ご注文を受け付けました・お支払いをお待ちしています（ご注文番号 {}）",
                self.shop_name, self.order_number
            ),
            (Lang::En, false) => format!(
                "[{}] Thank you for your order ({})",
                self.shop_name, self.order_number
            ),
            (Lang::En, true) => format!(
                "[{}] Order received, awaiting your payment ({})",
                self.shop_name, self.order_number
            ),
        };
        let (text, html) = render_twins(self)?;
        Ok(OutgoingMail {
            to: to.trim().to_owned(),
            subject,
            text,
            html,
            kind: Self::KIND,
        })
    }

    fn is_bank(&self) -> bool {
        self.payment == PaymentMethod::BankTransfer
    }

    /// Paid later on the provider's page (card, or a convenience-store number issued there).
    fn is_card(&self) -> bool {
        self.payment.is_hosted()
    }

    fn is_konbini(&self) -> bool {
        self.payment == PaymentMethod::Konbini
    }

    fn is_cod(&self) -> bool {
        self.payment == PaymentMethod::Cod
    }

    fn has_reduced(&self) -> bool {
        self.lines.iter().any(|l| l.reduced)
    }

    fn has_discount(&self) -> bool {
        self.totals.discount != Yen::ZERO
    }

    fn coupon(&self) -> &str {
        self.coupon_code.as_deref().unwrap_or_default()
    }

    fn has_cod_fee(&self) -> bool {
        self.totals.cod_fee != Yen::ZERO
    }

    fn delivery_date_ja(&self) -> &str {
        self.delivery_date.as_deref().unwrap_or("指定なし")
    }

    fn delivery_date_en(&self) -> &str {
        self.delivery_date.as_deref().unwrap_or("No preference")
    }

    fn slot_ja(&self) -> &'static str {
        self.delivery_slot
            .map_or("指定なし", DeliverySlot::label_ja)
    }

    fn slot_en(&self) -> &'static str {
        self.delivery_slot
            .map_or("No preference", DeliverySlot::label_en)
    }

    fn deadline(&self) -> &str {
        self.payment_deadline.as_deref().unwrap_or_default()
    }
}

//! The payment-received notice (お支払い確認のお知らせ). Sent only when the payment is on record:
//! the card provider's signed paid notification, or a bank transfer recorded by the shop. It
//! states the amount received and what happens next, and never anything about the card.

use kura_app::mail::OutgoingMail;
use kura_domain::{PaymentMethod, Yen};

use super::{check_recipient, check_url, twin_templates};
use crate::Lang;
use crate::error::RenderError;

/// Everything the payment-received notice says.
#[derive(Clone)]
pub struct PaymentReceived {
    pub lang: Lang,
    pub shop_name: String,
    pub order_number: String,
    pub customer_name: String,
    /// How the money came: a card or a bank transfer.
    pub payment: PaymentMethod,
    pub amount: Yen,
    /// When the shop recorded it, preformatted in the mail's language (Japan time).
    pub received_at: String,
    pub order_url: String,
    pub anti_phishing_phrase: Option<String>,
    /// The customer desk (phone and hours) every footer names; empty: none configured.
    pub desk: String,
}

impl std::fmt::Debug for PaymentReceived {
    // The customer's name is personal data: keep it out of any log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentReceived")
            .field("lang", &self.lang)
            .field("order_number", &self.order_number)
            .field("payment", &self.payment)
            .finish_non_exhaustive()
    }
}

twin_templates!(
    PaymentReceived,
    ja_text = "ja/payment_received.txt",
    ja_html = "ja/payment_received.html",
    en_text = "en/payment_received.txt",
    en_html = "en/payment_received.html",
);

impl PaymentReceived {
    pub const KIND: &'static str = "payment_received";

    pub fn render(&self, to: &str) -> Result<OutgoingMail, RenderError> {
        check_recipient(to)?;
        check_url("order_url", &self.order_url)?;
        if self.payment == PaymentMethod::Cod {
            // Cash on delivery is paid at the door; the shop never records it as received here.
            return Err(RenderError::PaymentMethod);
        }
        let subject = match self.lang {
            Lang::Ja => format!(
                "【{}】お支払いを確認しました（ご注文番号 {}）",
                self.shop_name, self.order_number
            ),
            Lang::En => format!(
                "[{}] Payment received ({})",
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

    fn method_ja(&self) -> &'static str {
        match self.payment {
            PaymentMethod::Card => "クレジットカード",
            PaymentMethod::BankTransfer => "銀行振込",
            PaymentMethod::Cod => "代金引換",
            PaymentMethod::Konbini => "コンビニ払い",
        }
    }

    fn method_en(&self) -> &'static str {
        match self.payment {
            PaymentMethod::Card => "Credit card",
            PaymentMethod::BankTransfer => "Bank transfer",
            PaymentMethod::Cod => "Cash on delivery",
            PaymentMethod::Konbini => "Convenience store",
        }
    }
}

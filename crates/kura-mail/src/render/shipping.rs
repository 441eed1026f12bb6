//! The shipping notice (発送のお知らせ): which carrier has the parcel, its tracking number, and
//! what is in it. A tracking link, when given, is checked like every other link.

use kura_app::mail::OutgoingMail;

use super::{check_recipient, check_url, twin_templates};
use crate::Lang;
use crate::error::RenderError;

/// One item in the parcel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippedItem {
    pub name: String,
    /// Empty when the product has one variant.
    pub variant: String,
    pub quantity: u32,
}

/// Everything the shipping notice says.
#[derive(Clone)]
pub struct ShippingNotice {
    pub lang: Lang,
    pub shop_name: String,
    pub order_number: String,
    pub customer_name: String,
    /// e.g. "ヤマト運輸" / "Yamato Transport".
    pub carrier: String,
    pub tracking_number: String,
    /// The carrier's tracking page for this parcel, if known.
    pub tracking_url: Option<String>,
    pub items: Vec<ShippedItem>,
    pub order_url: String,
    pub anti_phishing_phrase: Option<String>,
    /// The customer desk (phone and hours) every footer names; empty: none configured.
    pub desk: String,
}

impl std::fmt::Debug for ShippingNotice {
    // The customer's name is personal data: keep it out of any log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShippingNotice")
            .field("lang", &self.lang)
            .field("order_number", &self.order_number)
            .finish_non_exhaustive()
    }
}

twin_templates!(
    ShippingNotice,
    ja_text = "ja/shipping_notice.txt",
    ja_html = "ja/shipping_notice.html",
    en_text = "en/shipping_notice.txt",
    en_html = "en/shipping_notice.html",
);

impl ShippingNotice {
    pub const KIND: &'static str = "shipping_notice";

    pub fn render(&self, to: &str) -> Result<OutgoingMail, RenderError> {
        check_recipient(to)?;
        check_url("order_url", &self.order_url)?;
        if let Some(url) = &self.tracking_url {
            check_url("tracking_url", url)?;
        }
        let subject = match self.lang {
            Lang::Ja => format!(
                "【{}】商品を発送いたしました（ご注文番号 {}）",
                self.shop_name, self.order_number
            ),
            Lang::En => format!(
                "[{}] Your order has shipped ({})",
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
}

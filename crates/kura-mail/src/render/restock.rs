//! The restock notice (入荷お知らせ): a variant the customer asked about is in stock again. It
//! states only what was recorded when it was written (the variant had stock at that moment)
//! and that stock may run out again; it holds no price promise and no link but the product page.

use kura_app::mail::OutgoingMail;

use super::{check_recipient, check_url, twin_templates};
use crate::Lang;
use crate::error::RenderError;

/// Everything the restock notice says.
#[derive(Debug, Clone)]
pub struct RestockNotice {
    pub lang: Lang,
    pub shop_name: String,
    pub product_name: String,
    pub variant_label: String,
    /// The product page (public, carries no token).
    pub product_url: String,
    /// When the stock was seen, preformatted in the mail's language.
    pub seen_at: String,
    pub anti_phishing_phrase: Option<String>,
    /// The customer desk (phone and hours) every footer names; empty: none configured.
    pub desk: String,
}

twin_templates!(
    RestockNotice,
    ja_text = "ja/restock_notice.txt",
    ja_html = "ja/restock_notice.html",
    en_text = "en/restock_notice.txt",
    en_html = "en/restock_notice.html",
);

impl RestockNotice {
    pub const KIND: &'static str = "restock_notice";

    pub fn render(&self, to: &str) -> Result<OutgoingMail, RenderError> {
        check_recipient(to)?;
        check_url("product_url", &self.product_url)?;
        let subject = match self.lang {
            Lang::Ja => format!(
                "【{}】入荷のお知らせ：{}",
                self.shop_name, self.product_name
            ),
            Lang::En => format!("[{}] Back in stock: {}", self.shop_name, self.product_name),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(lang: Lang) -> RestockNotice {
        RestockNotice {
            lang,
            shop_name: "蔵".into(),
            product_name: "真空断熱ボトル <b>".into(),
            variant_label: "500ml ネイビー".into(),
            product_url: "https://shop.example.jp/products/vacuum-bottle-light".into(),
            seen_at: "2026年12月5日(土) 10:00".into(),
            anti_phishing_phrase: None,
            desk: String::new(),
        }
    }

    #[test]
    fn the_notice_names_the_variant_and_says_stock_may_run_out() {
        let m = notice(Lang::Ja).render("a@example.jp").unwrap();
        assert!(m.subject.contains("入荷のお知らせ"));
        assert!(m.text.contains("500ml ネイビー") && m.text.contains("品切れ"));
        assert!(!m.html.contains("<b>"), "names are escaped in HTML");
        let m = notice(Lang::En).render("a@example.jp").unwrap();
        assert!(m.text.contains("back in stock") && m.text.contains("sell out"));
        let mut bad = notice(Lang::En);
        bad.product_url = "javascript:alert(1)".into();
        assert!(bad.render("a@example.jp").is_err());
    }
}

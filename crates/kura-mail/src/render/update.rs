//! The order update (ご注文状況のお知らせ): the order was packed, delivered, cancelled or
//! refunded. Each is sent with the status change it reports, in the same transaction, so the
//! mail never runs ahead of what is recorded. A refund names the amount given back to the card
//! and that the card company shows it on a later statement; it never names the card.

use kura_app::mail::OutgoingMail;
use kura_domain::Yen;

use super::{check_recipient, check_url, twin_templates};
use crate::Lang;
use crate::error::RenderError;

/// What happened to the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateKind {
    Packed,
    Delivered,
    /// Cancelled by the shop.
    Cancelled,
    /// Cancelled because the bank transfer did not arrive by its date.
    TransferDeadlinePassed,
    /// The amount went back to the card.
    Refunded {
        amount: Yen,
    },
    /// A convenience-store payment number was issued: where to see it and by when to pay
    /// are in [`OrderUpdate::voucher`].
    KonbiniVoucher,
    /// The convenience-store payment did not happen by the number's deadline; the order
    /// lapsed and its items went back to stock.
    KonbiniDeadlinePassed,
}

/// A convenience-store payment number, as its mail states it.
#[derive(Clone, Debug)]
pub struct VoucherLines {
    /// The provider's voucher page (the number, the confirmation code, how to pay).
    pub url: String,
    /// The deadline, preformatted in the mail's language (Japan time).
    pub deadline: String,
    pub amount: Yen,
}

/// Everything the order update says.
#[derive(Clone)]
pub struct OrderUpdate {
    pub lang: Lang,
    pub shop_name: String,
    pub order_number: String,
    pub customer_name: String,
    pub kind: UpdateKind,
    /// When the shop recorded it, preformatted in the mail's language (Japan time).
    pub recorded_at: String,
    pub order_url: String,
    pub anti_phishing_phrase: Option<String>,
    /// The customer desk (phone and hours) every footer names; empty: none configured.
    pub desk: String,
    /// The payment number, for [`UpdateKind::KonbiniVoucher`].
    pub voucher: Option<VoucherLines>,
}

impl std::fmt::Debug for OrderUpdate {
    // The customer's name is personal data: keep it out of any log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderUpdate")
            .field("lang", &self.lang)
            .field("order_number", &self.order_number)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

twin_templates!(
    OrderUpdate,
    ja_text = "ja/order_update.txt",
    ja_html = "ja/order_update.html",
    en_text = "en/order_update.txt",
    en_html = "en/order_update.html",
);

impl OrderUpdate {
    pub const KIND: &'static str = "order_update";

    pub fn render(&self, to: &str) -> Result<OutgoingMail, RenderError> {
        check_recipient(to)?;
        check_url("order_url", &self.order_url)?;
        if let Some(v) = &self.voucher {
            check_url("voucher url", &v.url)?;
        }
        if self.kind == UpdateKind::KonbiniVoucher && self.voucher.is_none() {
            return Err(RenderError::MissingVoucher);
        }
        let (ja, en) = match self.kind {
            UpdateKind::KonbiniVoucher => (
                "コンビニでのお支払い番号のご案内",
                "How to pay at a convenience store",
            ),
            UpdateKind::KonbiniDeadlinePassed => (
                "お支払い期限が過ぎたためご注文を取り消しました",
                "Your order lapsed unpaid",
            ),
            UpdateKind::Packed => ("商品の発送準備が整いました", "Your order is packed"),
            UpdateKind::Delivered => ("商品のお届けが完了しました", "Your order was delivered"),
            UpdateKind::Cancelled | UpdateKind::TransferDeadlinePassed => {
                ("ご注文をキャンセルしました", "Your order was cancelled")
            }
            UpdateKind::Refunded { .. } => {
                ("ご返金の手続きをしました", "Your payment was refunded")
            }
        };
        let subject = match self.lang {
            Lang::Ja => format!(
                "【{}】{ja}（ご注文番号 {}）",
                self.shop_name, self.order_number
            ),
            Lang::En => format!("[{}] {en} ({})", self.shop_name, self.order_number),
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

    fn packed(&self) -> bool {
        self.kind == UpdateKind::Packed
    }

    fn delivered(&self) -> bool {
        self.kind == UpdateKind::Delivered
    }

    fn cancelled(&self) -> bool {
        self.kind == UpdateKind::Cancelled
    }

    fn deadline_passed(&self) -> bool {
        self.kind == UpdateKind::TransferDeadlinePassed
    }

    fn konbini_lapsed(&self) -> bool {
        self.kind == UpdateKind::KonbiniDeadlinePassed
    }

    /// The voucher's page, deadline and amount (grouped), for a voucher notice.
    fn konbini_voucher(&self) -> Option<(&str, &str, String)> {
        self.voucher
            .as_ref()
            .filter(|_| self.kind == UpdateKind::KonbiniVoucher)
            .map(|v| (v.url.as_str(), v.deadline.as_str(), v.amount.grouped()))
    }

    /// The refunded amount, grouped (`12,800`), when this is a refund.
    fn refunded(&self) -> Option<String> {
        match self.kind {
            UpdateKind::Refunded { amount } => Some(amount.grouped()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn update(lang: Lang, kind: UpdateKind) -> OrderUpdate {
        OrderUpdate {
            lang,
            shop_name: "Kura Demo".into(),
            order_number: "K-2026-ABCD".into(),
            customer_name: "山田 太郎".into(),
            kind,
            recorded_at: "2026-12-01 10:00".into(),
            order_url: "https://shop.example/orders/K-2026-ABCD".into(),
            anti_phishing_phrase: None,
            desk: String::new(),
            voucher: None,
        }
    }

    #[test]
    fn each_update_says_what_happened_in_both_languages() {
        let refund = UpdateKind::Refunded {
            amount: Yen(12_800),
        };
        let m = update(Lang::Ja, refund).render("a@example.jp").unwrap();
        assert!(m.subject.contains("ご返金"), "{}", m.subject);
        assert!(m.text.contains("12,800円"), "{}", m.text);
        assert!(m.html.contains("12,800円"));
        let m = update(Lang::En, refund).render("a@example.jp").unwrap();
        assert!(m.text.contains("¥12,800"), "{}", m.text);
        let m = update(Lang::Ja, UpdateKind::TransferDeadlinePassed)
            .render("a@example.jp")
            .unwrap();
        assert!(m.text.contains("お振込期限"), "{}", m.text);
        let mut voucher = update(Lang::Ja, UpdateKind::KonbiniVoucher);
        assert!(
            voucher.render("a@example.jp").is_err(),
            "no voucher, no mail"
        );
        voucher.voucher = Some(VoucherLines {
            url: "https://pay.example/voucher/pi_1".into(),
            deadline: "2026年12月5日(土) 23:59".into(),
            amount: Yen(5_500),
        });
        let m = voucher.render("a@example.jp").unwrap();
        assert!(m.subject.contains("お支払い番号"), "{}", m.subject);
        for part in [
            "https://pay.example/voucher/pi_1",
            "2026年12月5日(土) 23:59",
            "5,500円",
        ] {
            assert!(m.text.contains(part), "{part}: {}", m.text);
            assert!(m.html.contains(part), "{part}");
        }
        voucher.lang = Lang::En;
        voucher.voucher = voucher.voucher.map(|v| VoucherLines {
            deadline: "Sat 5 Dec 2026, 23:59 (Japan time)".into(),
            ..v
        });
        let m = voucher.render("a@example.jp").unwrap();
        assert!(
            m.text.contains("¥5,500") && m.text.contains("Sat 5 Dec 2026"),
            "{}",
            m.text
        );
        let m = update(Lang::Ja, UpdateKind::KonbiniDeadlinePassed)
            .render("a@example.jp")
            .unwrap();
        assert!(m.text.contains("お支払い期限"), "{}", m.text);
        for kind in [
            UpdateKind::Packed,
            UpdateKind::Delivered,
            UpdateKind::Cancelled,
        ] {
            for lang in [Lang::Ja, Lang::En] {
                let m = update(lang, kind).render("a@example.jp").unwrap();
                assert!(m.text.contains("K-2026-ABCD"));
                assert!(
                    !m.text.contains("¥") && !m.text.contains("円"),
                    "{kind:?}: no amount"
                );
            }
        }
    }
}

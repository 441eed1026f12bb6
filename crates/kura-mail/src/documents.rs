//! Receipts (領収書) and qualified invoices (適格請求書) as A4 PDFs (see [`crate::pdf`]).
//!
//! Guarantees: a receipt names the addressee (様), the amount received tax included, what it
//! was for (但し書き), the tax in it per rate, the date of issue and the seller; an invoice has
//! every item a qualified invoice must (消費税法第57条の4第1項): the issuer's name and
//! registration number, the transaction date, each line with reduced-rate goods marked ※,
//! the tax-included total and the tax per rate (one rounding per rate per document), and the
//! recipient's name. A rate with nothing at it is left out. A reissue says 再発行 with its issue
//! number and the original's date. Orders placed in English get English labels beside the
//! Japanese ones (the Japanese text is the binding one).

use kura_app::AppError;
use kura_app::receipts::{DocumentKind, DocumentPrinter, SaleDocument};
use kura_domain::{Date, PaymentMethod, TaxRate, Yen};

use crate::pdf::{FontError, Layout, MARGIN, PAGE_W, PdfFont, SIZE, write_pdf};

/// Prints receipts and invoices in one embedded font.
#[derive(Debug, Clone)]
pub struct PdfDocuments {
    font: PdfFont,
}

impl PdfDocuments {
    pub fn new(font: PdfFont) -> Self {
        Self { font }
    }

    /// Reads the font (a TrueType file with glyph outlines, such as IPAGothic).
    pub fn from_font_file(path: &std::path::Path) -> Result<Self, FontError> {
        Ok(Self::new(PdfFont::from_file(path)?))
    }

    /// The document as PDF bytes.
    pub fn render(&self, doc: &SaleDocument) -> Result<Vec<u8>, FontError> {
        let font = self.font.face()?;
        let mut layout = Layout::new(&font);
        let words = Words {
            en: doc.lang == "en",
        };
        match doc.kind {
            DocumentKind::Receipt => receipt(&mut layout, doc, words),
            DocumentKind::Invoice => invoice(&mut layout, doc, words),
        }
        Ok(write_pdf(&font, &layout.pages))
    }
}

impl DocumentPrinter for PdfDocuments {
    fn print(&self, doc: &SaleDocument) -> Result<Vec<u8>, AppError> {
        self.render(doc).map_err(|e| AppError::Task(e.to_string()))
    }
}

/// Labels: Japanese, with the English beside it for orders placed in English.
#[derive(Clone, Copy)]
struct Words {
    en: bool,
}

impl Words {
    fn t(self, ja: &str, en: &str) -> String {
        if self.en {
            format!("{ja} ({en})")
        } else {
            ja.to_string()
        }
    }
}

const RIGHT: f32 = PAGE_W - MARGIN;
/// Where the seller's block and the document's number start.
const SIDE: f32 = 340.0;

fn ja_date(d: Date) -> String {
    format!("{}年{}月{}日", d.year, d.month, d.day)
}

fn payment_label(payment: PaymentMethod, w: Words) -> String {
    match payment {
        PaymentMethod::Card => w.t("クレジットカード", "credit card"),
        PaymentMethod::BankTransfer => w.t("銀行振込", "bank transfer"),
        PaymentMethod::Cod => w.t("代金引換", "cash on delivery"),
        PaymentMethod::Konbini => w.t("コンビニ払い", "convenience store"),
    }
}

/// Title, number, dates and the reissue mark.
fn heading(layout: &mut Layout<'_, '_>, doc: &SaleDocument, w: Words, ja: &str, en: &str) {
    if doc.reissued() {
        layout.put_styled(MARGIN, 14.0, true, &w.t("再発行", "reissued"));
    }
    layout.put_centred(22.0, true, &w.t(ja, en));
    layout.line(22.0);
    layout.gap(6.0);
    layout.put(SIDE, SIZE, &format!("No. {}", doc.document_number));
    layout.line(SIZE);
    layout.put(
        SIDE,
        SIZE,
        &format!("{} {}", w.t("発行日", "issued"), ja_date(doc.issued_on)),
    );
    layout.line(SIZE);
    if doc.reissued() {
        let mut mark = format!("再発行（第{}回発行", doc.issue);
        if let Some(first) = doc.first_issued_on {
            mark.push_str(&format!("・原本発行日 {}", ja_date(first)));
        }
        mark.push('）');
        layout.put_styled(SIDE, SIZE, true, &mark);
        layout.line(SIZE);
    }
    layout.gap(10.0);
}

/// The addressee, underlined.
fn addressee(layout: &mut Layout<'_, '_>, doc: &SaleDocument) {
    layout.put(MARGIN, 16.0, &format!("{} 様", doc.addressee));
    layout.rule(MARGIN, 320.0, 0.8);
    layout.line(16.0);
    layout.gap(12.0);
}

/// The seller's name, address, phone and registration number, on the right.
fn seller(layout: &mut Layout<'_, '_>, doc: &SaleDocument, w: Words) {
    let s = &doc.seller;
    layout.keep(80.0);
    for line in [&s.name, &s.address] {
        if !line.is_empty() {
            layout.para_at(SIDE, RIGHT - SIDE, SIZE, line);
        }
    }
    if !s.phone.is_empty() {
        layout.para_at(SIDE, RIGHT - SIDE, SIZE, &format!("TEL {}", s.phone));
    }
    if let Some(n) = &s.registration {
        let line = format!("{} {n}", w.t("登録番号", "registration no."));
        layout.para_at(SIDE, RIGHT - SIDE, SIZE, &line);
    }
}

/// The per-rate lines: `10%対象 ¥5,060　消費税 ¥460`, for each rate with something at it.
fn tax_lines(layout: &mut Layout<'_, '_>, doc: &SaleDocument, x: f32) {
    let tax = &doc.totals.tax;
    for (rate, total, of_which) in [
        (TaxRate::Standard, tax.standard_total, tax.standard_tax),
        (TaxRate::Reduced, tax.reduced_total, tax.reduced_tax),
    ] {
        if total == Yen::ZERO {
            continue;
        }
        layout.put(
            x,
            SIZE,
            &format!("{}%対象 {total}　消費税 {of_which}", rate.percent()),
        );
        layout.line(SIZE);
    }
}

/// A coupon's discount, and (an invoice states discounts per rate) its share at each rate: the
/// tax lines below are on the goods after it.
fn discount_lines(layout: &mut Layout<'_, '_>, doc: &SaleDocument, w: Words) {
    let off = doc.totals.discount;
    if off == Yen::ZERO {
        return;
    }
    let goods = |rate: TaxRate| {
        Yen(doc
            .lines
            .iter()
            .filter(|l| l.tax == rate)
            .map(|l| l.total.0)
            .sum())
    };
    let (standard, reduced) =
        kura_domain::order::split_discount(off, goods(TaxRate::Standard), goods(TaxRate::Reduced));
    let code = doc.coupon_code.as_deref().unwrap_or_default();
    layout.put(
        MARGIN,
        SIZE,
        &format!("{} ({code})", w.t("クーポン割引", "coupon")),
    );
    layout.put_right(RIGHT, SIZE, &format!("−{off}"));
    layout.line(SIZE);
    for (rate, share) in [(TaxRate::Standard, standard), (TaxRate::Reduced, reduced)] {
        if share == Yen::ZERO {
            continue;
        }
        layout.put(
            MARGIN + 12.0,
            9.0,
            &format!("{}%対象分 −{share}", rate.percent()),
        );
        layout.line(9.0);
    }
}

fn receipt(layout: &mut Layout<'_, '_>, doc: &SaleDocument, w: Words) {
    heading(layout, doc, w, "領収書", "Receipt");
    addressee(layout, doc);
    layout.rule(MARGIN, RIGHT, 0.6);
    layout.line(SIZE);
    layout.gap(6.0);
    layout.put(MARGIN, 12.0, &w.t("金額", "amount"));
    layout.put_styled(150.0, 22.0, true, &format!("{}-（税込）", doc.totals.total));
    layout.line(22.0);
    layout.rule(MARGIN, RIGHT, 0.6);
    layout.gap(18.0);
    layout.put(
        MARGIN,
        SIZE,
        &format!(
            "{}　お品代として（ご注文番号 {}）",
            w.t("但し", "for"),
            doc.order_number
        ),
    );
    layout.line(SIZE);
    layout.put(
        MARGIN,
        SIZE,
        &w.t("上記正に領収いたしました。", "received with thanks"),
    );
    layout.line(SIZE);
    layout.gap(14.0);
    layout.put(MARGIN, 11.0, &w.t("内訳", "breakdown"));
    layout.line(11.0);
    tax_lines(layout, doc, MARGIN + 12.0);
    layout.gap(8.0);
    layout.put(
        MARGIN,
        SIZE,
        &format!(
            "{}: {}",
            w.t("お支払い方法", "paid by"),
            payment_label(doc.payment, w)
        ),
    );
    layout.line(SIZE);
    layout.put(
        MARGIN,
        SIZE,
        &format!(
            "{}: {}",
            w.t("ご注文日", "ordered on"),
            ja_date(doc.transaction_date)
        ),
    );
    layout.line(SIZE);
    layout.gap(20.0);
    seller(layout, doc, w);
    layout.gap(24.0);
    layout.para(
        9.0,
        &w.t(
            "電子領収書：電子的に交付する領収書のため、収入印紙の貼付はありません。",
            "issued electronically: no revenue stamp",
        ),
    );
}

/// Column edges of the invoice's table.
const PRICE_RIGHT: f32 = 410.0;
const QTY_RIGHT: f32 = 450.0;
const NAME_WIDTH: f32 = 270.0;

fn invoice(layout: &mut Layout<'_, '_>, doc: &SaleDocument, w: Words) {
    heading(layout, doc, w, "適格請求書", "Qualified invoice");
    addressee(layout, doc);
    seller(layout, doc, w);
    layout.gap(10.0);
    layout.put(
        MARGIN,
        SIZE,
        &format!(
            "{} {}（ご注文日）",
            w.t("取引年月日", "transaction date"),
            ja_date(doc.transaction_date)
        ),
    );
    layout.line(SIZE);
    layout.put(
        MARGIN,
        SIZE,
        &format!("{} {}", w.t("ご注文番号", "order"), doc.order_number),
    );
    layout.line(SIZE);
    layout.put(
        MARGIN,
        SIZE,
        &format!(
            "{} {}",
            w.t("お支払い", "payment"),
            format_args!("{}（お支払い済み）", payment_label(doc.payment, w))
        ),
    );
    layout.line(SIZE);
    layout.gap(8.0);
    layout.put_styled(
        MARGIN,
        14.0,
        true,
        &format!("{} {}（税込）", w.t("合計金額", "total"), doc.totals.total),
    );
    layout.line(14.0);
    layout.gap(10.0);
    // The table: name, unit price, quantity, amount (tax included).
    layout.put(MARGIN, 9.5, &w.t("品名", "item"));
    layout.put_right(PRICE_RIGHT, 9.5, &w.t("単価", "price"));
    layout.put_right(QTY_RIGHT, 9.5, &w.t("数量", "qty"));
    layout.put_right(RIGHT, 9.5, &w.t("金額（税込）", "amount"));
    layout.rule(MARGIN, RIGHT, 0.6);
    layout.line(9.5);
    layout.gap(4.0);
    for line in &doc.lines {
        let mark = if line.tax == TaxRate::Reduced {
            " ※"
        } else {
            ""
        };
        let name = if line.variant.is_empty() {
            format!("{}{mark}", line.name)
        } else {
            format!("{} {}{mark}", line.name, line.variant)
        };
        let wrapped = layout.wrap(SIZE, NAME_WIDTH, &name);
        layout.keep(SIZE * 2.0 * wrapped.len().max(1) as f32);
        layout.put_right(PRICE_RIGHT, SIZE, &line.unit_price.to_string());
        layout.put_right(QTY_RIGHT, SIZE, &line.quantity.to_string());
        layout.put_right(RIGHT, SIZE, &line.total.to_string());
        for part in wrapped {
            layout.put(MARGIN, SIZE, &part);
            layout.line(SIZE);
        }
    }
    discount_lines(layout, doc, w);
    for (amount, ja, en) in [
        (doc.totals.shipping, "送料", "shipping"),
        (doc.totals.cod_fee, "代金引換手数料", "cash-on-delivery fee"),
    ] {
        if amount == Yen::ZERO {
            continue;
        }
        layout.put(MARGIN, SIZE, &w.t(ja, en));
        layout.put_right(RIGHT, SIZE, &amount.to_string());
        layout.line(SIZE);
    }
    layout.rule(MARGIN, RIGHT, 0.6);
    layout.line(SIZE);
    layout.gap(4.0);
    layout.keep(80.0);
    layout.put(
        MARGIN,
        11.0,
        &w.t("税率ごとの合計と消費税額", "totals and tax per rate"),
    );
    layout.line(11.0);
    tax_lines(layout, doc, MARGIN + 12.0);
    layout.put_styled(
        MARGIN + 12.0,
        SIZE,
        true,
        &format!("合計 {}（税込）", doc.totals.total),
    );
    layout.line(SIZE);
    layout.gap(12.0);
    layout.para(
        9.0,
        &w.t(
            "※は軽減税率（8%）の対象品目です。送料・手数料は標準税率（10%）です。",
            "※ reduced rate (8%); shipping and fees at the standard rate (10%)",
        ),
    );
    layout.para(
        9.0,
        &w.t(
            "消費税額は、税率ごとに合計した税込金額から一度だけ計算し、1円未満を切り捨てています。",
            "tax computed once per rate over that rate's total, rounded down",
        ),
    );
}

#[cfg(test)]
mod tests {
    use kura_app::receipts::{DocumentLine, Seller};
    use kura_domain::{Prefecture, PricedLine, RegistrationNumber, Totals};

    use super::*;
    use crate::pdf::{DEFAULT_FONT, text_of};

    fn doc(kind: DocumentKind, issue: u32) -> SaleDocument {
        let priced = [
            PricedLine {
                sku: "FJ-40".into(),
                unit_price: Yen(3_680),
                quantity: 1,
                tax: TaxRate::Standard,
            },
            PricedLine {
                sku: "R-2KG".into(),
                unit_price: Yen(1_080),
                quantity: 2,
                tax: TaxRate::Reduced,
            },
        ];
        let totals = Totals::compute(
            &priced,
            Prefecture::parse("北海道").unwrap(),
            PaymentMethod::Cod,
        );
        SaleDocument {
            kind,
            lang: "ja".into(),
            document_number: kura_app::receipts::document_number("K-ABCD-EFGH", kind, issue),
            order_number: "K-ABCD-EFGH".into(),
            issue,
            issued_on: Date::parse("2026-05-01").unwrap(),
            first_issued_on: (issue > 1).then(|| Date::parse("2026-04-30").unwrap()),
            transaction_date: Date::parse("2026-04-28").unwrap(),
            addressee: "株式会社見本商事 経理部".into(),
            lines: vec![
                DocumentLine {
                    name: "真空断熱フードジャー".into(),
                    variant: "400ml".into(),
                    unit_price: Yen(3_680),
                    quantity: 1,
                    total: Yen(3_680),
                    tax: TaxRate::Standard,
                },
                DocumentLine {
                    name: "特選 コシヒカリ 2kg".into(),
                    variant: String::new(),
                    unit_price: Yen(1_080),
                    quantity: 2,
                    total: Yen(2_160),
                    tax: TaxRate::Reduced,
                },
            ],
            totals,
            payment: PaymentMethod::Cod,
            seller: Seller {
                name: "株式会社蔵デモ製作所".into(),
                address: "〒100-0001 東京都千代田区千代田1-1".into(),
                phone: "03-0000-0000".into(),
                registration: Some(RegistrationNumber::parse("T7123456789012").unwrap()),
            },
            coupon_code: None,
        }
    }

    fn printed(d: &SaleDocument) -> Option<String> {
        let path = std::path::Path::new(DEFAULT_FONT);
        if !path.exists() {
            eprintln!("SKIPPED: {DEFAULT_FONT} is not installed (fonts-ipafont-gothic)");
            return None;
        }
        let pdf = PdfDocuments::from_font_file(path)
            .unwrap()
            .render(d)
            .unwrap();
        assert!(pdf.starts_with(b"%PDF-1.7"));
        let text = text_of(&pdf).map(|t| squash(&t));
        if text.is_none() {
            eprintln!("SKIPPED text check: pdftotext is not installed (poppler-utils)");
        }
        text
    }

    /// Runs of white space (the ideographic space too) as one space: the layout's columns
    /// come back from `pdftotext` as runs of spaces.
    fn squash(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn assert_says(text: &str, want: &str) {
        assert!(
            text.contains(&squash(want)),
            "{want:?} missing from:\n{text}"
        );
    }

    #[test]
    fn a_receipt_says_who_how_much_and_the_tax_per_rate() {
        let d = doc(DocumentKind::Receipt, 1);
        // Goods 3,680 + 2,160, shipping to Hokkaido 1,300, cash-on-delivery fee 330.
        assert_eq!(d.totals.total, Yen(7_470));
        let Some(text) = printed(&d) else { return };
        for want in [
            "領収書",
            "株式会社見本商事 経理部 様",
            "¥7,470-（税込）",
            "お品代として",
            "10%対象 ¥5,310　消費税 ¥482",
            "8%対象 ¥2,160　消費税 ¥160",
            "登録番号 T7123456789012",
            "No. K-ABCD-EFGH-R1",
            "発行日 2026年5月1日",
            "株式会社蔵デモ製作所",
            "電子領収書",
        ] {
            assert_says(&text, want);
        }
        assert!(!text.contains("再発行"), "an original is not a reissue");
    }

    #[test]
    fn an_invoice_has_every_item_the_invoice_system_asks_for() {
        let d = doc(DocumentKind::Invoice, 3);
        let Some(text) = printed(&d) else { return };
        for want in [
            "適格請求書",
            "株式会社見本商事 経理部 様",
            "登録番号 T7123456789012",
            "取引年月日 2026年4月28日",
            "特選 コシヒカリ 2kg ※",
            "真空断熱フードジャー 400ml",
            "送料",
            "代金引換手数料",
            "10%対象 ¥5,310　消費税 ¥482",
            "8%対象 ¥2,160　消費税 ¥160",
            "合計 ¥7,470（税込）",
            "再発行（第3回発行・原本発行日 2026年4月30日）",
            "No. K-ABCD-EFGH-I3",
        ] {
            assert_says(&text, want);
        }
    }

    #[test]
    fn a_rate_with_nothing_at_it_is_left_out_and_english_orders_get_english_labels() {
        let mut d = doc(DocumentKind::Receipt, 1);
        d.lang = "en".into();
        d.lines.retain(|l| l.tax == TaxRate::Standard);
        d.totals.tax = kura_domain::TaxBreakdown::from_totals(Yen(5_310), Yen::ZERO);
        let Some(text) = printed(&d) else { return };
        assert!(text.contains("領収書 (Receipt)"), "{text}");
        assert!(text.contains("10%対象"), "{text}");
        assert!(!text.contains("8%対象"), "{text}");
    }
}

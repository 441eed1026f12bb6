//! Printable letters for the people an incident notice cannot reach by mail: one A4 page (or
//! more) per person, addressed for a window envelope, in Japanese (and English for those who
//! shopped in English), as a PDF with a Japanese TrueType font embedded (see [`crate::pdf`]).

use std::fmt::Write as _;

use kura_app::AppError;
use kura_app::exports::LetterPrinter;
use kura_app::incident_people::PostalRow;
use kura_app::incidents::category_label;
use kura_app::records::{IncidentEntryRecord, IncidentRecord};
use kura_domain::Date;

pub use crate::pdf::DEFAULT_FONT;
use crate::pdf::{Layout, MARGIN, Page, PdfFont, SIZE, write_pdf};

/// Letters for a postal list, in the shop's name.
pub struct PdfLetters {
    font: PdfFont,
    pub shop_name: String,
    /// The customer desk (phone and hours); empty: none configured.
    pub desk: String,
    /// The shop's public address, for the notice page.
    pub public_url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LetterError {
    #[error("the letter font could not be read: {0}")]
    Font(String),
}

impl From<crate::pdf::FontError> for LetterError {
    fn from(e: crate::pdf::FontError) -> Self {
        Self::Font(e.0)
    }
}

impl PdfLetters {
    /// Letters in `font` (shared with the shop's other printed documents).
    pub fn new(font: PdfFont, shop_name: String, desk: String, public_url: String) -> Self {
        Self {
            font,
            shop_name,
            desk,
            public_url,
        }
    }

    /// Reads the font (a TrueType file with glyph outlines, such as IPAGothic).
    pub fn from_font_file(
        path: &std::path::Path,
        shop_name: String,
        desk: String,
        public_url: String,
    ) -> Result<Self, LetterError> {
        Ok(Self {
            font: PdfFont::from_file(path)?,
            shop_name,
            desk,
            public_url,
        })
    }

    fn letter(
        &self,
        layout: &mut Layout<'_, '_>,
        incident: &IncidentRecord,
        entry: Option<&IncidentEntryRecord>,
        row: &PostalRow,
        today: &str,
    ) {
        // The address block, where a window envelope shows it.
        layout.put(MARGIN, 11.0, &format!("〒{}", row.postal_code));
        layout.gap(16.0);
        layout.put(
            MARGIN,
            11.0,
            &format!("{}{}", row.prefecture_ja, row.address1),
        );
        layout.gap(16.0);
        if !row.address2.is_empty() {
            layout.put(MARGIN, 11.0, &row.address2);
            layout.gap(16.0);
        }
        layout.gap(6.0);
        layout.put(MARGIN, 13.0, &format!("{} 様", row.name));
        layout.gap(40.0);
        layout.right(SIZE, today);
        layout.right(SIZE, &self.shop_name);
        layout.gap(14.0);
        layout.para(14.0, "個人情報に関する重要なお知らせとお詫び");
        layout.gap(8.0);
        let fields: Vec<&str> = incident
            .categories
            .iter()
            .map(|c| category_label(c, "ja"))
            .collect();
        let mut body = String::new();
        let _ = writeln!(
            body,
            "このたび、{}において、お客さまの個人情報が外部に漏えいしたおそれがあることが判明いたしました。ご心配とご迷惑をおかけしますことを、深くお詫び申し上げます。メールでのご連絡が届かなかったため、書面にてお知らせいたします。",
            self.shop_name
        );
        layout.para(SIZE, &body);
        layout.gap(6.0);
        layout.para(11.5, "1. 概要");
        if let Some(e) = entry {
            layout.para(SIZE, &e.title_ja);
            layout.para(SIZE, &e.body_ja);
        }
        layout.para(
            SIZE,
            &format!(
                "発覚日時: {}　漏えいのおそれがある期間: {} ～ {}",
                Date::japan_minute(incident.discovered_at),
                Date::japan_minute(incident.window_start),
                Date::japan_minute(incident.window_end)
            ),
        );
        layout.gap(6.0);
        layout.para(11.5, "2. 対象となる情報");
        layout.para(SIZE, &fields.join("、"));
        layout.para(
            SIZE,
            "クレジットカード番号は当店では保存しておらず、対象ではありません。",
        );
        layout.gap(6.0);
        layout.para(11.5, "3. 原因");
        layout.para(SIZE, &incident.cause);
        layout.gap(6.0);
        layout.para(11.5, "4. 想定される二次被害とお願い");
        layout.para(SIZE, "・当店を名乗る偽のメールや電話、郵便物が届くおそれがあります。当店がカード番号やパスワードをおたずねすることはありません。");
        layout.para(SIZE, "・当店からのメールには確認コードが記載されています。当店サイトの「メールの確認」ページで、当店が送ったメールかどうかを確かめられます。");
        layout.para(SIZE, "・クレジットカードの利用明細をご確認ください。身に覚えのない請求があれば、カード会社にご連絡ください。");
        layout.gap(6.0);
        layout.para(11.5, "5. お問い合わせ");
        let mut contact = format!(
            "経過は当店のお知らせページで公表しています: {}/notices/{}",
            self.public_url.trim_end_matches('/'),
            incident.id
        );
        if !self.desk.is_empty() {
            let _ = write!(contact, "\nお問い合わせ窓口: {}", self.desk);
        }
        layout.para(SIZE, &contact);
        if row.lang == "en" {
            layout.gap(10.0);
            layout.para(11.5, "English");
            layout.para(SIZE, &format!(
                "We are writing because our mail could not reach you: your personal data held by {} may have been taken ({}). We never ask for card numbers or passwords; forged mail in our name may reach you. Please check your card statements. Updates: {}/notices/{}",
                self.shop_name,
                incident.categories.iter().map(|c| category_label(c, "en")).collect::<Vec<_>>().join(", "),
                self.public_url.trim_end_matches('/'),
                incident.id
            ));
        }
    }

    fn render(
        &self,
        incident: &IncidentRecord,
        entry: Option<&IncidentEntryRecord>,
        rows: &[PostalRow],
        today: &str,
    ) -> Result<Vec<u8>, LetterError> {
        let font = self.font.face()?;
        let mut pages: Vec<Page> = Vec::new();
        for row in rows {
            let mut layout = Layout::new(&font);
            self.letter(&mut layout, incident, entry, row, today);
            pages.extend(layout.pages);
        }
        if pages.is_empty() {
            let mut layout = Layout::new(&font);
            layout.para(SIZE, "郵送の対象となる方はいません。");
            pages.extend(layout.pages);
        }
        Ok(write_pdf(&font, &pages))
    }
}

impl LetterPrinter for PdfLetters {
    fn letters(
        &self,
        incident: &IncidentRecord,
        entry: Option<&IncidentEntryRecord>,
        rows: &[PostalRow],
    ) -> Result<Vec<u8>, AppError> {
        let today = Date::japan_minute(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0)),
        );
        let today = today.get(..10).unwrap_or(&today).replace('-', "/");
        self.render(incident, entry, rows, &today)
            .map_err(|e| AppError::Task(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_a_pdf_whose_text_is_the_letter() {
        let path = std::path::Path::new(DEFAULT_FONT);
        if !path.exists() {
            eprintln!("SKIPPED: {DEFAULT_FONT} is not installed (fonts-ipafont-gothic)");
            return;
        }
        let printer = PdfLetters::from_font_file(
            path,
            "くらしの家電".into(),
            "0120-000-000（平日 9:00〜18:00）".into(),
            "https://shop.example.jp".into(),
        )
        .unwrap();
        let incident = IncidentRecord {
            id: 7,
            title: "不正アクセス".into(),
            discovered_at: 1_800_000_000,
            window_start: 1_799_000_000,
            window_end: 1_799_500_000,
            cause: "管理画面の脆弱性を突いた不正アクセス".into(),
            categories: vec!["name".into(), "address".into()],
            keys_exposed: false,
            attack: true,
            declared_by: 1,
            declared_at: 1_800_000_000,
            closed_at: None,
            campaign_started_at: None,
            people: 1,
        };
        let row = PostalRow {
            person: "c:1".into(),
            name: "山田 花子".into(),
            postal_code: "1000001".into(),
            prefecture_ja: "東京都".into(),
            address1: "千代田区千代田1-1".into(),
            address2: String::new(),
            lang: "ja".into(),
        };
        let pdf = printer
            .render(&incident, None, &[row], "2026/12/02")
            .unwrap();
        assert!(pdf.starts_with(b"%PDF-1.7"));
        assert!(pdf.ends_with(b"%%EOF\n"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("letters.pdf");
        std::fs::write(&file, &pdf).unwrap();
        // pdftotext (poppler-utils) reads the text back through the ToUnicode map.
        match std::process::Command::new("pdftotext")
            .arg(&file)
            .arg("-")
            .output()
        {
            Ok(out) if out.status.success() => {
                let text = String::from_utf8_lossy(&out.stdout);
                assert!(text.contains("山田 花子 様"), "{text}");
                assert!(text.contains("千代田区千代田1-1"), "{text}");
                assert!(text.contains("個人情報に関する重要なお知らせとお詫び"));
            }
            _ => eprintln!("SKIPPED text check: pdftotext is not installed (poppler-utils)"),
        }
    }
}

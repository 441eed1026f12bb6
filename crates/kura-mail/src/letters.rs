//! Printable letters for the people an incident notice cannot reach by mail: one A4 page (or
//! more) per person, addressed for a window envelope, in Japanese (and English for those who
//! shopped in English), as a PDF with a Japanese TrueType font embedded (IPAGothic from
//! Debian's `fonts-ipafont-gothic` by default).
//!
//! The PDF is written here, without a PDF library: a Type 0 font over a CIDFontType2 with the
//! identity encoding (each glyph by its index), the widths of the glyphs used, and a
//! ToUnicode map so the text can be searched and copied. The whole font file is embedded
//! (compressed), not a subset.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

use kura_app::AppError;
use kura_app::exports::LetterPrinter;
use kura_app::incident_people::PostalRow;
use kura_app::incidents::category_label;
use kura_app::records::{IncidentEntryRecord, IncidentRecord};
use kura_domain::Date;

/// Where Debian puts IPAGothic.
pub const DEFAULT_FONT: &str = "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf";

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 56.0;
const SIZE: f32 = 10.5;
const LEADING: f32 = 17.0;

/// Letters for a postal list, in the shop's name.
pub struct PdfLetters {
    font: Vec<u8>,
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

struct Font<'a> {
    face: ttf_parser::Face<'a>,
    scale: f32,
}

impl Font<'_> {
    fn glyph(&self, c: char) -> u16 {
        self.face.glyph_index(c).map_or(0, |g| g.0)
    }

    /// Width in thousandths of the font size.
    fn width(&self, glyph: u16) -> f32 {
        f32::from(
            self.face
                .glyph_hor_advance(ttf_parser::GlyphId(glyph))
                .unwrap_or(0),
        ) * self.scale
    }
}

/// One page's text lines: (x, y, size, text).
type Page = Vec<(f32, f32, f32, String)>;

struct Layout<'f, 'a> {
    font: &'f Font<'a>,
    pages: Vec<Page>,
    y: f32,
}

impl<'f, 'a> Layout<'f, 'a> {
    fn new(font: &'f Font<'a>) -> Self {
        Self {
            font,
            pages: vec![Vec::new()],
            y: PAGE_H - MARGIN,
        }
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = PAGE_H - MARGIN;
    }

    fn put(&mut self, x: f32, size: f32, text: &str) {
        if self.y < MARGIN + size {
            self.new_page();
        }
        if let Some(page) = self.pages.last_mut() {
            page.push((x, self.y, size, text.to_string()));
        }
    }

    /// Writes a paragraph, wrapped to the text width, then moves down.
    fn para(&mut self, size: f32, text: &str) {
        let width = PAGE_W - 2.0 * MARGIN;
        for raw in text.split('\n') {
            let mut line = String::new();
            let mut w = 0.0;
            for c in raw.chars() {
                let cw = self.font.width(self.font.glyph(c)) * size / 1000.0;
                if w + cw > width && !line.is_empty() {
                    self.put(MARGIN, size, &line);
                    self.y -= size * LEADING / SIZE;
                    line.clear();
                    w = 0.0;
                }
                line.push(c);
                w += cw;
            }
            self.put(MARGIN, size, &line);
            self.y -= size * LEADING / SIZE;
        }
    }

    fn gap(&mut self, points: f32) {
        self.y -= points;
    }

    fn right(&mut self, size: f32, text: &str) {
        let w: f32 = text
            .chars()
            .map(|c| self.font.width(self.font.glyph(c)) * size / 1000.0)
            .sum();
        self.put(PAGE_W - MARGIN - w, size, text);
        self.y -= size * LEADING / SIZE;
    }
}

impl PdfLetters {
    /// Reads the font (a TrueType file with glyph outlines, such as IPAGothic).
    pub fn from_font_file(
        path: &std::path::Path,
        shop_name: String,
        desk: String,
        public_url: String,
    ) -> Result<Self, LetterError> {
        let font = std::fs::read(path).map_err(|e| LetterError::Font(e.to_string()))?;
        ttf_parser::Face::parse(&font, 0).map_err(|e| LetterError::Font(e.to_string()))?;
        Ok(Self {
            font,
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
            "このたび、{}において、お客様の個人情報が外部に漏えいしたおそれがあることが判明いたしました。ご心配とご迷惑をおかけしますことを、深くお詫び申し上げます。メールでのご連絡が届かなかったため、書面にてお知らせいたします。",
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
        let face =
            ttf_parser::Face::parse(&self.font, 0).map_err(|e| LetterError::Font(e.to_string()))?;
        let scale = 1000.0 / f32::from(face.units_per_em().max(1));
        let font = Font { face, scale };
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
        Ok(write_pdf(&font, &self.font, &pages))
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

fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = z.write_all(bytes);
    z.finish().unwrap_or_default()
}

fn utf16_hex(c: char) -> String {
    let mut buf = [0u16; 2];
    c.encode_utf16(&mut buf)
        .iter()
        .map(|u| format!("{u:04X}"))
        .collect()
}

/// Writes the pages as a PDF.
fn write_pdf(font: &Font<'_>, font_file: &[u8], pages: &[Page]) -> Vec<u8> {
    // Every glyph used, with the character it shows.
    let mut used: BTreeMap<u16, char> = BTreeMap::new();
    let mut contents = Vec::with_capacity(pages.len());
    for page in pages {
        let mut ops = String::new();
        for (x, y, size, text) in page {
            let mut hex = String::with_capacity(text.len() * 4);
            for c in text.chars() {
                let g = font.glyph(c);
                used.entry(g).or_insert(c);
                let _ = write!(hex, "{g:04X}");
            }
            let _ = writeln!(ops, "BT /F1 {size:.1} Tf {x:.2} {y:.2} Td <{hex}> Tj ET");
        }
        contents.push(deflate(ops.as_bytes()));
    }
    let mut objects: Vec<Vec<u8>> = Vec::new();
    // 1 catalog, 2 pages, 3 Type0 font, 4 CID font, 5 descriptor, 6 font file, 7 ToUnicode;
    // then page i at 8 + 2i and its content at 9 + 2i.
    let kids: Vec<String> = (0..pages.len())
        .map(|i| format!("{} 0 R", 8 + 2 * i))
        .collect();
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    objects.push(
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            pages.len()
        )
        .into_bytes(),
    );
    objects.push(
        b"<< /Type /Font /Subtype /Type0 /BaseFont /IPAGothic /Encoding /Identity-H \
          /DescendantFonts [4 0 R] /ToUnicode 7 0 R >>"
            .to_vec(),
    );
    let mut widths = String::new();
    for g in used.keys() {
        let _ = write!(widths, "{g} [{:.0}] ", font.width(*g));
    }
    objects.push(
        format!(
            "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /IPAGothic \
             /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> \
             /FontDescriptor 5 0 R /CIDToGIDMap /Identity /DW 1000 /W [{widths}] >>"
        )
        .into_bytes(),
    );
    let bbox = font.face.global_bounding_box();
    let s = font.scale;
    objects.push(
        format!(
            "<< /Type /FontDescriptor /FontName /IPAGothic /Flags 4 \
             /FontBBox [{:.0} {:.0} {:.0} {:.0}] /ItalicAngle 0 /Ascent {:.0} /Descent {:.0} \
             /CapHeight {:.0} /StemV 80 /FontFile2 6 0 R >>",
            f32::from(bbox.x_min) * s,
            f32::from(bbox.y_min) * s,
            f32::from(bbox.x_max) * s,
            f32::from(bbox.y_max) * s,
            f32::from(font.face.ascender()) * s,
            f32::from(font.face.descender()) * s,
            f32::from(font.face.ascender()) * s,
        )
        .into_bytes(),
    );
    let packed = deflate(font_file);
    let mut file = format!(
        "<< /Length {} /Length1 {} /Filter /FlateDecode >>\nstream\n",
        packed.len(),
        font_file.len()
    )
    .into_bytes();
    file.extend_from_slice(&packed);
    file.extend_from_slice(b"\nendstream");
    objects.push(file);
    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap \
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def \
         /CMapName /Adobe-Identity-UCS def /CMapType 2 def \
         1 begincodespacerange <0000> <FFFF> endcodespacerange\n",
    );
    let used: Vec<(u16, char)> = used.into_iter().collect();
    for chunk in used.chunks(100) {
        let _ = writeln!(cmap, "{} beginbfchar", chunk.len());
        for (g, c) in chunk {
            let _ = writeln!(cmap, "<{g:04X}> <{}>", utf16_hex(*c));
        }
        cmap.push_str("endbfchar\n");
    }
    cmap.push_str("endcmap CMapName currentdict /CMap defineresource pop end end");
    let mut stream = format!("<< /Length {} >>\nstream\n", cmap.len()).into_bytes();
    stream.extend_from_slice(cmap.as_bytes());
    stream.extend_from_slice(b"\nendstream");
    objects.push(stream);
    for (i, content) in contents.iter().enumerate() {
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W:.0} {PAGE_H:.0}] \
                 /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                9 + 2 * i
            )
            .into_bytes(),
        );
        let mut stream = format!(
            "<< /Length {} /Filter /FlateDecode >>\nstream\n",
            content.len()
        )
        .into_bytes();
        stream.extend_from_slice(content);
        stream.extend_from_slice(b"\nendstream");
        objects.push(stream);
    }
    let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for o in offsets {
        let _ = writeln!(table, "{o:010} 00000 n ");
    }
    let _ = write!(
        table,
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    );
    out.extend_from_slice(table.as_bytes());
    out
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

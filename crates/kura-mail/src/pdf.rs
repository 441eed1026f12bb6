//! The shop's printed documents as PDF (letters of an incident's postal list, receipts,
//! invoices), written here without a PDF library: A4 pages of text and thin rules in one
//! embedded TrueType font with Japanese glyphs (IPAGothic from Debian's `fonts-ipafont-gothic`
//! by default).
//!
//! The font is a Type 0 font over a CIDFontType2 with the identity encoding (each glyph by its
//! index), the widths of the glyphs used, and a ToUnicode map so that the text can be searched,
//! copied and read back (`pdftotext`). Only the glyphs a document uses are embedded (a subset,
//! made by the `subsetter` crate); should the font not subset, the whole file is embedded.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

/// Where Debian puts IPAGothic.
pub const DEFAULT_FONT: &str = "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf";

/// A4 in points.
pub(crate) const PAGE_W: f32 = 595.0;
pub(crate) const PAGE_H: f32 = 842.0;
pub(crate) const MARGIN: f32 = 56.0;
/// Body text size and line spacing.
pub(crate) const SIZE: f32 = 10.5;
pub(crate) const LEADING: f32 = 17.0;

/// A font file that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("the font could not be read: {0}")]
pub struct FontError(pub String);

/// A TrueType font file (with glyph outlines), read once and checked; cheap to clone.
#[derive(Clone)]
pub struct PdfFont {
    bytes: Arc<Vec<u8>>,
}

impl std::fmt::Debug for PdfFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdfFont")
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl PdfFont {
    pub fn from_file(path: &Path) -> Result<Self, FontError> {
        let bytes = std::fs::read(path).map_err(|e| FontError(e.to_string()))?;
        ttf_parser::Face::parse(&bytes, 0).map_err(|e| FontError(e.to_string()))?;
        Ok(Self {
            bytes: Arc::new(bytes),
        })
    }

    /// The parsed face, to lay out and write documents with.
    pub(crate) fn face(&self) -> Result<Font<'_>, FontError> {
        let face = ttf_parser::Face::parse(&self.bytes, 0).map_err(|e| FontError(e.to_string()))?;
        let scale = 1000.0 / f32::from(face.units_per_em().max(1));
        Ok(Font {
            face,
            scale,
            file: &self.bytes,
        })
    }
}

pub(crate) struct Font<'a> {
    face: ttf_parser::Face<'a>,
    scale: f32,
    file: &'a [u8],
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

    /// Width of `text` at `size`, in points.
    pub(crate) fn text_width(&self, size: f32, text: &str) -> f32 {
        text.chars()
            .map(|c| self.width(self.glyph(c)) * size / 1000.0)
            .sum()
    }

    /// The font's PostScript name, in the characters a PDF name may hold plainly.
    fn name(&self) -> String {
        let name: String = self
            .face
            .names()
            .into_iter()
            .filter(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
            // The first one in a Unicode encoding (Macintosh-encoded ones do not decode).
            .find_map(|n| n.to_string())
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(60)
            .collect();
        if name.is_empty() {
            "KuraFont".to_string()
        } else {
            name
        }
    }
}

/// What a page shows: text, or a horizontal rule.
pub(crate) enum Mark {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        text: String,
    },
    Rule {
        x1: f32,
        x2: f32,
        y: f32,
        width: f32,
    },
}

pub(crate) type Page = Vec<Mark>;

/// Lays text out top to bottom, starting a new page when one is full.
pub(crate) struct Layout<'f, 'a> {
    font: &'f Font<'a>,
    pub(crate) pages: Vec<Page>,
    y: f32,
}

impl<'f, 'a> Layout<'f, 'a> {
    pub(crate) fn new(font: &'f Font<'a>) -> Self {
        Self {
            font,
            pages: vec![Vec::new()],
            y: PAGE_H - MARGIN,
        }
    }

    pub(crate) fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = PAGE_H - MARGIN;
    }

    /// Starts a new page unless `points` are left on this one.
    pub(crate) fn keep(&mut self, points: f32) {
        if self.y - points < MARGIN {
            self.new_page();
        }
    }

    fn mark(&mut self, mark: Mark) {
        if let Some(page) = self.pages.last_mut() {
            page.push(mark);
        }
    }

    /// Text at `x` on the current line (the line does not move).
    pub(crate) fn put(&mut self, x: f32, size: f32, text: &str) {
        self.put_styled(x, size, false, text);
    }

    pub(crate) fn put_styled(&mut self, x: f32, size: f32, bold: bool, text: &str) {
        if self.y < MARGIN + size {
            self.new_page();
        }
        let y = self.y;
        self.mark(Mark::Text {
            x,
            y,
            size,
            bold,
            text: text.to_string(),
        });
    }

    /// Text ending at `right` on the current line (the line does not move).
    pub(crate) fn put_right(&mut self, right: f32, size: f32, text: &str) {
        let w = self.font.text_width(size, text);
        self.put(right - w, size, text);
    }

    /// Text centred on the page on the current line (the line does not move).
    pub(crate) fn put_centred(&mut self, size: f32, bold: bool, text: &str) {
        let w = self.font.text_width(size, text);
        self.put_styled((PAGE_W - w) / 2.0, size, bold, text);
    }

    /// A horizontal rule from `x1` to `x2` a little below the current line.
    pub(crate) fn rule(&mut self, x1: f32, x2: f32, width: f32) {
        let y = self.y - 4.0;
        self.mark(Mark::Rule { x1, x2, y, width });
    }

    /// `text` broken into lines no wider than `width` (at any character: Japanese has no
    /// spaces between words); each `\n` starts a line.
    pub(crate) fn wrap(&self, size: f32, width: f32, text: &str) -> Vec<String> {
        let mut lines = Vec::new();
        for raw in text.split('\n') {
            let mut line = String::new();
            let mut w = 0.0;
            for c in raw.chars() {
                let cw = self.font.width(self.font.glyph(c)) * size / 1000.0;
                if w + cw > width && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    w = 0.0;
                }
                line.push(c);
                w += cw;
            }
            lines.push(line);
        }
        lines
    }

    /// Writes a paragraph from `x`, wrapped at `width`, then moves down.
    pub(crate) fn para_at(&mut self, x: f32, width: f32, size: f32, text: &str) {
        for line in self.wrap(size, width, text) {
            self.put(x, size, &line);
            self.line(size);
        }
    }

    /// Writes a paragraph across the text width, then moves down.
    pub(crate) fn para(&mut self, size: f32, text: &str) {
        self.para_at(MARGIN, PAGE_W - 2.0 * MARGIN, size, text);
    }

    /// Moves down one line of `size`.
    pub(crate) fn line(&mut self, size: f32) {
        self.y -= size * LEADING / SIZE;
    }

    pub(crate) fn gap(&mut self, points: f32) {
        self.y -= points;
    }

    /// Text flush right, then moves down.
    pub(crate) fn right(&mut self, size: f32, text: &str) {
        self.put_right(PAGE_W - MARGIN, size, text);
        self.line(size);
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

/// Six capital letters naming a subset (PDF 32000-1 §9.6.4), from the glyphs it holds.
fn subset_tag(glyphs: &[u16]) -> String {
    let mut h: u32 = 2_166_136_261;
    for g in glyphs {
        for b in g.to_be_bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(16_777_619);
        }
    }
    (0..6)
        .map(|i| char::from(b'A' + u8::try_from((h >> (i * 5)) % 26).unwrap_or(0)))
        .collect()
}

/// Writes the pages as a PDF.
pub(crate) fn write_pdf(font: &Font<'_>, pages: &[Page]) -> Vec<u8> {
    // Every glyph used, with the character it shows.
    let mut used: BTreeMap<u16, char> = BTreeMap::new();
    for page in pages {
        for mark in page {
            if let Mark::Text { text, .. } = mark {
                for c in text.chars() {
                    used.entry(font.glyph(c)).or_insert(c);
                }
            }
        }
    }
    let old: Vec<u16> = used.keys().copied().collect();
    let remapper = subsetter::GlyphRemapper::new_from_glyphs_sorted(&old);
    // The subset's glyphs are renumbered; the whole font keeps its own numbers.
    let (font_file, subset) = match subsetter::subset(font.file, 0, &remapper) {
        Ok(bytes) => (std::borrow::Cow::Owned(bytes), true),
        Err(e) => {
            tracing::warn!(target: "kura::pdf", error = ?e, "the font could not be subset; the whole font is embedded");
            (std::borrow::Cow::Borrowed(font.file), false)
        }
    };
    let cid = |g: u16| {
        if subset {
            remapper.get(g).unwrap_or(0)
        } else {
            g
        }
    };
    let base_name = if subset {
        format!("{}+{}", subset_tag(&old), font.name())
    } else {
        font.name()
    };
    let mut contents = Vec::with_capacity(pages.len());
    for page in pages {
        let mut ops = String::new();
        for mark in page {
            match mark {
                Mark::Text {
                    x,
                    y,
                    size,
                    bold,
                    text,
                } => {
                    let mut hex = String::with_capacity(text.len() * 4);
                    for c in text.chars() {
                        let _ = write!(hex, "{:04X}", cid(font.glyph(c)));
                    }
                    // Bold: the glyphs filled and stroked with a thin outline.
                    let style = if *bold { "2 Tr 0.35 w " } else { "" };
                    let _ = writeln!(
                        ops,
                        "BT {style}/F1 {size:.1} Tf {x:.2} {y:.2} Td <{hex}> Tj ET"
                    );
                }
                Mark::Rule { x1, x2, y, width } => {
                    let _ = writeln!(ops, "q {width:.2} w {x1:.2} {y:.2} m {x2:.2} {y:.2} l S Q");
                }
            }
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
        format!(
            "<< /Type /Font /Subtype /Type0 /BaseFont /{base_name} /Encoding /Identity-H \
             /DescendantFonts [4 0 R] /ToUnicode 7 0 R >>"
        )
        .into_bytes(),
    );
    let mut widths = String::new();
    for g in used.keys() {
        let _ = write!(widths, "{} [{:.0}] ", cid(*g), font.width(*g));
    }
    objects.push(
        format!(
            "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{base_name} \
             /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> \
             /FontDescriptor 5 0 R /CIDToGIDMap /Identity /DW 1000 /W [{widths}] >>"
        )
        .into_bytes(),
    );
    let bbox = font.face.global_bounding_box();
    let s = font.scale;
    objects.push(
        format!(
            "<< /Type /FontDescriptor /FontName /{base_name} /Flags 4 \
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
    let packed = deflate(&font_file);
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
            let _ = writeln!(cmap, "<{:04X}> <{}>", cid(*g), utf16_hex(*c));
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

/// Reads the text back from a PDF with poppler's `pdftotext` (tests); `None` when it is not
/// installed.
#[cfg(test)]
pub(crate) fn text_of(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().ok()?;
    let file = dir.path().join("doc.pdf");
    std::fs::write(&file, pdf).ok()?;
    let out = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(&file)
        .arg("-")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_embeds_only_the_glyphs_it_uses_and_reads_back() {
        let path = Path::new(DEFAULT_FONT);
        if !path.exists() {
            eprintln!("SKIPPED: {DEFAULT_FONT} is not installed (fonts-ipafont-gothic)");
            return;
        }
        let font = PdfFont::from_file(path).unwrap();
        let face = font.face().unwrap();
        let mut layout = Layout::new(&face);
        layout.put_centred(20.0, true, "領収書");
        layout.line(20.0);
        layout.rule(MARGIN, PAGE_W - MARGIN, 0.8);
        layout.para(SIZE, "お品代として ¥12,800 を領収いたしました。");
        let pdf = write_pdf(&face, &layout.pages);
        assert!(pdf.starts_with(b"%PDF-1.7"));
        // IPAGothic is 6 MB; a page of a few dozen glyphs is a few kilobytes.
        assert!(pdf.len() < 200_000, "{} bytes", pdf.len());
        let name = String::from_utf8_lossy(&pdf);
        assert!(name.contains("+IPAGothic"), "the subset is named as one");
        match text_of(&pdf) {
            Some(text) => {
                assert!(text.contains("領収書"), "{text}");
                assert!(text.contains("¥12,800"), "{text}");
            }
            None => eprintln!("SKIPPED text check: pdftotext is not installed (poppler-utils)"),
        }
    }

    #[test]
    fn subset_tags_are_six_capitals() {
        let tag = subset_tag(&[0, 12, 345]);
        assert_eq!(tag.len(), 6);
        assert!(tag.chars().all(|c| c.is_ascii_uppercase()));
        assert_ne!(tag, subset_tag(&[0, 12, 346]));
    }
}

//! Writing the archival evidence report: PDF/A-3u, bilingual, its text in one embedded
//! and subset font (Noto Sans CJK covers Chinese and Latin), a QR code, and the proof,
//! the genesis file and a verification guide attached, so that the report carries its
//! own evidence. The text is the [`crate::report`] blocks, laid out top-down on A4.

use krilla::color::rgb;
use krilla::configure::{Archival, ConfigurationBuilder, PdfVersion};
use krilla::embed::{AssociationKind, EmbeddedFile, MimeType};
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::{DateTime, Metadata};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use krilla::{Document, SerializeSettings};

use crate::report::{Block, Style, ATTACHED_GENESIS, ATTACHED_GUIDE, ATTACHED_PROOF};

/// Where Debian's `fonts-noto-cjk` puts the font, and the Simplified Chinese face in it.
pub const DEFAULT_FONT: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";
/// See [`DEFAULT_FONT`].
pub const DEFAULT_BOLD_FONT: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc";
/// The face of Noto Sans CJK SC in Debian's collections (JP, KR, SC, TC, HK).
pub const SC_FACE: u32 = 2;

/// Why a report could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// The font's bytes hold no usable face at that index.
    Font {
        /// The face index.
        face: u32,
    },
    /// The PDF library refused the document (a PDF/A rule, a font it cannot embed).
    Pdf {
        /// Its message.
        reason: String,
    },
    /// The QR code could not be made.
    Qr {
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Font { face } => write!(f, "the font has no usable face {face}"),
            WriteError::Pdf { reason } => write!(f, "the PDF could not be written: {reason}"),
            WriteError::Qr { reason } => write!(f, "the QR code could not be made: {reason}"),
        }
    }
}

impl std::error::Error for WriteError {}

/// What the report is made of.
pub struct ReportInput<'a> {
    /// The blocks to print ([`crate::report::blocks`]).
    pub blocks: &'a [Block],
    /// What the QR code carries.
    pub qr: &'a str,
    /// The proof bundle's JSON, attached.
    pub proof_json: &'a str,
    /// The genesis file, attached.
    pub genesis_json: &'a str,
    /// The verification guide, attached as plain text.
    pub guide: &'a str,
    /// The title in the document's metadata.
    pub title: &'a str,
    /// When the report is made, milliseconds since the Unix epoch (PDF/A needs a date).
    pub made_ms: u64,
    /// The regular and bold fonts' bytes (collections allowed) and the face to use.
    pub regular: Vec<u8>,
    /// See [`ReportInput::regular`].
    pub bold: Vec<u8>,
    /// See [`ReportInput::regular`].
    pub face: u32,
}

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 50.0;
const QR_SIZE: f32 = 96.0;
const LABEL_WIDTH: f32 = 150.0;

/// A line placed on a page.
struct Line {
    x: f32,
    baseline: f32,
    size: f32,
    bold: bool,
    color: (u8, u8, u8),
    text: String,
}

/// Lines placed top-down on pages.
struct Layout {
    pages: Vec<Vec<Line>>,
    y: f32,
}

impl Layout {
    /// `text` wrapped into `width` at `x`, from the current height down.
    fn lines(&mut self, text: &str, x: f32, width: f32, look: &Look) {
        for line in wrap(text, look.size, width) {
            let height = look.size * 1.3;
            if self.y + height > PAGE_H - MARGIN {
                self.pages.push(Vec::new());
                self.y = MARGIN;
            }
            self.y += height;
            let page = self.pages.last_mut().expect("a page is open");
            page.push(Line {
                x,
                baseline: self.y - look.size * 0.28,
                size: look.size,
                bold: look.bold,
                color: look.color,
                text: line,
            });
        }
    }
}

struct Look {
    size: f32,
    bold: bool,
    color: (u8, u8, u8),
    indent: f32,
    space_before: f32,
}

fn look(style: Style) -> Look {
    let ink = (0x1b, 0x1f, 0x24);
    match style {
        Style::Title => Look { size: 15.0, bold: true, color: ink, indent: 0.0, space_before: 0.0 },
        Style::Verdict => Look { size: 21.0, bold: true, color: (0x0b, 0x6b, 0x2f), indent: 0.0, space_before: 10.0 },
        Style::Headline => Look { size: 9.0, bold: false, color: (0x0b, 0x6b, 0x2f), indent: 0.0, space_before: 2.0 },
        Style::Heading => Look { size: 10.0, bold: true, color: ink, indent: 0.0, space_before: 12.0 },
        Style::Label => Look { size: 7.5, bold: true, color: (0x2e, 0x35, 0x3d), indent: 0.0, space_before: 4.5 },
        Style::Value => Look { size: 7.5, bold: false, color: ink, indent: 0.0, space_before: 0.0 },
        Style::Warning => Look { size: 7.5, bold: true, color: (0xa8, 0x15, 0x1b), indent: 0.0, space_before: 0.0 },
        Style::Body => Look { size: 7.0, bold: false, color: ink, indent: 0.0, space_before: 3.0 },
    }
}

/// An estimate of a character's advance in ems, generous so that lines never overrun:
/// CJK and full-width forms take one em, other characters well under.
fn advance(c: char) -> f32 {
    match c as u32 {
        0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 => {
            1.0
        }
        _ if c.is_ascii_uppercase() => 0.66,
        _ => 0.56,
    }
}

/// `text` cut into lines of at most `width` points at `size`: at its own line breaks,
/// then at spaces where one falls in the line's last third, else anywhere (hashes).
/// Nothing is dropped: the pieces joined give the text back, line breaks aside.
pub fn wrap(text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let chars: Vec<char> = paragraph.chars().collect();
        let mut start = 0;
        while start < chars.len() {
            let mut used = 0.0;
            let mut end = start;
            while end < chars.len() && used + advance(chars[end]) * size <= width {
                used += advance(chars[end]) * size;
                end += 1;
            }
            if end < chars.len() {
                let floor = start + (end - start) * 2 / 3;
                if let Some(space) = (floor..end).rev().find(|&i| chars[i] == ' ') {
                    end = space + 1;
                }
            }
            // At least one character per line, so that a line always moves on.
            let end = end.max(start + 1);
            lines.push(chars[start..end].iter().collect());
            start = end;
        }
        if chars.is_empty() {
            lines.push(String::new());
        }
    }
    lines
}

fn fill(color: (u8, u8, u8)) -> Fill {
    Fill {
        paint: rgb::Color::new(color.0, color.1, color.2).into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }
}

/// The civil date and time of `ms` (UTC) for the PDF's metadata.
fn date_time(ms: u64) -> DateTime {
    let text = crate::time::utc(ms); // YYYY-MM-DDTHH:MM:SS.mmmZ
    let number = |range: std::ops::Range<usize>| text.get(range).and_then(|s| s.parse::<u16>().ok()).unwrap_or(0);
    DateTime::new(number(0..4))
        .month(number(5..7) as u8)
        .day(number(8..10) as u8)
        .hour(number(11..13) as u8)
        .minute(number(14..16) as u8)
        .second(number(17..19) as u8)
        .utc_offset_hour(0)
        .utc_offset_minute(0)
}

fn draw_qr(surface: &mut Surface<'_>, payload: &str, x: f32, y: f32) -> Result<(), WriteError> {
    let code = qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| WriteError::Qr { reason: e.to_string() })?;
    let width = code.width();
    // A quiet zone of four modules on every side.
    let module = QR_SIZE / (width + 8) as f32;
    let mut path = PathBuilder::new();
    for (i, dark) in code.to_colors().iter().enumerate() {
        if *dark == qrcode::Color::Dark {
            let (col, row) = ((i % width) as f32, (i / width) as f32);
            let rect = Rect::from_xywh(x + (col + 4.0) * module, y + (row + 4.0) * module, module, module);
            path.push_rect(rect.ok_or(WriteError::Qr { reason: "a module has no area".into() })?);
        }
    }
    let path = path.finish().ok_or(WriteError::Qr { reason: "the code has no dark module".into() })?;
    surface.set_fill(Some(fill((0, 0, 0))));
    surface.draw_path(&path);
    Ok(())
}

/// The report as PDF/A-3u bytes.
pub fn write(input: &ReportInput<'_>) -> Result<Vec<u8>, WriteError> {
    let regular = Font::new(input.regular.clone().into(), input.face).ok_or(WriteError::Font { face: input.face })?;
    let bold = Font::new(input.bold.clone().into(), input.face).ok_or(WriteError::Font { face: input.face })?;
    let configuration = ConfigurationBuilder::new()
        .with_archival_validator(Archival::A3_U)
        .with_version(PdfVersion::Pdf17)
        .finish()
        .map_err(|e| WriteError::Pdf { reason: format!("{e:?}") })?;
    let mut document = Document::new_with(SerializeSettings { configuration, ..Default::default() });
    let made = date_time(input.made_ms);
    document.set_metadata(
        Metadata::new()
            .title(input.title.to_string())
            .language("zh-CN".to_string())
            .creator("Chancery".to_string())
            .producer(format!("chancery {}", env!("CARGO_PKG_VERSION")))
            .creation_date(made),
    );
    let attachments = [
        (
            ATTACHED_PROOF,
            "application/json",
            "The proof bundle this report was made from",
            AssociationKind::Source,
            input.proof_json,
        ),
        (
            ATTACHED_GENESIS,
            "application/json",
            "The genesis file the proof was checked against",
            AssociationKind::Supplement,
            input.genesis_json,
        ),
        (
            ATTACHED_GUIDE,
            "text/plain",
            "How to check this report independently",
            AssociationKind::Supplement,
            input.guide,
        ),
    ];
    for (name, mime, description, association_kind, text) in attachments {
        document.embed_file(EmbeddedFile {
            path: name.to_string(),
            mime_type: MimeType::new(mime),
            description: Some(description.to_string()),
            association_kind,
            data: text.as_bytes().to_vec().into(),
            modification_date: Some(made),
            compress: Some(true),
            location: None,
        });
    }

    // Blocks laid out top-down, a fact's label in the left column and its values beside
    // it; a new page when the next line would not fit.
    let mut layout = Layout { pages: vec![Vec::new()], y: MARGIN };
    let full_width = PAGE_W - 2.0 * MARGIN;
    let value_x = MARGIN + LABEL_WIDTH + 10.0;
    let value_width = PAGE_W - MARGIN - value_x;
    // Where the current fact's values go next, and where its label ends.
    let mut row: Option<(f32, f32)> = None;
    for (i, block) in input.blocks.iter().enumerate() {
        let look = look(block.style);
        match block.style {
            Style::Label => {
                if let Some((values_end, label_end)) = row.take() {
                    layout.y = values_end.max(label_end);
                }
                layout.y += look.space_before;
                let (top, page_before) = (layout.y, layout.pages.len());
                layout.lines(&block.text, MARGIN, LABEL_WIDTH, &look);
                // A label moved to a new page takes its values with it.
                let top = if layout.pages.len() > page_before { MARGIN } else { top };
                row = Some((top, layout.y));
            }
            Style::Value | Style::Warning if row.is_some() => {
                let (values_end, label_end) = row.expect("a row is open");
                let label_page = layout.pages.len();
                layout.y = values_end + look.space_before;
                layout.lines(&block.text, value_x, value_width, &look);
                let label_end = if layout.pages.len() > label_page { MARGIN } else { label_end };
                row = Some((layout.y, label_end));
            }
            _ => {
                if let Some((values_end, label_end)) = row.take() {
                    layout.y = values_end.max(label_end);
                }
                // The title, verdict and headline stand left of the QR code.
                let width = if i < 4 { full_width - QR_SIZE - 12.0 } else { full_width } - look.indent;
                layout.y += look.space_before;
                layout.lines(&block.text, MARGIN + look.indent, width, &look);
            }
        }
    }
    let pages = layout.pages;
    for (index, lines) in pages.iter().enumerate() {
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H).ok_or(WriteError::Pdf { reason: "A4 page".into() })?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        if index == 0 {
            draw_qr(&mut surface, input.qr, PAGE_W - MARGIN - QR_SIZE, MARGIN - 12.0)?;
        }
        for Line { x, baseline, size, bold: is_bold, color, text } in lines {
            if text.trim().is_empty() {
                continue;
            }
            surface.set_fill(Some(fill(*color)));
            let font = if *is_bold { bold.clone() } else { regular.clone() };
            surface.draw_text(Point::from_xy(*x, *baseline), font, *size, text, false, TextDirection::Auto);
        }
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|e| WriteError::Pdf { reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrapping_keeps_every_character_and_fits_the_width() {
        let text = "hash 43335c867690df9d1e30849a322d6f36e65acd1ed3474a6c60a3daddb8a39584 and 区块时间（经法定多数见证）\nnext";
        let lines = wrap(text, 8.5, 120.0);
        assert!(lines.len() > 3, "{lines:?}");
        assert_eq!(lines.concat(), text.replace('\n', ""));
        for line in &lines {
            let width: f32 = line.chars().map(|c| super::advance(c) * 8.5).sum();
            assert!(width <= 120.0 || line.chars().count() == 1, "{line:?} is {width} wide");
        }
        assert_eq!(wrap("", 8.0, 100.0), vec![String::new()]);
        assert_eq!(wrap("x", 8.0, 1.0), vec!["x".to_string()], "a character wider than the line still moves on");
    }
}

//! Reading an evidence report back: the files attached to it (the proof, the genesis
//! file, the guide) and the text its pages print, as a verifier needs them to check the
//! report against the proof it carries.
//!
//! A report comes from outside: everything is bounded (the file, each stream inflated,
//! the pages, the name tree, the character maps), streams are inflated here with a
//! limit rather than by the parser, and any stream encoding other than the one reports
//! are written with (Flate, no predictor) is refused. A report with annotations or
//! drawn objects (form XObjects) is refused too: those could lay other text over the
//! printed facts.

use std::collections::HashMap;

use hayro_syntax::object::{Array, Dict, Object, Stream};
use hayro_syntax::Pdf;

use crate::report::{ATTACHED_GENESIS, ATTACHED_GUIDE, ATTACHED_PROOF};

/// Largest report read.
pub const PDF_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Largest stream once inflated (an attachment, a page's content, a character map).
pub const STREAM_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Most bytes inflated over the whole report.
pub const INFLATED_BYTES_MAX: usize = 32 * 1024 * 1024;
/// Most pages read.
pub const PAGES_MAX: usize = 64;
/// Deepest embedded-files name tree, and most entries in it.
pub const NAME_TREE_DEPTH_MAX: usize = 8;
/// See [`NAME_TREE_DEPTH_MAX`].
pub const ATTACHMENTS_MAX: usize = 64;
/// Most entries in one character map.
pub const CMAP_ENTRIES_MAX: usize = 65_536;

/// Why a report cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// Larger than [`PDF_BYTES_MAX`].
    TooLarge {
        /// Its size.
        bytes: usize,
    },
    /// Not a PDF file, or one the parser cannot make sense of.
    NotPdf,
    /// Encrypted.
    Encrypted,
    /// A file the report must carry is not attached.
    MissingAttachment {
        /// Its name.
        name: &'static str,
    },
    /// An attachment that must be text is not UTF-8.
    NotText {
        /// Its name.
        name: &'static str,
    },
    /// A part of the report is not what the writer makes.
    Unsupported {
        /// What, in words.
        what: String,
    },
    /// A stream does not inflate within the bounds.
    Stream {
        /// Which.
        what: String,
        /// Why.
        reason: String,
    },
    /// Printed text the verifier cannot map back to characters.
    UnmappedGlyph {
        /// The page, from 1.
        page: usize,
    },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::TooLarge { bytes } => {
                write!(f, "the PDF is {bytes} bytes, above the {PDF_BYTES_MAX} bytes a report may have")
            }
            ReadError::NotPdf => write!(f, "the file is not a readable PDF"),
            ReadError::Encrypted => write!(f, "the PDF is encrypted; reports never are"),
            ReadError::MissingAttachment { name } => {
                write!(f, "the PDF carries no attached {name}: it is not a Chancery evidence report, or was stripped")
            }
            ReadError::NotText { name } => write!(f, "the attached {name} is not UTF-8 text"),
            ReadError::Unsupported { what } => write!(f, "{what}"),
            ReadError::Stream { what, reason } => write!(f, "{what} does not decode: {reason}"),
            ReadError::UnmappedGlyph { page } => {
                write!(f, "page {page} prints text that maps to no characters, so it cannot be checked")
            }
        }
    }
}

impl std::error::Error for ReadError {}

/// What a report holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadReport {
    /// The attached proof bundle's JSON.
    pub proof_json: String,
    /// The attached genesis file.
    pub genesis_json: String,
    /// The attached verification guide.
    pub guide: String,
    /// The text the pages print, every character but white space, in order.
    pub printed: String,
    /// Its pages.
    pub pages: usize,
}

/// Inflates streams within the report's budget.
struct Inflater {
    left: usize,
}

impl Inflater {
    fn decode(&mut self, stream: &Stream<'_>, what: &str) -> Result<Vec<u8>, ReadError> {
        let dict = stream.dict();
        if dict.contains_key(b"DecodeParms") || dict.contains_key(b"F") || dict.contains_key(b"FFilter") {
            return Err(ReadError::Unsupported { what: format!("{what} uses stream parameters reports never use") });
        }
        let filters = stream.filters();
        let raw = stream.raw_data();
        let out = match filters.as_slice() {
            [] => raw.to_vec(),
            [hayro_syntax::Filter::FlateDecode] => {
                let limit = STREAM_BYTES_MAX.min(self.left);
                miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&raw, limit).map_err(|e| ReadError::Stream {
                    what: what.to_string(),
                    reason: format!("{:?} (inflated streams are limited to {limit} bytes)", e.status),
                })?
            }
            _ => return Err(ReadError::Unsupported { what: format!("{what} uses an encoding reports never use") }),
        };
        if out.len() > STREAM_BYTES_MAX.min(self.left) {
            return Err(ReadError::Stream {
                what: what.to_string(),
                reason: "larger than a report's streams may be".into(),
            });
        }
        self.left -= out.len();
        Ok(out)
    }
}

/// The (name, file specification) pairs of an embedded-files name tree.
fn name_tree<'a>(node: &Dict<'a>, depth: usize, out: &mut Vec<(Vec<u8>, Dict<'a>)>) -> Result<(), ReadError> {
    if depth > NAME_TREE_DEPTH_MAX {
        return Err(ReadError::Unsupported { what: "the attachments' name tree is deeper than a report's".into() });
    }
    if let Some(names) = node.get::<Array<'_>>(b"Names") {
        let mut items = names.iter::<Object<'_>>();
        while let (Some(key), Some(value)) = (items.next(), items.next()) {
            if let (Object::String(key), Object::Dict(spec)) = (key, value) {
                out.push((key.as_bytes().to_vec(), spec));
            }
            if out.len() > ATTACHMENTS_MAX {
                return Err(ReadError::Unsupported { what: "the PDF has more attachments than a report".into() });
            }
        }
    }
    if let Some(kids) = node.get::<Array<'_>>(b"Kids") {
        for kid in kids.iter::<Dict<'_>>() {
            name_tree(&kid, depth + 1, out)?;
        }
    }
    Ok(())
}

/// The character map of a ToUnicode stream: 2-byte codes to text.
pub fn parse_cmap(text: &[u8]) -> Result<HashMap<u16, String>, ReadError> {
    let bad = |why: &str| ReadError::Unsupported { what: format!("a font's character map is malformed: {why}") };
    // Tokens: hex strings, brackets and words.
    let mut tokens: Vec<&[u8]> = Vec::new();
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'<' => {
                let end = text[i..].iter().position(|b| *b == b'>').ok_or_else(|| bad("an open hex string"))? + i;
                tokens.push(&text[i..=end]);
                i = end + 1;
            }
            b'[' | b']' => {
                tokens.push(&text[i..=i]);
                i += 1;
            }
            b'%' => {
                while i < text.len() && text[i] != b'\n' && text[i] != b'\r' {
                    i += 1;
                }
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                let start = i;
                while i < text.len() && !text[i].is_ascii_whitespace() && !b"<[]%".contains(&text[i]) {
                    i += 1;
                }
                tokens.push(&text[start..i]);
            }
        }
    }
    let hex = |token: &[u8]| -> Result<Vec<u8>, ReadError> {
        let inner =
            token.strip_prefix(b"<").and_then(|t| t.strip_suffix(b">")).ok_or_else(|| bad("a hex string expected"))?;
        let digits: Vec<u8> = inner.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
        hex::decode(digits).map_err(|_| bad("a bad hex string"))
    };
    let code = |token: &[u8]| -> Result<u16, ReadError> {
        match hex(token)?.as_slice() {
            [a, b] => Ok(u16::from_be_bytes([*a, *b])),
            _ => Err(bad("codes are two bytes in reports")),
        }
    };
    let unicode = |bytes: &[u8]| -> Result<String, ReadError> {
        if !bytes.len().is_multiple_of(2) {
            return Err(bad("UTF-16 text of odd length"));
        }
        let units = bytes.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]));
        char::decode_utf16(units).collect::<Result<String, _>>().map_err(|_| bad("invalid UTF-16"))
    };
    let mut map = HashMap::new();
    let mut at = 0;
    while at < tokens.len() {
        match tokens[at] {
            b"beginbfchar" => {
                at += 1;
                while at < tokens.len() && tokens[at] != b"endbfchar" {
                    let (src, dst) = (tokens[at], tokens.get(at + 1).ok_or_else(|| bad("a cut bfchar"))?);
                    map.insert(code(src)?, unicode(&hex(dst)?)?);
                    at += 2;
                }
            }
            b"beginbfrange" => {
                at += 1;
                while at < tokens.len() && tokens[at] != b"endbfrange" {
                    let lo = code(tokens[at])?;
                    let hi = code(tokens.get(at + 1).ok_or_else(|| bad("a cut bfrange"))?)?;
                    if hi < lo {
                        return Err(bad("a range ends before it starts"));
                    }
                    at += 2;
                    if tokens.get(at) == Some(&&b"["[..]) {
                        at += 1;
                        for c in lo..=hi {
                            let dst =
                                tokens.get(at).filter(|t| **t != b"]").ok_or_else(|| bad("a short range list"))?;
                            map.insert(c, unicode(&hex(dst)?)?);
                            at += 1;
                        }
                        if tokens.get(at) != Some(&&b"]"[..]) {
                            return Err(bad("a long range list"));
                        }
                        at += 1;
                    } else {
                        let mut first = hex(tokens.get(at).ok_or_else(|| bad("a cut bfrange"))?)?;
                        at += 1;
                        for c in lo..=hi {
                            map.insert(c, unicode(&first)?);
                            // The next code maps to the next character: the last byte counts up.
                            if let Some(last) = first.last_mut() {
                                *last = last.wrapping_add(1);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        if map.len() > CMAP_ENTRIES_MAX {
            return Err(bad("more entries than a font has glyphs"));
        }
        at += 1;
    }
    Ok(map)
}

/// The text of one page's content: each shown string through its font's map, or the
/// marked content's `/ActualText` where the writer gave one.
fn page_text(content: &[u8], maps: &HashMap<Vec<u8>, HashMap<u16, String>>, page: usize) -> Result<String, ReadError> {
    let mut out = String::new();
    let mut font: Option<&HashMap<u16, String>> = None;
    // Marked-content depth, and the depth at which an ActualText replaces the glyphs.
    let mut depth = 0usize;
    let mut replaced_at: Option<usize> = None;
    let show = |bytes: &[u8], font: Option<&HashMap<u16, String>>, out: &mut String, replaced: bool| {
        if replaced {
            return Ok(());
        }
        let map = font.ok_or(ReadError::UnmappedGlyph { page })?;
        if !bytes.len().is_multiple_of(2) {
            return Err(ReadError::UnmappedGlyph { page });
        }
        for pair in bytes.chunks_exact(2) {
            let text = map.get(&u16::from_be_bytes([pair[0], pair[1]])).ok_or(ReadError::UnmappedGlyph { page })?;
            out.push_str(text);
        }
        Ok(())
    };
    let mut ops = hayro_syntax::content::UntypedIter::new(content);
    while let Some(op) = ops.next() {
        let operands: Vec<&Object<'_>> = op.operands().collect();
        match &**op.operator {
            b"Tf" => {
                let Some(Object::Name(name)) = operands.first() else {
                    return Err(ReadError::Unsupported { what: format!("page {page} selects a font without a name") });
                };
                font = Some(maps.get(&name.to_vec()).ok_or(ReadError::UnmappedGlyph { page })?);
            }
            b"Tj" | b"'" | b"\"" => {
                if let Some(Object::String(s)) = operands.last() {
                    show(s.as_bytes(), font, &mut out, replaced_at.is_some())?;
                }
            }
            b"TJ" => {
                if let Some(Object::Array(items)) = operands.first() {
                    for item in items.iter::<Object<'_>>() {
                        if let Object::String(s) = item {
                            show(s.as_bytes(), font, &mut out, replaced_at.is_some())?;
                        }
                    }
                }
            }
            b"BMC" => depth += 1,
            b"BDC" => {
                depth += 1;
                let actual = match operands.get(1) {
                    Some(Object::Dict(properties)) => properties.get::<hayro_syntax::object::String<'_>>(b"ActualText"),
                    _ => None,
                };
                if let (Some(actual), None) = (actual, replaced_at) {
                    let bytes = actual.as_bytes();
                    let text = match bytes.strip_prefix(&[0xfe, 0xff]) {
                        Some(utf16) if utf16.len().is_multiple_of(2) => {
                            char::decode_utf16(utf16.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])))
                                .collect::<Result<String, _>>()
                                .map_err(|_| ReadError::UnmappedGlyph { page })?
                        }
                        _ => String::from_utf8(bytes.to_vec()).map_err(|_| ReadError::UnmappedGlyph { page })?,
                    };
                    out.push_str(&text);
                    replaced_at = Some(depth);
                }
            }
            b"EMC" => {
                if replaced_at == Some(depth) {
                    replaced_at = None;
                }
                depth = depth.saturating_sub(1);
            }
            b"Do" => {
                return Err(ReadError::Unsupported {
                    what: format!("page {page} draws an embedded object, which reports never do: something was added"),
                })
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The content streams of a page.
fn contents<'a>(page: &Dict<'a>) -> Vec<Stream<'a>> {
    if let Some(stream) = page.get::<Stream<'_>>(b"Contents") {
        return vec![stream];
    }
    page.get::<Array<'_>>(b"Contents").map(|a| a.iter::<Stream<'_>>().collect()).unwrap_or_default()
}

/// Reads a report: its attachments and printed text.
pub fn read(bytes: &[u8]) -> Result<ReadReport, ReadError> {
    if bytes.len() > PDF_BYTES_MAX {
        return Err(ReadError::TooLarge { bytes: bytes.len() });
    }
    if !bytes.starts_with(b"%PDF-") {
        return Err(ReadError::NotPdf);
    }
    refuse_what_reports_never_hold(bytes)?;
    // The parser is meant to survive malformed files; if it does not, the file is
    // refused rather than the verifier stopped (natively; in WebAssembly a panic aborts,
    // which the page catches and reports).
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(bytes)))
        .unwrap_or_else(|_| Err(ReadError::Unsupported { what: "the PDF is malformed".into() }))
}

/// What a report never holds, refused before the parser sees it: the parser decodes
/// object and cross-reference streams itself, without the bounds this module keeps, so
/// a file that has them (reports are written with a plain cross-reference table) or any
/// stream predictor is not parsed at all. Names are checked too, since `#xx` escapes
/// could spell these words otherwise.
fn refuse_what_reports_never_hold(bytes: &[u8]) -> Result<(), ReadError> {
    for part in outside_streams(bytes) {
        for word in [&b"ObjStm"[..], b"XRef", b"Predictor", b"DecodeParms", b"Encrypt"] {
            if part.windows(word.len()).any(|w| w == word) {
                let word = String::from_utf8_lossy(word);
                return Err(ReadError::Unsupported { what: format!("the PDF uses {word}, which reports never do") });
            }
        }
        // The only escaped names a report has: its attachments' MIME types.
        const ESCAPED: [&[u8]; 2] = [b"/application#2Fjson", b"/text#2Fplain"];
        let regular = |b: &u8| !b.is_ascii_whitespace() && !b"()<>[]{}/%".contains(b);
        for at in (0..part.len()).filter(|i| part[*i] == b'#') {
            let escape = part.get(at + 1..at + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            // The token around the `#`: a name when a `/` starts it.
            let start = part[..at].iter().rposition(|b| !regular(b)).map_or(0, |s| s + 1);
            let end = part[at..].iter().position(|b| !regular(b)).map_or(part.len(), |e| at + e);
            let is_name = start > 0 && part[start - 1] == b'/';
            let name = &part[start.saturating_sub(1)..end];
            if escape && is_name && !ESCAPED.iter().any(|known| known.eq_ignore_ascii_case(name)) {
                return Err(ReadError::Unsupported {
                    what: "the PDF uses escaped names, which reports never do".into(),
                });
            }
        }
    }
    Ok(())
}

/// The parts of a PDF's bytes outside its streams' data (where binary data could hold
/// any word by chance).
fn outside_streams(bytes: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = bytes;
    while let Some(at) = rest.windows(6).position(|w| w == b"stream") {
        // `stream` followed by an end of line starts data; `endstream` does not.
        let starts_data = rest[at + 6..].starts_with(b"\n") || rest[at + 6..].starts_with(b"\r\n");
        let is_end = at >= 3 && &rest[at - 3..at] == b"end";
        if !starts_data || is_end {
            parts.push(&rest[..at + 6]);
            rest = &rest[at + 6..];
            continue;
        }
        parts.push(&rest[..at]);
        match rest[at..].windows(9).position(|w| w == b"endstream") {
            Some(end) => rest = &rest[at + end + 9..],
            None => return parts,
        }
    }
    parts.push(rest);
    parts
}

fn parse(bytes: &[u8]) -> Result<ReadReport, ReadError> {
    let pdf = Pdf::new(bytes.to_vec()).map_err(|e| match e {
        hayro_syntax::LoadPdfError::Decryption(_) => ReadError::Encrypted,
        _ => ReadError::NotPdf,
    })?;
    let xref = pdf.xref();
    let catalog: Dict<'_> = xref.get(xref.root_id()).ok_or(ReadError::NotPdf)?;
    let mut inflater = Inflater { left: INFLATED_BYTES_MAX };

    let mut specs = Vec::new();
    if let Some(tree) = catalog.get::<Dict<'_>>(b"Names").and_then(|n| n.get::<Dict<'_>>(b"EmbeddedFiles")) {
        name_tree(&tree, 0, &mut specs)?;
    }
    let mut attached = |name: &'static str| -> Result<String, ReadError> {
        let (_, spec) = specs
            .iter()
            .find(|(key, _)| key.as_slice() == name.as_bytes())
            .ok_or(ReadError::MissingAttachment { name })?;
        let stream = spec
            .get::<Dict<'_>>(b"EF")
            .and_then(|ef| ef.get::<Stream<'_>>(b"F").or_else(|| ef.get::<Stream<'_>>(b"UF")))
            .ok_or(ReadError::MissingAttachment { name })?;
        let bytes = inflater.decode(&stream, &format!("the attached {name}"))?;
        String::from_utf8(bytes).map_err(|_| ReadError::NotText { name })
    };
    let proof_json = attached(ATTACHED_PROOF)?;
    let genesis_json = attached(ATTACHED_GENESIS)?;
    let guide = attached(ATTACHED_GUIDE)?;

    let pages = pdf.pages();
    if pages.len() > PAGES_MAX {
        return Err(ReadError::Unsupported { what: format!("the PDF has {} pages, more than a report", pages.len()) });
    }
    let mut printed = String::new();
    for (index, page) in pages.iter().enumerate() {
        let number = index + 1;
        let raw = page.raw();
        if raw.get::<Array<'_>>(b"Annots").is_some_and(|a| a.raw_iter().next().is_some()) {
            return Err(ReadError::Unsupported {
                what: format!("page {number} carries annotations, which reports never do: something was laid over it"),
            });
        }
        let mut maps = HashMap::new();
        let fonts = &page.resources().fonts;
        for name in fonts.keys() {
            let Some(font) = fonts.get::<Dict<'_>>(&name) else { continue };
            let Some(cmap) = font.get::<Stream<'_>>(b"ToUnicode") else { continue };
            let text = inflater.decode(&cmap, &format!("a font's character map on page {number}"))?;
            maps.insert(name.to_vec(), parse_cmap(&text)?);
        }
        let mut content = Vec::new();
        for stream in contents(raw) {
            content.extend(inflater.decode(&stream, &format!("the content of page {number}"))?);
            content.push(b'\n');
        }
        let text = page_text(&content, &maps, number)?;
        printed.extend(text.chars().filter(|c| !c.is_whitespace()));
    }
    Ok(ReadReport { proof_json, genesis_json, guide, printed, pages: pages.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn character_maps_read_chars_and_ranges_and_refuse_malformed_ones() {
        let cmap = b"/CIDInit /ProcSet findresource begin\n2 beginbfchar\n<0001> <0041>\n<0002> <00660069>\nendbfchar\n1 beginbfrange\n<0010> <0012> <4E00>\nendbfrange\n1 beginbfrange\n<0020> <0021> [<0030> <D83DDE00>]\nendbfrange\nend";
        let map = parse_cmap(cmap).expect("parses");
        assert_eq!(map[&1], "A");
        assert_eq!(map[&2], "fi");
        assert_eq!(map[&0x12], "\u{4E02}");
        assert_eq!(map[&0x21], "\u{1F600}");
        for bad in [
            &b"1 beginbfchar <0001> <00"[..],
            b"1 beginbfchar <01> <0041> endbfchar",
            b"1 beginbfrange <0005> <0001> <0041> endbfrange",
            b"1 beginbfchar <0001> <D800> endbfchar",
        ] {
            assert!(parse_cmap(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn what_is_not_a_report_is_refused_by_name() {
        assert_eq!(read(b"not a pdf"), Err(ReadError::NotPdf));
        assert_eq!(read(b"%PDF-1.7\n%garbage"), Err(ReadError::NotPdf));
        assert!(matches!(read(&vec![b' '; PDF_BYTES_MAX + 1]), Err(ReadError::TooLarge { .. })));
    }
}

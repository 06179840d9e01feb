//! The archival report's text: what its pages print, block by block, made from a verified
//! proof alone. The PDF writer lays these blocks out; the PDF reader extracts the printed
//! text and compares it with the blocks made again from the proof the PDF carries, so a
//! report whose visible text was edited is reported.

use chancery_ledger::verify::{Record, Report};

use crate::facts::{bundle_facts, bundle_headline, Text};

/// How a block is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// The report's title.
    Title,
    /// The verdict, large.
    Verdict,
    /// The line under the verdict.
    Headline,
    /// A section heading.
    Heading,
    /// A fact's label.
    Label,
    /// A fact's value.
    Value,
    /// A value the reader must not miss.
    Warning,
    /// Running text.
    Body,
}

/// One block of text, wrapped by the writer as the page needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// How it is printed.
    pub style: Style,
    /// What it says.
    pub text: String,
}

fn block(style: Style, text: impl Into<String>) -> Block {
    Block { style, text: text.into() }
}

/// The names of the files attached to the report, in order.
pub const ATTACHED_PROOF: &str = "proof.json";
/// See [`ATTACHED_PROOF`].
pub const ATTACHED_GENESIS: &str = "genesis.json";
/// See [`ATTACHED_PROOF`].
pub const ATTACHED_GUIDE: &str = "verification-guide.txt";

/// What the report's QR code carries: the tx and, for evidence, the anchored digest.
pub fn qr_payload(report: &Report) -> String {
    match &report.record {
        Record::Evidence { digest, .. } => format!("chancery:tx={};digest={}", report.tx_hash, digest.to_text()),
        _ => format!("chancery:tx={}", report.tx_hash),
    }
}

/// How to check the report without trusting it, in both languages: printed on the report
/// and attached to it as a plain-text file.
pub fn guide() -> Text {
    Text::new(
        "1. Take the chain's genesis file from the court's own records, not from this report, and compare its hash with the genesis hash printed here.\n\
         2. Open the Chancery verification page (written by `chancery verify-page`, or served at /verify by any node) and drop in this PDF, the genesis file and the document; or run `chancery verify report.pdf --genesis genesis.json --file DOCUMENT`.\n\
         3. The verifier reads the proof attached to this PDF, checks it against the genesis file (the record's path to its block, the signatures of more than two thirds of the validators' power, every validator-set change back to the genesis) and checks that the text printed here is what the proof proves.\n\
         4. Without Chancery's software: the attached proof.json and genesis.json are enough, with the proof format in PROOF_FORMAT.md.",
        "1. 请从法院自己的档案中取得该链的创世文件（不要使用本报告所附的文件），并将其哈希与本报告所印的创世文件哈希进行比对。\n\
         2. 打开 Chancery 核验页面（由 `chancery verify-page` 生成，或由任一节点在 /verify 提供），放入本 PDF、创世文件和原始文件；或运行 `chancery verify report.pdf --genesis genesis.json --file 原始文件`。\n\
         3. 核验程序读取本 PDF 所附的证明，依据创世文件进行核验（记录到区块的路径、超过三分之二投票权的验证节点签名、自创世起的每一次验证人集合变更），并核对本报告所印文字是否与证明所证明的内容一致。\n\
         4. 不使用 Chancery 软件时：所附的 proof.json 与 genesis.json 已足够，证明格式见 PROOF_FORMAT.md。",
    )
}

/// The report's blocks, in reading order, for a verified proof bundle.
pub fn blocks(report: &Report) -> Vec<Block> {
    let mut out = vec![
        block(Style::Title, "Chancery evidence report · Chancery 证据报告"),
        block(Style::Verdict, "VERIFIED · 已验证"),
    ];
    let headline = bundle_headline(report);
    out.push(block(Style::Headline, headline.en));
    out.push(block(Style::Headline, headline.zh));
    for fact in bundle_facts(report) {
        out.push(block(Style::Label, format!("{} · {}", fact.label.en, fact.label.zh)));
        let style = if fact.warning { Style::Warning } else { Style::Value };
        let same = fact.value.en == fact.value.zh;
        out.push(block(style, fact.value.en));
        if !same {
            out.push(block(style, fact.value.zh));
        }
    }
    out.push(block(Style::Heading, "How to check this report independently · 如何独立核验本报告"));
    let guide = guide();
    out.push(block(Style::Body, guide.en));
    out.push(block(Style::Body, guide.zh));
    out.push(block(
        Style::Body,
        format!(
            "Attached to this PDF: {ATTACHED_PROOF} (the proof), {ATTACHED_GENESIS} (the genesis file it was checked against), {ATTACHED_GUIDE}. QR code: the transaction and the anchored digest."
        ),
    ));
    out.push(block(
        Style::Body,
        format!("本 PDF 附有：{ATTACHED_PROOF}（证明）、{ATTACHED_GENESIS}（核验所依据的创世文件）、{ATTACHED_GUIDE}。二维码：交易哈希与锚定的摘要。"),
    ));
    out
}

/// The printed text the blocks make, as compared when a report is read back: every
/// character but white space, in order (a writer may break lines anywhere, and readers
/// differ in the spaces they see at line ends).
pub fn printed(blocks: &[Block]) -> String {
    blocks.iter().flat_map(|b| b.text.chars()).filter(|c| !c.is_whitespace()).collect()
}

/// Why a PDF report does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PdfCheckError {
    /// The PDF cannot be read as a report.
    Read(crate::pdf_read::ReadError),
    /// The genesis attached to the report is not the one given.
    OtherGenesis {
        /// The attached genesis file's hash.
        attached: chancery_ledger::Hash,
        /// The given one's.
        given: chancery_ledger::Hash,
    },
    /// The attached genesis file does not parse.
    AttachedGenesis {
        /// Why.
        reason: String,
    },
    /// The attached proof does not verify.
    Proof(chancery_ledger::verify::VerifyError),
    /// The printed text is not what the proof proves.
    TextEdited {
        /// Where the texts part, in characters (white space aside).
        at: usize,
        /// The printed text from there.
        printed: String,
        /// The proven text from there.
        proven: String,
    },
}

impl PdfCheckError {
    /// In plain words, in both languages.
    pub fn text(&self) -> Text {
        match self {
            PdfCheckError::Read(e) => Text::new(
                format!("the PDF cannot be read as a Chancery evidence report: {e}"),
                format!("无法将该 PDF 作为 Chancery 证据报告读取：{e}"),
            ),
            PdfCheckError::OtherGenesis { attached, given } => Text::new(
                format!("the genesis file attached to the report ({attached}) is not the genesis file given ({given})"),
                format!("报告所附的创世文件（{attached}）与所提供的创世文件（{given}）不同"),
            ),
            PdfCheckError::AttachedGenesis { reason } => Text::new(
                format!("the genesis file attached to the report is not valid: {reason}"),
                format!("报告所附的创世文件无效：{reason}"),
            ),
            PdfCheckError::Proof(e) => crate::facts::failure_text(e),
            PdfCheckError::TextEdited { at, printed, proven } => Text::new(
                format!("the text printed on the report is not what its attached proof proves: it was changed after the report was made (from character {at}: printed \"{printed}\", the proof gives \"{proven}\")"),
                format!("报告上印的文字与所附证明所证明的内容不一致：报告生成后被改动过（自第 {at} 个字符起：印的是“{printed}”，证明给出的是“{proven}”）"),
            ),
        }
    }
}

impl std::fmt::Display for PdfCheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text().en)
    }
}

impl std::error::Error for PdfCheckError {}

/// A PDF report that verified: what its proof proves, and what was read from it.
#[derive(Debug, Clone)]
pub struct CheckedPdf {
    /// The verifier's report (with the document, when one was given).
    pub report: Report,
    /// The report's attachments and printed text.
    pub read: crate::pdf_read::ReadReport,
}

/// Checks a PDF report against `genesis` (the one the court holds): its attached proof
/// verifies, its attached genesis is that genesis, the document (if given) is the
/// anchored one, and the text its pages print is the text this proof makes.
pub fn check_pdf(
    pdf: &[u8],
    genesis: &chancery_genesis::Genesis,
    document: Option<&[u8]>,
) -> Result<CheckedPdf, PdfCheckError> {
    let read = crate::pdf_read::read(pdf).map_err(PdfCheckError::Read)?;
    let attached = chancery_genesis::Genesis::from_json(&read.genesis_json)
        .map_err(|e| PdfCheckError::AttachedGenesis { reason: e.to_string() })?;
    if attached.hash() != genesis.hash() {
        return Err(PdfCheckError::OtherGenesis { attached: attached.hash(), given: genesis.hash() });
    }
    let bundle =
        chancery_ledger::ProofBundle::from_json(&read.proof_json).map_err(|e| PdfCheckError::Proof(e.into()))?;
    let trust = genesis.trust_root();
    let proven = chancery_ledger::verify(&bundle, &trust, None).map_err(PdfCheckError::Proof)?;
    let expected = printed(&blocks(&proven));
    if read.printed != expected {
        let at = read.printed.chars().zip(expected.chars()).take_while(|(a, b)| a == b).count();
        let from = |text: &str| text.chars().skip(at.saturating_sub(8)).take(40).collect::<String>();
        return Err(PdfCheckError::TextEdited { at, printed: from(&read.printed), proven: from(&expected) });
    }
    let report = match document {
        Some(document) => chancery_ledger::verify(&bundle, &trust, Some(document)).map_err(PdfCheckError::Proof)?,
        None => proven,
    };
    Ok(CheckedPdf { report, read })
}

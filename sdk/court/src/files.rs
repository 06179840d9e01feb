//! Everything a party handed over, checked at once: each file told apart by its content
//! (not its name), the proof verified against the genesis file with the optional trusted
//! checkpoint and document, and one outcome in both languages.

use chancery_genesis::Genesis;
use chancery_ledger::verify::{verify_cert_status, verify_with_checkpoint, CertStatusProof, SavedCheckpoint};
use chancery_ledger::{Hash, ProofBundle};
use serde::Serialize;

use crate::facts::{bundle_facts, bundle_headline, cert_facts, cert_headline, failure_text, Fact, Text};

/// What a file is, by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A proof bundle (JSON): a record, its block and the signatures that commit it.
    ProofBundle,
    /// A certificate status proof (JSON).
    CertStatusProof,
    /// A governance proposal proof (JSON).
    ProposalProof,
    /// A saved checkpoint (JSON).
    Checkpoint,
    /// A genesis file (JSON).
    Genesis,
    /// A PDF evidence report.
    PdfReport,
    /// Anything else: the document whose digest a record anchors.
    Document,
}

impl FileKind {
    /// Its name for people.
    pub fn text(self) -> Text {
        match self {
            FileKind::ProofBundle => Text::new("proof bundle", "证明文件"),
            FileKind::CertStatusProof => Text::new("certificate status proof", "证书状态证明"),
            FileKind::ProposalProof => Text::new("governance proposal proof", "治理提案证明"),
            FileKind::Checkpoint => Text::new("trusted checkpoint", "可信检查点"),
            FileKind::Genesis => Text::new("genesis file", "创世文件"),
            FileKind::PdfReport => Text::new("PDF evidence report", "PDF 证据报告"),
            FileKind::Document => Text::new("document to check", "待核对文件"),
        }
    }
}

/// Largest file looked into as JSON: proofs and genesis files are far smaller, and a
/// larger file is a document.
pub const JSON_BYTES_MAX: usize = 64 * 1024 * 1024;

/// What `bytes` is. JSON objects are told apart by the fields only their kind has; any
/// other file (a contract, a JSON document of another shape) is the document.
pub fn classify(bytes: &[u8]) -> FileKind {
    if bytes.starts_with(b"%PDF-") {
        return FileKind::PdfReport;
    }
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') || bytes.len() > JSON_BYTES_MAX {
        return FileKind::Document;
    }
    // A whole JSON object is told by its top-level fields; a damaged one (cut short, a
    // character changed) by the field names in its text, so that a damaged proof is
    // reported as a proof that does not read rather than taken for the document.
    let parsed = match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(object)) => Some(object),
        Ok(_) => return FileKind::Document,
        Err(_) => None,
    };
    let text = String::from_utf8_lossy(bytes);
    let has = |field: &str| match &parsed {
        Some(object) => object.contains_key(field),
        None => text.contains(&format!("\"{field}\":")),
    };
    if has("tx") && has("tx_proof") && has("header") && has("commit") {
        FileKind::ProofBundle
    } else if has("serial") && has("state_proof") && has("events") && has("at_ms") {
        FileKind::CertStatusProof
    } else if has("id") && has("state_proof") && has("header") {
        FileKind::ProposalProof
    } else if has("genesis_time_ms") && has("validators") && has("chain_id") {
        FileKind::Genesis
    } else if has("header") && has("commit") && has("validator_changes") && has("genesis_hash") {
        FileKind::Checkpoint
    } else {
        FileKind::Document
    }
}

/// A file as handed over: its name (for the reader only) and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct NamedFile<'a> {
    /// The file's name.
    pub name: &'a str,
    /// Its content.
    pub bytes: &'a [u8],
}

/// One file and what it was taken for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classified {
    /// Its name.
    pub name: String,
    /// Its size in bytes.
    pub bytes: usize,
    /// What it is.
    pub kind: FileKind,
    /// What it is, for people.
    pub kind_text: Text,
}

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check passed.
    Verified,
    /// A check failed: see `failed`.
    NotVerified,
    /// Something needed is missing or given twice: nothing was verified yet.
    Incomplete,
}

/// The outcome of checking a party's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Each file and what it was taken for.
    pub files: Vec<Classified>,
    /// The verdict.
    pub verdict: Verdict,
    /// One line: the verdict and what it is about.
    pub headline: Text,
    /// When not verified or incomplete: why, in plain words.
    pub failed: Option<Text>,
    /// When verified: the facts the proof proves.
    pub facts: Vec<Fact>,
    /// The hash of the genesis file given, for the reader to compare with theirs.
    pub genesis_hash: Option<Hash>,
    /// When verified: the verifier's report as `chancery verify --json` prints it.
    pub report: Option<serde_json::Value>,
}

impl Outcome {
    /// A verified proof: its line, its facts, the genesis it was checked against, and
    /// the verifier's answer (a report or a certificate verdict) as JSON. The files are
    /// filled in by [`check_files`].
    fn verified(headline: Text, facts: Vec<Fact>, genesis_hash: Hash, answer: &impl Serialize) -> Self {
        Outcome {
            files: Vec::new(),
            verdict: Verdict::Verified,
            headline,
            failed: None,
            facts,
            genesis_hash: Some(genesis_hash),
            report: Some(serde_json::to_value(answer).expect("plain data with string keys serialises to JSON")),
        }
    }

    fn incomplete(files: Vec<Classified>, why: Text) -> Self {
        Outcome {
            files,
            verdict: Verdict::Incomplete,
            headline: Text::new("NOT CHECKED YET", "尚未核验"),
            failed: Some(why),
            facts: Vec::new(),
            genesis_hash: None,
            report: None,
        }
    }

    /// The outcome when the files could not be told apart at all (a malformed call from
    /// the page).
    pub fn unreadable(why: &str) -> Self {
        Outcome::incomplete(
            Vec::new(),
            Text::new(format!("the files could not be read: {why}"), format!("无法读取这些文件：{why}")),
        )
    }

    fn not_verified(files: Vec<Classified>, genesis_hash: Option<Hash>, why: Text) -> Self {
        Outcome {
            files,
            verdict: Verdict::NotVerified,
            headline: Text::new("NOT VERIFIED", "未通过验证"),
            failed: Some(why),
            facts: Vec::new(),
            genesis_hash,
            report: None,
        }
    }
}

/// The one file of `kind` among `files`, if there is exactly one; `Err` names the kind
/// given more than once.
fn only<'a>(files: &[(FileKind, NamedFile<'a>)], kind: FileKind) -> Result<Option<NamedFile<'a>>, Text> {
    let mut found = files.iter().filter(|(k, _)| *k == kind).map(|(_, f)| *f);
    let first = found.next();
    if found.next().is_some() {
        let name = kind.text();
        return Err(Text::new(
            format!("more than one {} was given: give one at a time", name.en),
            format!("提供了不止一个{}：请每次只提供一个", name.zh),
        ));
    }
    Ok(first)
}

fn text_of(file: NamedFile<'_>) -> Result<&str, Text> {
    std::str::from_utf8(file.bytes)
        .map_err(|_| Text::new(format!("{} is not UTF-8 text", file.name), format!("{} 不是 UTF-8 文本", file.name)))
}

/// Checks what a party handed over: exactly one proof (a proof bundle or a certificate
/// status proof), exactly one genesis file, and for a bundle at most one trusted
/// checkpoint and one document.
pub fn check_files(files: &[NamedFile<'_>]) -> Outcome {
    let kinds: Vec<(FileKind, NamedFile<'_>)> = files.iter().map(|f| (classify(f.bytes), *f)).collect();
    let classified: Vec<Classified> = kinds
        .iter()
        .map(|(kind, f)| Classified {
            name: f.name.to_string(),
            bytes: f.bytes.len(),
            kind: *kind,
            kind_text: kind.text(),
        })
        .collect();
    match check_kinds(&kinds) {
        Ok(mut outcome) => {
            outcome.files = classified;
            outcome
        }
        Err(Checked::Incomplete(why)) => Outcome::incomplete(classified, why),
        Err(Checked::Failed(genesis_hash, why)) => Outcome::not_verified(classified, genesis_hash, why),
    }
}

enum Checked {
    Incomplete(Text),
    Failed(Option<Hash>, Text),
}

fn check_kinds(kinds: &[(FileKind, NamedFile<'_>)]) -> Result<Outcome, Checked> {
    let one = |kind| only(kinds, kind).map_err(Checked::Incomplete);
    let (bundle, cert, proposal) =
        (one(FileKind::ProofBundle)?, one(FileKind::CertStatusProof)?, one(FileKind::ProposalProof)?);
    let (pdf, genesis, checkpoint, document) =
        (one(FileKind::PdfReport)?, one(FileKind::Genesis)?, one(FileKind::Checkpoint)?, one(FileKind::Document)?);
    let proofs = [bundle.is_some(), cert.is_some(), proposal.is_some(), pdf.is_some()].iter().filter(|p| **p).count();
    if proofs > 1 {
        return Err(Checked::Incomplete(Text::new(
            "more than one proof was given: check one proof at a time",
            "提供了不止一份证明：请每次核验一份证明",
        )));
    }
    if proposal.is_some() {
        return Err(Checked::Incomplete(Text::new(
            "a governance proposal proof: check it with `chancery gov verify`; this page checks proof bundles and certificate status proofs",
            "治理提案证明请使用 `chancery gov verify` 核验；本页面核验证明文件和证书状态证明",
        )));
    }
    let Some(genesis) = genesis else {
        return Err(Checked::Incomplete(Text::new(
            "no genesis file was given: the proof is checked against the genesis file the court holds",
            "未提供创世文件：证明须以法院持有的创世文件为依据进行核验",
        )));
    };
    let genesis_text = text_of(genesis).map_err(|why| Checked::Failed(None, why))?;
    let genesis = Genesis::from_json(genesis_text).map_err(|e| {
        Checked::Failed(None, Text::new(format!("the genesis file is not valid: {e}"), format!("创世文件无效：{e}")))
    })?;
    let genesis_hash = genesis.hash();
    let trust = genesis.trust_root();
    let failed = |why: Text| Checked::Failed(Some(genesis_hash), why);
    if let Some(pdf) = pdf {
        if checkpoint.is_some() {
            return Err(Checked::Incomplete(Text::new(
                "a PDF report is checked with the genesis file (and the document) alone, not a checkpoint",
                "PDF 报告只需配合创世文件（及原始文件）核验，无需检查点",
            )));
        }
        let checked =
            crate::report::check_pdf(pdf.bytes, &genesis, document.map(|d| d.bytes)).map_err(|e| failed(e.text()))?;
        let mut facts = bundle_facts(&checked.report);
        let pages = checked.read.pages;
        facts.insert(
            0,
            Fact {
                key: "report_text",
                label: Text::new("Printed report", "打印的报告"),
                value: Text::new(
                    format!("its text ({pages} pages) is what the attached proof proves"),
                    format!("其文字（共 {pages} 页）与所附证明所证明的内容一致"),
                ),
                warning: false,
            },
        );
        return Ok(Outcome::verified(bundle_headline(&checked.report), facts, genesis_hash, &checked.report));
    }
    if let Some(cert) = cert {
        if document.is_some() || checkpoint.is_some() {
            return Err(Checked::Incomplete(Text::new(
                "a certificate status proof is checked with the genesis file alone (no document, no checkpoint)",
                "证书状态证明只需配合创世文件核验（无需文件或检查点）",
            )));
        }
        let proof =
            CertStatusProof::from_json(text_of(cert).map_err(failed)?).map_err(|e| failed(failure_text(&e.into())))?;
        let verdict = verify_cert_status(&proof, &trust).map_err(|e| failed(failure_text(&e)))?;
        return Ok(Outcome::verified(cert_headline(&verdict), cert_facts(&verdict), genesis_hash, &verdict));
    }
    let Some(bundle) = bundle else {
        return Err(Checked::Incomplete(Text::new(
            "no proof was given: add the proof bundle (or certificate status proof) the party handed over",
            "未提供证明：请加入当事人提交的证明文件（或证书状态证明）",
        )));
    };
    let bundle =
        ProofBundle::from_json(text_of(bundle).map_err(failed)?).map_err(|e| failed(failure_text(&e.into())))?;
    let trusted = match checkpoint {
        Some(c) => {
            Some(SavedCheckpoint::from_json(text_of(c).map_err(failed)?).map_err(|e| failed(failure_text(&e.into())))?)
        }
        None => None,
    };
    let file = document.map(|d| d.bytes);
    let report = match &trusted {
        Some(trusted) => verify_with_checkpoint(&bundle, &trust, file, trusted),
        None => chancery_ledger::verify(&bundle, &trust, file),
    }
    .map_err(|e| failed(failure_text(&e)))?;
    Ok(Outcome::verified(bundle_headline(&report), bundle_facts(&report), genesis_hash, &report))
}

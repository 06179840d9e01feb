//! Offline verification: a proof bundle (with an optional checkpoint), the evidence
//! report, the consistency of two saved checkpoints, a certificate status proof.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chancery_genesis::{verify_bundle, Genesis};
use chancery_ledger::verify::{verify_with_checkpoint, SavedCheckpoint};

use crate::args::ProofArgs;
use crate::{format, read_text, report};

/// Whether `path` holds a PDF (an evidence report) rather than a proof bundle.
fn is_pdf(path: &Path) -> Result<bool> {
    use std::io::Read as _;
    let mut head = [0u8; 5];
    let mut file = std::fs::File::open(path).with_context(|| format!("cannot read the proof {}", path.display()))?;
    let read = file.read(&mut head).with_context(|| format!("cannot read the proof {}", path.display()))?;
    Ok(&head[..read] == b"%PDF-")
}

/// The document of `--file`, if given.
fn document(proof: &ProofArgs) -> Result<Option<Vec<u8>>> {
    proof
        .file
        .as_deref()
        .map(|p| std::fs::read(p).with_context(|| format!("cannot read the file {}", p.display())))
        .transpose()
}

/// Verifies the proof offline; the error names the check that failed. A PDF evidence
/// report is verified by its attached proof, and its printed text checked against it.
pub(crate) fn verified(proof: &ProofArgs) -> Result<chancery_ledger::Report> {
    let genesis_json = read_text(&proof.genesis, "genesis file")?;
    let document = document(proof)?;
    if is_pdf(&proof.bundle)? {
        if proof.checkpoint.is_some() {
            anyhow::bail!("a PDF evidence report is checked against the genesis file alone: drop --checkpoint");
        }
        let genesis = Genesis::from_json(&genesis_json)?;
        let pdf = std::fs::read(&proof.bundle).with_context(|| format!("cannot read {}", proof.bundle.display()))?;
        let checked = chancery_court::report::check_pdf(&pdf, &genesis, document.as_deref()).context("NOT VERIFIED")?;
        return Ok(checked.report);
    }
    let bundle_json = read_text(&proof.bundle, "proof bundle")?;
    match &proof.checkpoint {
        None => verify_bundle(&bundle_json, &genesis_json, document.as_deref()).context("NOT VERIFIED"),
        Some(path) => {
            let genesis = Genesis::from_json(&genesis_json)?;
            let bundle = chancery_ledger::ProofBundle::from_json(&bundle_json).context("NOT VERIFIED")?;
            let trusted = SavedCheckpoint::from_json(&read_text(path, "checkpoint")?).context("NOT VERIFIED")?;
            verify_with_checkpoint(&bundle, &genesis.trust_root(), document.as_deref(), &trusted)
                .context("NOT VERIFIED")
        }
    }
}

/// `chancery verify`.
pub(crate) fn verify(proof: &ProofArgs, json: bool) -> Result<()> {
    let report = verified(proof)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", format::report(&report));
        if is_pdf(&proof.bundle)? {
            println!("  printed text of the report: what its attached proof proves");
        }
    }
    Ok(())
}

/// The fonts of a PDF report.
pub(crate) struct Fonts {
    /// The regular font file.
    pub(crate) regular: Option<PathBuf>,
    /// The bold font file.
    pub(crate) bold: Option<PathBuf>,
    /// The face in a collection.
    pub(crate) face: u32,
}

/// `chancery report`: the evidence report of a verified proof, PDF or HTML by the
/// output's extension.
pub(crate) fn report(proof: &ProofArgs, out: &Path, fonts: Fonts) -> Result<()> {
    let verified = verified(proof)?;
    let extension = out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("html") | Some("htm") => {
            let name = proof.file.as_ref().map(|p| p.display().to_string());
            std::fs::write(out, report::html(&verified, name.as_deref(), chancery_node::clock::now_ms()))
                .with_context(|| format!("writing {}", out.display()))?;
        }
        Some("pdf") => {
            if proof.checkpoint.is_some() || is_pdf(&proof.bundle)? {
                anyhow::bail!("a PDF report is made from a proof bundle and the genesis file alone (no checkpoint, not from another report)");
            }
            let pdf = pdf_report(proof, &verified, fonts)?;
            std::fs::write(out, &pdf).with_context(|| format!("writing {}", out.display()))?;
        }
        _ => anyhow::bail!("--out {}: name the report .pdf (archival PDF/A-3) or .html", out.display()),
    }
    println!("VERIFIED; wrote the evidence report to {}", out.display());
    Ok(())
}

/// The PDF report's bytes of the `verified` proof: its blocks as the proof proves them
/// without the document (so that anyone can make them again from the attached proof),
/// the proof and the genesis attached.
fn pdf_report(proof: &ProofArgs, verified: &chancery_ledger::Report, fonts: Fonts) -> Result<Vec<u8>> {
    use chancery_court::pdf_write::{DEFAULT_BOLD_FONT, DEFAULT_FONT};
    let bundle_json = read_text(&proof.bundle, "proof bundle")?;
    let genesis_json = read_text(&proof.genesis, "genesis file")?;
    // The document only sets whether it matched; without it the report is the same.
    let proven = chancery_ledger::Report { file_matches: false, ..verified.clone() };
    let load = |path: Option<PathBuf>, default: &str| -> Result<Vec<u8>> {
        let path = path.unwrap_or_else(|| PathBuf::from(default));
        std::fs::read(&path).with_context(|| {
            format!(
                "cannot read the font {} (install Debian's fonts-noto-cjk, or pass --font and --bold-font)",
                path.display()
            )
        })
    };
    let blocks = chancery_court::report::blocks(&proven);
    let guide = chancery_court::report::guide();
    let guide_text = format!("{}\n\n{}\n", guide.en, guide.zh);
    let title = format!("Chancery evidence report: tx {}", proven.tx_hash);
    let input = chancery_court::pdf_write::ReportInput {
        blocks: &blocks,
        qr: &chancery_court::report::qr_payload(&proven),
        proof_json: &bundle_json,
        genesis_json: &genesis_json,
        guide: &guide_text,
        title: &title,
        made_ms: chancery_node::clock::now_ms(),
        regular: load(fonts.regular, DEFAULT_FONT)?,
        bold: load(fonts.bold, DEFAULT_BOLD_FONT)?,
        face: fonts.face,
    };
    Ok(chancery_court::pdf_write::write(&input)?)
}

/// `chancery verify-page`: the self-contained verification page.
pub(crate) fn verify_page(out: &Path) -> Result<()> {
    let page = chancery_court::page::html();
    std::fs::write(out, &page).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "wrote the verification page to {} ({} KiB; it verifies offline: open it from disk in a browser)",
        out.display(),
        page.len() / 1024
    );
    Ok(())
}

/// `chancery consistency`: a later checkpoint's history extends an earlier one's.
pub(crate) fn consistency(old: &Path, new: &Path, genesis: &Path) -> Result<()> {
    let genesis = Genesis::from_json(&read_text(genesis, "genesis file")?)?;
    let old = SavedCheckpoint::from_json(&read_text(old, "checkpoint")?)?;
    let new = SavedCheckpoint::from_json(&read_text(new, "checkpoint")?)?;
    let verdict =
        chancery_ledger::verify::verify_consistency_of(&old, &new, &genesis.trust_root()).context("NOT CONSISTENT")?;
    println!(
        "CONSISTENT: the history at height {} (block {}, {}) extends the history at height {} (block {}, {}); both checkpoints verified against the genesis",
        verdict.new.height,
        verdict.new.block_hash,
        format::utc(verdict.new.block_time_ms),
        verdict.old.height,
        verdict.old.block_hash,
        format::utc(verdict.old.block_time_ms)
    );
    Ok(())
}

/// `chancery cert verify`: a certificate status proof, offline.
pub(crate) fn cert_status(proof: &Path, genesis: &Path) -> Result<()> {
    let proof = chancery_ledger::verify::CertStatusProof::from_json(&read_text(proof, "status proof")?)?;
    crate::cert_cmds::print_verified(&crate::cert_cmds::verified_status(&proof, genesis)?);
    Ok(())
}

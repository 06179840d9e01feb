//! Offline verification: a proof bundle (with an optional checkpoint), the evidence
//! report, the consistency of two saved checkpoints, a certificate status proof.

use std::path::Path;

use anyhow::{Context, Result};
use chancery_genesis::{verify_bundle, Genesis};
use chancery_ledger::verify::{verify_with_checkpoint, SavedCheckpoint};

use crate::args::ProofArgs;
use crate::{format, read_text, report};

/// Verifies the proof offline; the error names the check that failed.
pub(crate) fn verified(proof: &ProofArgs) -> Result<chancery_ledger::Report> {
    let bundle_json = read_text(&proof.bundle, "proof bundle")?;
    let genesis_json = read_text(&proof.genesis, "genesis file")?;
    let document = proof
        .file
        .as_deref()
        .map(|p| std::fs::read(p).with_context(|| format!("cannot read the file {}", p.display())))
        .transpose()?;
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
    }
    Ok(())
}

/// `chancery report`: the printable evidence report of a verified proof.
pub(crate) fn report(proof: &ProofArgs, out: &Path) -> Result<()> {
    let verified = verified(proof)?;
    let name = proof.file.as_ref().map(|p| p.display().to_string());
    std::fs::write(out, report::html(&verified, name.as_deref(), chancery_node::clock::now_ms()))
        .with_context(|| format!("writing {}", out.display()))?;
    println!("VERIFIED; wrote the evidence report to {}", out.display());
    Ok(())
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

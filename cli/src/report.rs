//! `chancery report`: a printable HTML evidence report of what a verified proof shows.
//! It is written only for a proof that verifies; every value in it comes from the
//! verifier's report, so the page says no more than the proof proves.

use std::fmt::Write as _;

use chancery_ledger::verify::{Attestation, Record, Report};

use crate::format::utc;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn row(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(out, "<tr><th>{}</th><td>{}</td></tr>", escape(label), escape(value));
}

fn attestors(out: &mut String, a: &Attestation) {
    let _ = writeln!(
        out,
        "<table class=\"attest\"><tr><th>Validator</th><th>Role</th><th>Power</th><th>Consensus key</th></tr>"
    );
    for v in &a.validators {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
            escape(&v.name),
            escape(v.role.name()),
            v.power,
            v.key
        );
    }
    let _ = writeln!(
        out,
        "</table><p>Signed power {} of {} (more than two thirds required).</p>",
        a.signed_power, a.total_power
    );
}

/// The report page. `file_name` is the document checked against the digest, if one was.
pub fn html(report: &Report, file_name: Option<&str>, generated_ms: u64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Chancery evidence report {}</title>\n<style>\nbody{{font-family:Georgia,serif;max-width:50em;margin:2em auto;color:#111}}\nh1{{font-size:1.5em;border-bottom:2px solid #111}}\nh2{{font-size:1.15em;margin-top:1.6em}}\ntable{{border-collapse:collapse;width:100%;margin:.5em 0}}\nth,td{{text-align:left;vertical-align:top;padding:.3em .5em;border:1px solid #999}}\nth{{width:28%;background:#f2f2f2}}\n.mono{{font-family:monospace;word-break:break-all}}\n.verdict{{font-size:1.2em;font-weight:bold;padding:.5em;border:2px solid #111}}\n@media print{{body{{margin:0}}}}\n</style></head><body>",
        report.tx_hash
    );
    let _ = writeln!(out, "<h1>Evidence report</h1>");
    let _ = writeln!(
        out,
        "<p class=\"verdict\">VERIFIED: the record below is committed on chain {}, in block {}, at {} (UTC), attested by the validator quorum.</p>",
        escape(&report.chain_id),
        report.height,
        utc(report.block_time_ms)
    );
    let _ = writeln!(out, "<h2>What was anchored</h2><table>");
    match &report.record {
        Record::Evidence { kind, digest, refs, claimed_time_ms, cert, signature } => {
            row(&mut out, "Record", &format!("{} evidence", kind.name()));
            row(&mut out, "Digest", &digest.to_text());
            if let Some(name) = file_name {
                row(&mut out, "Document", &format!("{name}: its digest matches the anchored digest"));
            } else {
                row(&mut out, "Document", "not checked (no file was given)");
            }
            if let Some(ms) = claimed_time_ms {
                row(&mut out, "Time claimed by submitter", &format!("{} (a claim, not attested)", utc(*ms)));
            }
            if let Some(cert) = cert {
                row(
                    &mut out,
                    "Certificate named",
                    &format!("CA {}, serial {}", cert.ca, hex::encode(cert.serial.as_bytes())),
                );
            }
            if let Some(signature) = signature {
                row(
                    &mut out,
                    "Document signature",
                    &format!("hash {}, made by {}", signature.hash, signature.method.describe()),
                );
            }
            if let Some(verdict) = &report.certificate {
                let status = crate::format::status_line(&verdict.status);
                let text = format!(
                    "{status} at the block time {} (proven as of block {}, {} events of the certificate)",
                    utc(verdict.at_ms),
                    verdict.as_of_height,
                    verdict.events.len()
                );
                if verdict.status.is_valid() {
                    row(&mut out, "Certificate status", &text);
                } else {
                    row(&mut out, "Certificate status", &format!("WARNING: NOT VALID. {text}"));
                }
            } else if cert.is_some() {
                row(&mut out, "Certificate status", "WARNING: NOT PROVEN (the proof carries no certificate status)");
            }
            for r in refs {
                row(&mut out, "Linked record", &r.to_hex());
            }
        }
        Record::CertEvent { ca, serial, event } => {
            row(&mut out, "Record", "certificate event");
            row(&mut out, "Certificate", &format!("CA {ca}, serial {serial}"));
            row(&mut out, "Event", &format!("{event:?}"));
        }
        Record::Proposal { change, expires_at_height } => {
            row(&mut out, "Record", &format!("governance proposal: {change}, open until height {expires_at_height}"))
        }
        Record::Vote { proposal, approve } => row(
            &mut out,
            "Record",
            &format!("governance vote: {} proposal {proposal}", if *approve { "approve" } else { "reject" }),
        ),
        Record::KeyRotation { key, new_key } => {
            row(&mut out, "Record", &format!("key rotation: new {key} key {new_key}"))
        }
        Record::Misbehaviour { validator, height, round } => row(
            &mut out,
            "Record",
            &format!(
                "misbehaviour: validator {validator} signed two conflicting messages at height {height}, round {round}"
            ),
        ),
    }
    let submitter = report.submitter.name.clone().unwrap_or_else(|| "not a genesis member".into());
    row(&mut out, "Submitted by", &format!("{submitter} (key {})", report.submitter.key));
    row(&mut out, "Transaction", &report.tx_hash.to_hex());
    let _ = writeln!(out, "</table><h2>When, and who attests it</h2><table>");
    row(&mut out, "Block height", &report.height.to_string());
    row(&mut out, "Block hash", &report.block_hash.to_hex());
    row(
        &mut out,
        "Block time (UTC)",
        &format!("{} ({} ms since 1970)", utc(report.block_time_ms), report.block_time_ms),
    );
    let _ = writeln!(out, "</table>");
    attestors(&mut out, &report.attestation);
    if let Some(c) = &report.checkpoint {
        let _ = writeln!(
            out,
            "<h2>Later checkpoint</h2><p>The block is included in the chain history up to block {} (hash <span class=\"mono\">{}</span>, time {}), attested by:</p>",
            c.height,
            c.block_hash,
            utc(c.block_time_ms)
        );
        attestors(&mut out, &c.attestation);
    }
    let _ = writeln!(out, "<h2>Trust root</h2><table>");
    row(&mut out, "Chain", &report.chain_id);
    row(&mut out, "Genesis hash", &report.genesis_hash.to_hex());
    row(&mut out, "Validator-set changes traced", &report.validator_changes.to_string());
    row(&mut out, "Trust basis", &report.trust_basis.describe());
    let _ = writeln!(out, "</table>");
    let _ = writeln!(
        out,
        "<h2>How to check this report</h2><p>Anyone holding the chain's genesis file can check the proof without any node: <span class=\"mono\">chancery verify PROOF.json --genesis GENESIS.json --file DOCUMENT</span>, or with an independent verifier written from the published proof format. The check recomputes the document digest, the transaction's path to the block, the block's commit signatures and the validator sets back to the genesis.</p>"
    );
    let _ = writeln!(
        out,
        "<p><small>Report generated {} (UTC) by chancery {}.</small></p></body></html>",
        utc(generated_ms),
        env!("CARGO_PKG_VERSION")
    );
    out
}

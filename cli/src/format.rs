//! Human-readable rendering of verification reports.

use std::fmt::Write as _;

use chancery_ledger::verify::{Attestation, Record, Report};

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for milliseconds since the Unix epoch (proleptic Gregorian,
/// UTC).
pub fn utc(ms: u64) -> String {
    let (days, rem) = ((ms / 86_400_000) as i64, ms % 86_400_000);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1_000 % 60, rem % 1_000);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

fn attestation(out: &mut String, a: &Attestation) {
    let _ = writeln!(
        out,
        "  attested by  {} validators, power {} of {}:",
        a.validators.len(),
        a.signed_power,
        a.total_power
    );
    for v in &a.validators {
        let _ = writeln!(out, "                 {} ({}, power {})", v.name, v.role.name(), v.power);
    }
}

/// The report as a person reads it.
pub fn report(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "VERIFIED: tx {} is committed on chain {}", r.tx_hash, r.chain_id);
    match &r.record {
        Record::Evidence { kind, digest, claimed_time_ms, .. } => {
            let _ = writeln!(out, "  record       {} evidence, {}", kind.name(), digest);
            if let Some(ms) = claimed_time_ms {
                let _ = writeln!(out, "  claimed time {} (claimed by the submitter, not attested)", utc(*ms));
            }
        }
        Record::CertEvent { ca, serial, event } => {
            let _ = writeln!(out, "  record       certificate event of CA {ca}, serial {serial}: {event:?}");
        }
        Record::Governance { proposal } => {
            let _ = writeln!(out, "  record       governance change: {proposal}");
        }
        Record::Misbehaviour { validator, height, round } => {
            let _ = writeln!(
                out,
                "  record       misbehaviour: validator {validator} signed two conflicting messages at height {height}, round {round}"
            );
        }
    }
    let submitter = r.submitter.name.clone().unwrap_or_else(|| "not a genesis member".into());
    let _ = writeln!(out, "  submitter    {submitter} (key {})", r.submitter.key);
    let _ = writeln!(out, "  block        height {}, hash {}", r.height, r.block_hash);
    let _ = writeln!(out, "  block time   {} ({} ms), attested by the quorum", utc(r.block_time_ms), r.block_time_ms);
    attestation(&mut out, &r.attestation);
    let _ = writeln!(out, "  validator-set changes traced from genesis: {}", r.validator_changes);
    if r.file_matches {
        let _ = writeln!(out, "  file         matches the anchored digest");
    }
    if let Some(c) = &r.checkpoint {
        let _ = writeln!(
            out,
            "  checkpoint   included in the history of block {} (hash {}, time {})",
            c.height,
            c.block_hash,
            utc(c.block_time_ms)
        );
    }
    let _ = writeln!(out, "  genesis      {}", r.genesis_hash);
    out
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn utc_dates_are_right_across_leap_years_and_epochs() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(utc(1_767_225_600_123), "2026-01-01T00:00:00.123Z");
        assert_eq!(utc(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
    }
}

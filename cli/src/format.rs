//! Human-readable rendering of verification reports.

use std::fmt::Write as _;

use chancery_ledger::verify::{Attestation, Record, Report};
use chancery_ledger::verify::{CertStatus, CertVerdict};

pub use chancery_court::time::utc;

/// Milliseconds since the Unix epoch from `now`, a number of milliseconds, or
/// `YYYY-MM-DDTHH:MM:SS[.mmm]Z` (UTC).
pub fn parse_time(text: &str) -> anyhow::Result<u64> {
    let text = text.trim();
    if text == "now" {
        return Ok(chancery_node::clock::now_ms());
    }
    if let Ok(ms) = text.parse::<u64>() {
        return Ok(ms);
    }
    let bad = || anyhow::anyhow!("time {text:?}: use milliseconds since the epoch, `now`, or 2026-01-31T12:00:00Z");
    let body = text.strip_suffix('Z').ok_or_else(bad)?;
    let (date, time) = body.split_once('T').ok_or_else(bad)?;
    let number = |s: &str| s.parse::<i64>().map_err(|_| bad());
    let parts: Vec<&str> = date.split('-').collect();
    let [year, month, day] = parts.as_slice() else { return Err(bad()) };
    let (year, month, day) = (number(year)?, number(month)?, number(day)?);
    let (clock, milli) = match time.split_once('.') {
        Some((clock, fraction)) if fraction.len() == 3 => (clock, number(fraction)?),
        Some(_) => return Err(bad()),
        None => (time, 0),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let [h, m, s] = parts.as_slice() else { return Err(bad()) };
    let (h, m, s) = (number(h)?, number(m)?, number(s)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || h > 23
        || m > 59
        || s > 59
        || !(1970..=9999).contains(&year)
    {
        return Err(bad());
    }
    // Days since 1970-01-01 from a civil date (H. Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let ms = days * 86_400_000 + h * 3_600_000 + m * 60_000 + s * 1_000 + milli;
    let ms = u64::try_from(ms).map_err(|_| bad())?;
    if utc(ms) != format!("{date}T{clock}.{milli:03}Z") {
        return Err(bad());
    }
    Ok(ms)
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

/// A status as a person reads it.
pub fn status_line(status: &CertStatus) -> String {
    match status {
        CertStatus::Valid => "VALID".into(),
        CertStatus::NotYetValid => "NOT YET VALID".into(),
        CertStatus::Expired => "EXPIRED".into(),
        CertStatus::Revoked { reason, effective_ms } => {
            format!("REVOKED ({reason:?}) effective {}", utc(*effective_ms))
        }
        CertStatus::Unknown => "UNKNOWN (no event of this certificate is anchored)".into(),
    }
}

/// The verdict's lines as `chancery verify` and `chancery cert status` print them.
pub fn verdict_lines(v: &CertVerdict) -> String {
    let mut out = format!("  certificate  {}/{} at {}: {}\n", v.ca, v.serial, utc(v.at_ms), status_line(&v.status));
    if !v.status.is_valid() {
        out.push_str("  WARNING      the certificate was NOT valid at that time\n");
    }
    out.push_str(&format!(
        "               proven as of block {} ({}), {} events:\n",
        v.as_of_height,
        utc(v.as_of_time_ms),
        v.events.len()
    ));
    for e in &v.events {
        out.push_str(&format!("                 height {} ({}): {:?}\n", e.height, utc(e.time_ms), e.event));
    }
    out
}

/// The report as a person reads it.
pub fn report(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "VERIFIED: tx {} is committed on chain {}", r.tx_hash, r.chain_id);
    match &r.record {
        Record::Evidence { kind, digest, claimed_time_ms, cert, signature, .. } => {
            let _ = writeln!(out, "  record       {} evidence, {}", kind.name(), digest);
            if let Some(cert) = cert {
                let _ = writeln!(out, "  names cert   {}/{}", cert.ca, hex::encode(cert.serial.as_bytes()));
            }
            if let Some(signature) = signature {
                let _ =
                    writeln!(out, "  signature    hash {}, made by {}", signature.hash, signature.method.describe());
            }
            if let Some(ms) = claimed_time_ms {
                let _ = writeln!(out, "  claimed time {} (claimed by the submitter, not attested)", utc(*ms));
            }
        }
        Record::CertEvent { ca, serial, event } => {
            let _ = writeln!(out, "  record       certificate event of CA {ca}, serial {serial}: {event:?}");
        }
        Record::Proposal { change, expires_at_height } => {
            let _ =
                writeln!(out, "  record       governance proposal: {change}, open until height {expires_at_height}");
        }
        Record::Vote { proposal, approve } => {
            let verdict = if *approve { "approve" } else { "reject" };
            let _ = writeln!(out, "  record       governance vote: {verdict} proposal {proposal}");
        }
        Record::KeyRotation { key, new_key } => {
            let _ = writeln!(out, "  record       key rotation: new {key} key {new_key}");
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
    match (&r.certificate, &r.record) {
        (Some(verdict), _) => out.push_str(&verdict_lines(verdict)),
        (None, Record::Evidence { cert: Some(_), .. }) => {
            let _ = writeln!(
                out,
                "  WARNING      certificate status NOT PROVEN: the bundle carries no status proof for the certificate it names"
            );
        }
        _ => {}
    }
    let _ = writeln!(out, "  genesis      {}", r.genesis_hash);
    let _ = writeln!(out, "  trust basis  {}", r.trust_basis.describe());
    out
}

#[cfg(test)]
mod tests {
    use super::{parse_time, utc};

    #[test]
    fn times_parse_back_to_what_utc_prints() {
        for ms in [0, 951_782_400_000, 1_767_225_600_123, 4_107_542_399_999] {
            assert_eq!(parse_time(&utc(ms)).expect("parses"), ms);
        }
        assert_eq!(parse_time("2026-01-01T00:00:00Z").expect("parses"), 1_767_225_600_000);
        assert_eq!(parse_time("1767225600000").expect("parses"), 1_767_225_600_000);
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-01-01 00:00:00",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "",
            "99999999999999-01-01T00:00:00Z",
        ] {
            assert!(parse_time(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn utc_dates_are_right_across_leap_years_and_epochs() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(utc(1_767_225_600_123), "2026-01-01T00:00:00.123Z");
        assert_eq!(utc(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
    }
}

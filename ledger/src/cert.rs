//! A certificate's status at a time, and its offline proof.
//!
//! Status. From a certificate's anchored events ([`CertRecord`]) and a time `t`:
//! - no event at all: `Unknown`;
//! - a revocation effective at or before `t`: `Revoked` (from its effective time on,
//!   whatever the validity window says);
//! - `t` before `not_before_ms`: `NotYetValid`;
//! - `t` within the validity: `Valid`. Validity runs from `not_before_ms` to
//!   `not_after_ms`, both included. A renewal recorded before the validity ran out
//!   extends it without a gap; one recorded after it ran out (the platform renews
//!   expired certificates) extends it from its block time, so the time between the old
//!   end and that block stays `Expired`: a later renewal does not make a lapsed
//!   certificate valid in hindsight;
//! - otherwise `Expired`.
//!
//! Proof. A [`CertStatusProof`] shows the record as of one committed block `B`: the
//! record is the value of `StateKey::Cert(ca, serial)` in `B`'s state tree (or its
//! absence), proven against `B`'s `state_root`, with `B`'s commit traced from genesis; and
//! each event of the record comes with its tx, its tx proof, its block header and that
//! block's place in `B`'s history tree. A verifier recomputes the status itself. Leaving
//! an event out, adding one or reordering them breaks the match with the committed
//! record, and any other record breaks the state proof: a revocation anchored by `B`
//! cannot be hidden.

use serde::{Deserialize, Serialize};

use crate::bundle::{HexBytes, ValidatorSetChange};
use crate::chain::{ChainId, Commit, Header};
use crate::codec::decode;
use crate::hash::Hash;
use crate::history::verify_block_in_history;
use crate::smt::{SmtProof, Terminal};
use crate::state::{CertRecord, StateKey};
use crate::tx::{CertEventKind, CertSerial, RevocationReason, Tx, TxBody};
use crate::tx_tree::TxProof;
use crate::validator::CaId;
use crate::verify::{check_chain, check_origin, verify_attested, Attestation, TrustRoot, VerifyError};

/// A certificate's status at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum CertStatus {
    /// Issued, but its validity starts later.
    NotYetValid,
    /// Within its validity and not revoked.
    Valid,
    /// Its validity ran out (and no renewal covered the time).
    Expired,
    /// Revoked, effective at or before the time.
    Revoked {
        /// Why.
        reason: RevocationReason,
        /// From when.
        effective_ms: u64,
    },
    /// No event of this certificate is anchored.
    Unknown,
}

impl CertStatus {
    /// Whether a signature made at that time counts.
    pub fn is_valid(&self) -> bool {
        matches!(self, CertStatus::Valid)
    }

    /// The status's name.
    pub fn name(&self) -> &'static str {
        match self {
            CertStatus::NotYetValid => "not_yet_valid",
            CertStatus::Valid => "valid",
            CertStatus::Expired => "expired",
            CertStatus::Revoked { .. } => "revoked",
            CertStatus::Unknown => "unknown",
        }
    }
}

impl CertRecord {
    /// The status at `at_ms` (see the module documentation).
    pub fn status_at(&self, at_ms: u64) -> CertStatus {
        let mut window: Option<(u64, u64)> = None;
        // Whether `at_ms` falls in a lapse that a late renewal ended.
        let mut lapsed = false;
        for entry in self.events.iter() {
            match entry.event {
                CertEventKind::Issued { not_before_ms, not_after_ms } => window = Some((not_before_ms, not_after_ms)),
                CertEventKind::Renewed { not_after_ms } => {
                    if let Some((from, until)) = window {
                        lapsed |= at_ms > until && at_ms < entry.time_ms;
                        window = Some((from, not_after_ms));
                    }
                }
                CertEventKind::Revoked { reason, effective_ms } if effective_ms <= at_ms => {
                    return CertStatus::Revoked { reason, effective_ms };
                }
                CertEventKind::Revoked { .. } => {}
            }
        }
        let Some((not_before_ms, not_after_ms)) = window else { return CertStatus::Unknown };
        if at_ms < not_before_ms {
            CertStatus::NotYetValid
        } else if at_ms > not_after_ms || lapsed {
            CertStatus::Expired
        } else {
            CertStatus::Valid
        }
    }
}

/// Proof of a certificate's status at a time, as of one committed block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertStatusProof {
    /// Format version ([`crate::bundle::BUNDLE_VERSION`]).
    pub version: u32,
    /// The chain.
    pub chain_id: ChainId,
    /// Its genesis hash.
    pub genesis_hash: Hash,
    /// The issuing CA.
    pub ca: CaId,
    /// The certificate's serial.
    pub serial: HexBytes,
    /// The time the status is asked for.
    pub at_ms: u64,
    /// The block as of which the record is proven (`B`), canonical bytes.
    pub header: HexBytes,
    /// Its commit, canonical bytes.
    pub commit: HexBytes,
    /// Validator-set changes from genesis up to `B`.
    pub validator_changes: Vec<ValidatorSetChange>,
    /// `StateKey::Cert(ca, serial)` in `B`'s state tree: its record, or its absence.
    pub state_proof: SmtProof,
    /// Each event of the record, in its order.
    pub events: Vec<CertEventProof>,
}

/// One anchored certificate event and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertEventProof {
    /// The tx, canonical bytes.
    pub tx: HexBytes,
    /// Its path to its block's `tx_root`.
    pub tx_proof: TxProof,
    /// Its block's header, canonical bytes.
    pub header: HexBytes,
    /// That block in `B`'s history tree (empty when it is `B` itself).
    pub history_proof: Vec<Hash>,
}

impl CertStatusProof {
    /// Reads a proof from JSON.
    pub fn from_json(json: &str) -> Result<Self, crate::bundle::BundleError> {
        crate::bundle::parse_document(json)
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialising cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// What a certificate status proof established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertVerdict {
    /// The issuing CA.
    pub ca: String,
    /// The serial, hex.
    pub serial: String,
    /// The time asked about.
    pub at_ms: u64,
    /// The status then.
    #[serde(flatten)]
    pub status: CertStatus,
    /// The block as of which the record was proven.
    pub as_of_height: u64,
    /// Its hash.
    pub as_of_block_hash: Hash,
    /// Its time.
    pub as_of_time_ms: u64,
    /// Who attested it.
    pub attestation: Attestation,
    /// The certificate's anchored events, in order.
    pub events: Vec<CertEventReport>,
}

/// One proven event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertEventReport {
    /// Height of its block.
    pub height: u64,
    /// That block's time.
    pub time_ms: u64,
    /// The tx.
    pub tx_hash: Hash,
    /// The event.
    pub event: CertEventKind,
}

/// Verifies a certificate status proof against `trust` and computes the status.
pub fn verify_cert_status(proof: &CertStatusProof, trust: &TrustRoot) -> Result<CertVerdict, VerifyError> {
    check_origin(trust, "certificate proof", proof.version, &proof.chain_id, &proof.genesis_hash)?;
    let serial = CertSerial::new(proof.serial.0.clone())
        .map_err(|_| VerifyError::CertProof(format!("serial of {} bytes is too long", proof.serial.0.len())))?;
    let header: Header = proof.header.decode().map_err(|source| VerifyError::Decode { what: "header", source })?;
    let commit: Commit = proof.commit.decode().map_err(|source| VerifyError::Decode { what: "commit", source })?;
    check_chain("header", &trust.chain_id, &header.chain_id)?;
    let (_, attestation) = verify_attested(trust, &header, &commit, &proof.validator_changes)?;
    let block_hash = header.hash();

    let key = StateKey::Cert(proof.ca.clone(), serial.clone()).hash();
    let present = proof.state_proof.verify(&key, &header.state_root).map_err(VerifyError::CertState)?;
    let record: CertRecord = match (&proof.state_proof.terminal, present) {
        (Terminal::Leaf { value, .. }, Some(_)) => decode(value)
            .map_err(|e| VerifyError::CertProof(format!("the proven certificate record does not decode: {e}")))?,
        _ => CertRecord::default(),
    };
    if record.events.len() != proof.events.len() {
        return Err(VerifyError::CertProof(format!(
            "the committed record holds {} events, the proof shows {}",
            record.events.len(),
            proof.events.len()
        )));
    }
    let mut events = Vec::new();
    for (index, (entry, shown)) in record.events.iter().zip(&proof.events).enumerate() {
        let bad = |what: String| VerifyError::CertProof(format!("event #{index}: {what}"));
        let tx: Tx = shown.tx.decode().map_err(|e| bad(format!("tx does not decode: {e}")))?;
        check_chain("certificate event tx", &trust.chain_id, &tx.chain_id)?;
        tx.verify_signature(&trust.genesis_hash).map_err(|e| bad(format!("tx signature: {e}")))?;
        let tx_hash = tx.hash();
        if tx_hash != entry.tx_hash {
            return Err(bad(format!("tx {tx_hash} is not the recorded tx {}", entry.tx_hash)));
        }
        let TxBody::CertEvent(event) = &tx.body else { return Err(bad("not a certificate event".into())) };
        if event.ca != proof.ca
            || event.serial != serial
            || event.event != entry.event
            || event.cert_digest != entry.cert_digest
            || event.subject_key != entry.subject_key
        {
            return Err(bad("the tx does not say what the committed record says".into()));
        }
        let at: Header = shown.header.decode().map_err(|e| bad(format!("header does not decode: {e}")))?;
        if at.height != entry.height || at.time_ms != entry.time_ms {
            return Err(bad(format!(
                "its block is at height {} (time {}), the record says {} ({})",
                at.height, at.time_ms, entry.height, entry.time_ms
            )));
        }
        if shown.tx_proof.count != at.tx_count {
            return Err(VerifyError::TxCountMismatch { proof: shown.tx_proof.count, header: at.tx_count });
        }
        shown.tx_proof.verify(&tx_hash, &at.tx_root).map_err(VerifyError::TxNotInBlock)?;
        let at_hash = at.hash();
        if at.height == header.height {
            if at_hash != block_hash {
                return Err(bad("its block is not the proven block".into()));
            }
        } else if at.height < header.height {
            verify_block_in_history(at.height, &at_hash, header.height, &shown.history_proof, &header.history_root)
                .map_err(VerifyError::NotInCheckpoint)?;
        } else {
            return Err(bad(format!("its block {} is after the proven block {}", at.height, header.height)));
        }
        events.push(CertEventReport { height: at.height, time_ms: at.time_ms, tx_hash, event: entry.event.clone() });
    }
    Ok(CertVerdict {
        ca: proof.ca.to_string(),
        serial: hex::encode(&proof.serial.0),
        at_ms: proof.at_ms,
        status: record.status_at(proof.at_ms),
        as_of_height: header.height,
        as_of_block_hash: block_hash,
        as_of_time_ms: header.time_ms,
        attestation,
        events,
    })
}

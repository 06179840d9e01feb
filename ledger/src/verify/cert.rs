//! A certificate's status at a time, proven offline (the status rules are
//! [`crate::state::cert_record`]'s).
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

use super::chain::{check_chain, check_origin, verify_attested, ValidatorSetChange};
use super::json::{parse_document, BundleError};
use super::report::{CertEventReport, CertVerdict, TrustRoot, VerifyError};
use crate::codec::decode;
use crate::hash::Hash;
use crate::hex::HexBytes;
use crate::merkle::history::verify_block_in_history;
use crate::merkle::smt::{SmtProof, Terminal};
use crate::merkle::tx_tree::TxProof;
use crate::state::{CertRecord, StateKey};
use crate::types::block::{ChainId, Commit, Header};
use crate::types::tx::{CertSerial, Tx, TxBody};
use crate::types::validator::CaId;

/// Proof of a certificate's status at a time, as of one committed block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertStatusProof {
    /// Format version ([`super::json::BUNDLE_VERSION`]).
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
    pub fn from_json(json: &str) -> Result<Self, BundleError> {
        parse_document(json)
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialising cannot fail.
        serde_json::to_string_pretty(self).expect("a certificate status proof serialises to JSON")
    }
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

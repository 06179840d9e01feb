//! Proof of a governance proposal's record (its change, votes and status) as of one
//! committed block: the record proven in the block's state tree, the block's commit traced
//! from genesis. A court checks who proposed and voted what, and whether a change passed,
//! offline, as it checks a certificate's status. Schema: `docs/PROOF_FORMAT.md` section 5.3.

use serde::{Deserialize, Serialize};

use super::chain::{check_chain, check_origin, verify_attested, ValidatorSetChange};
use super::json::{parse_document, BundleError};
use super::report::{Attestation, TrustRoot, VerifyError};
use crate::codec::decode;
use crate::hash::Hash;
use crate::hex::HexBytes;
use crate::merkle::smt::{SmtProof, Terminal};
use crate::state::StateKey;
use crate::types::block::{ChainId, Commit, Header};
use crate::types::gov::{ProposalRecord, ProposalStatus};

/// A proposal's record proven as of block `B`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalProof {
    /// Format version ([`crate::verify::BUNDLE_VERSION`]).
    pub version: u32,
    /// The chain.
    pub chain_id: ChainId,
    /// Its genesis hash.
    pub genesis_hash: Hash,
    /// The proposal's id (its tx hash).
    pub id: Hash,
    /// `B`, canonical bytes.
    pub header: HexBytes,
    /// Its commit, canonical bytes.
    pub commit: HexBytes,
    /// Validator-set changes from genesis up to `B`.
    pub validator_changes: Vec<ValidatorSetChange>,
    /// `StateKey::Proposal(id)` in `B`'s state tree: the record, or its absence.
    pub state_proof: SmtProof,
}

/// What a proposal proof established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProposalVerdict {
    /// The proposal's id.
    pub id: Hash,
    /// Its record as of `B`, or `None`: no such proposal was on chain then.
    pub record: Option<ProposalRecord>,
    /// Its status as of `B` (expired when `B` is past its expiry height).
    pub status: Option<ProposalStatus>,
    /// `B`'s height.
    pub as_of_height: u64,
    /// `B`'s hash.
    pub as_of_block_hash: Hash,
    /// `B`'s time.
    pub as_of_time_ms: u64,
    /// Who attested `B`.
    pub attestation: Attestation,
}

impl ProposalProof {
    /// Reads a proof from JSON (size first, then the whole schema).
    pub fn from_json(json: &str) -> Result<Self, BundleError> {
        parse_document(json)
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialising cannot fail.
        serde_json::to_string_pretty(self).expect("proposal proof serialises to JSON") + "\n"
    }
}

/// Verifies a proposal proof against `trust`: its origin, `B`'s commit traced from
/// genesis, and the record (or its absence) under `StateKey::Proposal(id)` in `B`'s
/// `state_root`. The status is the record's as of the block after `B`.
pub fn verify_proposal(proof: &ProposalProof, trust: &TrustRoot) -> Result<ProposalVerdict, VerifyError> {
    check_origin(trust, "proposal proof", proof.version, &proof.chain_id, &proof.genesis_hash)?;
    let header: Header = proof.header.decode().map_err(|source| VerifyError::Decode { what: "header", source })?;
    let commit: Commit = proof.commit.decode().map_err(|source| VerifyError::Decode { what: "commit", source })?;
    check_chain("header", &trust.chain_id, &header.chain_id)?;
    let (_, attestation) = verify_attested(trust, &header, &commit, &proof.validator_changes)?;
    let key = StateKey::Proposal(proof.id).hash();
    let present = proof.state_proof.verify(&key, &header.state_root).map_err(VerifyError::ProposalState)?;
    let record: Option<ProposalRecord> = match (&proof.state_proof.terminal, present) {
        (Terminal::Leaf { value, .. }, Some(_)) => {
            Some(decode(value).map_err(|source| VerifyError::Decode { what: "proposal record", source })?)
        }
        _ => None,
    };
    let status = record.as_ref().map(|r| r.status_at(header.height.saturating_add(1)));
    Ok(ProposalVerdict {
        id: proof.id,
        record,
        status,
        as_of_height: header.height,
        as_of_block_hash: header.hash(),
        as_of_time_ms: header.time_ms,
        attestation,
    })
}

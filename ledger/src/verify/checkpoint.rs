//! Saved checkpoints: a committed header and its commit, with the validator-set changes
//! that prove who signed it, kept by a verifier as a trust anchor later than the genesis.
//!
//! The genesis alone proves a record unless a quorum of a validator set that was later
//! replaced signs a history forking at its replacement (it still holds its keys). A
//! verifier that also holds a checkpoint saved from the chain after the record's block
//! rules that out: the block must be in the checkpoint's history tree. Two checkpoints
//! saved at different times show, with a consistency proof, that the ledger between them
//! only grew. Schema and steps: `docs/PROOF_FORMAT.md` section 5.2.

use serde::{Deserialize, Serialize};

use super::bundle::ProofBundle;
use super::chain::{check_chain, check_origin, verify_attested, ValidatorSetChange};
use super::json::{parse_document, BundleError, BUNDLE_VERSION};
use super::report::{Attestation, Report, TrustBasis, TrustRoot, VerifyError};
use crate::hash::Hash;
use crate::hex::HexBytes;
use crate::merkle::history::{bind_root, verify_consistency, Blake3History, HistoryProofError};
use crate::types::block::{ChainId, Commit, Header};

/// A checkpoint as `chancery checkpoint` saves it (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedCheckpoint {
    /// Format version: the bundle version.
    pub version: u32,
    /// The chain.
    pub chain_id: ChainId,
    /// Its genesis hash.
    pub genesis_hash: Hash,
    /// The checkpoint's header, canonical bytes.
    pub header: HexBytes,
    /// Its commit, canonical bytes.
    pub commit: HexBytes,
    /// Every validator-set change from genesis up to the header, as in a proof bundle.
    pub validator_changes: Vec<ValidatorSetChange>,
    /// Optionally, proof that this checkpoint's history extends that of an earlier
    /// checkpoint (`chancery checkpoint --since OLD.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<ConsistencyFrom>,
}

/// An RFC 9162 consistency proof from the history of `from_height` blocks (an earlier
/// checkpoint's `history_root`) to this checkpoint's. The two RFC 9162 roots are given so
/// the verifier can tie each to its signed header: `history_root = H("chancery v1
/// history root", u64le(size) || mth)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyFrom {
    /// The earlier checkpoint's height (the size of its history).
    pub from_height: u64,
    /// RFC 9162 root of the first `from_height` blocks.
    pub from_mth: Hash,
    /// RFC 9162 root of the first `height` blocks (this checkpoint's height).
    pub to_mth: Hash,
    /// The proof's hashes.
    pub proof: Vec<Hash>,
}

/// What a checkpoint proved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointVerdict {
    /// Its height.
    pub height: u64,
    /// Its block hash.
    pub block_hash: Hash,
    /// Its block time.
    pub block_time_ms: u64,
    /// Its `history_root` (covering blocks `0..height`).
    pub history_root: Hash,
    /// Who signed it.
    pub attestation: Attestation,
    /// Validator-set changes traced from genesis.
    pub validator_changes: usize,
}

/// What a consistency check between two checkpoints proved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsistencyVerdict {
    /// The earlier checkpoint.
    pub old: CheckpointVerdict,
    /// The later one.
    pub new: CheckpointVerdict,
}

impl SavedCheckpoint {
    /// A checkpoint of `header` with its `commit` and the changes up to it.
    pub fn new(
        genesis_hash: Hash,
        header: &Header,
        commit: &Commit,
        validator_changes: Vec<ValidatorSetChange>,
    ) -> Self {
        SavedCheckpoint {
            version: BUNDLE_VERSION,
            chain_id: header.chain_id.clone(),
            genesis_hash,
            header: HexBytes::of(header),
            commit: HexBytes::of(commit),
            validator_changes,
            consistency: None,
        }
    }

    /// Parses checkpoint JSON: the size first, then the whole schema.
    pub fn from_json(json: &str) -> Result<Self, BundleError> {
        parse_document(json)
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        // Plain structs of strings and numbers: serialising cannot fail.
        serde_json::to_string_pretty(self).expect("checkpoint serialises to JSON") + "\n"
    }
}

/// Verifies a saved checkpoint against the genesis: its origin, the validator-set changes
/// from genesis, and its commit by the set in force at its height.
pub fn verify_checkpoint(checkpoint: &SavedCheckpoint, trust: &TrustRoot) -> Result<CheckpointVerdict, VerifyError> {
    check_origin(trust, "checkpoint", checkpoint.version, &checkpoint.chain_id, &checkpoint.genesis_hash)?;
    let header: Header =
        checkpoint.header.decode().map_err(|source| VerifyError::Decode { what: "checkpoint header", source })?;
    let commit: Commit =
        checkpoint.commit.decode().map_err(|source| VerifyError::Decode { what: "checkpoint commit", source })?;
    check_chain("checkpoint header", &trust.chain_id, &header.chain_id)?;
    let (_, attestation) = verify_attested(trust, &header, &commit, &checkpoint.validator_changes)?;
    Ok(CheckpointVerdict {
        height: header.height,
        block_hash: header.hash(),
        block_time_ms: header.time_ms,
        history_root: header.history_root,
        attestation,
        validator_changes: checkpoint.validator_changes.len(),
    })
}

/// Verifies that `new`'s history extends `old`'s: both checkpoints verify against the
/// genesis, and `new` carries a consistency proof from `old`'s height whose roots bind to
/// the two signed `history_root`s.
pub fn verify_consistency_of(
    old: &SavedCheckpoint,
    new: &SavedCheckpoint,
    trust: &TrustRoot,
) -> Result<ConsistencyVerdict, VerifyError> {
    let old = verify_checkpoint(old, trust)?;
    let new_verdict = verify_checkpoint(new, trust)?;
    extends(&old, &new_verdict, new.consistency.as_ref())?;
    Ok(ConsistencyVerdict { old, new: new_verdict })
}

/// `new`'s history extends `old`'s (equal checkpoints trivially).
fn extends(
    old: &CheckpointVerdict,
    new: &CheckpointVerdict,
    consistency: Option<&ConsistencyFrom>,
) -> Result<(), VerifyError> {
    if old.height == new.height {
        return match old.block_hash == new.block_hash {
            true => Ok(()),
            false => Err(VerifyError::NotConsistent(format!(
                "two different blocks at height {}: {} and {}",
                old.height, old.block_hash, new.block_hash
            ))),
        };
    }
    if old.height == 0 {
        // The history of no blocks is a prefix of every history.
        return Ok(());
    }
    if old.height > new.height {
        return Err(VerifyError::NotConsistent(format!(
            "the later checkpoint (height {}) is below the earlier one (height {}); give them oldest first",
            new.height, old.height
        )));
    }
    let Some(consistency) = consistency.filter(|c| c.from_height == old.height) else {
        return Err(VerifyError::NotConsistent(format!(
            "the checkpoint at height {} carries no consistency proof from height {}; save it with `chancery checkpoint --since` the earlier one",
            new.height, old.height
        )));
    };
    history_extends(old, new, consistency).map_err(|e| VerifyError::NotConsistent(e.to_string()))
}

/// The proof's two RFC 9162 roots bind to the two signed `history_root`s, and the second
/// tree extends the first (RFC 9162 §2.1.4.2).
fn history_extends(
    old: &CheckpointVerdict,
    new: &CheckpointVerdict,
    consistency: &ConsistencyFrom,
) -> Result<(), HistoryProofError> {
    if bind_root(old.height, &consistency.from_mth) != old.history_root {
        return Err(HistoryProofError::RootMismatch { which: "first" });
    }
    if bind_root(new.height, &consistency.to_mth) != new.history_root {
        return Err(HistoryProofError::RootMismatch { which: "second" });
    }
    verify_consistency::<Blake3History>(
        old.height,
        new.height,
        &consistency.proof,
        &consistency.from_mth,
        &consistency.to_mth,
    )
}

/// Verifies `bundle` as [`super::verify`] does, then against a trusted
/// checkpoint: the block must be in the checkpoint's history, shown by the bundle's own
/// checkpoint being that one, or by the trusted checkpoint's consistency proof from the
/// bundle's checkpoint. The report's trust basis names the checkpoint.
pub fn verify_with_checkpoint(
    bundle: &ProofBundle,
    trust: &TrustRoot,
    file: Option<&[u8]>,
    trusted: &SavedCheckpoint,
) -> Result<Report, VerifyError> {
    let mut report = super::tx::verify(bundle, trust, file)?;
    let anchor = verify_checkpoint(trusted, trust)?;
    if report.height >= anchor.height {
        return Err(VerifyError::NotConsistent(format!(
            "the trusted checkpoint (height {}) is not after the block (height {}); use a checkpoint saved later",
            anchor.height, report.height
        )));
    }
    let Some(shown) = &report.checkpoint else {
        return Err(VerifyError::NotConsistent(format!(
            "the bundle carries no checkpoint, so nothing shows its block in the trusted history; fetch it with `chancery proof --tx {} --checkpoint {}`",
            report.tx_hash, anchor.height
        )));
    };
    let refetch = || {
        format!(
            "fetch the proof against it with `chancery proof --tx {} --checkpoint {}`",
            report.tx_hash, anchor.height
        )
    };
    if shown.height > anchor.height {
        return Err(VerifyError::NotConsistent(format!(
            "the bundle's checkpoint (height {}) is after the trusted checkpoint (height {}); {}",
            shown.height,
            anchor.height,
            refetch()
        )));
    }
    if shown.height < anchor.height && trusted.consistency.as_ref().is_none_or(|c| c.from_height != shown.height) {
        return Err(VerifyError::NotConsistent(format!(
            "the trusted checkpoint carries no consistency proof from the bundle's checkpoint (height {}); {}",
            shown.height,
            refetch()
        )));
    }
    let shown = CheckpointVerdict {
        height: shown.height,
        block_hash: shown.block_hash,
        block_time_ms: shown.block_time_ms,
        history_root: bundle_checkpoint_root(bundle)?,
        attestation: shown.attestation.clone(),
        validator_changes: report.validator_changes,
    };
    extends(&shown, &anchor, trusted.consistency.as_ref())?;
    report.trust_basis = TrustBasis::Checkpoint {
        height: anchor.height,
        block_hash: anchor.block_hash,
        block_time_ms: anchor.block_time_ms,
    };
    Ok(report)
}

fn bundle_checkpoint_root(bundle: &ProofBundle) -> Result<Hash, VerifyError> {
    let checkpoint = bundle.checkpoint.as_ref().ok_or_else(|| VerifyError::NotConsistent("no checkpoint".into()))?;
    let header: Header =
        checkpoint.header.decode().map_err(|source| VerifyError::Decode { what: "checkpoint header", source })?;
    Ok(header.history_root)
}

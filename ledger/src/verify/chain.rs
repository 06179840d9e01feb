//! Proof of the chain: the validator sets traced from genesis through their changes, a
//! header's commit by the set in force at its height, the link of block 0 to the genesis,
//! and a later checkpoint whose history includes a block. Every proof document relies
//! on these.

use serde::{Deserialize, Serialize};

use super::json::{BundleError, BUNDLE_VERSION};
use super::report::{Attestation, Attestor, CheckpointReport, TrustRoot, VerifyError};
use crate::hash::Hash;
use crate::hex::HexBytes;
use crate::limits::BUNDLE_SET_CHANGES_MAX;
use crate::merkle::history::verify_block_in_history;
use crate::types::block::{ChainId, Commit, Header};
use crate::types::validator::ValidatorSet;

/// A validator-set change: the header that committed the new set (its
/// `next_validators_hash`), that header's commit by the set in force there, and the new
/// set, which signs from the header's height + 1 on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorSetChange {
    /// The committing header, canonical bytes.
    pub header: HexBytes,
    /// Its commit, canonical bytes.
    pub commit: HexBytes,
    /// The new set, canonical bytes.
    pub validators: HexBytes,
}

/// A later committed header and the history-tree path from the proven block to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The later header, canonical bytes.
    pub header: HexBytes,
    /// Its commit, canonical bytes.
    pub commit: HexBytes,
    /// Inclusion proof of the proven block's hash (leaf index = its height) in the
    /// history tree of size = the checkpoint's height.
    pub history_proof: Vec<Hash>,
}

impl ValidatorSetChange {
    /// The change `header` committed to `validators`, proven by `commit`.
    pub fn new(header: &Header, commit: &Commit, validators: &ValidatorSet) -> Self {
        ValidatorSetChange {
            header: HexBytes::of(header),
            commit: HexBytes::of(commit),
            validators: HexBytes::of(validators),
        }
    }
}

/// Steps 1 and 3 for any proof object: its version, chain and genesis.
pub fn check_origin(
    trust: &TrustRoot,
    what: &'static str,
    version: u32,
    chain_id: &ChainId,
    genesis_hash: &Hash,
) -> Result<(), VerifyError> {
    if version != BUNDLE_VERSION {
        return Err(BundleError::UnsupportedVersion { found: version.into() }.into());
    }
    check_chain(what, &trust.chain_id, chain_id)?;
    if *genesis_hash != trust.genesis_hash {
        return Err(VerifyError::WrongGenesis { expected: trust.genesis_hash, got: *genesis_hash });
    }
    Ok(())
}

/// Steps 7 to 9: the validator sets traced from genesis through `changes`, the header's
/// commit by the set in force, and block 0's link to the genesis.
pub fn verify_attested(
    trust: &TrustRoot,
    header: &Header,
    commit: &Commit,
    changes: &[ValidatorSetChange],
) -> Result<(Vec<(u64, ValidatorSet)>, Attestation), VerifyError> {
    let sets = trace_validator_sets(trust, changes)?;
    let attestation = verify_commit(trust, "header", "block", header, commit, &sets)?;
    if header.height == 0 && header.prev_hash != trust.genesis_hash {
        return Err(VerifyError::GenesisLinkMismatch { expected: trust.genesis_hash, got: header.prev_hash });
    }
    Ok((sets, attestation))
}

/// That `got` is the genesis chain id `expected`.
pub fn check_chain(what: &'static str, expected: &ChainId, got: &ChainId) -> Result<(), VerifyError> {
    if expected != got {
        return Err(VerifyError::WrongChain { what, expected: expected.to_string(), got: got.to_string() });
    }
    Ok(())
}

/// Validator sets from genesis on, each with the first height it signs (its index is
/// its epoch).
fn trace_validator_sets(
    trust: &TrustRoot,
    changes: &[ValidatorSetChange],
) -> Result<Vec<(u64, ValidatorSet)>, VerifyError> {
    if changes.len() > BUNDLE_SET_CHANGES_MAX {
        return Err(VerifyError::TooManyChanges { count: changes.len(), max: BUNDLE_SET_CHANGES_MAX });
    }
    let mut sets = vec![(0, trust.validators.clone())];
    for (index, change) in changes.iter().enumerate() {
        let (from, current) = sets.last().map(|(h, s)| (*h, s)).unwrap_or((0, &trust.validators));
        let header: Header =
            change.header.decode().map_err(|source| VerifyError::Decode { what: "change header", source })?;
        let commit: Commit =
            change.commit.decode().map_err(|source| VerifyError::Decode { what: "change commit", source })?;
        let next: ValidatorSet =
            change.validators.decode().map_err(|source| VerifyError::Decode { what: "validator set", source })?;
        check_chain("change header", &trust.chain_id, &header.chain_id)?;
        let height = header.height;
        if height < from {
            return Err(VerifyError::ChangeOutOfOrder { index, height, previous: from });
        }
        if header.validators_epoch != index as u64 {
            return Err(VerifyError::EpochMismatch {
                what: format!("validator-set change #{index}"),
                height,
                named: header.validators_epoch,
                traced: index as u64,
            });
        }
        let not_a_change = |reason: &str| VerifyError::NotAChange { index, height, reason: reason.into() };
        if header.next_validators_hash != next.hash() {
            return Err(not_a_change("the header's next_validators_hash is not the hash of the set carried"));
        }
        if header.next_validators_hash == header.validators_hash {
            return Err(not_a_change("the header keeps its validator set"));
        }
        commit.verify(&header, current, &trust.genesis_hash).map_err(|source| VerifyError::ChangeNotCommitted {
            index,
            height,
            source,
        })?;
        next.validate().map_err(|source| VerifyError::InvalidValidatorSet { index, height, source })?;
        let from = height.checked_add(1).ok_or_else(|| not_a_change("a change at the last possible height"))?;
        sets.push((from, next));
    }
    Ok(sets)
}

/// The set in force at `height` and its epoch. `sets[0]` starts at height 0, so some
/// entry always applies.
fn set_at(sets: &[(u64, ValidatorSet)], height: u64) -> (u64, &ValidatorSet) {
    let epoch = sets.partition_point(|(from, _)| *from <= height).saturating_sub(1);
    (epoch as u64, &sets[epoch].1)
}

/// The header's set traced from `sets`, its epoch and hash, and its commit by that set.
fn verify_commit(
    trust: &TrustRoot,
    what: &'static str,
    commit_what: &'static str,
    header: &Header,
    commit: &Commit,
    sets: &[(u64, ValidatorSet)],
) -> Result<Attestation, VerifyError> {
    let (epoch, set) = set_at(sets, header.height);
    if header.validators_epoch != epoch {
        return Err(VerifyError::EpochMismatch {
            what: what.into(),
            height: header.height,
            named: header.validators_epoch,
            traced: epoch,
        });
    }
    let traced = set.hash();
    if traced != header.validators_hash {
        return Err(VerifyError::ValidatorSetMismatch {
            what,
            height: header.height,
            named: header.validators_hash,
            traced,
        });
    }
    let signers = commit
        .verify(header, set, &trust.genesis_hash)
        .map_err(|source| VerifyError::Commit { what: commit_what, source })?;
    let validators: Vec<Attestor> = signers
        .iter()
        .map(|&i| {
            let v = &set.validators[i];
            Attestor { name: v.name.to_string(), role: v.role, power: v.power, key: v.consensus_key }
        })
        .collect();
    Ok(Attestation {
        signed_power: validators.iter().map(|a| a.power).sum(),
        total_power: set.total_power(),
        validators,
    })
}

/// Step 8: the bundle's checkpoint is later, committed by the set in force there, and its
/// history includes the proven block.
pub fn verify_bundle_checkpoint(
    trust: &TrustRoot,
    checkpoint: &Checkpoint,
    header: &Header,
    block_hash: &Hash,
    sets: &[(u64, ValidatorSet)],
) -> Result<CheckpointReport, VerifyError> {
    let later: Header =
        checkpoint.header.decode().map_err(|source| VerifyError::Decode { what: "checkpoint header", source })?;
    let commit: Commit =
        checkpoint.commit.decode().map_err(|source| VerifyError::Decode { what: "checkpoint commit", source })?;
    check_chain("checkpoint header", &trust.chain_id, &later.chain_id)?;
    if later.height <= header.height {
        return Err(VerifyError::CheckpointNotLater { block: header.height, checkpoint: later.height });
    }
    let attestation = verify_commit(trust, "checkpoint header", "checkpoint", &later, &commit, sets)?;
    verify_block_in_history(header.height, block_hash, later.height, &checkpoint.history_proof, &later.history_root)
        .map_err(VerifyError::NotInCheckpoint)?;
    Ok(CheckpointReport { height: later.height, block_hash: later.hash(), block_time_ms: later.time_ms, attestation })
}

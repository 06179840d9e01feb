//! Blocks: headers, blocks and commits (a quorum of precommit votes). The identifiers,
//! parameters and votes they are made of are re-exported here.

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::codec::{encode, BoundedVec, Canonical};
use crate::crypto::{PublicKey, Signature};
use crate::hash::{Hash, HashContext};
use crate::limits::{BLOCK_BYTES_MAX, BLOCK_TXS_MAX, COMMIT_BYTES_MAX, HEADER_BYTES_MAX, VALIDATORS_MAX};
use crate::types::tx::Tx;
use crate::types::validator::{QuorumError, ValidatorSet};

pub use crate::types::ids::{ChainId, ChainIdError, ChainIdentity};
pub use crate::types::params::{Params, ParamsError, Timeouts};
pub use crate::types::vote::{ProposalHeader, Vote, VoteKind};

/// A block header. Heights start at 0; the block hash is [`Header::hash`].
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// The chain.
    pub chain_id: ChainId,
    /// Height, from 0.
    pub height: u64,
    /// Block time in milliseconds since the Unix epoch, attested by the quorum.
    pub time_ms: u64,
    /// Hash of the previous block's header; the genesis hash for height 0.
    pub prev_hash: Hash,
    /// Root of this block's tx tree bound to `tx_count`.
    pub tx_root: Hash,
    /// Number of txs in the block.
    pub tx_count: u32,
    /// Root of the history tree over the hashes of blocks `0..height`.
    pub history_root: Hash,
    /// Hash of the validator set that signs this block's commit.
    pub validators_hash: Hash,
    /// How many validator-set changes took effect at or before this height (0 while the
    /// genesis set is in force). A block whose `next_validators_hash` differs from its
    /// `validators_hash` makes a change, and the next block counts one more; so a proof
    /// must carry exactly this many changes, each at a signed height.
    pub validators_epoch: u64,
    /// Hash of the validator set for the next height.
    pub next_validators_hash: Hash,
    /// Commitment to the ledger state after this block's txs.
    pub state_root: Hash,
    /// Consensus key of the proposer.
    pub proposer: PublicKey,
}

impl Canonical for Header {
    const KIND: &'static str = "header";
    const BYTES_MAX: usize = HEADER_BYTES_MAX;
}

impl Header {
    /// The block hash: `BLAKE3-derive_key("chancery v1 block header", header bytes)`.
    pub fn hash(&self) -> Hash {
        HashContext::Header.hash(&encode(self))
    }
}

/// A block: header and txs in tx-tree order.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Block {
    /// The header.
    pub header: Header,
    /// The txs.
    pub txs: BoundedVec<Tx, BLOCK_TXS_MAX>,
}

impl Canonical for Block {
    const KIND: &'static str = "block";
    const BYTES_MAX: usize = BLOCK_BYTES_MAX;
}

/// One validator's precommit signature in a commit.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitSig {
    /// The validator's consensus key.
    pub validator: PublicKey,
    /// Its signature over the precommit vote for the committed block.
    pub signature: Signature,
}

/// Precommits of more than two thirds of the voting power for one block.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Commit {
    /// Height of the block.
    pub height: u64,
    /// Round in which it was decided.
    pub round: u32,
    /// The block hash.
    pub block_hash: Hash,
    /// The precommit signatures.
    pub signatures: BoundedVec<CommitSig, VALIDATORS_MAX>,
}

impl Canonical for Commit {
    const KIND: &'static str = "commit";
    const BYTES_MAX: usize = COMMIT_BYTES_MAX;
}

/// Why a commit does not prove a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// The commit is for another height.
    #[error("commit is for height {got}, the header is at height {expected}")]
    WrongHeight {
        /// The header's height.
        expected: u64,
        /// The commit's height.
        got: u64,
    },
    /// The commit is for another block.
    #[error("commit is for block {got}, the header hashes to {expected}")]
    WrongBlock {
        /// The header's hash.
        expected: Hash,
        /// The commit's block hash.
        got: Hash,
    },
    /// The header's validator set is not the set given.
    #[error("header names validator set {expected}, the set given hashes to {got}")]
    WrongValidatorSet {
        /// The header's `validators_hash`.
        expected: Hash,
        /// Hash of the set given.
        got: Hash,
    },
    /// The signatures are not a quorum.
    #[error("commit signatures: {0}")]
    Quorum(#[from] QuorumError),
}

impl Commit {
    /// The precommit vote each signature in this commit covers.
    pub fn vote(&self, chain_id: &ChainId, genesis_hash: &Hash) -> Vote {
        Vote {
            chain_id: chain_id.clone(),
            genesis_hash: *genesis_hash,
            height: self.height,
            round: self.round,
            kind: VoteKind::Precommit,
            block_hash: Some(self.block_hash),
        }
    }

    /// Checks that this commit proves `header`: same height and block, and precommit
    /// signatures of distinct validators of `validators` (the set the header names)
    /// holding more than two thirds of its power, signed for the chain of `genesis_hash`.
    /// Returns the signers' indices.
    pub fn verify(
        &self,
        header: &Header,
        validators: &ValidatorSet,
        genesis_hash: &Hash,
    ) -> Result<Vec<usize>, CommitError> {
        if self.height != header.height {
            return Err(CommitError::WrongHeight { expected: header.height, got: self.height });
        }
        let block_hash = header.hash();
        if self.block_hash != block_hash {
            return Err(CommitError::WrongBlock { expected: block_hash, got: self.block_hash });
        }
        let set_hash = validators.hash();
        if set_hash != header.validators_hash {
            return Err(CommitError::WrongValidatorSet { expected: header.validators_hash, got: set_hash });
        }
        let message = self.vote(&header.chain_id, genesis_hash).signing_message();
        let pairs: Vec<_> = self.signatures.iter().map(|s| (s.validator, s.signature)).collect();
        Ok(validators.verify_quorum(&message, &pairs)?)
    }
}

//! Chain-level objects: chain id, parameters, block headers, blocks, votes and commits.

use bincode::de::{BorrowDecoder, Decoder};
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{BorrowDecode, Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::codec::{encode, field_error, BoundedString, BoundedVec, Canonical};
use crate::crypto::{PublicKey, Signature};
use crate::hash::{Hash, HashContext};
use crate::limits::{
    BLOCK_BYTES_MAX, BLOCK_TXS_MAX, CHAIN_ID_BYTES_MAX, CLOCK_DRIFT_MS_MAX, COMMIT_BYTES_MAX, HEADER_BYTES_MAX,
    TIMEOUT_MS_MAX, TX_BYTES_MAX, VALIDATORS_MAX,
};
use crate::tx::Tx;
use crate::validator::{QuorumError, ValidatorSet};

/// A chain id: 1 to 64 ASCII letters, digits, `-`, `_` or `.` (for example `court-net-1`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ChainId(BoundedString<CHAIN_ID_BYTES_MAX>);

/// A chain id that breaks the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chain id {given:?} is invalid: use 1 to {CHAIN_ID_BYTES_MAX} ASCII letters, digits, '-', '_' or '.'")]
pub struct ChainIdError {
    /// The text given (cut to 80 characters).
    pub given: String,
}

impl ChainId {
    /// Checks and wraps `text`.
    pub fn new(text: &str) -> Result<Self, ChainIdError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if !text.chars().all(allowed) {
            return Err(ChainIdError { given: text.chars().take(80).collect() });
        }
        BoundedString::new(text).map(ChainId).map_err(|_| ChainIdError { given: text.chars().take(80).collect() })
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl std::fmt::Display for ChainId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Encode for ChainId {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        self.0.encode(encoder)
    }
}

impl<C> Decode<C> for ChainId {
    fn decode<D: Decoder<Context = C>>(decoder: &mut D) -> Result<Self, DecodeError> {
        let text = BoundedString::<CHAIN_ID_BYTES_MAX>::decode(decoder)?;
        ChainId::new(text.as_str()).map_err(|e| field_error(e.to_string()))
    }
}

impl<'de, C> BorrowDecode<'de, C> for ChainId {
    fn borrow_decode<D: BorrowDecoder<'de, Context = C>>(decoder: &mut D) -> Result<Self, DecodeError> {
        Decode::decode(decoder)
    }
}

impl<'de> Deserialize<'de> for ChainId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ChainId::new(&text).map_err(serde::de::Error::custom)
    }
}

/// A chain's identity: its id and its genesis hash, both bound into every signed message,
/// so a chain relaunched with the same id and keys shares no valid signature with it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChainIdentity {
    /// The chain id.
    pub chain_id: ChainId,
    /// The genesis hash.
    pub genesis_hash: Hash,
}

/// Chain parameters, set in genesis and changed only by governance.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Most txs in a block (at most [`BLOCK_TXS_MAX`]).
    pub max_block_txs: u32,
    /// Largest block encoding in bytes (at most [`BLOCK_BYTES_MAX`]).
    pub max_block_bytes: u32,
    /// Largest tx encoding in bytes (at most [`TX_BYTES_MAX`]).
    pub max_tx_bytes: u32,
    /// How far a proposed block's time may differ from a validator's clock.
    pub max_clock_drift_ms: u64,
    /// Consensus timeouts.
    pub timeouts: Timeouts,
}

impl Canonical for Params {
    const KIND: &'static str = "params";
    const BYTES_MAX: usize = 128;
}

/// Consensus timeouts, in milliseconds; each round adds `round_increase_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// Wait for a proposal.
    pub propose_ms: u64,
    /// Wait for prevotes after seeing +2/3 of them for different values.
    pub prevote_ms: u64,
    /// Wait for precommits after seeing +2/3 of them for different values.
    pub precommit_ms: u64,
    /// Pause after a commit before starting the next height.
    pub commit_ms: u64,
    /// Added to each timeout per round.
    pub round_increase_ms: u64,
}

/// Parameters that break a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("params.{field} is {value}; it must be between {min} and {max}")]
pub struct ParamsError {
    /// The field.
    pub field: &'static str,
    /// Its value.
    pub value: u64,
    /// Smallest allowed.
    pub min: u64,
    /// Largest allowed.
    pub max: u64,
}

impl Params {
    /// Checks every field against its hard limit.
    pub fn validate(&self) -> Result<(), ParamsError> {
        let t = &self.timeouts;
        let checks: [(&'static str, u64, u64, u64); 9] = [
            ("max_block_txs", self.max_block_txs.into(), 1, BLOCK_TXS_MAX as u64),
            ("max_block_bytes", self.max_block_bytes.into(), (HEADER_BYTES_MAX + 1024) as u64, BLOCK_BYTES_MAX as u64),
            ("max_tx_bytes", self.max_tx_bytes.into(), 256, TX_BYTES_MAX.min(self.max_block_bytes as usize) as u64),
            ("max_clock_drift_ms", self.max_clock_drift_ms, 1, CLOCK_DRIFT_MS_MAX),
            ("timeouts.propose_ms", t.propose_ms, 1, TIMEOUT_MS_MAX),
            ("timeouts.prevote_ms", t.prevote_ms, 1, TIMEOUT_MS_MAX),
            ("timeouts.precommit_ms", t.precommit_ms, 1, TIMEOUT_MS_MAX),
            ("timeouts.commit_ms", t.commit_ms, 0, TIMEOUT_MS_MAX),
            ("timeouts.round_increase_ms", t.round_increase_ms, 0, TIMEOUT_MS_MAX),
        ];
        for (field, value, min, max) in checks {
            if value < min || value > max {
                return Err(ParamsError { field, value, min, max });
            }
        }
        Ok(())
    }
}

impl Default for Params {
    fn default() -> Self {
        Params {
            max_block_txs: 10_000,
            max_block_bytes: 8 * 1024 * 1024,
            max_tx_bytes: TX_BYTES_MAX as u32,
            max_clock_drift_ms: 5_000,
            timeouts: Timeouts {
                propose_ms: 3_000,
                prevote_ms: 1_000,
                precommit_ms: 1_000,
                commit_ms: 500,
                round_increase_ms: 500,
            },
        }
    }
}

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

/// The two kinds of consensus vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoteKind {
    /// First-round vote.
    Prevote,
    /// Second-round vote; a quorum of these for one block is its commit.
    Precommit,
}

/// What a validator signs when it votes. `block_hash` is `None` for a nil vote.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vote {
    /// The chain.
    pub chain_id: ChainId,
    /// The chain's genesis hash: a relaunched chain with the same id and keys never
    /// accepts this vote.
    pub genesis_hash: Hash,
    /// Height voted on.
    pub height: u64,
    /// Round voted in.
    pub round: u32,
    /// Prevote or precommit.
    pub kind: VoteKind,
    /// The block voted for, or `None` for nil.
    pub block_hash: Option<Hash>,
}

impl Canonical for Vote {
    const KIND: &'static str = "vote";
    const BYTES_MAX: usize = 256;
}

impl Vote {
    /// `BLAKE3-derive_key("chancery v1 vote", vote bytes)`: the message a validator signs.
    pub fn signing_message(&self) -> Hash {
        HashContext::Vote.hash(&encode(self))
    }
}

/// What a proposer signs when it proposes a block at a height and round. `pol_round` is
/// the round of the proof-of-lock the proposer re-proposes under, if any.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalHeader {
    /// The chain.
    pub chain_id: ChainId,
    /// The chain's genesis hash.
    pub genesis_hash: Hash,
    /// Height proposed at.
    pub height: u64,
    /// Round proposed in.
    pub round: u32,
    /// Proof-of-lock round, if re-proposing a locked block.
    pub pol_round: Option<u32>,
    /// The proposed block.
    pub block_hash: Hash,
}

impl Canonical for ProposalHeader {
    const KIND: &'static str = "proposal";
    const BYTES_MAX: usize = 256;
}

impl ProposalHeader {
    /// `BLAKE3-derive_key("chancery v1 proposal", proposal bytes)`: the message a proposer
    /// signs.
    pub fn signing_message(&self) -> Hash {
        HashContext::Proposal.hash(&encode(self))
    }
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

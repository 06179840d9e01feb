//! What validators sign in consensus: votes and proposal headers. A commit is a quorum
//! of precommit votes ([`crate::types::block::Commit`]).

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::codec::{encode, Canonical};
use crate::hash::{Hash, HashContext};
use crate::types::ids::ChainId;

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

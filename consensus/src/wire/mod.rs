//! Byte forms of what consensus records and (with the network) sends: signed votes and
//! proposals, polka certificates, and the WAL entries that replay a height after a
//! crash. Canonical ledger encoding (bincode, bounded), so a torn or altered record is
//! refused by the decoder rather than misread.

use bincode::{Decode, Encode};
use chancery_ledger::codec::BoundedVec;
use chancery_ledger::limits::{BLOCK_BYTES_MAX, VALIDATORS_MAX};
use chancery_ledger::{Block, Canonical, Hash, PublicKey, Signature, VoteKind};
use malachitebft_core_consensus::{Input, LocallyProposedValue, ProposedValue};
use malachitebft_core_types::{
    NilOrVal, PolkaCertificate, PolkaSignature, Round, SignedMessage, SignedProposal, SignedVote, Timeout, TimeoutKind,
    Validity, ValueOrigin, VoteType,
};

use crate::context::{
    Address, BlockHash, BlockValue, ChanceryContext as Ctx, ConsensusProposal, ConsensusVote, Height, Sig,
};

mod message;

pub use message::{
    pack_txs, pack_txs_within, CompactProposal, Message, Reply, WirePolka, WireRoundCertificate, MESSAGE_BYTES_MAX,
    TXS_MESSAGE_BYTES_MAX, TXS_PER_MESSAGE_MAX,
};

/// A signed prevote or precommit.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct WireVote {
    /// Height.
    pub height: u64,
    /// Round.
    pub round: u32,
    /// Prevote or precommit.
    pub kind: VoteKind,
    /// The block voted for, or nil.
    pub block_hash: Option<Hash>,
    /// The voter.
    pub validator: PublicKey,
    /// The voter's signature over the ledger vote.
    pub signature: Signature,
}

/// A signed proposal with its whole block.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct WireProposal {
    /// Height.
    pub height: u64,
    /// Round.
    pub round: u32,
    /// Proof-of-lock round.
    pub pol_round: Option<u32>,
    /// The proposer.
    pub proposer: PublicKey,
    /// The block.
    pub block: Block,
    /// The proposer's signature over the ledger proposal header.
    pub signature: Signature,
}

/// One WAL record: an input the core asked to persist before acting on it.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum WalEntry {
    /// A vote (ours or a peer's).
    Vote(WireVote),
    /// A signed proposal.
    Proposal(WireProposal),
    /// A block and our verdict on it.
    ProposedValue {
        /// Height.
        height: u64,
        /// Round.
        round: u32,
        /// Its proof-of-lock round.
        valid_round: Option<u32>,
        /// Its proposer.
        proposer: PublicKey,
        /// The block.
        block: Block,
        /// Whether we found it valid.
        valid: bool,
        /// Whether it came from block sync rather than a proposal.
        from_sync: bool,
    },
    /// A block we proposed.
    Propose {
        /// Height.
        height: u64,
        /// Round.
        round: u32,
        /// The block.
        block: Block,
    },
    /// A timeout that fired.
    Timeout {
        /// Round.
        round: u32,
        /// 0 propose, 1 prevote, 2 precommit.
        kind: u8,
    },
    /// A polka certificate.
    Polka {
        /// Height.
        height: u64,
        /// Round.
        round: u32,
        /// The block.
        block_hash: Hash,
        /// The prevotes.
        signatures: BoundedVec<(PublicKey, Signature), VALIDATORS_MAX>,
    },
}

impl Canonical for WalEntry {
    const KIND: &'static str = "wal entry";
    const BYTES_MAX: usize = BLOCK_BYTES_MAX + 1024;
}

fn round(r: Round) -> Option<u32> {
    r.as_u32()
}

fn defined(r: Round) -> u32 {
    r.as_u32().unwrap_or(u32::MAX)
}

impl WireVote {
    /// The wire form of a signed vote.
    pub fn from_signed(vote: &SignedVote<Ctx>) -> Self {
        let v = &vote.message;
        WireVote {
            height: v.height.0,
            round: defined(v.round),
            kind: match v.vote_type {
                VoteType::Prevote => VoteKind::Prevote,
                VoteType::Precommit => VoteKind::Precommit,
            },
            block_hash: match &v.value {
                NilOrVal::Nil => None,
                NilOrVal::Val(h) => Some(h.0),
            },
            validator: v.validator.0,
            signature: Signature(vote.signature.0),
        }
    }

    /// Back to the core's signed vote.
    pub fn to_signed(&self) -> SignedVote<Ctx> {
        let vote = ConsensusVote {
            height: Height(self.height),
            round: Round::new(self.round),
            vote_type: match self.kind {
                VoteKind::Prevote => VoteType::Prevote,
                VoteKind::Precommit => VoteType::Precommit,
            },
            value: match self.block_hash {
                None => NilOrVal::Nil,
                Some(h) => NilOrVal::Val(BlockHash(h)),
            },
            validator: Address(self.validator),
        };
        SignedMessage::new(vote, Sig(self.signature.0))
    }
}

impl WireProposal {
    /// The wire form of a signed proposal.
    pub fn from_signed(proposal: &SignedProposal<Ctx>) -> Self {
        let p = &proposal.message;
        WireProposal {
            height: p.height.0,
            round: defined(p.round),
            pol_round: round(p.pol_round),
            proposer: p.proposer.0,
            block: p.value.block().clone(),
            signature: Signature(proposal.signature.0),
        }
    }

    /// Back to the core's signed proposal.
    pub fn to_signed(&self) -> SignedProposal<Ctx> {
        let proposal = ConsensusProposal {
            height: Height(self.height),
            round: Round::new(self.round),
            value: BlockValue::new(self.block.clone()),
            pol_round: self.pol_round.map_or(Round::Nil, Round::new),
            proposer: Address(self.proposer),
        };
        SignedMessage::new(proposal, Sig(self.signature.0))
    }
}

/// The core persists only the three step timeouts.
fn timeout_kind(kind: TimeoutKind) -> Option<u8> {
    match kind {
        TimeoutKind::Propose => Some(0),
        TimeoutKind::Prevote => Some(1),
        TimeoutKind::Precommit => Some(2),
        _ => None,
    }
}

impl WalEntry {
    /// The record for a core input, or `None` for inputs the core never asks to persist.
    pub fn from_input(input: &Input<Ctx>) -> Option<Self> {
        Some(match input {
            Input::Vote(vote) => WalEntry::Vote(WireVote::from_signed(vote)),
            Input::Proposal(proposal) => WalEntry::Proposal(WireProposal::from_signed(proposal)),
            Input::ProposedValue(value, origin) => WalEntry::ProposedValue {
                height: value.height.0,
                round: defined(value.round),
                valid_round: round(value.valid_round),
                proposer: value.proposer.0,
                block: value.value.block().clone(),
                valid: value.validity == Validity::Valid,
                from_sync: *origin == ValueOrigin::Sync,
            },
            Input::Propose(local) => WalEntry::Propose {
                height: local.height.0,
                round: defined(local.round),
                block: local.value.block().clone(),
            },
            Input::TimeoutElapsed(timeout) => {
                WalEntry::Timeout { round: defined(timeout.round), kind: timeout_kind(timeout.kind)? }
            }
            Input::PolkaCertificate(cert) => WalEntry::Polka {
                height: cert.height.0,
                round: defined(cert.round),
                block_hash: cert.value_id.0,
                signatures: BoundedVec::new(
                    cert.polka_signatures.iter().map(|s| (s.address.0, Signature(s.signature.0))).collect(),
                )
                .ok()?,
            },
            _ => return None,
        })
    }

    /// The core input this record replays.
    pub fn to_input(&self) -> Result<Input<Ctx>, WireError> {
        Ok(match self {
            WalEntry::Vote(vote) => Input::Vote(vote.to_signed()),
            WalEntry::Proposal(proposal) => Input::Proposal(proposal.to_signed()),
            WalEntry::ProposedValue { height, round, valid_round, proposer, block, valid, from_sync } => {
                Input::ProposedValue(
                    ProposedValue {
                        height: Height(*height),
                        round: Round::new(*round),
                        valid_round: valid_round.map_or(Round::Nil, Round::new),
                        proposer: Address(*proposer),
                        value: BlockValue::new(block.clone()),
                        validity: if *valid { Validity::Valid } else { Validity::Invalid },
                    },
                    if *from_sync { ValueOrigin::Sync } else { ValueOrigin::Consensus },
                )
            }
            WalEntry::Propose { height, round, block } => Input::Propose(LocallyProposedValue::new(
                Height(*height),
                Round::new(*round),
                BlockValue::new(block.clone()),
            )),
            WalEntry::Timeout { round, kind } => {
                let kind = match kind {
                    0 => TimeoutKind::Propose,
                    1 => TimeoutKind::Prevote,
                    2 => TimeoutKind::Precommit,
                    other => return Err(WireError(format!("unknown timeout kind {other}"))),
                };
                Input::TimeoutElapsed(Timeout { kind, round: Round::new(*round) })
            }
            WalEntry::Polka { height, round, block_hash, signatures } => Input::PolkaCertificate(PolkaCertificate {
                height: Height(*height),
                round: Round::new(*round),
                value_id: BlockHash(*block_hash),
                polka_signatures: signatures.iter().map(|(a, s)| PolkaSignature::new(Address(*a), Sig(s.0))).collect(),
            }),
        })
    }
}

/// A record that decoded but does not describe a valid input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid consensus record: {0}")]
pub struct WireError(pub String);

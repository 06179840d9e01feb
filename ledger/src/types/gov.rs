//! On-chain governance: what institutions propose, how they vote, and the record of each
//! proposal kept in the state tree (so its status is provable like a certificate's).
//!
//! A proposal is a tx signed by a voting validator's admin key; its id is its tx hash. A
//! vote is a tx naming that id. A proposal executes once, in the block where the
//! approvals counted against the validator set in force for that block pass two thirds
//! of its power; it is rejected in the block where the rejections leave no quorum
//! reachable; it expires after `expires_at_height`. Proposing is not approving. A vote
//! counts while its admin key belongs to a voting validator of the set in force, so a
//! removed validator's vote (or one cast with a since-rotated admin key) stops counting.
//!
//! Key rotation needs no vote: an institution replaces its own consensus, p2p or admin
//! key with a tx signed by its current admin key. Every change to the validator set,
//! rotations included, takes effect at the next height (see [`crate::types::block::Header`]'s
//! `validators_epoch`).

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::codec::{BoundedBytes, BoundedVec, Canonical};
use crate::crypto::PublicKey;
use crate::hash::Hash;
use crate::limits::{GOV_PENDING_MAX, GOV_REASON_BYTES_MAX, GOV_VOTES_MAX, STATE_VALUE_BYTES_MAX};
use crate::types::params::Params;
use crate::types::validator::{has_quorum, CaId, Member, Name, Validator, ValidatorSet};

/// A change institutions can vote on.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Register a member (an integrator, or a CA owner with its CA id).
    AddMember(Member),
    /// Replace a member's name and role; the key names the member.
    UpdateMember(Member),
    /// Remove a member by key (a CA owner's CA id is freed with it).
    RemoveMember(PublicKey),
    /// Remove the owner of a CA id, and the member it is.
    RemoveCa(CaId),
    /// Add a validator (from the next height on).
    AddValidator(Validator),
    /// Remove a validator by name (from the next height on).
    RemoveValidator(Name),
    /// Set a validator's voting power (from the next height on).
    SetPower {
        /// The validator.
        name: Name,
        /// Its new power.
        power: u64,
    },
    /// Replace the chain parameters.
    SetParams(Params),
}

impl Change {
    /// The change's name as the CLI and reports write it.
    pub fn name(&self) -> &'static str {
        match self {
            Change::AddMember(Member {
                role: crate::types::validator::MemberRole::CertificateAuthority { .. },
                ..
            }) => "add_ca",
            Change::AddMember(_) => "add_member",
            Change::UpdateMember(_) => "update_member",
            Change::RemoveMember(_) => "remove_member",
            Change::RemoveCa(_) => "remove_ca",
            Change::AddValidator(_) => "add_validator",
            Change::RemoveValidator(_) => "remove_validator",
            Change::SetPower { .. } => "set_power",
            Change::SetParams(_) => "set_params",
        }
    }
}

/// A governance proposal: a change and the last height at which it may still pass.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovProposal {
    /// The change.
    pub change: Change,
    /// Votes in blocks above this height are refused and the proposal is expired.
    pub expires_at_height: u64,
}

/// A vote on a proposal, by a voting validator's admin key.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovVote {
    /// The proposal's id (its tx hash).
    pub proposal: Hash,
    /// Approve or reject.
    pub approve: bool,
}

/// Which of its own keys an institution replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotatedKey {
    /// The key that signs votes and proposals.
    Consensus(PublicKey),
    /// The node's network identity.
    P2p(PublicKey),
    /// The governance key itself.
    Admin(PublicKey),
}

impl RotatedKey {
    /// "consensus", "p2p" or "admin".
    pub fn which(&self) -> &'static str {
        match self {
            RotatedKey::Consensus(_) => "consensus",
            RotatedKey::P2p(_) => "p2p",
            RotatedKey::Admin(_) => "admin",
        }
    }

    /// The new key.
    pub fn key(&self) -> PublicKey {
        match self {
            RotatedKey::Consensus(k) | RotatedKey::P2p(k) | RotatedKey::Admin(k) => *k,
        }
    }
}

/// A key rotation, signed by the institution's current admin key alone.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRotation {
    /// The key replaced and its successor.
    pub key: RotatedKey,
}

/// One recorded vote.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteEntry {
    /// The admin key that voted.
    pub admin_key: PublicKey,
    /// Approve or reject.
    pub approve: bool,
    /// The block that holds the vote.
    pub height: u64,
    /// The vote tx.
    pub tx_hash: Hash,
}

/// Where a proposal stands, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RecordedStatus {
    /// Open for votes until its expiry height.
    Pending,
    /// Approved and applied in the block at `height`.
    Executed {
        /// The block.
        height: u64,
    },
    /// Approved at `height`, but the change no longer applied there (for example the
    /// member it adds registered meanwhile); nothing changed.
    Failed {
        /// The block.
        height: u64,
        /// Why the change did not apply (UTF-8, cut to the limit; for people only).
        reason: BoundedBytes<GOV_REASON_BYTES_MAX>,
    },
    /// Rejected at `height`: the rejections left no quorum reachable.
    Rejected {
        /// The block.
        height: u64,
    },
}

/// Where a proposal stands at a given height (expiry is derived from the height).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum ProposalStatus {
    /// Open for votes.
    Pending,
    /// Applied at `height`.
    Executed {
        /// The block.
        height: u64,
    },
    /// Approved at `height`, not applicable there.
    Failed {
        /// The block.
        height: u64,
        /// Why.
        reason: String,
    },
    /// Rejected at `height`.
    Rejected {
        /// The block.
        height: u64,
    },
    /// Still pending after its expiry height.
    Expired {
        /// The last height at which it could pass.
        expires_at_height: u64,
    },
}

/// A proposal and its votes, as kept in the state tree under its id.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalRecord {
    /// The proposing admin key.
    pub proposer: PublicKey,
    /// The proposal.
    pub proposal: GovProposal,
    /// The block that holds it.
    pub height: u64,
    /// Every vote, in chain order.
    pub votes: BoundedVec<VoteEntry, GOV_VOTES_MAX>,
    /// Recorded status.
    pub status: RecordedStatus,
}

impl Canonical for ProposalRecord {
    const KIND: &'static str = "proposal record";
    const BYTES_MAX: usize = STATE_VALUE_BYTES_MAX;
}

/// The proposals still open, kept in the state so that a validator-set change can count
/// them again against the new set, and so that the open ones are listed without reading
/// every record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, Serialize, Deserialize)]
pub struct OpenProposals {
    /// Proposal ids with their expiry heights, oldest first.
    pub ids: BoundedVec<(Hash, u64), GOV_PENDING_MAX>,
}

impl Canonical for OpenProposals {
    const KIND: &'static str = "open proposals";
    const BYTES_MAX: usize = STATE_VALUE_BYTES_MAX;
}

/// Votes counted against one validator set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Power of the counted approvals.
    pub approve: u64,
    /// Power of the counted rejections.
    pub reject: u64,
    /// The set's total power.
    pub total: u64,
}

impl Tally {
    /// Approvals pass two thirds.
    pub fn passed(&self) -> bool {
        has_quorum(self.approve, self.total)
    }

    /// Even if every validator that has not voted approved, no quorum could be reached.
    pub fn unreachable(&self) -> bool {
        !has_quorum(self.total - self.reject, self.total)
    }
}

impl ProposalRecord {
    /// The status at `height`: a pending proposal past its expiry is expired.
    pub fn status_at(&self, height: u64) -> ProposalStatus {
        match &self.status {
            RecordedStatus::Pending if height > self.proposal.expires_at_height => {
                ProposalStatus::Expired { expires_at_height: self.proposal.expires_at_height }
            }
            RecordedStatus::Pending => ProposalStatus::Pending,
            RecordedStatus::Executed { height } => ProposalStatus::Executed { height: *height },
            RecordedStatus::Failed { height, reason } => ProposalStatus::Failed {
                height: *height,
                reason: String::from_utf8_lossy(reason.as_bytes()).into_owned(),
            },
            RecordedStatus::Rejected { height } => ProposalStatus::Rejected { height: *height },
        }
    }

    /// The votes that count against `set`: those whose admin key belongs to a voting
    /// validator of it.
    pub fn tally(&self, set: &ValidatorSet) -> Tally {
        let mut tally = Tally { approve: 0, reject: 0, total: set.total_power() };
        for vote in self.votes.iter() {
            if let Some((_, validator)) = set.find_admin(&vote.admin_key) {
                if vote.approve {
                    tally.approve += validator.power;
                } else {
                    tally.reject += validator.power;
                }
            }
        }
        tally
    }
}

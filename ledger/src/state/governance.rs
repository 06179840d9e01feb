//! Executing governance txs: proposals, votes and key rotations (rules in [`crate::types::gov`]).
//! A change is planned against the state as the block has it so far, without writing;
//! the plan is checked when the proposal arrives and applied when it passes.

use super::{ExecError, Overlay, Rules, StateKey, StateView, TxError, TxOutcome};
use crate::codec::{encode, BoundedBytes, BoundedVec};
use crate::crypto::PublicKey;
use crate::hash::Hash;
use crate::limits::{GOV_EXPIRY_BLOCKS_MAX, GOV_PENDING_MAX, GOV_REASON_BYTES_MAX, VALIDATORS_MAX};
use crate::types::gov::{
    Change, GovProposal, GovVote, KeyRotation, OpenProposals, ProposalRecord, RecordedStatus, RotatedKey, VoteEntry,
};
use crate::types::tx::Tx;
use crate::types::validator::{Member, MemberRole, Role, Validator, ValidatorSet};

/// A governance rule broken. Each message says what was wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GovRule {
    /// Governance txs are signed by an institution's admin key.
    #[error("signer {signer} is not the admin key of a validator of this chain; governance txs are signed with an institution's admin key")]
    NotAdmin {
        /// The signer.
        signer: String,
    },
    /// Proposals and votes come from voting validators' admin keys only.
    #[error("signer {signer} is the admin key of validator {name:?}, which has no voting power; only voting institutions propose and vote")]
    NotVoting {
        /// The signer.
        signer: String,
        /// Its validator.
        name: String,
    },
    /// The expiry height is not ahead of the block, or too far.
    #[error("proposal expires at height {expires_at_height}; it must be above this block's height {height} and at most {GOV_EXPIRY_BLOCKS_MAX} blocks after it")]
    ExpiryOutOfRange {
        /// The proposal's expiry.
        expires_at_height: u64,
        /// This block.
        height: u64,
    },
    /// The change cannot apply to the state as it stands.
    #[error("the change cannot apply: {0}")]
    InvalidChange(ChangeRefusal),
    /// No proposal has this id.
    #[error("no proposal {id} is on chain; vote with the id `chancery gov propose` printed")]
    UnknownProposal {
        /// The id.
        id: Hash,
    },
    /// The proposal ended.
    #[error("proposal {id} is {status} and takes no more votes")]
    Ended {
        /// The id.
        id: Hash,
        /// "executed at height H", "rejected at height H", ...
        status: String,
    },
    /// The proposal expired.
    #[error("proposal {id} expired after height {expires_at_height}; propose it again to vote on it")]
    Expired {
        /// The id.
        id: Hash,
        /// Its expiry.
        expires_at_height: u64,
    },
    /// This admin key has voted on the proposal already.
    #[error("admin key {signer} has already voted on proposal {id}; each institution votes once")]
    AlreadyVoted {
        /// The id.
        id: Hash,
        /// The signer.
        signer: String,
    },
    /// The proposal holds the most votes it can record.
    #[error("proposal {id} holds the most votes a proposal records; propose it again")]
    TooManyVotes {
        /// The id.
        id: Hash,
    },
    /// As many proposals are open as the chain keeps.
    #[error("{GOV_PENDING_MAX} proposals are open; vote on them or let them expire before proposing more")]
    TooManyOpen,
    /// A key rotation that cannot apply.
    #[error("key rotation refused: {0}")]
    BadRotation(String),
}

fn refuse(rule: GovRule) -> TxOutcome {
    Err(TxError::Gov(rule))
}

/// The signer must be the admin key of a voting validator of the set in force.
fn check_voting(rules: &Rules<'_>, tx: &Tx) -> Result<(), GovRule> {
    match rules.validators.find_admin(&tx.signer) {
        Some((_, v)) if v.power > 0 && v.role != Role::Observer => Ok(()),
        Some((_, v)) => Err(GovRule::NotVoting { signer: tx.signer.to_hex(), name: v.name.to_string() }),
        None => Err(GovRule::NotAdmin { signer: tx.signer.to_hex() }),
    }
}

/// A proposal: checked now against the state so far, recorded as pending.
pub(super) fn propose<V: StateView>(
    overlay: &mut Overlay<'_, V>,
    rules: &Rules<'_>,
    tx: &Tx,
    tx_hash: &Hash,
    proposal: &GovProposal,
) -> Result<TxOutcome, ExecError<V::Error>> {
    if let Err(rule) = check_voting(rules, tx) {
        return Ok(refuse(rule));
    }
    let height = rules.ctx.height;
    let expires_at_height = proposal.expires_at_height;
    if expires_at_height <= height || expires_at_height - height > GOV_EXPIRY_BLOCKS_MAX {
        return Ok(refuse(GovRule::ExpiryOutOfRange { expires_at_height, height }));
    }
    if let Err(reason) = plan_change(overlay, &proposal.change)? {
        return Ok(refuse(GovRule::InvalidChange(reason)));
    }
    let mut open = open_ids(overlay, height)?;
    if open.len() >= GOV_PENDING_MAX {
        return Ok(refuse(GovRule::TooManyOpen));
    }
    open.push((*tx_hash, expires_at_height));
    set_open(overlay, open)?;
    let record = ProposalRecord {
        proposer: tx.signer,
        proposal: proposal.clone(),
        height,
        votes: BoundedVec::empty(),
        status: RecordedStatus::Pending,
    };
    overlay.put(StateKey::Proposal(*tx_hash), Some(&record));
    Ok(Ok(()))
}

/// A vote: recorded, then the proposal counted against the set in force; it executes,
/// fails to apply, or is rejected in this block, or stays pending.
pub(super) fn vote<V: StateView>(
    overlay: &mut Overlay<'_, V>,
    rules: &Rules<'_>,
    tx: &Tx,
    tx_hash: &Hash,
    vote: &GovVote,
) -> Result<TxOutcome, ExecError<V::Error>> {
    if let Err(rule) = check_voting(rules, tx) {
        return Ok(refuse(rule));
    }
    let (id, height) = (vote.proposal, rules.ctx.height);
    let key = StateKey::Proposal(id);
    let Some(mut record) = overlay.get::<ProposalRecord>(&key)? else {
        return Ok(refuse(GovRule::UnknownProposal { id }));
    };
    match &record.status {
        RecordedStatus::Pending if height > record.proposal.expires_at_height => {
            return Ok(refuse(GovRule::Expired { id, expires_at_height: record.proposal.expires_at_height }));
        }
        RecordedStatus::Pending => {}
        RecordedStatus::Executed { height } => {
            return Ok(refuse(GovRule::Ended { id, status: format!("executed at height {height}") }))
        }
        RecordedStatus::Failed { height, .. } => {
            return Ok(refuse(GovRule::Ended { id, status: format!("failed to apply at height {height}") }))
        }
        RecordedStatus::Rejected { height } => {
            return Ok(refuse(GovRule::Ended { id, status: format!("rejected at height {height}") }))
        }
    }
    if record.votes.iter().any(|v| v.admin_key == tx.signer) {
        return Ok(refuse(GovRule::AlreadyVoted { id, signer: tx.signer.to_hex() }));
    }
    let mut votes = record.votes.into_vec();
    votes.push(VoteEntry { admin_key: tx.signer, approve: vote.approve, height, tx_hash: *tx_hash });
    record.votes = match BoundedVec::new(votes) {
        Ok(votes) => votes,
        Err(_) => return Ok(refuse(GovRule::TooManyVotes { id })),
    };
    settle(overlay, &mut record, rules.validators, height)?;
    overlay.put(key, Some(&record));
    if record.status != RecordedStatus::Pending {
        let open = open_ids(overlay, height)?.into_iter().filter(|(open, _)| *open != id).collect();
        set_open(overlay, open)?;
    }
    Ok(Ok(()))
}

/// Counts a pending proposal's votes against `validators` (the set in force for the block
/// at `height`): it executes (or fails to apply) when approvals pass two thirds, and is
/// rejected when rejections leave no quorum reachable.
fn settle<V: StateView>(
    overlay: &mut Overlay<'_, V>,
    record: &mut ProposalRecord,
    validators: &ValidatorSet,
    height: u64,
) -> Result<(), ExecError<V::Error>> {
    let tally = record.tally(validators);
    if tally.passed() {
        record.status = match plan_change(overlay, &record.proposal.change)? {
            Ok(writes) => {
                for (key, value) in writes {
                    overlay.put_raw(key, value);
                }
                RecordedStatus::Executed { height }
            }
            Err(reason) => RecordedStatus::Failed { height, reason: reason_text(&reason.to_string()) },
        };
    } else if tally.unreachable() {
        record.status = RecordedStatus::Rejected { height };
    }
    Ok(())
}

/// The open proposals (id, expiry height), without those expired before `height`. A
/// proposal leaves the list when it ends, so those listed are pending.
fn open_ids<V: StateView>(overlay: &Overlay<'_, V>, height: u64) -> Result<Vec<(Hash, u64)>, ExecError<V::Error>> {
    // Absent until the first proposal: none open.
    let open: OpenProposals = overlay.get(&StateKey::OpenProposals)?.unwrap_or_default();
    Ok(open.ids.iter().filter(|(_, expires_at_height)| height <= *expires_at_height).copied().collect())
}

fn set_open<V: StateView>(overlay: &mut Overlay<'_, V>, ids: Vec<(Hash, u64)>) -> Result<(), ExecError<V::Error>> {
    let ids =
        BoundedVec::new(ids).map_err(|e| ExecError::Corrupt { key: "OpenProposals".into(), reason: e.to_string() })?;
    overlay.put(StateKey::OpenProposals, Some(&OpenProposals { ids }));
    Ok(())
}

/// At the first block of a new validator set: every open proposal counted again against
/// it, in the order proposed. A removed validator's approval no longer counts, and the
/// remaining approvals may now pass two thirds, or the rejections doom it.
pub(super) fn recount<V: StateView>(
    overlay: &mut Overlay<'_, V>,
    validators: &ValidatorSet,
    height: u64,
) -> Result<(), ExecError<V::Error>> {
    let mut still_open = Vec::new();
    for (id, expires_at_height) in open_ids(overlay, height)? {
        let key = StateKey::Proposal(id);
        let mut record: ProposalRecord = super::required(overlay.get(&key)?, &key)?;
        settle(overlay, &mut record, validators, height)?;
        if record.status == RecordedStatus::Pending {
            still_open.push((id, expires_at_height));
        } else {
            overlay.put(key, Some(&record));
        }
    }
    set_open(overlay, still_open)
}

/// A reason as recorded: its first bytes up to the limit, cut at a character boundary.
/// Bytes, not a checked text field: any message (quotes, spaces at the cut, control
/// characters in a name) must be recordable, or a passing vote could not execute.
fn reason_text(reason: &str) -> BoundedBytes<GOV_REASON_BYTES_MAX> {
    let mut end = reason.len().min(GOV_REASON_BYTES_MAX);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let bytes = reason.as_bytes()[..end].to_vec();
    BoundedBytes::new(bytes).expect("at most GOV_REASON_BYTES_MAX bytes by construction")
}

/// A key rotation by the institution's current admin key: its entry in the next set gets
/// the new key.
pub(super) fn rotate<V: StateView>(
    overlay: &mut Overlay<'_, V>,
    rules: &Rules<'_>,
    tx: &Tx,
    rotation: &KeyRotation,
) -> Result<TxOutcome, ExecError<V::Error>> {
    let bad = |m: String| Ok(refuse(GovRule::BadRotation(m)));
    let Some((_, current)) = rules.validators.find_admin(&tx.signer) else {
        return Ok(refuse(GovRule::NotAdmin { signer: tx.signer.to_hex() }));
    };
    let mut next = next_set(overlay)?;
    let new_key = rotation.key.key();
    if !new_key.is_valid() {
        return bad(format!("the new {} key {new_key} is not a valid Ed25519 key", rotation.key.which()));
    }
    if rules.validators.uses_key(&new_key) || next.uses_key(&new_key) || overlay.member(&new_key)?.is_some() {
        return bad(format!("the new key {new_key} is already in use; generate a fresh key"));
    }
    let mut list = next.validators.to_vec();
    // The institution's entry for the next height is the one that still has this admin
    // key: a validator removed and added again in this block (fresh keys) is not it, and
    // after an admin-key rotation earlier in the block the new key rotates, from the
    // next height on.
    let Some(entry) = list.iter_mut().find(|v| v.name == current.name && v.admin_key == tx.signer) else {
        return bad(format!(
            "validator {:?} has no entry with this admin key for the next height (removed, or its admin key replaced in this block); rotate with its admin key of the next height",
            current.name.as_str()
        ));
    };
    match rotation.key {
        RotatedKey::Consensus(key) => entry.consensus_key = key,
        RotatedKey::P2p(key) => entry.p2p_key = key,
        RotatedKey::Admin(key) => entry.admin_key = key,
    }
    next = match checked_set(list) {
        Ok(set) => set,
        Err(reason) => return bad(reason.to_string()),
    };
    overlay.put(StateKey::Validators, Some(&next));
    Ok(Ok(()))
}

type Writes = Vec<(StateKey, Option<Vec<u8>>)>;

fn next_set<V: StateView>(overlay: &Overlay<'_, V>) -> Result<ValidatorSet, ExecError<V::Error>> {
    super::required(overlay.get(&StateKey::Validators)?, &StateKey::Validators)
}

/// Why a governance change cannot apply to the state as it stands (recorded, as text, in
/// a proposal that passed but failed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeRefusal {
    /// The key is no member's.
    #[error("key {key} is not a member")]
    NotAMember {
        /// The key.
        key: PublicKey,
    },
    /// No CA has this id.
    #[error("CA id {ca} is not registered")]
    CaNotRegistered {
        /// The id.
        ca: crate::types::ids::CaId,
    },
    /// A validator's key is a member's.
    #[error("key {key} is a member's key; a validator needs its own keys")]
    MembersKey {
        /// The key.
        key: PublicKey,
    },
    /// No validator has this name.
    #[error("no validator is named {name:?}")]
    NoValidator {
        /// The name.
        name: String,
    },
    /// The set would be too large.
    #[error("a set holds at most {VALIDATORS_MAX} validators")]
    SetTooLarge,
    /// The set would break a rule.
    #[error(transparent)]
    InvalidSet(#[from] crate::types::validator::ValidatorSetError),
    /// The parameters break a rule.
    #[error(transparent)]
    Params(#[from] crate::types::params::ParamsError),
    /// A member's key is not a valid Ed25519 key.
    #[error("member {name:?} has an invalid key")]
    InvalidMemberKey {
        /// The member's name.
        name: String,
    },
    /// The key is a member's already.
    #[error("key {key} is already a member")]
    AlreadyMember {
        /// The key.
        key: PublicKey,
    },
    /// A member's key is a validator's.
    #[error("key {key} is a validator's key; a member needs its own key")]
    ValidatorsKey {
        /// The key.
        key: PublicKey,
    },
    /// An integrator with no evidence kind.
    #[error("an integrator needs at least one evidence kind")]
    NoEvidenceKinds,
    /// Another CA has this id.
    #[error("CA id {ca} is already registered")]
    CaTaken {
        /// The id.
        ca: crate::types::ids::CaId,
    },
}

fn checked_set(list: Vec<Validator>) -> Result<ValidatorSet, ChangeRefusal> {
    let set = ValidatorSet::new(list).map_err(|_| ChangeRefusal::SetTooLarge)?;
    set.validate()?;
    Ok(set)
}

/// The writes `change` makes to the state as the block has it so far, or why it cannot
/// apply. Writes nothing itself.
fn plan_change<V: StateView>(
    overlay: &Overlay<'_, V>,
    change: &Change,
) -> Result<Result<Writes, ChangeRefusal>, ExecError<V::Error>> {
    let next = next_set(overlay)?;
    match change {
        Change::AddMember(member) => plan_member(overlay, &next, member, None),
        Change::UpdateMember(member) => match overlay.member(&member.key)? {
            Some(old) => plan_member(overlay, &next, member, Some(&old)),
            None => Ok(Err(ChangeRefusal::NotAMember { key: member.key })),
        },
        Change::RemoveMember(key) => match overlay.member(key)? {
            Some(old) => Ok(Ok(remove_member(&old))),
            None => Ok(Err(ChangeRefusal::NotAMember { key: *key })),
        },
        Change::RemoveCa(ca) => match overlay.get::<PublicKey>(&StateKey::CaOwner(ca.clone()))? {
            Some(owner) => {
                let member = super::required(overlay.member(&owner)?, &StateKey::Member(owner))?;
                Ok(Ok(remove_member(&member)))
            }
            None => Ok(Err(ChangeRefusal::CaNotRegistered { ca: ca.clone() })),
        },
        Change::AddValidator(validator) => {
            for key in [validator.consensus_key, validator.p2p_key, validator.admin_key] {
                if overlay.member(&key)?.is_some() {
                    return Ok(Err(ChangeRefusal::MembersKey { key }));
                }
            }
            let mut list = next.validators.to_vec();
            list.push(validator.clone());
            Ok(checked_set(list).map(|set| vec![(StateKey::Validators, Some(encode(&set)))]))
        }
        Change::RemoveValidator(name) => {
            let list: Vec<_> = next.validators.iter().filter(|v| v.name != *name).cloned().collect();
            if list.len() == next.validators.len() {
                return Ok(Err(ChangeRefusal::NoValidator { name: name.to_string() }));
            }
            Ok(checked_set(list).map(|set| vec![(StateKey::Validators, Some(encode(&set)))]))
        }
        Change::SetPower { name, power } => {
            let mut list = next.validators.to_vec();
            let Some(entry) = list.iter_mut().find(|v| v.name == *name) else {
                return Ok(Err(ChangeRefusal::NoValidator { name: name.to_string() }));
            };
            entry.power = *power;
            Ok(checked_set(list).map(|set| vec![(StateKey::Validators, Some(encode(&set)))]))
        }
        Change::SetParams(params) => {
            Ok(params.validate().map(|()| vec![(StateKey::Params, Some(encode(params)))]).map_err(ChangeRefusal::from))
        }
    }
}

/// Adding `member`, or updating `old` (same key) to it.
fn plan_member<V: StateView>(
    overlay: &Overlay<'_, V>,
    next: &ValidatorSet,
    member: &Member,
    old: Option<&Member>,
) -> Result<Result<Writes, ChangeRefusal>, ExecError<V::Error>> {
    if !member.key.is_valid() {
        return Ok(Err(ChangeRefusal::InvalidMemberKey { name: member.name.to_string() }));
    }
    if old.is_none() && overlay.member(&member.key)?.is_some() {
        return Ok(Err(ChangeRefusal::AlreadyMember { key: member.key }));
    }
    if next.uses_key(&member.key) {
        return Ok(Err(ChangeRefusal::ValidatorsKey { key: member.key }));
    }
    let mut writes = Writes::new();
    let old_ca = match old.map(|m| &m.role) {
        Some(MemberRole::CertificateAuthority { ca }) => Some(ca),
        _ => None,
    };
    match &member.role {
        MemberRole::Integrator { kinds } if kinds.is_empty() => return Ok(Err(ChangeRefusal::NoEvidenceKinds)),
        MemberRole::Integrator { .. } => {}
        MemberRole::CertificateAuthority { ca } if old_ca == Some(ca) => {}
        MemberRole::CertificateAuthority { ca } => {
            if overlay.get::<PublicKey>(&StateKey::CaOwner(ca.clone()))?.is_some() {
                return Ok(Err(ChangeRefusal::CaTaken { ca: ca.clone() }));
            }
            writes.push((StateKey::CaOwner(ca.clone()), Some(encode(&member.key))));
        }
    }
    if let Some(ca) =
        old_ca.filter(|ca| !matches!(&member.role, MemberRole::CertificateAuthority { ca: new } if new == *ca))
    {
        writes.push((StateKey::CaOwner(ca.clone()), None));
    }
    writes.push((StateKey::Member(member.key), Some(encode(member))));
    Ok(Ok(writes))
}

fn remove_member(member: &Member) -> Writes {
    let mut writes = vec![(StateKey::Member(member.key), None)];
    if let MemberRole::CertificateAuthority { ca } = &member.role {
        writes.push((StateKey::CaOwner(ca.clone()), None));
    }
    writes
}

#[cfg(test)]
mod tests {
    /// Regression: the reason was a checked text field, and a reason cut next to a space
    /// (or holding a control character) failed its rules, which panicked every node
    /// executing the block whose vote passed the proposal.
    #[test]
    fn any_reason_is_recordable_and_cut_at_a_character_boundary() {
        let quotes = format!("key is taken by {:?}", "\"".repeat(64));
        for reason in
            [String::new(), " trailing ".into(), "tab\there".into(), quotes, "é".repeat(200), "a ".repeat(300)]
        {
            let recorded = super::reason_text(&reason);
            assert!(recorded.as_bytes().len() <= super::GOV_REASON_BYTES_MAX);
            let text = std::str::from_utf8(recorded.as_bytes()).expect("whole characters");
            assert!(reason.starts_with(text));
        }
    }
}

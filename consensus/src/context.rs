//! Chancery's types behind Malachite's `Context`: heights, validator addresses (consensus
//! keys), blocks as values (identified by the block hash), and votes and proposals whose
//! signing bytes are the ledger's canonical encoding. A decided commit certificate is
//! therefore exactly the ledger `Commit` the offline verifier checks.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chancery_ledger::block::{Block, ChainIdentity, Params, ProposalHeader, Vote as LedgerVote, VoteKind};
use chancery_ledger::{Hash, PublicKey, ValidatorSet as LedgerValidatorSet};
use malachitebft_core_types::{self as core, LinearTimeouts, NilOrVal, Round, SignedExtension, VoteType, VotingPower};

/// A block height (heights start at 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl core::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(0);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator's address: its consensus key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub PublicKey);

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.short())
    }
}

impl core::Address for Address {}

/// A block's identity in consensus: its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockHash(pub Hash);

impl fmt::Display for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_hex()[..16])
    }
}

/// A proposed block, with its hash computed once (consensus asks for it on almost every
/// message).
#[derive(Debug, Clone)]
pub struct BlockValue {
    hash: BlockHash,
    block: Arc<Block>,
}

impl BlockValue {
    /// Wraps a block.
    pub fn new(block: Block) -> Self {
        BlockValue { hash: BlockHash(block.header.hash()), block: Arc::new(block) }
    }

    /// The block.
    pub fn block(&self) -> &Block {
        &self.block
    }

    /// Its hash.
    pub fn hash(&self) -> BlockHash {
        self.hash
    }
}

// Two values are the same block exactly when their hashes are equal.
impl PartialEq for BlockValue {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
    }
}
impl Eq for BlockValue {}
impl PartialOrd for BlockValue {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for BlockValue {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.hash.cmp(&other.hash)
    }
}

impl core::Value for BlockValue {
    type Id = BlockHash;
    fn id(&self) -> BlockHash {
        self.hash
    }
}

/// A prevote or precommit. It carries no timestamp: a precommit's signing bytes are
/// rebuilt from (height, round, block hash, validator) alone when a commit is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsensusVote {
    /// Height.
    pub height: Height,
    /// Round (always defined for a vote).
    pub round: Round,
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// The block voted for, or nil.
    pub value: NilOrVal<BlockHash>,
    /// The voter.
    pub validator: Address,
}

impl ConsensusVote {
    /// The ledger vote this signs: its canonical bytes are the signing bytes.
    pub fn to_ledger(&self, chain: &ChainIdentity) -> LedgerVote {
        LedgerVote {
            chain_id: chain.chain_id.clone(),
            genesis_hash: chain.genesis_hash,
            height: self.height.0,
            round: self.round.as_u32().unwrap_or(u32::MAX),
            kind: match self.vote_type {
                VoteType::Prevote => VoteKind::Prevote,
                VoteType::Precommit => VoteKind::Precommit,
            },
            block_hash: match &self.value {
                NilOrVal::Nil => None,
                NilOrVal::Val(hash) => Some(hash.0),
            },
        }
    }

    /// The 32-byte message the voter signs.
    pub fn signing_message(&self, chain: &ChainIdentity) -> Hash {
        self.to_ledger(chain).signing_message()
    }
}

impl core::Vote<ChanceryContext> for ConsensusVote {
    fn height(&self) -> Height {
        self.height
    }
    fn round(&self) -> Round {
        self.round
    }
    fn value(&self) -> &NilOrVal<BlockHash> {
        &self.value
    }
    fn take_value(self) -> NilOrVal<BlockHash> {
        self.value
    }
    fn vote_type(&self) -> VoteType {
        self.vote_type
    }
    fn validator_address(&self) -> &Address {
        &self.validator
    }
    // Vote extensions are disabled.
    fn extension(&self) -> Option<&SignedExtension<ChanceryContext>> {
        None
    }
    fn take_extension(&mut self) -> Option<SignedExtension<ChanceryContext>> {
        None
    }
    fn extend(self, _extension: SignedExtension<ChanceryContext>) -> Self {
        self
    }
}

/// A proposal: the whole block, proposed at a height and round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsensusProposal {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The block.
    pub value: BlockValue,
    /// Proof-of-lock round, or nil.
    pub pol_round: Round,
    /// The proposer.
    pub proposer: Address,
}

impl ConsensusProposal {
    /// The ledger proposal header this signs.
    pub fn to_ledger(&self, chain: &ChainIdentity) -> ProposalHeader {
        ProposalHeader {
            chain_id: chain.chain_id.clone(),
            genesis_hash: chain.genesis_hash,
            height: self.height.0,
            round: self.round.as_u32().unwrap_or(u32::MAX),
            pol_round: self.pol_round.as_u32(),
            block_hash: self.value.hash().0,
        }
    }

    /// The 32-byte message the proposer signs.
    pub fn signing_message(&self, chain: &ChainIdentity) -> Hash {
        self.to_ledger(chain).signing_message()
    }
}

impl core::Proposal<ChanceryContext> for ConsensusProposal {
    fn height(&self) -> Height {
        self.height
    }
    fn round(&self) -> Round {
        self.round
    }
    fn value(&self) -> &BlockValue {
        &self.value
    }
    fn take_value(self) -> BlockValue {
        self.value
    }
    fn pol_round(&self) -> Round {
        self.pol_round
    }
    fn validator_address(&self) -> &Address {
        &self.proposer
    }
}

/// Proposals carry the whole block, so there are no proposal parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoParts {}

impl core::ProposalPart<ChanceryContext> for NoParts {
    fn is_first(&self) -> bool {
        match *self {}
    }
    fn is_last(&self) -> bool {
        match *self {}
    }
}

/// A voting validator as consensus sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsensusValidator {
    /// Address (consensus key).
    pub address: Address,
    /// The same key, as the signing scheme's public key.
    pub public_key: PublicKey,
    /// Voting power.
    pub power: VotingPower,
}

impl core::Validator<ChanceryContext> for ConsensusValidator {
    fn address(&self) -> &Address {
        &self.address
    }
    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }
    fn voting_power(&self) -> VotingPower {
        self.power
    }
}

/// The voting validators of a height, in the ledger set's order (observers, with no
/// power, are left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsensusValidatorSet {
    validators: Vec<ConsensusValidator>,
    total_power: VotingPower,
    equal_powers: bool,
}

impl ConsensusValidatorSet {
    /// The voting members of a ledger validator set.
    pub fn from_ledger(set: &LedgerValidatorSet) -> Self {
        let validators: Vec<_> = set
            .validators
            .iter()
            .filter(|v| v.power > 0)
            .map(|v| ConsensusValidator {
                address: Address(v.consensus_key),
                public_key: v.consensus_key,
                power: v.power,
            })
            .collect();
        let total_power = validators.iter().map(|v| v.power).sum();
        let equal_powers = validators.windows(2).all(|w| w[0].power == w[1].power);
        ConsensusValidatorSet { validators, total_power, equal_powers }
    }

    /// The validators.
    pub fn validators(&self) -> &[ConsensusValidator] {
        &self.validators
    }
}

impl core::ValidatorSet<ChanceryContext> for ConsensusValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }
    fn total_voting_power(&self) -> VotingPower {
        self.total_power
    }
    fn get_by_address(&self, address: &Address) -> Option<&ConsensusValidator> {
        self.validators.iter().find(|v| v.address == *address)
    }
    fn get_by_index(&self, index: usize) -> Option<&ConsensusValidator> {
        self.validators.get(index)
    }
}

/// An Ed25519 signature, ordered by its bytes (the core needs `Ord`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sig(pub [u8; 64]);

/// Ed25519, with keys held only by the node's signer: the core never sees a private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ed25519;

/// Bytes that are not a key or signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLength {
    /// Bytes expected.
    pub expected: usize,
    /// Bytes given.
    pub got: usize,
}

impl fmt::Display for BadLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {} bytes, got {}", self.expected, self.got)
    }
}

impl core::SigningScheme for Ed25519 {
    type DecodingError = BadLength;
    type Signature = Sig;
    type PublicKey = PublicKey;
    type PrivateKey = ();

    fn decode_signature(bytes: &[u8]) -> Result<Sig, BadLength> {
        bytes.try_into().map(Sig).map_err(|_| BadLength { expected: 64, got: bytes.len() })
    }
    fn encode_signature(signature: &Sig) -> Vec<u8> {
        signature.0.to_vec()
    }
    fn decode_public_key(bytes: &[u8]) -> Result<PublicKey, BadLength> {
        bytes.try_into().map(PublicKey).map_err(|_| BadLength { expected: 32, got: bytes.len() })
    }
    fn encode_public_key(public_key: &PublicKey) -> Vec<u8> {
        public_key.0.to_vec()
    }
}

/// Chancery's consensus context: the chain (id and genesis hash) every signing message
/// is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChanceryContext {
    /// The chain.
    pub chain: ChainIdentity,
}

impl core::Context for ChanceryContext {
    type Address = Address;
    type Height = Height;
    type ProposalPart = NoParts;
    type Proposal = ConsensusProposal;
    type Validator = ConsensusValidator;
    type ValidatorSet = ConsensusValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockValue;
    type Vote = ConsensusVote;
    type Extension = ();
    type SigningScheme = Ed25519;

    /// Round-robin over the set's order when all powers are equal, so every validator
    /// proposes within n rounds; otherwise weighted: the validator owning slot
    /// `H(height, round) mod total power` in the set's order.
    fn select_proposer<'a>(
        &self,
        set: &'a ConsensusValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a ConsensusValidator {
        // The core asks only for rounds it is in; a nil round selects as round 0 does.
        let round = round.as_i64().max(0) as u64;
        // The ledger refuses a set without a validator with power (and every change that
        // would leave one), so every height has a proposer.
        assert!(set.total_power > 0, "a validator set has power: the ledger refuses any other");
        let count = set.validators.len() as u64;
        if set.equal_powers {
            let index = (height.0.wrapping_add(round) % count) as usize;
            return &set.validators[index];
        }
        let seed = chancery_ledger::HashContext::Proposal.hash_pair(&height.0.to_le_bytes(), &round.to_le_bytes());
        let first: [u8; 8] = seed.0[..8].try_into().expect("a hash has 32 bytes");
        let slot = u64::from_le_bytes(first) % set.total_power;
        let mut cumulative = 0;
        for validator in &set.validators {
            cumulative += validator.power;
            if slot < cumulative {
                return validator;
            }
        }
        unreachable!("the slot is below the total power, the sum of the validators' powers")
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockValue,
        pol_round: Round,
        address: Address,
    ) -> ConsensusProposal {
        ConsensusProposal { height, round, value, pol_round, proposer: address }
    }

    fn new_prevote(&self, height: Height, round: Round, value: NilOrVal<BlockHash>, address: Address) -> ConsensusVote {
        ConsensusVote { height, round, vote_type: VoteType::Prevote, value, validator: address }
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value: NilOrVal<BlockHash>,
        address: Address,
    ) -> ConsensusVote {
        ConsensusVote { height, round, vote_type: VoteType::Precommit, value, validator: address }
    }
}

/// Consensus timeouts from the chain parameters.
pub fn timeouts(params: &Params) -> LinearTimeouts {
    let t = &params.timeouts;
    let ms = Duration::from_millis;
    LinearTimeouts {
        rebroadcast: ms(t.propose_ms + t.prevote_ms + t.precommit_ms),
        propose: ms(t.propose_ms),
        propose_delta: ms(t.round_increase_ms),
        prevote: ms(t.prevote_ms),
        prevote_delta: ms(t.round_increase_ms),
        precommit: ms(t.precommit_ms),
        precommit_delta: ms(t.round_increase_ms),
        ..LinearTimeouts::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chancery_ledger::block::{Commit, CommitSig};
    use chancery_ledger::codec::{encode, BoundedVec};
    use chancery_ledger::testkit::{key, public, sign, validator_set};
    use malachitebft_core_types::{Context, ValidatorSet as _};

    fn chain() -> ChainIdentity {
        let chain_id = chancery_ledger::ChainId::new("consensus-test").expect("id");
        ChainIdentity { chain_id, genesis_hash: chancery_ledger::HashContext::Genesis.hash(b"consensus-test") }
    }

    #[test]
    fn a_precommit_signs_exactly_what_a_ledger_commit_verifies() {
        let keys: Vec<_> = (0..4).map(|i| key(1, i)).collect();
        let set = validator_set(&keys, 0);
        let block = BlockHash(chancery_ledger::HashContext::Header.hash(b"block"));
        let ctx = ChanceryContext { chain: chain() };
        let mut signatures = Vec::new();
        for k in &keys {
            let vote = ctx.new_precommit(Height(7), Round::new(2), NilOrVal::Val(block), Address(public(k)));
            signatures.push(CommitSig { validator: public(k), signature: sign(k, &vote.signing_message(&chain())) });
        }
        let commit =
            Commit { height: 7, round: 2, block_hash: block.0, signatures: BoundedVec::new(signatures).expect("fits") };
        let message = commit.vote(&chain().chain_id, &chain().genesis_hash).signing_message();
        let pairs: Vec<_> = commit.signatures.iter().map(|s| (s.validator, s.signature)).collect();
        assert!(set.verify_quorum(&message, &pairs).is_ok());
        // A prevote for the same block signs different bytes.
        let prevote = ctx.new_prevote(Height(7), Round::new(2), NilOrVal::Val(block), Address(public(&keys[0])));
        assert_ne!(prevote.signing_message(&chain()), message);
        // A nil vote encodes `None`.
        let nil = ctx.new_precommit(Height(7), Round::new(2), NilOrVal::Nil, Address(public(&keys[0])));
        assert_eq!(nil.to_ledger(&chain()).block_hash, None);
    }

    #[test]
    fn proposal_signing_bytes_follow_the_documented_layout() {
        let block = chancery_ledger::testkit::TestChain::new(1).commit_block(Vec::new()).0;
        let value = BlockValue::new(block.clone());
        let proposal = ConsensusProposal {
            height: Height(3),
            round: Round::new(1),
            value,
            pol_round: Round::Nil,
            proposer: Address(public(&key(1, 0))),
        };
        let mut want = Vec::new();
        want.extend_from_slice(&14u64.to_le_bytes());
        want.extend_from_slice(b"consensus-test");
        want.extend_from_slice(chain().genesis_hash.as_bytes());
        want.extend_from_slice(&3u64.to_le_bytes());
        want.extend_from_slice(&1u32.to_le_bytes());
        want.push(0); // no proof-of-lock round
        want.extend_from_slice(block.header.hash().as_bytes());
        assert_eq!(encode(&proposal.to_ledger(&chain())), want);
        assert_eq!(proposal.signing_message(&chain()).0, blake3::derive_key("chancery v1 proposal", &want));
        let relocked = ConsensusProposal { pol_round: Round::new(0), ..proposal.clone() };
        assert_ne!(relocked.signing_message(&chain()), proposal.signing_message(&chain()));
    }

    #[test]
    fn equal_powers_rotate_round_robin_and_unequal_powers_are_weighted() {
        let ctx = ChanceryContext { chain: chain() };
        let keys: Vec<_> = (0..4).map(|i| key(1, i)).collect();
        let set = ConsensusValidatorSet::from_ledger(&validator_set(&keys, 0));
        for height in 0..8u64 {
            let proposers: Vec<_> =
                (0..4u32).map(|r| ctx.select_proposer(&set, Height(height), Round::new(r)).address).collect();
            let mut distinct = proposers.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), 4, "every validator proposes within 4 rounds at height {height}");
        }
        let mut ledger = validator_set(&keys, 0);
        let mut list = ledger.validators.to_vec();
        for (v, power) in list.iter_mut().zip([3u64, 2, 1, 1]) {
            v.power = power;
        }
        ledger = chancery_ledger::ValidatorSet::new(list).expect("fits");
        let set = ConsensusValidatorSet::from_ledger(&ledger);
        assert_eq!(set.total_voting_power(), 7);
        let mut counts = [0u32; 4];
        for height in 0..7_000u64 {
            let chosen = ctx.select_proposer(&set, Height(height), Round::new(0)).address;
            counts[set.validators().iter().position(|v| v.address == chosen).expect("member")] += 1;
        }
        // Expected 3000, 2000, 1000, 1000; allow a few percent of sampling noise.
        for (count, expected) in counts.iter().zip([3_000i64, 2_000, 1_000, 1_000]) {
            assert!((i64::from(*count) - expected).abs() < 200, "{counts:?}");
        }
        assert_eq!(
            ctx.select_proposer(&set, Height(5), Round::new(1)).address,
            ctx.select_proposer(&set, Height(5), Round::new(1)).address
        );
    }

    #[test]
    fn observers_do_not_vote() {
        let keys: Vec<_> = (0..3).map(|i| key(1, i)).collect();
        let mut list = validator_set(&keys, 0).validators.to_vec();
        list[2].role = chancery_ledger::Role::Observer;
        list[2].power = 0;
        let set = ConsensusValidatorSet::from_ledger(&chancery_ledger::ValidatorSet::new(list).expect("fits"));
        assert_eq!(set.count(), 2);
        assert_eq!(set.total_voting_power(), 20);
    }
}

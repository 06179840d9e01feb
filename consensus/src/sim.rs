//! A deterministic whole-cluster simulation (feature `sim`): validators running the real
//! [`Engine`] in one thread on virtual time, through a seeded network with per-link delay
//! and jitter (so reordering), loss and duplication before GST, and partitions that heal
//! at GST; crashes and restarts that rebuild from the WAL with the signer's persisted
//! double-sign guard; block sync for validators that fell behind; and Byzantine test
//! doubles (silent, clock liar, equivocating voter, equivocating proposer, sender of
//! future rounds and heights, replayer of old messages). The same seed gives the same
//! trace.
//!
//! Invariants, checked at every decision and at the end of a run:
//! - **agreement**: no two honest validators decide different blocks at a height;
//! - **validity**: a validator only decides a block that passed its validation;
//! - **commit**: every decision's commit verifies with the ledger verifier;
//! - **time**: block time strictly increases and is within the drift of the deciding
//!   honest clock;
//! - **double-sign**: no honest validator publishes two different votes or proposals for
//!   one height, round and step, restarts included;
//! - **liveness**: after GST every honest validator decides each next height within a
//!   bounded virtual time.
//!
//! Deliberate bugs injected in a scratch copy and caught (none is committed):
//! - skipping the block-time drift check in the host's validation: caught by **time**
//!   (a far-future block decided), scenario `clock-ahead` (then named clock-liar), seed 32;
//! - a quorum of 2f instead of 2f+1 (threshold 1/3 in the engine's parameters): caught by
//!   **commit** (2 of 4 signatures do not verify as a commit), scenario `n4`, seed 0;
//! - a restarted validator that forgets what it signed (no WAL, no signer guard, broken
//!   through the [`Cluster::disable_signer_guard`] and [`Cluster::lose_wal_on_restart`]
//!   hooks): caught by **double-sign** at 30 of 40 seeds of the `crash-restart-broken`
//!   scenario (seed 0 first), kept as a test.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};

use chancery_ledger::chain::{Block, Commit, Header, Params};
use chancery_ledger::codec::{decode, encode, BoundedVec};
use chancery_ledger::history::{Blake3History, HistoryTree};
use chancery_ledger::testkit::{key, public, validator_set};
use chancery_ledger::{ChainId, ChainIdentity, Hash, HashContext, ValidatorSet};
use ed25519_dalek::{Signer as _, SigningKey};
use malachitebft_core_consensus::{
    Input, LivenessMsg, LocallyProposedValue, PeerId, ProposedValue, SignedConsensusMsg,
};
use malachitebft_core_types::{
    CommitCertificate, CommitSignature, ExtendedCommitCertificate, Height as _, NilOrVal, Proposal as _, Round,
    SignedMessage, Timeout, Validity, ValueOrigin, ValueResponse, Vote as _, VoteExtensionPolicy, VoteType,
};

use crate::context::{
    timeouts, Address, BlockHash, BlockValue, ConsensusProposal, ConsensusValidatorSet, ConsensusVote, Height, Sig,
};
use crate::engine::{Ctx, Engine, Output, SignRequest, Signer, SignerRefused};
use crate::evidence::equivocations;
use crate::validity::{check_proposal, proposal_time_ms, ProposalContext};

/// Virtual milliseconds.
pub type Millis = u64;

/// Longest an honest validator may take, after GST, to decide its next height.
pub const LIVENESS_BOUND_MS: Millis = 120_000;

/// A signer with the double-sign guard: it refuses to sign a second, different message for
/// a (height, round, step) it already signed. Its memory is the persisted high-water state:
/// it survives a crash of its validator.
pub struct GuardedSigner {
    key: SigningKey,
    signed: HashMap<(u64, u32, u8), Hash>,
    guard: bool,
}

impl GuardedSigner {
    /// A signer holding `key`.
    pub fn new(key: SigningKey) -> Self {
        GuardedSigner { key, signed: HashMap::new(), guard: true }
    }
}

impl Signer for GuardedSigner {
    fn sign(&mut self, request: &SignRequest) -> Result<Sig, SignerRefused> {
        let slot = (request.height, request.round, request.step as u8);
        if let Some(previous) = self.signed.get(&slot) {
            if self.guard && *previous != request.message {
                return Err(SignerRefused(format!(
                    "already signed another message at height {}, round {}, {:?}",
                    request.height, request.round, request.step
                )));
            }
        }
        self.signed.insert(slot, request.message);
        Ok(Sig(self.key.sign(request.message.as_bytes()).to_bytes()))
    }

    fn public_keys(&mut self) -> Vec<chancery_ledger::PublicKey> {
        vec![chancery_ledger::PublicKey(self.key.verifying_key().to_bytes())]
    }
}

/// How a simulated validator behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Follows the protocol.
    Honest,
    /// Sends nothing at all.
    Silent,
    /// Proposes blocks whose time is off by this many milliseconds.
    ClockLiar(i64),
    /// Sends every vote to half its peers and a conflicting vote to the other half.
    EquivocatingVoter,
    /// Sends its proposal to half its peers and a different block to the other half.
    EquivocatingProposer,
    /// Also sends its votes relabelled for later rounds and heights.
    FutureSender,
    /// Also sends, with each message, an old message it received earlier.
    Replayer,
}

impl Behaviour {
    fn is_honest(self) -> bool {
        self == Behaviour::Honest
    }
}

/// A message in flight.
#[derive(Debug, Clone)]
enum Message {
    Consensus(SignedConsensusMsg<Ctx>),
    Liveness(LivenessMsg<Ctx>),
    SyncRequest { from: usize, height: u64 },
    SyncResponse { from: usize, block: Vec<u8>, commit: Commit },
}

#[derive(Debug)]
enum Event {
    Deliver { to: usize, from: usize, message: Message },
    Timer { node: usize, generation: u64, timeout: Timeout },
    Local { node: usize, input: Box<Input<Ctx>> },
    Crash { node: usize },
    Restart { node: usize },
}

/// Seeded xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
}

/// The network before and after GST.
#[derive(Debug, Clone, Copy)]
pub struct NetworkConfig {
    /// Smallest one-way delay.
    pub delay_ms: Millis,
    /// Extra random delay, up to this much (messages overtake each other).
    pub jitter_ms: Millis,
    /// Chance a message is lost, before GST.
    pub loss_percent: u64,
    /// Chance a message is delivered twice, before GST.
    pub duplicate_percent: u64,
}

impl NetworkConfig {
    /// A healthy network: 5 to 25 ms, nothing lost.
    pub const HEALTHY: NetworkConfig =
        NetworkConfig { delay_ms: 5, jitter_ms: 20, loss_percent: 0, duplicate_percent: 0 };
}

/// A whole run: cluster, faults, and how far to go.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name, for messages.
    pub name: &'static str,
    /// Number of validators (equal power).
    pub validators: usize,
    /// Heights every honest validator must decide.
    pub heights: u64,
    /// The network.
    pub network: NetworkConfig,
    /// Validators cut off from the others until GST.
    pub partition: Vec<usize>,
    /// Global stabilisation time: after it, no loss, no partition.
    pub gst_ms: Millis,
    /// `(validator, crash time, restart time)`.
    pub crashes: Vec<(usize, Millis, Millis)>,
    /// Validators that do not follow the protocol.
    pub byzantine: Vec<(usize, Behaviour)>,
    /// Give up after this much virtual time.
    pub limit_ms: Millis,
}

impl Scenario {
    /// `validators` honest validators on a healthy network, deciding `heights`.
    pub fn healthy(validators: usize, heights: u64) -> Self {
        Scenario {
            name: "healthy",
            validators,
            heights,
            network: NetworkConfig::HEALTHY,
            partition: Vec::new(),
            gst_ms: 0,
            crashes: Vec::new(),
            byzantine: Vec::new(),
            limit_ms: 3_600_000,
        }
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Heights decided by every honest validator.
    pub heights: u64,
    /// Virtual time at the end.
    pub virtual_ms: Millis,
    /// Virtual time at which each height was first decided.
    pub decided_at: Vec<Millis>,
    /// Equivocation evidence recorded by honest validators: (height, offender).
    pub evidence: Vec<(u64, Address)>,
    /// A hash of the decided chain and the end time: identical for identical runs.
    pub trace: Hash,
}

/// An invariant that did not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// Two honest validators decided different blocks at one height.
    #[error("agreement: validators {a} and {b} decided different blocks at height {height}")]
    Agreement {
        /// Height.
        height: u64,
        /// One validator.
        a: usize,
        /// The other.
        b: usize,
    },
    /// A decided block never passed validation at the deciding validator.
    #[error("validity: validator {node} decided block {block} at height {height} without validating it")]
    Validity {
        /// Validator.
        node: usize,
        /// Height.
        height: u64,
        /// Block.
        block: Hash,
    },
    /// A decision's commit does not verify.
    #[error("commit: validator {node}'s commit for height {height} does not verify: {reason}")]
    Commit {
        /// Validator.
        node: usize,
        /// Height.
        height: u64,
        /// Why.
        reason: String,
    },
    /// Block time did not increase, or is beyond the drift of the deciding clock.
    #[error(
        "time: block {height} has time {time_ms}; its parent has {parent_ms}, the deciding clock reads {clock_ms}"
    )]
    Time {
        /// Height.
        height: u64,
        /// Its time.
        time_ms: u64,
        /// Parent time.
        parent_ms: u64,
        /// The deciding validator's clock.
        clock_ms: u64,
    },
    /// An honest validator published two different messages for one slot.
    #[error(
        "double-sign: honest validator {node} signed two different {step} messages at height {height}, round {round}"
    )]
    DoubleSign {
        /// Validator.
        node: usize,
        /// Height.
        height: u64,
        /// Round.
        round: i64,
        /// "proposal", "prevote" or "precommit".
        step: &'static str,
    },
    /// No progress within the bound after GST.
    #[error("liveness: validator {node} decided {decided} of {wanted} heights; none for {stalled_ms} ms after GST (virtual time {virtual_ms} ms)")]
    Liveness {
        /// Validator.
        node: usize,
        /// Heights decided.
        decided: u64,
        /// Heights wanted.
        wanted: u64,
        /// Time without a decision.
        stalled_ms: Millis,
        /// Virtual time reached.
        virtual_ms: Millis,
    },
    /// The engine of an honest validator stopped.
    #[error("engine of validator {node} failed: {reason}")]
    Engine {
        /// Validator.
        node: usize,
        /// Why.
        reason: String,
    },
}

/// One simulated validator.
struct Node {
    behaviour: Behaviour,
    address: Address,
    raw_key: SigningKey,
    engine: Option<Engine>,
    signer: GuardedSigner,
    chain: Vec<(Block, Commit)>,
    history: HistoryTree<Blake3History>,
    blocks: HashMap<BlockHash, BlockValue>,
    validated: HashSet<BlockHash>,
    stashed: Vec<SignedConsensusMsg<Ctx>>,
    wal: Vec<(u64, Input<Ctx>)>,
    timer_generation: u64,
    cancelled: HashSet<(u64, Timeout)>,
    last_decision_ms: Millis,
    sync_requested: Option<(u64, Millis)>,
    seen: Vec<Message>,
}

/// A cluster under simulation.
pub struct Cluster {
    scenario: Scenario,
    chain: ChainIdentity,
    ledger_set: ValidatorSet,
    set: ConsensusValidatorSet,
    params: Params,
    nodes: Vec<Node>,
    events: BinaryHeap<Reverse<(Millis, u64)>>,
    payloads: BTreeMap<u64, Event>,
    sequence: u64,
    now: Millis,
    rng: Rng,
    published: HashMap<(usize, u64, i64, &'static str), Hash>,
    evidence: Vec<(u64, Address)>,
    decided_at: Vec<Millis>,
    genesis_time_ms: u64,
    wal_lost: Vec<usize>,
}

/// An inline (identity multihash) peer id per validator.
fn peer_id(node: usize) -> Option<PeerId> {
    let mut bytes = vec![0x00, 0x08];
    bytes.extend_from_slice(&(node as u64).to_le_bytes());
    PeerId::from_bytes(&bytes).ok()
}

impl Cluster {
    /// A cluster for `scenario`, seeded.
    pub fn new(scenario: Scenario, seed: u64) -> Self {
        let n = scenario.validators;
        let keys: Vec<_> = (0..n).map(|i| key(1, i as u16)).collect();
        let ledger_set = validator_set(&keys, 0);
        let set = ConsensusValidatorSet::from_ledger(&ledger_set);
        let chain_id = ChainId::new("sim-chain").expect("valid id");
        let chain = ChainIdentity { genesis_hash: HashContext::Genesis.hash(chain_id.as_str().as_bytes()), chain_id };
        let params = Params::default();
        let nodes = keys
            .into_iter()
            .enumerate()
            .map(|(i, k)| {
                let address = Address(public(&k));
                let behaviour = scenario.byzantine.iter().find(|(b, _)| *b == i).map_or(Behaviour::Honest, |(_, b)| *b);
                Node {
                    behaviour,
                    address,
                    raw_key: k.clone(),
                    engine: Some(Engine::new(chain.clone(), address, Height(0), set.clone(), timeouts(&params), true)),
                    signer: GuardedSigner::new(k),
                    chain: Vec::new(),
                    history: HistoryTree::new(),
                    blocks: HashMap::new(),
                    validated: HashSet::new(),
                    stashed: Vec::new(),
                    wal: Vec::new(),
                    timer_generation: 0,
                    cancelled: HashSet::new(),
                    last_decision_ms: 0,
                    sync_requested: None,
                    seen: Vec::new(),
                }
            })
            .collect();
        Cluster {
            chain,
            ledger_set,
            set,
            params,
            nodes,
            events: BinaryHeap::new(),
            payloads: BTreeMap::new(),
            sequence: 0,
            now: 0,
            rng: Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
            published: HashMap::new(),
            evidence: Vec::new(),
            decided_at: Vec::new(),
            genesis_time_ms: 1_767_225_600_000,
            wal_lost: Vec::new(),
            scenario,
        }
    }

    /// Test hook: lets validator `node`'s signer sign conflicting messages (a deliberately
    /// broken double-sign guard, to show the double-sign invariant catches it).
    pub fn disable_signer_guard(&mut self, node: usize) {
        self.nodes[node].signer.guard = false;
    }

    /// Test hook: restarts of validator `node` lose its WAL (a broken host).
    pub fn lose_wal_on_restart(&mut self, node: usize) {
        self.nodes[node].wal.clear();
        self.wal_lost.push(node);
    }

    fn schedule(&mut self, at: Millis, event: Event) {
        self.sequence += 1;
        self.payloads.insert(self.sequence, event);
        self.events.push(Reverse((at, self.sequence)));
    }

    fn clock_ms(&self) -> u64 {
        self.genesis_time_ms + self.now
    }

    fn before_gst(&self) -> bool {
        self.now < self.scenario.gst_ms
    }

    fn linked(&self, a: usize, b: usize) -> bool {
        !self.before_gst() || self.scenario.partition.contains(&a) == self.scenario.partition.contains(&b)
    }

    fn send(&mut self, from: usize, to: usize, message: Message) {
        if !self.linked(from, to) || (self.before_gst() && self.rng.percent(self.scenario.network.loss_percent)) {
            return;
        }
        let copies = if self.before_gst() && self.rng.percent(self.scenario.network.duplicate_percent) { 2 } else { 1 };
        for _ in 0..copies {
            let delay = self.scenario.network.delay_ms + self.rng.below(self.scenario.network.jitter_ms + 1);
            self.schedule(self.now + delay, Event::Deliver { to, from, message: message.clone() });
        }
    }

    fn broadcast(&mut self, from: usize, message: Message) {
        let peers: Vec<usize> = (0..self.nodes.len()).filter(|to| *to != from).collect();
        match self.nodes[from].behaviour {
            Behaviour::Silent => {}
            Behaviour::EquivocatingVoter | Behaviour::EquivocatingProposer => {
                // Even peers get the message; odd peers get its conflicting twin, and from an
                // equivocating proposer both, so someone holds the two signed proposals.
                let twin = self.conflicting(from, &message);
                let both = self.nodes[from].behaviour == Behaviour::EquivocatingProposer;
                for to in peers {
                    match &twin {
                        Some(twin) if to % 2 == 1 => {
                            self.send(from, to, twin.clone());
                            if both {
                                self.send(from, to, message.clone());
                            }
                        }
                        _ => self.send(from, to, message.clone()),
                    }
                }
            }
            Behaviour::FutureSender => {
                let future = self.future_copy(from, &message);
                for to in peers {
                    self.send(from, to, message.clone());
                    for extra in &future {
                        self.send(from, to, extra.clone());
                    }
                }
            }
            Behaviour::Replayer => {
                let seen = &self.nodes[from].seen;
                let old = (!seen.is_empty()).then(|| seen[(self.rng.next() as usize) % seen.len()].clone());
                for to in peers {
                    self.send(from, to, message.clone());
                    if let Some(old) = &old {
                        self.send(from, to, old.clone());
                    }
                }
            }
            Behaviour::Honest | Behaviour::ClockLiar(_) => {
                for to in peers {
                    self.send(from, to, message.clone());
                }
            }
        }
    }

    fn sign_vote(&self, from: usize, vote: ConsensusVote) -> Message {
        let signature = Sig(self.nodes[from].raw_key.sign(vote.signing_message(&self.chain).as_bytes()).to_bytes());
        Message::Consensus(SignedConsensusMsg::Vote(SignedMessage::new(vote, signature)))
    }

    /// For an equivocator: the conflicting twin of its own message, signed with its key.
    fn conflicting(&mut self, from: usize, message: &Message) -> Option<Message> {
        match (self.nodes[from].behaviour, message) {
            (Behaviour::EquivocatingVoter, Message::Consensus(SignedConsensusMsg::Vote(vote))) => {
                let mut twin = vote.message.clone();
                twin.value = match twin.value {
                    NilOrVal::Nil => NilOrVal::Val(BlockHash(HashContext::Header.hash(&self.rng.next().to_le_bytes()))),
                    NilOrVal::Val(_) => NilOrVal::Nil,
                };
                Some(self.sign_vote(from, twin))
            }
            (Behaviour::EquivocatingProposer, Message::Consensus(SignedConsensusMsg::Proposal(proposal))) => {
                let mut block = proposal.message.value.block().clone();
                block.header.time_ms += 1;
                let twin = ConsensusProposal { value: BlockValue::new(block), ..proposal.message.clone() };
                let signature =
                    Sig(self.nodes[from].raw_key.sign(twin.signing_message(&self.chain).as_bytes()).to_bytes());
                Some(Message::Consensus(SignedConsensusMsg::Proposal(SignedMessage::new(twin, signature))))
            }
            _ => None,
        }
    }

    /// For a future sender: its vote relabelled for later rounds and heights.
    fn future_copy(&self, from: usize, message: &Message) -> Vec<Message> {
        let Message::Consensus(SignedConsensusMsg::Vote(vote)) = message else { return Vec::new() };
        let round = vote.message.round.as_u32().unwrap_or(0);
        [(0u64, 12u32), (2, 0), (5, 3)]
            .into_iter()
            .map(|(dh, dr)| {
                let relabelled = ConsensusVote {
                    height: Height(vote.message.height.0 + dh),
                    round: Round::new(round + dr),
                    ..vote.message.clone()
                };
                self.sign_vote(from, relabelled)
            })
            .collect()
    }

    /// Records what honest validators publish, to catch double signing.
    fn record_published(&mut self, node: usize, message: &SignedConsensusMsg<Ctx>) -> Result<(), Violation> {
        if !self.nodes[node].behaviour.is_honest() {
            return Ok(());
        }
        let (height, round, step, hash) = match message {
            SignedConsensusMsg::Vote(v) => {
                let step = if v.message.vote_type == VoteType::Prevote { "prevote" } else { "precommit" };
                (v.height().0, v.round().as_i64(), step, v.message.signing_message(&self.chain))
            }
            SignedConsensusMsg::Proposal(p) => {
                (p.height().0, p.round().as_i64(), "proposal", p.message.signing_message(&self.chain))
            }
        };
        match self.published.insert((node, height, round, step), hash) {
            Some(previous) if previous != hash => Err(Violation::DoubleSign { node, height, round, step }),
            _ => Ok(()),
        }
    }

    /// Runs one input, then the inputs its outputs lead to (queued, not recursive: the
    /// core's state is busy while an input runs).
    fn feed(&mut self, node: usize, input: Input<Ctx>) -> Result<(), Violation> {
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            let n = &mut self.nodes[node];
            let Some(engine) = n.engine.as_mut() else { return Ok(()) };
            let outputs = match engine.handle(input, &mut n.signer) {
                Ok(outputs) => outputs,
                Err(e) if n.behaviour.is_honest() => return Err(Violation::Engine { node, reason: e.to_string() }),
                Err(_) => return Ok(()),
            };
            for output in outputs {
                self.carry_out(node, output, &mut queue)?;
            }
        }
        Ok(())
    }

    fn carry_out(&mut self, node: usize, output: Output, queue: &mut VecDeque<Input<Ctx>>) -> Result<(), Violation> {
        match output {
            Output::Publish(msg) => {
                self.record_published(node, &msg)?;
                self.broadcast(node, Message::Consensus(msg));
            }
            Output::PublishLiveness(msg) => self.broadcast(node, Message::Liveness(msg)),
            Output::RepublishVote(vote) => self.broadcast(node, Message::Liveness(LivenessMsg::Vote(vote))),
            Output::RepublishRoundCertificate(cert) => {
                self.broadcast(node, Message::Liveness(LivenessMsg::SkipRoundCertificate(cert)))
            }
            Output::ScheduleTimeout { timeout, after } => {
                let generation = self.nodes[node].timer_generation;
                self.nodes[node].cancelled.remove(&(generation, timeout));
                self.schedule(self.now + after.as_millis() as u64, Event::Timer { node, generation, timeout });
            }
            Output::CancelTimeout(timeout) => {
                let generation = self.nodes[node].timer_generation;
                self.nodes[node].cancelled.insert((generation, timeout));
            }
            Output::CancelAllTimeouts => {
                let n = &mut self.nodes[node];
                n.timer_generation += 1;
                n.cancelled.clear();
            }
            Output::GetValue { height, round, .. } => {
                let value = BlockValue::new(self.build_block(node, height));
                let n = &mut self.nodes[node];
                n.blocks.insert(value.hash(), value.clone());
                n.validated.insert(value.hash());
                // Building a block takes the host a moment.
                let input = Box::new(Input::Propose(LocallyProposedValue::new(height, round, value)));
                self.schedule(self.now + 1, Event::Local { node, input });
            }
            Output::WalAppend(height, input) => self.nodes[node].wal.push((height.0, *input)),
            Output::Decide { block, commit } => self.decide(node, block, commit)?,
            Output::Finalize { commit, evidence } => {
                if self.nodes[node].behaviour.is_honest() {
                    // The final commit (possibly with more signatures than the decided one)
                    // must verify too: it is the one the store keeps.
                    if let Some((block, _)) = self.nodes[node].chain.last() {
                        if let Err(e) = commit.verify(&block.header, &self.ledger_set, &self.chain.genesis_hash) {
                            return Err(Violation::Commit {
                                node,
                                height: commit.height,
                                reason: format!("final commit: {e}"),
                            });
                        }
                    }
                    // What the node would anchor: self-contained records that verify
                    // against the validator set.
                    for record in equivocations(&self.chain, &evidence) {
                        if record.verify(&self.ledger_set).is_ok() {
                            self.evidence.push((commit.height, Address(record.validator)));
                        }
                    }
                }
                let next = commit.height + 1;
                self.nodes[node].wal.retain(|(h, _)| *h >= next);
                queue.push_back(Input::StartHeight(
                    Height(next),
                    self.set.clone(),
                    false,
                    None,
                    VoteExtensionPolicy::Disabled,
                ));
                // Proposals for the new height wait until it has started.
                for msg in std::mem::take(&mut self.nodes[node].stashed) {
                    self.schedule(self.now, Event::Deliver { to: node, from: node, message: Message::Consensus(msg) });
                }
            }
            Output::SyncValueVerified(response, proposer) => {
                let bytes = response.value_bytes.to_vec();
                if let Ok(block) = decode::<Block>(&bytes) {
                    let value = BlockValue::new(block);
                    let validity = self.validate(node, value.block(), false);
                    let n = &mut self.nodes[node];
                    n.blocks.insert(value.hash(), value.clone());
                    if validity == Validity::Valid {
                        n.validated.insert(value.hash());
                    }
                    let proposed = ProposedValue {
                        height: response.certificate.height,
                        round: response.certificate.round,
                        valid_round: Round::Nil,
                        proposer,
                        value,
                        validity,
                    };
                    queue.push_back(Input::ProposedValue(proposed, ValueOrigin::Sync));
                }
            }
            Output::StartRound { .. } | Output::SyncValueRejected(..) => {}
        }
        Ok(())
    }

    fn parent(&self, node: usize) -> (Hash, u64) {
        match self.nodes[node].chain.last() {
            Some((block, _)) => (block.header.hash(), block.header.time_ms),
            None => (self.chain.genesis_hash, self.genesis_time_ms),
        }
    }

    fn build_block(&self, node: usize, height: Height) -> Block {
        let (prev_hash, parent_ms) = self.parent(node);
        let n = &self.nodes[node];
        let time_ms = match n.behaviour {
            Behaviour::ClockLiar(offset) => self.clock_ms().saturating_add_signed(offset),
            _ => proposal_time_ms(self.clock_ms(), parent_ms),
        };
        let header = Header {
            chain_id: self.chain.chain_id.clone(),
            height: height.0,
            time_ms,
            prev_hash,
            tx_root: chancery_ledger::tx_tree::tx_root(&[]),
            tx_count: 0,
            history_root: n.history.bound_root_at(height.0).unwrap_or(Hash::ZERO),
            validators_hash: self.ledger_set.hash(),
            validators_epoch: 0,
            next_validators_hash: self.ledger_set.hash(),
            state_root: HashContext::State.hash(&height.0.to_le_bytes()),
            proposer: n.address.0,
        };
        Block { header, txs: BoundedVec::empty() }
    }

    /// The host's verdict on a proposed block (the product rule, [`check_proposal`]);
    /// blocks from sync come with a commit and may be old, so their time is only checked
    /// against the parent.
    fn validate(&self, node: usize, block: &Block, check_clock: bool) -> Validity {
        let (parent_hash, parent_time_ms) = self.parent(node);
        let n = &self.nodes[node];
        let height = n.chain.len() as u64;
        let ctx = ProposalContext {
            chain_id: &self.chain.chain_id,
            height,
            parent_hash,
            parent_time_ms,
            history_root: n.history.bound_root_at(height).unwrap_or(Hash::ZERO),
            validators_hash: self.ledger_set.hash(),
            clock_ms: check_clock.then(|| self.clock_ms()),
            max_clock_drift_ms: self.params.max_clock_drift_ms,
        };
        if check_proposal(block, &ctx).is_ok() {
            Validity::Valid
        } else {
            Validity::Invalid
        }
    }

    fn current_height(&self, node: usize) -> Option<u64> {
        self.nodes[node].engine.as_ref().map(|e| e.state().height().0)
    }

    fn receive(&mut self, node: usize, from: usize, message: Message) -> Result<(), Violation> {
        let Some(current) = self.current_height(node) else { return Ok(()) };
        if self.nodes[node].behaviour == Behaviour::Replayer && self.nodes[node].seen.len() < 512 {
            self.nodes[node].seen.push(message.clone());
        }
        let height = match &message {
            Message::Consensus(m) => Some(m.height().0),
            Message::Liveness(LivenessMsg::Vote(v)) => Some(v.height().0),
            _ => None,
        };
        if let Some(height) = height {
            if height > current {
                self.request_sync(node, from, current);
            }
        }
        match message {
            Message::Consensus(SignedConsensusMsg::Proposal(proposal)) => {
                let height = proposal.height().0;
                if height > current {
                    if self.nodes[node].stashed.len() < 64 {
                        self.nodes[node].stashed.push(SignedConsensusMsg::Proposal(proposal));
                    }
                    return Ok(());
                }
                if height < current {
                    return Ok(());
                }
                let value = proposal.message.value.clone();
                let validity = self.validate(node, value.block(), !proposal.pol_round().is_defined());
                let n = &mut self.nodes[node];
                n.blocks.insert(value.hash(), value.clone());
                if validity == Validity::Valid {
                    n.validated.insert(value.hash());
                }
                let proposed = ProposedValue {
                    height: Height(height),
                    round: proposal.round(),
                    valid_round: proposal.pol_round(),
                    proposer: proposal.message.proposer,
                    value,
                    validity,
                };
                self.feed(node, Input::Proposal(proposal))?;
                self.feed(node, Input::ProposedValue(proposed, ValueOrigin::Consensus))
            }
            Message::Consensus(SignedConsensusMsg::Vote(vote)) => self.feed(node, Input::Vote(vote)),
            Message::Liveness(LivenessMsg::Vote(vote)) => self.feed(node, Input::Vote(vote)),
            Message::Liveness(LivenessMsg::PolkaCertificate(cert)) => self.feed(node, Input::PolkaCertificate(cert)),
            Message::Liveness(LivenessMsg::SkipRoundCertificate(cert)) => {
                self.feed(node, Input::RoundCertificate(cert))
            }
            Message::SyncRequest { from, height } => {
                if let Some((block, commit)) = self.nodes[node].chain.get(height as usize) {
                    let response = Message::SyncResponse { from: node, block: encode(block), commit: commit.clone() };
                    self.send(node, from, response);
                }
                Ok(())
            }
            Message::SyncResponse { from, block, commit } => {
                if commit.height != current {
                    return Ok(());
                }
                self.nodes[node].sync_requested = None;
                let certificate = CommitCertificate {
                    height: Height(commit.height),
                    round: Round::new(commit.round),
                    value_id: BlockHash(commit.block_hash),
                    commit_signatures: commit
                        .signatures
                        .iter()
                        .map(|s| CommitSignature::new(Address(s.validator), Sig(s.signature.0)))
                        .collect(),
                };
                let certificate =
                    ExtendedCommitCertificate::from_commit_certificate_and_extensions(certificate, Default::default());
                let Some(peer) = peer_id(from) else { return Ok(()) };
                let response = ValueResponse::new(peer, bytes::Bytes::from(block), certificate);
                self.feed(node, Input::SyncValueResponse(response))
            }
        }
    }

    fn request_sync(&mut self, node: usize, peer: usize, height: u64) {
        if let Some((asked, at)) = self.nodes[node].sync_requested {
            if asked == height && self.now < at + 500 {
                return;
            }
        }
        self.nodes[node].sync_requested = Some((height, self.now));
        self.send(node, peer, Message::SyncRequest { from: node, height });
    }

    fn decide(&mut self, node: usize, block_hash: BlockHash, commit: Commit) -> Result<(), Violation> {
        let height = commit.height;
        let n = &self.nodes[node];
        let honest = n.behaviour.is_honest();
        let value = match n.blocks.get(&block_hash) {
            Some(value) if n.validated.contains(&block_hash) || !honest => value.clone(),
            _ => return Err(Violation::Validity { node, height, block: block_hash.0 }),
        };
        let block = value.block().clone();
        if honest {
            if let Err(e) = commit.verify(&block.header, &self.ledger_set, &self.chain.genesis_hash) {
                return Err(Violation::Commit { node, height, reason: e.to_string() });
            }
            let (_, parent_ms) = self.parent(node);
            let clock_ms = self.clock_ms();
            if block.header.time_ms <= parent_ms || block.header.time_ms > clock_ms + self.params.max_clock_drift_ms {
                return Err(Violation::Time { height, time_ms: block.header.time_ms, parent_ms, clock_ms });
            }
            for (other, o) in self.nodes.iter().enumerate() {
                if let Some((decided, _)) = o.chain.get(height as usize) {
                    if o.behaviour.is_honest() && decided.header.hash() != block_hash.0 {
                        return Err(Violation::Agreement { height, a: node, b: other });
                    }
                }
            }
        }
        let n = &mut self.nodes[node];
        n.history.append_block(&block_hash.0);
        n.chain.push((block, commit));
        n.blocks.clear();
        n.validated.clear();
        n.last_decision_ms = self.now;
        if self.decided_at.len() <= height as usize {
            self.decided_at.push(self.now);
        }
        Ok(())
    }

    fn crash(&mut self, node: usize) {
        let n = &mut self.nodes[node];
        n.engine = None;
        n.timer_generation += 1;
        n.cancelled.clear();
        n.blocks.clear();
        n.validated.clear();
        n.stashed.clear();
        n.sync_requested = None;
    }

    fn restart(&mut self, node: usize) -> Result<(), Violation> {
        let height = self.nodes[node].chain.len() as u64;
        let wal: Vec<Input<Ctx>> = if self.wal_lost.contains(&node) {
            Vec::new()
        } else {
            self.nodes[node].wal.iter().filter(|(h, _)| *h == height).map(|(_, i)| i.clone()).collect()
        };
        let n = &mut self.nodes[node];
        // The WAL also holds the blocks seen at this height and their verdicts: the host
        // knows them again before the core replays its decisions about them.
        for entry in &wal {
            match entry {
                Input::ProposedValue(proposed, _) => {
                    n.blocks.insert(proposed.value.hash(), proposed.value.clone());
                    if proposed.validity == Validity::Valid {
                        n.validated.insert(proposed.value.hash());
                    }
                }
                Input::Propose(local) => {
                    n.blocks.insert(local.value.hash(), local.value.clone());
                    n.validated.insert(local.value.hash());
                }
                Input::Proposal(signed) => {
                    n.blocks.insert(signed.message.value.hash(), signed.message.value.clone());
                }
                _ => {}
            }
        }
        let (engine, outputs) = Engine::recover(
            self.chain.clone(),
            n.address,
            Height(height),
            self.set.clone(),
            timeouts(&self.params),
            true,
            &wal,
            &mut n.signer,
        )
        .map_err(|e| Violation::Engine { node, reason: format!("restart: {e}") })?;
        n.engine = Some(engine);
        n.last_decision_ms = self.now;
        let mut queue = VecDeque::new();
        for output in outputs {
            self.carry_out(node, output, &mut queue)?;
        }
        while let Some(input) = queue.pop_front() {
            self.feed(node, input)?;
        }
        Ok(())
    }

    fn honest_decided(&self) -> u64 {
        self.nodes.iter().filter(|n| n.behaviour.is_honest()).map(|n| n.chain.len() as u64).min().unwrap_or(0)
    }

    fn check_liveness(&self) -> Result<(), Violation> {
        if self.before_gst() {
            return Ok(());
        }
        let down: HashSet<usize> = self
            .scenario
            .crashes
            .iter()
            .filter(|(_, at, back)| *at <= self.now && self.now < *back)
            .map(|(n, _, _)| *n)
            .collect();
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.behaviour.is_honest() || down.contains(&i) || n.chain.len() as u64 >= self.scenario.heights {
                continue;
            }
            let since = n.last_decision_ms.max(self.scenario.gst_ms);
            if self.now > since + LIVENESS_BOUND_MS {
                return Err(Violation::Liveness {
                    node: i,
                    decided: n.chain.len() as u64,
                    wanted: self.scenario.heights,
                    stalled_ms: self.now - since,
                    virtual_ms: self.now,
                });
            }
        }
        Ok(())
    }

    /// Runs the scenario to the end and checks every invariant.
    pub fn run(&mut self) -> Result<Outcome, Violation> {
        for (node, at, back) in self.scenario.crashes.clone() {
            self.schedule(at, Event::Crash { node });
            self.schedule(back, Event::Restart { node });
        }
        for node in 0..self.nodes.len() {
            self.feed(
                node,
                Input::StartHeight(Height::INITIAL, self.set.clone(), false, None, VoteExtensionPolicy::Disabled),
            )?;
        }
        while let Some(Reverse((at, id))) = self.events.pop() {
            if self.honest_decided() >= self.scenario.heights || at > self.scenario.limit_ms {
                break;
            }
            self.now = at;
            self.check_liveness()?;
            let Some(event) = self.payloads.remove(&id) else { continue };
            match event {
                Event::Deliver { to, from, message } => self.receive(to, from, message)?,
                Event::Timer { node, generation, timeout } => {
                    let n = &self.nodes[node];
                    if generation == n.timer_generation && !n.cancelled.contains(&(generation, timeout)) {
                        self.feed(node, Input::TimeoutElapsed(timeout))?;
                    }
                }
                Event::Local { node, input } => self.feed(node, *input)?,
                Event::Crash { node } => self.crash(node),
                Event::Restart { node } => self.restart(node)?,
            }
        }
        let decided = self.honest_decided();
        if decided < self.scenario.heights {
            let (node, n) = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.behaviour.is_honest())
                .min_by_key(|(_, n)| n.chain.len())
                .expect("an honest validator");
            return Err(Violation::Liveness {
                node,
                decided,
                wanted: self.scenario.heights,
                stalled_ms: self.now.saturating_sub(n.last_decision_ms),
                virtual_ms: self.now,
            });
        }
        let reference = self.nodes.iter().position(|n| n.behaviour.is_honest()).unwrap_or(0);
        let mut trace = blake3::Hasher::new();
        for (block, commit) in &self.nodes[reference].chain {
            trace.update(block.header.hash().as_bytes());
            trace.update(&commit.round.to_le_bytes());
        }
        trace.update(&self.now.to_le_bytes());
        Ok(Outcome {
            heights: decided,
            virtual_ms: self.now,
            decided_at: self.decided_at.clone(),
            evidence: self.evidence.clone(),
            trace: Hash(*trace.finalize().as_bytes()),
        })
    }

    /// The chain validator `node` decided.
    pub fn chain(&self, node: usize) -> &[(Block, Commit)] {
        &self.nodes[node].chain
    }
}

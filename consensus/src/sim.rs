//! A deterministic whole-cluster simulation (feature `sim`): validators running the real
//! [`Engine`] in one thread on virtual time, exchanging messages through a seeded network
//! with per-link delay and jitter. The same seed gives the same trace.
//!
//! After every decision it checks the invariants: agreement (no two validators decide
//! different blocks at a height), validity (only blocks that passed validation are
//! decided), every commit verifies with the ledger verifier, and block times strictly
//! increase. Faults (loss, partitions, crashes, Byzantine validators) are added by the
//! consensus issue's later steps.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

use chancery_ledger::chain::{Block, Commit, Header, Params};
use chancery_ledger::codec::BoundedVec;
use chancery_ledger::history::{Blake3History, HistoryTree};
use chancery_ledger::testkit::{key, public, validator_set};
use chancery_ledger::{ChainId, Hash, HashContext, ValidatorSet};
use ed25519_dalek::{Signer as _, SigningKey};
use malachitebft_core_consensus::{Input, LivenessMsg, LocallyProposedValue, ProposedValue, SignedConsensusMsg};
use malachitebft_core_types::{Height as _, Proposal as _, Timeout, Validity, ValueOrigin, VoteExtensionPolicy};

use crate::context::{timeouts, Address, BlockHash, BlockValue, ConsensusValidatorSet, Height, Sig};
use crate::engine::{Engine, Output, SignRequest, Signer, SignerRefused};

/// Virtual milliseconds.
pub type Millis = u64;

/// A signer with the double-sign guard: it refuses to sign a second, different message for
/// a (height, round, step) it already signed.
pub struct GuardedSigner {
    key: SigningKey,
    signed: HashMap<(u64, u32, u8), Hash>,
}

impl GuardedSigner {
    /// A signer holding `key`.
    pub fn new(key: SigningKey) -> Self {
        GuardedSigner { key, signed: HashMap::new() }
    }
}

impl Signer for GuardedSigner {
    fn sign(&mut self, request: &SignRequest) -> Result<Sig, SignerRefused> {
        let slot = (request.height, request.round, request.step as u8);
        match self.signed.get(&slot) {
            Some(previous) if *previous != request.message => {
                return Err(SignerRefused(format!(
                    "already signed another message at height {}, round {}, {:?}",
                    request.height, request.round, request.step
                )));
            }
            _ => {}
        }
        self.signed.insert(slot, request.message);
        Ok(Sig(self.key.sign(request.message.as_bytes()).to_bytes()))
    }
}

/// A message in flight.
#[derive(Debug, Clone)]
enum Message {
    Consensus(SignedConsensusMsg<crate::engine::Ctx>),
    Liveness(LivenessMsg<crate::engine::Ctx>),
}

#[derive(Debug)]
enum Event {
    Deliver {
        to: usize,
        message: Message,
    },
    Timer {
        node: usize,
        generation: u64,
        timeout: Timeout,
    },
    /// An input the node's own host produces later (a block it finished building).
    Local {
        node: usize,
        input: Box<Input<crate::engine::Ctx>>,
    },
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
}

/// How a simulated validator behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Follows the protocol.
    Honest,
    /// Sends nothing at all.
    Silent,
    /// Proposes blocks whose time is off by this many milliseconds (back-dated when
    /// negative, far-future when positive).
    ClockLiar(i64),
}

/// One simulated validator.
struct Node {
    behaviour: Behaviour,
    address: Address,
    engine: Engine,
    signer: GuardedSigner,
    chain: Vec<(Block, Commit)>,
    history: HistoryTree<Blake3History>,
    blocks: HashMap<BlockHash, BlockValue>,
    validated: HashSet<BlockHash>,
    stashed: Vec<SignedConsensusMsg<crate::engine::Ctx>>,
    timer_generation: u64,
    cancelled: HashSet<(u64, Timeout)>,
}

/// Network shape.
#[derive(Debug, Clone, Copy)]
pub struct NetworkConfig {
    /// Smallest one-way delay.
    pub delay_ms: Millis,
    /// Extra random delay, up to this much.
    pub jitter_ms: Millis,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Blocks decided by every validator.
    pub heights: u64,
    /// Virtual time at the end.
    pub virtual_ms: Millis,
    /// Virtual time of each height's decision by the first validator to decide it.
    pub decided_at: Vec<Millis>,
    /// A hash of everything decided, identical for identical runs.
    pub trace: Hash,
}

/// An invariant that did not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// Two validators decided different blocks at one height.
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
    /// Block time did not increase.
    #[error("time: block {height} has time {time_ms}, not after its parent's {parent_ms}")]
    Time {
        /// Height.
        height: u64,
        /// Its time.
        time_ms: u64,
        /// Parent time.
        parent_ms: u64,
    },
    /// A block decided with a time beyond the drift allowed from the deciding clock.
    #[error("time: block {height} has time {time_ms}, beyond the allowed drift of the clock {clock_ms}")]
    FutureTime {
        /// Height.
        height: u64,
        /// Its time.
        time_ms: u64,
        /// The deciding validator's clock.
        clock_ms: u64,
    },
    /// No progress within the time allowed.
    #[error("liveness: {decided} of {wanted} heights decided by virtual time {virtual_ms} ms")]
    Liveness {
        /// Heights decided by all.
        decided: u64,
        /// Heights wanted.
        wanted: u64,
        /// Virtual time reached.
        virtual_ms: Millis,
    },
    /// The engine stopped.
    #[error("engine of validator {node} failed: {reason}")]
    Engine {
        /// Validator.
        node: usize,
        /// Why.
        reason: String,
    },
}

/// A cluster under simulation.
pub struct Cluster {
    chain_id: ChainId,
    genesis_hash: Hash,
    ledger_set: ValidatorSet,
    set: ConsensusValidatorSet,
    params: Params,
    nodes: Vec<Node>,
    events: BinaryHeap<Reverse<(Millis, u64, usize)>>,
    payloads: BTreeMap<usize, Event>,
    sequence: u64,
    now: Millis,
    rng: Rng,
    network: NetworkConfig,
    genesis_time_ms: u64,
}

impl Cluster {
    /// `n` validators of equal power, seeded.
    pub fn new(n: usize, seed: u64, network: NetworkConfig) -> Self {
        let keys: Vec<_> = (0..n).map(|i| key(1, i as u16)).collect();
        let ledger_set = validator_set(&keys, 0);
        let set = ConsensusValidatorSet::from_ledger(&ledger_set);
        let chain_id = ChainId::new("sim-chain").expect("valid id");
        let params = Params::default();
        let nodes = keys
            .into_iter()
            .map(|k| {
                let address = Address(public(&k));
                Node {
                    behaviour: Behaviour::Honest,
                    address,
                    engine: Engine::new(chain_id.clone(), address, Height(0), set.clone(), timeouts(&params), true),
                    signer: GuardedSigner::new(k),
                    chain: Vec::new(),
                    history: HistoryTree::new(),
                    blocks: HashMap::new(),
                    validated: HashSet::new(),
                    stashed: Vec::new(),
                    timer_generation: 0,
                    cancelled: HashSet::new(),
                }
            })
            .collect();
        Cluster {
            genesis_hash: HashContext::Genesis.hash(chain_id.as_str().as_bytes()),
            chain_id,
            ledger_set,
            set,
            params,
            nodes,
            events: BinaryHeap::new(),
            payloads: BTreeMap::new(),
            sequence: 0,
            now: 0,
            rng: Rng(seed | 1),
            network,
            genesis_time_ms: 1_767_225_600_000,
        }
    }

    fn schedule(&mut self, at: Millis, event: Event) {
        self.sequence += 1;
        let id = self.sequence as usize;
        self.payloads.insert(id, event);
        self.events.push(Reverse((at, self.sequence, id)));
    }

    fn clock_ms(&self) -> u64 {
        self.genesis_time_ms + self.now
    }

    /// Runs one input, then the inputs its outputs lead to (queued, not recursive: the
    /// core's state is busy while an input runs).
    fn feed(&mut self, node: usize, input: Input<crate::engine::Ctx>) -> Result<(), Violation> {
        let mut queue = std::collections::VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            let outputs = {
                let n = &mut self.nodes[node];
                n.engine.handle(input, &mut n.signer).map_err(|e| Violation::Engine { node, reason: e.to_string() })?
            };
            for output in outputs {
                self.carry_out(node, output, &mut queue)?;
            }
        }
        Ok(())
    }

    /// Makes validator `node` behave as `behaviour`.
    pub fn set_behaviour(&mut self, node: usize, behaviour: Behaviour) {
        self.nodes[node].behaviour = behaviour;
    }

    fn broadcast(&mut self, from: usize, message: Message) {
        if self.nodes[from].behaviour == Behaviour::Silent {
            return;
        }
        for to in 0..self.nodes.len() {
            if to != from {
                let delay = self.network.delay_ms + self.rng.below(self.network.jitter_ms + 1);
                self.schedule(self.now + delay, Event::Deliver { to, message: message.clone() });
            }
        }
    }

    fn carry_out(
        &mut self,
        node: usize,
        output: Output,
        queue: &mut std::collections::VecDeque<Input<crate::engine::Ctx>>,
    ) -> Result<(), Violation> {
        match output {
            Output::Publish(msg) => self.broadcast(node, Message::Consensus(msg)),
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
                let block = self.build_block(node, height);
                let value = BlockValue::new(block);
                let n = &mut self.nodes[node];
                n.blocks.insert(value.hash(), value.clone());
                n.validated.insert(value.hash());
                // Building a block takes the host a moment.
                let input = Box::new(Input::Propose(LocallyProposedValue::new(height, round, value)));
                self.schedule(self.now + 1, Event::Local { node, input });
            }
            Output::Decide { block, commit } => self.decide(node, block, commit)?,
            Output::Finalize { commit, .. } => {
                let next = Height(commit.height + 1);
                queue.push_back(Input::StartHeight(next, self.set.clone(), false, None, VoteExtensionPolicy::Disabled));
                // Proposals for the new height wait until it has started.
                let stashed = std::mem::take(&mut self.nodes[node].stashed);
                for msg in stashed {
                    self.schedule(self.now, Event::Deliver { to: node, message: Message::Consensus(msg) });
                }
            }
            Output::StartRound { .. }
            | Output::WalAppend(..)
            | Output::SyncValueVerified(..)
            | Output::SyncValueRejected(..) => {}
        }
        Ok(())
    }

    fn parent(&self, node: usize) -> (Hash, u64) {
        match self.nodes[node].chain.last() {
            Some((block, _)) => (block.header.hash(), block.header.time_ms),
            None => (self.genesis_hash, self.genesis_time_ms),
        }
    }

    fn build_block(&self, node: usize, height: Height) -> Block {
        let (prev_hash, parent_ms) = self.parent(node);
        let n = &self.nodes[node];
        let time_ms = match n.behaviour {
            Behaviour::ClockLiar(offset) => self.clock_ms().saturating_add_signed(offset),
            _ => self.clock_ms().max(parent_ms + 1),
        };
        let header = Header {
            chain_id: self.chain_id.clone(),
            height: height.0,
            time_ms,
            prev_hash,
            tx_root: chancery_ledger::tx_tree::tx_root(&[]),
            tx_count: 0,
            history_root: n.history.bound_root_at(height.0).unwrap_or(Hash::ZERO),
            validators_hash: self.ledger_set.hash(),
            next_validators_hash: self.ledger_set.hash(),
            state_root: HashContext::State.hash(&height.0.to_le_bytes()),
            proposer: n.address.0,
        };
        Block { header, txs: BoundedVec::empty() }
    }

    /// The host's validity rule for a proposed block.
    fn validate(&self, node: usize, block: &Block) -> Validity {
        let (prev_hash, parent_ms) = self.parent(node);
        let header = &block.header;
        let drift = self.params.max_clock_drift_ms;
        let clock = self.clock_ms();
        let ok = header.chain_id == self.chain_id
            && header.height == self.nodes[node].chain.len() as u64
            && header.prev_hash == prev_hash
            && header.time_ms > parent_ms
            && header.time_ms.abs_diff(clock) <= drift
            && header.tx_count as usize == block.txs.len()
            && header.validators_hash == self.ledger_set.hash();
        if ok {
            Validity::Valid
        } else {
            Validity::Invalid
        }
    }

    fn receive(&mut self, node: usize, message: Message) -> Result<(), Violation> {
        let current = self.nodes[node].engine.state().height();
        match message {
            Message::Consensus(SignedConsensusMsg::Proposal(proposal)) => {
                let height = proposal.height();
                if height > current {
                    self.nodes[node].stashed.push(SignedConsensusMsg::Proposal(proposal));
                    return Ok(());
                }
                if height < current {
                    return Ok(());
                }
                let value = proposal.message.value.clone();
                let validity = self.validate(node, value.block());
                let n = &mut self.nodes[node];
                n.blocks.insert(value.hash(), value.clone());
                if validity == Validity::Valid {
                    n.validated.insert(value.hash());
                }
                let proposed = ProposedValue {
                    height,
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
        }
    }

    fn decide(&mut self, node: usize, block_hash: BlockHash, commit: Commit) -> Result<(), Violation> {
        let height = commit.height;
        let n = &self.nodes[node];
        let Some(value) = n.blocks.get(&block_hash).cloned() else {
            return Err(Violation::Validity { node, height, block: block_hash.0 });
        };
        if !n.validated.contains(&block_hash) {
            return Err(Violation::Validity { node, height, block: block_hash.0 });
        }
        let block = value.block().clone();
        if let Err(e) = commit.verify(&block.header, &self.ledger_set) {
            return Err(Violation::Commit { node, height, reason: e.to_string() });
        }
        let (_, parent_ms) = self.parent(node);
        if block.header.time_ms <= parent_ms {
            return Err(Violation::Time { height, time_ms: block.header.time_ms, parent_ms });
        }
        if block.header.time_ms > self.clock_ms() + self.params.max_clock_drift_ms {
            return Err(Violation::FutureTime { height, time_ms: block.header.time_ms, clock_ms: self.clock_ms() });
        }
        for (other, o) in self.nodes.iter().enumerate() {
            if let Some((decided, _)) = o.chain.get(height as usize) {
                if decided.header.hash() != block_hash.0 {
                    return Err(Violation::Agreement { height, a: node, b: other });
                }
            }
        }
        let n = &mut self.nodes[node];
        n.history.append_block(&block_hash.0);
        n.chain.push((block, commit));
        n.blocks.clear();
        n.validated.clear();
        Ok(())
    }

    /// Runs until every validator has decided `heights` blocks, or `limit_ms` of virtual
    /// time passes.
    pub fn run(&mut self, heights: u64, limit_ms: Millis) -> Result<Outcome, Violation> {
        for node in 0..self.nodes.len() {
            self.feed(
                node,
                Input::StartHeight(Height::INITIAL, self.set.clone(), false, None, VoteExtensionPolicy::Disabled),
            )?;
        }
        let mut decided_at = Vec::new();
        while let Some(Reverse((at, _, id))) = self.events.pop() {
            if self.honest_decided() >= heights || at > limit_ms {
                break;
            }
            self.now = at;
            let Some(event) = self.payloads.remove(&id) else { continue };
            match event {
                Event::Deliver { to, message } => self.receive(to, message)?,
                Event::Timer { node, generation, timeout } => {
                    let n = &self.nodes[node];
                    if generation == n.timer_generation && !n.cancelled.contains(&(generation, timeout)) {
                        self.feed(node, Input::TimeoutElapsed(timeout))?;
                    }
                }
                Event::Local { node, input } => self.feed(node, *input)?,
            }
            let most = self.nodes.iter().map(|n| n.chain.len()).max().unwrap_or(0);
            while decided_at.len() < most {
                decided_at.push(self.now);
            }
        }
        let decided = self.honest_decided();
        if decided < heights {
            return Err(Violation::Liveness { decided, wanted: heights, virtual_ms: self.now });
        }
        let mut trace = blake3::Hasher::new();
        for (block, commit) in &self.nodes[0].chain {
            trace.update(block.header.hash().as_bytes());
            trace.update(&commit.round.to_le_bytes());
        }
        trace.update(&self.now.to_le_bytes());
        Ok(Outcome { heights: decided, virtual_ms: self.now, decided_at, trace: Hash(*trace.finalize().as_bytes()) })
    }

    fn honest_decided(&self) -> u64 {
        self.nodes.iter().filter(|n| n.behaviour == Behaviour::Honest).map(|n| n.chain.len() as u64).min().unwrap_or(0)
    }

    /// The chain validator `node` decided.
    pub fn chain(&self, node: usize) -> &[(Block, Commit)] {
        &self.nodes[node].chain
    }
}

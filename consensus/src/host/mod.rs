//! The consensus host, sans I/O: everything a node does around the engine, written once
//! and run both by the node (its consensus thread feeds it network events and the clock)
//! and by the simulator (virtual time, a simulated network). It keeps the engine's
//! timers, builds blocks when this node proposes, validates and keeps proposed blocks,
//! stashes next-height proposals, syncs blocks from peers, commits decided blocks through
//! the store, anchors equivocations, and restarts the engine from the WAL after a crash.
//!
//! The host is driven by [`Host::handle`]: an [`Event`] and the time ([`Now`]) go in,
//! [`Action`]s for the network and the node come out. It never reads a clock, sleeps or
//! touches a socket; [`Host::next_wake`] says when it next wants a [`Event::Tick`]. WAL
//! appends and signatures go through the [`Wal`] and [`Signer`] it owns; the store is any
//! [`Backend`].
//!
//! Any failure it cannot undo (the signer refuses, the WAL or the store cannot be
//! written) is a [`Halt`]: the caller stops feeding it and an operator decides. It never
//! signs or commits on a guess.

mod compact;
mod memory_wal;
mod proposals;
mod sync;

pub mod mempool;
pub mod produce;

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash as StdHash;
use std::sync::Arc;

use chancery_ledger::codec::BoundedVec;
use chancery_ledger::state::StateChanges;
use chancery_ledger::store::{Backend, StoreError, StoreWriter};
use chancery_ledger::{Block, Commit, Hash, Header, PublicKey, Signature, Tx};
use malachitebft_core_consensus::{Input, LivenessMsg, LocallyProposedValue, SignedConsensusMsg};
use malachitebft_core_types::{Round, Timeout, Validity, VoteExtensionPolicy};

use crate::context::{timeouts, Address, BlockHash, BlockValue, ConsensusValidatorSet, Height};
use crate::engine::{Ctx, Engine, EngineError, Output, Signer, Wal, WalError};
use crate::validity::proposal_time_ms;
use crate::wire::{Message, WalEntry, WirePolka, WireProposal, WireRoundCertificate, WireVote};

use mempool::Mempool;
use produce::{build_block, Built};

pub use compact::{
    fill, NotAskedFor, OwnProposals, ProposalTxs, ASSEMBLING_MAX, ASSEMBLING_PER_PEER_MAX, OWN_PROPOSALS_KEPT,
};
pub use memory_wal::MemoryWal;
pub use sync::{
    SYNC_BUSY_BACKOFF_MS, SYNC_PEERS_MAX, SYNC_PEER_BACKOFF_MS, SYNC_REQUESTS_PER_PEER_MAX, SYNC_REQUEST_TIMEOUT_MS,
    SYNC_WINDOW,
};

/// Proposals for the next height kept until the node gets there (a proposer may send
/// its block while this node still commits the last one). Each holds a block of up to
/// `BLOCK_BYTES_MAX`, so few; proposals for any other height are not kept.
pub const STASHED_MAX: usize = 8;
/// Proposals for the next height kept from one proposer.
pub const STASHED_PER_PROPOSER_MAX: usize = 2;
/// Votes for the next height kept until the node gets there: a validator that committed
/// first votes at once, while this node still commits. Without them a node whose
/// peers' prevotes all came early waited for the engine's rebroadcast (seconds) with the
/// chain stalled behind it (seen under packet loss, docs/BENCHMARKS.md). Each is checked
/// to be signed by a validator of the current set; at most this many from one validator
/// (its prevote and precommit of the first rounds)...
pub const EARLY_VOTES_PER_VALIDATOR_MAX: usize = 4;
/// ...and at most this many in all.
pub const EARLY_VOTES_MAX: usize = 256;
/// How far beyond the engine's current round a proposal may be and still be executed.
pub const PROPOSAL_ROUNDS_AHEAD_MAX: u32 = 8;
/// Proposed blocks kept at one height (the engine may decide any of them); beyond this
/// the earliest round's block is dropped (if the engine decides it after all, the node
/// syncs it from a peer instead of committing it itself).
pub const BLOCKS_KEPT_MAX: usize = 8;
const _: () = assert!(STASHED_MAX <= BLOCKS_KEPT_MAX && BLOCKS_KEPT_MAX >= 2);
/// How long a proposer whose mempool is empty waits for txs, once its height has
/// started, before it proposes an empty block, in milliseconds (a peer that started the
/// height for a tx has gossiped it; it is usually on its way).
pub const EMPTY_BLOCK_WAIT_MS: u64 = 1000;
/// How often a node that does not vote asks its signer again for a key the set names.
pub const KEY_CHECK_INTERVAL_MS: u64 = 1000;

/// A peer's identity as the caller's network names it (a libp2p peer id in the node, an
/// index in the simulator).
pub trait Peer: Copy + Eq + StdHash + Debug {}
impl<T: Copy + Eq + StdHash + Debug> Peer for T {}

/// The time an event is handled at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// A monotonic clock in milliseconds (timers, waits, backoffs).
    pub ms: u64,
    /// The wall clock in milliseconds since the Unix epoch (block time, the drift check).
    pub clock_ms: u64,
}

/// What the host is told.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Event<P> {
    /// Nothing new: timers and a pending block build may be due.
    Tick,
    /// New txs are in the mempool (a proposer waiting for txs may build now).
    TxsArrived,
    /// A message from a peer (votes, proposals, polka certificates and status matter to
    /// consensus; the rest is the network's).
    Message {
        /// The sender.
        from: P,
        /// The message.
        message: Message,
    },
    /// A block fetched for sync, with its commit.
    Block {
        /// The peer that sent it.
        from: P,
        /// The block.
        block: Box<Block>,
        /// Its commit.
        commit: Commit,
        /// The caller checked every tx's signature (in batch, off the consensus thread);
        /// `false`: the host checks them.
        verified: bool,
    },
    /// A peer did not send block `height` it was asked for: it does not have it, the
    /// request failed, or (`busy`) it had too many reads under way.
    NoBlock {
        /// The peer.
        from: P,
        /// The height asked for.
        height: u64,
        /// It was only busy.
        busy: bool,
    },
    /// A proposer's answer to [`Action::GetProposalTxs`] (or its failure).
    ProposalTxs {
        /// The proposer.
        from: P,
        /// The answer.
        answer: ProposalTxs,
    },
}

/// A block the host committed (decided by consensus or synced from a peer).
#[derive(Debug, Clone)]
pub struct CommittedBlock<P> {
    /// Its header.
    pub header: Header,
    /// Its txs' hashes, in block order.
    pub tx_hashes: Vec<Hash>,
    /// For a block this node proposed, milliseconds from building it to its commit.
    pub latency_ms: Option<u64>,
    /// The peer it was synced from, if it was.
    pub synced_from: Option<P>,
}

/// What the host asks of the network and the node, in order.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Action<P> {
    /// Send to every peer.
    Broadcast(Message),
    /// Txs admitted here, to every peer, in order.
    GossipTxs(Vec<Tx>),
    /// Ask one peer for a committed block with its commit.
    GetBlock {
        /// The peer.
        peer: P,
        /// The height.
        height: u64,
    },
    /// Ask a proposer for the txs of its compact proposal this node lacks; the answer
    /// comes back as [`Event::ProposalTxs`].
    GetProposalTxs {
        /// The proposer.
        peer: P,
        /// The height.
        height: u64,
        /// The round.
        round: u32,
        /// The proposed block.
        block_hash: Hash,
        /// The txs wanted.
        hashes: Vec<Hash>,
    },
    /// A compact proposal was completed: how many of its txs this node held, how many it
    /// fetched (for the metrics).
    Assembled {
        /// Txs found in the mempool.
        local: usize,
        /// Txs fetched from the proposer.
        fetched: usize,
    },
    /// Drop a peer that sent something provably bad.
    Penalise {
        /// The peer.
        peer: P,
        /// Why.
        reason: String,
    },
    /// A block is committed in the store.
    Committed(CommittedBlock<P>),
}

/// Consensus stopped for a reason an operator must see.
#[derive(Debug, thiserror::Error)]
pub enum Halt {
    /// The engine stopped (the signer refused, or the WAL could not be written).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The WAL could not be cleared or read.
    #[error(transparent)]
    Wal(#[from] WalError),
    /// The store could not be read at a point the host cannot go on without it.
    #[error("store, while {doing}: {source}")]
    Store {
        /// What the host was doing.
        doing: &'static str,
        /// The store's error.
        source: Box<StoreError>,
    },
    /// A WAL record of this height does not make an engine input.
    #[error("WAL record at height {height}: {reason}")]
    WalRecord {
        /// The height.
        height: u64,
        /// Why it does not.
        reason: String,
    },
}

fn store(doing: &'static str) -> impl Fn(StoreError) -> Halt {
    move |source| Halt::Store { doing, source: Box::new(source) }
}

/// A block build the engine asked for, waiting for txs or the empty-block wait.
struct PendingBuild {
    height: Height,
    round: Round,
    wait_until_ms: u64,
}

/// A proposed block the host keeps for the engine.
struct KeptBlock {
    value: BlockValue,
    /// The latest round it was proposed in, and by whom.
    round: u32,
    proposed_by: Address,
    /// The verdict, once validated (blocks replayed from the WAL are validated when the
    /// core asks again).
    validity: Option<Validity>,
    /// Whether the verdict checked the block's time against this node's clock.
    clock_checked: bool,
    changes: Option<StateChanges>,
}

/// What a host is made of: the store and mempool it shares with the node's readers, the
/// signer and WAL it owns.
pub struct HostParts<B: Backend, S: Signer, W: Wal> {
    /// The chain store's writer (the node's readers share the store through it).
    pub store: StoreWriter<B>,
    /// The mempool.
    pub mempool: Arc<Mempool>,
    /// The holder of the consensus key.
    pub signer: S,
    /// The write-ahead log.
    pub wal: W,
    /// The WAL's records, as read at start (those of the store's next height are replayed).
    pub wal_records: Vec<(u64, WalEntry)>,
    /// The key this node signs with when its signer names none of the set's.
    pub address: Address,
    /// The genesis time (the parent time of block 0).
    pub genesis_time_ms: u64,
    /// The node's p2p key, which signs the misbehaviour it anchors (none: anchors none).
    pub reporter: Option<ed25519_dalek::SigningKey>,
}

/// One node's consensus host.
pub struct Host<B: Backend, S: Signer, W: Wal, P: Peer> {
    store: StoreWriter<B>,
    mempool: Arc<Mempool>,
    engine: Engine,
    signer: S,
    wal: W,
    address: Address,
    genesis_time_ms: u64,
    timers: Vec<(u64, Timeout)>,
    build: Option<PendingBuild>,
    /// The next height, not started: the chain is idle. Its engine rounds (and their
    /// timeouts) begin when a tx is in the mempool, when a validator's vote or proposal
    /// for it arrives, or at this time, the chain's `empty_block_interval_ms` after the
    /// last block's time. Waiting to start is safe (nothing is signed meanwhile); a start
    /// by one validator starts the others through its messages.
    idle_until_ms: Option<u64>,
    built: HashMap<BlockHash, (Built, u64)>,
    /// Proposed blocks at this height (shared with the engine's values, not copied): the
    /// round each came in, and, once validated, the verdict and the state changes.
    blocks: HashMap<BlockHash, KeptBlock>,
    stashed: Vec<(P, WireProposal)>,
    /// Votes for the next height (see [`EARLY_VOTES_MAX`]).
    early_votes: Vec<(P, WireVote)>,
    /// Compact proposals waiting for txs from their proposers.
    assembling: Vec<compact::Assembling<P>>,
    sync: sync::SyncState<P>,
    restart_pending: bool,
    /// When a node that does not vote last asked its signer for a key the set names.
    key_checked_at_ms: u64,
    reporter: Option<ed25519_dalek::SigningKey>,
    /// The last nonce this host signed misbehaviour with.
    anchor_nonce: u64,
    own_proposals: HashMap<Round, BlockValue>,
    voting: bool,
    params: chancery_ledger::Params,
    /// The time of the event being handled.
    now: Now,
    /// What the event being handled asks for.
    actions: Vec<Action<P>>,
}

/// The consensus key this node signs with at a height of `set`: the first key its
/// signer holds that is a voting validator's there (after a key rotation, the successor
/// from the effective height on); else the signer's key in use, and the node follows.
fn signing_address<S: Signer>(set: &chancery_ledger::ValidatorSet, signer: &mut S, fallback: Address) -> Address {
    let keys = signer.public_keys();
    let voting = keys.iter().find(|key| set.find(key).is_some_and(|(_, v)| v.power > 0));
    voting.or(keys.first()).map_or(fallback, |key| Address(*key))
}

/// Whether this node votes at `height`: it is a validator with power, and its signer has
/// not signed beyond what its store holds. A node that lost its data (but kept its
/// signer state) follows without voting until the chain passes its last signature; at
/// that very height it votes only if the WAL holds what it signed.
fn may_vote<S: Signer>(
    set: &chancery_ledger::ValidatorSet,
    address: &Address,
    signer: &S,
    height: u64,
    wal_has_height: bool,
) -> bool {
    let validator = set.find(&address.0).is_some_and(|(_, v)| v.power > 0);
    let signed_ahead = match signer.signed_up_to() {
        Some(mark) => mark > height || (mark == height && !wal_has_height),
        None => false,
    };
    validator && !signed_ahead
}

impl<B: Backend, S: Signer, W: Wal, P: Peer> Host<B, S, W, P> {
    /// Starts (or resumes after a crash) consensus at the store's next height, replaying
    /// the WAL records of that height so the engine re-uses what it signed.
    pub fn start(parts: HostParts<B, S, W>, now: Now) -> Result<(Self, Vec<Action<P>>), Halt> {
        let HostParts { store, mempool, mut signer, mut wal, wal_records, address, genesis_time_ms, reporter } = parts;
        let height = store.height();
        let set = store.current_validators().map_err(self::store("reading the validator set"))?;
        let address = signing_address(&set, &mut signer, address);
        let mut inputs = Vec::new();
        for (h, entry) in wal_records {
            if h == height {
                inputs.push(entry.to_input().map_err(|e| Halt::WalRecord { height, reason: e.to_string() })?);
            }
        }
        // Our own proposals recorded before the crash: proposing again in the same round
        // must propose the same block (the signer refuses anything else, rightly).
        let mut own_proposals = HashMap::new();
        let mut blocks = HashMap::new();
        for input in &inputs {
            let (value, round, proposed_by) = match input {
                Input::Propose(local) => {
                    own_proposals.insert(local.round, local.value.clone());
                    (&local.value, local.round, address)
                }
                Input::ProposedValue(proposed, _) => {
                    if proposed.proposer == address {
                        own_proposals.insert(proposed.round, proposed.value.clone());
                    }
                    (&proposed.value, proposed.round, proposed.proposer)
                }
                Input::Proposal(signed) => (&signed.message.value, signed.message.round, signed.message.proposer),
                _ => continue,
            };
            // Every recorded proposal has a defined round.
            let round =
                round.as_u32().ok_or(Halt::WalRecord { height, reason: "a proposal without a round".into() })?;
            let kept = KeptBlock {
                value: value.clone(),
                round,
                proposed_by,
                validity: None,
                clock_checked: false,
                changes: None,
            };
            blocks.insert(value.hash(), kept);
        }
        let voting = may_vote(&set, &address, &signer, height, !inputs.is_empty());
        let params = store.params().map_err(self::store("reading the chain parameters"))?;
        let consensus_set = ConsensusValidatorSet::from_ledger(&set);
        if !inputs.is_empty() {
            tracing::info!(height, records = inputs.len(), "replaying the WAL");
        }
        let (engine, outputs) = Engine::recover(
            store.identity(),
            address,
            Height(height),
            consensus_set,
            timeouts(&params),
            voting,
            &inputs,
            &mut signer,
            &mut wal,
        )?;
        if !voting {
            tracing::info!("this node is not a validator: it follows the chain and does not vote");
        }
        let mut host = Host {
            store,
            mempool,
            engine,
            signer,
            wal,
            address,
            genesis_time_ms,
            timers: Vec::new(),
            build: None,
            idle_until_ms: None,
            built: HashMap::new(),
            blocks,
            stashed: Vec::new(),
            early_votes: Vec::new(),
            assembling: Vec::new(),
            sync: sync::SyncState::default(),
            restart_pending: false,
            key_checked_at_ms: now.ms,
            reporter,
            anchor_nonce: 0,
            own_proposals,
            voting,
            params,
            now,
            actions: Vec::new(),
        };
        for output in outputs {
            host.carry_out(output)?;
        }
        host.poll()?;
        let actions = std::mem::take(&mut host.actions);
        Ok((host, actions))
    }

    /// Handles one event at `now`, then whatever is due (timers, a block build, a
    /// restart), and returns what the network and the node must do, in order.
    pub fn handle(&mut self, event: Event<P>, now: Now) -> Result<Vec<Action<P>>, Halt> {
        self.now = now;
        match event {
            Event::Tick | Event::TxsArrived => {}
            Event::Message { from, message } => self.on_message(from, message)?,
            Event::Block { from, block, commit, verified } => {
                self.on_synced_block(sync::Fetched { from, block: *block, commit, verified })
            }
            Event::NoBlock { from, height, busy } => self.sync_failed(from, height, busy),
            Event::ProposalTxs { from, answer } => self.on_proposal_txs(from, answer)?,
        }
        self.poll()?;
        Ok(std::mem::take(&mut self.actions))
    }

    /// When the host next wants a [`Event::Tick`] (monotonic milliseconds), if ever.
    pub fn next_wake(&self) -> Option<u64> {
        // A block to build and txs to fill it: at once.
        if self.build.is_some() && self.mempool.size().0 > 0 {
            return Some(0);
        }
        // A proposal kept for the height just reached (after a commit), or its block
        // fetched by sync: at once.
        if self.stashed.iter().any(|(_, p)| p.height == self.height())
            || self.early_votes_due()
            || self.sync.fetched.contains_key(&self.height())
        {
            return Some(0);
        }
        let key_check = (!self.voting).then_some(self.key_checked_at_ms + KEY_CHECK_INTERVAL_MS);
        let assembling = self.assembling.iter().map(|a| a.until_ms).min();
        self.timers
            .iter()
            .map(|(at, _)| *at)
            .chain(self.build.as_ref().map(|b| b.wait_until_ms))
            .chain(self.idle_until_ms.map(|until| if self.mempool.size().0 > 0 { 0 } else { until }))
            .chain(key_check)
            .chain(assembling)
            .min()
    }

    /// The height consensus works on: the store's next block.
    pub fn height(&self) -> u64 {
        self.store.height()
    }

    /// Whether this node votes at the current height.
    pub fn is_voting(&self) -> bool {
        self.voting
    }

    /// The consensus key this node signs with.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The engine (read-only: the round, the proposer of a round).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The proposed blocks kept at this height: the latest round each was proposed in,
    /// and by whom.
    pub fn kept_proposals(&self) -> Vec<(u32, Address)> {
        self.blocks.values().map(|kept| (kept.round, kept.proposed_by)).collect()
    }

    /// The proposer of `round` at the height consensus works on.
    pub fn proposer_of(&self, round: u32) -> Address {
        let state = self.engine.state();
        *state.get_proposer(state.height(), Round::new(round))
    }

    /// Whatever is due now, until nothing is: a restart at the store's height, stashed
    /// proposals of this height, the key check of a node that does not vote, timers, a
    /// block build.
    fn poll(&mut self) -> Result<(), Halt> {
        self.expire_assembling();
        loop {
            // A committed block is announced before more work is done: the caller gets
            // the actions now and wakes the host again at once (see `next_wake`).
            if self.actions.iter().any(|a| matches!(a, Action::Committed(_))) {
                return Ok(());
            }
            let now = self.now.ms;
            if self.restart_pending {
                self.restart_pending = false;
                self.restart_at_store_height()?;
                continue;
            }
            if self.commit_fetched()? {
                continue;
            }
            if let Some(until) = self.idle_until_ms {
                if self.mempool.size().0 > 0 || now >= until {
                    self.start_idle_height()?;
                    if now >= until {
                        // The interval ran out: this node, if it proposes round 0 (the
                        // engine asked at once), proposes without waiting for txs.
                        if let Some(build) = &mut self.build {
                            build.wait_until_ms = now;
                        }
                    }
                    continue;
                }
            }
            if self.stashed.iter().any(|(_, p)| p.height == self.height()) {
                self.replay_stashed()?;
                continue;
            }
            if self.early_votes_due() {
                self.replay_early_votes()?;
                continue;
            }
            if !self.voting && now >= self.key_checked_at_ms + KEY_CHECK_INTERVAL_MS {
                // A validator whose rotated key was missing at the effective height votes
                // as soon as its signer holds it, even if the chain waits for its vote.
                self.key_checked_at_ms = now;
                self.restart_pending = self.signer_holds_a_voting_key()?;
                continue;
            }
            if let Some(i) = self.due_timer(now) {
                // L57, L61, L65: OnTimeoutPropose, OnTimeoutPrevote, OnTimeoutPrecommit.
                let (_, timeout) = self.timers.swap_remove(i);
                self.feed(Input::TimeoutElapsed(timeout))?;
                continue;
            }
            if let Some(build) = &self.build {
                if self.mempool.size().0 > 0 || now >= build.wait_until_ms {
                    self.propose()?;
                    continue;
                }
            }
            return Ok(());
        }
    }

    /// Whether the signer now holds a key of a voting validator of the set in force, and
    /// may vote at this height.
    fn signer_holds_a_voting_key(&mut self) -> Result<bool, Halt> {
        let set = self.store.current_validators().map_err(store("reading the validator set"))?;
        let address = signing_address(&set, &mut self.signer, self.address);
        Ok(may_vote(&set, &address, &self.signer, self.height(), false))
    }

    fn due_timer(&self, now: u64) -> Option<usize> {
        self.timers.iter().enumerate().filter(|(_, (at, _))| *at <= now).min_by_key(|(_, (at, _))| *at).map(|(i, _)| i)
    }

    fn feed(&mut self, input: Input<Ctx>) -> Result<(), Halt> {
        // While a sync moves the store ahead, the engine's height is over: nothing may
        // reach it (a stale timeout would make it sign at a decided height) until it is
        // restarted at the store's height.
        if self.engine.state().height().0 < self.height() && !matches!(input, Input::StartHeight(..)) {
            return Ok(());
        }
        let outputs = match self.engine.handle(input, &mut self.signer, &mut self.wal) {
            Ok(outputs) => outputs,
            Err(e @ EngineError::Halted(_)) => return Err(Halt::Engine(e)),
            Err(e @ EngineError::Core(_)) => {
                // The core refused one input (for example a stale one): log it, go on.
                tracing::warn!(error = %e, "consensus input refused");
                return Ok(());
            }
        };
        for output in outputs {
            self.carry_out(output)?;
        }
        Ok(())
    }

    fn carry_out(&mut self, output: Output) -> Result<(), Halt> {
        match output {
            // L21, L34, L47: the timeouts the core schedules, fired by `poll`.
            Output::ScheduleTimeout { timeout, after } => {
                self.timers.retain(|(_, t)| *t != timeout);
                self.timers.push((self.now.ms + after.as_millis() as u64, timeout));
            }
            Output::CancelTimeout(timeout) => self.timers.retain(|(_, t)| *t != timeout),
            Output::CancelAllTimeouts => self.timers.clear(),
            // L18: getValue(), the block this proposer builds from its mempool.
            Output::GetValue { height, round, within } => {
                let wait = EMPTY_BLOCK_WAIT_MS.min(within.as_millis() as u64 / 2);
                self.build = Some(PendingBuild { height, round, wait_until_ms: self.now.ms + wait });
            }
            Output::Decide { block, commit } => self.commit(block, commit)?,
            Output::Finalize { commit, evidence } => {
                self.anchor_misbehaviour(&evidence);
                // After a sync the engine may finalize a height the store already moved past.
                if commit.height + 1 == self.height() {
                    self.wal.clear()?;
                    let set = self.store.current_validators().map_err(store("reading the validator set"))?;
                    let next = commit.height + 1;
                    let address = signing_address(&set, &mut self.signer, self.address);
                    if address != self.address || may_vote(&set, &address, &self.signer, next, false) != self.voting {
                        // Voting starts or stops here, or this validator's key rotated: the
                        // engine is rebuilt for it.
                        if address != self.address {
                            tracing::info!(height = next, key = %address.0, "signing with the rotated consensus key from here on");
                        } else if self.voting && set.find(&address.0).is_none() {
                            tracing::warn!(height = next, "the validator set no longer names this signer's consensus keys: if this institution rotated its key, put the new key at keys/consensus.next.key (the node votes again as soon as its signer holds it)");
                        }
                        self.restart_pending = true;
                        return Ok(());
                    }
                    // L8-L10: a new height starts at round 0 with the next validator set,
                    // once there is something to commit or the idle interval has passed
                    // since this block's time (see `idle_until_ms`).
                    let interval = self.store.params().map_err(store("reading the chain parameters"))?;
                    let interval = interval.empty_block_interval_ms;
                    let block_ms = self.store.header(commit.height).map_err(store("reading the last header"))?.time_ms;
                    let wait = (block_ms + interval).saturating_sub(self.now.clock_ms).min(interval);
                    self.idle_until_ms = Some(self.now.ms + wait);
                }
            }
            Output::StartRound { height, round, .. } => {
                tracing::debug!(height = height.0, round = round.as_i64(), "round started");
            }
            // L24, L26, L30, L32, L36, L44: broadcast ⟨PREVOTE⟩ and ⟨PRECOMMIT⟩.
            Output::Publish(SignedConsensusMsg::Vote(vote)) | Output::RepublishVote(vote) => {
                self.actions.push(Action::Broadcast(Message::Vote(WireVote::from_signed(&vote))));
            }
            // L19: broadcast ⟨PROPOSAL, h, round, proposal, validRound⟩.
            Output::Publish(SignedConsensusMsg::Proposal(proposal)) => {
                self.actions.push(Action::Broadcast(Message::Proposal(WireProposal::from_signed(&proposal))));
            }
            Output::PublishLiveness(LivenessMsg::Vote(vote)) => {
                self.actions.push(Action::Broadcast(Message::Vote(WireVote::from_signed(&vote))));
            }
            // L28 and L36 need 2f+1 prevotes for a round: a polka sent whole, so a
            // validator that missed some of those prevotes can still act on it.
            Output::PublishLiveness(LivenessMsg::PolkaCertificate(cert)) => {
                let signatures =
                    cert.polka_signatures.iter().map(|s| (s.address.0, Signature(s.signature.0))).collect();
                // A certificate the engine made itself: defined round, one signature per
                // validator at most.
                let round = cert.round.as_u32();
                if let (Some(round), Ok(signatures)) = (round, BoundedVec::new(signatures)) {
                    self.actions.push(Action::Broadcast(Message::Polka(WirePolka {
                        height: cert.height.0,
                        round,
                        block_hash: cert.value_id.0,
                        signatures,
                    })));
                }
            }
            // L55 and the rebroadcast of round certificates: a validator whose messages of
            // earlier rounds were lost joins the round the others are in.
            Output::PublishLiveness(LivenessMsg::SkipRoundCertificate(cert))
            | Output::RepublishRoundCertificate(cert) => {
                if let Some(cert) = WireRoundCertificate::from_certificate(&cert) {
                    self.actions.push(Action::Broadcast(Message::RoundCertificate(cert)));
                }
            }
            // Blocks are synced with their commits through the store, not the engine.
            Output::SyncValueVerified(..) | Output::SyncValueRejected(..) => {}
        }
        Ok(())
    }

    /// Equivocations the core saw at this height go on chain as misbehaviour txs signed
    /// with this node's p2p key (into the mempool here and to the peers).
    fn anchor_misbehaviour(&mut self, evidence: &malachitebft_core_consensus::MisbehaviorEvidence<Ctx>) {
        let Some(reporter) = &self.reporter else { return };
        let identity = self.store.identity();
        let records = crate::evidence::equivocations(&identity, evidence);
        if records.is_empty() {
            return;
        }
        // Nonces from the clock in microseconds, as clients number theirs, and above the
        // last this host used.
        let base = self.now.clock_ms.saturating_mul(1000).max(self.anchor_nonce.saturating_add(1));
        self.anchor_nonce = base + records.len() as u64 - 1;
        let txs: Vec<Tx> = records
            .into_iter()
            .enumerate()
            .map(|(i, record)| {
                tracing::warn!(validator = %record.validator, "equivocation seen: anchoring it as misbehaviour");
                Tx::sign(reporter, &identity, chancery_ledger::TxBody::Misbehaviour(record), base + i as u64)
            })
            .collect();
        let results = mempool::admit(&self.store, &self.mempool, txs.clone(), self.now.clock_ms);
        for refused in results.iter().filter_map(|r| r.as_ref().err()) {
            tracing::info!(reason = %refused, "misbehaviour not anchored by this node");
        }
        let admitted = mempool::admitted(txs, &results);
        if !admitted.is_empty() {
            self.actions.push(Action::GossipTxs(admitted));
        }
    }

    fn on_message(&mut self, from: P, message: Message) -> Result<(), Halt> {
        let height = self.height();
        if let Message::Vote(vote) = &message {
            if vote.height == height && self.idle_until_ms.is_some() {
                let signed = vote.to_signed();
                let message = signed.message.signing_message(&self.store.identity());
                if self.signed_by_a_validator(&vote.validator, &message, &vote.signature) {
                    self.start_idle_height()?;
                }
            }
        }
        match message {
            // L34, L36, L44, L47, L49, L55: votes of this height, counted by the core.
            Message::Vote(vote) if vote.height == height => self.feed(Input::Vote(vote.to_signed())),
            Message::Vote(vote) if vote.height == height + 1 => {
                self.keep_early_vote(from, vote);
                Ok(())
            }
            Message::Polka(polka) if polka.height == height => {
                self.feed(Input::PolkaCertificate(polka.to_certificate()))
            }
            Message::RoundCertificate(cert) if cert.height == height => {
                self.feed(Input::RoundCertificate(cert.to_certificate()))
            }
            Message::Proposal(proposal) => self.on_proposal(from, proposal),
            Message::CompactProposal(proposal) => self.on_compact(from, proposal),
            Message::Status { blocks } => {
                self.maybe_sync(from, blocks);
                Ok(())
            }
            // Votes of heights passed, or beyond the next, no longer (or not yet) matter;
            // txs, block and tx requests are the network's.
            _ => Ok(()),
        }
    }

    /// Keeps a vote for the next height if it is signed by the validator it names, one
    /// of the current set, within the rounds and the bounds of [`EARLY_VOTES_MAX`] (a
    /// peer cannot crowd out a validator's real votes with forgeries).
    fn keep_early_vote(&mut self, from: P, vote: WireVote) {
        let same = |v: &WireVote| v.validator == vote.validator && v.round == vote.round && v.kind == vote.kind;
        let by_validator = self.early_votes.iter().filter(|(_, v)| v.validator == vote.validator).count();
        if vote.round > PROPOSAL_ROUNDS_AHEAD_MAX
            || self.early_votes.len() >= EARLY_VOTES_MAX
            || by_validator >= EARLY_VOTES_PER_VALIDATOR_MAX
            || self.early_votes.iter().any(|(_, v)| same(v))
        {
            return;
        }
        let message = vote.to_signed().message.signing_message(&self.store.identity());
        if self.signed_by_a_validator(&vote.validator, &message, &vote.signature) {
            self.early_votes.push((from, vote));
        }
    }

    /// Whether kept votes are of the height the node has reached (or one it passed).
    fn early_votes_due(&self) -> bool {
        self.early_votes.iter().any(|(_, v)| v.height <= self.height())
    }

    /// The kept votes of the height the node has reached, handled as if they arrived
    /// now; those of heights passed are dropped, those of later heights stay.
    fn replay_early_votes(&mut self) -> Result<(), Halt> {
        let height = self.height();
        let (now, later): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.early_votes).into_iter().partition(|(_, v)| v.height == height);
        self.early_votes = later.into_iter().filter(|(_, v)| v.height > height).collect();
        for (from, vote) in now {
            self.on_message(from, Message::Vote(vote))?;
        }
        Ok(())
    }

    /// Whether `key` is a voting validator at the height consensus works on and
    /// `signature` over `message` is its.
    fn signed_by_a_validator(&self, key: &PublicKey, message: &Hash, signature: &Signature) -> bool {
        let is_validator =
            self.store.current_validators().is_ok_and(|set| set.find(key).is_some_and(|(_, v)| v.power > 0));
        is_validator && key.verify(message, signature).is_ok()
    }

    /// Starts the height the idle chain waited at (see `idle_until_ms`).
    fn start_idle_height(&mut self) -> Result<(), Halt> {
        if self.idle_until_ms.take().is_none() {
            return Ok(());
        }
        let set = self.store.current_validators().map_err(store("reading the validator set"))?;
        let set = ConsensusValidatorSet::from_ledger(&set);
        self.feed(Input::StartHeight(Height(self.height()), set, false, None, VoteExtensionPolicy::Disabled))
    }

    /// A fresh engine at the store's next height (after a sync moved the store past the
    /// height the engine was working on, or when voting starts or stops).
    fn restart_at_store_height(&mut self) -> Result<(), Halt> {
        let height = self.height();
        self.wal.clear()?;
        let set = self.store.current_validators().map_err(store("reading the validator set"))?;
        self.params = self.store.params().map_err(store("reading the chain parameters"))?;
        self.address = signing_address(&set, &mut self.signer, self.address);
        self.voting = may_vote(&set, &self.address, &self.signer, height, false);
        if !self.voting && set.find(&self.address.0).is_some() {
            tracing::warn!(height, "the signer signed beyond this node's chain (lost data?): following without voting until the chain passes it");
        }
        let consensus_set = ConsensusValidatorSet::from_ledger(&set);
        self.engine = Engine::new(
            self.store.identity(),
            self.address,
            Height(height),
            consensus_set.clone(),
            timeouts(&self.params),
            self.voting,
        );
        self.timers.clear();
        self.build = None;
        self.idle_until_ms = None;
        self.built.clear();
        self.blocks.clear();
        self.own_proposals.clear();
        self.feed(Input::StartHeight(Height(height), consensus_set, false, None, VoteExtensionPolicy::Disabled))?;
        self.replay_stashed()
    }

    /// L11-L14: the proposer of the round proposes a block: the one it recorded before a
    /// restart in this round if any, else a fresh one from the mempool at its clock's
    /// time (never before its parent's).
    fn propose(&mut self) -> Result<(), Halt> {
        let Some(build) = self.build.take() else { return Ok(()) };
        if build.height.0 != self.height() {
            return Ok(());
        }
        if let Some(value) = self.own_proposals.remove(&build.round) {
            tracing::info!(
                height = build.height.0,
                round = build.round.as_i64(),
                "proposing again the block recorded before a restart"
            );
            return self.feed(Input::Propose(LocallyProposedValue::new(build.height, build.round, value)));
        }
        let parent_ms = match build.height.0 {
            0 => self.genesis_time_ms,
            h => self.store.header(h - 1).map_err(store("reading the parent header"))?.time_ms,
        };
        let time_ms = proposal_time_ms(self.now.clock_ms, parent_ms);
        let built = build_block(&self.store, &self.mempool, self.address.0, time_ms)
            .map_err(store("building the block to propose"))?;
        let value = BlockValue::new(built.block.clone());
        self.built.insert(value.hash(), (built, self.now.ms));
        self.feed(Input::Propose(LocallyProposedValue::new(build.height, build.round, value)))
    }

    /// L49-L54: a decided block is committed with its commit: the one this node built, a
    /// block it validated (its state changes kept), or the engine's decided value.
    fn commit(&mut self, block_hash: BlockHash, commit: Commit) -> Result<(), Halt> {
        if commit.height < self.height() {
            // Already committed through sync.
            return Ok(());
        }
        let mempool = self.mempool.clone();
        let verified = |tx: &Tx| mempool.is_verified(&tx.hash());
        let (header, tx_hashes, built_at) = if let Some((built, built_at)) = self.built.remove(&block_hash) {
            self.store.commit_block(&built.block, &commit, &built.changes).map_err(store("committing a block"))?;
            (built.block.header, built.tx_hashes, Some(built_at))
        } else if let Some(KeptBlock { value, changes, .. }) = self.blocks.remove(&block_hash) {
            let block = value.block();
            let committed = match &changes {
                Some(changes) => self.store.commit_block(block, &commit, changes),
                None => self.store.execute_and_commit_verified(block, &commit, &verified).map(|_| ()),
            };
            committed.map_err(store("committing a block"))?;
            (block.header.clone(), block.txs.iter().map(Tx::hash).collect(), None)
        } else if let Some((_, value)) = self.engine.state().decided_value().filter(|(_, v)| v.hash() == block_hash) {
            // Dropped here to bound memory, but the engine holds the decided value: it is
            // executed and committed like any block with its commit.
            let block = value.block();
            self.store.execute_and_commit_verified(block, &commit, &verified).map_err(store("committing a block"))?;
            (block.header.clone(), block.txs.iter().map(Tx::hash).collect(), None)
        } else {
            // Never received: the quorum committed it, so a peer has it; the node fetches
            // it with its commit like any lagging node.
            tracing::warn!(height = commit.height, block = %block_hash, "decided a block this node does not hold; syncing it from a peer");
            return Ok(());
        };
        self.built.clear();
        self.blocks.clear();
        self.own_proposals.clear();
        self.mempool.remove_committed(&tx_hashes);
        // An idle chain commits an empty block every interval: those are debug detail.
        if tx_hashes.is_empty() {
            tracing::debug!(height = commit.height, txs = 0, "committed");
        } else {
            tracing::info!(height = commit.height, txs = tx_hashes.len(), "committed");
        }
        let latency_ms = built_at.map(|at| self.now.ms.saturating_sub(at));
        self.actions.push(Action::Committed(CommittedBlock { header, tx_hashes, latency_ms, synced_from: None }));
        Ok(())
    }
}

#[cfg(test)]
mod tests;

//! The consensus driver: one thread that owns the consensus engine, the signer and the
//! WAL. It feeds the engine, keeps its timers, builds blocks when this node proposes,
//! appends (and syncs) every record the engine asks for before carrying out what follows
//! it, commits decided blocks through the store, and announces them. After a crash it
//! replays the WAL of the current height, so the engine re-uses what it signed instead
//! of signing anew.
//!
//! Any failure it cannot undo (the signer refuses, the WAL or the store cannot be
//! written) halts consensus: the node keeps serving reads and says why in `/health`, and
//! an operator decides. It never signs or commits on a guess.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chancery_consensus::context::{timeouts, Address, BlockHash, BlockValue, ConsensusValidatorSet, Height, Sig};
use chancery_consensus::engine::{Ctx, Engine, EngineError, Output, Signer, WalSink};
use chancery_consensus::validity::{check_proposal, proposal_time_ms, ProposalContext};
use chancery_consensus::wire::{WalEntry, WireProposal, WireVote};
use chancery_ledger::codec::BoundedVec;
use chancery_ledger::state::StateChanges;
use chancery_ledger::{Block, Commit, Signature, Tx};
use libp2p::PeerId;
use malachitebft_core_consensus::{Input, LivenessMsg, LocallyProposedValue, ProposedValue, SignedConsensusMsg};
use malachitebft_core_types::{
    PolkaCertificate, PolkaSignature, Round, Timeout, Validity, ValueOrigin, VoteExtensionPolicy,
};
use tokio::sync::mpsc;

use crate::p2p::{Message, NetCommand, NetEvent, WirePolka};
use crate::producer::{build_block, execute_proposed, Built};
use crate::shared::{now_ms, Committed, Shared};
use crate::wal::Wal;

/// What wakes the driver.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum DriverMsg {
    /// New txs in the mempool.
    Wake,
    /// Something from the network.
    Net(NetEvent),
    /// Stop after the current step.
    Shutdown,
}

/// Proposals for the next height kept until the node gets there (a proposer may send
/// its block while this node still commits the last one). Each holds a block of up to
/// `BLOCK_BYTES_MAX`, so few; proposals for any other height are not kept.
pub const STASHED_MAX: usize = 8;
/// How far beyond the engine's current round a proposal may be and still be executed.
pub const PROPOSAL_ROUNDS_AHEAD_MAX: u32 = 8;
/// Proposed blocks kept at one height (the engine may decide any of them); beyond this
/// the earliest round's block is dropped (if the engine decides it after all, the node
/// syncs it from a peer instead of committing it itself).
pub const BLOCKS_KEPT_MAX: usize = 8;
/// How long a block request may go unanswered before another peer is asked.
pub const SYNC_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a peer that failed a block request (answered that it does not have a block
/// it claimed, or timed out) is not asked again.
pub const SYNC_PEER_BACKOFF: Duration = Duration::from_secs(30);
/// How long a peer that answered `Busy` is not asked again.
pub const SYNC_BUSY_BACKOFF: Duration = Duration::from_secs(1);
/// Proposals for the next height kept from one proposer.
pub const STASHED_PER_PROPOSER_MAX: usize = 2;
/// Peers whose claimed heights are remembered for sync.
pub const SYNC_PEERS_MAX: usize = 1024;
const _: () = assert!(STASHED_MAX <= BLOCKS_KEPT_MAX && BLOCKS_KEPT_MAX >= 2);

/// How long a proposer waits for txs before proposing an empty block.
pub const EMPTY_BLOCK_WAIT: Duration = Duration::from_millis(1000);
/// How long the driver sleeps when nothing is scheduled (a message wakes it earlier).
pub const IDLE_WAKE: Duration = Duration::from_secs(3600);
const _: () = assert!(
    crate::p2p::STATUS_INTERVAL.as_millis() < SYNC_REQUEST_TIMEOUT.as_millis(),
    "a peer's status arrives before a block request is given up"
);
const _: () = assert!(
    SYNC_REQUEST_TIMEOUT.as_millis() <= crate::p2p::REQUEST_TIMEOUT.as_millis(),
    "the driver asks another peer before the network gives up the request"
);
const _: () = assert!(SYNC_REQUEST_TIMEOUT.as_millis() < SYNC_PEER_BACKOFF.as_millis());

struct PendingBuild {
    height: Height,
    round: malachitebft_core_types::Round,
    wait_until: Instant,
}

/// How often a node that does not vote asks its signer again for a key the set names.
pub const KEY_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The consensus key this node signs with at a height of `set`: the first key its
/// signer holds that is a voting validator's there (after a key rotation, the successor
/// from the effective height on); else the signer's key in use, and the node follows.
fn signing_address(
    set: &chancery_ledger::ValidatorSet,
    signer: &mut (dyn Signer + Send),
    fallback: Address,
) -> Address {
    let keys = signer.public_keys();
    let voting = keys.iter().find(|key| set.find(key).is_some_and(|(_, v)| v.power > 0));
    voting.or(keys.first()).map_or(fallback, |key| Address(*key))
}

/// Whether this node votes at `height`: it is a validator with power, and its signer has
/// not signed beyond what its store holds. A node that lost its data (but kept its
/// signer state) follows without voting until the chain passes its last signature; at
/// that very height it votes only if the WAL holds what it signed.
fn may_vote(
    set: &chancery_ledger::ValidatorSet,
    address: &Address,
    signer: &(dyn Signer + Send),
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

impl WalSink for Wal {
    fn append(&mut self, height: Height, input: &Input<Ctx>) -> Result<(), String> {
        match WalEntry::from_input(input) {
            Some(entry) => Wal::append(self, height.0, &entry).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }
}

/// The driver's link to the network: where to send, and the node key that signs what it
/// anchors (misbehaviour evidence).
pub struct Peers {
    /// Commands to the network task.
    pub commands: mpsc::Sender<NetCommand>,
    /// The node's p2p key.
    pub reporter: ed25519_dalek::SigningKey,
}

/// A proposed block the driver keeps for the engine.
struct KeptBlock {
    value: BlockValue,
    round: u32,
    /// The verdict, once validated (blocks replayed from the WAL are validated when the
    /// core asks again).
    validity: Option<Validity>,
    /// Whether the verdict checked the block's time against this node's clock.
    clock_checked: bool,
    changes: Option<StateChanges>,
}

/// Consensus stopped for a reason an operator must see.
#[derive(Debug, Clone)]
pub struct Halt(pub String);

/// The driver thread's state.
pub struct Driver {
    shared: Arc<Shared>,
    engine: Engine,
    signer: Box<dyn Signer + Send>,
    wal: Wal,
    address: Address,
    genesis_time_ms: u64,
    rx: Receiver<DriverMsg>,
    timers: Vec<(Instant, Timeout)>,
    build: Option<PendingBuild>,
    built: HashMap<BlockHash, (Built, Instant)>,
    /// Proposed blocks at this height (shared with the engine's values, not copied): the
    /// round each came in, and, once validated, the verdict and the state changes.
    blocks: HashMap<BlockHash, KeptBlock>,
    net: Option<mpsc::Sender<NetCommand>>,
    stashed: Vec<(PeerId, WireProposal)>,
    syncing: Option<(u64, Instant, PeerId)>,
    peer_blocks: HashMap<PeerId, u64>,
    /// Peers that failed a block request, until when they are not asked.
    sync_backoff: HashMap<PeerId, Instant>,
    restart_pending: bool,
    /// When a node that does not vote last asked its signer for a key the set names.
    key_checked_at: Instant,
    reporter: Option<ed25519_dalek::SigningKey>,
    own_proposals: HashMap<Round, BlockValue>,
    voting: bool,
    params: chancery_ledger::Params,
}

impl Driver {
    /// Starts (or resumes after a crash) consensus at the store's next height.
    pub fn start(
        shared: Arc<Shared>,
        mut signer: Box<dyn Signer + Send>,
        address: Address,
        wal_path: &std::path::Path,
        genesis_time_ms: u64,
        rx: Receiver<DriverMsg>,
        peers: Option<Peers>,
    ) -> Result<Self, Halt> {
        let (net, reporter) = match peers {
            Some(p) => (Some(p.commands), Some(p.reporter)),
            None => (None, None),
        };
        let store = &shared.store;
        let height = store.height();
        let set = store.current_validators().map_err(|e| Halt(e.to_string()))?;
        let address = signing_address(&set, signer.as_mut(), address);
        let (wal, records, problem) = Wal::open(wal_path).map_err(|e| Halt(e.to_string()))?;
        if let Some(problem) = problem {
            tracing::warn!(%problem, "WAL tail dropped");
        }
        let mut inputs = Vec::new();
        for (h, entry) in records {
            if h == height {
                inputs.push(entry.to_input().map_err(|e| Halt(format!("WAL: {e}")))?);
            }
        }
        // Our own proposals recorded before the crash: proposing again in the same round
        // must propose the same block (the signer refuses anything else, rightly).
        let mut own_proposals = HashMap::new();
        for input in &inputs {
            match input {
                Input::Propose(local) => {
                    own_proposals.insert(local.round, local.value.clone());
                }
                Input::ProposedValue(proposed, _) if proposed.proposer == address => {
                    own_proposals.insert(proposed.round, proposed.value.clone());
                }
                _ => {}
            }
        }
        let mut blocks = HashMap::new();
        for input in &inputs {
            let (value, round) = match input {
                Input::Propose(local) => (&local.value, local.round),
                Input::ProposedValue(proposed, _) => (&proposed.value, proposed.round),
                Input::Proposal(signed) => (&signed.message.value, signed.message.round),
                _ => continue,
            };
            let round = round.as_u32().unwrap_or(0);
            let kept = KeptBlock { value: value.clone(), round, validity: None, clock_checked: false, changes: None };
            blocks.insert(value.hash(), kept);
        }
        let voting = may_vote(&set, &address, signer.as_ref(), height, !inputs.is_empty());
        let params = store.params().map_err(|e| Halt(e.to_string()))?;
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
            signer.as_mut(),
        )
        .map_err(|e| Halt(e.to_string()))?;
        if !voting {
            tracing::info!("this node is not a validator: it follows the chain and does not vote");
        }
        let mut driver = Driver {
            shared,
            engine,
            signer,
            wal,
            address,
            genesis_time_ms,
            rx,
            timers: Vec::new(),
            build: None,
            built: HashMap::new(),
            blocks,
            net,
            stashed: Vec::new(),
            syncing: None,
            peer_blocks: HashMap::new(),
            sync_backoff: HashMap::new(),
            restart_pending: false,
            key_checked_at: Instant::now(),
            reporter,
            own_proposals,
            voting,
            params,
        };
        let mut queue = VecDeque::new();
        for output in outputs {
            driver.carry_out(output, &mut queue)?;
        }
        while let Some(input) = queue.pop_front() {
            driver.feed(input)?;
        }
        Ok(driver)
    }

    /// Runs until shutdown or a halt; a halt is recorded for `/health`.
    pub fn run(mut self) {
        if let Err(Halt(reason)) = self.run_inner() {
            tracing::error!(%reason, "consensus halted");
            self.shared.halt(reason);
        }
        tracing::info!("consensus driver stopped");
    }

    fn run_inner(&mut self) -> Result<(), Halt> {
        loop {
            let now = Instant::now();
            if self.restart_pending {
                self.restart_pending = false;
                self.restart_at_store_height()?;
                continue;
            }
            if self.stashed.iter().any(|(_, p)| p.height == self.height()) {
                self.replay_stashed()?;
                continue;
            }
            if !self.voting && now >= self.key_checked_at + KEY_CHECK_INTERVAL {
                // A validator whose rotated key was missing at the effective height votes as
                // soon as its signer holds it, even if the chain waits for its vote.
                self.key_checked_at = now;
                self.restart_pending = self.signer_holds_a_voting_key()?;
                continue;
            }
            if let Some(i) = self.due_timer(now) {
                let (_, timeout) = self.timers.swap_remove(i);
                self.feed(Input::TimeoutElapsed(timeout))?;
                continue;
            }
            if let Some(build) = &self.build {
                if self.shared.mempool.size().0 > 0 || now >= build.wait_until {
                    self.propose()?;
                    continue;
                }
            }
            let key_check = (!self.voting).then_some(self.key_checked_at + KEY_CHECK_INTERVAL);
            let next = self
                .timers
                .iter()
                .map(|(at, _)| *at)
                .chain(self.build.as_ref().map(|b| b.wait_until))
                .chain(key_check)
                .min();
            let wait = next.map_or(IDLE_WAKE, |at| at.saturating_duration_since(now));
            match self.rx.recv_timeout(wait) {
                Ok(DriverMsg::Wake) | Err(RecvTimeoutError::Timeout) => {}
                Ok(DriverMsg::Net(event)) => self.on_net(event)?,
                Ok(DriverMsg::Shutdown) | Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
        }
    }

    /// Whether the signer now holds a key of a voting validator of the set in force, and
    /// may vote at this height.
    fn signer_holds_a_voting_key(&mut self) -> Result<bool, Halt> {
        let set = self.shared.store.current_validators().map_err(|e| Halt(e.to_string()))?;
        let address = signing_address(&set, self.signer.as_mut(), self.address);
        Ok(may_vote(&set, &address, self.signer.as_ref(), self.height(), false))
    }

    fn due_timer(&self, now: Instant) -> Option<usize> {
        self.timers.iter().enumerate().filter(|(_, (at, _))| *at <= now).min_by_key(|(_, (at, _))| *at).map(|(i, _)| i)
    }

    fn feed(&mut self, input: Input<Ctx>) -> Result<(), Halt> {
        // While a sync moves the store ahead, the engine's height is over: nothing may
        // reach it (a stale timeout would make it sign at a decided height) until it is
        // restarted at the store's height.
        if self.engine.state().height().0 < self.height() && !matches!(input, Input::StartHeight(..)) {
            return Ok(());
        }
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            let outputs = match self.engine.handle_with_wal(input, self.signer.as_mut(), &mut self.wal) {
                Ok(outputs) => outputs,
                Err(EngineError::Halted(reason)) => return Err(Halt(reason)),
                Err(e @ EngineError::Core(_)) => {
                    // The core refused one input (for example a stale one): log it, go on.
                    tracing::warn!(error = %e, "consensus input refused");
                    continue;
                }
            };
            for output in outputs {
                self.carry_out(output, &mut queue)?;
            }
        }
        Ok(())
    }

    fn carry_out(&mut self, output: Output, queue: &mut VecDeque<Input<Ctx>>) -> Result<(), Halt> {
        match output {
            Output::WalAppend(height, input) => {
                if let Some(entry) = WalEntry::from_input(&input) {
                    self.wal.append(height.0, &entry).map_err(|e| Halt(e.to_string()))?;
                }
            }
            Output::ScheduleTimeout { timeout, after } => {
                self.timers.retain(|(_, t)| *t != timeout);
                self.timers.push((Instant::now() + after, timeout));
            }
            Output::CancelTimeout(timeout) => self.timers.retain(|(_, t)| *t != timeout),
            Output::CancelAllTimeouts => self.timers.clear(),
            Output::GetValue { height, round, within } => {
                let wait = EMPTY_BLOCK_WAIT.min(within / 2);
                self.build = Some(PendingBuild { height, round, wait_until: Instant::now() + wait });
            }
            Output::Decide { block, commit } => self.commit(block, commit)?,
            Output::Finalize { commit, evidence } => {
                self.anchor_misbehaviour(&evidence);
                // After a sync the engine may finalize a height the store already moved past.
                if commit.height + 1 == self.shared.store.height() {
                    self.wal.clear().map_err(|e| Halt(e.to_string()))?;
                    let set = self.shared.store.current_validators().map_err(|e| Halt(e.to_string()))?;
                    let next = commit.height + 1;
                    let address = signing_address(&set, self.signer.as_mut(), self.address);
                    if address != self.address
                        || may_vote(&set, &address, self.signer.as_ref(), next, false) != self.voting
                    {
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
                    queue.push_back(Input::StartHeight(
                        Height(commit.height + 1),
                        ConsensusValidatorSet::from_ledger(&set),
                        false,
                        None,
                        VoteExtensionPolicy::Disabled,
                    ));
                }
            }
            Output::StartRound { height, round, .. } => {
                tracing::debug!(height = height.0, round = round.as_i64(), "round started");
            }
            Output::Publish(SignedConsensusMsg::Vote(vote)) | Output::RepublishVote(vote) => {
                self.broadcast(Message::Vote(WireVote::from_signed(&vote)));
            }
            Output::Publish(SignedConsensusMsg::Proposal(proposal)) => {
                self.broadcast(Message::Proposal(WireProposal::from_signed(&proposal)));
            }
            Output::PublishLiveness(LivenessMsg::Vote(vote)) => {
                self.broadcast(Message::Vote(WireVote::from_signed(&vote)));
            }
            Output::PublishLiveness(LivenessMsg::PolkaCertificate(cert)) => {
                let signatures =
                    cert.polka_signatures.iter().map(|s| (s.address.0, Signature(s.signature.0))).collect();
                if let Ok(signatures) = BoundedVec::new(signatures) {
                    self.broadcast(Message::Polka(WirePolka {
                        height: cert.height.0,
                        round: cert.round.as_u32().unwrap_or(0),
                        block_hash: cert.value_id.0,
                        signatures,
                    }));
                }
            }
            // Round-skip certificates only speed up catching up on rounds; blocks are
            // synced with their commits instead.
            Output::PublishLiveness(LivenessMsg::SkipRoundCertificate(_))
            | Output::RepublishRoundCertificate(_)
            | Output::SyncValueVerified(..)
            | Output::SyncValueRejected(..) => {}
        }
        Ok(())
    }

    /// Equivocations the core saw at this height go on chain as misbehaviour txs signed
    /// with this node's p2p key (into the mempool here and to the peers).
    fn anchor_misbehaviour(&self, evidence: &malachitebft_core_consensus::MisbehaviorEvidence<Ctx>) {
        let Some(reporter) = &self.reporter else { return };
        let store = &self.shared.store;
        let records = chancery_consensus::evidence::equivocations(&store.identity(), evidence);
        if records.is_empty() {
            return;
        }
        let base = chancery_rpc::txs::clock_nonce();
        let txs: Vec<Tx> = records
            .into_iter()
            .enumerate()
            .map(|(i, record)| {
                tracing::warn!(validator = %record.validator, "equivocation seen: anchoring it as misbehaviour");
                chancery_rpc::txs::sign_tx(
                    reporter,
                    &store.identity(),
                    chancery_ledger::TxBody::Misbehaviour(record),
                    base + i as u64,
                )
            })
            .collect();
        let results = self.shared.submit(txs.clone());
        let admitted: Vec<Tx> = txs.into_iter().zip(&results).filter(|(_, r)| r.is_ok()).map(|(tx, _)| tx).collect();
        for refused in results.iter().filter_map(|r| r.as_ref().err()) {
            tracing::info!(reason = %refused, "misbehaviour not anchored by this node");
        }
        if let Some(net) = &self.net {
            if !admitted.is_empty() && net.try_send(NetCommand::GossipTxs(admitted)).is_err() {
                tracing::warn!("network queue full: misbehaviour evidence not sent to peers");
            }
        }
    }

    fn broadcast(&self, message: Message) {
        if let Some(net) = &self.net {
            if net.try_send(NetCommand::Broadcast(Arc::new(message))).is_err() {
                tracing::warn!("network queue full: a consensus message was not sent");
            }
        }
    }

    fn height(&self) -> u64 {
        self.shared.store.height()
    }

    fn on_net(&mut self, event: NetEvent) -> Result<(), Halt> {
        match event {
            NetEvent::Message { from, message } => match message {
                Message::Vote(vote) if vote.height == self.height() => self.feed(Input::Vote(vote.to_signed())),
                Message::Polka(polka) if polka.height == self.height() => {
                    self.feed(Input::PolkaCertificate(PolkaCertificate {
                        height: Height(polka.height),
                        round: Round::new(polka.round),
                        value_id: BlockHash(polka.block_hash),
                        polka_signatures: polka
                            .signatures
                            .iter()
                            .map(|(a, s)| PolkaSignature::new(Address(*a), Sig(s.0)))
                            .collect(),
                    }))
                }
                Message::Proposal(proposal) => self.on_proposal(from, proposal),
                Message::Status { blocks } => {
                    self.maybe_sync(from, blocks);
                    Ok(())
                }
                // Votes for other heights, txs and block requests are handled elsewhere
                // or no longer matter.
                _ => Ok(()),
            },
            NetEvent::Block { from, block, commit } => self.on_synced_block(from, *block, commit),
            NetEvent::NoBlock { from, height, busy } => {
                self.sync_failed(from, height, busy);
                Ok(())
            }
        }
    }

    fn on_proposal(&mut self, from: PeerId, proposal: WireProposal) -> Result<(), Halt> {
        let height = self.height();
        if proposal.height == height + 1 {
            self.stash(from, proposal);
            return Ok(());
        }
        if proposal.height != height {
            return Ok(());
        }
        let signed = proposal.to_signed();
        // Who proposed and signed it, before anything is executed or kept.
        if let Err(why) = self.engine.check_proposal_origin(&signed) {
            tracing::warn!(%from, height, round = proposal.round, %why, "proposal refused");
            return Ok(());
        }
        let current = self.engine.state().round().as_u32().unwrap_or(0);
        if proposal.round > current.saturating_add(PROPOSAL_ROUNDS_AHEAD_MAX) {
            tracing::debug!(%from, height, round = proposal.round, current, "proposal too many rounds ahead; not kept");
            return Ok(());
        }
        let value = signed.message.value.clone();
        let hash = value.hash();
        let check_clock = signed.message.pol_round == Round::Nil;
        // A verdict is reused unless the clock was checked for it and is not now (a block
        // refused as too far from the clock may be re-proposed with a proof of lock).
        let known = self.blocks.get_mut(&hash).and_then(|kept| {
            // Re-proposed in a later round: it is as recent as that round.
            kept.round = kept.round.max(proposal.round);
            match kept.validity {
                Some(Validity::Invalid) if kept.clock_checked && !check_clock => None,
                other => other,
            }
        });
        let validity = match known {
            Some(validity) => validity,
            None if self.blocks.values().any(|kept| kept.round == proposal.round && kept.value.hash() != hash) => {
                // A second block for one round by its proposer: the core sees the signed
                // proposal (it is evidence of equivocation); nothing is executed.
                return self.feed(Input::Proposal(signed));
            }
            None => {
                let (validity, changes) = self.validate(value.block(), check_clock);
                self.keep_block(KeptBlock {
                    value: value.clone(),
                    round: proposal.round,
                    validity: Some(validity),
                    clock_checked: check_clock,
                    changes,
                });
                validity
            }
        };
        let proposed = ProposedValue {
            height: Height(height),
            round: signed.message.round,
            valid_round: signed.message.pol_round,
            proposer: signed.message.proposer,
            value,
            validity,
        };
        self.feed(Input::Proposal(signed))?;
        self.feed(Input::ProposedValue(proposed, ValueOrigin::Consensus))
    }

    /// Keeps a proposal for the next height if it is signed by the proposer it names, a
    /// validator of the current set (the set of the next height is known only once this
    /// one commits), within the rounds and per-proposer bounds: a peer cannot fill the
    /// stash with forgeries that would crowd out the real proposal.
    fn stash(&mut self, from: PeerId, proposal: WireProposal) {
        if proposal.round > PROPOSAL_ROUNDS_AHEAD_MAX {
            return;
        }
        let same = |p: &WireProposal| p.round == proposal.round && p.proposer == proposal.proposer;
        let by_proposer = self.stashed.iter().filter(|(_, p)| p.proposer == proposal.proposer).count();
        if self.stashed.len() >= STASHED_MAX
            || by_proposer >= STASHED_PER_PROPOSER_MAX
            || self.stashed.iter().any(|(_, p)| same(p))
        {
            return;
        }
        let is_validator =
            self.shared.store.current_validators().is_ok_and(|set| set.find(&proposal.proposer).is_some());
        let signed = proposal.to_signed();
        let message = signed.message.signing_message(&self.shared.store.identity());
        if !is_validator || proposal.proposer.verify(&message, &Signature(signed.signature.0)).is_err() {
            tracing::warn!(%from, height = proposal.height, "a next-height proposal not signed by a validator: not kept");
            return;
        }
        self.stashed.push((from, proposal));
    }

    /// Keeps a validated block; beyond [`BLOCKS_KEPT_MAX`], the earliest round's goes.
    fn keep_block(&mut self, kept: KeptBlock) {
        let hash = kept.value.hash();
        self.blocks.insert(hash, kept);
        while self.blocks.len() > BLOCKS_KEPT_MAX {
            let oldest =
                self.blocks.iter().filter(|(h, _)| **h != hash).min_by_key(|(_, kept)| kept.round).map(|(h, _)| *h);
            match oldest {
                Some(oldest) => {
                    self.blocks.remove(&oldest);
                }
                None => break,
            }
        }
    }

    /// The consensus rules (chain link, time) and then the ledger's (every tx, the
    /// header's roots); the state changes are kept for the commit.
    fn validate(&self, block: &Block, check_clock: bool) -> (Validity, Option<StateChanges>) {
        let store = &self.shared.store;
        let height = self.height();
        let parent = if height == 0 {
            Ok((store.genesis_hash(), self.genesis_time_ms))
        } else {
            store.header(height - 1).map(|h| (h.hash(), h.time_ms))
        };
        let (Ok((parent_hash, parent_time_ms)), Ok(history_root), Ok(validators)) =
            (parent, store.history_root(height), store.current_validators())
        else {
            return (Validity::Invalid, None);
        };
        let ctx = ProposalContext {
            chain_id: store.chain_id(),
            height,
            parent_hash,
            parent_time_ms,
            history_root,
            validators_hash: validators.hash(),
            clock_ms: check_clock.then(now_ms),
            max_clock_drift_ms: self.params.max_clock_drift_ms,
        };
        if let Err(e) = check_proposal(block, &ctx) {
            tracing::warn!(height, error = %e, "proposed block refused");
            return (Validity::Invalid, None);
        }
        match execute_proposed(&**store, block, &self.shared.mempool) {
            Ok(changes) => (Validity::Valid, Some(changes)),
            Err(e) => {
                tracing::warn!(height, error = %e, "proposed block does not execute");
                (Validity::Invalid, None)
            }
        }
    }

    fn maybe_sync(&mut self, peer: PeerId, peer_blocks: u64) {
        if self.peer_blocks.len() < SYNC_PEERS_MAX || self.peer_blocks.contains_key(&peer) {
            self.peer_blocks.insert(peer, peer_blocks);
        }
        let height = self.height();
        if peer_blocks <= height {
            return;
        }
        let now = Instant::now();
        if let Some((asked, at, asked_peer)) = self.syncing {
            if asked == height && at.elapsed() < SYNC_REQUEST_TIMEOUT {
                return;
            }
            if asked == height {
                // Unanswered: that peer is not asked again for a while.
                self.sync_backoff.insert(asked_peer, now + SYNC_PEER_BACKOFF);
                self.syncing = None;
            }
        }
        self.sync_backoff.retain(|_, until| *until > now);
        // A peer that failed a request waits out its backoff, whatever it claims (a peer
        // announcing a height it cannot serve must not stay the sync target).
        let peer = if self.sync_backoff.contains_key(&peer) {
            match self.sync_candidate(height) {
                Some(other) => other,
                None => return,
            }
        } else {
            peer
        };
        if let Some(net) = &self.net {
            if net.try_send(NetCommand::GetBlock { peer, height }).is_ok() {
                self.syncing = Some((height, now, peer));
            }
        }
    }

    /// A peer that claims to have block `height` and is not backed off.
    fn sync_candidate(&self, height: u64) -> Option<PeerId> {
        self.peer_blocks
            .iter()
            .filter(|(peer, blocks)| **blocks > height && !self.sync_backoff.contains_key(peer))
            .max_by_key(|(_, blocks)| **blocks)
            .map(|(peer, _)| *peer)
    }

    /// `from` did not send block `height` it was asked for (it does not have it, was
    /// busy, or the request failed): it is backed off and another peer is asked.
    fn sync_failed(&mut self, from: PeerId, height: u64, busy: bool) {
        let Some((asked, _, peer)) = self.syncing else { return };
        if asked != height || peer != from {
            return;
        }
        self.syncing = None;
        if busy {
            // Only busy: a short pause, its claim stands.
            self.sync_backoff.insert(from, Instant::now() + SYNC_BUSY_BACKOFF);
        } else {
            tracing::info!(%from, height, "a peer did not send a block it was asked for; asking another");
            self.sync_backoff.insert(from, Instant::now() + SYNC_PEER_BACKOFF);
            // Whatever it claimed, it has at most this many blocks.
            if let Some(blocks) = self.peer_blocks.get_mut(&from) {
                *blocks = (*blocks).min(height);
            }
        }
        if let Some(other) = self.sync_candidate(height) {
            let blocks = self.peer_blocks.get(&other).copied().unwrap_or(0);
            self.maybe_sync(other, blocks);
        }
    }

    /// A block a peer sent with its commit: the store checks the commit against the
    /// current validators and the block against the chain, executes and commits it.
    /// Consensus then moves on to the next height.
    fn on_synced_block(&mut self, from: PeerId, block: Block, commit: Commit) -> Result<(), Halt> {
        let height = self.height();
        if block.header.height != height {
            return Ok(());
        }
        self.syncing = None;
        let mempool = self.shared.mempool.clone();
        // Signatures in batches over the cores first; if that fails, execution checks
        // them one by one and names the bad tx.
        let batch_ok = mempool.verify_all(&block.txs);
        let result = self
            .shared
            .store
            .execute_and_commit_verified(&block, &commit, &|tx: &Tx| batch_ok || mempool.is_verified(&tx.hash()));
        if let Err(e) = result {
            if let Some(net) = &self.net {
                let _ = net.try_send(NetCommand::Penalise { peer: from, reason: format!("bad block {height}: {e}") });
            }
            if matches!(
                e,
                chancery_ledger::store::StoreError::Poisoned | chancery_ledger::store::StoreError::Backend(_)
            ) {
                return Err(Halt(format!("store failed while syncing block {height}: {e}")));
            }
            return Ok(());
        }
        tracing::info!(height, txs = block.txs.len(), %from, "synced");
        let tx_hashes: Vec<_> = block.txs.iter().map(Tx::hash).collect();
        mempool.remove_committed(&tx_hashes);
        self.shared.committed(Committed::new(block.header, tx_hashes));
        // Ask for the next block at once while the peer is ahead, not at its next status.
        if let Some(&known) = self.peer_blocks.get(&from) {
            self.maybe_sync(from, known);
        }
        if self.syncing.is_some() {
            // Still behind: consensus at this height would only wait for messages it
            // cannot use; it restarts when the node has caught up.
            return Ok(());
        }
        self.restart_at_store_height()
    }

    /// A fresh engine at the store's next height (after a sync moved the store past the
    /// height the engine was working on).
    fn restart_at_store_height(&mut self) -> Result<(), Halt> {
        let store = &self.shared.store;
        let height = store.height();
        self.wal.clear().map_err(|e| Halt(e.to_string()))?;
        let set = store.current_validators().map_err(|e| Halt(e.to_string()))?;
        self.params = store.params().map_err(|e| Halt(e.to_string()))?;
        self.address = signing_address(&set, self.signer.as_mut(), self.address);
        self.voting = may_vote(&set, &self.address, self.signer.as_ref(), height, false);
        if !self.voting && set.find(&self.address.0).is_some() {
            tracing::warn!(height, "the signer signed beyond this node's chain (lost data?): following without voting until the chain passes it");
        }
        let consensus_set = ConsensusValidatorSet::from_ledger(&set);
        self.engine = Engine::new(
            store.identity(),
            self.address,
            Height(height),
            consensus_set.clone(),
            timeouts(&self.params),
            self.voting,
        );
        self.timers.clear();
        self.build = None;
        self.built.clear();
        self.blocks.clear();
        self.own_proposals.clear();
        self.feed(Input::StartHeight(Height(height), consensus_set, false, None, VoteExtensionPolicy::Disabled))?;
        self.replay_stashed()
    }

    fn replay_stashed(&mut self) -> Result<(), Halt> {
        let height = self.height();
        let (now, later): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.stashed).into_iter().partition(|(_, p)| p.height == height);
        self.stashed = later.into_iter().filter(|(_, p)| p.height > height).collect();
        for (from, proposal) in now {
            self.on_proposal(from, proposal)?;
        }
        Ok(())
    }

    fn propose(&mut self) -> Result<(), Halt> {
        let Some(build) = self.build.take() else { return Ok(()) };
        let store = &self.shared.store;
        if build.height.0 != store.height() {
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
            h => store.header(h - 1).map_err(|e| Halt(e.to_string()))?.time_ms,
        };
        let time_ms = proposal_time_ms(now_ms(), parent_ms);
        let built = build_block(store, &self.shared.mempool, self.address.0, time_ms)
            .map_err(|e| Halt(format!("building block {}: {e}", build.height.0)))?;
        let value = BlockValue::new(built.block.clone());
        self.built.insert(value.hash(), (built, Instant::now()));
        self.feed(Input::Propose(LocallyProposedValue::new(build.height, build.round, value)))
    }

    fn commit(&mut self, block_hash: BlockHash, commit: Commit) -> Result<(), Halt> {
        let store = &self.shared.store;
        if commit.height < store.height() {
            // Already committed through sync.
            return Ok(());
        }
        let mempool = &self.shared.mempool;
        let (header, tx_hashes, started) = if let Some((built, started)) = self.built.remove(&block_hash) {
            store
                .commit_block(&built.block, &commit, &built.changes)
                .map_err(|e| Halt(format!("committing block {}: {e}", commit.height)))?;
            (built.block.header, built.tx_hashes, Some(started))
        } else if let Some(KeptBlock { value, changes, .. }) = self.blocks.remove(&block_hash) {
            let block = value.block();
            let result = match &changes {
                Some(changes) => store.commit_block(block, &commit, changes),
                None => store
                    .execute_and_commit_verified(block, &commit, &|tx: &Tx| mempool.is_verified(&tx.hash()))
                    .map(|_| ()),
            };
            result.map_err(|e| Halt(format!("committing block {}: {e}", commit.height)))?;
            let tx_hashes = block.txs.iter().map(Tx::hash).collect();
            (block.header.clone(), tx_hashes, None)
        } else if let Some((_, value)) = self.engine.state().decided_value().filter(|(_, v)| v.hash() == block_hash) {
            // Dropped here to bound memory, but the engine holds the decided value: it is
            // executed and committed like any block with its commit.
            let block = value.block();
            store
                .execute_and_commit_verified(block, &commit, &|tx: &Tx| mempool.is_verified(&tx.hash()))
                .map_err(|e| Halt(format!("committing block {}: {e}", commit.height)))?;
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
        mempool.remove_committed(&tx_hashes);
        if let Some(started) = started {
            self.shared.metrics.commit_latency.observe(started.elapsed().as_secs_f64());
        }
        tracing::info!(height = commit.height, txs = tx_hashes.len(), "committed");
        self.shared.committed(Committed::new(header, tx_hashes));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::mempool::{Mempool, MempoolLimits};
    use crate::shared::Liveness;
    use crate::signer::{KeyFile, LocalSigner};
    use chancery_consensus::context::ConsensusProposal;
    use chancery_ledger::store::rocks::RocksBackend;
    use chancery_ledger::store::ChainStore;
    use ed25519_dalek::Signer as _;

    /// An observer's driver on the local testnet (four validators), not running: the
    /// tests call its handlers directly, with proposals signed by the validators' keys.
    /// Also the commands it sends the network.
    struct Bench {
        driver: Driver,
        validators: Vec<ed25519_dalek::SigningKey>,
        net: mpsc::Receiver<NetCommand>,
        _dir: tempfile::TempDir,
    }

    fn bench() -> Bench {
        let dir = tempfile::tempdir().expect("tempdir");
        crate::devchain::create_testnet(dir.path(), 30_000).expect("testnet");
        let home = dir.path().join(crate::devchain::TESTNET_OBSERVER);
        let genesis =
            chancery_genesis::Genesis::from_json(&std::fs::read_to_string(home.join("genesis.json")).expect("genesis"))
                .expect("genesis");
        let _ = Config::load(&home.join("config.toml")).expect("config");
        let store =
            ChainStore::open(RocksBackend::open(&home.join("data/store")).expect("rocks"), &genesis.chain_spec(), 10)
                .expect("store");
        let limits = MempoolLimits {
            txs_max: 100,
            bytes_max: 1 << 20,
            per_submitter_txs_max: 100,
            per_submitter_bytes_max: 1 << 20,
        };
        let shared = Arc::new(Shared {
            store: Arc::new(store),
            mempool: Arc::new(Mempool::new(limits, genesis.hash())),
            genesis: genesis.clone(),
            events: tokio::sync::broadcast::channel(16).0,
            metrics: Arc::new(crate::metrics::Metrics::new()),
            liveness: std::sync::Mutex::new(Liveness { halted: None, last_commit: Instant::now(), peers: None }),
            moniker: "observer".into(),
            consensus_key: None,
        });
        let validators = crate::devchain::TESTNET_VALIDATORS
            .iter()
            .map(|(name, _, _)| KeyFile::load(&dir.path().join(name).join("keys/consensus.key"), None).expect("key"))
            .collect();
        let signer = LocalSigner::open(&home.join("keys/consensus.key"), None, &home.join("keys/signer_state.json"))
            .expect("signer");
        let address = Address(signer.public_key());
        let (_tx, rx) = std::sync::mpsc::sync_channel(16);
        let (commands, net) = mpsc::channel(64);
        let peers = Peers { commands, reporter: KeyFile::load(&home.join("keys/p2p.key"), None).expect("p2p key") };
        let driver = Driver::start(
            shared,
            Box::new(signer),
            address,
            &home.join("data/consensus.wal"),
            genesis.genesis_time_ms,
            rx,
            Some(peers),
        )
        .map_err(|Halt(why)| why)
        .expect("driver");
        assert!(!driver.voting, "an observer");
        Bench { driver, validators, net, _dir: dir }
    }

    impl Bench {
        /// The key of the proposer of (`height`, `round`).
        fn proposer(&self, height: u64, round: u32) -> ed25519_dalek::SigningKey {
            let expected = self.driver.engine.state().get_proposer(Height(height), Round::new(round));
            let key = self.validators.iter().find(|k| k.verifying_key().to_bytes() == expected.0 .0);
            key.expect("a validator").clone()
        }

        /// A proposal of a fresh block at (`height`, `round`) naming `by` as proposer,
        /// signed by `signer`.
        fn proposal(
            &self,
            height: u64,
            round: u32,
            by: &ed25519_dalek::SigningKey,
            signer: &ed25519_dalek::SigningKey,
        ) -> WireProposal {
            let shared = &self.driver.shared;
            let proposer = chancery_ledger::PublicKey(by.verifying_key().to_bytes());
            let time_ms = now_ms() + u64::from(round);
            let block = build_block(&shared.store, &shared.mempool, proposer, time_ms).expect("block").block;
            let consensus = ConsensusProposal {
                height: Height(height),
                round: Round::new(round),
                value: BlockValue::new(block.clone()),
                pol_round: Round::Nil,
                proposer: Address(proposer),
            };
            let message = consensus.signing_message(&shared.store.identity());
            let signature = Signature(signer.sign(message.as_bytes()).to_bytes());
            WireProposal { height, round, pol_round: None, proposer, block, signature }
        }

        /// A proposal by the round's proposer, signed by it.
        fn real(&self, height: u64, round: u32) -> WireProposal {
            let key = self.proposer(height.min(self.driver.height()), round);
            self.proposal(height, round, &key, &key)
        }
    }

    #[test]
    fn proposals_from_anyone_but_the_rounds_proposer_are_neither_executed_nor_kept() {
        let mut bench = bench();
        let stranger = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let peer = PeerId::random();
        let proposer = bench.proposer(0, 0);
        let other = bench.proposer(0, 1);
        // Not a validator; another validator (not this round's proposer), validly signed.
        for by in [&stranger, &other] {
            let forged = bench.proposal(0, 0, by, by);
            bench.driver.on_proposal(peer, forged).expect("handled");
        }
        // The proposer named, but signed by another key.
        let unsigned = bench.proposal(0, 0, &proposer, &other);
        bench.driver.on_proposal(peer, unsigned).expect("handled");
        assert!(bench.driver.blocks.is_empty(), "nothing executed or kept");
        // The proposer's own: kept.
        let real = bench.real(0, 0);
        bench.driver.on_proposal(peer, real).expect("handled");
        assert_eq!(bench.driver.blocks.len(), 1);
    }

    #[test]
    fn kept_blocks_and_stashed_proposals_stay_bounded() {
        let mut bench = bench();
        let peer = PeerId::random();
        // Blocks of many rounds by their legitimate proposers, without a commit.
        for round in 0..=PROPOSAL_ROUNDS_AHEAD_MAX + 4 {
            let proposal = bench.real(0, round);
            bench.driver.on_proposal(peer, proposal).expect("handled");
            assert!(bench.driver.blocks.len() <= BLOCKS_KEPT_MAX, "round {round}: {}", bench.driver.blocks.len());
        }
        assert_eq!(bench.driver.blocks.len(), BLOCKS_KEPT_MAX);
        assert!(
            bench.driver.blocks.values().all(|kept| kept.round <= PROPOSAL_ROUNDS_AHEAD_MAX),
            "too far ahead: not kept"
        );
        assert!(bench.driver.blocks.values().all(|kept| kept.round > 0), "the earliest round's block went first");
        // Far-future heights are not stashed; the next height is, up to the bound.
        for height in [u64::MAX, 1_000, 2] {
            let proposal = bench.real(height, 0);
            bench.driver.on_proposal(peer, proposal).expect("handled");
        }
        assert!(bench.driver.stashed.is_empty(), "no stash for heights the node is not about to reach");
        // Nor forgeries for the next height: not signed by a validator, or signed by
        // another key than the proposer named.
        let stranger = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let validator = bench.proposer(0, 0);
        for (by, signer) in [(&stranger, &stranger), (&validator, &stranger)] {
            let forged = bench.proposal(1, 0, by, signer);
            bench.driver.on_proposal(peer, forged).expect("handled");
        }
        assert!(bench.driver.stashed.is_empty(), "forged next-height proposals are not kept");
        for round in 0..STASHED_MAX as u32 + 3 {
            let proposal = bench.real(1, round);
            bench.driver.on_proposal(peer, proposal).expect("handled");
        }
        assert_eq!(bench.driver.stashed.len(), STASHED_MAX);
    }

    #[test]
    fn a_peer_claiming_a_height_it_cannot_serve_does_not_stay_the_sync_target() {
        let mut bench = bench();
        let (liar, honest) = (PeerId::random(), PeerId::random());
        let asked = |bench: &mut Bench| match bench.net.try_recv() {
            Ok(NetCommand::GetBlock { peer, height }) => Some((peer, height)),
            _ => None,
        };
        bench.driver.maybe_sync(honest, 5);
        assert_eq!(asked(&mut bench), Some((honest, 0)));
        // The honest peer times out once; the liar claims a huge height and is asked…
        bench.driver.syncing = Some((0, Instant::now() - SYNC_REQUEST_TIMEOUT, honest));
        bench.driver.sync_backoff.clear();
        bench.driver.maybe_sync(liar, u64::MAX);
        assert_eq!(asked(&mut bench), Some((liar, 0)));
        // …answers that it has no such block: the honest peer is asked at once, and the
        // liar's claims do not take the sync back while it is backed off.
        bench.driver.sync_backoff.remove(&honest);
        bench.driver.on_net(NetEvent::NoBlock { from: liar, height: 0, busy: false }).expect("handled");
        assert_eq!(asked(&mut bench), Some((honest, 0)));
        bench.driver.syncing = Some((0, Instant::now() - SYNC_REQUEST_TIMEOUT, honest));
        bench.driver.sync_backoff.remove(&honest);
        for _ in 0..5 {
            bench.driver.maybe_sync(liar, u64::MAX);
            if let Some((peer, _)) = asked(&mut bench) {
                assert_eq!(peer, honest, "the liar is not asked again while backed off");
            }
        }
    }
}

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

use chancery_consensus::context::{timeouts, Address, BlockHash, BlockValue, ConsensusValidatorSet, Height};
use chancery_consensus::engine::{Ctx, Engine, EngineError, Output, Signer, WalSink};
use chancery_consensus::validity::proposal_time_ms;
use chancery_consensus::wire::WalEntry;
use chancery_ledger::{Block, Commit, Tx};
use malachitebft_core_consensus::{Input, LocallyProposedValue};
use malachitebft_core_types::{Timeout, VoteExtensionPolicy};

use crate::producer::{build_block, Built};
use crate::shared::{now_ms, Committed, Shared};
use crate::wal::Wal;

/// What wakes the driver.
#[derive(Debug)]
pub enum DriverMsg {
    /// New txs in the mempool.
    Wake,
    /// Stop after the current step.
    Shutdown,
}

/// How long a proposer waits for txs before proposing an empty block.
pub const EMPTY_BLOCK_WAIT: Duration = Duration::from_millis(1000);

struct PendingBuild {
    height: Height,
    round: malachitebft_core_types::Round,
    wait_until: Instant,
}

impl WalSink for Wal {
    fn append(&mut self, height: Height, input: &Input<Ctx>) -> Result<(), String> {
        match WalEntry::from_input(input) {
            Some(entry) => Wal::append(self, height.0, &entry).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }
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
    blocks: HashMap<BlockHash, Block>,
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
    ) -> Result<Self, Halt> {
        let store = &shared.store;
        let height = store.height();
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
        let mut blocks = HashMap::new();
        for input in &inputs {
            let value = match input {
                Input::Propose(local) => &local.value,
                Input::ProposedValue(proposed, _) => &proposed.value,
                Input::Proposal(signed) => &signed.message.value,
                _ => continue,
            };
            blocks.insert(value.hash(), value.block().clone());
        }
        let set = store.current_validators().map_err(|e| Halt(e.to_string()))?;
        let voting = set.find(&address.0).is_some_and(|(_, v)| v.power > 0);
        let params = store.params().map_err(|e| Halt(e.to_string()))?;
        let consensus_set = ConsensusValidatorSet::from_ledger(&set);
        if !inputs.is_empty() {
            tracing::info!(height, records = inputs.len(), "replaying the WAL");
        }
        let (engine, outputs) = Engine::recover(
            store.chain_id().clone(),
            address,
            Height(height),
            consensus_set,
            timeouts(&params),
            voting,
            &inputs,
            signer.as_mut(),
        )
        .map_err(|e| Halt(e.to_string()))?;
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
            let next = self.timers.iter().map(|(at, _)| *at).chain(self.build.as_ref().map(|b| b.wait_until)).min();
            let wait = next.map_or(Duration::from_secs(3600), |at| at.saturating_duration_since(now));
            match self.rx.recv_timeout(wait) {
                Ok(DriverMsg::Wake) | Err(RecvTimeoutError::Timeout) => {}
                Ok(DriverMsg::Shutdown) | Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
        }
    }

    fn due_timer(&self, now: Instant) -> Option<usize> {
        self.timers.iter().enumerate().filter(|(_, (at, _))| *at <= now).min_by_key(|(_, (at, _))| *at).map(|(i, _)| i)
    }

    fn feed(&mut self, input: Input<Ctx>) -> Result<(), Halt> {
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
            Output::Finalize { commit, .. } => {
                self.wal.clear().map_err(|e| Halt(e.to_string()))?;
                let set = self.shared.store.current_validators().map_err(|e| Halt(e.to_string()))?;
                queue.push_back(Input::StartHeight(
                    Height(commit.height + 1),
                    ConsensusValidatorSet::from_ledger(&set),
                    false,
                    None,
                    VoteExtensionPolicy::Disabled,
                ));
            }
            Output::StartRound { height, round, .. } => {
                tracing::debug!(height = height.0, round = round.as_i64(), "round started");
            }
            // One validator: nothing to gossip or sync yet (the network issue adds peers).
            Output::Publish(_)
            | Output::PublishLiveness(_)
            | Output::RepublishVote(_)
            | Output::RepublishRoundCertificate(_)
            | Output::SyncValueVerified(..)
            | Output::SyncValueRejected(..) => {}
        }
        Ok(())
    }

    fn propose(&mut self) -> Result<(), Halt> {
        let Some(build) = self.build.take() else { return Ok(()) };
        let store = &self.shared.store;
        if build.height.0 != store.height() {
            return Ok(());
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
        let mempool = &self.shared.mempool;
        let (block, tx_hashes, started) = if let Some((built, started)) = self.built.remove(&block_hash) {
            store
                .commit_block(&built.block, &commit, &built.changes)
                .map_err(|e| Halt(format!("committing block {}: {e}", commit.height)))?;
            (built.block, built.tx_hashes, Some(started))
        } else if let Some(block) = self.blocks.remove(&block_hash) {
            store
                .execute_and_commit_verified(&block, &commit, &|tx: &Tx| mempool.is_verified(&tx.hash()))
                .map_err(|e| Halt(format!("committing block {}: {e}", commit.height)))?;
            let tx_hashes = block.txs.iter().map(Tx::hash).collect();
            (block, tx_hashes, None)
        } else {
            return Err(Halt(format!("decided block {} at height {} is unknown here", block_hash, commit.height)));
        };
        self.built.clear();
        self.blocks.clear();
        mempool.remove_committed(&tx_hashes);
        if let Some(started) = started {
            self.shared.metrics.commit_latency.observe(started.elapsed().as_secs_f64());
        }
        tracing::info!(height = commit.height, txs = tx_hashes.len(), "committed");
        self.shared.committed(Committed { header: block.header, tx_hashes });
        Ok(())
    }
}

//! The consensus thread: the I/O shell around the consensus host
//! ([`chancery_consensus::host`]), which holds every rule. It feeds the host what the
//! network delivers, the monotonic clock and the system clock, wakes it when it asks,
//! and carries out what it asks: messages to the network, committed blocks announced to
//! the RPC's subscribers and the metrics.
//!
//! A halt (the signer refuses, the WAL or the store cannot be written) stops consensus:
//! the node keeps serving reads and says why in `/health`, and an operator decides.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chancery_consensus::context::Address;
use chancery_consensus::engine::Signer;
use chancery_consensus::host::{Action, Event, Halt, Host, HostParts, Now, ProposalTxs};
use chancery_ledger::store::StoreWriter;

use crate::rocks::RocksBackend;
use libp2p::PeerId;
use tokio::sync::mpsc;

use crate::admission::refresh_gauges;
use crate::clock::now_ms;
use crate::metrics::Metrics;
use crate::p2p::NetCommand;
use crate::status::{Committed, NodeStatus};
use crate::wal::FileWal;
use chancery_consensus::host::mempool::Mempool;

/// What wakes the driver.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum DriverMsg {
    /// New txs in the mempool.
    Wake,
    /// Something from the network.
    Net(Event<PeerId>),
    /// Stop after the current step.
    Shutdown,
}

/// Requests the network could not take that are answered to the host as failed within
/// one step (each backs a peer off or gives a proposal up, so the chain ends anyway).
pub const UNSENT_REQUESTS_MAX: usize = 64;
/// How long the driver sleeps when the host wants nothing (a message wakes it earlier).
pub const IDLE_WAKE: Duration = Duration::from_secs(3600);
const _: () = assert!(
    crate::p2p::STATUS_INTERVAL.as_millis() < chancery_consensus::host::SYNC_REQUEST_TIMEOUT_MS as u128,
    "a peer's status arrives before a block request is given up"
);
const _: () = assert!(
    chancery_consensus::host::SYNC_REQUEST_TIMEOUT_MS as u128 <= crate::p2p::REQUEST_TIMEOUT.as_millis(),
    "the host asks another peer before the network gives up the request"
);

/// The driver's link to the network: where to send, and the node key that signs what it
/// anchors (misbehaviour evidence).
pub struct Peers {
    /// Commands to the network task.
    pub commands: mpsc::Sender<NetCommand>,
    /// The node's p2p key.
    pub reporter: ed25519_dalek::SigningKey,
}

/// The node's host: RocksDB store, a signer (local or remote), the WAL file, libp2p peers.
pub type NodeHost = Host<RocksBackend, Box<dyn Signer + Send>, FileWal, PeerId>;

/// The consensus thread's state.
pub struct Driver {
    host: NodeHost,
    status: Arc<NodeStatus>,
    metrics: Arc<Metrics>,
    mempool: Arc<Mempool>,
    rx: Receiver<DriverMsg>,
    net: Option<mpsc::Sender<NetCommand>>,
    started: Instant,
}

/// What consensus owns (the store's writer, the signer, the WAL file) and shares (the
/// mempool).
pub struct Owned {
    /// The store's one writer (the RPC and the network read the store through readers).
    pub store: StoreWriter<RocksBackend>,
    /// The mempool blocks are built from (filled through [`crate::admission`]).
    pub mempool: Arc<Mempool>,
    /// The holder of the consensus key.
    pub signer: Box<dyn Signer + Send>,
    /// The key to sign with when the signer names none of the set's.
    pub address: Address,
    /// The WAL file.
    pub wal_path: PathBuf,
    /// The genesis time.
    pub genesis_time_ms: u64,
}

impl Driver {
    /// Starts (or resumes after a crash) consensus at the store's next height.
    pub fn start(
        status: Arc<NodeStatus>,
        metrics: Arc<Metrics>,
        owned: Owned,
        rx: Receiver<DriverMsg>,
        peers: Option<Peers>,
    ) -> Result<Self, Halt> {
        let Owned { store, mempool, signer, address, wal_path, genesis_time_ms } = owned;
        let (net, reporter) = match peers {
            Some(p) => (Some(p.commands), Some(p.reporter)),
            None => (None, None),
        };
        let (wal, wal_records, problem) = FileWal::open(&wal_path)?;
        if let Some(problem) = problem {
            tracing::warn!(%problem, "WAL tail dropped");
        }
        let parts =
            HostParts { store, mempool: mempool.clone(), signer, wal, wal_records, address, genesis_time_ms, reporter };
        let started = Instant::now();
        let (host, actions) = Host::start(parts, Now { ms: 0, clock_ms: now_ms() })?;
        let mut driver = Driver { host, status, metrics, mempool, rx, net, started };
        driver.carry_out(actions)?;
        Ok(driver)
    }

    /// Runs until shutdown or a halt; a halt is recorded for `/health`.
    pub fn run(mut self) {
        if let Err(halt) = self.run_inner() {
            let reason = halt.to_string();
            tracing::error!(%reason, "consensus halted");
            self.status.halt(reason);
        }
        tracing::info!("consensus driver stopped");
    }

    fn now(&self) -> Now {
        Now { ms: self.started.elapsed().as_millis() as u64, clock_ms: now_ms() }
    }

    fn run_inner(&mut self) -> Result<(), Halt> {
        loop {
            let now = self.now();
            let wait = self.host.next_wake().map_or(IDLE_WAKE, |at| Duration::from_millis(at.saturating_sub(now.ms)));
            let event = match self.rx.recv_timeout(wait) {
                Ok(DriverMsg::Wake) => Event::TxsArrived,
                Ok(DriverMsg::Net(event)) => event,
                Err(RecvTimeoutError::Timeout) => Event::Tick,
                Ok(DriverMsg::Shutdown) | Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            let actions = self.host.handle(event, self.now())?;
            self.carry_out(actions)?;
        }
    }

    /// Carries out `actions`; a request the network could not take is answered to the
    /// host at once as failed (so it asks another peer rather than wait for nothing),
    /// and what the host does then is carried out too.
    fn carry_out(&mut self, actions: Vec<Action<PeerId>>) -> Result<(), Halt> {
        let mut pending = std::collections::VecDeque::from(actions);
        // Each failed request backs a peer off or gives a proposal up: a bounded chain.
        let mut failures_left = UNSENT_REQUESTS_MAX;
        while let Some(action) = pending.pop_front() {
            // What the host hears if the network cannot take a request.
            let failed = match &action {
                Action::GetBlock { peer, height } => Some(Event::NoBlock { from: *peer, height: *height, busy: true }),
                Action::GetProposalTxs { peer, height, round, block_hash, .. } => Some(Event::ProposalTxs {
                    from: *peer,
                    answer: ProposalTxs { height: *height, round: *round, block_hash: *block_hash, txs: None },
                }),
                _ => None,
            };
            let command = match action {
                Action::Committed(block) => {
                    if let Some(ms) = block.latency_ms {
                        self.metrics.commit_latency.observe(ms as f64 / 1000.0);
                    }
                    self.metrics.blocks.set(block.header.height as i64 + 1);
                    self.metrics.txs_committed.inc_by(block.tx_hashes.len() as u64);
                    refresh_gauges(&self.metrics, &self.mempool);
                    self.status.committed(Committed::new(block.header, block.tx_hashes));
                    continue;
                }
                Action::Assembled { local, fetched } => {
                    self.metrics.proposal_txs_local.inc_by(local as u64);
                    self.metrics.proposal_txs_fetched.inc_by(fetched as u64);
                    // The fetched txs were admitted (the gauges otherwise move with
                    // submissions and commits; reading them takes the pool's lock).
                    refresh_gauges(&self.metrics, &self.mempool);
                    continue;
                }
                Action::Broadcast(message) => NetCommand::Broadcast(Arc::new(message)),
                Action::GossipTxs(txs) => NetCommand::GossipTxs(txs),
                Action::GetBlock { peer, height } => NetCommand::GetBlock { peer, height },
                Action::GetProposalTxs { peer, height, round, block_hash, hashes } => {
                    NetCommand::GetProposalTxs { peer, height, round, block_hash, hashes }
                }
                Action::Penalise { peer, reason } => NetCommand::Penalise { peer, reason },
            };
            let sent = self.net.as_ref().is_some_and(|net| net.try_send(command).is_ok());
            if sent {
                continue;
            }
            if self.net.is_some() {
                // Consensus re-sends what matters; a request is failed now.
                tracing::warn!("network queue full: a message for the network was dropped");
            }
            if let (Some(event), true) = (failed, failures_left > 0) {
                failures_left -= 1;
                pending.extend(self.host.handle(event, self.now())?);
            }
        }
        Ok(())
    }
}

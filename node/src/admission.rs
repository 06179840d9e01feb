//! Where txs enter this node, from its RPC clients and from its peers alike: checked
//! against the latest state at the clock's time (signatures in batches, then the state's
//! rules, by [`chancery_consensus::host::mempool::admit`]), the mempool gauges refreshed,
//! consensus woken; what clients submitted is gossiped to the peers (what a peer sent,
//! that peer sent to every peer).

use std::sync::mpsc::SyncSender;
use std::sync::Arc;

use chancery_consensus::host::mempool::{self, Mempool, SubmitError};
use chancery_ledger::store::ChainStore;
use chancery_ledger::{Hash, Tx};
use tokio::sync::mpsc;

use crate::clock::now_ms;
use crate::driver::DriverMsg;
use crate::metrics::Metrics;
use crate::p2p::NetCommand;
use crate::rocks::RocksBackend;

/// Who offers the txs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// This node's RPC clients: what is admitted goes on to the peers.
    Client,
    /// A peer, which sent them to every peer itself.
    Peer,
}

/// The way in to the mempool.
pub struct Admission {
    store: Arc<ChainStore<RocksBackend>>,
    mempool: Arc<Mempool>,
    metrics: Arc<Metrics>,
    wake: SyncSender<DriverMsg>,
    peers: Option<mpsc::Sender<NetCommand>>,
}

impl Admission {
    /// Admission into `mempool` over `store`; `wake` is consensus's queue, `peers` the
    /// network's (none without a network).
    pub fn new(
        store: Arc<ChainStore<RocksBackend>>,
        mempool: Arc<Mempool>,
        metrics: Arc<Metrics>,
        wake: SyncSender<DriverMsg>,
        peers: Option<mpsc::Sender<NetCommand>>,
    ) -> Self {
        Admission { store, mempool, metrics, wake, peers }
    }

    /// Offers `txs`; one outcome per tx, in order. Blocking (signature checks and store
    /// reads): call it off the async runtime.
    pub fn admit(&self, txs: Vec<Tx>, source: Source) -> Vec<Result<Hash, SubmitError>> {
        let peers = self.peers.as_ref().filter(|_| source == Source::Client);
        // A copy for the peers only when there are peers to give it to.
        let copies = if peers.is_some() { txs.clone() } else { Vec::new() };
        let outcomes = mempool::admit(&self.store, &self.mempool, txs, now_ms());
        refresh_gauges(&self.metrics, &self.mempool);
        if let Some(peers) = peers {
            // Peers' mempools get what ours admitted, so any proposer can include it.
            let admitted = mempool::admitted(copies, &outcomes);
            if !admitted.is_empty() && peers.try_send(NetCommand::GossipTxs(admitted)).is_err() {
                tracing::warn!("network queue full: admitted txs were not gossiped (peers get them when they propose from their own mempools or connect again)");
            }
        }
        if outcomes.iter().any(Result::is_ok) {
            // A full queue means consensus is awake already.
            let _ = self.wake.try_send(DriverMsg::Wake);
        }
        outcomes
    }

    /// The mempool (for status queries and what a new peer is sent).
    pub fn mempool(&self) -> &Mempool {
        &self.mempool
    }
}

/// Sets the mempool gauges from `mempool`'s size (reading it takes the pool's lock).
pub fn refresh_gauges(metrics: &Metrics, mempool: &Mempool) {
    let (txs, bytes) = mempool.size();
    metrics.mempool_txs.set(txs as i64);
    metrics.mempool_bytes.set(bytes as i64);
}

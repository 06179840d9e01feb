//! What the node says about itself: committed blocks announced to the RPC's subscribers,
//! and liveness (halted, stalled, reachable quorum) for `/health`. Consensus and the
//! network report here; the RPC reads.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use chancery_consensus::host::mempool::Mempool;
use chancery_ledger::store::ChainStore;
use chancery_ledger::{Hash, Header, PublicKey};
use chancery_rpc::types::Health;
use libp2p::PeerId;
use tokio::sync::broadcast;

use crate::rocks::RocksBackend;

/// A committed block as announced on the event bus, with the JSON its subscribers get,
/// made once for all of them when first asked.
#[derive(Debug)]
pub struct Committed {
    /// Its header.
    pub header: Header,
    /// Its txs' hashes, in block order.
    pub tx_hashes: Vec<Hash>,
    block_json: std::sync::OnceLock<Box<serde_json::value::RawValue>>,
    header_json: std::sync::OnceLock<Box<serde_json::value::RawValue>>,
}

impl Committed {
    /// The announcement of a block.
    pub fn new(header: Header, tx_hashes: Vec<Hash>) -> Self {
        Committed { header, tx_hashes, block_json: Default::default(), header_json: Default::default() }
    }

    /// `evidence_subscribeCommitted`'s notification.
    pub fn block_json(&self) -> &serde_json::value::RawValue {
        self.block_json.get_or_init(|| {
            raw_json(&chancery_rpc::types::CommittedBlock {
                height: self.header.height,
                block_hash: self.header.hash(),
                time_ms: self.header.time_ms,
                tx_hashes: self.tx_hashes.clone(),
            })
        })
    }

    /// `chain_subscribeHeads`' notification.
    pub fn header_json(&self) -> &serde_json::value::RawValue {
        self.header_json.get_or_init(|| raw_json(&self.header))
    }
}

/// Plain data with string keys: serialising cannot fail.
fn raw_json<T: serde::Serialize>(value: &T) -> Box<serde_json::value::RawValue> {
    serde_json::value::to_raw_value(value).expect("plain data with string keys serialises to JSON")
}

/// Liveness facts for `/health`.
#[derive(Debug)]
pub struct Liveness {
    /// Why consensus stopped, if it did.
    pub halted: Option<String>,
    /// When the last block was committed (or the node started).
    pub last_commit: Instant,
    /// Connected peers, when the node has a network.
    pub peers: Option<HashSet<PeerId>>,
}

/// Blocks a subscriber may fall behind before it misses some.
pub const EVENTS_BUFFERED: usize = 1024;
/// How long without a commit before the node calls itself stalled.
pub const STALLED_AFTER_MS: u64 = 30_000;

/// The node's announcements and liveness.
pub struct NodeStatus {
    events: broadcast::Sender<Arc<Committed>>,
    liveness: Mutex<Liveness>,
    moniker: String,
    consensus_key: PublicKey,
}

impl NodeStatus {
    /// The status of the node `moniker` whose consensus key is `consensus_key`;
    /// `networked` when it has peers to count.
    pub fn new(moniker: String, consensus_key: PublicKey, networked: bool) -> Self {
        NodeStatus {
            events: broadcast::channel(EVENTS_BUFFERED).0,
            liveness: Mutex::new(Liveness {
                halted: None,
                last_commit: Instant::now(),
                peers: networked.then(Default::default),
            }),
            moniker,
            consensus_key,
        }
    }

    /// Records and announces a committed block.
    pub fn committed(&self, block: Committed) {
        self.liveness().last_commit = Instant::now();
        // No subscriber is fine.
        let _ = self.events.send(Arc::new(block));
    }

    /// The committed blocks from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Committed>> {
        self.events.subscribe()
    }

    /// Records that consensus stopped.
    pub fn halt(&self, reason: String) {
        self.liveness().halted = Some(reason);
    }

    /// Liveness facts.
    pub fn liveness(&self) -> MutexGuard<'_, Liveness> {
        self.liveness.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The node's health as `node_health` and `GET /health` report it (reads the store).
    pub fn health(&self, store: &ChainStore<RocksBackend>, mempool: &Mempool) -> Health {
        let liveness = self.liveness();
        let since = liveness.last_commit.elapsed().as_millis() as u64;
        let reach = liveness.peers.as_ref().and_then(|peers| self.reachable_power(store, peers));
        let (status, reason) = match (&liveness.halted, reach) {
            (Some(reason), _) => ("halted", Some(reason.clone())),
            (None, Some((reachable, total))) if reachable * 3 <= total * 2 => (
                "no_quorum",
                Some(format!(
                    "this node reaches validators with power {reachable} of {total}; more than two thirds must be reachable to commit blocks"
                )),
            ),
            (None, _) if since > STALLED_AFTER_MS => {
                ("stalled", Some(format!("no block committed for {} s", since / 1000)))
            }
            (None, _) => ("ok", None),
        };
        let (txs, bytes) = mempool.size();
        Health {
            status: status.to_string(),
            reason,
            moniker: self.moniker.clone(),
            blocks: store.height(),
            since_last_commit_ms: since,
            mempool_txs: txs as u64,
            mempool_bytes: bytes as u64,
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// Voting power of the validators this node is connected to (itself included when
    /// it is one), and the total.
    fn reachable_power(&self, store: &ChainStore<RocksBackend>, peers: &HashSet<PeerId>) -> Option<(u64, u64)> {
        let set = store.current_validators().ok()?;
        let mut reachable = 0;
        for v in &set.validators {
            let connected = crate::p2p::peer_id(&v.p2p_key).is_ok_and(|p| peers.contains(&p));
            if connected || v.consensus_key == self.consensus_key {
                reachable += v.power;
            }
        }
        Some((reachable, set.total_power()))
    }
}

//! What the driver, the RPC service and the HTTP routes share: the store, the mempool,
//! the committed-block bus, metrics and the node's health.

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::rocks::RocksBackend;
use chancery_genesis::Genesis;
use chancery_ledger::store::ChainStore;
use chancery_ledger::{Hash, Header};
use tokio::sync::broadcast;

use crate::metrics::Metrics;
use chancery_consensus::host::mempool::Mempool;

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
    pub peers: Option<std::collections::HashSet<libp2p::PeerId>>,
}

/// Shared node state.
pub struct Shared {
    /// The chain store.
    pub store: Arc<ChainStore<RocksBackend>>,
    /// The mempool.
    pub mempool: Arc<Mempool>,
    /// The genesis.
    pub genesis: Genesis,
    /// Committed blocks, in order.
    pub events: broadcast::Sender<Arc<Committed>>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Liveness.
    pub liveness: Mutex<Liveness>,
    /// Node name.
    pub moniker: String,
    /// This node's consensus key.
    pub consensus_key: Option<chancery_ledger::PublicKey>,
}

/// Blocks a subscriber may fall behind before it misses some.
pub const EVENTS_BUFFERED: usize = 1024;

impl Shared {
    /// Records and announces a committed block.
    pub fn committed(&self, block: Committed) {
        self.metrics.blocks.set(self.store.height() as i64);
        self.metrics.txs_committed.inc_by(block.tx_hashes.len() as u64);
        self.update_mempool_metrics();
        self.liveness().last_commit = Instant::now();
        // No subscriber is fine.
        let _ = self.events.send(Arc::new(block));
    }

    /// Offers `txs` to the mempool, checked against the latest state at the clock's time,
    /// and refreshes the mempool gauges; one outcome per tx.
    pub fn submit(
        &self,
        txs: Vec<chancery_ledger::Tx>,
    ) -> Vec<Result<chancery_ledger::Hash, chancery_consensus::host::mempool::SubmitError>> {
        let results = chancery_consensus::host::mempool::admit(&self.store, &self.mempool, txs, now_ms());
        self.update_mempool_metrics();
        results
    }

    /// Refreshes the mempool gauges.
    pub fn update_mempool_metrics(&self) {
        let (txs, bytes) = self.mempool.size();
        self.metrics.mempool_txs.set(txs as i64);
        self.metrics.mempool_bytes.set(bytes as i64);
    }

    /// Records that consensus stopped.
    pub fn halt(&self, reason: String) {
        self.liveness().halted = Some(reason);
    }

    /// Liveness facts.
    pub fn liveness(&self) -> std::sync::MutexGuard<'_, Liveness> {
        self.liveness.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The environment variable that shifts this node's clock, in signed milliseconds. For
/// tests only: the network-fault tests run a validator whose clock is skewed beyond the
/// chain's allowed drift. Never set it on a real node.
pub const CLOCK_OFFSET_ENV: &str = "CHANCERY_TEST_CLOCK_OFFSET_MS";

/// Milliseconds since the Unix epoch (shifted by [`CLOCK_OFFSET_ENV`] if it is set).
pub fn now_ms() -> u64 {
    static OFFSET: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let offset = *OFFSET.get_or_init(|| {
        let offset = std::env::var(CLOCK_OFFSET_ENV).ok().and_then(|v| v.trim().parse::<i64>().ok()).unwrap_or(0);
        if offset != 0 {
            tracing::warn!(offset_ms = offset, "this node's clock is shifted for a test ({CLOCK_OFFSET_ENV})");
        }
        offset
    });
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    now.saturating_add_signed(offset)
}

//! The narrow storage interface the chain store is written against: named columns, point
//! reads, ordered prefix scans and atomic synced batches. The node implements it on
//! RocksDB (with checkpoints for backups); an in-memory implementation with fault
//! injection serves tests and the simulator. Every column's keys and values are in
//! docs/STORE_FORMAT.md.

/// A column (a RocksDB column family).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    /// Store metadata: chain id, genesis hash, height.
    Meta,
    /// Height → header.
    Headers,
    /// (height, group) → the txs of one group of 16: the block bodies.
    Blocks,
    /// Height → the block's tx-tree levels from level 4 up.
    TxTrees,
    /// Height → commit.
    Commits,
    /// Tx hash → (height, index).
    Txs,
    /// (digest, height, index) → nothing: every anchor of a digest, in chain order.
    Evidence,
    /// (CA id, serial, height, index) → nothing: every event of a certificate.
    Certs,
    /// State key → latest value.
    State,
    /// State-tree nodes and roots by version.
    StateTree,
    /// (level, index) → history-tree node.
    History,
    /// Height → validator-set change taking effect there, with its approvals.
    ValidatorChanges,
}

impl Column {
    /// Every column.
    pub const ALL: [Column; 12] = [
        Column::Meta,
        Column::Headers,
        Column::Blocks,
        Column::TxTrees,
        Column::Commits,
        Column::Txs,
        Column::Evidence,
        Column::Certs,
        Column::State,
        Column::StateTree,
        Column::History,
        Column::ValidatorChanges,
    ];

    /// The column family's name.
    pub const fn name(self) -> &'static str {
        match self {
            Column::Meta => "meta",
            Column::Headers => "headers",
            Column::Blocks => "blocks",
            Column::TxTrees => "tx_trees",
            Column::Commits => "commits",
            Column::Txs => "txs",
            Column::Evidence => "evidence",
            Column::Certs => "certs",
            Column::State => "state",
            Column::StateTree => "state_tree",
            Column::History => "history",
            Column::ValidatorChanges => "validator_changes",
        }
    }
}

/// Puts and deletes applied together or not at all.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    /// `(column, key, Some(value))` puts, `(column, key, None)` deletes, in order.
    pub ops: Vec<(Column, Vec<u8>, Option<Vec<u8>>)>,
}

impl Batch {
    /// Queues a put.
    pub fn put(&mut self, column: Column, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push((column, key.into(), Some(value.into())));
    }

    /// Queues a delete.
    pub fn delete(&mut self, column: Column, key: impl Into<Vec<u8>>) {
        self.ops.push((column, key.into(), None));
    }

    /// Total bytes of keys and values.
    pub fn bytes(&self) -> usize {
        self.ops.iter().map(|(_, k, v)| k.len() + v.as_ref().map_or(0, Vec::len)).sum()
    }
}

/// A storage failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage {operation} failed: {message}")]
pub struct BackendError {
    /// What was being done.
    pub operation: &'static str,
    /// The engine's message.
    pub message: String,
}

/// A stored key and value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Key-value storage with columns.
pub trait Backend: Send + Sync {
    /// The value under `key`.
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError>;
    /// Entries whose key starts with `prefix`, in key order from the first key at or
    /// after `from`, at most `limit` of them.
    fn scan(&self, column: Column, prefix: &[u8], from: &[u8], limit: usize) -> Result<Vec<Entry>, BackendError>;
    /// Applies `batch` atomically and durably (synced before returning).
    fn write(&self, batch: Batch) -> Result<(), BackendError>;
    /// Bytes the store occupies on disk after compaction, if it has a disk.
    fn disk_bytes(&self) -> Result<Option<u64>, BackendError>;
}

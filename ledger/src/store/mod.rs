//! The chain store: blocks, commits, txs, every index, the state and the history tree, on
//! a [`Backend`] (RocksDB in the product, memory in tests).
//!
//! A block and everything it changes are written in one atomic, synced batch, so after a
//! crash the store holds each block whole or not at all. A failed write poisons the store:
//! every later call fails, and the node must stop rather than go on with a state that may
//! not match the disk. Values read back are checked against the hashes that commit to
//! them before they are served. Nothing is ever pruned.

pub mod backend;
pub mod memory;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub use backend::{Backend, BackendError, Batch, Column, Entry};
pub use write::StoreWriter;

use crate::codec::{decode, encode, BoundedVec, Canonical, DecodeError};
use crate::digest::Digest;
use crate::hash::Hash;
use crate::hex::HexBytes;
use crate::limits::BLOCK_TXS_MAX;
use crate::merkle::history::{
    self, bound_root_at, Blake3History, HistoryConsistency, HistoryError, HistoryNodes, TreeHasher,
};
use crate::merkle::smt::{Child, Node, NodeKey, NodeSource, SmtError};
use crate::merkle::tx_tree::{self, level_widths, TxProof, STORED_LEVEL};
use crate::state::{apply_with, genesis_changes, CertRecord, ExecError, StateChanges, StateKey, StateView};
use crate::types::block::{Block, ChainId, Commit, Header, Params};
use crate::types::tx::{CertSerial, Evidence, Tx, TxBody};
use crate::types::validator::{CaId, Member, ValidatorSet};
use crate::verify::{Checkpoint, ProofBundle, ValidatorSetChange};

/// What a store is created from: the genesis, as the ledger sees it.
#[derive(Debug, Clone)]
pub struct ChainSpec {
    /// Chain id.
    pub chain_id: ChainId,
    /// Genesis hash.
    pub genesis_hash: Hash,
    /// Genesis parameters.
    pub params: Params,
    /// Genesis validators.
    pub validators: ValidatorSet,
    /// Genesis members.
    pub members: Vec<Member>,
}

/// Where a tx is: block height and position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TxLocation {
    /// Block height.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
}

/// A store failure. Messages name the height and what did not match.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage engine failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// An earlier write failed; nothing more is served or written.
    #[error("an earlier write to the store failed; the node must stop and be restarted so the store is reopened and checked")]
    Poisoned,
    /// The store was written in a layout this code does not read.
    #[error("this store is in format {stored}; this node reads format {STORE_FORMAT_VERSION}: {advice}")]
    Format {
        /// The stored format version.
        stored: u32,
        /// What to do.
        advice: &'static str,
    },
    /// The store belongs to another chain.
    #[error("this store holds chain {stored_chain} (genesis {stored}), not chain {given_chain} (genesis {given}); use the data directory of this chain")]
    WrongGenesis {
        /// Stored chain id.
        stored_chain: String,
        /// Stored genesis hash.
        stored: Hash,
        /// Chain id given.
        given_chain: String,
        /// Genesis hash given.
        given: Hash,
    },
    /// Stored data does not match what commits to it.
    #[error("store is corrupt at height {height}: {what}")]
    Corrupt {
        /// The height (or the store height for metadata).
        height: u64,
        /// What did not match.
        what: String,
    },
    /// Something asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A block that does not extend the stored chain.
    #[error("block refused: {0}")]
    Refused(String),
    /// A block whose content breaks the ledger rules.
    #[error("block refused: {0}")]
    Invalid(ExecError<BackendError>),
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

const META_CHAIN: &[u8] = b"chain_id";
const META_GENESIS: &[u8] = b"genesis_hash";
const META_HEIGHT: &[u8] = b"height";
const META_FORMAT: &[u8] = b"format_version";

/// The store's layout version (docs/STORE_FORMAT.md), kept in the meta column and checked
/// on open. A store written before versions were kept has this layout (it is stamped on
/// open); any other version is refused.
pub const STORE_FORMAT_VERSION: u32 = 1;
const TREE_NODE: u8 = b'n';
const TREE_ROOT: u8 = b'r';

fn height_key(height: u64) -> [u8; 8] {
    height.to_be_bytes()
}

fn location_key(height: u64, index: u32) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..8].copy_from_slice(&height.to_be_bytes());
    key[8..].copy_from_slice(&index.to_be_bytes());
    key
}

/// Txs stored together under one key: the leaves below one stored tx-tree node, so a
/// proof reads one value.
const GROUP: usize = 1 << STORED_LEVEL;

fn group_key(height: u64, index: u32) -> [u8; 12] {
    location_key(height, index / GROUP as u32)
}

/// A group's value: each tx's canonical bytes after its length (`u32`, little-endian).
fn encode_group<'a>(txs: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for bytes in txs {
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

fn decode_group(height: u64, bytes: &[u8]) -> Result<Vec<Tx>> {
    let mut txs = Vec::with_capacity(GROUP);
    let mut rest = bytes;
    while !rest.is_empty() {
        let bad = || StoreError::Corrupt { height, what: "stored tx group is malformed".into() };
        let len = rest.get(..4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes).ok_or_else(bad)? as usize;
        let tx = rest.get(4..4 + len).ok_or_else(bad)?;
        txs.push(decode(tx).map_err(|e| corrupt(height, Column::Blocks, e))?);
        rest = &rest[4 + len..];
        if txs.len() > GROUP {
            return Err(bad());
        }
    }
    Ok(txs)
}

fn parse_location(bytes: &[u8]) -> Option<TxLocation> {
    let height = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
    let index = u32::from_be_bytes(bytes.get(8..12)?.try_into().ok()?);
    Some(TxLocation { height, index })
}

fn digest_prefix(digest: &Digest) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + digest.bytes().len() + 12);
    key.push(digest.alg() as u8);
    key.extend_from_slice(digest.bytes());
    key
}

fn cert_prefix(ca: &CaId, serial: &CertSerial) -> Vec<u8> {
    let mut key = encode(ca);
    key.extend_from_slice(&encode(serial));
    key
}

fn history_key(level: u32, index: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = level as u8;
    key[1..].copy_from_slice(&index.to_be_bytes());
    key
}

fn tree_node_key(key: &NodeKey) -> Vec<u8> {
    let mut out = vec![TREE_NODE];
    out.extend_from_slice(&key.to_bytes());
    out
}

fn tree_root_key(version: u64) -> [u8; 9] {
    let mut out = [TREE_ROOT; 9];
    out[1..].copy_from_slice(&version.to_be_bytes());
    out
}

/// What an integrity check covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrityReport {
    /// First height checked.
    pub from: u64,
    /// Number of blocks checked.
    pub blocks: u64,
}

/// The chain store over a backend.
pub struct ChainStore<B: Backend> {
    backend: B,
    chain_id: ChainId,
    genesis_hash: Hash,
    /// The set that signs until the first change takes effect.
    genesis_validators: ValidatorSet,
    height: AtomicU64,
    poisoned: AtomicBool,
    written_bytes: AtomicU64,
}

impl<B: Backend> ChainStore<B> {
    /// Opens the store, creating the genesis state on first use, and checks the last
    /// `check_last` blocks (see [`ChainStore::check_integrity`]). A store of another chain,
    /// of another layout version, or a corrupt one refuses to open. Returns the store's one
    /// writer (which also reads it).
    pub fn open(backend: B, spec: &ChainSpec, check_last: u64) -> Result<StoreWriter<B>> {
        let store = ChainStore {
            backend,
            chain_id: spec.chain_id.clone(),
            genesis_hash: spec.genesis_hash,
            genesis_validators: spec.validators.clone(),
            height: AtomicU64::new(0),
            poisoned: AtomicBool::new(false),
            written_bytes: AtomicU64::new(0),
        };
        match store.backend.get(Column::Meta, META_GENESIS)? {
            None => store.init(spec)?,
            Some(stored) => {
                let stored_chain = store
                    .backend
                    .get(Column::Meta, META_CHAIN)?
                    .ok_or(StoreError::Corrupt { height: 0, what: "stored chain id is missing".into() })?;
                let stored_hash = Hash(stored.as_slice().try_into().map_err(|_| StoreError::Corrupt {
                    height: 0,
                    what: "stored genesis hash is not 32 bytes".into(),
                })?);
                if stored_hash != spec.genesis_hash || stored_chain != spec.chain_id.as_str().as_bytes() {
                    return Err(StoreError::WrongGenesis {
                        stored_chain: String::from_utf8_lossy(&stored_chain).into_owned(),
                        stored: stored_hash,
                        given_chain: spec.chain_id.to_string(),
                        given: spec.genesis_hash,
                    });
                }
                let height = store
                    .backend
                    .get(Column::Meta, META_HEIGHT)?
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_be_bytes);
                let height = height
                    .ok_or(StoreError::Corrupt { height: 0, what: "stored height is missing or malformed".into() })?;
                store.check_format()?;
                store.height.store(height, Ordering::SeqCst);
            }
        }
        store.check_integrity(Some(check_last))?;
        Ok(StoreWriter::new(store))
    }

    fn init(&self, spec: &ChainSpec) -> Result<()> {
        let changes = genesis_changes(self, &spec.genesis_hash, &spec.params, &spec.validators, &spec.members)
            .map_err(|e| self.tree_error(0, e))?;
        let mut batch = Batch::default();
        write_state(&mut batch, &changes);
        batch.put(Column::Meta, META_CHAIN, spec.chain_id.as_str().as_bytes());
        batch.put(Column::Meta, META_GENESIS, spec.genesis_hash.0);
        batch.put(Column::Meta, META_HEIGHT, height_key(0));
        batch.put(Column::Meta, META_FORMAT, STORE_FORMAT_VERSION.to_be_bytes());
        self.write(batch)
    }

    /// Refuses a store of another layout version; stamps one written before versions were
    /// kept (the same layout as version 1).
    fn check_format(&self) -> Result<()> {
        match self.backend.get(Column::Meta, META_FORMAT)? {
            None => {
                let mut batch = Batch::default();
                batch.put(Column::Meta, META_FORMAT, STORE_FORMAT_VERSION.to_be_bytes());
                self.write(batch)
            }
            Some(bytes) => {
                let stored = <[u8; 4]>::try_from(bytes.as_slice()).map(u32::from_be_bytes).map_err(|_| {
                    StoreError::Corrupt { height: 0, what: "stored format version is not 4 bytes".into() }
                })?;
                match stored {
                    STORE_FORMAT_VERSION => Ok(()),
                    newer if newer > STORE_FORMAT_VERSION => Err(StoreError::Format {
                        stored: newer,
                        advice:
                            "it was written by a newer Chancery; run that version, or restore a backup made by this one",
                    }),
                    older => Err(StoreError::Format {
                        stored: older,
                        advice: "there is no migration from it; sync a new data directory from peers",
                    }),
                }
            }
        }
    }

    fn tree_error(&self, height: u64, error: SmtError<BackendError>) -> StoreError {
        match error {
            SmtError::Store(e) => StoreError::Backend(e),
            other => StoreError::Corrupt { height, what: other.to_string() },
        }
    }

    fn write(&self, batch: Batch) -> Result<()> {
        self.live()?;
        self.written_bytes.fetch_add(batch.bytes() as u64, Ordering::Relaxed);
        if let Err(e) = self.backend.write(batch) {
            self.poisoned.store(true, Ordering::SeqCst);
            return Err(e.into());
        }
        Ok(())
    }

    fn live(&self) -> Result<()> {
        if self.poisoned.load(Ordering::SeqCst) {
            return Err(StoreError::Poisoned);
        }
        Ok(())
    }

    /// Bytes of keys and values written since the store was opened.
    pub fn written_bytes(&self) -> u64 {
        self.written_bytes.load(Ordering::Relaxed)
    }

    /// Whether an earlier write failed (the store serves and writes nothing more).
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::SeqCst)
    }

    /// The backend (for backups and raw access in tools).
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The chain id.
    pub fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }

    /// The genesis hash.
    pub fn genesis_hash(&self) -> Hash {
        self.genesis_hash
    }

    /// The chain's identity: id and genesis hash, as signed messages bind them.
    pub fn identity(&self) -> crate::types::block::ChainIdentity {
        crate::types::block::ChainIdentity { chain_id: self.chain_id.clone(), genesis_hash: self.genesis_hash }
    }

    /// Number of committed blocks, which is also the height of the next block.
    pub fn height(&self) -> u64 {
        self.height.load(Ordering::SeqCst)
    }

    fn get(&self, column: Column, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.live()?;
        Ok(self.backend.get(column, key)?)
    }

    fn decoded<T: Canonical>(&self, column: Column, key: &[u8], height: u64) -> Result<Option<T>> {
        match self.get(column, key)? {
            Some(bytes) => decode(&bytes).map(Some).map_err(|e| corrupt(height, column, e)),
            None => Ok(None),
        }
    }
}

fn corrupt(height: u64, column: Column, error: DecodeError) -> StoreError {
    StoreError::Corrupt { height, what: format!("stored {} value does not decode: {error}", column.name()) }
}

fn write_state(batch: &mut Batch, changes: &StateChanges) {
    for (key, value) in &changes.writes {
        match value {
            Some(v) => batch.put(Column::State, encode(key), v.clone()),
            None => batch.delete(Column::State, encode(key)),
        }
    }
    for (key, node) in &changes.tree.nodes {
        batch.put(Column::StateTree, tree_node_key(key), encode(node));
    }
    let root = Child { hash: changes.tree.root.hash, version: changes.tree.root.version };
    batch.put(Column::StateTree, tree_root_key(changes.tree.version), encode(&root));
}

impl Canonical for Child {
    const KIND: &'static str = "state tree root";
    const BYTES_MAX: usize = 40;
}

impl<B: Backend> NodeSource for ChainStore<B> {
    type Error = BackendError;
    fn node(&self, key: &NodeKey) -> Result<Option<Node>, BackendError> {
        match self.backend.get(Column::StateTree, &tree_node_key(key))? {
            Some(bytes) => decode(&bytes)
                .map(Some)
                .map_err(|e| BackendError { operation: "decode state tree node", message: e.to_string() }),
            None => Ok(None),
        }
    }
    fn root(&self, version: u64) -> Result<Option<Child>, BackendError> {
        match self.backend.get(Column::StateTree, &tree_root_key(version))? {
            Some(bytes) => decode(&bytes)
                .map(Some)
                .map_err(|e| BackendError { operation: "decode state tree root", message: e.to_string() }),
            None => Ok(None),
        }
    }
}

impl<B: Backend> StateView for ChainStore<B> {
    fn value(&self, key: &StateKey) -> Result<Option<Vec<u8>>, BackendError> {
        self.backend.get(Column::State, &encode(key))
    }
    fn tx_exists(&self, tx_hash: &Hash) -> Result<bool, BackendError> {
        Ok(self.backend.get(Column::Txs, &tx_hash.0)?.is_some())
    }
}

/// The stored history tree as of `size` blocks.
struct StoredHistory<'a, B: Backend> {
    backend: &'a B,
    size: u64,
}

impl<B: Backend> HistoryNodes<Blake3History> for StoredHistory<'_, B> {
    type Error = BackendError;
    fn size(&self) -> u64 {
        self.size
    }
    fn node(&self, level: u32, index: u64) -> Result<Option<Hash>, BackendError> {
        Ok(self.backend.get(Column::History, &history_key(level, index))?.and_then(|b| b.try_into().ok()).map(Hash))
    }
}

fn history_error(height: u64, error: HistoryError<BackendError>) -> StoreError {
    match error {
        HistoryError::Store(e) => StoreError::Backend(e),
        HistoryError::SizeBeyondTree { size, asked } => {
            StoreError::NotFound(format!("history at size {asked} (the chain has {size} blocks)"))
        }
        HistoryError::InvalidRequest(what) => StoreError::Refused(what.to_string()),
        missing @ HistoryError::Missing { .. } => StoreError::Corrupt { height, what: missing.to_string() },
    }
}

mod read;
mod write;

pub use read::ANCHORS_PER_QUERY_MAX;

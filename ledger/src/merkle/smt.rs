//! The state tree: a versioned sparse Merkle tree over 256-bit key hashes, whose root is a
//! header's `state_root`. It proves what the ledger state held at any block, including
//! that a key held nothing (a certificate with no revocation, a member not registered).
//!
//! Construction. Keys are `H_key` hashes; the path of a key is its bits, most significant
//! first. A subtree holding no entry is *empty* and hashes to 32 zero bytes. A subtree
//! holding exactly one entry is that entry's *leaf*, placed at the top of the subtree:
//! `leaf = H("chancery v1 state leaf", key_hash || value_hash)` with
//! `value_hash = H("chancery v1 state value", value)`. Any other subtree is an inner node,
//! `H("chancery v1 state node", left || right)`. So the tree's shape, and its root, depend
//! only on its contents.
//!
//! Versions. Every batch of changes makes a new version (the state after block `h` is
//! version `h + 1`, genesis is version 0). A node is stored under the version that created
//! it plus its position and is never overwritten, so every version stays provable.
//!
//! ```
//! use chancery_ledger::smt::{MemoryNodes, Smt, SmtUpdate};
//! use chancery_ledger::hash::HashContext;
//!
//! let mut nodes = MemoryNodes::default();
//! let key = HashContext::State.hash(b"member");
//! let batch = Smt::update(&nodes, None, 1, &[SmtUpdate { key, value: Some(b"alice".to_vec()) }]).expect("memory reads");
//! nodes.apply(&batch);
//! let proof = Smt::prove(&nodes, 1, &key).expect("memory reads");
//! assert_eq!(proof.verify(&key, &batch.root.hash), Ok(Some(proof.value_hash().expect("present"))));
//! ```

use std::collections::BTreeMap;

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::codec::{BoundedVec, Canonical};
use crate::hash::{Hash, HashContext};
use crate::limits::STATE_VALUE_BYTES_MAX;

/// Depth of the tree: one level per key bit.
pub const SMT_DEPTH: usize = 256;

/// Where a node lives: the version that wrote it and its position (depth and the first
/// `depth` bits of the path, the rest zeroed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeKey {
    /// Version that wrote the node.
    pub version: u64,
    /// Depth, 0 at the root.
    pub depth: u16,
    /// Path bits, masked to `depth`.
    pub path: [u8; 32],
}

impl NodeKey {
    /// Storage key bytes: version (big-endian, so versions sort), depth, path.
    pub fn to_bytes(&self) -> [u8; 42] {
        let mut out = [0u8; 42];
        out[..8].copy_from_slice(&self.version.to_be_bytes());
        out[8..10].copy_from_slice(&self.depth.to_be_bytes());
        out[10..].copy_from_slice(&self.path);
        out
    }
}

/// A reference from a parent to a child: its hash and the version that stored it. An
/// empty child has the zero hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct Child {
    /// The child's hash (zero for empty).
    pub hash: Hash,
    /// The version under which the child is stored.
    pub version: u64,
}

impl Child {
    const EMPTY: Child = Child { hash: Hash::ZERO, version: 0 };

    fn is_empty(&self) -> bool {
        self.hash == Hash::ZERO
    }
}

/// A stored node.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum Node {
    /// An inner node.
    Inner {
        /// Left child (bit 0).
        left: Child,
        /// Right child (bit 1).
        right: Child,
    },
    /// The only entry of its subtree.
    Leaf {
        /// The entry's key hash.
        key: Hash,
        /// The entry's value.
        value: BoundedVec<u8, STATE_VALUE_BYTES_MAX>,
    },
}

impl Canonical for Node {
    const KIND: &'static str = "state tree node";
    const BYTES_MAX: usize = STATE_VALUE_BYTES_MAX + 128;
}

/// Hash of a state value.
pub fn value_hash(value: &[u8]) -> Hash {
    HashContext::StateValue.hash(value)
}

fn leaf_hash(key: &Hash, value_hash: &Hash) -> Hash {
    HashContext::StateLeaf.hash_pair(key.as_bytes(), value_hash.as_bytes())
}

fn inner_hash(left: &Hash, right: &Hash) -> Hash {
    HashContext::StateNode.hash_pair(left.as_bytes(), right.as_bytes())
}

impl Node {
    /// The node's hash.
    pub fn hash(&self) -> Hash {
        match self {
            Node::Inner { left, right } => inner_hash(&left.hash, &right.hash),
            Node::Leaf { key, value } => leaf_hash(key, &value_hash(value)),
        }
    }
}

fn bit(key: &Hash, depth: usize) -> bool {
    key.0[depth / 8] & (0x80 >> (depth % 8)) != 0
}

fn prefix(key: &Hash, depth: usize) -> [u8; 32] {
    let mut out = [0u8; 32];
    let full = depth / 8;
    out[..full].copy_from_slice(&key.0[..full]);
    if !depth.is_multiple_of(8) {
        out[full] = key.0[full] & (0xFFu8 << (8 - depth % 8));
    }
    out
}

/// Read access to stored nodes and roots.
pub trait NodeSource {
    /// Storage failure.
    type Error;
    /// The node stored under `key`.
    fn node(&self, key: &NodeKey) -> Result<Option<Node>, Self::Error>;
    /// The root of `version`, if that version exists.
    fn root(&self, version: u64) -> Result<Option<Child>, Self::Error>;
}

/// One change: set `key` to `value`, or delete it with `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtUpdate {
    /// Key hash.
    pub key: Hash,
    /// New value, or `None` to delete.
    pub value: Option<Vec<u8>>,
}

/// What a batch of updates writes: new nodes and the new version's root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmtBatch {
    /// New nodes.
    pub nodes: Vec<(NodeKey, Node)>,
    /// The new version.
    pub version: u64,
    /// Its root.
    pub root: ChildRoot,
}

/// The root of a version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChildRoot {
    /// Root hash (`state_root`).
    pub hash: Hash,
    /// Version under which the root node is stored.
    pub version: u64,
}

/// A failure of the tree: the store failed, or it lacks a node it should hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtError<E> {
    /// The node store failed.
    #[error("state tree store: {0:?}")]
    Store(E),
    /// A referenced node or root is missing: the store is damaged.
    #[error("state tree node missing: {what} at version {version}, depth {depth}")]
    Missing {
        /// "root" or "node".
        what: &'static str,
        /// Version.
        version: u64,
        /// Depth.
        depth: u16,
    },
    /// A value is larger than a state value may be.
    #[error("state value of {len} bytes is above the limit of {STATE_VALUE_BYTES_MAX}")]
    ValueTooLarge {
        /// Its length.
        len: usize,
    },
    /// A stored node does not hash to the hash its parent holds: the store is damaged.
    #[error("state tree node at version {version}, depth {depth} does not match its hash")]
    HashMismatch {
        /// Version.
        version: u64,
        /// Depth.
        depth: u16,
    },
}

/// A state value within its limit.
pub type Value = BoundedVec<u8, STATE_VALUE_BYTES_MAX>;

/// A subtree as an update sees it.
enum Sub {
    Empty,
    /// An existing subtree, untouched.
    Existing(Child),
    /// A single entry, to be stored wherever it ends up.
    Leaf(Hash, Value),
    /// A new inner node, already queued for writing.
    Inner(Child),
}

/// The state tree's operations, over any [`NodeSource`].
pub struct Smt;

impl Smt {
    /// Applies `updates` to version `base` (`None`: the empty tree) and returns the
    /// writes for version `version`. Later updates of the same key win.
    pub fn update<S: NodeSource>(
        store: &S,
        base: Option<u64>,
        version: u64,
        updates: &[SmtUpdate],
    ) -> Result<SmtBatch, SmtError<S::Error>> {
        let root = match base {
            Some(base) => Self::root_child(store, base)?,
            None => Child::EMPTY,
        };
        let mut sorted: BTreeMap<Hash, Option<Value>> = BTreeMap::new();
        for update in updates {
            let value = match &update.value {
                Some(v) => Some(Value::new(v.clone()).map_err(|_| SmtError::ValueTooLarge { len: v.len() })?),
                None => None,
            };
            sorted.insert(update.key, value);
        }
        let sorted: Vec<(Hash, Option<Value>)> = sorted.into_iter().collect();
        let mut batch = SmtBatch { version, ..SmtBatch::default() };
        let origin = Hash::ZERO;
        let sub = Self::update_at(store, &mut batch, Some(root), 0, &origin, &sorted)?;
        let child = Self::place(&mut batch, sub, 0, &origin);
        batch.root = ChildRoot { hash: child.hash, version: child.version };
        Ok(batch)
    }

    fn root_child<S: NodeSource>(store: &S, version: u64) -> Result<Child, SmtError<S::Error>> {
        store.root(version).map_err(SmtError::Store)?.ok_or(SmtError::Missing { what: "root", version, depth: 0 })
    }

    fn load<S: NodeSource>(store: &S, child: &Child, depth: usize, path: &Hash) -> Result<Node, SmtError<S::Error>> {
        let key = NodeKey { version: child.version, depth: depth as u16, path: prefix(path, depth) };
        let node = store.node(&key).map_err(SmtError::Store)?.ok_or(SmtError::Missing {
            what: "node",
            version: child.version,
            depth: depth as u16,
        })?;
        if node.hash() != child.hash {
            return Err(SmtError::HashMismatch { version: child.version, depth: depth as u16 });
        }
        Ok(node)
    }

    /// The subtree at `depth` on `path` after applying `updates` (all under that path).
    fn update_at<S: NodeSource>(
        store: &S,
        batch: &mut SmtBatch,
        existing: Option<Child>,
        depth: usize,
        path: &Hash,
        updates: &[(Hash, Option<Value>)],
    ) -> Result<Sub, SmtError<S::Error>> {
        let existing = existing.filter(|c| !c.is_empty());
        if updates.is_empty() {
            return Ok(existing.map_or(Sub::Empty, Sub::Existing));
        }
        let node = match &existing {
            Some(child) => Some(Self::load(store, child, depth, path)?),
            None => None,
        };
        match node {
            Some(Node::Inner { left, right }) => {
                let split = updates.partition_point(|(k, _)| !bit(k, depth));
                let (left_path, right_path) = (*path, with_bit(path, depth));
                let l = Self::update_at(store, batch, Some(left), depth + 1, &left_path, &updates[..split])?;
                let r = Self::update_at(store, batch, Some(right), depth + 1, &right_path, &updates[split..])?;
                Self::join(store, batch, l, r, depth, path)
            }
            leaf_or_empty => {
                // Merge the existing entry (if any) with the updates, then build fresh.
                let mut entries: BTreeMap<Hash, Value> = BTreeMap::new();
                if let Some(Node::Leaf { key, value }) = leaf_or_empty {
                    entries.insert(key, value);
                }
                for (key, value) in updates {
                    match value {
                        Some(v) => entries.insert(*key, v.clone()),
                        None => entries.remove(key),
                    };
                }
                let entries: Vec<(Hash, Value)> = entries.into_iter().collect();
                Self::build(store, batch, depth, path, &entries)
            }
        }
    }

    /// A fresh subtree over `entries` (sorted, all under `path`).
    fn build<S: NodeSource>(
        store: &S,
        batch: &mut SmtBatch,
        depth: usize,
        path: &Hash,
        entries: &[(Hash, Value)],
    ) -> Result<Sub, SmtError<S::Error>> {
        match entries {
            [] => Ok(Sub::Empty),
            [(key, value)] => Ok(Sub::Leaf(*key, value.clone())),
            _ => {
                let split = entries.partition_point(|(k, _)| !bit(k, depth));
                let l = Self::build(store, batch, depth + 1, path, &entries[..split])?;
                let r = Self::build(store, batch, depth + 1, &with_bit(path, depth), &entries[split..])?;
                Self::join(store, batch, l, r, depth, path)
            }
        }
    }

    /// The subtree made of two children, keeping the one-entry-subtree-is-a-leaf rule.
    fn join<S: NodeSource>(
        store: &S,
        batch: &mut SmtBatch,
        left: Sub,
        right: Sub,
        depth: usize,
        path: &Hash,
    ) -> Result<Sub, SmtError<S::Error>> {
        let lone = match (&left, &right) {
            (Sub::Empty, Sub::Empty) => return Ok(Sub::Empty),
            (Sub::Empty, other) => Some((other, with_bit(path, depth))),
            (other, Sub::Empty) => Some((other, *path)),
            _ => None,
        };
        if let Some((only, child_path)) = lone {
            match only {
                Sub::Leaf(k, v) => return Ok(Sub::Leaf(*k, v.clone())),
                Sub::Existing(child) => {
                    // A lone existing leaf moves up; a lone inner node stays below.
                    if let Node::Leaf { key, value } = Self::load(store, child, depth + 1, &child_path)? {
                        return Ok(Sub::Leaf(key, value));
                    }
                }
                Sub::Inner(_) | Sub::Empty => {}
            }
        }
        let l = Self::place(batch, left, depth + 1, path);
        let r = Self::place(batch, right, depth + 1, &with_bit(path, depth));
        let node = Node::Inner { left: l, right: r };
        let child = Child { hash: node.hash(), version: batch.version };
        batch.nodes.push((NodeKey { version: batch.version, depth: depth as u16, path: prefix(path, depth) }, node));
        Ok(Sub::Inner(child))
    }

    /// Stores `sub` at `depth` on `path` if it is not stored there yet; returns its reference.
    /// Existing subtrees stay where they are: only a leaf can move (up, when its sibling
    /// subtree empties), and a moved leaf is always a `Sub::Leaf`.
    fn place(batch: &mut SmtBatch, sub: Sub, depth: usize, path: &Hash) -> Child {
        match sub {
            Sub::Empty => Child::EMPTY,
            Sub::Existing(child) | Sub::Inner(child) => child,
            Sub::Leaf(key, value) => {
                let node = Node::Leaf { key, value };
                let child = Child { hash: node.hash(), version: batch.version };
                batch
                    .nodes
                    .push((NodeKey { version: batch.version, depth: depth as u16, path: prefix(path, depth) }, node));
                child
            }
        }
    }

    /// The value of `key` at `version`, or `None`.
    pub fn get<S: NodeSource>(store: &S, version: u64, key: &Hash) -> Result<Option<Vec<u8>>, SmtError<S::Error>> {
        let proof = Self::prove(store, version, key)?;
        Ok(match proof.terminal {
            Terminal::Leaf { key: k, value } if k == *key => Some(value.into_vec()),
            _ => None,
        })
    }

    /// The proof of `key`'s value (or absence) at `version`.
    pub fn prove<S: NodeSource>(store: &S, version: u64, key: &Hash) -> Result<SmtProof, SmtError<S::Error>> {
        let mut child = Self::root_child(store, version)?;
        let mut siblings = Vec::new();
        for depth in 0..=SMT_DEPTH {
            if child.is_empty() {
                return Ok(SmtProof { siblings, terminal: Terminal::Empty });
            }
            match Self::load(store, &child, depth, key)? {
                Node::Leaf { key, value } => return Ok(SmtProof { siblings, terminal: Terminal::Leaf { key, value } }),
                Node::Inner { left, right } => {
                    let (next, sibling) = if bit(key, depth) { (right, left) } else { (left, right) };
                    siblings.push(sibling.hash);
                    child = next;
                }
            }
        }
        Err(SmtError::Missing { what: "leaf", version, depth: SMT_DEPTH as u16 })
    }
}

fn with_bit(path: &Hash, depth: usize) -> Hash {
    let mut out = *path;
    out.0[depth / 8] |= 0x80 >> (depth % 8);
    out
}

/// Where a proof's path ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Terminal {
    /// An empty subtree: the key is absent.
    Empty,
    /// A leaf: the key itself (present) or another key sharing the path (absent).
    Leaf {
        /// The leaf's key hash.
        key: Hash,
        /// The leaf's value (hex in JSON).
        #[serde(with = "hex_value")]
        value: BoundedVec<u8, STATE_VALUE_BYTES_MAX>,
    },
}

/// A state value as hex in JSON, like every binary object of a proof.
mod hex_value {
    use serde::{Deserializer, Serializer};

    use super::{BoundedVec, STATE_VALUE_BYTES_MAX};

    pub fn serialize<S: Serializer>(value: &BoundedVec<u8, STATE_VALUE_BYTES_MAX>, s: S) -> Result<S::Ok, S::Error> {
        crate::hex::hex_string::serialize(&value[..], s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BoundedVec<u8, STATE_VALUE_BYTES_MAX>, D::Error> {
        BoundedVec::new(crate::hex::hex_string::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A proof that a key holds a value, or nothing, under a state root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtProof {
    /// Sibling hashes from the root down.
    pub siblings: Vec<Hash>,
    /// Where the path ends.
    pub terminal: Terminal,
}

/// Why a state proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtProofError {
    /// More siblings than the tree is deep.
    #[error("state proof has {0} siblings; the tree is 256 levels deep")]
    TooDeep(usize),
    /// The terminal leaf is not on the key's path.
    #[error("state proof ends at a leaf that is not on the key's path")]
    LeafOffPath,
    /// The recomputed root differs.
    #[error("state proof leads to root {computed}, expected {expected}")]
    RootMismatch {
        /// Root computed.
        computed: Hash,
        /// Root expected.
        expected: Hash,
    },
}

impl SmtProof {
    /// The value hash the proof shows for its own terminal leaf, if any.
    pub fn value_hash(&self) -> Option<Hash> {
        match &self.terminal {
            Terminal::Leaf { value, .. } => Some(value_hash(value)),
            Terminal::Empty => None,
        }
    }

    /// Checks the proof against `root` and returns the hash of `key`'s value, or `None`
    /// when the proof shows the key is absent.
    pub fn verify(&self, key: &Hash, root: &Hash) -> Result<Option<Hash>, SmtProofError> {
        let depth = self.siblings.len();
        if depth > SMT_DEPTH {
            return Err(SmtProofError::TooDeep(depth));
        }
        let (mut node, present) = match &self.terminal {
            Terminal::Empty => (Hash::ZERO, None),
            Terminal::Leaf { key: leaf_key, value } => {
                if prefix(leaf_key, depth) != prefix(key, depth) {
                    return Err(SmtProofError::LeafOffPath);
                }
                let vh = value_hash(value);
                (leaf_hash(leaf_key, &vh), (leaf_key == key).then_some(vh))
            }
        };
        for (d, sibling) in self.siblings.iter().enumerate().rev() {
            node = if bit(key, d) { inner_hash(sibling, &node) } else { inner_hash(&node, sibling) };
        }
        if node != *root {
            return Err(SmtProofError::RootMismatch { computed: node, expected: *root });
        }
        Ok(present)
    }
}

/// An in-memory node store, for tests and tools.
#[derive(Debug, Default, Clone)]
pub struct MemoryNodes {
    nodes: std::collections::HashMap<NodeKey, Node>,
    roots: BTreeMap<u64, Child>,
}

impl MemoryNodes {
    /// Stores a batch's nodes and root.
    pub fn apply(&mut self, batch: &SmtBatch) {
        for (key, node) in &batch.nodes {
            self.nodes.insert(*key, node.clone());
        }
        self.roots.insert(batch.version, Child { hash: batch.root.hash, version: batch.root.version });
    }

    /// Number of stored nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is stored.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

impl NodeSource for MemoryNodes {
    type Error = std::convert::Infallible;
    fn node(&self, key: &NodeKey) -> Result<Option<Node>, Self::Error> {
        Ok(self.nodes.get(key).cloned())
    }
    fn root(&self, version: u64) -> Result<Option<Child>, Self::Error> {
        Ok(self.roots.get(&version).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(i: u16) -> Hash {
        HashContext::State.hash(&i.to_le_bytes())
    }

    /// The root straight from the definition, over a sorted map of entries.
    fn reference_root(entries: &BTreeMap<Hash, Vec<u8>>) -> Hash {
        fn sub(entries: &[(&Hash, &Vec<u8>)], depth: usize) -> Hash {
            match entries {
                [] => Hash::ZERO,
                [(k, v)] => leaf_hash(k, &value_hash(v)),
                _ => {
                    let split = entries.partition_point(|(k, _)| !bit(k, depth));
                    inner_hash(&sub(&entries[..split], depth + 1), &sub(&entries[split..], depth + 1))
                }
            }
        }
        let list: Vec<_> = entries.iter().collect();
        sub(&list, 0)
    }

    #[test]
    fn empty_tree_and_single_entry() {
        let mut nodes = MemoryNodes::default();
        let empty = Smt::update(&nodes, None, 0, &[]).expect("memory");
        nodes.apply(&empty);
        let proof = Smt::prove(&nodes, 0, &key(1)).expect("memory");
        assert_eq!(proof.verify(&key(1), &Hash::ZERO), Ok(None));
        let batch =
            Smt::update(&nodes, Some(0), 1, &[SmtUpdate { key: key(1), value: Some(vec![7]) }]).expect("memory");
        assert_eq!(batch.root.hash, leaf_hash(&key(1), &value_hash(&[7])));
    }

    #[test]
    fn oversized_values_are_refused() {
        let nodes = MemoryNodes::default();
        let update = SmtUpdate { key: key(1), value: Some(vec![0; STATE_VALUE_BYTES_MAX + 1]) };
        assert!(matches!(Smt::update(&nodes, None, 1, &[update]), Err(SmtError::ValueTooLarge { .. })));
    }

    #[test]
    fn a_tampered_node_is_detected_on_read() {
        let mut nodes = MemoryNodes::default();
        let updates: Vec<_> = (0..8).map(|i| SmtUpdate { key: key(i), value: Some(vec![i as u8]) }).collect();
        let batch = Smt::update(&nodes, None, 1, &updates).expect("memory");
        nodes.apply(&batch);
        let (victim, _) = batch.nodes.iter().find(|(_, n)| matches!(n, Node::Leaf { .. })).expect("a leaf").clone();
        nodes.nodes.insert(victim, Node::Leaf { key: key(99), value: Value::new(vec![1]).expect("small") });
        let results: Vec<_> = (0..8).map(|i| Smt::get(&nodes, 1, &key(i))).collect();
        assert!(results.iter().any(|r| matches!(r, Err(SmtError::HashMismatch { .. }))));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Random batches of puts and deletes: after every version the root equals the
        /// root from the definition, every key's proof verifies to its value or absence,
        /// and every earlier version still proves what it held.
        #[test]
        fn incremental_updates_match_the_definition(batches in proptest::collection::vec(proptest::collection::vec((0u16..40, proptest::option::of(proptest::collection::vec(any::<u8>(), 0..4))), 1..12), 1..6)) {
            let mut nodes = MemoryNodes::default();
            nodes.apply(&Smt::update(&nodes, None, 0, &[]).expect("memory"));
            let mut model: BTreeMap<Hash, Vec<u8>> = BTreeMap::new();
            let mut history = vec![(0u64, model.clone(), Hash::ZERO)];
            for (i, ops) in batches.iter().enumerate() {
                let version = i as u64 + 1;
                let updates: Vec<_> = ops.iter().map(|(k, v)| SmtUpdate { key: key(*k), value: v.clone() }).collect();
                for u in &updates {
                    match &u.value { Some(v) => { model.insert(u.key, v.clone()); } None => { model.remove(&u.key); } }
                }
                let batch = Smt::update(&nodes, Some(version - 1), version, &updates).expect("memory");
                nodes.apply(&batch);
                prop_assert_eq!(batch.root.hash, reference_root(&model));
                history.push((version, model.clone(), batch.root.hash));
            }
            for (version, state, root) in &history {
                for k in 0u16..40 {
                    let proof = Smt::prove(&nodes, *version, &key(k)).expect("memory");
                    let shown = proof.verify(&key(k), root).expect("valid proof");
                    prop_assert_eq!(shown, state.get(&key(k)).map(|v| value_hash(v)));
                    // A proof for one key never verifies as another key's.
                    if let Some(other) = (0u16..40).map(key).find(|o| *o != key(k) && state.get(o).map(|v| value_hash(v)) != shown) {
                        prop_assert!(proof.verify(&other, root).map(|v| v != shown).unwrap_or(true));
                    }
                }
            }
        }
    }
}

//! The per-block tx tree: a binary Merkle tree (built by `rs_merkle`) over the block's tx
//! hashes, with domain-separated leaves and nodes, and a root bound to the tx count.
//!
//! Construction, for txs with hashes `t_0 .. t_{n-1}`:
//! - leaf `i` is `L_i = H_leaf(t_i)`, with `H_leaf = derive_key("chancery v1 tx tree leaf", ·)`;
//! - each level pairs nodes left to right, `H_node(left || right)` with
//!   `H_node = derive_key("chancery v1 tx tree node", ·)`; an odd last node moves up
//!   unchanged;
//! - `tx_root = derive_key("chancery v1 tx tree root", u32_le(n) || top)`, with `top` the
//!   single node left (32 zero bytes when `n = 0`).
//!
//! Binding `n` into the root means a proof is only ever checked against the header's
//! `tx_count`; with leaves and nodes in different domains, a proof for index `i` of `n`
//! verifies as no other index or size.
//!
//! ```
//! use chancery_ledger::hash::HashContext;
//! use chancery_ledger::tx_tree::TxTree;
//!
//! let txs: Vec<_> = (0u8..5).map(|i| HashContext::Tx.hash(&[i])).collect();
//! let tree = TxTree::new(&txs);
//! let proof = tree.proof(3).expect("index 3 of 5 exists");
//! assert!(proof.verify(&txs[3], &tree.root()).is_ok());
//! assert!(proof.verify(&txs[2], &tree.root()).is_err());
//! ```

use rs_merkle::{MerkleProof, MerkleTree};
use serde::{Deserialize, Serialize};

use crate::hash::{Hash, HashContext};
use crate::limits::{BLOCK_TXS_MAX, PROOF_DEPTH_MAX};

/// `rs_merkle` hasher whose `hash` is the node hash; leaves are hashed by [`leaf_hash`]
/// before they enter the tree.
#[derive(Clone)]
struct NodeHasher;

impl rs_merkle::Hasher for NodeHasher {
    type Hash = [u8; 32];

    fn hash(data: &[u8]) -> [u8; 32] {
        HashContext::TxTreeNode.hash(data).0
    }

    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(right) => HashContext::TxTreeNode.hash_pair(left, right).0,
            None => *left,
        }
    }
}

/// The leaf for a tx hash.
pub fn leaf_hash(tx_hash: &Hash) -> Hash {
    HashContext::TxTreeLeaf.hash(tx_hash.as_bytes())
}

/// Binds the tree's top node to the tx count.
fn bind_root(count: u32, top: &Hash) -> Hash {
    HashContext::TxTreeRoot.hash_pair(&count.to_le_bytes(), top.as_bytes())
}

/// A block's tx tree.
pub struct TxTree {
    tree: MerkleTree<NodeHasher>,
    count: u32,
}

impl TxTree {
    /// Builds the tree over `tx_hashes` in block order. A block never holds more than
    /// [`BLOCK_TXS_MAX`] txs; the caller enforces that before building.
    pub fn new(tx_hashes: &[Hash]) -> Self {
        let leaves: Vec<[u8; 32]> = tx_hashes.iter().map(|h| leaf_hash(h).0).collect();
        let count = u32::try_from(tx_hashes.len()).unwrap_or(u32::MAX);
        TxTree { tree: MerkleTree::from_leaves(&leaves), count }
    }

    /// `tx_root`.
    pub fn root(&self) -> Hash {
        let top = self.tree.root().map(Hash).unwrap_or(Hash::ZERO);
        bind_root(self.count, &top)
    }

    /// The proof for the tx at `index`, or `None` past the end.
    pub fn proof(&self, index: u32) -> Option<TxProof> {
        if index >= self.count {
            return None;
        }
        let proof = self.tree.proof(&[index as usize]);
        let siblings = proof.proof_hashes().iter().copied().map(Hash).collect();
        Some(TxProof { index, count: self.count, siblings })
    }
}

/// Level of the tx tree from which the store keeps nodes: below it, a proof is rebuilt
/// from the (at most 16) txs of the leaf's group.
pub const STORED_LEVEL: usize = 4;

/// Every level of the tx tree, leaves first, up to the single top node (no levels for an
/// empty block). The same construction as [`TxTree`], for storing and rebuilding proofs.
pub fn levels(tx_hashes: &[Hash]) -> Vec<Vec<Hash>> {
    if tx_hashes.is_empty() {
        return Vec::new();
    }
    let mut levels = vec![tx_hashes.iter().map(leaf_hash).collect::<Vec<_>>()];
    while let Some(below) = levels.last().filter(|l| l.len() > 1) {
        let above = below
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => HashContext::TxTreeNode.hash_pair(left.as_bytes(), right.as_bytes()),
                // An odd last node moves up unchanged.
                _ => pair[0],
            })
            .collect();
        levels.push(above);
    }
    levels
}

/// Appends the siblings of node `index` of `levels[0]` on its way up `levels`.
pub fn siblings(levels: &[Vec<Hash>], mut index: usize, out: &mut Vec<Hash>) {
    for level in levels {
        let width = level.len();
        if width <= 1 {
            break;
        }
        if index % 2 == 1 {
            out.push(level[index - 1]);
        } else if index + 1 < width {
            out.push(level[index + 1]);
        }
        index /= 2;
    }
}

/// `tx_root` from a tree's levels and its tx count.
pub fn root_of_levels(levels: &[Vec<Hash>], count: u32) -> Hash {
    let top = levels.last().and_then(|l| l.first()).copied().unwrap_or(Hash::ZERO);
    bind_root(count, &top)
}

/// Width of every level of a tree of `count` leaves, leaves first.
pub fn level_widths(count: u32) -> Vec<usize> {
    let mut width = count as usize;
    let mut widths = Vec::new();
    if width == 0 {
        return widths;
    }
    widths.push(width);
    while width > 1 {
        width = width.div_ceil(2);
        widths.push(width);
    }
    widths
}

/// `tx_root` of a list of tx hashes.
pub fn tx_root(tx_hashes: &[Hash]) -> Hash {
    TxTree::new(tx_hashes).root()
}

/// A path from one tx to its block's `tx_root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxProof {
    /// Position of the tx in the block.
    pub index: u32,
    /// Number of txs in the block.
    pub count: u32,
    /// Sibling hashes from the leaf level up (levels where the node moved up unchanged
    /// have none).
    pub siblings: Vec<Hash>,
}

/// Why a tx proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxProofError {
    /// Index not below count.
    #[error("tx index {index} is not below the block's tx count {count}")]
    IndexOutOfRange {
        /// The index.
        index: u32,
        /// The count.
        count: u32,
    },
    /// Wrong number of siblings for this index and count.
    #[error("proof has {got} sibling hashes; index {index} of {count} needs exactly {expected}")]
    WrongLength {
        /// Index.
        index: u32,
        /// Count.
        count: u32,
        /// Siblings needed.
        expected: usize,
        /// Siblings given.
        got: usize,
    },
    /// The recomputed root is not the expected root.
    #[error("proof leads to tx root {computed}, expected {expected}")]
    RootMismatch {
        /// Root the proof leads to.
        computed: Hash,
        /// Root it should lead to.
        expected: Hash,
    },
}

/// Number of siblings on the path of leaf `index` in a tree of `count` leaves where an
/// odd last node moves up unchanged.
pub fn path_len(index: u32, count: u32) -> usize {
    let (mut index, mut width, mut len) = (index as u64, count as u64, 0);
    while width > 1 {
        if index % 2 == 1 || index + 1 < width {
            len += 1;
        }
        index /= 2;
        width = width.div_ceil(2);
    }
    len
}

impl TxProof {
    /// Checks that the tx with hash `tx_hash` is at `self.index` of `self.count` in the
    /// block whose tx root is `tx_root`. Never panics, whatever the proof holds.
    pub fn verify(&self, tx_hash: &Hash, tx_root: &Hash) -> Result<(), TxProofError> {
        let (index, count) = (self.index, self.count);
        if index >= count || count as usize > BLOCK_TXS_MAX {
            return Err(TxProofError::IndexOutOfRange { index, count });
        }
        let expected = path_len(index, count);
        if self.siblings.len() != expected || expected > PROOF_DEPTH_MAX {
            return Err(TxProofError::WrongLength { index, count, expected, got: self.siblings.len() });
        }
        let proof = MerkleProof::<NodeHasher>::new(self.siblings.iter().map(|h| h.0).collect());
        let top = proof
            .root(&[index as usize], &[leaf_hash(tx_hash).0], count as usize)
            .map_err(|_| TxProofError::WrongLength { index, count, expected, got: self.siblings.len() })?;
        let computed = bind_root(count, &Hash(top));
        if computed != *tx_root {
            return Err(TxProofError::RootMismatch { computed, expected: *tx_root });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hashes(n: u32) -> Vec<Hash> {
        (0..n).map(|i| HashContext::Tx.hash(&i.to_le_bytes())).collect()
    }

    #[test]
    fn empty_and_single_trees() {
        assert_eq!(TxTree::new(&[]).root(), bind_root(0, &Hash::ZERO));
        assert!(TxTree::new(&[]).proof(0).is_none());
        let one = hashes(1);
        let tree = TxTree::new(&one);
        assert_eq!(tree.root(), bind_root(1, &leaf_hash(&one[0])));
        let proof = tree.proof(0).expect("leaf 0");
        assert!(proof.siblings.is_empty());
        assert!(proof.verify(&one[0], &tree.root()).is_ok());
    }

    #[test]
    fn three_leaves_match_the_documented_construction() {
        let t = hashes(3);
        let l: Vec<Hash> = t.iter().map(leaf_hash).collect();
        let n01 = HashContext::TxTreeNode.hash_pair(l[0].as_bytes(), l[1].as_bytes());
        let top = HashContext::TxTreeNode.hash_pair(n01.as_bytes(), l[2].as_bytes());
        assert_eq!(TxTree::new(&t).root(), bind_root(3, &top));
    }

    #[test]
    fn levels_and_siblings_match_rs_merkle_for_every_index() {
        for n in 1..=70u32 {
            let t = hashes(n);
            let tree = TxTree::new(&t);
            let all = levels(&t);
            assert_eq!(all.iter().map(Vec::len).collect::<Vec<_>>(), level_widths(n));
            assert_eq!(root_of_levels(&all, n), tree.root());
            for i in 0..n {
                let mut path = Vec::new();
                siblings(&all, i as usize, &mut path);
                assert_eq!(path, tree.proof(i).expect("in range").siblings, "n {n} index {i}");
                // Rebuilt from the leaf's group of 16 and the stored upper levels.
                let group = i as usize / 16;
                let local = levels(&t[group * 16..(group * 16 + 16).min(n as usize)]);
                let mut split_path = Vec::new();
                siblings(&local, i as usize % 16, &mut split_path);
                siblings(all.get(STORED_LEVEL..).unwrap_or(&[]), i as usize >> STORED_LEVEL, &mut split_path);
                assert_eq!(split_path, path, "split rebuild, n {n} index {i}");
            }
        }
    }

    #[test]
    fn root_depends_on_count_even_for_the_same_top() {
        assert_ne!(bind_root(2, &Hash::ZERO), bind_root(3, &Hash::ZERO));
    }

    #[test]
    fn extra_or_missing_siblings_are_rejected() {
        let t = hashes(6);
        let tree = TxTree::new(&t);
        let mut proof = tree.proof(4).expect("leaf 4");
        proof.siblings.push(Hash::ZERO);
        assert!(matches!(proof.verify(&t[4], &tree.root()), Err(TxProofError::WrongLength { .. })));
        proof.siblings.truncate(0);
        assert!(matches!(proof.verify(&t[4], &tree.root()), Err(TxProofError::WrongLength { .. })));
    }

    fn flip(h: &mut Hash, bit: usize) {
        h.0[bit / 8 % 32] ^= 1 << (bit % 8);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn every_proof_verifies_and_every_bit_flip_fails(n in 1u32..300, pick in any::<u32>(), bit in 0usize..256, which in any::<usize>(), field_bit in 0u32..32) {
            let t = hashes(n);
            let tree = TxTree::new(&t);
            let root = tree.root();
            let i = pick % n;
            let proof = tree.proof(i).expect("index below count");
            prop_assert_eq!(proof.siblings.len(), path_len(i, n));
            prop_assert!(proof.verify(&t[i as usize], &root).is_ok());

            if !proof.siblings.is_empty() {
                let mut bad = proof.clone();
                let k = which % bad.siblings.len();
                flip(&mut bad.siblings[k], bit);
                prop_assert!(bad.verify(&t[i as usize], &root).is_err());
            }
            let mut bad = proof.clone();
            bad.index ^= 1 << field_bit;
            prop_assert!(bad.verify(&t[i as usize], &root).is_err());
            let mut bad = proof.clone();
            bad.count ^= 1 << field_bit;
            prop_assert!(bad.verify(&t[i as usize], &root).is_err());
            let mut bad_root = root;
            flip(&mut bad_root, bit);
            prop_assert!(proof.verify(&t[i as usize], &bad_root).is_err());
            let mut bad_leaf = t[i as usize];
            flip(&mut bad_leaf, bit);
            prop_assert!(proof.verify(&bad_leaf, &root).is_err());
        }

        #[test]
        fn a_proof_never_verifies_for_another_index_of_the_same_tree(n in 2u32..200, a in any::<u32>(), b in any::<u32>()) {
            let t = hashes(n);
            let tree = TxTree::new(&t);
            let (i, j) = (a % n, b % n);
            prop_assume!(i != j);
            let mut proof = tree.proof(i).expect("index below count");
            proof.index = j;
            prop_assert!(proof.verify(&t[i as usize], &tree.root()).is_err());
        }
    }
}

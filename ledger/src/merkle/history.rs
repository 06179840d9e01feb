//! The history tree: an RFC 9162 (Certificate Transparency v2) append-only Merkle tree,
//! generic over its hash function, with inclusion and consistency proofs.
//!
//! Chancery appends every block hash to it; `history_root` in the header of block `h` is
//! the root over blocks `0..h` (tree size `h`), so any later trusted header proves an
//! earlier block belongs to its chain, and two checkpoints prove the ledger was only
//! appended to between them. The product uses [`Blake3History`]; the reference vectors of
//! RFC 6962 run through the same code with SHA-256 (`tests/rfc6962.rs`).
//!
//! The tree over `n` leaves (RFC 9162 §2.1.1): `MTH({}) = empty`, `MTH({d}) = leaf(d)`,
//! and for `n > 1`, with `k` the largest power of two below `n`,
//! `MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n]))`.
//!
//! In headers the root is bound to the tree size, `history_root = derive_key("chancery v1
//! history root", u64_le(size) || MTH)` (see [`bind_root`]), as the tx tree binds its
//! count: RFC 9162 proofs alone do not fix the size (the path of a leaf in the left part
//! of a tree is the same for several sizes), the bound root does.
//!
//! ```
//! use chancery_ledger::history::{verify_inclusion, Blake3History, HistoryTree, TreeHasher};
//!
//! let mut tree = HistoryTree::<Blake3History>::new();
//! for i in 0u8..7 {
//!     tree.append(&[i]);
//! }
//! let proof = tree.inclusion_proof(2, 7).expect("leaf 2 is in a tree of 7");
//! let leaf = Blake3History::hash_leaf(&[2]);
//! assert!(verify_inclusion::<Blake3History>(2, 7, &leaf, &proof, &tree.root()).is_ok());
//! ```

use std::fmt::Debug;

use crate::hash::{Hash, HashContext};
use crate::limits::PROOF_DEPTH_MAX;

/// The hash functions of a history tree.
pub trait TreeHasher {
    /// A node hash.
    type Output: Clone + Eq + Debug;
    /// Root of the empty tree.
    fn empty_root() -> Self::Output;
    /// Hash of a leaf's data.
    fn hash_leaf(data: &[u8]) -> Self::Output;
    /// Hash of an inner node.
    fn hash_children(left: &Self::Output, right: &Self::Output) -> Self::Output;
}

/// Chancery's hashing: BLAKE3 `derive_key` with the history contexts.
pub struct Blake3History;

impl TreeHasher for Blake3History {
    type Output = Hash;
    fn empty_root() -> Hash {
        HashContext::HistoryEmpty.hash(&[])
    }
    fn hash_leaf(data: &[u8]) -> Hash {
        HashContext::HistoryLeaf.hash(data)
    }
    fn hash_children(left: &Hash, right: &Hash) -> Hash {
        HashContext::HistoryNode.hash_pair(left.as_bytes(), right.as_bytes())
    }
}

/// Why a root or proof could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError<E = std::convert::Infallible> {
    /// The tree is smaller than asked.
    #[error("the history tree has {size} leaves; asked about size {asked}")]
    SizeBeyondTree {
        /// Current size.
        size: u64,
        /// Size asked for.
        asked: u64,
    },
    /// The index or sizes are not in order.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// The node store failed.
    #[error("history store: {0:?}")]
    Store(E),
    /// A node the tree's size says exists is missing: the store is damaged.
    #[error("history node missing at level {level}, index {index}")]
    Missing {
        /// Level (0 = leaves).
        level: u32,
        /// Index within the level.
        index: u64,
    },
}

/// Read access to the complete aligned subtrees of a history tree.
pub trait HistoryNodes<H: TreeHasher> {
    /// Storage failure.
    type Error;
    /// Number of leaves.
    fn size(&self) -> u64;
    /// The hash of leaves `index·2^level .. (index+1)·2^level`, once all of them exist.
    fn node(&self, level: u32, index: u64) -> Result<Option<H::Output>, Self::Error>;
}

/// Why a history proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryProofError {
    /// Leaf index not below tree size.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// Index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// The second tree is smaller than the first.
    #[error("second tree size {size2} is smaller than the first, {size1}")]
    SizesOutOfOrder {
        /// First size.
        size1: u64,
        /// Second size.
        size2: u64,
    },
    /// Consistency with an empty tree proves nothing, so it is refused.
    #[error("consistency with an empty first tree is not defined")]
    EmptyFirstTree,
    /// Wrong number of hashes for the index and sizes.
    #[error("proof has {got} hashes, {expected} expected")]
    WrongLength {
        /// Expected.
        expected: usize,
        /// Given.
        got: usize,
    },
    /// Recomputed root differs.
    #[error("proof leads to a different {which} root")]
    RootMismatch {
        /// "tree", "first" or "second".
        which: &'static str,
    },
}

/// An in-memory history tree. It keeps every complete aligned subtree's hash, so any
/// root or proof costs `O(log n)` hashes (`O(log² n)` at worst for ragged sizes).
pub struct HistoryTree<H: TreeHasher> {
    /// `levels[l][i]` is the hash of leaves `i·2^l .. (i+1)·2^l`.
    levels: Vec<Vec<H::Output>>,
}

impl<H: TreeHasher> Default for HistoryTree<H> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H: TreeHasher> HistoryNodes<H> for HistoryTree<H> {
    type Error = std::convert::Infallible;
    fn size(&self) -> u64 {
        self.levels[0].len() as u64
    }
    fn node(&self, level: u32, index: u64) -> Result<Option<H::Output>, Self::Error> {
        Ok(self.levels.get(level as usize).and_then(|l| l.get(index as usize)).cloned())
    }
}

impl<H: TreeHasher> HistoryTree<H> {
    /// An empty tree.
    pub fn new() -> Self {
        Self { levels: vec![Vec::new()] }
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels[0].len() as u64
    }

    /// Appends a leaf by its data.
    pub fn append(&mut self, data: &[u8]) {
        self.append_leaf_hash(H::hash_leaf(data));
    }

    /// Appends a leaf by its leaf hash.
    pub fn append_leaf_hash(&mut self, leaf: H::Output) {
        let Ok(writes) = append_writes::<H, _>(self, leaf).map_err(infallible);
        for (level, _, hash) in writes {
            if self.levels.len() == level as usize {
                self.levels.push(Vec::new());
            }
            self.levels[level as usize].push(hash);
        }
    }

    /// Root of the whole tree.
    pub fn root(&self) -> H::Output {
        let Ok(root) = root_at::<H, _>(self, self.size()).map_err(infallible);
        root
    }

    /// Root of the tree as it was at `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<H::Output, HistoryError> {
        root_at::<H, _>(self, size)
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<H::Output>, HistoryError> {
        inclusion_proof::<H, _>(self, index, size)
    }

    /// The consistency proof between the trees of the first `size1` and `size2` leaves.
    pub fn consistency_proof(&self, size1: u64, size2: u64) -> Result<Vec<H::Output>, HistoryError> {
        consistency_proof::<H, _>(self, size1, size2)
    }
}

fn infallible(error: HistoryError) -> std::convert::Infallible {
    match error {
        HistoryError::Store(never) => match never {},
        // A tree's own size is always within it, and every node below its size exists.
        other => unreachable!("in-memory history tree: {other}"),
    }
}

/// A stored history node: `(level, index, hash)`.
pub type HistoryWrite<O> = (u32, u64, O);

/// The nodes that appending `leaf` to a tree of `nodes.size()` leaves creates: the leaf
/// and every subtree it completes, as `(level, index, hash)`.
pub fn append_writes<H: TreeHasher, N: HistoryNodes<H>>(
    nodes: &N,
    leaf: H::Output,
) -> Result<Vec<HistoryWrite<H::Output>>, HistoryError<N::Error>> {
    let mut index = nodes.size();
    let mut level = 0;
    let mut hash = leaf;
    let mut writes = vec![(0, index, hash.clone())];
    while index % 2 == 1 {
        let left = stored(nodes, level, index - 1)?;
        hash = H::hash_children(&left, &hash);
        level += 1;
        index /= 2;
        writes.push((level, index, hash.clone()));
    }
    Ok(writes)
}

fn stored<H: TreeHasher, N: HistoryNodes<H>>(
    nodes: &N,
    level: u32,
    index: u64,
) -> Result<H::Output, HistoryError<N::Error>> {
    nodes.node(level, index).map_err(HistoryError::Store)?.ok_or(HistoryError::Missing { level, index })
}

fn check_size<H: TreeHasher, N: HistoryNodes<H>>(nodes: &N, size: u64) -> Result<(), HistoryError<N::Error>> {
    if size > nodes.size() {
        return Err(HistoryError::SizeBeyondTree { size: nodes.size(), asked: size });
    }
    Ok(())
}

/// `MTH(D[start:start+size])` for a range the RFC recursion produces (`size >= 1`).
fn subtree<H: TreeHasher, N: HistoryNodes<H>>(
    nodes: &N,
    start: u64,
    size: u64,
) -> Result<H::Output, HistoryError<N::Error>> {
    if size.is_power_of_two() && start.is_multiple_of(size) {
        return stored(nodes, size.trailing_zeros(), start / size);
    }
    let k = split(size);
    Ok(H::hash_children(&subtree(nodes, start, k)?, &subtree(nodes, start + k, size - k)?))
}

/// Root of the tree of the first `size` leaves.
pub fn root_at<H: TreeHasher, N: HistoryNodes<H>>(nodes: &N, size: u64) -> Result<H::Output, HistoryError<N::Error>> {
    check_size(nodes, size)?;
    if size == 0 {
        return Ok(H::empty_root());
    }
    subtree(nodes, 0, size)
}

/// RFC 9162 §2.1.3.1 `PATH(index, D[size])`: the inclusion proof of leaf `index` in the
/// tree of the first `size` leaves.
pub fn inclusion_proof<H: TreeHasher, N: HistoryNodes<H>>(
    nodes: &N,
    index: u64,
    size: u64,
) -> Result<Vec<H::Output>, HistoryError<N::Error>> {
    check_size(nodes, size)?;
    if index >= size {
        return Err(HistoryError::InvalidRequest("leaf index must be below the tree size"));
    }
    let mut proof = Vec::new();
    path(nodes, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path<H: TreeHasher, N: HistoryNodes<H>>(
    nodes: &N,
    m: u64,
    start: u64,
    n: u64,
    out: &mut Vec<H::Output>,
) -> Result<(), HistoryError<N::Error>> {
    if n == 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path(nodes, m, start, k, out)?;
        out.push(subtree(nodes, start + k, n - k)?);
    } else {
        path(nodes, m - k, start + k, n - k, out)?;
        out.push(subtree(nodes, start, k)?);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.1 `PROOF(size1, D[size2])`: the consistency proof between the trees of
/// the first `size1` and `size2` leaves (empty when the sizes are equal).
pub fn consistency_proof<H: TreeHasher, N: HistoryNodes<H>>(
    nodes: &N,
    size1: u64,
    size2: u64,
) -> Result<Vec<H::Output>, HistoryError<N::Error>> {
    check_size(nodes, size2)?;
    if size1 == 0 || size1 > size2 {
        return Err(HistoryError::InvalidRequest("first size must be between 1 and the second size"));
    }
    let mut proof = Vec::new();
    if size1 < size2 {
        subproof(nodes, size1, 0, size2, true, &mut proof)?;
    }
    Ok(proof)
}

fn subproof<H: TreeHasher, N: HistoryNodes<H>>(
    nodes: &N,
    m: u64,
    start: u64,
    n: u64,
    whole: bool,
    out: &mut Vec<H::Output>,
) -> Result<(), HistoryError<N::Error>> {
    if m == n {
        if !whole {
            out.push(subtree(nodes, start, n)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(nodes, m, start, k, whole, out)?;
        out.push(subtree(nodes, start + k, n - k)?);
    } else {
        subproof(nodes, m - k, start + k, n - k, false, out)?;
        out.push(subtree(nodes, start, k)?);
    }
    Ok(())
}

/// The largest power of two strictly below `n` (`n >= 2`).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// Sizes of the inner and border parts of the inclusion proof of `index` in `size`.
fn decompose(index: u64, size: u64) -> (usize, usize) {
    let inner = (64 - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    (inner, border)
}

fn chain_inner<H: TreeHasher>(mut seed: H::Output, proof: &[H::Output], index: u64) -> H::Output {
    for (i, h) in proof.iter().enumerate() {
        seed = if (index >> i) & 1 == 0 { H::hash_children(&seed, h) } else { H::hash_children(h, &seed) };
    }
    seed
}

fn chain_inner_right<H: TreeHasher>(mut seed: H::Output, proof: &[H::Output], index: u64) -> H::Output {
    for (i, h) in proof.iter().enumerate() {
        if (index >> i) & 1 == 1 {
            seed = H::hash_children(h, &seed);
        }
    }
    seed
}

fn chain_border_right<H: TreeHasher>(mut seed: H::Output, proof: &[H::Output]) -> H::Output {
    for h in proof {
        seed = H::hash_children(h, &seed);
    }
    seed
}

/// The root an inclusion proof leads to (RFC 9162 §2.1.3.2).
pub fn root_from_inclusion_proof<H: TreeHasher>(
    index: u64,
    size: u64,
    leaf: &H::Output,
    proof: &[H::Output],
) -> Result<H::Output, HistoryProofError> {
    if index >= size {
        return Err(HistoryProofError::IndexOutOfRange { index, size });
    }
    let (inner, border) = decompose(index, size);
    if proof.len() != inner + border || proof.len() > PROOF_DEPTH_MAX {
        return Err(HistoryProofError::WrongLength { expected: inner + border, got: proof.len() });
    }
    let seed = chain_inner::<H>(leaf.clone(), &proof[..inner], index);
    Ok(chain_border_right::<H>(seed, &proof[inner..]))
}

/// Checks that `leaf` (a leaf hash) is at `index` in the tree of `size` leaves with
/// root `root`.
pub fn verify_inclusion<H: TreeHasher>(
    index: u64,
    size: u64,
    leaf: &H::Output,
    proof: &[H::Output],
    root: &H::Output,
) -> Result<(), HistoryProofError> {
    if root_from_inclusion_proof::<H>(index, size, leaf, proof)? != *root {
        return Err(HistoryProofError::RootMismatch { which: "tree" });
    }
    Ok(())
}

/// Checks that the tree of `size2` leaves with root `root2` extends the tree of `size1`
/// leaves with root `root1` (RFC 9162 §2.1.4.2). As in the reference implementation,
/// `size1 = 0` is an error, and equal sizes need an empty proof and equal roots.
pub fn verify_consistency<H: TreeHasher>(
    size1: u64,
    size2: u64,
    proof: &[H::Output],
    root1: &H::Output,
    root2: &H::Output,
) -> Result<(), HistoryProofError> {
    if size2 < size1 {
        return Err(HistoryProofError::SizesOutOfOrder { size1, size2 });
    }
    if size1 == 0 {
        return Err(HistoryProofError::EmptyFirstTree);
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(HistoryProofError::WrongLength { expected: 0, got: proof.len() });
        }
        if root1 != root2 {
            return Err(HistoryProofError::RootMismatch { which: "second" });
        }
        return Ok(());
    }
    let (inner, border) = decompose(size1 - 1, size2);
    let shift = size1.trailing_zeros() as usize;
    let inner = inner - shift;
    // The proof starts with the root of the subtree of size 2^shift, unless size1 is
    // exactly that subtree, whose root is then root1 itself.
    let (seed, rest) = if size1 == 1 << shift {
        (root1.clone(), proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (first.clone(), rest),
            None => return Err(HistoryProofError::WrongLength { expected: 1 + inner + border, got: 0 }),
        }
    };
    if rest.len() != inner + border || proof.len() > PROOF_DEPTH_MAX {
        let expected = inner + border + (proof.len() - rest.len());
        return Err(HistoryProofError::WrongLength { expected, got: proof.len() });
    }
    let mask = (size1 - 1) >> shift;
    let hash1 = chain_border_right::<H>(chain_inner_right::<H>(seed.clone(), &rest[..inner], mask), &rest[inner..]);
    if hash1 != *root1 {
        return Err(HistoryProofError::RootMismatch { which: "first" });
    }
    let hash2 = chain_border_right::<H>(chain_inner::<H>(seed, &rest[..inner], mask), &rest[inner..]);
    if hash2 != *root2 {
        return Err(HistoryProofError::RootMismatch { which: "second" });
    }
    Ok(())
}

/// A header's `history_root`: the RFC 9162 root `mth` of a tree of `size` leaves, bound
/// to `size`.
pub fn bind_root(size: u64, mth: &Hash) -> Hash {
    HashContext::HistoryRoot.hash_pair(&size.to_le_bytes(), mth.as_bytes())
}

/// The `history_root` a header at height `size` carries: the bound root over the first
/// `size` block hashes.
pub fn bound_root_at<N: HistoryNodes<Blake3History>>(nodes: &N, size: u64) -> Result<Hash, HistoryError<N::Error>> {
    Ok(bind_root(size, &root_at::<Blake3History, _>(nodes, size)?))
}

/// The consistency proof between the histories of `size1` and `size2` blocks.
pub fn history_consistency<N: HistoryNodes<Blake3History>>(
    nodes: &N,
    size1: u64,
    size2: u64,
) -> Result<HistoryConsistency, HistoryError<N::Error>> {
    Ok(HistoryConsistency {
        mth1: root_at::<Blake3History, _>(nodes, size1)?,
        mth2: root_at::<Blake3History, _>(nodes, size2)?,
        proof: consistency_proof::<Blake3History, _>(nodes, size1, size2)?,
    })
}

impl HistoryTree<Blake3History> {
    /// The `history_root` a header at height `size` carries: the bound root over the first
    /// `size` block hashes.
    pub fn bound_root_at(&self, size: u64) -> Result<Hash, HistoryError> {
        bound_root_at(self, size)
    }

    /// Appends a block hash.
    pub fn append_block(&mut self, block_hash: &Hash) {
        self.append(block_hash.as_bytes());
    }
}

/// Checks that the block with hash `block_hash` at height `height` is in the history tree
/// of `size` blocks whose bound root is `history_root`.
pub fn verify_block_in_history(
    height: u64,
    block_hash: &Hash,
    size: u64,
    proof: &[Hash],
    history_root: &Hash,
) -> Result<(), HistoryProofError> {
    let leaf = Blake3History::hash_leaf(block_hash.as_bytes());
    let mth = root_from_inclusion_proof::<Blake3History>(height, size, &leaf, proof)?;
    if bind_root(size, &mth) != *history_root {
        return Err(HistoryProofError::RootMismatch { which: "tree" });
    }
    Ok(())
}

/// A consistency proof between two bound history roots: the RFC 9162 proof and the two
/// unbound roots it works on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryConsistency {
    /// Unbound root of the first tree.
    pub mth1: Hash,
    /// Unbound root of the second tree.
    pub mth2: Hash,
    /// The RFC 9162 consistency proof.
    pub proof: Vec<Hash>,
}

impl HistoryTree<Blake3History> {
    /// The consistency proof between the trees of `size1` and `size2` blocks.
    pub fn history_consistency(&self, size1: u64, size2: u64) -> Result<HistoryConsistency, HistoryError> {
        Ok(HistoryConsistency {
            mth1: self.root_at(size1)?,
            mth2: self.root_at(size2)?,
            proof: self.consistency_proof(size1, size2)?,
        })
    }
}

impl HistoryConsistency {
    /// Checks that the history with bound root `root2` at `size2` extends the one with
    /// bound root `root1` at `size1`.
    pub fn verify(&self, size1: u64, size2: u64, root1: &Hash, root2: &Hash) -> Result<(), HistoryProofError> {
        if bind_root(size1, &self.mth1) != *root1 {
            return Err(HistoryProofError::RootMismatch { which: "first" });
        }
        if bind_root(size2, &self.mth2) != *root2 {
            return Err(HistoryProofError::RootMismatch { which: "second" });
        }
        verify_consistency::<Blake3History>(size1, size2, &self.proof, &self.mth1, &self.mth2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Straight from the RFC's recursive definition, for cross-checking.
    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => Blake3History::empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                Blake3History::hash_children(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    fn block_hash(i: u64) -> Hash {
        HashContext::Header.hash(&i.to_le_bytes())
    }

    fn tree(n: u64) -> (HistoryTree<Blake3History>, Vec<Hash>) {
        let mut tree = HistoryTree::<Blake3History>::new();
        let mut leaves = Vec::new();
        for i in 0..n {
            tree.append_block(&block_hash(i));
            leaves.push(Blake3History::hash_leaf(block_hash(i).as_bytes()));
        }
        (tree, leaves)
    }

    fn flip(h: &mut Hash, bit: usize) {
        h.0[bit / 8 % 32] ^= 1 << (bit % 8);
    }

    #[test]
    fn roots_match_the_recursive_definition_at_every_size() {
        let (tree, leaves) = tree(70);
        for size in 0..=70u64 {
            assert_eq!(tree.root_at(size), Ok(reference_root(&leaves[..size as usize])), "size {size}");
        }
        assert!(tree.root_at(71).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn inclusion_proofs_verify_and_bit_flips_fail(n in 1u64..300, pick in any::<u64>(), bit in 0usize..256, which in any::<usize>(), field_bit in 0u32..64) {
            let (tree, _) = tree(n);
            let i = pick % n;
            let block = block_hash(i);
            let root = tree.bound_root_at(n).expect("n is the size");
            let proof = tree.inclusion_proof(i, n).expect("index below size");
            prop_assert!(verify_block_in_history(i, &block, n, &proof, &root).is_ok());
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let k = which % bad.len();
                flip(&mut bad[k], bit);
                prop_assert!(verify_block_in_history(i, &block, n, &bad, &root).is_err());
            }
            prop_assert!(verify_block_in_history(i ^ (1 << field_bit), &block, n, &proof, &root).is_err());
            prop_assert!(verify_block_in_history(i, &block, n ^ (1 << field_bit), &proof, &root).is_err());
            let (mut bad_root, mut bad_block) = (root, block);
            flip(&mut bad_root, bit);
            flip(&mut bad_block, bit);
            prop_assert!(verify_block_in_history(i, &block, n, &proof, &bad_root).is_err());
            prop_assert!(verify_block_in_history(i, &bad_block, n, &proof, &root).is_err());
        }

        #[test]
        fn consistency_proofs_verify_and_bit_flips_fail(n in 1u64..300, a in any::<u64>(), bit in 0usize..256, which in any::<usize>(), field_bit in 0u32..64) {
            let (tree, _) = tree(n);
            let m = 1 + a % n;
            let (root1, root2) = (tree.bound_root_at(m).expect("m <= n"), tree.bound_root_at(n).expect("n"));
            let proof = tree.history_consistency(m, n).expect("m <= n");
            prop_assert!(proof.verify(m, n, &root1, &root2).is_ok());
            if !proof.proof.is_empty() {
                let mut bad = proof.clone();
                let k = which % bad.proof.len();
                flip(&mut bad.proof[k], bit);
                prop_assert!(bad.verify(m, n, &root1, &root2).is_err());
            }
            for mut bad in [proof.clone(), proof.clone()] {
                flip(if bit % 2 == 0 { &mut bad.mth1 } else { &mut bad.mth2 }, bit);
                prop_assert!(bad.verify(m, n, &root1, &root2).is_err());
            }
            let (mut bad1, mut bad2) = (root1, root2);
            flip(&mut bad1, bit);
            flip(&mut bad2, bit);
            prop_assert!(proof.verify(m, n, &bad1, &root2).is_err());
            prop_assert!(proof.verify(m, n, &root1, &bad2).is_err());
            prop_assert!(proof.verify(m ^ (1 << field_bit), n, &root1, &root2).is_err());
            prop_assert!(proof.verify(m, n ^ (1 << field_bit), &root1, &root2).is_err());
        }

        // The generic RFC 9162 layer on its own: every proof verifies against its raw root.
        #[test]
        fn raw_rfc_proofs_verify(n in 1u64..300, pick in any::<u64>(), a in any::<u64>()) {
            let (tree, leaves) = tree(n);
            let i = pick % n;
            let m = 1 + a % n;
            let proof = tree.inclusion_proof(i, n).expect("index below size");
            prop_assert!(verify_inclusion::<Blake3History>(i, n, &leaves[i as usize], &proof, &tree.root()).is_ok());
            let proof = tree.consistency_proof(m, n).expect("m <= n");
            let root1 = tree.root_at(m).expect("m <= n");
            prop_assert!(verify_consistency::<Blake3History>(m, n, &proof, &root1, &tree.root()).is_ok());
        }
    }
}

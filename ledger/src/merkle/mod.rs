//! The trees proofs are paths in: the per-block tx tree, the history tree over block
//! hashes, and the sparse Merkle tree of the state.

pub mod history;
pub mod smt;
pub mod tx_tree;

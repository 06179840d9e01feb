//! The running Chancery node: p2p, mempool, block production, consensus driver, WAL,
//! signer, metrics and configuration. Today it holds the signer; the rest arrives with the
//! node issue.

#![warn(missing_docs)]

pub mod config;
pub mod signer;

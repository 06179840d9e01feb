//! The running Chancery node: mempool, block production, consensus driver, WAL, signer,
//! RPC service, metrics and configuration.

#![warn(missing_docs)]

pub mod config;
pub mod mempool;
pub mod producer;
pub mod signer;
pub mod wal;

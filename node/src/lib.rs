//! The running Chancery node: mempool, block production, consensus driver, WAL, signer,
//! RPC service, metrics and configuration.

#![warn(missing_docs)]

pub mod admission;
pub mod clock;
pub mod config;
pub mod devchain;
pub mod driver;
pub mod hosting;
pub mod logging;
pub mod metrics;
pub mod node;
pub mod p2p;
pub mod rocks;
pub mod rpc_server;
pub mod service;
pub mod signer;
pub mod status;
pub mod wal;

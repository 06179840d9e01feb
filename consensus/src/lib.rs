//! Tendermint BFT consensus for Chancery through the Malachite core: our types behind its
//! `Context` (this crate's `context` module), the engine (a pure handle on the core), the
//! sans-IO host the node runs around it (proposals, votes, timeouts, sync, commits,
//! block production, mempool), the wire forms of what peers send, and (feature `sim`) a
//! deterministic whole-cluster simulation of that same host.

#![warn(missing_docs)]

pub mod certificates;
pub mod context;
pub mod engine;
pub mod evidence;
pub mod host;
#[cfg(feature = "sim")]
pub mod sim;
pub mod validity;
pub mod wire;

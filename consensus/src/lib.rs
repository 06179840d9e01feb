//! Tendermint BFT consensus for Chancery through the Malachite core: our types behind its
//! `Context` (this crate's `context` module), a pure host-agnostic handle, and a
//! deterministic whole-cluster simulation (in progress: see the consensus issue).

#![warn(missing_docs)]

pub mod certificates;
pub mod context;
pub mod engine;
pub mod evidence;
#[cfg(feature = "sim")]
pub mod sim;
pub mod validity;
pub mod wire;

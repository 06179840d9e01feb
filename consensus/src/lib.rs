//! Tendermint BFT consensus for Chancery: a pure, host-agnostic handle over the Malachite
//! core and a deterministic whole-cluster simulation. Filled in by the consensus issue.

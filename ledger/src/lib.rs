//! Chancery's pure domain core: records and their canonical encoding, domain-separated
//! hashing, the per-block tx tree, the history tree, proof bundles and the offline
//! verifier. Deterministic and free of I/O: no clock, randomness, threads, network or
//! disk.

#![warn(missing_docs)]

pub mod chain;
pub mod codec;
pub mod crypto;
pub mod digest;
pub mod gov;
pub mod hash;
pub mod hex;
pub mod history;
pub mod ids;
pub mod limits;
pub mod misbehaviour;
pub mod params;
pub mod smt;
pub mod state;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod tx;
pub mod tx_tree;
pub mod validator;
pub mod verify;
pub mod vote;

pub use chain::{
    Block, ChainId, ChainIdentity, Commit, CommitSig, Header, Params, ProposalHeader, Timeouts, Vote, VoteKind,
};
pub use codec::{decode, encode, Canonical, DecodeError};
pub use crypto::{PublicKey, Signature};
pub use digest::{Digest, DigestAlg};
pub use hash::{Hash, HashContext};
pub use tx::{Tx, TxBody};
pub use validator::{Member, MemberRole, Role, Validator, ValidatorSet};
pub use verify::ProofBundle;
pub use verify::{verify, Report, TrustRoot, VerifyError};

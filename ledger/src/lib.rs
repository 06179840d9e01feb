//! Chancery's pure domain core: records and their canonical encoding, domain-separated
//! hashing, the per-block tx tree, the history tree, proof bundles and the offline
//! verifier. Deterministic and free of I/O: no clock, randomness, threads, network or
//! disk.

#![warn(missing_docs)]

pub mod codec;
pub mod crypto;
pub mod digest;
pub mod hash;
pub mod hex;
pub mod limits;
pub mod merkle;
pub mod state;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod types;
pub mod verify;

// The records' and trees' modules by their short names (`chancery_ledger::tx::Tx`). Code
// inside the ledger names them by their full paths, so the layering test sees its
// imports.
pub use merkle::{history, smt, tx_tree};
pub use types::{block, gov, ids, misbehaviour, params, tx, validator, vote};

pub use block::{
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

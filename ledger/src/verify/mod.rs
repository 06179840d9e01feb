//! The offline verifier: from a proof bundle and the chain's trust root (its genesis), prove
//! that a tx was committed, when, and by whom; or say precisely which check failed.
//!
//! The steps, in order (each failure is one [`VerifyError`] variant):
//! 1. the bundle's version, chain id and genesis hash match the trust root;
//! 2. tx, header and commit decode canonically; tx and header are for this chain;
//! 3. the tx signature verifies, and so does a hosted document signature a signing event
//!    carries (over the document digest, under the key it names);
//! 4. the tx proof leads from the tx hash to the header's `tx_root` at the header's count;
//! 5. the validator-set changes, from the genesis set on: change #i is proven by a header
//!    of epoch i, committed by the set before it, whose `next_validators_hash` is the new
//!    set's hash; the new set signs from that header's height + 1 on;
//! 6. the header's `validators_epoch` is the number of changes in force at its height (so
//!    no change can be left out), the set in force there is the one the header names, and
//!    the commit holds its precommits for this block with more than two thirds of its
//!    power, signed for this genesis;
//! 7. a header at height 0 links to the genesis hash;
//! 8. with a checkpoint: a later header, committed the same way, whose `history_root`
//!    includes this block's hash at leaf index = its height;
//! 9. with a file: its digest, recomputed with the recorded algorithm, is the anchored one.

//!
//! The verifier is in parts that import one way: [`json`] (format version, size, strict
//! parsing) and [`report`] (trust root, report, errors) first; then [`chain`] (validator
//! sets traced from genesis, commits, checkpoints); then [`cert`] (a certificate's status
//! proof) and [`gov`] (a proposal's record); then [`bundle`] (the bundle JSON) and [`tx`]
//! (the steps above); then [`checkpoint`] (saved checkpoints and consistency).

pub mod bundle;
pub mod cert;
pub mod chain;
pub mod checkpoint;
pub mod gov;
pub mod json;
pub mod report;
pub mod tx;

pub use crate::state::CertStatus;
pub use bundle::ProofBundle;
pub use cert::{verify_cert_status, CertEventProof, CertStatusProof};
pub use chain::{Checkpoint, ValidatorSetChange};
pub use checkpoint::{
    verify_checkpoint, verify_consistency_of, verify_with_checkpoint, CheckpointVerdict, ConsistencyFrom,
    ConsistencyVerdict, SavedCheckpoint,
};
pub use gov::{verify_proposal, ProposalProof, ProposalVerdict};
pub use json::{BundleError, BUNDLE_VERSION};
pub use report::{
    Attestation, Attestor, CertEventReport, CertVerdict, CheckpointReport, Record, Report, Submitter, TrustBasis,
    TrustRoot, VerifyError,
};
pub use tx::{verify, verify_json};

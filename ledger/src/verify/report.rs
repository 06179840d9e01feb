//! What a verifier trusts (the genesis: [`TrustRoot`]), what it reports when a proof
//! holds, and which check failed when it does not ([`VerifyError`]).

use serde::Serialize;

use super::json::BundleError;
use crate::codec::DecodeError;
use crate::crypto::{PublicKey, SignatureError};
use crate::digest::{Digest, DigestAlg};
use crate::hash::Hash;
use crate::merkle::history::HistoryProofError;
use crate::merkle::tx_tree::TxProofError;
use crate::state::CertStatus;
use crate::types::block::{ChainId, CommitError};
use crate::types::tx::{CertEventKind, CertRef, EvidenceKind};
use crate::types::validator::{Member, Role, ValidatorSet, ValidatorSetError};

/// What a verifier trusts: the chain's genesis.
#[derive(Debug, Clone)]
pub struct TrustRoot {
    /// The chain id.
    pub chain_id: ChainId,
    /// The genesis hash.
    pub genesis_hash: Hash,
    /// The genesis validator set.
    pub validators: ValidatorSet,
    /// The genesis members, to name submitters in reports.
    pub members: Vec<Member>,
}

/// Which check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The bundle could not be read.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// An object is for another chain.
    #[error("{what} is for chain {got:?}, the genesis is for chain {expected:?}")]
    WrongChain {
        /// Which object.
        what: &'static str,
        /// The genesis chain id.
        expected: String,
        /// The object's chain id.
        got: String,
    },
    /// The bundle names another genesis.
    #[error("bundle is for genesis {got}, the genesis given hashes to {expected}")]
    WrongGenesis {
        /// Hash of the genesis given.
        expected: Hash,
        /// Hash the bundle names.
        got: Hash,
    },
    /// An object is not canonical bytes.
    #[error("bundle {what} does not decode: {source}")]
    Decode {
        /// Which object.
        what: &'static str,
        /// The decode failure.
        source: DecodeError,
    },
    /// The tx signature is bad.
    #[error("tx signature: {0}")]
    TxSignature(SignatureError),
    /// A hosted document signature the signing event carries does not verify.
    #[error("hosted document signature: {0}")]
    HostedSignature(crate::types::tx::HostedSignatureError),
    /// The tx proof's count is not the header's.
    #[error("tx proof is for a block of {proof} txs, the header says {header}")]
    TxCountMismatch {
        /// Count in the proof.
        proof: u32,
        /// Count in the header.
        header: u32,
    },
    /// The tx is not in the block.
    #[error("tx is not in the block: {0}")]
    TxNotInBlock(TxProofError),
    /// Too many validator-set changes.
    #[error("bundle holds {count} validator-set changes, above the limit of {max}")]
    TooManyChanges {
        /// Count.
        count: usize,
        /// Limit.
        max: usize,
    },
    /// A change's header is before the previous change took effect.
    #[error("validator-set change #{index} is committed at height {height}, before the previous change took effect at height {previous}")]
    ChangeOutOfOrder {
        /// Position in the list.
        index: usize,
        /// Its header's height.
        height: u64,
        /// The height from which the previous set signs (0 for genesis).
        previous: u64,
    },
    /// A change's header does not commit the change it carries.
    #[error("validator-set change #{index} (height {height}): {reason}")]
    NotAChange {
        /// Position in the list.
        index: usize,
        /// Its header's height.
        height: u64,
        /// What does not match.
        reason: String,
    },
    /// A header counts a different number of changes than the bundle traces.
    #[error("the {what} at height {height} is in validator epoch {named}, but the bundle traces {traced} changes in force there: a validator-set change is missing or extra")]
    EpochMismatch {
        /// "header", "checkpoint header" or "validator-set change #i".
        what: String,
        /// Its height.
        height: u64,
        /// `validators_epoch` in the header.
        named: u64,
        /// Changes traced.
        traced: u64,
    },
    /// A changed set breaks a rule.
    #[error("validator-set change #{index} (height {height}) holds an invalid set: {source}")]
    InvalidValidatorSet {
        /// Position in the list.
        index: usize,
        /// Its height.
        height: u64,
        /// The rule broken.
        source: ValidatorSetError,
    },
    /// A change's header lacks the previous set's commit.
    #[error("validator-set change #{index} (height {height}) is not committed by the set in force there: {source}")]
    ChangeNotCommitted {
        /// Position in the list.
        index: usize,
        /// Its header's height.
        height: u64,
        /// The commit failure.
        source: CommitError,
    },
    /// The header's set is not the set in force at its height.
    #[error(
        "the {what} at height {height} names validator set {named}, but the set in force there hashes to {traced}"
    )]
    ValidatorSetMismatch {
        /// "header" or "checkpoint header".
        what: &'static str,
        /// Its height.
        height: u64,
        /// `validators_hash` in the header.
        named: Hash,
        /// Hash of the set traced from genesis.
        traced: Hash,
    },
    /// The commit does not prove the header.
    #[error("{what} commit: {source}")]
    Commit {
        /// "block" or "checkpoint".
        what: &'static str,
        /// The failure.
        source: CommitError,
    },
    /// The first block does not link to the genesis.
    #[error("block 0 links to {got}, not to the genesis hash {expected}")]
    GenesisLinkMismatch {
        /// Genesis hash.
        expected: Hash,
        /// The header's `prev_hash`.
        got: Hash,
    },
    /// The checkpoint is not after the block.
    #[error("checkpoint at height {checkpoint} is not after the block at height {block}")]
    CheckpointNotLater {
        /// Block height.
        block: u64,
        /// Checkpoint height.
        checkpoint: u64,
    },
    /// The block is not in the checkpoint's history tree.
    #[error("block is not in the checkpoint's history tree: {0}")]
    NotInCheckpoint(HistoryProofError),
    /// A file was given for a tx that anchors no document digest.
    #[error("a file was given, but the tx is not an evidence record, so it anchors no file digest")]
    FileWithoutEvidence,
    /// A certificate status proof's state proof does not lead to its header's root.
    #[error("certificate record is not the one committed in the block's state_root: {0}")]
    CertState(crate::merkle::smt::SmtProofError),
    /// A proposal proof's state proof does not lead to its header's root.
    #[error("proposal record is not the one committed in the block's state_root: {0}")]
    ProposalState(crate::merkle::smt::SmtProofError),
    /// A certificate status proof does not match its committed record.
    #[error("certificate status proof: {0}")]
    CertProof(String),
    /// A trusted checkpoint does not include the block, or two checkpoints are not one
    /// growing history.
    #[error("checkpoint: {0}")]
    NotConsistent(String),
    /// The file's digest differs from the anchored one.
    #[error("file {alg} digest is {computed}, the anchored digest is {anchored}: this is not the anchored file")]
    FileMismatch {
        /// Algorithm.
        alg: DigestAlg,
        /// Digest of the file given.
        computed: String,
        /// Anchored digest.
        anchored: String,
    },
}

impl VerifyError {
    /// The check that failed, as a stable snake_case name: what SDKs put in the errors
    /// they raise, so a caller can tell "not the anchored file" from "not committed".
    pub fn check(&self) -> &'static str {
        match self {
            VerifyError::Bundle(_) => "bundle",
            VerifyError::WrongChain { .. } => "wrong_chain",
            VerifyError::WrongGenesis { .. } => "wrong_genesis",
            VerifyError::Decode { .. } => "decode",
            VerifyError::TxSignature(_) => "tx_signature",
            VerifyError::HostedSignature(_) => "hosted_signature",
            VerifyError::TxCountMismatch { .. } => "tx_count_mismatch",
            VerifyError::TxNotInBlock(_) => "tx_not_in_block",
            VerifyError::TooManyChanges { .. } => "too_many_changes",
            VerifyError::ChangeOutOfOrder { .. } => "change_out_of_order",
            VerifyError::NotAChange { .. } => "not_a_change",
            VerifyError::EpochMismatch { .. } => "epoch_mismatch",
            VerifyError::InvalidValidatorSet { .. } => "invalid_validator_set",
            VerifyError::ChangeNotCommitted { .. } => "change_not_committed",
            VerifyError::ValidatorSetMismatch { .. } => "validator_set_mismatch",
            VerifyError::Commit { .. } => "commit",
            VerifyError::GenesisLinkMismatch { .. } => "genesis_link_mismatch",
            VerifyError::CheckpointNotLater { .. } => "checkpoint_not_later",
            VerifyError::NotInCheckpoint(_) => "not_in_checkpoint",
            VerifyError::FileWithoutEvidence => "file_without_evidence",
            VerifyError::CertState(_) => "cert_state",
            VerifyError::ProposalState(_) => "proposal_state",
            VerifyError::CertProof(_) => "cert_proof",
            VerifyError::NotConsistent(_) => "not_consistent",
            VerifyError::FileMismatch { .. } => "file_mismatch",
        }
    }
}

/// What a bundle proved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The chain.
    pub chain_id: String,
    /// Its genesis hash.
    pub genesis_hash: Hash,
    /// The tx.
    pub tx_hash: Hash,
    /// What the tx records.
    pub record: Record,
    /// Who submitted it.
    pub submitter: Submitter,
    /// Block height.
    pub height: u64,
    /// Block hash.
    pub block_hash: Hash,
    /// Block time, milliseconds since the Unix epoch, attested by the quorum.
    pub block_time_ms: u64,
    /// The validators whose precommits prove the block.
    pub attestation: Attestation,
    /// Validator-set changes traced from genesis.
    pub validator_changes: usize,
    /// Whether a file was hashed and matched the anchored digest.
    pub file_matches: bool,
    /// The later checkpoint that includes the block, if any.
    pub checkpoint: Option<CheckpointReport>,
    /// For evidence that names a certificate, with a status proof in the bundle: the
    /// certificate's status at the block time.
    pub certificate: Option<crate::verify::CertVerdict>,
    /// What the verdict rests on: the genesis alone, or a trusted checkpoint too.
    pub trust_basis: TrustBasis,
}

/// What a verdict rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "basis")]
pub enum TrustBasis {
    /// The genesis file alone. It proves the block was signed by a quorum of the set
    /// traced from genesis through signed changes; it cannot rule out that a quorum of a
    /// set replaced before the block (still holding its keys) signed a history forking at
    /// its replacement. A later trusted checkpoint rules that out.
    Genesis,
    /// The genesis and a trusted checkpoint whose history includes the block.
    Checkpoint {
        /// The checkpoint's height.
        height: u64,
        /// Its block hash.
        block_hash: Hash,
        /// Its block time.
        block_time_ms: u64,
    },
}

impl TrustBasis {
    /// One line for people: what the verdict rests on and what it cannot rule out.
    pub fn describe(&self) -> String {
        match self {
            TrustBasis::Genesis => "the genesis file alone: this rules out every forgery except a history signed by a quorum of a validator set after it was replaced; verify with --checkpoint (a checkpoint saved after the block) to rule that out too".into(),
            TrustBasis::Checkpoint { height, block_hash, .. } => format!("the genesis file and the trusted checkpoint at height {height} (block {block_hash}), whose history includes this block"),
        }
    }
}

/// The record a tx carries, summarised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Record {
    /// Evidence.
    Evidence {
        /// Kind.
        kind: EvidenceKind,
        /// Anchored digest.
        digest: Digest,
        /// Linked records.
        refs: Vec<Hash>,
        /// Time claimed by the integrator.
        claimed_time_ms: Option<u64>,
        /// Certificate named.
        cert: Option<CertRef>,
        /// The document signature recorded, if any.
        signature: Option<crate::types::tx::DocumentSignature>,
    },
    /// Certificate event.
    CertEvent {
        /// CA id.
        ca: String,
        /// Serial, hex.
        serial: String,
        /// The event.
        event: CertEventKind,
    },
    /// A governance proposal.
    Proposal {
        /// The change's name ("add_member", "add_validator", ...).
        change: &'static str,
        /// Votes after this height are refused.
        expires_at_height: u64,
    },
    /// A vote on a governance proposal.
    Vote {
        /// The proposal's id.
        proposal: Hash,
        /// Approve or reject.
        approve: bool,
    },
    /// A key rotation by an institution's admin key.
    KeyRotation {
        /// "consensus", "p2p" or "admin".
        key: &'static str,
        /// The new key.
        new_key: PublicKey,
    },
    /// Misbehaviour evidence against a validator.
    Misbehaviour {
        /// The accused validator's consensus key.
        validator: PublicKey,
        /// Where it signed twice.
        height: u64,
        /// The round.
        round: u32,
    },
}

/// The submitter of a tx.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Submitter {
    /// Its key.
    pub key: PublicKey,
    /// Its name, if it is a genesis member.
    pub name: Option<String>,
}

/// Who attested a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attestation {
    /// The signers.
    pub validators: Vec<Attestor>,
    /// Their power.
    pub signed_power: u64,
    /// The set's total power.
    pub total_power: u64,
}

/// One attesting validator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attestor {
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Power.
    pub power: u64,
    /// Consensus key.
    pub key: PublicKey,
}

/// The checkpoint that includes the proven block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointReport {
    /// Its height.
    pub height: u64,
    /// Its block hash.
    pub block_hash: Hash,
    /// Its block time.
    pub block_time_ms: u64,
    /// Who attested it.
    pub attestation: Attestation,
}

/// What a certificate status proof established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertVerdict {
    /// The issuing CA.
    pub ca: String,
    /// The serial, hex.
    pub serial: String,
    /// The time asked about.
    pub at_ms: u64,
    /// The status then.
    #[serde(flatten)]
    pub status: CertStatus,
    /// The block as of which the record was proven.
    pub as_of_height: u64,
    /// Its hash.
    pub as_of_block_hash: Hash,
    /// Its time.
    pub as_of_time_ms: u64,
    /// Who attested it.
    pub attestation: Attestation,
    /// The certificate's anchored events, in order.
    pub events: Vec<CertEventReport>,
}

/// One proven event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertEventReport {
    /// Height of its block.
    pub height: u64,
    /// That block's time.
    pub time_ms: u64,
    /// The tx.
    pub tx_hash: Hash,
    /// The event.
    pub event: CertEventKind,
}

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

use serde::Serialize;

use crate::bundle::{BundleError, Checkpoint, ProofBundle, ValidatorSetChange};
use crate::chain::{ChainId, Commit, CommitError, Header};
use crate::codec::DecodeError;
use crate::crypto::{PublicKey, SignatureError};
use crate::digest::{Digest, DigestAlg};
use crate::hash::Hash;
use crate::history::{verify_block_in_history, HistoryProofError};
use crate::limits::BUNDLE_SET_CHANGES_MAX;
use crate::tx::{CertEventKind, CertRef, EvidenceKind, Tx, TxBody};
use crate::tx_tree::TxProofError;
use crate::validator::{Member, Role, ValidatorSet, ValidatorSetError};

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
    HostedSignature(String),
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
    CertState(crate::smt::SmtProofError),
    /// A proposal proof's state proof does not lead to its header's root.
    #[error("proposal record is not the one committed in the block's state_root: {0}")]
    ProposalState(crate::smt::SmtProofError),
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
    pub certificate: Option<crate::cert::CertVerdict>,
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
        signature: Option<crate::tx::DocumentSignature>,
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

/// Verifies a bundle given as JSON (see [`verify`]).
pub fn verify_json(bundle_json: &str, trust: &TrustRoot, file: Option<&[u8]>) -> Result<Report, VerifyError> {
    let bundle = ProofBundle::from_json(bundle_json)?;
    verify(&bundle, trust, file)
}

/// Verifies `bundle` against `trust`, and, if `file` is given, that it is the anchored
/// document. See the module documentation for the steps.
pub fn verify(bundle: &ProofBundle, trust: &TrustRoot, file: Option<&[u8]>) -> Result<Report, VerifyError> {
    check_origin(trust, "bundle", bundle.version, &bundle.chain_id, &bundle.genesis_hash)?;
    let tx: Tx = bundle.tx.decode().map_err(|source| VerifyError::Decode { what: "tx", source })?;
    let header: Header = bundle.header.decode().map_err(|source| VerifyError::Decode { what: "header", source })?;
    let commit: Commit = bundle.commit.decode().map_err(|source| VerifyError::Decode { what: "commit", source })?;
    check_chain("tx", &trust.chain_id, &tx.chain_id)?;
    check_chain("header", &trust.chain_id, &header.chain_id)?;
    tx.verify_signature(&trust.genesis_hash).map_err(VerifyError::TxSignature)?;
    if let TxBody::Evidence(crate::tx::Evidence { digest, signature: Some(signature), .. }) = &tx.body {
        signature.check_hosted(digest).map_err(VerifyError::HostedSignature)?;
    }

    if bundle.tx_proof.count != header.tx_count {
        return Err(VerifyError::TxCountMismatch { proof: bundle.tx_proof.count, header: header.tx_count });
    }
    let tx_hash = tx.hash();
    bundle.tx_proof.verify(&tx_hash, &header.tx_root).map_err(VerifyError::TxNotInBlock)?;

    let (sets, attestation) = verify_attested(trust, &header, &commit, &bundle.validator_changes)?;
    let block_hash = header.hash();
    let checkpoint = match &bundle.checkpoint {
        Some(checkpoint) => Some(verify_checkpoint(trust, checkpoint, &header, &block_hash, &sets)?),
        None => None,
    };
    let file_matches = match file {
        Some(data) => check_file(&tx, data).map(|()| true)?,
        None => false,
    };
    let certificate = match &bundle.cert_status {
        Some(proof) => Some(verify_certificate(&tx, &header, proof, trust)?),
        None => None,
    };
    Ok(Report {
        chain_id: trust.chain_id.to_string(),
        genesis_hash: trust.genesis_hash,
        tx_hash,
        record: summarise(&tx.body),
        submitter: Submitter {
            key: tx.signer,
            name: trust.members.iter().find(|m| m.key == tx.signer).map(|m| m.name.to_string()),
        },
        height: header.height,
        block_hash,
        block_time_ms: header.time_ms,
        attestation,
        validator_changes: bundle.validator_changes.len(),
        file_matches,
        checkpoint,
        certificate,
        trust_basis: TrustBasis::Genesis,
    })
}

/// The status of the certificate an evidence record names, at its block's time, proven
/// as of that block or a later one.
fn verify_certificate(
    tx: &Tx,
    header: &Header,
    proof: &crate::cert::CertStatusProof,
    trust: &TrustRoot,
) -> Result<crate::cert::CertVerdict, VerifyError> {
    let named = match &tx.body {
        TxBody::Evidence(evidence) => evidence.cert.as_ref(),
        _ => None,
    };
    let Some(named) = named.filter(|c| c.ca == proof.ca && c.serial.as_bytes() == proof.serial.0.as_slice()) else {
        return Err(VerifyError::CertProof(format!(
            "the bundle proves certificate {}/{}, which the record does not name",
            proof.ca,
            hex::encode(&proof.serial.0)
        )));
    };
    if proof.at_ms != header.time_ms {
        return Err(VerifyError::CertProof(format!(
            "status asked at {}, the record's block time is {}",
            proof.at_ms, header.time_ms
        )));
    }
    let verdict = crate::cert::verify_cert_status(proof, trust)?;
    if verdict.as_of_height < header.height {
        return Err(VerifyError::CertProof(format!(
            "certificate {}/{} proven as of block {}, before the record's block {}",
            named.ca,
            hex::encode(named.serial.as_bytes()),
            verdict.as_of_height,
            header.height
        )));
    }
    Ok(verdict)
}

/// Steps 1 and 3 for any proof object: its version, chain and genesis.
pub(crate) fn check_origin(
    trust: &TrustRoot,
    what: &'static str,
    version: u32,
    chain_id: &ChainId,
    genesis_hash: &Hash,
) -> Result<(), VerifyError> {
    if version != crate::bundle::BUNDLE_VERSION {
        return Err(BundleError::UnsupportedVersion { found: version.into() }.into());
    }
    check_chain(what, &trust.chain_id, chain_id)?;
    if *genesis_hash != trust.genesis_hash {
        return Err(VerifyError::WrongGenesis { expected: trust.genesis_hash, got: *genesis_hash });
    }
    Ok(())
}

/// Steps 7 to 9: the validator sets traced from genesis through `changes`, the header's
/// commit by the set in force, and block 0's link to the genesis.
pub(crate) fn verify_attested(
    trust: &TrustRoot,
    header: &Header,
    commit: &Commit,
    changes: &[ValidatorSetChange],
) -> Result<(Vec<(u64, ValidatorSet)>, Attestation), VerifyError> {
    let sets = trace_validator_sets(trust, changes)?;
    let attestation = verify_commit(trust, "header", "block", header, commit, &sets)?;
    if header.height == 0 && header.prev_hash != trust.genesis_hash {
        return Err(VerifyError::GenesisLinkMismatch { expected: trust.genesis_hash, got: header.prev_hash });
    }
    Ok((sets, attestation))
}

pub(crate) fn check_chain(what: &'static str, expected: &ChainId, got: &ChainId) -> Result<(), VerifyError> {
    if expected != got {
        return Err(VerifyError::WrongChain { what, expected: expected.to_string(), got: got.to_string() });
    }
    Ok(())
}

/// Validator sets from genesis on, each with the first height it signs (its index is
/// its epoch).
fn trace_validator_sets(
    trust: &TrustRoot,
    changes: &[ValidatorSetChange],
) -> Result<Vec<(u64, ValidatorSet)>, VerifyError> {
    if changes.len() > BUNDLE_SET_CHANGES_MAX {
        return Err(VerifyError::TooManyChanges { count: changes.len(), max: BUNDLE_SET_CHANGES_MAX });
    }
    let mut sets = vec![(0, trust.validators.clone())];
    for (index, change) in changes.iter().enumerate() {
        let (from, current) = sets.last().map(|(h, s)| (*h, s)).unwrap_or((0, &trust.validators));
        let header: Header =
            change.header.decode().map_err(|source| VerifyError::Decode { what: "change header", source })?;
        let commit: Commit =
            change.commit.decode().map_err(|source| VerifyError::Decode { what: "change commit", source })?;
        let next: ValidatorSet =
            change.validators.decode().map_err(|source| VerifyError::Decode { what: "validator set", source })?;
        check_chain("change header", &trust.chain_id, &header.chain_id)?;
        let height = header.height;
        if height < from {
            return Err(VerifyError::ChangeOutOfOrder { index, height, previous: from });
        }
        if header.validators_epoch != index as u64 {
            return Err(VerifyError::EpochMismatch {
                what: format!("validator-set change #{index}"),
                height,
                named: header.validators_epoch,
                traced: index as u64,
            });
        }
        let not_a_change = |reason: &str| VerifyError::NotAChange { index, height, reason: reason.into() };
        if header.next_validators_hash != next.hash() {
            return Err(not_a_change("the header's next_validators_hash is not the hash of the set carried"));
        }
        if header.next_validators_hash == header.validators_hash {
            return Err(not_a_change("the header keeps its validator set"));
        }
        commit.verify(&header, current, &trust.genesis_hash).map_err(|source| VerifyError::ChangeNotCommitted {
            index,
            height,
            source,
        })?;
        next.validate().map_err(|source| VerifyError::InvalidValidatorSet { index, height, source })?;
        let from = height.checked_add(1).ok_or_else(|| not_a_change("a change at the last possible height"))?;
        sets.push((from, next));
    }
    Ok(sets)
}

/// The set in force at `height` and its epoch. `sets[0]` starts at height 0, so some
/// entry always applies.
fn set_at(sets: &[(u64, ValidatorSet)], height: u64) -> (u64, &ValidatorSet) {
    let epoch = sets.partition_point(|(from, _)| *from <= height).saturating_sub(1);
    (epoch as u64, &sets[epoch].1)
}

fn verify_commit(
    trust: &TrustRoot,
    what: &'static str,
    commit_what: &'static str,
    header: &Header,
    commit: &Commit,
    sets: &[(u64, ValidatorSet)],
) -> Result<Attestation, VerifyError> {
    let (epoch, set) = set_at(sets, header.height);
    if header.validators_epoch != epoch {
        return Err(VerifyError::EpochMismatch {
            what: what.into(),
            height: header.height,
            named: header.validators_epoch,
            traced: epoch,
        });
    }
    let traced = set.hash();
    if traced != header.validators_hash {
        return Err(VerifyError::ValidatorSetMismatch {
            what,
            height: header.height,
            named: header.validators_hash,
            traced,
        });
    }
    let signers = commit
        .verify(header, set, &trust.genesis_hash)
        .map_err(|source| VerifyError::Commit { what: commit_what, source })?;
    let validators: Vec<Attestor> = signers
        .iter()
        .map(|&i| {
            let v = &set.validators[i];
            Attestor { name: v.name.to_string(), role: v.role, power: v.power, key: v.consensus_key }
        })
        .collect();
    Ok(Attestation {
        signed_power: validators.iter().map(|a| a.power).sum(),
        total_power: set.total_power(),
        validators,
    })
}

fn verify_checkpoint(
    trust: &TrustRoot,
    checkpoint: &Checkpoint,
    header: &Header,
    block_hash: &Hash,
    sets: &[(u64, ValidatorSet)],
) -> Result<CheckpointReport, VerifyError> {
    let later: Header =
        checkpoint.header.decode().map_err(|source| VerifyError::Decode { what: "checkpoint header", source })?;
    let commit: Commit =
        checkpoint.commit.decode().map_err(|source| VerifyError::Decode { what: "checkpoint commit", source })?;
    check_chain("checkpoint header", &trust.chain_id, &later.chain_id)?;
    if later.height <= header.height {
        return Err(VerifyError::CheckpointNotLater { block: header.height, checkpoint: later.height });
    }
    let attestation = verify_commit(trust, "checkpoint header", "checkpoint", &later, &commit, sets)?;
    verify_block_in_history(header.height, block_hash, later.height, &checkpoint.history_proof, &later.history_root)
        .map_err(VerifyError::NotInCheckpoint)?;
    Ok(CheckpointReport { height: later.height, block_hash: later.hash(), block_time_ms: later.time_ms, attestation })
}

fn check_file(tx: &Tx, data: &[u8]) -> Result<(), VerifyError> {
    let TxBody::Evidence(evidence) = &tx.body else {
        return Err(VerifyError::FileWithoutEvidence);
    };
    let computed = Digest::compute(evidence.digest.alg(), data);
    if computed != evidence.digest {
        return Err(VerifyError::FileMismatch {
            alg: evidence.digest.alg(),
            computed: computed.to_text(),
            anchored: evidence.digest.to_text(),
        });
    }
    Ok(())
}

fn summarise(body: &TxBody) -> Record {
    match body {
        TxBody::Evidence(e) => Record::Evidence {
            kind: e.kind,
            digest: e.digest.clone(),
            refs: e.refs.to_vec(),
            claimed_time_ms: e.claimed_time_ms,
            cert: e.cert.clone(),
            signature: e.signature.clone(),
        },
        TxBody::CertEvent(c) => {
            Record::CertEvent { ca: c.ca.to_string(), serial: hex::encode(c.serial.as_bytes()), event: c.event.clone() }
        }
        TxBody::Propose(p) => Record::Proposal { change: p.change.name(), expires_at_height: p.expires_at_height },
        TxBody::Vote(v) => Record::Vote { proposal: v.proposal, approve: v.approve },
        TxBody::RotateKey(r) => Record::KeyRotation { key: r.key.which(), new_key: r.key.key() },
        TxBody::Misbehaviour(m) => {
            let (_, height, round, _) = m.first.slot();
            Record::Misbehaviour { validator: m.validator, height, round }
        }
    }
}

//! Proof of a tx: a bundle's tx in its block, the block committed by the chain's
//! validators (see [`super::chain`]), optionally in a later checkpoint's history, the
//! document it anchors, and the status of the certificate it names.

use super::bundle::ProofBundle;
use super::cert::{verify_cert_status, CertStatusProof};
use super::chain::{check_chain, check_origin, verify_attested, verify_bundle_checkpoint};
use super::report::{CertVerdict, Record, Report, Submitter, TrustBasis, TrustRoot, VerifyError};
use crate::digest::Digest;
use crate::types::block::{Commit, Header};
use crate::types::tx::{Tx, TxBody};

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
    if let TxBody::Evidence(crate::types::tx::Evidence { digest, signature: Some(signature), .. }) = &tx.body {
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
        Some(checkpoint) => Some(verify_bundle_checkpoint(trust, checkpoint, &header, &block_hash, &sets)?),
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
    proof: &CertStatusProof,
    trust: &TrustRoot,
) -> Result<CertVerdict, VerifyError> {
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
    let verdict = verify_cert_status(proof, trust)?;
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

//! The offline verifier: a valid bundle proves what it should, and each check, broken on
//! its own, fails with the error that names it.

use chancery_ledger::block::{ChainId, Commit, CommitError, CommitSig, Header};
use chancery_ledger::codec::BoundedVec;
use chancery_ledger::hex::HexBytes;
use chancery_ledger::testkit::{key, public, sign, TestChain};
use chancery_ledger::validator::QuorumError;
use chancery_ledger::verify::{verify, verify_json, Record, VerifyError};
use chancery_ledger::verify::{ProofBundle, BUNDLE_VERSION};
use chancery_ledger::{decode, Role, Tx};

/// Four validators; block 0 holds three documents, block 1 one more, block 2 is empty.
fn chain() -> TestChain {
    let mut chain = TestChain::new(4);
    let txs =
        vec![chain.evidence_tx(b"contract A"), chain.evidence_tx(b"contract B"), chain.evidence_tx(b"contract C")];
    chain.commit_block(txs);
    let tx = chain.evidence_tx(b"contract D");
    chain.commit_block(vec![tx]);
    chain.commit_block(Vec::new());
    chain
}

fn header_of(bundle: &ProofBundle) -> Header {
    decode(&bundle.header.0).expect("header")
}

fn commit_of(bundle: &ProofBundle) -> Commit {
    decode(&bundle.commit.0).expect("commit")
}

#[test]
fn a_valid_bundle_proves_record_time_and_attestors() {
    let chain = chain();
    let bundle = chain.bundle(0, 1, None);
    let report = verify(&bundle, &chain.trust_root(), Some(b"contract B")).expect("valid bundle");
    assert_eq!(report.height, 0);
    assert_eq!(report.block_time_ms, chain.blocks[0].0.header.time_ms);
    assert!(report.file_matches);
    assert_eq!(report.submitter.name.as_deref(), Some("demo-integrator"));
    assert_eq!(report.attestation.validators.len(), 4);
    assert_eq!(report.attestation.signed_power, 40);
    assert_eq!(report.attestation.validators[2].role, Role::Court);
    match report.record {
        Record::Evidence { digest, .. } => assert_eq!(
            digest.to_text(),
            chancery_ledger::Digest::compute(chancery_ledger::DigestAlg::Sha256, b"contract B").to_text()
        ),
        other => panic!("expected evidence, got {other:?}"),
    }
    // The same bundle through JSON.
    let json_report = verify_json(&bundle.to_json(), &chain.trust_root(), None).expect("valid JSON bundle");
    assert_eq!(json_report.tx_hash, report.tx_hash);
    assert!(!json_report.file_matches);
}

#[test]
fn a_checkpoint_bundle_proves_inclusion_in_a_later_history() {
    let chain = chain();
    let report = verify(&chain.bundle(0, 2, Some(2)), &chain.trust_root(), None).expect("valid checkpoint bundle");
    let checkpoint = report.checkpoint.expect("checkpoint reported");
    assert_eq!(checkpoint.height, 2);

    // A history path for another block does not lead to the checkpoint's root.
    let mut bundle = chain.bundle(0, 2, Some(2));
    let other = chain.bundle(1, 0, Some(2));
    bundle.checkpoint.as_mut().expect("checkpoint").history_proof = other.checkpoint.expect("checkpoint").history_proof;
    assert!(matches!(verify(&bundle, &chain.trust_root(), None), Err(VerifyError::NotInCheckpoint(_))));

    // A checkpoint must be later than the block.
    let mut bundle = chain.bundle(1, 0, Some(2));
    bundle.checkpoint.as_mut().expect("checkpoint").header = HexBytes::of(&chain.blocks[0].0.header);
    assert!(matches!(verify(&bundle, &chain.trust_root(), None), Err(VerifyError::CheckpointNotLater { .. })));
}

#[test]
fn wrong_chain_id_is_rejected() {
    let chain = chain();
    let mut trust = chain.trust_root();
    trust.chain_id = ChainId::new("other-chain").expect("valid id");
    let err = verify(&chain.bundle(0, 0, None), &trust, None).expect_err("wrong chain");
    assert!(matches!(err, VerifyError::WrongChain { what: "bundle", .. }), "{err}");

    // A tx signed for another chain, inside a bundle that claims this one.
    let mut other = TestChain::new(4);
    other.chain_id = ChainId::new("other-chain").expect("valid id");
    let foreign = other.evidence_tx(b"x");
    let mut bundle = chain.bundle(0, 0, None);
    bundle.tx = HexBytes::of(&foreign);
    assert!(matches!(verify(&bundle, &chain.trust_root(), None), Err(VerifyError::WrongChain { what: "tx", .. })));
}

#[test]
fn wrong_genesis_is_rejected() {
    let chain = chain();
    let mut trust = chain.trust_root();
    trust.genesis_hash = chancery_ledger::HashContext::Genesis.hash(b"another genesis");
    assert!(matches!(verify(&chain.bundle(0, 0, None), &trust, None), Err(VerifyError::WrongGenesis { .. })));
}

#[test]
fn commit_with_two_thirds_or_less_of_the_power_is_rejected() {
    let chain = chain();
    let mut bundle = chain.bundle(0, 0, None);
    let header = header_of(&bundle);
    // 2 of 4 equal-power validators (1/2) and 3 of 4 minus one (exactly 2/3 is impossible
    // with 4 x 10; use a set where it is) both fail.
    bundle.commit = HexBytes::of(&chain_signed_by(&chain, &header, 2));
    let err = verify(&bundle, &chain.trust_root(), None).expect_err("half the power");
    assert!(
        matches!(
            err,
            VerifyError::Commit {
                source: CommitError::Quorum(QuorumError::InsufficientPower { signed: 20, total: 40 }),
                ..
            }
        ),
        "{err}"
    );

    let mut three = TestChain::new(3);
    let tx = three.evidence_tx(b"doc");
    three.commit_block(vec![tx]);
    let mut bundle = three.bundle(0, 0, None);
    let header = header_of(&bundle);
    bundle.commit = HexBytes::of(&chain_signed_by(&three, &header, 2));
    let err = verify(&bundle, &three.trust_root(), None).expect_err("exactly two thirds");
    assert!(
        matches!(
            err,
            VerifyError::Commit {
                source: CommitError::Quorum(QuorumError::InsufficientPower { signed: 20, total: 30 }),
                ..
            }
        ),
        "{err}"
    );
}

fn chain_signed_by(chain: &TestChain, header: &Header, signers: usize) -> Commit {
    let mut signer_chain = TestChain::new(chain.genesis_validators.validators.len());
    signer_chain.chain_id = chain.chain_id.clone();
    signer_chain.sign_commit(header, 0, signers)
}

#[test]
fn a_signature_by_a_non_validator_is_rejected() {
    let chain = chain();
    let mut bundle = chain.bundle(0, 0, None);
    let mut commit = commit_of(&bundle);
    let outsider = key(9, 9);
    let message = commit.vote(&chain.chain_id, &chain.genesis_hash).signing_message();
    let mut sigs = commit.signatures.to_vec();
    sigs.push(CommitSig { validator: public(&outsider), signature: sign(&outsider, &message) });
    commit.signatures = BoundedVec::new(sigs).expect("fits");
    bundle.commit = HexBytes::of(&commit);
    let err = verify(&bundle, &chain.trust_root(), None).expect_err("outsider");
    assert!(
        matches!(err, VerifyError::Commit { source: CommitError::Quorum(QuorumError::NotAValidator { .. }), .. }),
        "{err}"
    );
}

#[test]
fn a_duplicated_signer_is_not_counted_twice() {
    let chain = chain();
    let mut bundle = chain.bundle(0, 0, None);
    let header = header_of(&bundle);
    // Two real signatures (half the power), the first repeated to look like three.
    let mut commit = chain_signed_by(&chain, &header, 2);
    let mut sigs = commit.signatures.to_vec();
    sigs.push(sigs[0].clone());
    commit.signatures = BoundedVec::new(sigs).expect("fits");
    bundle.commit = HexBytes::of(&commit);
    let err = verify(&bundle, &chain.trust_root(), None).expect_err("duplicate");
    assert!(
        matches!(err, VerifyError::Commit { source: CommitError::Quorum(QuorumError::DuplicateSigner { .. }), .. }),
        "{err}"
    );
}

#[test]
fn a_forged_signature_is_rejected() {
    let chain = chain();
    let mut bundle = chain.bundle(0, 0, None);
    let mut commit = commit_of(&bundle);
    let mut sigs = commit.signatures.to_vec();
    sigs[1].signature.0[5] ^= 1;
    commit.signatures = BoundedVec::new(sigs).expect("fits");
    bundle.commit = HexBytes::of(&commit);
    let err = verify(&bundle, &chain.trust_root(), None).expect_err("forged");
    assert!(
        matches!(err, VerifyError::Commit { source: CommitError::Quorum(QuorumError::BadSignature { .. }), .. }),
        "{err}"
    );
}

#[test]
fn header_and_tx_mismatch_is_rejected() {
    let chain = chain();
    // The tx of block 1 with the proof and header of block 0.
    let mut bundle = chain.bundle(0, 0, None);
    bundle.tx = chain.bundle(1, 0, None).tx;
    assert!(matches!(verify(&bundle, &chain.trust_root(), None), Err(VerifyError::TxNotInBlock(_))));
    // A proof claiming another tx count than the header's.
    let mut bundle = chain.bundle(0, 0, None);
    bundle.tx_proof.count = 4;
    assert!(matches!(
        verify(&bundle, &chain.trust_root(), None),
        Err(VerifyError::TxCountMismatch { proof: 4, header: 3 })
    ));
    // A header edited after the commit was signed.
    let mut bundle = chain.bundle(0, 0, None);
    let mut header = header_of(&bundle);
    header.time_ms -= 86_400_000;
    bundle.header = HexBytes::of(&header);
    assert!(matches!(
        verify(&bundle, &chain.trust_root(), None),
        Err(VerifyError::Commit { source: CommitError::WrongBlock { .. }, .. })
    ));
}

#[test]
fn a_tampered_tx_signature_is_rejected() {
    let chain = chain();
    let mut bundle = chain.bundle(0, 0, None);
    let mut tx: Tx = decode(&bundle.tx.0).expect("tx");
    tx.signature.0[0] ^= 1;
    bundle.tx = HexBytes::of(&tx);
    assert!(matches!(verify(&bundle, &chain.trust_root(), None), Err(VerifyError::TxSignature(_))));
}

#[test]
fn a_hosted_signature_that_does_not_verify_is_rejected_even_if_committed() {
    use chancery_ledger::tx::{DocumentSignature, TxBody};
    use chancery_ledger::{Digest, DigestAlg, Signature};
    use ed25519_dalek::Signer as _;
    let hosted = key(6, 0);
    let digest = Digest::compute(DigestAlg::Sha256, b"contract");
    let mut chain = TestChain::new(4);
    let event = |signed: &[u8]| {
        let mut body = chancery_ledger::testkit::document_evidence(b"contract");
        if let TxBody::Evidence(evidence) = &mut body {
            let signature = Signature(hosted.sign(Digest::compute(DigestAlg::Sha256, signed).bytes()).to_bytes());
            evidence.digest = digest.clone();
            evidence.signature = Some(DocumentSignature::hosted(public(&hosted), signature));
        }
        body
    };
    let (genesis_hash, chain_id, integrator) = (chain.genesis_hash, chain.chain_id.clone(), chain.integrator.clone());
    let good = chancery_ledger::testkit::signed_tx(&integrator, &chain_id, &genesis_hash, event(b"contract"), 1);
    // A block a quorum signed without executing it: the verifier does not take the
    // binding on trust.
    let forged = chancery_ledger::testkit::signed_tx(&integrator, &chain_id, &genesis_hash, event(b"other"), 2);
    chain.commit_block(vec![good, forged]);
    assert!(verify(&chain.bundle(0, 0, None), &chain.trust_root(), Some(b"contract")).is_ok());
    let err = verify(&chain.bundle(0, 1, None), &chain.trust_root(), None).expect_err("unbound signature");
    assert!(
        matches!(&err, VerifyError::HostedSignature(chancery_ledger::tx::HostedSignatureError::BadSignature { .. })),
        "{err}"
    );
}

#[test]
fn a_tampered_file_is_rejected() {
    let chain = chain();
    let err =
        verify(&chain.bundle(0, 1, None), &chain.trust_root(), Some(b"contract B, amended")).expect_err("tampered");
    assert!(matches!(err, VerifyError::FileMismatch { .. }), "{err}");
    assert!(err.to_string().contains("not the anchored file"));
}

#[test]
fn validator_set_changes_are_traced_from_genesis() {
    let mut chain = TestChain::new(4);
    let change = chain.validator_change_tx(7);
    chain.commit_block(vec![change]);
    let doc = chain.evidence_tx(b"after the change");
    chain.commit_block(vec![doc]);
    let report = verify(&chain.bundle(1, 0, None), &chain.trust_root(), None).expect("signed by the new set");
    assert_eq!(report.validator_changes, 1);
    assert_eq!(report.attestation.validators.len(), 7);

    // Without the change, the header counts one change the bundle does not carry.
    let mut bundle = chain.bundle(1, 0, None);
    bundle.validator_changes.clear();
    let err = verify(&bundle, &chain.trust_root(), None).expect_err("omitted change");
    assert!(matches!(err, VerifyError::EpochMismatch { named: 1, traced: 0, .. }), "{err}");
}

/// Two changes, A to B and B back to A: leaving both out would leave a header signed by
/// A with A's hash, so only the epoch the header counts can tell that changes are missing.
#[test]
fn a_bundle_that_leaves_out_a_change_fails_even_when_the_set_comes_back() {
    let mut chain = TestChain::new(4);
    let genesis_keys = chain.validator_keys.clone();
    let genesis_set = chain.validators.clone();
    let to_b = chain.validator_change_tx(4);
    chain.commit_block(vec![to_b]);
    // Back to the genesis set (the builder replaces the set; the keys are A's again).
    chain.next_validators = genesis_set;
    let back = chain.evidence_tx(b"marker");
    chain.commit_block(vec![back]);
    chain.validator_keys = genesis_keys.clone();
    let doc = chain.evidence_tx(b"after both changes");
    chain.commit_block(vec![doc]);
    chain.validator_keys = genesis_keys;
    let report = verify(&chain.bundle(2, 0, None), &chain.trust_root(), None).expect("both changes carried");
    assert_eq!(report.validator_changes, 2);
    let mut bundle = chain.bundle(2, 0, None);
    bundle.validator_changes.clear();
    let err = verify(&bundle, &chain.trust_root(), None).expect_err("both left out");
    assert!(matches!(err, VerifyError::EpochMismatch { named: 2, traced: 0, .. }), "{err}");
    let mut bundle = chain.bundle(2, 0, None);
    bundle.validator_changes.truncate(1);
    let err = verify(&bundle, &chain.trust_root(), None).expect_err("one left out");
    assert!(matches!(err, VerifyError::EpochMismatch { .. }), "{err}");
}

#[test]
fn a_validator_set_change_not_committed_by_the_previous_set_is_rejected() {
    let mut chain = TestChain::new(4);
    let change = chain.validator_change_tx(4);
    chain.commit_block(vec![change]);
    let doc = chain.evidence_tx(b"after the change");
    chain.commit_block(vec![doc]);
    let change_header: Header = chain.bundle(1, 0, None).validator_changes[0].header.decode().expect("header");

    // Only two of the four previous validators signed the committing header.
    let mut bundle = chain.bundle(1, 0, None);
    let mut commit: Commit = bundle.validator_changes[0].commit.decode().expect("commit");
    let mut sigs = commit.signatures.to_vec();
    sigs.truncate(2);
    commit.signatures = BoundedVec::new(sigs).expect("fits");
    bundle.validator_changes[0].commit = HexBytes::of(&commit);
    let err = verify(&bundle, &chain.trust_root(), None).expect_err("half signed");
    assert!(
        matches!(
            err,
            VerifyError::ChangeNotCommitted { source: CommitError::Quorum(QuorumError::InsufficientPower { .. }), .. }
        ),
        "{err}"
    );

    // The new set signing its own change.
    let mut bundle = chain.bundle(1, 0, None);
    let commit = chain.sign_commit(&change_header, 0, 4);
    bundle.validator_changes[0].commit = HexBytes::of(&commit);
    let err = verify(&bundle, &chain.trust_root(), None).expect_err("self-signed");
    assert!(
        matches!(
            err,
            VerifyError::ChangeNotCommitted { source: CommitError::Quorum(QuorumError::NotAValidator { .. }), .. }
        ),
        "{err}"
    );

    // The change's height moved: the header no longer matches its commit.
    let mut bundle = chain.bundle(1, 0, None);
    let mut moved = change_header.clone();
    moved.height += 5;
    bundle.validator_changes[0].header = HexBytes::of(&moved);
    let err = verify(&bundle, &chain.trust_root(), None).expect_err("moved");
    assert!(matches!(err, VerifyError::ChangeNotCommitted { source: CommitError::WrongHeight { .. }, .. }), "{err}");

    // Another set carried than the one the header committed.
    let mut bundle = chain.bundle(1, 0, None);
    bundle.validator_changes[0].validators = HexBytes::of(&chain.genesis_validators);
    let err = verify(&bundle, &chain.trust_root(), None).expect_err("other set");
    assert!(matches!(err, VerifyError::NotAChange { .. }), "{err}");

    // The same change twice.
    let mut bundle = chain.bundle(1, 0, None);
    bundle.validator_changes.push(bundle.validator_changes[0].clone());
    let err = verify(&bundle, &chain.trust_root(), None).expect_err("doubled");
    assert!(matches!(err, VerifyError::EpochMismatch { .. } | VerifyError::ChangeOutOfOrder { .. }), "{err}");
}

/// The trust model's stated limit: a quorum of a replaced set can sign a header at a later
/// height naming itself, and with the genesis alone that fork verifies; only a later
/// trusted checkpoint rules it out.
#[test]
fn a_header_forged_by_a_replaced_set_is_what_the_genesis_alone_cannot_rule_out() {
    let mut chain = TestChain::new(4);
    let replaced_keys = chain.validator_keys.clone();
    let change = chain.validator_change_tx(4);
    chain.commit_block(vec![change]);
    let doc = chain.evidence_tx(b"real block after the change");
    chain.commit_block(vec![doc]);
    // The replaced set forges a block at height 1 naming itself, epoch 0.
    let mut fork = TestChain::new(4);
    fork.commit_block(vec![]);
    fork.validator_keys = replaced_keys;
    let forged_doc = fork.evidence_tx(b"backdated record");
    fork.commit_block(vec![forged_doc]);
    let forged = fork.bundle(1, 0, None);
    let report = verify(&forged, &chain.trust_root(), None).expect("genesis alone cannot rule the fork out");
    assert_eq!(report.validator_changes, 0);
    // A checkpoint saved from the real chain after the block rules the fork out, and the
    // verdict says why: the fork's own checkpoint is another block at the same height, or
    // its history is not the one the trusted checkpoint extends.
    chain.commit_block(vec![]);
    chain.commit_block(vec![]);
    fork.commit_block(vec![]);
    fork.commit_block(vec![]);
    let trusted = chain.saved_checkpoint(3, Some(2));
    for at in [3, 2] {
        let mut with_checkpoint = forged.clone();
        with_checkpoint.checkpoint = fork.bundle(1, 0, Some(at)).checkpoint;
        verify(&with_checkpoint, &chain.trust_root(), None).expect("the fork is self-consistent");
        let err =
            chancery_ledger::verify::verify_with_checkpoint(&with_checkpoint, &chain.trust_root(), None, &trusted)
                .expect_err("not in the trusted history");
        assert!(matches!(err, VerifyError::NotConsistent(_)), "{err}");
    }
    let err = chancery_ledger::verify::verify_with_checkpoint(&forged, &chain.trust_root(), None, &trusted)
        .expect_err("no checkpoint in the bundle");
    assert!(err.to_string().contains("carries no checkpoint"), "{err}");
    // The genesis-only verdict says what it cannot rule out.
    assert_eq!(report.trust_basis, chancery_ledger::verify::TrustBasis::Genesis);
    assert!(report.trust_basis.describe().contains("after it was replaced"), "{}", report.trust_basis.describe());
    // Shipped with the real change, the forged header's epoch gives it away.
    let mut with_change = forged.clone();
    with_change.validator_changes = chain.bundle(1, 0, None).validator_changes;
    let err = verify(&with_change, &chain.trust_root(), None).expect_err("epoch");
    assert!(matches!(err, VerifyError::EpochMismatch { named: 0, traced: 1, .. }), "{err}");
}

#[test]
fn an_unknown_bundle_version_is_rejected() {
    let chain = chain();
    let mut bundle = chain.bundle(0, 0, None);
    bundle.version = BUNDLE_VERSION + 1;
    let json = bundle.to_json();
    let err = verify_json(&json, &chain.trust_root(), None).expect_err("next version");
    assert!(
        matches!(err, VerifyError::Bundle(chancery_ledger::verify::BundleError::UnsupportedVersion { found: 3 })),
        "{err}"
    );
    assert!(matches!(verify(&bundle, &chain.trust_root(), None), Err(VerifyError::Bundle(_))));
    // Version 1 (changes approved by signatures over an unsigned height) is refused too.
    let old = chain.bundle(0, 0, None).to_json().replace("\"version\": 2", "\"version\": 1");
    let err = verify_json(&old, &chain.trust_root(), None).expect_err("version 1");
    assert!(err.to_string().contains("version 1 is not supported"), "{err}");
}

#[test]
fn hostile_bundle_json_is_rejected_cleanly() {
    let chain = chain();
    let json = chain.bundle(0, 0, None).to_json();
    let trust = chain.trust_root();
    for bad in [
        String::new(),
        "{".to_string(),
        "[]".to_string(),
        json[..json.len() / 2].to_string(),
        json.replace("\"version\": 2", "\"version\": -1"),
        json.replacen("\"tx_proof\"", "\"unknown\": 1, \"tx_proof\"", 1),
        json.replacen("\"header\": \"", "\"header\": \"zz", 1),
        json.replacen("\"commit\": \"", "\"commit\": \"00", 1),
    ] {
        assert!(verify_json(&bad, &trust, None).is_err(), "accepted: {}", &bad[..bad.len().min(200)]);
    }
}

#[test]
fn block_zero_must_link_to_genesis() {
    let mut chain = TestChain::new(4);
    let tx = chain.evidence_tx(b"doc");
    chain.commit_block(vec![tx]);
    let mut bundle = chain.bundle(0, 0, None);
    let mut header = header_of(&bundle);
    header.prev_hash = chancery_ledger::Hash::ZERO;
    let commit = chain.sign_commit(&header, 0, 4);
    bundle.header = HexBytes::of(&header);
    bundle.commit = HexBytes::of(&commit);
    assert!(matches!(verify(&bundle, &chain.trust_root(), None), Err(VerifyError::GenesisLinkMismatch { .. })));
}

#[test]
fn files_are_rehashed_with_the_recorded_algorithm() {
    use chancery_ledger::codec::BoundedVec;
    use chancery_ledger::testkit::signed_tx;
    use chancery_ledger::tx::{Evidence, EvidenceKind, TxBody};
    use chancery_ledger::{Digest, DigestAlg};

    let mut chain = TestChain::new(4);
    let algs = [DigestAlg::Sha256, DigestAlg::Sha512, DigestAlg::Sm3, DigestAlg::Blake3];
    let txs: Vec<_> = algs
        .iter()
        .enumerate()
        .map(|(i, alg)| {
            let body = TxBody::Evidence(Evidence {
                kind: EvidenceKind::Document,
                digest: Digest::compute(*alg, b"the contract"),
                refs: BoundedVec::empty(),
                meta: None,
                claimed_time_ms: None,
                cert: None,
                signature: None,
            });
            signed_tx(&chain.integrator, &chain.chain_id, &chain.genesis_hash, body, 10 + i as u64)
        })
        .collect();
    chain.commit_block(txs);
    for (i, alg) in algs.iter().enumerate() {
        let bundle = chain.bundle(0, i as u32, None);
        let report =
            verify(&bundle, &chain.trust_root(), Some(b"the contract")).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert!(report.file_matches, "{alg}");
        let err = verify(&bundle, &chain.trust_root(), Some(b"the contract.")).expect_err("other file");
        assert!(matches!(err, VerifyError::FileMismatch { alg: a, .. } if a == *alg), "{alg}: {err}");
    }
}

#[test]
fn a_file_for_a_record_without_a_digest_is_refused() {
    let mut chain = TestChain::new(4);
    let change = chain.validator_change_tx(4);
    chain.commit_block(vec![change]);
    let bundle = chain.bundle(0, 0, None);
    assert!(verify(&bundle, &chain.trust_root(), None).is_ok());
    assert!(matches!(verify(&bundle, &chain.trust_root(), Some(b"x")), Err(VerifyError::FileWithoutEvidence)));
}

mod fuzz {
    //! Random damage to a valid bundle: the verifier answers with an error or, if the
    //! damage left the proof intact, the same report; it never panics.
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn damaged_bundle_json_never_panics(position in any::<usize>(), byte in any::<u8>(), cut in any::<bool>()) {
            let chain = chain();
            let json = chain.bundle(0, 1, Some(2)).to_json();
            let good = verify_json(&json, &chain.trust_root(), None).expect("valid");
            let mut bytes = json.into_bytes();
            let at = position % bytes.len();
            if cut { bytes.truncate(at) } else { bytes[at] = byte }
            if let Ok(text) = String::from_utf8(bytes) {
                if let Ok(report) = verify_json(&text, &chain.trust_root(), None) {
                    prop_assert_eq!(report, good);
                }
            }
        }

        #[test]
        fn damaged_canonical_parts_never_verify(part in 0usize..5, position in any::<usize>(), byte in 1u8..=255) {
            let chain = chain();
            let mut bundle = chain.bundle(0, 1, Some(2));
            let checkpoint = bundle.checkpoint.as_mut().expect("checkpoint");
            let target = match part {
                0 => &mut bundle.tx.0,
                1 => &mut bundle.header.0,
                2 => &mut bundle.commit.0,
                3 => &mut checkpoint.header.0,
                _ => &mut checkpoint.commit.0,
            };
            let at = position % target.len();
            target[at] ^= byte;
            prop_assert!(verify(&bundle, &chain.trust_root(), None).is_err());
        }
    }
}

/// A later trusted checkpoint: a bundle whose own checkpoint is that one, or one the
/// trusted checkpoint proves it extends, verifies with the checkpoint as its trust basis.
#[test]
fn a_trusted_checkpoint_anchors_the_block_in_its_history() {
    use chancery_ledger::verify::TrustBasis;
    use chancery_ledger::verify::{verify_consistency_of, verify_with_checkpoint};
    let mut chain = TestChain::new(4);
    for i in 0..3 {
        let doc = chain.evidence_tx(format!("document {i}").as_bytes());
        chain.commit_block(vec![doc]);
    }
    let change = chain.validator_change_tx(5);
    chain.commit_block(vec![change]);
    for _ in 0..4 {
        chain.commit_block(vec![]);
    }
    let trust = chain.trust_root();
    let trusted = chain.saved_checkpoint(7, Some(3));
    // The bundle's checkpoint is the trusted one.
    let report = verify_with_checkpoint(&chain.bundle(1, 0, Some(7)), &trust, None, &trusted).expect("same checkpoint");
    assert!(matches!(report.trust_basis, TrustBasis::Checkpoint { height: 7, .. }), "{:?}", report.trust_basis);
    // The bundle's checkpoint is earlier; the trusted one proves it extends it.
    let report = verify_with_checkpoint(&chain.bundle(1, 0, Some(3)), &trust, None, &trusted).expect("consistent");
    assert!(matches!(report.trust_basis, TrustBasis::Checkpoint { height: 7, .. }));
    // Without a matching consistency proof: refused, saying how to get one.
    let err =
        verify_with_checkpoint(&chain.bundle(1, 0, Some(2)), &trust, None, &trusted).expect_err("no proof from 2");
    assert!(err.to_string().contains("no consistency proof from the bundle's checkpoint (height 2)"), "{err}");
    // A checkpoint not after the block proves nothing about it.
    let early = chain.saved_checkpoint(1, None);
    let err = verify_with_checkpoint(&chain.bundle(1, 0, Some(3)), &trust, None, &early).expect_err("not after");
    assert!(err.to_string().contains("not after the block"), "{err}");

    // Two saved checkpoints: the later one extends the earlier one.
    let old = chain.saved_checkpoint(3, None);
    let verdict = verify_consistency_of(&old, &trusted, &trust).expect("consistent");
    assert_eq!((verdict.old.height, verdict.new.height), (3, 7));
    assert_eq!(verdict.new.validator_changes, 1);
    let mut tampered = trusted.clone();
    if let Some(c) = tampered.consistency.as_mut() {
        c.proof[0].0[0] ^= 1;
    }
    assert!(matches!(verify_consistency_of(&old, &tampered, &trust), Err(VerifyError::NotConsistent(_))));
    let mut other_root = trusted.clone();
    if let Some(c) = other_root.consistency.as_mut() {
        c.from_mth.0[0] ^= 1;
    }
    let err = verify_consistency_of(&old, &other_root, &trust).expect_err("root not the signed one");
    assert!(err.to_string().contains("first"), "{err}");
    assert!(verify_consistency_of(&trusted, &old, &trust).is_err(), "given newest first");
    assert!(verify_consistency_of(&chain.saved_checkpoint(2, None), &trusted, &trust).is_err(), "no proof from 2");
    // A checkpoint without the change it relies on does not verify at all.
    let mut stripped = trusted.clone();
    stripped.validator_changes.clear();
    assert!(matches!(verify_consistency_of(&old, &stripped, &trust), Err(VerifyError::EpochMismatch { .. })));
    // JSON round trip, unknown fields refused.
    let json = trusted.to_json();
    assert_eq!(chancery_ledger::verify::SavedCheckpoint::from_json(&json).expect("parses"), trusted);
    let extra = json.replacen("\"commit\"", "\"extra\": 1, \"commit\"", 1);
    assert!(chancery_ledger::verify::SavedCheckpoint::from_json(&extra).is_err());
    assert!(chancery_ledger::verify::SavedCheckpoint::from_json(&json[..json.len() / 2]).is_err());
}

/// Two chains with the same id and the same keys, started from different genesis files:
/// no bundle of one verifies against the other's genesis, even with the bundle's genesis
/// hash rewritten, because every commit signature covers the genesis hash.
#[test]
fn a_relaunched_chain_with_the_same_id_and_keys_shares_no_proof() {
    let mut first = TestChain::new(4);
    let mut second = TestChain::new(4);
    second.genesis_hash = chancery_ledger::HashContext::Genesis.hash(b"relaunched genesis");
    for chain in [&mut first, &mut second] {
        let doc = chain.evidence_tx(b"the same contract");
        chain.commit_block(vec![doc]);
    }
    let bundle = first.bundle(0, 0, None);
    assert!(verify(&bundle, &first.trust_root(), None).is_ok());
    let err = verify(&bundle, &second.trust_root(), None).expect_err("other genesis");
    assert!(matches!(err, VerifyError::WrongGenesis { .. }), "{err}");
    let mut rewritten = bundle.clone();
    rewritten.genesis_hash = second.genesis_hash;
    let err = verify(&rewritten, &second.trust_root(), None).expect_err("signatures cover the genesis");
    assert!(matches!(err, VerifyError::TxSignature(_) | VerifyError::Commit { .. }), "{err}");
    // Even a tx and header identical in both chains: the commit does not carry over.
    let mut with_header = second.bundle(0, 0, None);
    with_header.commit = bundle.commit.clone();
    assert!(verify(&with_header, &second.trust_root(), None).is_err());
}

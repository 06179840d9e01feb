//! The example in `docs/examples/` (a genesis, an anchored contract and its proof bundle)
//! is produced by this test and verified by it, so the documentation cannot go stale.
//! After a deliberate format change, run with `CHANCERY_BLESS=1` to rewrite the files.

mod common;

use std::path::PathBuf;

use chancery_genesis::verify_bundle;
use chancery_ledger::testkit::{key, signed_tx, TestChain};
use chancery_ledger::tx::{Evidence, EvidenceKind, TxBody};
use chancery_ledger::{codec::BoundedVec, Digest, DigestAlg};
use common::example_genesis;

const CONTRACT: &str = "Sale agreement between A and B, signed 2026-01-01.\n";

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/examples")
}

/// Builds the example chain: three blocks; the contract is anchored in block 1 and the
/// bundle carries a checkpoint at block 2.
fn build() -> (String, String) {
    let genesis = example_genesis();
    let keys = (0..4).map(|i| key(1, i)).collect();
    let mut chain = TestChain::from_parts(
        genesis.chain_id.clone(),
        genesis.hash(),
        keys,
        genesis.validators.clone(),
        key(3, 0),
        genesis.members.to_vec(),
        genesis.genesis_time_ms,
    );
    let warmup = chain.evidence_tx(b"first document");
    chain.commit_block(vec![warmup]);
    let evidence = TxBody::Evidence(Evidence {
        kind: EvidenceKind::Document,
        digest: Digest::compute(DigestAlg::Sha256, CONTRACT.as_bytes()),
        refs: BoundedVec::empty(),
        meta: None,
        claimed_time_ms: Some(1_767_225_601_000),
        cert: None,
        signature: None,
    });
    let other = chain.evidence_tx(b"another document");
    let contract = signed_tx(&key(3, 0), &genesis.chain_id, &genesis.hash(), evidence, 100);
    chain.commit_block(vec![other, contract]);
    chain.commit_block(Vec::new());
    (genesis.to_json(), chain.bundle(1, 1, Some(2)).to_json() + "\n")
}

#[test]
fn checked_in_example_is_what_the_code_produces() {
    let (genesis, bundle) = build();
    let dir = examples_dir();
    if std::env::var_os("CHANCERY_BLESS").is_some() {
        std::fs::write(dir.join("genesis.json"), &genesis).expect("write genesis");
        std::fs::write(dir.join("bundle.json"), &bundle).expect("write bundle");
        std::fs::write(dir.join("contract.txt"), CONTRACT).expect("write contract");
    }
    let read =
        |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("docs/examples/{name}: {e}"));
    assert!(read("genesis.json") == genesis, "docs/examples/genesis.json is stale: rerun with CHANCERY_BLESS=1");
    assert!(read("bundle.json") == bundle, "docs/examples/bundle.json is stale: rerun with CHANCERY_BLESS=1");
    assert_eq!(read("contract.txt"), CONTRACT);
}

#[test]
fn checked_in_example_verifies_offline() {
    let dir = examples_dir();
    let genesis = std::fs::read_to_string(dir.join("genesis.json")).expect("genesis");
    let bundle = std::fs::read_to_string(dir.join("bundle.json")).expect("bundle");
    let contract = std::fs::read(dir.join("contract.txt")).expect("contract");
    let report = verify_bundle(&bundle, &genesis, Some(&contract)).expect("the example verifies");
    assert_eq!(report.chain_id, "court-net-1");
    assert_eq!(report.height, 1);
    assert!(report.file_matches);
    assert_eq!(report.checkpoint.expect("checkpoint").height, 2);
    assert_eq!(report.submitter.name.as_deref(), Some("esign-platform"));
    let names: Vec<_> = report.attestation.validators.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["operator-0-0", "notary-0-1", "court-0-2", "arbitration-0-3"]);

    // The same bundle does not verify another file, nor against an edited genesis.
    assert!(verify_bundle(&bundle, &genesis, Some(b"Sale agreement between A and C")).is_err());
    let edited = genesis.replace("court-net-1", "court-net-2");
    assert!(verify_bundle(&bundle, &edited, None).is_err());
}

//! The fuzz targets' bodies: every decoder that takes outside bytes, the verifier on
//! JSON documents, the genesis file, and the store against a model. `fuzz/` runs them
//! under libFuzzer (`cargo +nightly fuzz run TARGET`); `tests/fuzz_corpora.rs` replays
//! the committed corpora through the same functions on stable, so CI needs no nightly.
//!
//! Each target panics only on a real fault: a decoder that accepts non-canonical bytes
//! (what it decodes must encode back to exactly the input), a verifier that panics, a
//! store that disagrees with its model.

use std::sync::OnceLock;

use chancery_consensus::wire::WalEntry;
use chancery_consensus::wire::{Message, Reply};
use chancery_ledger::store::memory::MemoryBackend;
use chancery_ledger::store::{ChainStore, StoreError};
use chancery_ledger::testkit::{chain_spec, key, produce_block, signed_tx, TestChain};
use chancery_ledger::verify::CertStatusProof;
use chancery_ledger::verify::ProofBundle;
use chancery_ledger::verify::ProposalProof;
use chancery_ledger::verify::SavedCheckpoint;
use chancery_ledger::verify::TrustRoot;
use chancery_ledger::{decode, encode, Block, Canonical, Commit, Header, Tx};
use chancery_node::signer::remote::{RemoteReply, RemoteRequest};

/// A target: it takes any bytes and panics only on a fault.
pub type Target = fn(&[u8]);

/// Every target, by name (the names of `fuzz/fuzz_targets/*.rs` and `fuzz/corpus/*`).
pub const TARGETS: &[(&str, Target)] = &[
    ("tx", tx),
    ("block", block),
    ("p2p_message", p2p_message),
    ("signer_frame", signer_frame),
    ("wal", wal),
    ("guard_file", guard_file),
    ("key_file", key_file),
    ("proof_json", proof_json),
    ("genesis", genesis),
    ("store_model", store_model),
    ("pdf_report", pdf_report),
];

/// Decodes `data` as `T`; if it decodes, it must be canonical: encoding gives `data` back.
fn canonical<T: Canonical + bincode::Encode + bincode::Decode<()> + std::fmt::Debug>(data: &[u8]) -> Option<T> {
    let value: T = decode(data).ok()?;
    assert_eq!(encode(&value), data, "{} decoded from bytes that are not its encoding: {value:?}", T::KIND);
    Some(value)
}

/// A tx: canonical, and its checks do not panic.
pub fn tx(data: &[u8]) {
    if let Some(tx) = canonical::<Tx>(data) {
        let _ = tx.verify_signature(&chancery_ledger::Hash([0; 32]));
        let _ = tx.hash();
    }
}

/// A block, a header and a commit: canonical.
pub fn block(data: &[u8]) {
    if let Some(block) = canonical::<Block>(data) {
        let _ = block.header.hash();
    }
    let _ = canonical::<Header>(data);
    let _ = canonical::<Commit>(data);
}

/// What a peer sends and answers: canonical.
pub fn p2p_message(data: &[u8]) {
    let _ = canonical::<Message>(data);
    let _ = canonical::<Reply>(data);
}

/// What the remote signer's socket carries, both ways: canonical.
pub fn signer_frame(data: &[u8]) {
    let _ = canonical::<RemoteRequest>(data);
    let _ = canonical::<RemoteReply>(data);
}

/// A WAL file: the valid prefix parses, and its records encode back to themselves. The
/// records' checksums keep random bytes from reaching the entry decoder, so the bytes are
/// also tried as one entry.
pub fn wal(data: &[u8]) {
    let _ = canonical::<WalEntry>(data);
    let (records, valid, _) = chancery_node::wal::parse(data);
    assert!(valid <= data.len());
    for (_, entry) in &records {
        let bytes = encode(entry);
        assert_eq!(decode::<WalEntry>(&bytes).as_ref(), Ok(entry));
    }
}

/// A double-sign guard file.
pub fn guard_file(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = chancery_node::signer::guard::parse_guard(text);
    }
}

/// A key file (without a passphrase: the KDF's cost is the operator's to choose).
pub fn key_file(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(key) = chancery_node::signer::KeyFile::parse("fuzz", text, None) {
            // A loaded key is the one the file names (hex of either case).
            assert!(text.to_ascii_lowercase().contains(&hex::encode(key.verifying_key().to_bytes())));
        }
    }
}

/// The chain every proof target verifies against, and a valid bundle of it.
fn test_chain() -> &'static (TestChain, TrustRoot) {
    static CHAIN: OnceLock<(TestChain, TrustRoot)> = OnceLock::new();
    CHAIN.get_or_init(|| {
        let mut chain = TestChain::new(4);
        let txs = vec![chain.evidence_tx(b"contract A"), chain.evidence_tx(b"contract B")];
        chain.commit_block(txs);
        let change = chain.validator_change_tx(4);
        chain.commit_block(vec![change]);
        let tx = chain.evidence_tx(b"contract C");
        chain.commit_block(vec![tx]);
        chain.commit_block(Vec::new());
        let trust = chain.trust_root();
        (chain, trust)
    })
}

/// A valid proof bundle of the test chain (a seed for `proof_json`).
pub fn sample_bundle() -> String {
    let (chain, _) = test_chain();
    chain.bundle(2, 0, Some(3)).to_json()
}

/// JSON documents a verifier reads from outside: proof bundles, certificate status
/// proofs, saved checkpoints and proposal proofs. Parsing and verifying never panics.
pub fn proof_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (_, trust) = test_chain();
    if let Ok(bundle) = ProofBundle::from_json(text) {
        let _ = chancery_ledger::verify(&bundle, trust, Some(b"contract C"));
    }
    if let Ok(proof) = CertStatusProof::from_json(text) {
        let _ = chancery_ledger::verify::verify_cert_status(&proof, trust);
    }
    if let Ok(saved) = SavedCheckpoint::from_json(text) {
        let _ = chancery_ledger::verify::verify_checkpoint(&saved, trust);
    }
    if let Ok(proof) = ProposalProof::from_json(text) {
        let _ = chancery_ledger::verify::verify_proposal(&proof, trust);
    }
}

/// A PDF evidence report: reading it and checking it against the example's genesis
/// never panics, and what reads as a report holds the three attachments and text.
pub fn pdf_report(data: &[u8]) {
    static GENESIS: OnceLock<chancery_genesis::Genesis> = OnceLock::new();
    let genesis = GENESIS.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/genesis.json");
        chancery_genesis::Genesis::from_json(&std::fs::read_to_string(path).expect("the example genesis"))
            .expect("a valid genesis")
    });
    if let Ok(read) = chancery_court::pdf_read::read(data) {
        assert!(read.pages > 0, "a report read has pages");
    }
    let _ = chancery_court::report::check_pdf(data, genesis, Some(b"contract C"));
}

/// A genesis file: what parses and validates writes out to a file that parses to the
/// same genesis (same hash).
pub fn genesis(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(genesis) = chancery_genesis::Genesis::from_json(text) {
        let again = chancery_genesis::Genesis::from_json(&genesis.to_json()).expect("a written genesis reads back");
        assert_eq!(again.hash(), genesis.hash());
    }
}

/// The store against a model: each pair of input bytes is one step, a block of a few
/// txs, committed with or without an injected write failure after some writes, or a
/// reopen. The store must hold exactly the blocks the model committed, each tx found
/// where it was put; a failed commit leaves nothing and the store refuses writes until
/// it is reopened.
pub fn store_model(data: &[u8]) {
    let (spec, keys) = chain_spec(4);
    let backend = MemoryBackend::new();
    let mut store = ChainStore::open(backend.clone(), &spec, u64::MAX).expect("a new store opens");
    let integrator = key(3, 0);
    let mut model: Vec<Vec<chancery_ledger::Hash>> = Vec::new();
    let mut nonce = 0;
    for (step, op) in data.chunks(2).take(64).enumerate() {
        let (kind, arg) = (op[0], op.get(1).copied().unwrap_or(0));
        if kind % 4 == 3 {
            backend.fail_writes_after(u64::MAX);
            store = ChainStore::open(backend.clone(), &spec, u64::MAX).expect("a store reopens after any failure");
            check(&store, &model);
            continue;
        }
        let txs: Vec<Tx> = (0..arg % 5)
            .map(|i| {
                nonce += 1;
                let body = chancery_ledger::testkit::document_evidence(format!("step {step} doc {i}").as_bytes());
                signed_tx(&integrator, &spec.chain_id, &spec.genesis_hash, body, nonce)
            })
            .collect();
        let hashes: Vec<_> = txs.iter().map(Tx::hash).collect();
        let fail = kind % 4 == 1;
        if fail {
            backend.fail_writes_after(u64::from(arg / 5 % 3));
        }
        let time_ms = 1_767_225_600_000 + 1_000 * (model.len() as u64 + 1);
        match produce_block(&mut store, &keys, txs, time_ms, true) {
            Ok(_) => model.push(hashes),
            Err(StoreError::Backend(_) | StoreError::Poisoned) => {
                assert!(fail, "only injected failures fail a write");
                // Nothing of the failed block is visible; no write is taken until reopen.
                assert_eq!(store.height(), model.len() as u64);
                backend.fail_writes_after(u64::MAX);
                store = ChainStore::open(backend.clone(), &spec, u64::MAX).expect("reopens");
            }
            Err(e) => panic!("step {step}: {e}"),
        }
        backend.fail_writes_after(u64::MAX);
        check(&store, &model);
    }
}

fn check(store: &ChainStore<MemoryBackend>, model: &[Vec<chancery_ledger::Hash>]) {
    assert_eq!(store.height(), model.len() as u64, "the store holds exactly the committed blocks");
    for (height, hashes) in model.iter().enumerate() {
        let block = store.block(height as u64).expect("a committed block is stored");
        let stored: Vec<_> = block.txs.iter().map(Tx::hash).collect();
        assert_eq!(&stored, hashes);
        for (index, hash) in hashes.iter().enumerate() {
            let location = store.tx_location(hash).expect("every committed tx is found");
            assert_eq!((location.height, location.index), (height as u64, index as u32));
        }
    }
}

/// Seeds for each target's corpus: valid inputs the fuzzer starts from.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let (chain, _) = test_chain();
    let mut seeds = Vec::new();
    let (block0, commit0) = &chain.blocks[0];
    seeds.push(("tx", encode(&block0.txs[0])));
    seeds.push(("block", encode(block0)));
    seeds.push(("block", encode(&block0.header)));
    seeds.push(("block", encode(commit0)));
    let proposal = chancery_consensus::wire::WireProposal {
        height: 0,
        round: 1,
        pol_round: Some(0),
        proposer: block0.header.proposer,
        block: block0.clone(),
        signature: chancery_ledger::Signature([3; 64]),
    };
    seeds.push(("p2p_message", encode(&Message::Proposal(proposal.clone()))));
    seeds.push(("p2p_message", encode(&Message::Status { blocks: 7 })));
    seeds.push(("p2p_message", encode(&Message::GetBlock { height: 3 })));
    seeds.push(("p2p_message", encode(&Reply::Block { block: block0.clone(), commit: commit0.clone() })));
    seeds.push((
        "p2p_message",
        encode(&Message::Txs {
            seq: 1,
            txs: chancery_ledger::codec::BoundedVec::new(block0.txs.to_vec()).expect("fits"),
        }),
    ));
    seeds.push(("signer_frame", encode(&RemoteRequest::Identify)));
    seeds.push((
        "signer_frame",
        encode(&RemoteRequest::Sign {
            key: block0.header.proposer,
            height: 4,
            round: 0,
            step: 1,
            message: chancery_ledger::Hash([1; 32]),
        }),
    ));
    seeds.push(("signer_frame", encode(&RemoteReply::Signed(chancery_ledger::Signature([2; 64])))));
    let mut wal = Vec::new();
    let entry = WalEntry::Proposal(proposal);
    let body = encode(&entry);
    wal.extend_from_slice(&(body.len() as u32).to_le_bytes());
    wal.extend_from_slice(&0u64.to_le_bytes());
    let mut hasher = blake3::Hasher::new_derive_key("chancery v1 wal record");
    hasher.update(&wal);
    hasher.update(&body);
    wal.extend_from_slice(&body);
    wal.extend_from_slice(&hasher.finalize().as_bytes()[..16]);
    seeds.push(("wal", wal));
    seeds.push(("guard_file", br#"{"resume_from_height":12}"#.to_vec()));
    seeds.push((
        "guard_file",
        format!(
            r#"{{"height":5,"round":0,"step":1,"message":"{}","signature":"{}","key":"{}"}}"#,
            hex::encode([1; 32]),
            hex::encode([2; 64]),
            hex::encode([3; 32])
        )
        .into_bytes(),
    ));
    let secret = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    seeds.push((
        "key_file",
        format!(
            r#"{{"version":1,"public_key":"{}","secret_key":"{}"}}"#,
            hex::encode(secret.verifying_key().to_bytes()),
            hex::encode(secret.to_bytes())
        )
        .into_bytes(),
    ));
    seeds.push(("proof_json", sample_bundle().into_bytes()));
    seeds.push(("proof_json", chain.saved_checkpoint(3, None).to_json().into_bytes()));
    let (spec, _) = chain_spec(4);
    let mut genesis = chancery_genesis::Genesis::new(spec.chain_id.clone(), 1_767_225_600_000);
    for validator in spec.validators.validators.iter() {
        genesis.add_validator(validator.clone()).expect("validator");
    }
    for member in spec.members {
        genesis.add_member(member).expect("member");
    }
    seeds.push(("genesis", genesis.to_json().into_bytes()));
    seeds.push(("store_model", vec![0, 3, 1, 4, 0, 2, 3, 0, 1, 9, 0, 1]));
    seeds
}

//! Canonical encoding: golden vectors pin the bytes and hash of a fixed sample of every
//! object kind, and hostile input (truncated, trailing, oversized, wrong tags,
//! non-canonical) is refused with an error, never a panic.
//!
//! To change the format on purpose, run with `CHANCERY_BLESS=1` to rewrite
//! `tests/golden.json`, and review that diff as the format change it is.

use std::collections::BTreeMap;
use std::path::Path;

use chancery_ledger::block::{Block, ChainId, Commit, Header, Vote, VoteKind};
use chancery_ledger::codec::{decode, encode, BoundedBytes, BoundedVec, Canonical, DecodeError};
use chancery_ledger::testkit::{document_evidence, key, public, signed_tx, validator_set, TestChain};
use chancery_ledger::tx::{
    CertEvent, CertEventKind, CertRef, DocumentSignature, Evidence, EvidenceKind, RevocationReason, Tx, TxBody,
};
use chancery_ledger::validator::{CaId, ValidatorSet};
use chancery_ledger::{Digest, DigestAlg, HashContext, Signature};

fn chain_id() -> ChainId {
    ChainId::new("golden-1").expect("valid")
}

fn genesis() -> chancery_ledger::Hash {
    HashContext::Genesis.hash(b"golden-1 genesis")
}

fn signing_event_tx() -> Tx {
    let body = TxBody::Evidence(Evidence {
        kind: EvidenceKind::SigningEvent,
        digest: Digest::compute(DigestAlg::Sm3, b"signed contract"),
        refs: BoundedVec::new(vec![HashContext::Tx.hash(b"document tx")]).expect("one ref"),
        meta: Some(HashContext::Tx.hash(b"metadata")),
        claimed_time_ms: Some(1_767_225_600_123),
        cert: Some(CertRef {
            ca: CaId::new("ca-one").expect("id"),
            serial: BoundedBytes::new(vec![0x01, 0x02, 0x03]).expect("serial"),
        }),
        signature: Some(DocumentSignature::hosted(public(&key(6, 0)), Signature([0x5A; 64]))),
    });
    signed_tx(&key(3, 0), &chain_id(), &genesis(), body, 7)
}

fn cert_event_tx() -> Tx {
    let body = TxBody::CertEvent(CertEvent {
        ca: CaId::new("ca-one").expect("id"),
        serial: BoundedBytes::new(vec![0xAB; 20]).expect("serial"),
        cert_digest: Digest::compute(DigestAlg::Sha512, b"certificate der"),
        subject_key: Digest::compute(DigestAlg::Sha256, b"subject key"),
        event: CertEventKind::Revoked { reason: RevocationReason::KeyCompromise, effective_ms: 1_767_225_000_000 },
    });
    signed_tx(&key(4, 0), &chain_id(), &genesis(), body, 1)
}

/// The sample: one object of every kind, built from fixed keys and values, with its
/// canonical bytes and the hash that identifies or is signed for it (a block is
/// identified by its header's hash; a commit's signatures cover its precommit vote).
fn samples() -> Vec<(&'static str, Vec<u8>, chancery_ledger::Hash)> {
    let mut chain = TestChain::new(4);
    chain.chain_id = chain_id();
    chain.genesis_hash = genesis();
    let document = signed_tx(&key(3, 0), &chain_id(), &genesis(), document_evidence(b"contract"), 1);
    let governance = chain.validator_change_tx(4);
    let (block, commit) =
        chain.commit_block(vec![document.clone(), signing_event_tx(), cert_event_tx(), governance.clone()]);
    let vote = Vote {
        chain_id: chain_id(),
        genesis_hash: genesis(),
        height: 3,
        round: 1,
        kind: VoteKind::Prevote,
        block_hash: None,
    };
    let set: ValidatorSet = validator_set(&[key(1, 0), key(1, 1)], 0);
    let proposal = chancery_ledger::ProposalHeader {
        chain_id: chain_id(),
        genesis_hash: genesis(),
        height: 3,
        round: 2,
        pol_round: Some(1),
        block_hash: block.header.hash(),
    };
    vec![
        ("tx_document", encode(&document), document.hash()),
        ("tx_signing_event", encode(&signing_event_tx()), signing_event_tx().hash()),
        ("tx_cert_event", encode(&cert_event_tx()), cert_event_tx().hash()),
        ("tx_governance", encode(&governance), governance.hash()),
        ("header", encode(&block.header), block.header.hash()),
        ("block", encode(&block), block.header.hash()),
        ("commit", encode(&commit), commit.vote(&chain_id(), &genesis()).signing_message()),
        ("vote", encode(&vote), vote.signing_message()),
        ("proposal", encode(&proposal), proposal.signing_message()),
        ("validator_set", encode(&set), set.hash()),
    ]
}

#[test]
fn golden_vectors_pin_bytes_and_hashes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden.json");
    let mut actual = BTreeMap::new();
    for (name, bytes, hash) in samples() {
        let mut entry = BTreeMap::new();
        entry.insert("hex", hex::encode(&bytes));
        entry.insert("hash", hash.to_hex());
        actual.insert(name, entry);
    }
    let rendered = serde_json::to_string_pretty(&actual).expect("json") + "\n";
    if std::env::var_os("CHANCERY_BLESS").is_some() {
        std::fs::write(&path, &rendered).expect("write golden.json");
    }
    let expected = std::fs::read_to_string(&path).expect("tests/golden.json exists; create it with CHANCERY_BLESS=1");
    assert!(
        expected == rendered,
        "canonical encoding changed; if deliberate, rerun with CHANCERY_BLESS=1 and review the diff"
    );
}

/// The vote layout written out by hand from docs/PROOF_FORMAT.md, so the document and
/// the encoder cannot disagree.
#[test]
fn vote_layout_matches_the_documented_bytes() {
    let block = HashContext::Header.hash(b"block");
    let vote = Vote {
        chain_id: chain_id(),
        genesis_hash: genesis(),
        height: 0x0102,
        round: 3,
        kind: VoteKind::Precommit,
        block_hash: Some(block),
    };
    let mut want = Vec::new();
    want.extend_from_slice(&8u64.to_le_bytes());
    want.extend_from_slice(b"golden-1");
    want.extend_from_slice(genesis().as_bytes());
    want.extend_from_slice(&0x0102u64.to_le_bytes());
    want.extend_from_slice(&3u32.to_le_bytes());
    want.extend_from_slice(&1u32.to_le_bytes()); // Precommit is variant 1
    want.push(1); // Some
    want.extend_from_slice(block.as_bytes());
    assert_eq!(encode(&vote), want);
    assert_eq!(vote.signing_message(), HashContext::Vote.hash(&want));
    assert_eq!(vote.signing_message().0, blake3::derive_key("chancery v1 vote", &want));
}

fn assert_rejected<T: Canonical + std::fmt::Debug>(bytes: &[u8], what: &str) -> DecodeError {
    match decode::<T>(bytes) {
        Ok(value) => panic!("{what}: decoded {value:?}"),
        Err(e) => e,
    }
}

fn check_hostile<T: Canonical + std::fmt::Debug + PartialEq>(good: &[u8]) {
    assert!(decode::<T>(good).is_ok(), "{}: the good encoding must decode", T::KIND);
    for cut in 0..good.len() {
        assert_rejected::<T>(&good[..cut], "truncated");
    }
    let mut trailing = good.to_vec();
    trailing.push(0);
    assert!(matches!(assert_rejected::<T>(&trailing, "trailing"), DecodeError::TrailingBytes { extra: 1, .. }));
    let oversized = vec![0u8; T::BYTES_MAX + 1];
    assert!(matches!(assert_rejected::<T>(&oversized, "oversized"), DecodeError::TooLarge { .. }));
    // Every single-byte change either fails to decode or decodes to a different value
    // that re-encodes to exactly the changed bytes (never a panic, never two encodings of
    // one value).
    let original = decode::<T>(good).expect("good");
    for i in 0..good.len() {
        for delta in [1u8, 0x80, 0xFF] {
            let mut changed = good.to_vec();
            changed[i] = changed[i].wrapping_add(delta);
            if let Ok(value) = decode::<T>(&changed) {
                assert_ne!(value, original);
                assert_eq!(encode(&value), changed);
            }
        }
    }
}

#[test]
fn hostile_input_to_every_decoder_is_an_error_not_a_panic() {
    let mut chain = TestChain::new(4);
    let governance = chain.validator_change_tx(4);
    let (block, commit) = chain.commit_block(vec![signing_event_tx(), cert_event_tx()]);
    check_hostile::<Tx>(&encode(&signing_event_tx()));
    check_hostile::<Tx>(&encode(&cert_event_tx()));
    check_hostile::<Tx>(&encode(&governance));
    check_hostile::<Header>(&encode(&block.header));
    check_hostile::<Commit>(&encode(&commit));
    check_hostile::<Block>(&encode(&block));
    check_hostile::<ValidatorSet>(&encode(&chain.validators));
    check_hostile::<Vote>(&encode(&Vote {
        chain_id: chain_id(),
        genesis_hash: genesis(),
        height: 1,
        round: 0,
        kind: VoteKind::Prevote,
        block_hash: None,
    }));
}

#[test]
fn lengths_above_named_limits_are_refused_before_reading() {
    // A tx whose chain id claims 2^40 bytes.
    let mut bytes = (1u64 << 40).to_le_bytes().to_vec();
    bytes.extend_from_slice(&[b'a'; 64]);
    let err = assert_rejected::<Tx>(&bytes, "huge chain id");
    assert!(err.to_string().contains("exceeds the limit"), "{err}");
    // A block claiming more txs than a block may hold.
    let mut chain = TestChain::new(1);
    let (block, _) = chain.commit_block(Vec::new());
    let mut bytes = encode(&block.header);
    bytes.extend_from_slice(&(u64::MAX).to_le_bytes());
    let err = assert_rejected::<Block>(&bytes, "huge tx list");
    assert!(err.to_string().contains("exceeds the limit"), "{err}");
    // A commit with 129 signatures (more than any validator set).
    let mut bytes = encode(&0u64);
    bytes.extend_from_slice(&encode(&0u32));
    bytes.extend_from_slice(&[0; 32]);
    bytes.extend_from_slice(&129u64.to_le_bytes());
    bytes.extend_from_slice(&vec![0; 129 * 96]);
    assert_rejected::<Commit>(&bytes, "too many signatures");
}

#[test]
fn wrong_enum_tags_bad_flags_and_bad_text_are_refused() {
    let tx = encode(&signing_event_tx());
    // Layout: chain id (8 + 8 bytes), then the TxBody tag (u32).
    let mut bad_body = tx.clone();
    bad_body[16..20].copy_from_slice(&7u32.to_le_bytes());
    let err = assert_rejected::<Tx>(&bad_body, "unknown body tag");
    assert!(err.to_string().contains("unknown tag 7"), "{err}");
    // The evidence kind tag follows the body tag.
    let mut bad_kind = tx.clone();
    bad_kind[20..24].copy_from_slice(&99u32.to_le_bytes());
    assert_rejected::<Tx>(&bad_kind, "unknown evidence kind");
    // The digest algorithm tag, then its length: an SM3 digest claiming 64 bytes.
    let mut bad_len = tx.clone();
    bad_len[28..36].copy_from_slice(&64u64.to_le_bytes());
    let err = assert_rejected::<Tx>(&bad_len, "digest length");
    assert!(err.to_string().contains("sm3 digest is 32 bytes"), "{err}");
    // A chain id with a space in it.
    let mut bad_chain = tx.clone();
    bad_chain[8] = b' ';
    assert_rejected::<Tx>(&bad_chain, "bad chain id");
    // Option tag 2.
    let vote = encode(&Vote {
        chain_id: chain_id(),
        genesis_hash: genesis(),
        height: 1,
        round: 0,
        kind: VoteKind::Prevote,
        block_hash: None,
    });
    let mut bad_option = vote.clone();
    let last = bad_option.len() - 1;
    bad_option[last] = 2;
    assert_rejected::<Vote>(&bad_option, "option tag 2");
    // Invalid UTF-8 in a name.
    let set = validator_set(&[key(1, 0)], 0);
    let mut bytes = encode(&set);
    bytes[16] = 0xFF; // first byte of the first validator's name
    assert_rejected::<ValidatorSet>(&bytes, "invalid UTF-8");
    // Keys are bytes; an invalid point decodes but never verifies.
    let mut tx = signing_event_tx();
    let mut off_curve = [0u8; 32];
    off_curve[0] = 2; // y = 2 is not the y-coordinate of any point on the curve
    tx.signer = chancery_ledger::PublicKey(off_curve);
    assert!(!tx.signer.is_valid());
    assert!(tx.verify_signature(&genesis()).is_err());
    assert!(!public(&key(1, 0)).to_hex().is_empty());
}

mod fuzz {
    //! Random bytes and randomly damaged encodings for every decoder: an error or a value
    //! that re-encodes to exactly the input; never a panic.
    use super::*;
    use proptest::prelude::*;

    fn check<T: Canonical + std::fmt::Debug>(bytes: &[u8]) -> Result<(), TestCaseError> {
        if let Ok(value) = decode::<T>(bytes) {
            prop_assert_eq!(encode(&value), bytes.to_vec());
        }
        Ok(())
    }

    fn all(bytes: &[u8]) -> Result<(), TestCaseError> {
        check::<Tx>(bytes)?;
        check::<Header>(bytes)?;
        check::<Block>(bytes)?;
        check::<Commit>(bytes)?;
        check::<Vote>(bytes)?;
        check::<ValidatorSet>(bytes)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            all(&bytes)?;
        }

        #[test]
        fn damaged_encodings(which in 0usize..4, edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6)) {
            let mut chain = TestChain::new(2);
            let (block, commit) = chain.commit_block(vec![signing_event_tx(), cert_event_tx()]);
            let mut bytes = match which {
                0 => encode(&signing_event_tx()),
                1 => encode(&block),
                2 => encode(&commit),
                _ => encode(&chain.validators),
            };
            for (position, byte, op) in edits {
                let at = position % (bytes.len() + 1);
                match op {
                    0 if at < bytes.len() => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ if at < bytes.len() => { bytes.remove(at); }
                    _ => {}
                }
            }
            all(&bytes)?;
        }
    }
}

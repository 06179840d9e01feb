//! Mempool admission, bounds and block order; block production from the pool.

use chancery_consensus::host::mempool::{Mempool, MempoolLimits, PoolStatus, SubmitError};
use chancery_consensus::host::produce::build_block;
use chancery_ledger::state::{BlockContext, TxError};
use chancery_ledger::store::memory::MemoryBackend;
use chancery_ledger::store::{ChainStore, StoreWriter};
use chancery_ledger::testkit::{chain_spec, document_evidence, key, public, seal_block, signed_tx};
use chancery_ledger::{ChainId, Tx};

const LIMITS: MempoolLimits =
    MempoolLimits { txs_max: 1000, bytes_max: 1 << 20, per_submitter_txs_max: 600, per_submitter_bytes_max: 1 << 19 };

fn setup() -> (StoreWriter<MemoryBackend>, BlockContext, Vec<ed25519_dalek::SigningKey>) {
    let (spec, keys) = chain_spec(1);
    let store = ChainStore::open(MemoryBackend::new(), &spec, 10).expect("store");
    let ctx = BlockContext { chain_id: spec.chain_id.clone(), height: 0, time_ms: 1_800_000_000_000 };
    (store, ctx, keys)
}

fn genesis() -> chancery_ledger::Hash {
    chain_spec(1).0.genesis_hash
}

fn evidence(chain: &ChainId, n: u64) -> Tx {
    signed_tx(&key(3, 0), chain, &genesis(), document_evidence(format!("document {n}").as_bytes()), n)
}

#[test]
fn admits_valid_txs_and_names_each_refusal() {
    let (store, ctx, _) = setup();
    let pool = Mempool::new(LIMITS, genesis());
    let chain = ctx.chain_id.clone();
    let mut bad_signature = evidence(&chain, 2);
    bad_signature.signature.0[3] ^= 1;
    let wrong_chain = evidence(&ChainId::new("other-chain").expect("id"), 3);
    let stranger = signed_tx(&key(7, 7), &chain, &genesis(), document_evidence(b"x"), 1);
    let not_permitted = signed_tx(&key(4, 0), &chain, &genesis(), document_evidence(b"ca anchoring a document"), 1);
    let txs = vec![evidence(&chain, 1), bad_signature, wrong_chain, stranger, not_permitted, evidence(&chain, 1)];
    let results = pool.submit(&*store, &ctx, txs.clone());
    assert_eq!(results[0], Ok(txs[0].hash()));
    assert!(matches!(results[1], Err(SubmitError::Invalid(TxError::BadSignature(_)))), "{:?}", results[1]);
    assert!(matches!(results[2], Err(SubmitError::Invalid(TxError::WrongChain { .. }))), "{:?}", results[2]);
    assert!(matches!(results[3], Err(SubmitError::Invalid(TxError::UnknownSigner { .. }))), "{:?}", results[3]);
    assert!(matches!(results[4], Err(SubmitError::Invalid(TxError::NotPermitted { .. }))), "{:?}", results[4]);
    // The same tx twice: one copy.
    assert_eq!(results[5], Ok(txs[0].hash()));
    assert_eq!(pool.size().0, 1);
    // Another tx with a pending nonce is refused, naming the pending one.
    let twin = signed_tx(&key(3, 0), &chain, &genesis(), document_evidence(b"other content"), 1);
    let again = pool.submit(&*store, &ctx, vec![twin]);
    assert!(matches!(&again[0], Err(SubmitError::NoncePending { nonce: 1, .. })), "{:?}", again[0]);
    assert_eq!(pool.status(&txs[0].hash()), PoolStatus::Pending);
}

#[test]
fn large_batches_are_verified_in_parallel_and_one_bad_signature_is_found() {
    let (store, ctx, _) = setup();
    let pool = Mempool::new(LIMITS, genesis());
    let mut txs: Vec<Tx> = (1..=300).map(|n| evidence(&ctx.chain_id, n)).collect();
    txs[123].signature.0[40] ^= 4;
    let results = pool.submit(&*store, &ctx, txs);
    let refused: Vec<usize> = results.iter().enumerate().filter(|(_, r)| r.is_err()).map(|(i, _)| i).collect();
    assert_eq!(refused, vec![123]);
    assert_eq!(pool.size().0, 299);
}

#[test]
fn bounds_answer_full_instead_of_growing() {
    let (store, ctx, _) = setup();
    let limits =
        MempoolLimits { txs_max: 10, bytes_max: 1 << 20, per_submitter_txs_max: 4, per_submitter_bytes_max: 1 << 20 };
    let pool = Mempool::new(limits, genesis());
    let results = pool.submit(&*store, &ctx, (1..=6).map(|n| evidence(&ctx.chain_id, n)).collect());
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 4);
    assert!(matches!(&results[5], Err(SubmitError::Full(m)) if m.contains("per-submitter")), "{:?}", results[5]);
    assert!(results[5].as_ref().expect_err("refused").to_string().contains("retry"));
    let byte_limited = Mempool::new(MempoolLimits { bytes_max: 500, ..LIMITS }, genesis());
    let results = byte_limited.submit(&*store, &ctx, (1..=6).map(|n| evidence(&ctx.chain_id, n)).collect());
    let (txs, bytes) = byte_limited.size();
    assert!(txs < 6 && bytes <= 500, "{txs} txs, {bytes} bytes");
    assert!(results.iter().any(|r| matches!(r, Err(SubmitError::Full(_)))));
}

#[test]
fn blocks_take_each_submitters_txs_in_nonce_order_and_commit() {
    let (mut store, ctx, keys) = setup();
    let pool = Mempool::new(LIMITS, genesis());
    // Nonces arrive out of order across two submissions.
    let late: Vec<Tx> = (5..=8).map(|n| evidence(&ctx.chain_id, n)).collect();
    let early: Vec<Tx> = (1..=4).rev().map(|n| evidence(&ctx.chain_id, n)).collect();
    assert!(pool.submit(&*store, &ctx, late).iter().all(Result::is_ok));
    assert!(pool.submit(&*store, &ctx, early).iter().all(Result::is_ok));
    let proposer = public(&keys[0]);
    let built = build_block(&store, &pool, proposer, ctx.time_ms).expect("build");
    let nonces: Vec<u64> = built.block.txs.iter().map(|t| t.nonce).collect();
    assert_eq!(nonces, (1..=8).collect::<Vec<_>>());
    // Committing the built block with its kept changes needs no second execution.
    let (_, commit) = seal_block(&store, &keys, built.block.txs.to_vec(), ctx.time_ms, &built.changes).expect("seal");
    let commit = chancery_ledger::Commit { block_hash: built.block.header.hash(), ..commit };
    let commit = resign(commit, &keys, &ctx.chain_id);
    store.commit_block(&built.block, &commit, &built.changes).expect("commit");
    let hashes: Vec<_> = built.block.txs.iter().map(Tx::hash).collect();
    pool.remove_committed(&hashes);
    assert_eq!(pool.size(), (0, 0));
    // A replayed committed tx is refused as a duplicate; a new tx with a used nonce as stale.
    let ctx1 = BlockContext { height: 1, ..ctx.clone() };
    let stale = signed_tx(&key(3, 0), &ctx.chain_id, &genesis(), document_evidence(b"new content"), 3);
    let replay = pool.submit(&*store, &ctx1, vec![evidence(&ctx.chain_id, 3), stale]);
    assert!(matches!(&replay[0], Err(SubmitError::Invalid(TxError::Duplicate { .. }))), "{:?}", replay[0]);
    assert!(matches!(&replay[1], Err(SubmitError::Invalid(TxError::StaleNonce { .. }))), "{:?}", replay[1]);
}

fn resign(
    mut commit: chancery_ledger::Commit,
    keys: &[ed25519_dalek::SigningKey],
    chain: &ChainId,
) -> chancery_ledger::Commit {
    let message = commit.vote(chain, &genesis()).signing_message();
    let sigs: Vec<_> = keys
        .iter()
        .map(|k| chancery_ledger::CommitSig {
            validator: public(k),
            signature: chancery_ledger::testkit::sign(k, &message),
        })
        .collect();
    commit.signatures = chancery_ledger::codec::BoundedVec::new(sigs).expect("sigs");
    commit
}

#[test]
fn a_tx_the_state_no_longer_accepts_is_dropped_with_its_reason() {
    let (mut store, ctx, keys) = setup();
    let pool = Mempool::new(LIMITS, genesis());
    let tx = evidence(&ctx.chain_id, 1);
    assert!(pool.submit(&*store, &ctx, vec![tx.clone()])[0].is_ok());
    // The same nonce gets committed by another path (another node's block).
    let other = signed_tx(&key(3, 0), &ctx.chain_id, &genesis(), document_evidence(b"elsewhere"), 1);
    chancery_ledger::testkit::produce_block(&mut store, &keys, vec![other], ctx.time_ms, false).expect("block");
    let built = build_block(&store, &pool, public(&keys[0]), ctx.time_ms + 1).expect("build");
    assert!(built.block.txs.is_empty());
    match pool.status(&tx.hash()) {
        PoolStatus::Dropped(reason) => assert!(reason.contains("nonce"), "{reason}"),
        other => panic!("expected dropped, got {other:?}"),
    }
}

#[test]
fn a_synced_blocks_signatures_are_checked_in_batches() {
    let (_, ctx, _) = setup();
    let pool = Mempool::new(LIMITS, genesis());
    let mut txs: Vec<Tx> = (1..=700).map(|n| evidence(&ctx.chain_id, n)).collect();
    assert!(pool.verify_all(&txs));
    assert!(pool.verify_all(&[]));
    txs[650].signature.0[33] ^= 2;
    assert!(!pool.verify_all(&txs));
    // Nothing was admitted by checking.
    assert_eq!(pool.size(), (0, 0));
}

//! Ledger benchmarks: tx tree, history tree and bundle verification, next to the raw
//! BLAKE3 and Ed25519 rates measured in the same run, so the overhead over the raw crypto
//! shows as a ratio. Run with `cargo bench -p chancery-ledger`.

use std::hint::black_box;

use chancery_ledger::history::{verify_block_in_history, Blake3History, HistoryTree};
use chancery_ledger::testkit::{key, public, sign, TestChain};
use chancery_ledger::tx_tree::TxTree;
use chancery_ledger::verify::verify;
use chancery_ledger::{Hash, HashContext};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ed25519_dalek::{Signature, VerifyingKey};

fn hashes(n: u64) -> Vec<Hash> {
    (0..n).map(|i| HashContext::Tx.hash(&i.to_le_bytes())).collect()
}

fn raw_crypto(c: &mut Criterion) {
    let mut group = c.benchmark_group("raw");
    group.throughput(Throughput::Elements(1));
    let block = [7u8; 64];
    group.bench_function("blake3_hash_64_bytes", |b| b.iter(|| blake3::hash(black_box(&block))));
    group.bench_function("blake3_derive_key_64_bytes", |b| b.iter(|| HashContext::TxTreeNode.hash(black_box(&block))));
    let signer = key(1, 0);
    let message = HashContext::Tx.hash(b"message");
    let signature = Signature::from_bytes(&sign(&signer, &message).0);
    let verifying = signer.verifying_key();
    group.bench_function("ed25519_verify_strict", |b| {
        b.iter(|| verifying.verify_strict(black_box(message.as_bytes()), &signature))
    });
    let n = 64;
    let keys: Vec<_> = (0..n).map(|i| key(5, i as u16)).collect();
    let messages: Vec<Hash> = (0..n).map(|i| HashContext::Tx.hash(&[i as u8])).collect();
    let signatures: Vec<Signature> =
        keys.iter().zip(&messages).map(|(k, m)| Signature::from_bytes(&sign(k, m).0)).collect();
    let verifying: Vec<VerifyingKey> =
        keys.iter().map(|k| VerifyingKey::from_bytes(&public(k).0).expect("valid key")).collect();
    let message_refs: Vec<&[u8]> = messages.iter().map(|m| m.as_bytes().as_slice()).collect();
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("ed25519_verify_batch_64", |b| {
        b.iter(|| ed25519_dalek::verify_batch(black_box(&message_refs), &signatures, &verifying))
    });
    group.finish();
}

fn tx_tree(c: &mut Criterion) {
    let mut group = c.benchmark_group("tx_tree");
    group.sample_size(10);
    for n in [1_000u64, 10_000, 100_000] {
        let txs = hashes(n);
        group.throughput(Throughput::Elements(n));
        group.bench_function(format!("build_{n}"), |b| b.iter(|| TxTree::new(black_box(&txs)).root()));
    }
    let txs = hashes(10_000);
    let tree = TxTree::new(&txs);
    let root = tree.root();
    group.throughput(Throughput::Elements(1));
    group.bench_function("proof_10k", |b| b.iter(|| tree.proof(black_box(4_321))));
    let proof = tree.proof(4_321).expect("in range");
    group.bench_function("verify_10k", |b| b.iter(|| proof.verify(black_box(&txs[4_321]), &root)));
    group.finish();
}

fn history(c: &mut Criterion) {
    const SIZE: u64 = 1 << 20;
    let mut group = c.benchmark_group("history_1m");
    group.sample_size(10);
    let blocks = hashes(SIZE);
    let mut tree = HistoryTree::<Blake3History>::new();
    for h in &blocks {
        tree.append_block(h);
    }
    let root = tree.bound_root_at(SIZE).expect("size");
    group.throughput(Throughput::Elements(1));
    group.bench_function("append", |b| {
        b.iter_batched(|| HashContext::Header.hash(b"next"), |h| tree.append_block(&h), BatchSize::SmallInput)
    });
    group.bench_function("inclusion_proof", |b| b.iter(|| tree.inclusion_proof(black_box(123_457), SIZE)));
    let proof = tree.inclusion_proof(123_457, SIZE).expect("in range");
    group.bench_function("inclusion_verify", |b| {
        b.iter(|| verify_block_in_history(black_box(123_457), &blocks[123_457], SIZE, &proof, &root))
    });
    group.bench_function("consistency_proof", |b| b.iter(|| tree.history_consistency(black_box(654_321), SIZE)));
    let consistency = tree.history_consistency(654_321, SIZE).expect("sizes");
    let old_root = tree.bound_root_at(654_321).expect("size");
    group.bench_function("consistency_verify", |b| {
        b.iter(|| consistency.verify(black_box(654_321), SIZE, &old_root, &root))
    });
    group.finish();
}

fn bundles(c: &mut Criterion) {
    let mut group = c.benchmark_group("bundle_verify");
    group.throughput(Throughput::Elements(1));
    for n in [4usize, 16] {
        let mut chain = TestChain::new(n);
        let txs: Vec<_> = (0..1_000u32).map(|i| chain.evidence_tx(&i.to_le_bytes())).collect();
        chain.commit_block(txs);
        chain.commit_block(Vec::new());
        let bundle = chain.bundle(0, 500, Some(1));
        let trust = chain.trust_root();
        group.bench_function(format!("{n}_validators"), |b| {
            b.iter(|| verify(black_box(&bundle), &trust, None).expect("valid"))
        });
    }
    // The cost of validator-set changes in a bundle: each carries the header that
    // committed it, its commit and the new set.
    for changes in [0u64, 10] {
        let mut chain = TestChain::new(4);
        for _ in 0..changes {
            let tx = chain.validator_change_tx(4);
            chain.commit_block(vec![tx]);
        }
        let doc = chain.evidence_tx(b"after the changes");
        chain.commit_block(vec![doc]);
        let bundle = chain.bundle(changes, 0, None);
        let trust = chain.trust_root();
        eprintln!("bundle carrying {changes} validator-set changes: {} bytes of JSON", bundle.to_json().len());
        group.bench_function(format!("{changes}_set_changes"), |b| {
            b.iter(|| verify(black_box(&bundle), &trust, None).expect("valid"))
        });
    }
    group.finish();
}

criterion_group!(benches, raw_crypto, tx_tree, history, bundles);
criterion_main!(benches);

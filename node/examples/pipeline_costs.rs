//! Where a tx's time goes inside the node, stage by stage, on a real RocksDB store
//! (no RPC): mempool admission (batch signature checks, state checks), block building,
//! commit. `cargo run --release -p chancery-node --example pipeline_costs`

use std::time::Instant;

use chancery_consensus::host::mempool::{Mempool, MempoolLimits};
use chancery_consensus::host::produce::build_block;
use chancery_ledger::state::BlockContext;
use chancery_ledger::store::ChainStore;
use chancery_ledger::testkit::{chain_spec, document_evidence, key, public, sign, signed_tx};
use chancery_ledger::{Commit, CommitSig, Tx};
use chancery_node::rocks::RocksBackend;

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (spec, keys) = chain_spec(1);
    let mut store = ChainStore::open(RocksBackend::open(dir.path()).expect("rocks"), &spec, 10).expect("store");
    let pool = Mempool::new(
        MempoolLimits {
            txs_max: 1_000_000,
            bytes_max: 1 << 30,
            per_submitter_txs_max: 1_000_000,
            per_submitter_bytes_max: 1 << 30,
        },
        spec.genesis_hash,
    );
    let blocks = 10;
    let per_block = 10_000;
    let (mut admit, mut build, mut commit) = (0.0, 0.0, 0.0);
    let mut nonce = 0;
    for b in 0..blocks {
        let txs: Vec<Tx> = (0..per_block)
            .map(|i| {
                nonce += 1;
                signed_tx(
                    &key(3, 0),
                    &spec.chain_id,
                    &spec.genesis_hash,
                    document_evidence(format!("doc {b} {i}").as_bytes()),
                    nonce,
                )
            })
            .collect();
        let time_ms = 1_800_000_000_000 + b;
        let ctx = BlockContext { chain_id: spec.chain_id.clone(), height: store.height(), time_ms };
        let start = Instant::now();
        for chunk in txs.chunks(500) {
            let results = pool.submit(&*store, &ctx, chunk.to_vec());
            assert!(results.iter().all(Result::is_ok));
        }
        admit += start.elapsed().as_secs_f64();
        let start = Instant::now();
        let built = build_block(&store, &pool, public(&keys[0]), time_ms).expect("build");
        build += start.elapsed().as_secs_f64();
        assert_eq!(built.block.txs.len(), per_block);
        let mut c = Commit {
            height: built.block.header.height,
            round: 0,
            block_hash: built.block.header.hash(),
            signatures: Default::default(),
        };
        let message = c.vote(&spec.chain_id, &spec.genesis_hash).signing_message();
        c.signatures = chancery_ledger::codec::BoundedVec::new(vec![CommitSig {
            validator: public(&keys[0]),
            signature: sign(&keys[0], &message),
        }])
        .expect("one");
        let start = Instant::now();
        store.commit_block(&built.block, &c, &built.changes).expect("commit");
        let hashes: Vec<_> = built.block.txs.iter().map(Tx::hash).collect();
        pool.remove_committed(&hashes);
        commit += start.elapsed().as_secs_f64();
    }
    let n = blocks as f64 * per_block as f64;
    println!("per tx, {} blocks of {per_block}:", blocks);
    println!("  admission (batch verify on all cores + state checks): {:.2} µs wall", admit / n * 1e6);
    println!("  block building:                                     {:.2} µs", build / n * 1e6);
    println!("  commit (store batch, synced) + pool cleanup:        {:.2} µs", commit / n * 1e6);
}

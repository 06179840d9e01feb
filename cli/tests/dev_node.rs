//! The dev chain as users run it: a real `chancery dev` process, real RocksDB on disk,
//! the real JSON-RPC over loopback.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chancery_ledger::{Hash, Tx};
use chancery_rpc::txs::{clock_nonce, tx_hex};
use chancery_rpc::types::{SubmitOutcome, TxStatus};
use chancery_rpc::{ChanceryApiClient, ErrorCode};
use support::{doc_txs, runtime, DevNode};

async fn client(node: &DevNode) -> chancery_rpc::Client {
    chancery_rpc::connect(&node.ws(), Duration::from_secs(120)).await.expect("connect")
}

/// Submits `txs` in batches of `batch` on one connection; returns the accepted hashes.
async fn submit_all(client: &chancery_rpc::Client, txs: &[Tx], batch: usize) -> Vec<Hash> {
    let mut accepted = Vec::with_capacity(txs.len());
    for chunk in txs.chunks(batch) {
        let mut pending: Vec<&Tx> = chunk.iter().collect();
        while !pending.is_empty() {
            let outcomes = client.submit_batch(pending.iter().map(|t| tx_hex(t)).collect()).await.expect("submit");
            let mut retry = Vec::new();
            for (tx, outcome) in pending.iter().zip(outcomes) {
                match outcome {
                    SubmitOutcome::Accepted { tx_hash } => accepted.push(tx_hash),
                    SubmitOutcome::Refused { error } if error.code == ErrorCode::MempoolFull.code() => retry.push(*tx),
                    SubmitOutcome::Refused { error } => panic!("refused: {error:?}"),
                }
            }
            if !retry.is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            pending = retry;
        }
    }
    accepted
}

async fn wait_committed(client: &chancery_rpc::Client, hashes: &[Hash], within: Duration) {
    let deadline = Instant::now() + within;
    for hash in hashes {
        loop {
            match client.status(*hash).await.expect("status").status {
                TxStatus::Committed { .. } => break,
                TxStatus::Pending => {}
                other => panic!("tx {hash} is {other:?}"),
            }
            assert!(Instant::now() < deadline, "tx {hash} not committed in time");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Fetches the proof of every tx over 4 connections and verifies it offline.
async fn verify_all(node: &DevNode, hashes: &[Hash], trust: &chancery_ledger::TrustRoot) {
    let mut fetchers = Vec::new();
    for slice in hashes.chunks(hashes.len().div_ceil(4).max(1)) {
        let slice = slice.to_vec();
        let c = client(node).await;
        let trust = trust.clone();
        fetchers.push(tokio::spawn(async move {
            for hash in slice {
                let bundle = c.proof(hash, None).await.unwrap_or_else(|e| panic!("proof of tx {hash}: {e}"));
                let report = chancery_ledger::verify(&bundle, &trust, None).expect("verifies offline");
                assert_eq!(report.tx_hash, hash);
            }
        }));
    }
    for f in fetchers {
        f.await.expect("proofs");
    }
}

#[test]
fn ten_thousand_records_commit_and_their_proofs_verify_offline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("dev"));
    let trust = node.genesis().trust_root();
    let keys = node.submitter_keys();
    let rt = runtime();
    rt.block_on(async {
        let info = client(&node).await.info().await.expect("info");
        let chain = info.identity().expect("chain");
        let per_key = 10_000 / keys.len();
        let base = clock_nonce();
        let mut tasks = Vec::new();
        for (k, key) in keys.iter().enumerate() {
            let txs = doc_txs(key, &chain, &format!("e2e {k}"), base, per_key);
            let c = client(&node).await;
            tasks.push(tokio::spawn(async move { submit_all(&c, &txs, 500).await }));
        }
        let mut hashes = Vec::new();
        for t in tasks {
            hashes.extend(t.await.expect("submitter"));
        }
        assert_eq!(hashes.len(), 10_000);
        assert_eq!(hashes.iter().collect::<HashSet<_>>().len(), 10_000);
        let c = client(&node).await;
        wait_committed(&c, &hashes, Duration::from_secs(300)).await;
        // Every proof, fetched over RPC, verifies offline against the genesis alone.
        verify_all(&node, &hashes, &trust).await;
    });
    let status = node.stop();
    assert!(status.success(), "dev node exit: {status:?}");
}

#[test]
fn sigkill_under_load_loses_no_committed_tx_and_the_chain_continues() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = match std::env::var_os("CHANCERY_KEEP_CRASH_HOME") {
        Some(keep) => std::path::PathBuf::from(keep),
        None => dir.path().join("dev"),
    };
    let mut node = DevNode::start(&home);
    let trust = node.genesis().trust_root();
    let key = node.key("bench/submitter-0.key");
    let rt = runtime();
    let mut all_committed: Vec<Hash> = Vec::new();
    // Kills at different points of the block cycle.
    for (round, run_ms) in [1_500u64, 2_300, 900, 3_100].into_iter().enumerate() {
        let committed = Arc::new(Mutex::new(Vec::new()));
        let height_before = rt.block_on(async {
            let c = client(&node).await;
            let info = c.info().await.expect("info");
            let chain = info.identity().expect("chain");
            // Watch commits: what the node reports committed before the kill.
            let mut sub = c.subscribe_committed().await.expect("subscribe");
            let seen = committed.clone();
            tokio::spawn(async move {
                while let Some(Ok(block)) = sub.next().await {
                    seen.lock().expect("lock").extend(block.tx_hashes);
                }
            });
            let load = client(&node).await;
            let key = key.clone();
            tokio::spawn(async move {
                let mut base = clock_nonce();
                // About 2,000 txs a second, in small batches: blocks commit all the time.
                loop {
                    let txs = doc_txs(&key, &chain, &format!("crash round {round} {base}"), base, 50);
                    base += 50;
                    if load.submit_batch(txs.iter().map(tx_hex).collect()).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
            });
            tokio::time::sleep(Duration::from_millis(run_ms)).await;
            info.blocks
        });
        node.kill();
        let reported: Vec<Hash> = committed.lock().expect("lock").clone();
        assert!(!reported.is_empty(), "round {round}: nothing committed under load");
        all_committed.extend(reported);
        node = DevNode::start(&home);
        rt.block_on(async {
            verify_all(&node, &all_committed, &trust).await;
            let c = client(&node).await;
            // The chain goes on: a new tx commits at a height above what was seen.
            let chain = c.info().await.expect("info").identity().expect("chain");
            let tx = doc_txs(&key, &chain, &format!("after restart {round}"), clock_nonce(), 1);
            let hash = c.submit(tx_hex(&tx[0])).await.expect("submit after restart");
            wait_committed(&c, &[hash], Duration::from_secs(30)).await;
            let info = c.info().await.expect("info");
            assert!(info.blocks > height_before, "round {round}: chain did not continue");
        });
    }
    assert!(node.stop().success());
}

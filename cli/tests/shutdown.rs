//! Stopping under load: a dev node and a whole testnet (`chancery testnet run`, Ctrl-C
//! to its process group) stop with exit status 0, every thread joined and the store
//! closed; no node aborts in native code at exit.

mod support;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chancery_rpc::txs::{clock_nonce, tx_hex};
use chancery_rpc::ChanceryApiClient;
use support::DevNode;

/// What a node's log must not hold after it stopped, and must hold.
fn assert_closed_cleanly(log: &Path) {
    let text = std::fs::read_to_string(log).expect("log");
    for abort in ["pthread lock", "terminate called", "panicked", "Aborted"] {
        assert!(!text.contains(abort), "{}: {abort}\n{}", log.display(), &text[text.len().saturating_sub(2000)..]);
    }
    assert!(text.contains("store closed"), "{}: the store was closed", log.display());
}

/// Submits documents to `url` until `stop` is set, from each bench submitter key.
fn load(url: String, home: &Path, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    let keys = support::bench_keys(home);
    let chain = support::chain_of(home);
    std::thread::spawn(move || {
        let rt = support::runtime();
        rt.block_on(async {
            let Ok(client) = chancery_rpc::connect(&url, Duration::from_secs(10)).await else { return 0 };
            let mut sent = 0;
            let mut round = 0;
            while !stop.load(Ordering::SeqCst) {
                let key = &keys[round % keys.len()];
                let txs = support::doc_txs(key, &chain, &format!("load {round}"), clock_nonce(), 200);
                if client.submit_batch(txs.iter().map(tx_hex).collect()).await.is_err() {
                    break;
                }
                sent += 200;
                round += 1;
            }
            sent
        })
    })
}

#[test]
fn a_loaded_dev_node_stops_with_status_zero_and_its_store_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("dev");
    let node = DevNode::start(&home);
    let stop = Arc::new(AtomicBool::new(false));
    let loader = load(node.ws(), &home, stop.clone());
    std::thread::sleep(Duration::from_secs(3));
    let status = node.stop();
    stop.store(true, Ordering::SeqCst);
    assert!(loader.join().expect("load") > 0, "the node was under load");
    assert!(status.success(), "exit status {status}");
    assert_closed_cleanly(&home.with_extension("log"));
}

#[test]
fn a_loaded_testnet_stops_on_ctrl_c_with_every_status_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = support::testnet::init(dir.path());
    // Its own process group, as a terminal gives a foreground job: Ctrl-C reaches
    // `testnet run` and every node.
    let mut run = Command::new(env!("CARGO_BIN_EXE_chancery"))
        .args(["testnet", "run"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("testnet run");
    let rt = support::runtime();
    let operator = format!("ws://127.0.0.1:{base}");
    let deadline = Instant::now() + Duration::from_secs(60);
    rt.block_on(async {
        loop {
            assert!(Instant::now() < deadline, "the testnet did not start");
            if let Ok(client) = chancery_rpc::connect(&operator, Duration::from_secs(5)).await {
                if client.info().await.is_ok_and(|i| i.blocks >= 2) {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let stop = Arc::new(AtomicBool::new(false));
    let loader = load(operator, dir.path(), stop.clone());
    std::thread::sleep(Duration::from_secs(3));
    let group = format!("-{}", run.id());
    assert!(Command::new("kill").args(["-INT", "--", &group]).status().expect("kill").success());
    let output = {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if run.try_wait().expect("wait").is_some() {
                break run.wait_with_output().expect("output");
            }
            assert!(Instant::now() < deadline, "testnet run did not end");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    stop.store(true, Ordering::SeqCst);
    assert!(loader.join().expect("load") > 0, "the testnet was under load");
    let (out, err) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "testnet run: {}\n{out}{err}", output.status);
    assert!(out.contains("stopped cleanly"), "{out}{err}");
    for name in support::testnet::NAMES {
        assert_closed_cleanly(&dir.path().join(name).join("node.log"));
    }
}

//! A hosted signature never exists without its committed signing event: on a testnet
//! that has lost its quorum, `signer_signDigest` waits for the event, then answers a
//! retryable error and no signature, and the usage log records the use as pending, then
//! withheld; with the quorum back, a call returns the signature only once its event is
//! committed (pending, then committed with its height).

mod support;

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use support::testnet::{testnet, wait_blocks};

fn chancery(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chancery")).args(args).output().expect("run chancery")
}

fn usage(home: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(home.join("hosted/usage.log")).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

#[test]
fn a_hosted_signature_leaves_only_with_its_committed_signing_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut nodes = testnet(dir.path());
    let operator = nodes[0].home.clone();
    // The operator's node waits 3 s for a signing event to commit.
    let config = operator.join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, text.replace("commit_wait_ms = 30000", "commit_wait_ms = 3000")).expect("config");
    for node in nodes.iter_mut().take(4) {
        node.start();
    }
    let rt = support::runtime();
    rt.block_on(wait_blocks(&[&nodes[0]], 2, Duration::from_secs(60)));
    let rpc = nodes[0].rpc.clone();
    let public_key = support::new_hosted_key(&operator, "clerk", "0d");
    let now = chancery_node::clock::now_ms();
    let (from, to) = ((now - 86_400_000).to_string(), (now + 86_400_000).to_string());
    let ca_key = dir.path().join("ca.key");
    let cert = dir.path().join("cert.der");
    std::fs::write(&cert, b"certificate").expect("cert");
    let issued = chancery(&[
        "cert",
        "issue",
        "--rpc",
        &rpc,
        "--key",
        ca_key.to_str().expect("utf-8"),
        "--ca",
        "demo-ca",
        "--serial",
        "0d",
        "--cert",
        cert.to_str().expect("utf-8"),
        "--subject-key",
        &public_key.to_hex(),
        "--not-before",
        &from,
        "--not-after",
        &to,
        "--wait",
    ]);
    assert!(issued.status.success(), "{}", String::from_utf8_lossy(&issued.stderr));
    let contract = dir.path().join("contract.txt");
    std::fs::write(&contract, b"a contract").expect("contract");
    let token = operator.join("keys/hosted.token");
    let sign = || {
        chancery(&[
            "sign",
            contract.to_str().expect("utf-8"),
            "--key",
            "clerk",
            "--rpc",
            &rpc,
            "--token-file",
            token.to_str().expect("utf-8"),
        ])
    };

    // With the quorum: the signature comes with its event committed.
    let signed = sign();
    let out = String::from_utf8_lossy(&signed.stdout).into_owned();
    assert!(signed.status.success(), "{out}{}", String::from_utf8_lossy(&signed.stderr));
    assert!(out.contains("signature  ") && out.contains("committed at height"), "{out}");
    let log = usage(&operator);
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!((log[0]["stage"].as_str(), log[1]["stage"].as_str()), (Some("pending"), Some("committed")));
    assert_eq!(log[0]["tx_hash"], log[1]["tx_hash"]);
    assert!(log[1]["height"].as_u64().is_some(), "{log:?}");

    // Two of four validators down: no quorum, nothing commits. The call waits, then
    // answers a retryable error (code 1040) and no signature.
    nodes[2].kill();
    nodes[3].kill();
    std::thread::sleep(Duration::from_secs(1));
    let refused = sign();
    let (out, err) = (String::from_utf8_lossy(&refused.stdout), String::from_utf8_lossy(&refused.stderr));
    assert!(!refused.status.success(), "{out}");
    assert!(!out.contains("signature"), "no signature leaves: {out}");
    assert!(err.contains("not committed") && err.contains("retry") && err.contains("1040"), "{err}");
    let log = usage(&operator);
    assert_eq!(log.len(), 4, "{log:?}");
    assert_eq!((log[2]["stage"].as_str(), log[3]["stage"].as_str()), (Some("pending"), Some("withheld")));
    assert!(log[3]["refused"].as_str().is_some_and(|r| r.contains("not committed within 3000 ms")), "{log:?}");

    // The quorum back: the caller retries (the error said so) and gets a signature once
    // its event commits.
    nodes[2].start();
    nodes[3].start();
    let mut attempts = 0;
    let out = loop {
        attempts += 1;
        let signed = sign();
        let out = String::from_utf8_lossy(&signed.stdout).into_owned();
        if signed.status.success() {
            break out;
        }
        let err = String::from_utf8_lossy(&signed.stderr);
        assert!(attempts < 10 && err.contains("1040"), "{out}{err}");
    };
    assert!(out.contains("committed at height"), "{out}");
    // The successful call's event is logged pending, then committed with its height.
    // Events withheld earlier may commit in the same block; they are logged as
    // late_commit, in any order around it.
    let log = usage(&operator);
    let last_pending = log.iter().rev().find(|l| l["stage"] == "pending").expect("a pending use");
    let committed: Vec<&Value> =
        log.iter().filter(|l| l["tx_hash"] == last_pending["tx_hash"] && l["stage"] != "pending").collect();
    assert_eq!(committed.len(), 1, "{log:?}");
    assert_eq!(committed[0]["stage"].as_str(), Some("committed"), "{log:?}");
    assert!(committed[0]["height"].as_u64().is_some(), "{log:?}");
    for entry in log.iter().filter(|l| l["stage"] == "late_commit") {
        let withheld = log.iter().any(|l| l["tx_hash"] == entry["tx_hash"] && l["stage"] == "withheld");
        assert!(withheld, "a late commit follows a withheld use: {log:?}");
    }
}

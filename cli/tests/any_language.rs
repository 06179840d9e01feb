//! Clients in any language: `tx_prepare` and `tx_submitSigned` on a real dev node, with
//! hostile input (a body that is not a tx body, an already signed tx, a malformed or a
//! wrong signature, a replay), and the JDK-only example `examples/java/Anchor.java` run
//! against the node, its proof verified by `chancery verify`.
//!
//! Needs JDK 17 (`java` on the PATH; README's setup).

mod support;

use std::path::Path;
use std::process::Command;

use chancery_rpc::ErrorCode;
use serde_json::json;
use support::{call, error_code, DevNode};

fn code(c: ErrorCode) -> i64 {
    c.code() as i64
}

#[test]
fn prepared_txs_sign_and_submit_and_hostile_ones_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("dev"));
    let key = node.key("integrator.key");
    let signer = chancery_ledger::PublicKey(key.verifying_key().to_bytes());
    let digest = chancery_ledger::Digest::compute(chancery_ledger::DigestAlg::Sha256, b"prepared");
    let body = json!({"evidence": {"kind": "document", "digest": digest, "refs": []}});
    let nonce = chancery_rpc::txs::clock_nonce();

    let prepared = call(&node, "tx_prepare", json!([body, signer, nonce]));
    let unsigned = prepared["result"]["unsigned_tx"].as_str().expect("unsigned_tx").to_string();
    let sign_bytes = hex::decode(prepared["result"]["sign_bytes"].as_str().expect("sign_bytes")).expect("hex");
    // The node prepared exactly the tx a client would build itself.
    let own =
        chancery_ledger::Tx::sign(&key, &node.chain(), serde_json::from_value(body.clone()).expect("body"), nonce);
    assert_eq!(sign_bytes, own.message(&node.chain().genesis_hash).0.to_vec());
    let mut own_unsigned = own.clone();
    own_unsigned.signature = chancery_ledger::Signature([0; 64]);
    assert_eq!(unsigned, chancery_rpc::txs::tx_hex(&own_unsigned));
    assert!(unsigned.ends_with(&"0".repeat(128)), "the signature is the last 64 bytes");

    let signature = hex::encode(ed25519_dalek::Signer::sign(&key, &sign_bytes).to_bytes());
    let submitted = call(&node, "tx_submitSigned", json!([unsigned, signature]));
    assert_eq!(submitted["result"], own.hash().to_hex(), "{submitted}");
    support::wait_committed(&node, &own.hash().to_hex());

    // Hostile input, each refused with its code.
    let not_a_body = call(&node, "tx_prepare", json!([{"evidence": {"kind": "poem"}}, signer, nonce + 1]));
    assert_eq!(error_code(&not_a_body), code(ErrorCode::BadArgument), "{not_a_body}");
    let signed = call(&node, "tx_submitSigned", json!([chancery_rpc::txs::tx_hex(&own), signature]));
    assert_eq!(error_code(&signed), code(ErrorCode::BadArgument), "{signed}");
    for bad in ["zz", "00", &"ab".repeat(65)] {
        let answer = call(&node, "tx_submitSigned", json!([unsigned, bad]));
        assert_eq!(error_code(&answer), code(ErrorCode::BadArgument), "{bad}: {answer}");
    }
    let cut = call(&node, "tx_submitSigned", json!([&unsigned[..unsigned.len() - 10], signature]));
    assert_eq!(error_code(&cut), code(ErrorCode::TxMalformed), "{cut}");
    let fresh = call(&node, "tx_prepare", json!([body, signer, nonce + 2]));
    let wrong = call(&node, "tx_submitSigned", json!([fresh["result"]["unsigned_tx"], signature]));
    assert_eq!(error_code(&wrong), code(ErrorCode::BadSignature), "a signature of other bytes: {wrong}");
    let replay = call(&node, "tx_submitSigned", json!([unsigned, signature]));
    assert!(
        [code(ErrorCode::StaleNonce), code(ErrorCode::Duplicate)].contains(&error_code(&replay)),
        "a replay: {replay}"
    );
}

#[test]
fn the_java_example_anchors_a_file_whose_proof_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("dev");
    let node = DevNode::start(&home);
    let file = dir.path().join("contract.txt");
    std::fs::write(&file, "Contract anchored from Java, with nothing but the JDK.\n").expect("write");
    let proof = dir.path().join("proof.json");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/java/Anchor.java");
    let output = Command::new("java")
        .arg(&example)
        .arg(format!("http://{}", node.addr))
        .arg(home.join("integrator.key"))
        .arg(&file)
        .arg(&proof)
        .output()
        .expect("java (JDK 17; README's setup)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("committed  height"), "{stdout}");
    let verified = Command::new(env!("CARGO_BIN_EXE_chancery"))
        .arg("verify")
        .arg(&proof)
        .arg("--genesis")
        .arg(home.join("genesis.json"))
        .arg("--file")
        .arg(&file)
        .output()
        .expect("chancery verify");
    let text = String::from_utf8_lossy(&verified.stdout).into_owned();
    assert!(verified.status.success(), "{text}{}", String::from_utf8_lossy(&verified.stderr));
    assert!(text.starts_with("VERIFIED") && text.contains("matches the anchored digest"), "{text}");
}

//! Certificates and hosted signing on a real dev node, through the `chancery` binary and
//! the RPC: a hosted key is made, its certificate issued, a file signed and the signing
//! event verified offline with its certificate verdict; after revocation the key refuses
//! to sign and a later signing event is reported revoked; the status proof verifies
//! against the genesis; hostile input gets documented codes; the hosted key's secret
//! appears in no log, RPC answer, CLI output or file outside the signer's keys directory.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chancery_ledger::codec::BoundedVec;
use chancery_ledger::tx::{CertRef, CertSerial, Evidence, EvidenceKind, TxBody};
use chancery_ledger::validator::CaId;
use chancery_ledger::{Digest, DigestAlg, HashContext};
use chancery_rpc::txs::{clock_nonce, sign_tx, tx_hex};
use chancery_rpc::ErrorCode;
use serde_json::{json, Value};
use support::{call, error_code, DevNode};

fn code(c: ErrorCode) -> i64 {
    i64::from(c.code())
}

/// Runs `chancery ARGS`; returns the output, keeping its text for the secret scan.
fn chancery(transcript: &mut String, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_chancery")).args(args).output().expect("run chancery");
    transcript.push_str(&String::from_utf8_lossy(&output.stdout));
    transcript.push_str(&String::from_utf8_lossy(&output.stderr));
    output
}

fn ok(output: Output) -> String {
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{text}{}", String::from_utf8_lossy(&output.stderr));
    text
}

/// `chancery cert ACTION` for the demo CA's certificate 0c01, plus `extra` arguments.
fn ca_command(transcript: &mut String, rpc: &str, ca_key: &str, action: &str, extra: &[&str]) -> Output {
    let mut args = vec!["cert", action, "--rpc", rpc, "--key", ca_key, "--ca", "demo-ca", "--serial", "0c01"];
    args.extend_from_slice(extra);
    chancery(transcript, &args)
}

fn files_under(dir: &Path, skip: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path == skip {
            continue;
        }
        if path.is_dir() {
            files_under(&path, skip, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn hosted_signing_certificate_verdicts_and_hostile_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("dev");
    let node = DevNode::start(&home);
    let rpc = node.ws();
    let home_arg = home.to_str().expect("utf-8 path");
    let mut transcript = String::new();
    let mut answers = String::new();

    // A hosted key, made inside the node's signer home.
    let made = ok(chancery(
        &mut transcript,
        &["signer", "keys", "new", "--home", home_arg, "--id", "alice", "--ca", "demo-ca", "--serial", "0c01"],
    ));
    let public_key = made.lines().find_map(|l| l.trim().strip_prefix("public key")).expect("public key").trim();
    let public_key = chancery_ledger::PublicKey::from_hex(public_key).expect("hex key");

    // The demo CA issues its certificate: valid from a day ago for a day.
    let now = chancery_node::clock::now_ms();
    let (not_before, not_after) = ((now - 86_400_000).to_string(), (now + 86_400_000).to_string());
    let ca_key = home.join("ca.key");
    let ca_key = ca_key.to_str().expect("path");
    let cert_file = dir.path().join("cert.der");
    std::fs::write(&cert_file, b"certificate der bytes").expect("write cert");
    let cert_arg = cert_file.to_str().expect("path");
    let key_hex = public_key.to_hex();
    let validity = ["--not-before", &not_before, "--not-after", &not_after, "--wait"];
    let mut issue = vec!["--cert", cert_arg, "--subject-key", &key_hex];
    issue.extend_from_slice(&validity);
    ok(ca_command(&mut transcript, &rpc, ca_key, "issue", &issue));

    // Sign a contract with the hosted key; the node anchors the signing event.
    let contract = dir.path().join("contract.txt");
    std::fs::write(&contract, b"the contract, as signed").expect("write contract");
    let token_file = home.join("keys/hosted.token");
    let token = std::fs::read_to_string(&token_file).expect("token written on start").trim().to_string();
    let token_arg = token_file.to_str().expect("path");
    let contract_arg = contract.to_str().expect("path");
    let signed = ok(chancery(
        &mut transcript,
        &["sign", contract_arg, "--key", "alice", "--rpc", &rpc, "--token-file", token_arg],
    ));
    let signature = signed.lines().find_map(|l| l.trim().strip_prefix("signature")).expect("signature").trim();
    let signature: [u8; 64] = hex::decode(signature).expect("hex").try_into().expect("64 bytes");
    let digest = Digest::compute(DigestAlg::Sha256, b"the contract, as signed");
    ed25519_dalek::VerifyingKey::from_bytes(&public_key.0)
        .expect("key")
        .verify_strict(digest.bytes(), &ed25519_dalek::Signature::from_bytes(&signature))
        .expect("the signature is over the digest's bytes");

    // Its proof verifies offline and carries the certificate verdict: valid.
    let proof = dir.path().join("signing.json");
    let genesis = home.join("genesis.json");
    let (proof_arg, genesis_arg) = (proof.to_str().expect("path"), genesis.to_str().expect("path"));
    ok(chancery(&mut transcript, &["proof", "--rpc", &rpc, "--file", contract_arg, "--out", proof_arg]));
    let report: Value = serde_json::from_str(&ok(chancery(
        &mut transcript,
        &["verify", proof_arg, "--genesis", genesis_arg, "--file", contract_arg, "--json"],
    )))
    .expect("report JSON");
    assert_eq!(report["certificate"]["status"], "valid", "{report}");
    let method = &report["record"]["signature"]["method"]["hosted_ed25519"];
    assert_eq!(method["public_key"], public_key.to_hex().as_str(), "{report}");
    assert_eq!(method["signature"], hex::encode(signature).as_str(), "{report}");
    let signature_hash = HashContext::DocumentSignature.hash(&signature).to_hex();
    assert_eq!(report["record"]["signature"]["hash"], signature_hash.as_str());
    let usage = std::fs::read_to_string(home.join("hosted/usage.log")).expect("usage log");
    // Pending when signed, committed when the signature left.
    assert_eq!(usage.lines().count(), 2, "{usage}");
    assert!(usage.lines().all(|l| l.contains(report["tx_hash"].as_str().expect("tx hash"))), "{usage}");
    assert!(usage.contains("\"stage\":\"committed\",\"height\":"), "{usage}");

    // Revoked: the key refuses to sign, naming why.
    ok(ca_command(&mut transcript, &rpc, ca_key, "revoke", &["--reason", "key_compromise", "--wait"]));
    let refused =
        chancery(&mut transcript, &["sign", contract_arg, "--key", "alice", "--rpc", &rpc, "--token-file", token_arg]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("revoked") && stderr.contains("code 1050"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(home.join("hosted/usage.log")).expect("log").lines().count(),
        2,
        "a refusal logs nothing"
    );

    // An integrator's signing event naming the revoked certificate is anchored, and its
    // verification says loudly that the certificate was revoked.
    let chain = node.chain();
    let late = TxBody::Evidence(Evidence {
        kind: EvidenceKind::SigningEvent,
        digest: Digest::compute(DigestAlg::Sha256, b"signed after the revocation"),
        refs: BoundedVec::empty(),
        meta: None,
        claimed_time_ms: None,
        cert: Some(CertRef {
            ca: CaId::new("demo-ca").expect("id"),
            serial: CertSerial::new(vec![0x0c, 0x01]).expect("serial"),
        }),
        signature: None,
    });
    let late = sign_tx(&node.key("integrator.key"), &chain, late, clock_nonce());
    let answer = call(&node, "evidence_submit", json!([tx_hex(&late)]));
    assert!(answer["result"].is_string(), "{answer}");
    let late_hash = late.hash().to_hex();
    support::wait_committed(&node, &late_hash);
    let late_proof = dir.path().join("late.json");
    ok(chancery(
        &mut transcript,
        &["proof", "--rpc", &rpc, "--tx", &late_hash, "--out", late_proof.to_str().expect("p")],
    ));
    let text = ok(chancery(&mut transcript, &["verify", late_proof.to_str().expect("p"), "--genesis", genesis_arg]));
    assert!(text.contains("VERIFIED") && text.contains("REVOKED") && text.contains("WARNING"), "{text}");
    // With its certificate status stripped, the record still verifies as anchored, and
    // the report says the certificate's status is not proven.
    let mut stripped: Value =
        serde_json::from_str(&std::fs::read_to_string(&late_proof).expect("read")).expect("bundle json");
    assert!(stripped.as_object_mut().expect("object").remove("cert_status").is_some());
    std::fs::write(&late_proof, stripped.to_string()).expect("write");
    let text = ok(chancery(&mut transcript, &["verify", late_proof.to_str().expect("p"), "--genesis", genesis_arg]));
    assert!(text.contains("VERIFIED") && text.contains("NOT PROVEN"), "{text}");

    // The status proof verifies against the genesis, before and after the revocation.
    let status = ok(chancery(
        &mut transcript,
        &["cert", "status", "--rpc", &rpc, "--ca", "demo-ca", "--serial", "0c01", "--genesis", genesis_arg],
    ));
    assert!(status.contains("VERIFIED offline") && status.contains("REVOKED"), "{status}");
    let status = ok(chancery(
        &mut transcript,
        &[
            "cert",
            "status",
            "--rpc",
            &rpc,
            "--ca",
            "demo-ca",
            "--serial",
            "0c01",
            "--at",
            &not_before,
            "--genesis",
            genesis_arg,
        ],
    ));
    assert!(status.contains("VERIFIED offline") && status.contains("VALID"), "{status}");
    // A saved status proof is checked with the genesis alone; a tampered one is not.
    let saved = dir.path().join("status.json");
    let saved_arg = saved.to_str().expect("path");
    ok(chancery(
        &mut transcript,
        &["cert", "status", "--rpc", &rpc, "--ca", "demo-ca", "--serial", "0c01", "--at", "now", "--out", saved_arg],
    ));
    let checked = ok(chancery(&mut transcript, &["cert", "verify", saved_arg, "--genesis", genesis_arg]));
    assert!(checked.contains("VERIFIED offline") && checked.contains("REVOKED"), "{checked}");
    let mut tampered: Value = serde_json::from_str(&std::fs::read_to_string(&saved).expect("read")).expect("json");
    tampered["events"].as_array_mut().expect("events").pop();
    std::fs::write(&saved, tampered.to_string()).expect("write");
    let refused = chancery(&mut transcript, &["cert", "verify", saved_arg, "--genesis", genesis_arg]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("NOT VERIFIED"));
    let history = call(&node, "cert_history", json!(["demo-ca", "0c01"]));
    assert_eq!(history["result"]["events"].as_array().map(Vec::len), Some(2), "{history}");
    answers.push_str(&history.to_string());

    // Hostile input.
    let cases: Vec<(&str, Value, ErrorCode)> = vec![
        ("cert_status", json!(["", "0c01", now]), ErrorCode::BadArgument),
        ("cert_status", json!(["demo-ca", "zz", now]), ErrorCode::BadArgument),
        ("cert_status", json!(["demo-ca", "00".repeat(33), now]), ErrorCode::BadArgument),
        ("cert_history", json!(["x".repeat(65), "0c01"]), ErrorCode::BadArgument),
        ("cert_submit", json!([tx_hex(&late)[..40].to_string()]), ErrorCode::TxMalformed),
        ("cert_submit", json!([tx_hex(&late)]), ErrorCode::BadArgument),
        (
            "signer_signDigest",
            json!(["alice", digest.to_text(), "signing_event", [], "wrong"]),
            ErrorCode::Unauthorized,
        ),
        ("signer_signDigest", json!(["alice", digest.to_text(), "signing_event", [], ""]), ErrorCode::Unauthorized),
        ("signer_signDigest", json!(["bob", digest.to_text(), "signing_event", [], token]), ErrorCode::NotFound),
        ("signer_signDigest", json!(["../x", digest.to_text(), "signing_event", [], token]), ErrorCode::BadArgument),
        ("signer_signDigest", json!(["alice", "md5:00", "signing_event", [], token]), ErrorCode::BadArgument),
        ("signer_signDigest", json!(["alice", digest.to_text(), "document", [], token]), ErrorCode::BadArgument),
        (
            "signer_signDigest",
            json!(["alice", digest.to_text(), "signing_event", vec!["00".repeat(32); 17], token]),
            ErrorCode::BadArgument,
        ),
        ("signer_signDigest", json!(["alice", digest.to_text(), "signing_event", [], token]), ErrorCode::SignerRefused),
    ];
    for (method, params, expected) in cases {
        let answer = call(&node, method, params.clone());
        assert_eq!(error_code(&answer), code(expected), "{method} {params}: {answer}");
        answers.push_str(&answer.to_string());
    }
    // A renewal after the revocation breaks a lifecycle rule.
    let renew =
        ok(chancery(&mut transcript, &["cert", "history", "--rpc", &rpc, "--ca", "demo-ca", "--serial", "0c01"]));
    assert_eq!(renew.lines().count(), 2, "{renew}");
    let refused = ca_command(&mut transcript, &rpc, ca_key, "renew", &["--not-after", "now"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("revocation is final") && stderr.contains("code 1008"), "{stderr}");
    assert_eq!(call(&node, "node_health", json!([]))["result"]["status"], "ok");
    assert!(node.stop().success());

    // The hosted key's secret is nowhere but in its key file.
    let key_file: Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("hosted/alice.key")).expect("key file")).expect("json");
    let secret_hex = key_file["secret_key"].as_str().expect("unencrypted key").to_string();
    let secret = hex::decode(&secret_hex).expect("hex");
    let mut files = Vec::new();
    files_under(dir.path(), &home.join("hosted"), &mut files);
    assert!(files.iter().any(|f| f.extension().is_some_and(|e| e == "log")), "the node log is scanned");
    for file in &files {
        let bytes = std::fs::read(file).expect("read");
        let leaked = bytes.windows(secret.len()).any(|w| w == secret.as_slice())
            || String::from_utf8_lossy(&bytes).contains(&secret_hex);
        assert!(!leaked, "the hosted key's secret is in {}", file.display());
    }
    assert!(!transcript.contains(&secret_hex) && !answers.contains(&secret_hex), "secret in CLI output or RPC answers");
}

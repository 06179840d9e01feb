//! A validator whose consensus key lives in a separate `chancery signer` process: blocks
//! commit through it, the node survives the signer being killed and restarted (consensus
//! pauses, never halts), and the signer's guard still refuses a conflicting signature
//! after all that.

mod support;

use std::process::{Child, Command};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chancery_consensus::engine::{SignRequest, SignStep, Signer};
use std::os::unix::net::UnixStream;

use chancery_ledger::{Digest, DigestAlg, Hash};
use chancery_node::signer::remote::{RemoteHosted, RemoteSigner};

fn spawn(args: &[&str], log: &std::path::Path) -> (Child, String) {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    support::spawn(&args, log)
}

fn blocks(addr: &str) -> u64 {
    let (_, body) = support::http(addr, "GET", "/health", "text/plain", b"");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    assert_ne!(health["status"], "halted", "{health}");
    health["blocks"].as_u64().unwrap_or(0)
}

fn wait_past(addr: &str, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while blocks(addr) <= n {
        assert!(Instant::now() < deadline, "no block past {n}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn rpc(addr: &str, method: &str, params: serde_json::Value) -> serde_json::Value {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let (_, text) = support::http(addr, "POST", "/", "application/json", body.as_bytes());
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method}: {e}: {text}"))
}

/// Issues the hosted key's certificate and signs a digest with it over the RPC.
fn hosted_signing_through_the_signer(addr: &str, home: &std::path::Path, public_key: &chancery_ledger::PublicKey) {
    use chancery_ledger::tx::{CertEvent, CertEventKind, CertSerial, TxBody};
    use chancery_ledger::{Digest, DigestAlg};
    let now = chancery_node::clock::now_ms();
    let issue = TxBody::CertEvent(CertEvent {
        ca: chancery_ledger::validator::CaId::new("demo-ca").expect("id"),
        serial: CertSerial::new(vec![0x0a]).expect("serial"),
        cert_digest: Digest::compute(DigestAlg::Sha256, b"certificate"),
        subject_key: Digest::compute(DigestAlg::Sha256, &public_key.0),
        event: CertEventKind::Issued { not_before_ms: now - 60_000, not_after_ms: now + 86_400_000 },
    });
    let ca = chancery_node::signer::KeyFile::load(&home.join("ca.key"), None).expect("ca key");
    let chain = support::chain_of(home);
    let issue = chancery_rpc::txs::sign_tx(&ca, &chain, issue, chancery_rpc::txs::clock_nonce());
    let answer = rpc(addr, "cert_submit", serde_json::json!([chancery_rpc::txs::tx_hex(&issue)]));
    assert!(answer["result"].is_string(), "{answer}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while rpc(addr, "evidence_status", serde_json::json!([issue.hash().to_hex()]))["result"]["status"] != "committed" {
        assert!(Instant::now() < deadline, "certificate not committed");
        std::thread::sleep(Duration::from_millis(100));
    }
    let token = std::fs::read_to_string(home.join("keys/hosted.token")).expect("token");
    let digest = Digest::compute(DigestAlg::Sha256, b"a contract");
    let params = serde_json::json!(["clerk", digest.to_text(), "signing_event", [], token.trim()]);
    let answer = rpc(addr, "signer_signDigest", params);
    let signature = answer["result"]["signature"].as_str().unwrap_or_else(|| panic!("{answer}"));
    let signature: [u8; 64] = hex::decode(signature).expect("hex").try_into().expect("64 bytes");
    ed25519_dalek::VerifyingKey::from_bytes(&public_key.0)
        .expect("key")
        .verify_strict(digest.bytes(), &ed25519_dalek::Signature::from_bytes(&signature))
        .expect("signed by the hosted key");
    let unknown = rpc(
        addr,
        "signer_signDigest",
        serde_json::json!(["nobody", digest.to_text(), "signing_event", [], token.trim()]),
    );
    assert_eq!(unknown["error"]["code"], 1031, "{unknown}");
}

#[test]
fn a_remote_signer_signs_survives_restarts_and_keeps_its_guard() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("dev");
    chancery_node::devchain::create(&home, Some(support::IDLE_BLOCK_MS)).expect("dev home");
    let socket = dir.path().join("signer.sock");
    let config = home.join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    let text = text
        .replace("remote_signer = \"\"", &format!("remote_signer = \"unix:{}\"", socket.display()))
        .replace("127.0.0.1:7700", "127.0.0.1:0");
    std::fs::write(&config, text).expect("config");
    // The key and its guard move to the signer's own home; the node keeps no key. The
    // signer checks certificate proofs against the genesis.
    let signer_home = dir.path().join("signer");
    std::fs::create_dir_all(signer_home.join("keys")).expect("dir");
    std::fs::rename(home.join("keys/consensus.key"), signer_home.join("keys/consensus.key")).expect("move key");
    std::fs::rename(home.join("keys/signer_state.json"), signer_home.join("keys/signer_state.json"))
        .expect("move guard");
    std::fs::copy(home.join("genesis.json"), signer_home.join("genesis.json")).expect("genesis");
    let home_arg = home.to_str().expect("utf-8");
    let listen = format!("unix:{}", socket.display());
    let signer_args = ["signer", "--home", signer_home.to_str().expect("utf-8"), "--listen", &listen];
    let log = dir.path().join("test.log");

    // A hosted document-signing key, made in the signer's home.
    let public_key = support::new_hosted_key(&signer_home, "clerk", "0a");

    let (mut signer, line) = spawn(&signer_args, &log);
    assert!(line.contains("listening on unix:"), "{line}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&socket).expect("socket").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "owner-only socket");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".bind"))
        .collect();
    assert!(leftovers.is_empty(), "the private bind directory is removed");

    // One key, one signer: a second signer on this home refuses and names the holder; a
    // signer of another home refuses to take the live socket's place.
    let second = Command::new(env!("CARGO_BIN_EXE_chancery")).args(signer_args).output().expect("second signer");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("held by process {}", signer.id())), "{stderr}");
    let other_home = dir.path().join("other-signer");
    std::fs::create_dir_all(other_home.join("keys")).expect("dir");
    chancery_node::signer::generate_consensus_key(
        &other_home.join("keys/consensus.key"),
        &other_home.join("keys/signer_state.json"),
        None,
    )
    .expect("key");
    let other = Command::new(env!("CARGO_BIN_EXE_chancery"))
        .args(["signer", "--home", other_home.to_str().expect("utf-8"), "--listen", &listen])
        .output()
        .expect("other signer");
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(!other.status.success() && stderr.contains("a signer already listens"), "{stderr}");
    assert!(UnixStream::connect(&socket).is_ok(), "the live socket is left in place");

    // The node presents the signer's hosted-signing token.
    std::fs::copy(signer_home.join("keys/hosted.token"), home.join("keys/hosted.token")).expect("token");
    let (mut node, line) = spawn(&["start", "--home", home_arg], &log);
    let addr =
        line.split_whitespace().find(|w| w.starts_with("ws://")).expect("url").trim_start_matches("ws://").to_string();
    wait_past(&addr, 2);

    // Hosted signing through the remote signer: the node asks, the signer signs and logs.
    hosted_signing_through_the_signer(&addr, &home, &public_key);
    let usage = std::fs::read_to_string(signer_home.join("hosted/usage.log")).expect("the signer logs each use");
    assert_eq!(usage.lines().count(), 1, "{usage}");

    // The socket applies the RPC's policy itself: a caller on the socket without the
    // token, or without a fresh proof that the key's certificate is valid, gets nothing.
    let remote = RemoteHosted::new(&socket);
    let token = std::fs::read_to_string(signer_home.join("keys/hosted.token")).expect("token");
    let digest = Digest::compute(DigestAlg::Sha256, b"socket contract");
    let proof_at = |serial: &str, at_ms: u64| {
        rpc(&addr, "cert_status", serde_json::json!(["demo-ca", serial, at_ms]))["result"]["proof"].to_string()
    };
    let now = chancery_node::clock::now_ms();
    let refusals = [
        ("wrong token", "0".repeat(64), proof_at("0a", now), "wrong hosted-signing token"),
        ("no proof", token.clone(), String::new(), "certificate proof"),
        ("another certificate", token.clone(), proof_at("0b", now), "not certificate demo-ca/0a"),
        ("not now", token.clone(), proof_at("0a", now - 3_600_000), "not now"),
    ];
    for (case, token, proof, want) in refusals {
        let err = remote.sign("clerk", &digest, &public_key, &token, proof).expect_err(case);
        assert!(err.to_string().contains(want), "{case}: {err}");
    }
    let signed = remote.sign("clerk", &digest, &public_key, &token, proof_at("0a", now)).expect("token and proof");
    assert!(public_key.verify_bytes(digest.bytes(), &signed).is_ok());
    let usage = std::fs::read_to_string(signer_home.join("hosted/usage.log")).expect("usage log");
    assert_eq!(usage.lines().count(), 2, "refusals sign and log nothing: {usage}");
    assert!(!home.join("hosted").exists(), "no hosted key material in the node's home");

    // A consensus key rotation through the remote signer: the successor key is put in
    // the signer's home, the rotation is signed by the admin key alone, and the only
    // validator's chain goes on past the effective height only if the signer signs with
    // the new key from there.
    let next = signer_home.join("keys/consensus.next.key");
    let generated = Command::new(env!("CARGO_BIN_EXE_chancery"))
        .args(["keys", "generate", "--out", next.to_str().expect("utf-8")])
        .output()
        .expect("keys generate");
    let new_key = String::from_utf8_lossy(&generated.stdout).trim().to_string();
    let rotated = Command::new(env!("CARGO_BIN_EXE_chancery"))
        .args(["keys", "rotate", "--key", home.join("admin.key").to_str().expect("utf-8")])
        .args(["--consensus-key", next.to_str().expect("utf-8"), "--rpc", &format!("ws://{addr}"), "--wait"])
        .output()
        .expect("keys rotate");
    let out = String::from_utf8_lossy(&rotated.stdout);
    assert!(rotated.status.success(), "{out}{}", String::from_utf8_lossy(&rotated.stderr));
    let at: u64 = out
        .split("committed at height ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|h| h.parse().ok())
        .expect("height");
    wait_past(&addr, at + 3);
    let commit = rpc(&addr, "chain_commit", serde_json::json!([at + 2]));
    assert_eq!(commit["result"]["signatures"][0]["validator"], serde_json::json!(new_key), "{commit}");

    // Kill the signer: consensus pauses; bring it back: consensus resumes, no halt.
    signer.kill().expect("kill signer");
    signer.wait().expect("wait");
    std::thread::sleep(Duration::from_millis(1500));
    let paused = blocks(&addr);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(blocks(&addr) <= paused + 1, "without its signer the node cannot commit");
    let (mut signer, _) = spawn(&signer_args, &log);
    wait_past(&addr, paused + 2);

    // Stop both; the guard, reached through the socket, refuses to sign an earlier slot.
    assert!(Command::new("kill").args(["-TERM", &node.id().to_string()]).status().expect("kill").success());
    assert!(node.wait().expect("wait").success(), "the node stops cleanly");
    let mut remote =
        RemoteSigner::connect(&socket, Arc::new(AtomicBool::new(false)), Duration::from_secs(10)).expect("connect");
    let mark = remote.signed_up_to().expect("the signer signed");
    assert!(mark > paused, "signatures continued after the restart");
    let earlier = SignRequest {
        height: mark - 1,
        round: 0,
        step: SignStep::Prevote,
        message: Hash([9; 32]),
        key: remote.public_key(),
    };
    let refused = remote.sign(&earlier).expect_err("an earlier slot is refused");
    assert!(refused.0.contains("later slot"), "{refused:?}");
    assert!(Command::new("kill").args(["-TERM", &signer.id().to_string()]).status().expect("kill").success());
    assert!(signer.wait().expect("wait").success());
}

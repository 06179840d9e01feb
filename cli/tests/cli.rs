//! The `chancery` binary against the checked-in example: verification succeeds and says
//! what was proven; a tampered file or a foreign genesis fails with a non-zero exit.

use std::path::PathBuf;
use std::process::Command;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/examples")
}

fn chancery(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chancery")).args(args).output().expect("run chancery");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn verify_the_example_offline() {
    let dir = examples();
    let (bundle, genesis, file) = (dir.join("bundle.json"), dir.join("genesis.json"), dir.join("contract.txt"));
    let (ok, out, err) = chancery(&[
        "verify",
        "--bundle",
        bundle.to_str().expect("path"),
        "--genesis",
        genesis.to_str().expect("path"),
        "--file",
        file.to_str().expect("path"),
    ]);
    assert!(ok, "stderr: {err}");
    assert!(out.starts_with("VERIFIED"), "{out}");
    assert!(out.contains("court-0-2 (court, power 10)"), "{out}");
    assert!(out.contains("file         matches the anchored digest"), "{out}");
    assert!(out.contains("block time   2026-01-01T00:00:02.000Z"), "{out}");

    let (ok, out, _) = chancery(&[
        "verify",
        "--bundle",
        bundle.to_str().expect("path"),
        "--genesis",
        genesis.to_str().expect("path"),
        "--json",
    ]);
    assert!(ok);
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(json["height"], 1);
}

#[test]
fn verify_refuses_a_tampered_file_and_a_foreign_genesis() {
    let dir = examples();
    let scratch = std::env::temp_dir().join(format!("chancery-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let tampered = scratch.join("contract.txt");
    std::fs::write(&tampered, "Sale agreement between A and C, signed 2026-01-01.\n").expect("write");
    let bundle = dir.join("bundle.json");
    let genesis = dir.join("genesis.json");
    let (ok, _, err) = chancery(&[
        "verify",
        "--bundle",
        bundle.to_str().expect("path"),
        "--genesis",
        genesis.to_str().expect("path"),
        "--file",
        tampered.to_str().expect("path"),
    ]);
    assert!(!ok);
    assert!(err.contains("NOT VERIFIED") && err.contains("not the anchored file"), "{err}");

    let foreign = scratch.join("genesis.json");
    let text = std::fs::read_to_string(&genesis).expect("genesis").replace("court-net-1", "court-net-9");
    std::fs::write(&foreign, text).expect("write");
    let (ok, _, err) =
        chancery(&["verify", "--bundle", bundle.to_str().expect("path"), "--genesis", foreign.to_str().expect("path")]);
    assert!(!ok);
    assert!(err.contains("chain"), "{err}");
    std::fs::remove_dir_all(&scratch).ok();
}

#[test]
fn genesis_validate_and_hash() {
    let genesis = examples().join("genesis.json");
    let (ok, out, _) = chancery(&["genesis", "hash", genesis.to_str().expect("path")]);
    assert!(ok);
    let bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(examples().join("bundle.json")).expect("bundle")).expect("json");
    assert_eq!(out.trim(), bundle["genesis_hash"].as_str().expect("hash"));
    let (ok, out, _) = chancery(&["genesis", "validate", genesis.to_str().expect("path")]);
    assert!(ok && out.contains("4 validators, 2 members"), "{out}");
}

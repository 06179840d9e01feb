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

/// Adds the integrator member `esign` with `key`, allowed `kinds`.
fn add_member(genesis: &str, key: &str, kinds: &str) -> (bool, String, String) {
    chancery(&["genesis", "add-member", genesis, "--name", "esign", "--key", key, "--kinds", kinds])
}

#[test]
fn verify_the_example_offline() {
    let dir = examples();
    let (bundle, genesis, file) = (dir.join("bundle.json"), dir.join("genesis.json"), dir.join("contract.txt"));
    let (ok, out, err) = chancery(&[
        "verify",
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

    let (ok, out, _) =
        chancery(&["verify", bundle.to_str().expect("path"), "--genesis", genesis.to_str().expect("path"), "--json"]);
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
        chancery(&["verify", bundle.to_str().expect("path"), "--genesis", foreign.to_str().expect("path")]);
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

#[test]
fn store_check_backup_and_restore() {
    use chancery_ledger::store::ChainStore;
    use chancery_ledger::testkit::{document_evidence, key, produce_block, signed_tx};
    use chancery_node::rocks::RocksBackend;

    let genesis_path = examples().join("genesis.json");
    let genesis =
        chancery_genesis::Genesis::from_json(&std::fs::read_to_string(&genesis_path).expect("genesis")).expect("valid");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    {
        let mut store =
            ChainStore::open(RocksBackend::open(&data).expect("open"), &genesis.chain_spec(), 1).expect("store");
        let keys: Vec<_> = (0..4).map(|i| key(1, i)).collect();
        for height in 0..3u64 {
            let tx = signed_tx(
                &key(3, 0),
                &genesis.chain_id,
                &genesis.hash(),
                document_evidence(&height.to_le_bytes()),
                height + 1,
            );
            produce_block(&mut store, &keys, vec![tx], genesis.genesis_time_ms + 1_000 * (height + 1), false)
                .expect("block");
        }
    }
    let path = |p: &std::path::Path| p.to_str().expect("utf-8 path").to_string();
    let (ok, out, err) = chancery(&["store", "check", "--data", &path(&data), "--genesis", &path(&genesis_path)]);
    assert!(ok, "{err}");
    assert!(out.contains("3 blocks checked from height 0"), "{out}");
    let backup = dir.path().join("backup");
    let (ok, out, err) = chancery(&[
        "store",
        "backup",
        "--data",
        &path(&data),
        "--genesis",
        &path(&genesis_path),
        "--to",
        &path(&backup),
    ]);
    assert!(ok && out.contains("backed up 3 blocks"), "{out}{err}");
    let restored = dir.path().join("restored");
    let (ok, out, err) = chancery(&[
        "store",
        "restore",
        "--from",
        &path(&backup),
        "--data",
        &path(&restored),
        "--genesis",
        &path(&genesis_path),
    ]);
    assert!(ok && out.contains("full integrity check passed"), "{out}{err}");
    // Another chain's genesis, and a directory with no store, are refused.
    let foreign = dir.path().join("foreign.json");
    std::fs::write(
        &foreign,
        std::fs::read_to_string(&genesis_path).expect("genesis").replace("court-net-1", "court-net-2"),
    )
    .expect("write");
    let (ok, _, err) = chancery(&["store", "check", "--data", &path(&data), "--genesis", &path(&foreign)]);
    assert!(!ok && err.contains("use the data directory of this chain"), "{err}");
    let (ok, _, err) = chancery(&["store", "check", "--data", &path(dir.path()), "--genesis", &path(&genesis_path)]);
    assert!(!ok && err.contains("holds no store"), "{err}");
}

#[test]
fn build_a_genesis_from_generated_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_string();
    let names = ["op", "notary", "court", "arb"].map(|n| [n.to_string(), format!("{n}-p2p"), format!("{n}-admin")]);
    for name in names.iter().flatten().map(String::as_str).chain(["integrator"]) {
        let (ok, out, err) = chancery(&["keys", "generate", "--out", &path(&format!("{name}.key"))]);
        assert!(ok && out.trim().len() == 64, "{out}{err}");
    }
    let genesis = path("genesis.json");
    let (ok, _, err) =
        chancery(&["genesis", "new", "--chain-id", "court-net-7", "--out", &genesis, "--time-ms", "1767225600000"]);
    assert!(ok, "{err}");
    for (name, role, key) in [
        ("Operator", "operator", "op"),
        ("Notary Office", "notary", "notary"),
        ("District Court", "court", "court"),
        ("Arbitration Commission", "arbitration", "arb"),
    ] {
        let (ok, out, err) = chancery(&[
            "genesis",
            "add-validator",
            &genesis,
            "--name",
            name,
            "--role",
            role,
            "--consensus-key",
            &path(&format!("{key}.key")),
            "--p2p-key",
            &path(&format!("{key}-p2p.key")),
            "--admin-key",
            &path(&format!("{key}-admin.key")),
        ]);
        assert!(ok, "{out}{err}");
    }
    let (ok, out, err) = add_member(&genesis, &path("integrator.key"), "document,signing_event");
    assert!(ok && out.contains("4 validators, 1 members"), "{out}{err}");
    let (ok, out, _) = chancery(&["genesis", "validate", &genesis]);
    assert!(ok && out.contains("court-net-7 is valid: 4 validators, 1 members"), "{out}");
    // A reused key and an unknown role are refused with the rule broken.
    let (ok, _, err) = chancery(&[
        "genesis",
        "add-validator",
        &genesis,
        "--name",
        "Again",
        "--role",
        "court",
        "--consensus-key",
        &path("op.key"),
        "--p2p-key",
        &path("integrator.key"),
        "--admin-key",
        &path("arb-admin.key"),
    ]);
    assert!(!ok && err.contains("reuses the consensus key"), "{err}");
    // An admin key may not double as any validator's consensus or p2p key.
    let (ok, _, err) = chancery(&[
        "genesis",
        "add-validator",
        &genesis,
        "--name",
        "Again",
        "--role",
        "court",
        "--consensus-key",
        &path("integrator.key"),
        "--p2p-key",
        &path("integrator.key"),
        "--admin-key",
        &path("notary.key"),
    ]);
    assert!(!ok && err.contains("reuses"), "{err}");
    let (ok, _, err) = chancery(&[
        "genesis",
        "add-validator",
        &genesis,
        "--name",
        "X",
        "--role",
        "judge",
        "--consensus-key",
        &path("integrator.key"),
        "--p2p-key",
        &path("integrator.key"),
        "--admin-key",
        &path("integrator.key"),
    ]);
    assert!(!ok && err.contains("unknown role"), "{err}");
    let (ok, _, err) = chancery(&["keys", "generate", "--out", &path("op.key")]);
    assert!(!ok && err.contains("op.key"), "never overwrites a key: {err}");
}

#[test]
fn init_creates_a_node_home_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("node");
    let home_arg = home.to_str().expect("utf-8");
    let genesis = examples().join("genesis.json");
    let (ok, out, err) = chancery(&["init", "--home", home_arg, "--genesis", genesis.to_str().expect("utf-8")]);
    assert!(ok && out.contains("initialised") && out.contains("court-net-1"), "{out}{err}");
    let config = chancery_node::config::Config::load(&home.join("config.toml")).expect("valid config");
    assert_eq!(config.rpc.listen, "127.0.0.1:7700");
    let key = home.join("keys/consensus.key");
    assert_eq!(std::fs::metadata(&key).expect("key").permissions().mode() & 0o777, 0o600);
    assert!(chancery_genesis::Genesis::from_json(
        &std::fs::read_to_string(home.join("genesis.json")).expect("genesis")
    )
    .is_ok());
    let (ok, _, err) = chancery(&["init", "--home", home_arg, "--genesis", genesis.to_str().expect("utf-8")]);
    assert!(!ok && err.contains("already initialised"), "{err}");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{}").expect("write");
    let (ok, _, err) = chancery(&[
        "init",
        "--home",
        dir.path().join("other").to_str().expect("utf-8"),
        "--genesis",
        bad.to_str().expect("utf-8"),
    ]);
    assert!(!ok && err.contains("not a valid genesis document"), "{err}");
}

#[test]
fn a_node_home_from_keys_genesis_and_init_starts_commits_and_stops_cleanly() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_string();
    for name in ["op", "op-p2p", "op-admin", "integrator"] {
        assert!(chancery(&["keys", "generate", "--out", &path(&format!("{name}.key"))]).0);
    }
    let genesis = path("genesis.json");
    assert!(chancery(&["genesis", "new", "--chain-id", "solo-1", "--out", &genesis]).0);
    let args = ["genesis", "add-validator", &genesis, "--name", "Operator", "--role", "operator"];
    let (ok, _, err) =
        chancery(&[&args[..], &["--consensus-key", &path("op.key"), "--p2p-key", &path("op-p2p.key")]].concat());
    assert!(!ok && err.contains("--admin-key"), "the admin key is required: {err}");
    let keys =
        ["--consensus-key", &path("op.key"), "--p2p-key", &path("op-p2p.key"), "--admin-key", &path("op-admin.key")];
    let (ok, _, err) = chancery(&[&args[..], &keys[..]].concat());
    assert!(ok, "{err}");
    let (ok, _, err) = add_member(&genesis, &path("integrator.key"), "document");
    assert!(ok, "{err}");
    let home = path("node");
    let (ok, out, err) =
        chancery(&["init", "--home", &home, "--genesis", &genesis, "--consensus-key", &path("op.key")]);
    assert!(ok && !err.contains("not a validator"), "{out}{err}");
    // A key brought into the home may have signed elsewhere: it signs nothing until the
    // operator states the height to resume from (this key never signed: 0).
    assert!(out.contains("chancery signer resume"), "{out}");
    let (ok, out, err) = chancery(&["signer", "resume", "--home", &home, "--height", "0"]);
    assert!(ok && out.contains("signs from height 0"), "{out}{err}");
    let (ok, _, err) = chancery(&["signer", "resume", "--home", &home, "--height", "5"]);
    assert!(!ok && err.contains("never replaced"), "{err}");
    // Any free port.
    let config = std::path::Path::new(&home).join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, text.replace("127.0.0.1:7700", "127.0.0.1:0")).expect("config");
    let mut node = std::process::Command::new(env!("CARGO_BIN_EXE_chancery"))
        .args(["start", "--home", &home])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start");
    let mut lines = std::io::BufReader::new(node.stdout.take().expect("stdout")).lines();
    let line = lines.next().expect("a line").expect("utf-8");
    let url = line.split_whitespace().find(|w| w.starts_with("ws://")).expect("RPC URL").to_string();
    let document = dir.path().join("contract.txt");
    std::fs::write(&document, b"solo contract").expect("write");
    let (ok, out, err) =
        chancery(&["submit", "--rpc", &url, "--key", &path("integrator.key"), "--wait", document.to_str().expect("p")]);
    assert!(ok && out.contains("committed at height"), "{out}{err}");
    let proof = path("proof.json");
    let (ok, _, err) = chancery(&["proof", "--rpc", &url, "--file", document.to_str().expect("p"), "--out", &proof]);
    assert!(ok, "{err}");
    let (ok, out, err) = chancery(&["verify", &proof, "--genesis", &genesis, "--file", document.to_str().expect("p")]);
    assert!(ok && out.contains("Operator (operator, power 10)"), "{out}{err}");
    let report = path("report.html");
    let (ok, _, err) = chancery(&["report", &proof, "--genesis", &genesis, "--out", &report]);
    assert!(ok, "{err}");
    let html = std::fs::read_to_string(&report).expect("report");
    assert!(html.contains("VERIFIED") && html.contains("solo-1") && html.contains("Operator"), "{html}");
    let status = std::process::Command::new("kill").args(["-TERM", &node.id().to_string()]).status().expect("kill");
    assert!(status.success());
    assert!(node.wait().expect("wait").success(), "stops cleanly on SIGTERM");
}

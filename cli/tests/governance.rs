//! Governance on a running testnet of real processes, under load, through the CLI an
//! institution uses: a fifth validator is added (its node, started from the genesis,
//! syncs through the change and then signs commits), the court is removed (its node is
//! cut off), the notary rotates its consensus key (its signer switches at the effective
//! height), and a power changes. Bundles from before, between and after every change
//! verify offline with the genesis alone and against a later checkpoint; every height has
//! a commit; every node agrees on every block hash.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chancery_ledger::{Hash, PublicKey};
use chancery_rpc::txs::{clock_nonce, tx_hex};
use chancery_rpc::types::{SubmitOutcome, TxStatus};
use chancery_rpc::ChanceryApiClient;
use support::testnet::{blocks, client, same_chain, testnet, wait_blocks, Node};
use support::{doc_txs, runtime};

/// Runs the `chancery` CLI; returns its stdout, failing the test with its stderr.
fn chancery(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_chancery")).args(args).output().expect("run chancery");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "chancery {args:?} failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The new institution's node home: its own keys, the genesis, and the observer's
/// config with its own ports (RPC `base + 50`, p2p `base + 51`).
fn new_institution_home(dir: &Path, base: u16) -> (PathBuf, [String; 3]) {
    let home = dir.join("court-2");
    std::fs::create_dir_all(home.join("keys")).expect("home");
    std::fs::copy(dir.join("genesis.json"), home.join("genesis.json")).expect("genesis");
    let config = std::fs::read_to_string(dir.join("observer/config.toml"))
        .expect("observer config")
        .replace("moniker = \"observer\"", "moniker = \"court-2\"")
        .replace(&format!("127.0.0.1:{}", base + 40), &format!("127.0.0.1:{}", base + 50))
        .replace(&format!("/tcp/{}\"", base + 41), &format!("/tcp/{}\"", base + 51));
    std::fs::write(home.join("config.toml"), config).expect("config");
    let keys = ["keys/consensus.key", "keys/p2p.key", "admin.key"]
        .map(|name| chancery(&["keys", "generate", "--out", path(&home.join(name))]).trim().to_string());
    // A key made apart from a home has no guard file: its operator states that it never
    // signed.
    chancery(&["signer", "resume", "--home", path(&home), "--height", "0"]);
    (home, keys)
}

/// The `executed at height H` of a proposal, from `chancery gov show`.
fn executed_at(id: &str, rpc: &str) -> u64 {
    let shown = chancery(&["gov", "show", id, "--rpc", rpc]);
    let at = shown.split("executed at height ").nth(1).unwrap_or_else(|| panic!("not executed:\n{shown}"));
    at.split_whitespace().next().and_then(|h| h.parse().ok()).expect("height")
}

/// Proposes with the first institution's admin key and approves with each listed one;
/// returns the height it executed at, printing the figure.
fn pass(what: &str, proposal: &[&str], voters: &[&Path], rpc: &str) -> u64 {
    let started = Instant::now();
    let mut args = vec!["gov", "propose"];
    args.extend_from_slice(proposal);
    args.extend(["--key", path(voters[0]), "--rpc", rpc, "--wait"]);
    let out = chancery(&args);
    let id = out.lines().next().expect("the id line").trim().to_string();
    assert_eq!(id.len(), 64, "the proposal id alone on its first line: {out}");
    let proposed_at: u64 = out
        .split("committed at height ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|h| h.parse().ok())
        .expect("proposal height");
    for voter in voters {
        chancery(&["gov", "vote", &id, "--key", path(voter), "--approve", "--rpc", rpc, "--wait"]);
    }
    let executed = executed_at(&id, rpc);
    eprintln!(
        "FIGURE {what}: proposed at height {proposed_at}, executed at {executed}, in force from {}: {} blocks, {:.1} s from proposal to effect",
        executed + 1,
        executed + 1 - proposed_at,
        started.elapsed().as_secs_f64()
    );
    executed
}

/// Whether the node of `home` signs consensus messages with `key` at a height above
/// `after` within `within` (its double-sign guard records the key of each signature); and
/// whether `key` is among the precommits of a commit above `after` (a commit holds the
/// first quorum of precommits, so a validator may be missing from some).
async fn signs_with(home: &Path, node: &Node, key: &PublicKey, after: u64, within: Duration) -> (bool, bool) {
    let deadline = Instant::now() + within;
    let guard = home.join("keys/signer_state.json");
    let mut signed = false;
    while Instant::now() < deadline && !signed {
        let mark: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&guard).unwrap_or_default()).unwrap_or_default();
        signed = mark["key"] == serde_json::json!(key.to_hex()) && mark["height"].as_u64().is_some_and(|h| h > after);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let c = client(node).await;
    let n = c.info().await.expect("info").blocks;
    let mut in_commit = false;
    for height in after + 1..n {
        in_commit |= c.commit(height).await.expect("commit").signatures.iter().any(|s| s.validator == *key);
    }
    (signed, in_commit)
}

/// Load through one node until stopped: small batches, each tx tagged with the phase it
/// was submitted in.
fn load(
    node_rpc: String,
    key: ed25519_dalek::SigningKey,
    phase: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    sent: Arc<Mutex<Vec<(usize, Hash)>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        runtime().block_on(async move {
            let c = chancery_rpc::connect(&node_rpc, Duration::from_secs(30)).await.expect("connect");
            let chain = c.info().await.expect("info").identity().expect("chain");
            let mut round = 0;
            while !stop.load(Ordering::SeqCst) {
                let txs = doc_txs(&key, &chain, &format!("governance load {round}"), clock_nonce(), 40);
                let now = phase.load(Ordering::SeqCst);
                if let Ok(outcomes) = c.submit_batch(txs.iter().map(tx_hex).collect()).await {
                    let mut sent = sent.lock().expect("lock");
                    for outcome in outcomes {
                        if let SubmitOutcome::Accepted { tx_hash } = outcome {
                            sent.push((now, tx_hash));
                        }
                    }
                }
                round += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    })
}

#[test]
fn institutions_change_the_validator_set_of_a_running_network() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let mut nodes = testnet(d);
    for node in nodes.iter_mut() {
        node.start();
    }
    let base: u16 = nodes[0].rpc.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");
    let genesis = d.join("genesis.json");
    let admin = |name: &str| d.join(name).join("admin.key");
    let (operator, notary, court, arbitration) =
        (admin("operator"), admin("notary"), admin("court"), admin("arbitration"));
    let rpc = nodes[0].rpc.clone();
    let rt = runtime();
    rt.block_on(async {
        let all: Vec<&Node> = nodes.iter().collect();
        wait_blocks(&all, 2, Duration::from_secs(60)).await;
    });
    let early = d.join("early.json");
    chancery(&["checkpoint", "--rpc", &nodes[4].rpc, "--out", path(&early)]);

    let phase = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let submitter = chancery_node::signer::KeyFile::load(&d.join("bench/submitter-0.key"), None).expect("key");
    let loader = load(rpc.clone(), submitter, phase.clone(), stop.clone(), sent.clone());
    std::thread::sleep(Duration::from_secs(2));

    // 1. A fifth institution joins: proposed and approved by three of the four.
    let (court2_home, [court2_consensus, court2_p2p, court2_admin]) = new_institution_home(d, base);
    phase.store(1, Ordering::SeqCst);
    let added = pass(
        "add-validator",
        &[
            "add-validator",
            "--name",
            "Second Court",
            "--role",
            "court",
            "--consensus-key",
            &court2_consensus,
            "--p2p-key",
            &court2_p2p,
            "--admin-key",
            &court2_admin,
            "--power",
            "10",
        ],
        &[&operator, &notary, &arbitration],
        &rpc,
    );
    let mut court2 =
        Node { name: "court-2", home: court2_home.clone(), child: None, rpc: format!("ws://127.0.0.1:{}", base + 50) };
    court2.start();
    rt.block_on(async {
        let target = blocks(&nodes[0]).await;
        wait_blocks(&[&court2], target, Duration::from_secs(60)).await;
        let key = PublicKey::from_hex(&court2_consensus).expect("key");
        let (signed, in_commit) = signs_with(&court2_home, &nodes[0], &key, added, Duration::from_secs(60)).await;
        assert!(signed, "the new validator signs once it has synced");
        eprintln!("the new validator's precommits are in a stored commit: {in_commit}");
    });

    // 2. The court is removed: its node is cut off from the others.
    phase.store(2, Ordering::SeqCst);
    let removed = pass(
        "remove-validator",
        &["remove-validator", "--name", "District Court"],
        &[&operator, &notary, &arbitration, &court2_home.join("admin.key")],
        &rpc,
    );
    rt.block_on(async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let cut = blocks(&nodes[2]).await;
        let target = blocks(&nodes[0]).await + 5;
        wait_blocks(&[&nodes[0]], target, Duration::from_secs(60)).await;
        assert!(blocks(&nodes[2]).await <= cut + 1, "the removed court's node no longer receives blocks");
        assert!(cut >= removed, "the court followed until its removal");
    });
    nodes[2].kill();
    // Its admin key no longer governs.
    let refused = Command::new(env!("CARGO_BIN_EXE_chancery"))
        .args([
            "gov",
            "propose",
            "remove-member",
            "--member-key",
            &"ab".repeat(32),
            "--key",
            path(&court),
            "--rpc",
            &rpc,
        ])
        .output()
        .expect("run");
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("code 1009"));

    // 3. The notary rotates its consensus key, with its admin key alone.
    phase.store(3, Ordering::SeqCst);
    let next = d.join("notary/keys/consensus.next.key");
    let new_key = chancery(&["keys", "generate", "--out", path(&next)]).trim().to_string();
    let out = chancery(&[
        "keys",
        "rotate",
        "--key",
        path(&notary),
        "--consensus-key",
        path(&next),
        "--rpc",
        &nodes[1].rpc,
        "--wait",
    ]);
    let rotated_at: u64 = out
        .split("committed at height ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|h| h.parse().ok())
        .expect("height");
    rt.block_on(async {
        let key = PublicKey::from_hex(&new_key).expect("key");
        let (signed, in_commit) =
            signs_with(&d.join("notary"), &nodes[0], &key, rotated_at, Duration::from_secs(60)).await;
        assert!(signed, "the notary signs with its new key from the effective height");
        eprintln!("the notary's new key is in a stored commit: {in_commit}");
    });

    // 4. The operator's power changes.
    phase.store(4, Ordering::SeqCst);
    // Four validators of 10 remain: three approvals (30 of 40) pass it; a fourth vote
    // comes too late.
    pass(
        "set-power",
        &["set-power", "--name", "Platform Operator", "--power", "20"],
        &[&operator, &notary, &arbitration],
        &rpc,
    );
    let list = chancery(&["gov", "list", "--rpc", &rpc]);
    let last_id =
        list.lines().find(|l| l.contains("set_power")).and_then(|l| l.split_whitespace().next()).expect("listed");
    let late = Command::new(env!("CARGO_BIN_EXE_chancery"))
        .args(["gov", "vote", last_id, "--key", path(&court2_home.join("admin.key")), "--approve", "--rpc", &rpc])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&late.stderr);
    assert!(
        !late.status.success() && stderr.contains("takes no more votes") && stderr.contains("code 1009"),
        "{stderr}"
    );
    assert!(chancery(&["gov", "list", "--pending", "--rpc", &rpc]).trim().is_empty(), "nothing left pending");
    // The proposal's record, proven from the state tree, checked offline.
    let saved = d.join("proposal.json");
    let shown =
        chancery(&["gov", "show", last_id, "--rpc", &nodes[4].rpc, "--out", path(&saved), "--genesis", path(&genesis)]);
    assert!(shown.contains("VERIFIED offline") && shown.contains("executed at height"), "{shown}");
    let verified = chancery(&["gov", "verify", path(&saved), "--genesis", path(&genesis)]);
    assert!(verified.starts_with("VERIFIED") && verified.contains("set_power"), "{verified}");
    assert_eq!(verified.matches("  vote      approve").count(), 3, "{verified}");
    phase.store(5, Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::SeqCst);
    loader.join().expect("load");

    let running: Vec<&Node> = [&nodes[0], &nodes[1], &nodes[3], &nodes[4], &court2].into_iter().collect();
    let sent = sent.lock().expect("lock").clone();
    rt.block_on(async {
        let c = client(&nodes[4]).await;
        let set = c.validators(None).await.expect("validators");
        let operator_power = set.validators.iter().find(|v| v.name.as_str() == "Platform Operator").map(|v| v.power);
        assert_eq!(operator_power, Some(20));
        assert_eq!(set.validators.len(), 4);
        // The set in force at each height, as the RPC traces it.
        let at = |h: u64| {
            let c = &c;
            async move { c.validators(Some(h)).await.expect("validators").validators.len() }
        };
        assert_eq!((at(added).await, at(added + 1).await, at(removed + 1).await), (4, 5, 4));
        // Everything sent under load is committed.
        let deadline = Instant::now() + Duration::from_secs(60);
        let operator = client(&nodes[0]).await;
        for (phase, hash) in &sent {
            while !matches!(c.status(*hash).await.expect("status").status, TxStatus::Committed { .. }) {
                if Instant::now() > deadline {
                    let at_operator = operator.status(*hash).await.expect("status");
                    let heights = [blocks(&nodes[0]).await, blocks(&nodes[4]).await];
                    panic!("tx {hash} of phase {phase} not committed: at the operator {at_operator:?}; operator and observer heights {heights:?}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let n = blocks(&nodes[0]).await;
        wait_blocks(&running, n, Duration::from_secs(60)).await;
        same_chain(&running).await;
        for h in 0..n {
            c.commit(h).await.unwrap_or_else(|e| panic!("no commit at height {h}: {e}"));
        }
    });

    // Bundles from before, between and after every change, fetched from the observer to a
    // common later height, verify with the genesis alone and against a later checkpoint.
    let checkpoint = d.join("checkpoint.json");
    let out = chancery(&["checkpoint", "--rpc", &nodes[4].rpc, "--since", path(&early), "--out", path(&checkpoint)]);
    let height: u64 = out
        .split("at height ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|h| h.parse().ok())
        .expect("height");
    let consistent = chancery(&["consistency", path(&early), path(&checkpoint), "--genesis", path(&genesis)]);
    assert!(consistent.starts_with("CONSISTENT"), "{consistent}");
    for wanted in 0..=5 {
        let (_, hash) =
            sent.iter().find(|(p, _)| *p == wanted).unwrap_or_else(|| panic!("no tx sent in phase {wanted}"));
        let bundle = d.join(format!("bundle-{wanted}.json"));
        chancery(&[
            "proof",
            "--rpc",
            &nodes[4].rpc,
            "--tx",
            &hash.to_hex(),
            "--checkpoint",
            &height.to_string(),
            "--out",
            path(&bundle),
        ]);
        let alone = chancery(&["verify", path(&bundle), "--genesis", path(&genesis)]);
        assert!(
            alone.starts_with("VERIFIED") && alone.contains("validator-set changes traced from genesis: 4"),
            "{alone}"
        );
        assert!(alone.contains("trust basis  the genesis file alone"), "{alone}");
        let anchored =
            chancery(&["verify", path(&bundle), "--genesis", path(&genesis), "--checkpoint", path(&checkpoint)]);
        assert!(anchored.contains(&format!("trusted checkpoint at height {height}")), "{anchored}");
        let size = std::fs::metadata(&bundle).expect("bundle").len();
        eprintln!("FIGURE bundle of a phase-{wanted} tx with 4 validator-set changes: {size} bytes");
    }
}

//! A validator whose consensus key lives in a separate `chancery signer` process: blocks
//! commit through it, the node survives the signer being killed and restarted (consensus
//! pauses, never halts), and the signer's guard still refuses a conflicting signature
//! after all that.

mod support;

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chancery_consensus::engine::{SignRequest, SignStep, Signer};
use chancery_ledger::Hash;
use chancery_node::signer::remote::RemoteSigner;

fn spawn(args: &[&str], log: &std::path::Path) -> (Child, String) {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_chancery"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("spawn");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    std::thread::spawn(move || for _ in lines {});
    (child, first)
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

#[test]
fn a_remote_signer_signs_survives_restarts_and_keeps_its_guard() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("dev");
    chancery_node::devchain::create(&home).expect("dev home");
    let socket = dir.path().join("signer.sock");
    let config = home.join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    let text = text
        .replace("remote_signer = \"\"", &format!("remote_signer = \"unix:{}\"", socket.display()))
        .replace("127.0.0.1:7700", "127.0.0.1:0");
    std::fs::write(&config, text).expect("config");
    // The key and guard move to the signer's own home; the node keeps no key.
    let signer_home = dir.path().join("signer");
    std::fs::create_dir_all(signer_home.join("keys")).expect("dir");
    std::fs::rename(home.join("keys/consensus.key"), signer_home.join("keys/consensus.key")).expect("move key");
    let home_arg = home.to_str().expect("utf-8");
    let listen = format!("unix:{}", socket.display());
    let signer_args = ["signer", "--home", signer_home.to_str().expect("utf-8"), "--listen", &listen];
    let log = dir.path().join("test.log");

    let (mut signer, line) = spawn(&signer_args, &log);
    assert!(line.contains("listening on unix:"), "{line}");
    let (mut node, line) = spawn(&["start", "--home", home_arg], &log);
    let addr =
        line.split_whitespace().find(|w| w.starts_with("ws://")).expect("url").trim_start_matches("ws://").to_string();
    wait_past(&addr, 2);

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
    let earlier = SignRequest { height: mark - 1, round: 0, step: SignStep::Prevote, message: Hash([9; 32]) };
    let refused = remote.sign(&earlier).expect_err("an earlier slot is refused");
    assert!(refused.0.contains("later slot"), "{refused:?}");
    assert!(Command::new("kill").args(["-TERM", &signer.id().to_string()]).status().expect("kill").success());
    assert!(signer.wait().expect("wait").success());
}

//! `chancery submit DIR` on a real dev node: every file under the directory anchored,
//! plain progress lines when stderr is not a terminal, a CSV manifest with every file's
//! block, and `chancery proof --manifest` writing one proof per file that verifies.

mod support;

use std::process::Command;

use support::DevNode;

#[test]
fn a_directory_is_anchored_with_a_manifest_and_its_proofs_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("dev");
    let node = DevNode::start(&home);
    let docs = dir.path().join("contracts");
    for i in 0..25 {
        let sub = docs.join(format!("batch-{}", i % 3));
        std::fs::create_dir_all(&sub).expect("dir");
        std::fs::write(sub.join(format!("contract {i}.txt")), format!("contract number {i}\n")).expect("write");
    }
    let manifest = dir.path().join("anchored.csv");
    let output = Command::new(env!("CARGO_BIN_EXE_chancery"))
        .args(["submit", "--rpc", &node.ws(), "--wait", "--manifest"])
        .arg(&manifest)
        .arg("--key")
        .arg(home.join("integrator.key"))
        .arg(&docs)
        .output()
        .expect("chancery submit");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned());
    assert!(output.status.success(), "{stdout}{stderr}");
    assert_eq!(stdout.lines().filter(|l| l.contains("committed at height")).count(), 25, "{stdout}");
    assert!(stderr.contains("submitted 25/25") && stderr.contains("committed 25/25"), "progress lines: {stderr}");
    assert!(!stderr.contains('\u{1b}'), "no terminal escapes off a terminal: {stderr}");

    let text = std::fs::read_to_string(&manifest).expect("manifest");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "file,digest,tx_hash,height,block_time_ms,block_time");
    assert_eq!(lines.len(), 26, "{text}");
    assert!(lines[1..].iter().all(|l| l.split(',').nth(3).is_some_and(|h| h.parse::<u64>().is_ok())), "{text}");

    let proofs = dir.path().join("proofs");
    let output = Command::new(env!("CARGO_BIN_EXE_chancery"))
        .args(["proof", "--rpc", &node.ws(), "--manifest"])
        .arg(&manifest)
        .arg("--out")
        .arg(&proofs)
        .output()
        .expect("chancery proof");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut written: Vec<_> = std::fs::read_dir(&proofs).expect("proofs").map(|e| e.expect("entry").path()).collect();
    written.sort();
    assert_eq!(written.len(), 25);
    // The first line of the manifest is the first file in path order.
    let first_file = lines[1].split(',').next().expect("file");
    let verified = Command::new(env!("CARGO_BIN_EXE_chancery"))
        .arg("verify")
        .arg(&written[0])
        .arg("--genesis")
        .arg(home.join("genesis.json"))
        .arg("--file")
        .arg(first_file)
        .output()
        .expect("chancery verify");
    let out = String::from_utf8_lossy(&verified.stdout).into_owned();
    assert!(
        verified.status.success() && out.contains("matches the anchored digest"),
        "{out}{}",
        String::from_utf8_lossy(&verified.stderr)
    );

    let refused = Command::new(env!("CARGO_BIN_EXE_chancery"))
        .args(["submit", "--rpc", &node.ws(), "--manifest", "out.txt"])
        .arg(&docs)
        .output()
        .expect("chancery submit");
    assert!(!refused.status.success(), "a manifest that is neither .json nor .csv is refused");
}

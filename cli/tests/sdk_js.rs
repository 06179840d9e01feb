//! The JavaScript SDK's own tests (sdk/js/test, Node's test runner) against this build's
//! `chancery`: they start a dev chain, anchor, wait, fetch and verify proofs (with the SDK
//! and `chancery verify`), subscribe, check the node's error codes and the golden vectors
//! through the WebAssembly core, and type-check the typings. Node packages come from
//! sdk/js/package-lock.json (`npm ci`, once: TypeScript for the typings check; the SDK itself has no dependencies).

use std::path::PathBuf;
use std::process::Command;

fn sdk() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sdk/js")
}

#[test]
fn the_javascript_sdk_passes_its_tests_against_a_dev_chain() {
    let sdk = sdk();
    if !sdk.join("node_modules/typescript").exists() {
        let npm = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&sdk)
            .output()
            .expect("npm runs (setup.sh --tests installs Node.js)");
        assert!(npm.status.success(), "npm ci failed:\n{}", String::from_utf8_lossy(&npm.stderr));
    }
    let mut files: Vec<String> = std::fs::read_dir(sdk.join("test"))
        .expect("sdk/js/test")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".test.js"))
        .map(|name| format!("test/{name}"))
        .collect();
    files.sort();
    let run = Command::new("node")
        .args(["--test", "--test-reporter=spec"])
        .args(&files)
        .current_dir(&sdk)
        .env("CHANCERY_BIN", env!("CARGO_BIN_EXE_chancery"))
        .output()
        .expect("node runs");
    let out = String::from_utf8_lossy(&run.stdout);
    println!("{out}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "the JavaScript SDK's tests failed (output above)");
    assert!(out.contains("pass 14") && out.contains("fail 0"), "not every SDK test ran and passed: {out}");
}

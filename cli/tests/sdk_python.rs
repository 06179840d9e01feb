//! The Python SDK's own tests (sdk/python/tests, pytest) against this build's `chancery`:
//! they start a dev chain, anchor, wait, fetch and verify proofs (with the SDK and
//! `chancery verify`), subscribe, check the node's error codes and the golden vectors
//! through the Rust core. The SDK is built with `pip install ./sdk/python` (maturin) into
//! a virtual environment under the target folder, with the dev profile so it reuses this
//! build's compiled dependencies; maturin, pytest and websockets come from PyPI, once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TOOLS: &[&str] = &["maturin==1.16.0", "pytest==9.2.0", "websockets==17.4"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(what: &str, command: &mut Command) -> Output {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn venv() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sdk-venv");
    if !venv.join("bin/pytest").exists() {
        run("python3 -m venv", Command::new("python3").args(["-m", "venv"]).arg(&venv));
        run("pip install maturin pytest websockets", Command::new(venv.join("bin/pip")).arg("install").args(TOOLS));
    }
    venv
}

#[test]
fn the_python_sdk_passes_its_tests_against_a_dev_chain() {
    let venv = venv();
    let path = format!("{}:{}", venv.join("bin").display(), std::env::var("PATH").unwrap_or_default());
    run(
        "pip install ./sdk/python",
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--no-build-isolation", "--force-reinstall", "--no-deps"])
            .arg(root().join("sdk/python"))
            .env("PATH", &path)
            .env("MATURIN_PEP517_ARGS", "--profile dev"),
    );
    let tests = run(
        "pytest",
        Command::new(venv.join("bin/python"))
            .args(["-m", "pytest", "-q", "-W", "error", "-p", "no:cacheprovider"])
            .arg(root().join("sdk/python/tests"))
            .current_dir(std::env::temp_dir())
            .env("CHANCERY_BIN", env!("CARGO_BIN_EXE_chancery")),
    );
    let out = String::from_utf8_lossy(&tests.stdout);
    println!("{out}");
    assert!(out.contains("17 passed"), "not every SDK test ran and passed: {out}");
}

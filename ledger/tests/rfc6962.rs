//! Runs every RFC 6962 / RFC 9162 reference vector in `shared/vectors/rfc6962` (inclusion
//! and consistency, `wantErr` cases included) through the generic history-tree verifier
//! with SHA-256. The vectors sit beside the repository; set `CHANCERY_RFC6962_VECTORS` to
//! read them from elsewhere. A missing vector folder fails the test rather than skipping.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use chancery_ledger::history::{verify_consistency, verify_inclusion, TreeHasher};
use serde_json::Value;
use sha2::Digest as _;

/// RFC 6962 hashing: SHA-256 with prefixes `0x00` (leaf) and `0x01` (node). Hashes are
/// byte strings of any length, so that malformed vector hashes (truncated, padded) reach
/// the verifier exactly as the reference implementation sees them.
struct Sha256History;

impl TreeHasher for Sha256History {
    type Output = Vec<u8>;
    fn empty_root() -> Vec<u8> {
        sha2::Sha256::digest([]).to_vec()
    }
    fn hash_leaf(data: &[u8]) -> Vec<u8> {
        sha2::Sha256::new().chain_update([0u8]).chain_update(data).finalize().to_vec()
    }
    fn hash_children(left: &Vec<u8>, right: &Vec<u8>) -> Vec<u8> {
        sha2::Sha256::new().chain_update([1u8]).chain_update(left).chain_update(right).finalize().to_vec()
    }
}

fn vector_dir() -> PathBuf {
    match std::env::var_os("CHANCERY_RFC6962_VECTORS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/rfc6962"),
    }
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

fn hash(value: &Value) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(value.as_str()?).ok()
}

fn proof(value: &Value) -> Option<Vec<Vec<u8>>> {
    match value {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => items.iter().map(hash).collect(),
        _ => None,
    }
}

/// `Some(accepted)` from the verifier, or `None` when the case is not even well-formed
/// JSON of the vector schema.
fn run_inclusion(case: &Value) -> Option<bool> {
    let index = case["leafIdx"].as_u64()?;
    let size = case["treeSize"].as_u64()?;
    let (root, leaf, proof) = (hash(&case["root"])?, hash(&case["leafHash"])?, proof(&case["proof"])?);
    // A leaf hash is a SHA-256 output; the product's types make any other length
    // unrepresentable, here it is checked as the reference implementation does.
    if leaf.len() != 32 {
        return Some(false);
    }
    Some(verify_inclusion::<Sha256History>(index, size, &leaf, &proof, &root).is_ok())
}

fn run_consistency(case: &Value) -> Option<bool> {
    let size1 = case["size1"].as_u64()?;
    let size2 = case["size2"].as_u64()?;
    let (root1, root2, proof) = (hash(&case["root1"])?, hash(&case["root2"])?, proof(&case["proof"])?);
    Some(verify_consistency::<Sha256History>(size1, size2, &proof, &root1, &root2).is_ok())
}

#[test]
fn every_reference_vector_gives_the_expected_answer() {
    let dir = vector_dir();
    let mut files = Vec::new();
    json_files(&dir, &mut files);
    files.sort();
    let (mut accepted, mut rejected) = (0, 0);
    let mut wrong = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("vector file");
        let case: Value = serde_json::from_str(&text).expect("vector JSON");
        let want_err = case["wantErr"].as_bool().expect("wantErr flag");
        let relative = file.strip_prefix(&dir).unwrap_or(file).display().to_string();
        let outcome = if relative.starts_with("inclusion") { run_inclusion(&case) } else { run_consistency(&case) };
        match (outcome, want_err) {
            (Some(true), false) => accepted += 1,
            (Some(false), true) => rejected += 1,
            (None, _) => wrong.push(format!("{relative}: not a readable vector")),
            _ => wrong.push(format!("{relative}: {}", case["desc"])),
        }
    }
    println!("{} vectors: {accepted} accepted, {rejected} rejected, as expected", files.len());
    assert!(wrong.is_empty(), "vectors answered wrongly:\n{}", wrong.join("\n"));
    assert!(files.len() >= 190, "expected the whole vector set, found {} files in {}", files.len(), dir.display());
    assert!(accepted >= 10, "happy-path vectors must be accepted");
}

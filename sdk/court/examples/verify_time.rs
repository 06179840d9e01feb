//! The native side of the verification page's figure: the same file check the page runs
//! (`check_files`, which hashes the document and verifies the bundle), on the
//! 4-validator example of docs/examples, timed natively (release build). The browser
//! side is printed by `cargo test -p chancery-cli --test verify_page -- --nocapture`.
//!
//!   cargo run --release -p chancery-court --example verify_time

use chancery_court::files::{NamedFile, Verdict};

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples");
    let read = |name: &str| std::fs::read(dir.join(name)).expect("docs/examples");
    let (bundle, genesis, contract) = (read("bundle.json"), read("genesis.json"), read("contract.txt"));
    let files = [
        NamedFile { name: "bundle.json", bytes: &bundle },
        NamedFile { name: "genesis.json", bytes: &genesis },
        NamedFile { name: "contract.txt", bytes: &contract },
    ];
    assert_eq!(chancery_court::check_files(&files).verdict, Verdict::Verified);
    let runs = 200;
    let started = std::time::Instant::now();
    for _ in 0..runs {
        assert_eq!(chancery_court::check_files(&files).verdict, Verdict::Verified);
    }
    let ms = started.elapsed().as_secs_f64() * 1000.0 / runs as f64;
    println!("native check of the 4-validator example (bundle, genesis, document): {ms:.3} ms (mean of {runs})");
}

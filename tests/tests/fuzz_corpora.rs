//! The fuzz corpora (`fuzz/corpus/TARGET/*`, grown by `cargo +nightly fuzz run TARGET`
//! and committed) replayed through the same target functions on stable: every input the
//! fuzzers kept, and every crash they found once fixed, stays a test.

use std::path::Path;

use chancery_tests::fuzz::{seeds, TARGETS};

#[test]
fn every_corpus_input_runs_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut total = 0;
    for (name, target) in TARGETS {
        let mut count = 0;
        for dir in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else { continue };
            for entry in entries.flatten() {
                let data = std::fs::read(entry.path()).expect("corpus file");
                target(&data);
                count += 1;
            }
        }
        assert!(count > 0, "target {name} has no corpus in fuzz/corpus/{name}");
        total += count;
    }
    println!("replayed {total} corpus inputs over {} targets", TARGETS.len());
}

#[test]
fn the_seeds_are_valid_inputs_of_their_targets() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for (name, data) in seeds() {
        let (_, target) = TARGETS.iter().find(|(n, _)| *n == name).expect("a target");
        target(&data);
        // `CHANCERY_FUZZ_SEED=1` writes them as the corpora's starting points.
        if std::env::var("CHANCERY_FUZZ_SEED").is_ok() {
            let dir = root.join(name);
            std::fs::create_dir_all(&dir).expect("corpus dir");
            let file = dir.join(format!("seed-{}", &blake3::hash(&data).to_hex()[..16]));
            std::fs::write(file, &data).expect("seed");
        }
    }
}

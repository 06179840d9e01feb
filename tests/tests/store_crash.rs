//! Crash safety with a real RocksDB: a child process commits blocks in a loop and is
//! killed with SIGKILL at pseudo-random points, 50 times. After every kill the store
//! opens, its last block is whole, and every block the child acknowledged (printed after
//! its synced commit) is present with proofs that verify offline.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chancery_ledger::store::ChainStore;
use chancery_ledger::testkit::chain_spec;
use chancery_ledger::verify::{verify, TrustRoot};
use chancery_ledger::Hash;
use chancery_node::rocks::RocksBackend;

const KILLS: usize = 50;

/// xorshift64*: deterministic delays; the seed is printed so a failure can be replayed.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

#[test]
fn sigkill_at_random_points_never_loses_an_acknowledged_block() {
    let seed: u64 = std::env::var("CHANCERY_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5EED_C4A5);
    println!("crash test seed {seed} (set CHANCERY_CRASH_SEED to replay)");
    let mut rng = seed;
    let dir = tempfile::tempdir().expect("tempdir");
    let (spec, _) = chain_spec(4);
    let trust = TrustRoot {
        chain_id: spec.chain_id.clone(),
        genesis_hash: spec.genesis_hash,
        validators: spec.validators.clone(),
        members: spec.members.clone(),
    };
    let mut acknowledged: Vec<(u64, Hash)> = Vec::new();
    let mut kills_mid_run = 0;
    for round in 0..KILLS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_store-writer"))
            .arg(dir.path())
            .arg("40")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start store-writer");
        let stdout = child.stdout.take().expect("stdout");
        let (lines_tx, lines_rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait for the child to commit at least one block, then a random extra time.
        let started = Instant::now();
        let mut first = lines_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("round {round}: the writer acknowledged nothing in 30 s"));
        std::thread::sleep(Duration::from_millis(next(&mut rng) % 120));
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        kills_mid_run += usize::from(status.code().is_none());
        reader.join().expect("reader");
        let mut lines = vec![std::mem::take(&mut first)];
        lines.extend(lines_rx.try_iter());
        for line in &lines {
            let mut parts = line.split_whitespace().skip(1);
            let height: u64 = parts.next().and_then(|h| h.parse().ok()).unwrap_or_else(|| panic!("bad line {line:?}"));
            let tx =
                Hash::from_hex(parts.next().unwrap_or_default()).unwrap_or_else(|e| panic!("bad line {line:?}: {e}"));
            acknowledged.push((height, tx));
        }
        // Reopen: it must open (checking the last blocks), hold every acknowledged block,
        // and serve proofs for them that verify offline.
        let store = ChainStore::open(RocksBackend::open(dir.path()).expect("reopen"), &spec, 3)
            .unwrap_or_else(|e| panic!("round {round} (seed {seed}): store does not open after SIGKILL: {e}"));
        let last_acked = acknowledged.last().map(|(h, _)| *h).unwrap_or(0);
        assert!(
            store.height() > last_acked,
            "round {round}: block {last_acked} was acknowledged but the store has {} blocks",
            store.height()
        );
        assert!(
            store.height() <= last_acked + 2,
            "round {round}: at most the one unacknowledged block in flight may be extra"
        );
        store.check_integrity(Some(1)).unwrap_or_else(|e| panic!("round {round}: last block incomplete: {e}"));
        for (height, tx) in acknowledged.iter().rev().take(lines.len() + 3) {
            let bundle = store
                .proof_bundle(tx, None)
                .unwrap_or_else(|e| panic!("round {round}: acknowledged block {height}: {e}"));
            let report =
                verify(&bundle, &trust, None).unwrap_or_else(|e| panic!("round {round}: proof of block {height}: {e}"));
            assert_eq!(report.height, *height);
        }
        println!(
            "round {round}: killed after {:?}, {} blocks acknowledged, store at {}",
            started.elapsed(),
            lines.len(),
            store.height()
        );
    }
    assert!(kills_mid_run >= KILLS - 1, "the writer must die by the signal, not exit on its own");
    // At the end, the whole chain passes the full check.
    let store = ChainStore::open(RocksBackend::open(dir.path()).expect("reopen"), &spec, u64::MAX).expect("full check");
    assert!(store.height() as usize >= acknowledged.len());
}

//! Signatures per second on one core: single verification by the ledger's rule, and
//! batch verification (the ledger's cofactored batch and ed25519-dalek's own) at
//! several batch sizes. `cargo run --release -p chancery-ledger --features testkit --example batch_sizes`

use std::time::Instant;

use chancery_ledger::crypto::verify_batch;
use chancery_ledger::testkit::{key, public, sign};
use chancery_ledger::Hash;

fn main() {
    let total = 16_384;
    let k = key(9, 1);
    let checked = public(&k).checked().expect("valid key");
    let messages: Vec<Hash> = (0..total as u32).map(|i| Hash(*blake3::hash(&i.to_le_bytes()).as_bytes())).collect();
    let sigs: Vec<_> = messages.iter().map(|m| sign(&k, m)).collect();
    let start = Instant::now();
    for (m, s) in messages.iter().zip(&sigs).take(4096) {
        checked.verify(m, s).expect("valid");
    }
    println!("single (ledger rule): {:.0} sigs/s", 4096.0 / start.elapsed().as_secs_f64());
    let dalek_key = ed25519_dalek::VerifyingKey::from_bytes(&public(&k).0).expect("key");
    let dalek_sigs: Vec<_> = sigs.iter().map(|s| ed25519_dalek::Signature::from_bytes(&s.0)).collect();
    for size in [64, 128, 256, 512, 1024, 2048, 4096, 8192] {
        let start = Instant::now();
        for chunk in 0..total / size {
            let range = chunk * size..(chunk + 1) * size;
            let items: Vec<_> = range.clone().map(|i| (&checked, &messages[i], &sigs[i])).collect();
            verify_batch(&items).expect("valid");
        }
        let ours = total as f64 / start.elapsed().as_secs_f64();
        let start = Instant::now();
        for chunk in 0..total / size {
            let range = chunk * size..(chunk + 1) * size;
            let m: Vec<&[u8]> = messages[range.clone()].iter().map(|m| m.as_bytes().as_slice()).collect();
            let keys = vec![dalek_key; size];
            ed25519_dalek::verify_batch(&m, &dalek_sigs[range], &keys).expect("valid");
        }
        let dalek = total as f64 / start.elapsed().as_secs_f64();
        println!("batch of {size:>5}: ledger {ours:>7.0} sigs/s, ed25519-dalek {dalek:>7.0} sigs/s");
    }
}

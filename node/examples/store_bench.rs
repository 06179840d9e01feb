//! Store benchmark: writes evidence records in blocks to a RocksDB chain store and
//! prints committed records per second, bytes on disk per record after compaction, and
//! proof-bundle assembly latency, next to raw RocksDB batched puts of the same bytes in
//! the same run.
//!
//! `cargo run --release -p chancery-node --example store_bench -- [BLOCKS] [TXS_PER_BLOCK] [--no-raw] [--dir=DIR] [--proofs-only]`
//! (default 100 blocks of 10 000 records; `--no-raw` leaves out the raw RocksDB runs,
//! whose random values would need more disk than the store itself at 100M). Each block's txs are signed just before it
//! is executed (not timed), so the run's memory does not grow with its size: the growth
//! runs write 10M and 100M records (`-- 1000 10000`, `-- 10000 10000 --no-raw`). The commit rate is
//! printed for the whole run, for each tenth of it and for its last tenth (the rate at that
//! size).
//!
//! `--dir=DIR` writes the store into the new directory DIR and keeps it; with
//! `--proofs-only` the bench writes nothing and measures proof assembly on the store a
//! run with `--dir=DIR` left there (TXS_PER_BLOCK must be the one it was written with),
//! so a 100M store is written once and read under several settings. The proof
//! measurement makes two passes of 5,000 random records: the first right after the store
//! was opened (or compacted), when RocksDB opens each table file on first touch, and a
//! second with the files open, a running node's steady state; each prints its latencies
//! and the bytes read from the disk per proof (Linux' `read_bytes` of this process:
//! page-cache misses). Then each step's latency over a third set of records.

use std::time::{Duration, Instant};

use chancery_ledger::state::{execute_with, BlockContext};
use chancery_ledger::store::{Backend, Batch, ChainStore, Column};
use chancery_ledger::testkit::{chain_spec, document_evidence, key, seal_block, signed_tx};
use chancery_ledger::Tx;
use chancery_node::rocks::RocksBackend;

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Record `i`: the same tx every time it is made (Ed25519 signatures are deterministic).
fn record(chain_id: &chancery_ledger::ChainId, genesis_hash: &chancery_ledger::Hash, i: u64) -> Tx {
    signed_tx(&key(3, 0), chain_id, genesis_hash, document_evidence(&i.to_le_bytes()), i + 1)
}

/// Signs records `first..first + count` on all cores.
fn make_txs(
    chain_id: &chancery_ledger::ChainId,
    genesis_hash: &chancery_ledger::Hash,
    first: u64,
    count: u64,
) -> Vec<Tx> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let per = count.div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (first + t * per..first + ((t + 1) * per).min(count))
                        .map(|i| record(chain_id, genesis_hash, i))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("signer thread")).collect()
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Bytes this process has read from the disk so far (page-cache misses), where the
/// system reports it.
fn disk_read_bytes() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines().find_map(|line| line.strip_prefix("read_bytes:")).and_then(|n| n.trim().parse().ok())
}

fn print_latencies(what: &str, latencies: &mut [Duration]) {
    latencies.sort();
    println!(
        "  {what}: p50 {:.1?}, p99 {:.1?}, max {:.1?}",
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        latencies[latencies.len() - 1]
    );
}

const PROOFS: usize = 5_000;

/// The hash of a random record of the first `records`.
fn random_record(spec: &chancery_ledger::store::ChainSpec, records: u64, rng: &mut u64) -> chancery_ledger::Hash {
    record(&spec.chain_id, &spec.genesis_hash, xorshift(rng) % records).hash()
}

/// Assembles the proof bundles of `PROOFS` random records of the first `records` and
/// prints their latencies and the bytes read from the disk meanwhile.
fn proof_pass(
    what: &str,
    store: &ChainStore<RocksBackend>,
    spec: &chancery_ledger::store::ChainSpec,
    records: u64,
    rng: &mut u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut latencies = Vec::new();
    let read_before = disk_read_bytes();
    for _ in 0..PROOFS {
        let tx_hash = random_record(spec, records, rng);
        let started = Instant::now();
        let bundle = store.proof_bundle(&tx_hash, None)?;
        latencies.push(started.elapsed());
        std::hint::black_box(bundle);
    }
    print_latencies(&format!("proof-bundle assembly, {what}, {PROOFS} random records"), &mut latencies);
    if let (Some(before), Some(after)) = (read_before, disk_read_bytes()) {
        println!("    read from the disk: {:.0} bytes per proof", (after - before) as f64 / PROOFS as f64);
    }
    Ok(())
}

/// Proof-bundle assembly over random records of the first `records`, twice: the first
/// pass after the store was opened or compacted (RocksDB opens each table file, reading
/// its index and bloom filter, when a read first touches it), then over other records
/// with the files open (a running node's steady state). Then, over others again, the
/// time of each step a proof takes: the tx index, the tx's group, its block's header and
/// commit, the validator changes up to it, the block's stored tx-tree levels.
fn measure_proofs(
    store: &ChainStore<RocksBackend>,
    spec: &chancery_ledger::store::ChainSpec,
    records: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    proof_pass("first pass (table files opened on first touch)", store, spec, records, &mut rng)?;
    proof_pass("second pass (table files open)", store, spec, records, &mut rng)?;
    let mut steps: [Vec<Duration>; 6] = Default::default();
    for _ in 0..PROOFS {
        let tx_hash = random_record(spec, records, &mut rng);
        let started = Instant::now();
        let location = store.tx_location(&tx_hash)?;
        let located = Instant::now();
        std::hint::black_box(store.tx_at(location)?);
        let read = Instant::now();
        std::hint::black_box(store.header(location.height)?);
        let headed = Instant::now();
        std::hint::black_box(store.commit(location.height)?);
        let committed = Instant::now();
        std::hint::black_box(store.validator_changes(location.height)?);
        let changes = Instant::now();
        // The levels as stored (keyed by the big-endian height), read but not decoded.
        std::hint::black_box(store.backend().get(Column::TxTrees, &location.height.to_be_bytes())?);
        let done = Instant::now();
        let took =
            [located - started, read - located, headed - read, committed - headed, changes - committed, done - changes];
        for (step, took) in steps.iter_mut().zip(took) {
            step.push(took);
        }
    }
    let names = ["tx index", "tx group", "header", "commit", "validator changes", "tx-tree levels"];
    for (what, latencies) in names.iter().zip(steps.iter_mut()) {
        print_latencies(&format!("  step: {what}"), latencies);
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (flags, positional): (Vec<String>, Vec<String>) = std::env::args().skip(1).partition(|a| a.starts_with("--"));
    let (mut raw_runs, mut kept, mut proofs_only) = (true, None, false);
    for flag in &flags {
        match flag.as_str() {
            "--no-raw" => raw_runs = false,
            "--proofs-only" => proofs_only = true,
            _ => match flag.strip_prefix("--dir=") {
                Some(dir) => kept = Some(std::path::PathBuf::from(dir)),
                None => return Err(format!("unknown flag {flag}; see the example's doc comment").into()),
            },
        }
    }
    let mut args = positional.into_iter();
    let blocks: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100);
    let per_block: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(10_000);
    let (spec, keys) = chain_spec(4);
    if proofs_only {
        let dir = kept.ok_or("--proofs-only reads the store a run with --dir=DIR kept")?;
        let store = ChainStore::open(RocksBackend::open(&dir)?, &spec, 0)?;
        let records = store.height() * per_block;
        println!("proofs over the {records} records of the {} blocks in {}", store.height(), dir.display());
        return measure_proofs(&store, &spec, records);
    }
    let records = blocks * per_block;
    let temporary = tempfile::tempdir()?;
    let store_dir = match &kept {
        Some(dir) if dir.exists() => {
            return Err(format!("{} exists; --dir= takes a new directory", dir.display()).into())
        }
        Some(dir) => dir.clone(),
        None => temporary.path().join("store"),
    };

    println!(
        "writing {records} evidence records in {blocks} blocks (each block's txs signed just before, not timed)..."
    );
    let mut store = ChainStore::open(RocksBackend::open(&store_dir)?, &spec, 0)?;
    let (mut execute_time, mut commit_time) = (Duration::ZERO, Duration::ZERO);
    let last_tenth = blocks - blocks / 10;
    let (mut tail_time, mut tail_records) = (Duration::ZERO, 0u64);
    let mut tenth_time = Duration::ZERO;
    for height in 0..blocks {
        let all = make_txs(&spec.chain_id, &spec.genesis_hash, height * per_block, per_block);
        let txs = &all[..];
        let time_ms = 1_767_225_600_000 + 1_000 * (height + 1);
        let started = Instant::now();
        // Signatures were verified by the mempool; execution checks every other rule.
        let ctx = BlockContext { chain_id: spec.chain_id.clone(), height, time_ms };
        let changes = execute_with(&*store, &ctx, txs, &|_| true)?;
        let (block, commit) = seal_block(&store, &keys, txs.to_vec(), time_ms, &changes)?;
        let executed = Instant::now();
        store.commit_block(&block, &commit, &changes)?;
        let committed = Instant::now();
        execute_time += executed - started;
        commit_time += committed - executed;
        let took = committed - started;
        tenth_time += took;
        if height >= last_tenth {
            tail_time += took;
            tail_records += per_block;
        }
        if blocks >= 100 && (height + 1) % (blocks / 10) == 0 {
            let rate = (blocks / 10 * per_block) as f64 / tenth_time.as_secs_f64();
            println!(
                "  {} records written; this tenth committed {rate:.0} records per second",
                (height + 1) * per_block
            );
            tenth_time = Duration::ZERO;
        }
    }
    // RocksDB's write-ahead log files (`NNNNNN.log`) at the end of writing: what a restart
    // would replay.
    let wal: u64 = std::fs::read_dir(&store_dir)?
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .filter_map(|e| e.metadata().ok().map(|m| m.len()))
        .sum();
    let written = store.written_bytes();
    let total = execute_time + commit_time;
    println!("store: {records} records in {blocks} blocks: execute {execute_time:.2?} + commit {commit_time:.2?} = {total:.2?}");
    println!(
        "  committed records per second: {:.0} (commit alone: {:.0})",
        records as f64 / total.as_secs_f64(),
        records as f64 / commit_time.as_secs_f64()
    );
    println!(
        "  committed records per second over the last tenth (records {} to {records}): {:.0}",
        records - tail_records,
        tail_records as f64 / tail_time.as_secs_f64()
    );
    println!("  bytes written (keys + values): {written} = {:.1} per record", written as f64 / records as f64);
    println!("  write-ahead log on disk at the end of writing: {wal} bytes");

    let backend = store.backend();
    backend.compact()?;
    let disk = backend.disk_bytes()?.unwrap_or(0);
    println!("  bytes on disk after compaction: {disk} = {:.1} per record", disk as f64 / records as f64);

    measure_proofs(&store, &spec, records)?;

    if !raw_runs {
        return Ok(());
    }
    // Raw RocksDB: the same number of bytes in the same number of synced batches, random
    // 32-byte keys (like tx hashes) and values of the average size.
    let raw = RocksBackend::open(&temporary.path().join("raw"))?;
    let value_len = (written / records).saturating_sub(32) as usize;
    let started = Instant::now();
    let mut seed = 42u64;
    let mut raw_bytes = 0u64;
    for _ in 0..blocks {
        let mut batch = Batch::default();
        for _ in 0..per_block {
            let key: Vec<u8> = (0..4).flat_map(|_| xorshift(&mut seed).to_le_bytes()).collect();
            let value: Vec<u8> =
                (0..value_len.div_ceil(8)).flat_map(|_| xorshift(&mut seed).to_le_bytes()).take(value_len).collect();
            batch.put(Column::Txs, key, value);
        }
        raw_bytes += batch.bytes() as u64;
        raw.write(batch)?;
    }
    let raw_time = started.elapsed();
    println!("raw RocksDB: {raw_bytes} bytes in {blocks} synced batches of {per_block} puts: {raw_time:.2?} = {:.0} puts per second", records as f64 / raw_time.as_secs_f64());
    // Raw RocksDB with the store's key shape: two random keys per record (the store
    // indexes every record by tx hash and by digest), same bytes. Shows how much of the
    // gap to one-key raw writes is the second index rather than the store's own work.
    let raw2 = RocksBackend::open(&temporary.path().join("raw2"))?;
    let started = Instant::now();
    for _ in 0..blocks {
        let mut batch = Batch::default();
        for _ in 0..per_block {
            let key: Vec<u8> = (0..4).flat_map(|_| xorshift(&mut seed).to_le_bytes()).collect();
            let value: Vec<u8> = (0..(value_len / 2).div_ceil(8))
                .flat_map(|_| xorshift(&mut seed).to_le_bytes())
                .take(value_len / 2)
                .collect();
            batch.put(Column::Txs, key, value.clone());
            let key: Vec<u8> = (0..4).flat_map(|_| xorshift(&mut seed).to_le_bytes()).collect();
            batch.put(Column::Evidence, key, value);
        }
        raw2.write(batch)?;
    }
    let raw2_time = started.elapsed();
    println!("raw RocksDB, two random keys per record, same bytes: {raw2_time:.2?}");
    println!("ratio: store throughput (execute + commit) is {:.0}% of raw RocksDB writing the same bytes; commit alone {:.0}%", 100.0 * raw_time.as_secs_f64() / total.as_secs_f64(), 100.0 * raw_time.as_secs_f64() / commit_time.as_secs_f64());
    println!(
        "ratio: store commit takes {:.2}x the time of raw RocksDB writing the same bytes under two keys per record",
        commit_time.as_secs_f64() / raw2_time.as_secs_f64()
    );
    Ok(())
}

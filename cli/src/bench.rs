//! `chancery bench`: a load generator against a running node. It pre-signs evidence txs
//! for several submitters (one connection each), measures in one run the machine's raw
//! ed25519 batch-verification rate on all cores, then the committed evidence per second
//! at full load and the submit-to-commit latency (p50, p99) at full load and at half of
//! the measured throughput.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chancery_ledger::tx::EvidenceKind;
use chancery_ledger::{ChainIdentity, Digest, DigestAlg, Hash, Tx};
use chancery_node::signer::KeyFile;
use chancery_rpc::txs::{clock_nonce, evidence_tx, tx_hex};
use chancery_rpc::types::SubmitOutcome;
use chancery_rpc::ChanceryApiClient;
use ed25519_dalek::{Signer as _, SigningKey};

/// Options.
pub struct BenchArgs {
    /// Node RPC URL.
    pub rpc: String,
    /// Directory of submitter key files (one connection per key).
    pub keys: PathBuf,
    /// Txs at full load.
    pub txs: usize,
    /// Txs per `evidence_submitBatch`.
    pub batch: usize,
    /// Seconds of the half-load phase.
    pub half_load_secs: u64,
    /// Offer the raw batch-verification rate divided by this in the paced phase instead
    /// of half the measured throughput (8 on a four-validator testnet: half of the
    /// natural ceiling raw / 4).
    pub paced_raw_divisor: Option<f64>,
    /// Offer this many txs a second in the paced phase (over the divisor).
    pub paced_rate: Option<f64>,
}

/// Raw ed25519-dalek batch verification over all cores: signatures per second.
pub fn raw_batch_verify_rate(signatures: usize) -> f64 {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let key = SigningKey::from_bytes(&[7; 32]);
    let messages: Vec<[u8; 32]> = (0..signatures).map(|i| *blake3::hash(&i.to_le_bytes()).as_bytes()).collect();
    let sigs: Vec<ed25519_dalek::Signature> = messages.iter().map(|m| key.sign(m)).collect();
    let keys = vec![key.verifying_key(); signatures];
    const BATCH: usize = 512;
    let start = Instant::now();
    std::thread::scope(|scope| {
        let per = signatures.div_ceil(threads);
        for t in 0..threads {
            let range = t * per..((t + 1) * per).min(signatures);
            let (messages, sigs, keys) = (&messages, &sigs, &keys);
            scope.spawn(move || {
                let mut at = range.start;
                while at < range.end {
                    let end = (at + BATCH).min(range.end);
                    let m: Vec<&[u8]> = messages[at..end].iter().map(|m| m.as_slice()).collect();
                    let ok = ed25519_dalek::verify_batch(&m, &sigs[at..end], &keys[at..end]).is_ok();
                    assert!(ok, "honest signatures verify");
                    at = end;
                }
            });
        }
    });
    signatures as f64 / start.elapsed().as_secs_f64()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn load_keys(dir: &Path) -> Result<Vec<SigningKey>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading the submitter keys in {} (the dev chain writes them)", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "key"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!("no *.key files in {}", dir.display());
    }
    paths.iter().map(|p| KeyFile::load(p, None).with_context(|| format!("loading {}", p.display()))).collect()
}

/// Submit times and commit times of every tx, shared by the submitters and the watcher.
#[derive(Default)]
struct Clock {
    submitted: HashMap<Hash, Instant>,
    committed: HashMap<Hash, Instant>,
}

/// A pre-signed tx and its hex, encoded before the timed phase.
type Signed = (Tx, String);

fn presign(keys: &[SigningKey], chain: &ChainIdentity, per_key: usize, tag: &str) -> Vec<Vec<Signed>> {
    let base = clock_nonce();
    std::thread::scope(|scope| {
        let handles: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(k, key)| {
                scope.spawn(move || {
                    (0..per_key)
                        .map(|i| {
                            let doc = format!("bench {tag} {base} submitter {k} document {i}");
                            let digest = Digest::compute(DigestAlg::Sha256, doc.as_bytes());
                            let tx = evidence_tx(key, chain, EvidenceKind::Document, digest, base + i as u64);
                            let hex = tx_hex(&tx);
                            (tx, hex)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

/// Sends `txs` on one connection in batches, pacing each batch to `interval` if given.
async fn send(
    client: chancery_rpc::Client,
    txs: Vec<Signed>,
    batch: usize,
    interval: Option<Duration>,
    clock: Arc<Mutex<Clock>>,
) -> Result<()> {
    let mut next = Instant::now();
    let mut queue: std::collections::VecDeque<Signed> = txs.into();
    while !queue.is_empty() {
        if let Some(interval) = interval {
            tokio::time::sleep_until(next.into()).await;
            next += interval;
        }
        let chunk: Vec<Signed> = queue.drain(..batch.min(queue.len())).collect();
        let hexes: Vec<String> = chunk.iter().map(|(_, hex)| hex.clone()).collect();
        let sent = Instant::now();
        let outcomes = client.submit_batch(hexes).await.map_err(|e| anyhow::anyhow!("submit: {e}"))?;
        let mut retry = Vec::new();
        {
            let mut clock = clock.lock().unwrap_or_else(|e| e.into_inner());
            for (tx, outcome) in chunk.into_iter().zip(outcomes) {
                match outcome {
                    SubmitOutcome::Accepted { tx_hash } => {
                        clock.submitted.entry(tx_hash).or_insert(sent);
                    }
                    SubmitOutcome::Refused { error } if error.code == chancery_rpc::ErrorCode::MempoolFull.code() => {
                        retry.push(tx)
                    }
                    SubmitOutcome::Refused { error } => bail!("the node refused a bench tx: {}", error.message),
                }
            }
        }
        if !retry.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            for tx in retry.into_iter().rev() {
                queue.push_front(tx);
            }
        }
    }
    Ok(())
}

struct Phase {
    txs: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

async fn phase(
    args: &BenchArgs,
    keys: &[SigningKey],
    chain: &ChainIdentity,
    per_key: usize,
    interval: Option<Duration>,
    batch: usize,
    tag: &str,
) -> Result<Phase> {
    let txs = presign(keys, chain, per_key, tag);
    let total: usize = txs.iter().map(Vec::len).sum();
    let clock = Arc::new(Mutex::new(Clock::default()));
    let watcher = chancery_rpc::connect(&args.rpc, Duration::from_secs(60)).await?;
    let mut blocks = watcher.subscribe_committed().await.map_err(|e| anyhow::anyhow!("subscribe: {e}"))?;
    let watch_clock = clock.clone();
    let watch = tokio::spawn(async move {
        let mut seen = 0usize;
        while seen < total {
            match blocks.next().await {
                Some(Ok(block)) => {
                    let now = Instant::now();
                    let mut clock = watch_clock.lock().unwrap_or_else(|e| e.into_inner());
                    for hash in block.tx_hashes {
                        if clock.committed.insert(hash, now).is_none() {
                            seen += 1;
                        }
                    }
                }
                _ => return Err(anyhow::anyhow!("the committed-block subscription ended")),
            }
        }
        Ok(())
    });
    let start = Instant::now();
    let mut senders = Vec::new();
    for set in txs {
        let client = chancery_rpc::connect(&args.rpc, Duration::from_secs(60)).await?;
        senders.push(tokio::spawn(send(client, set, batch, interval, clock.clone())));
    }
    for s in senders {
        s.await.context("sender task")??;
    }
    match tokio::time::timeout(Duration::from_secs(600), watch).await {
        Ok(r) => r.context("watcher task")??,
        Err(_) => {
            let missing: Vec<Hash> = {
                let clock = clock.lock().unwrap_or_else(|e| e.into_inner());
                clock.submitted.keys().filter(|h| !clock.committed.contains_key(*h)).copied().collect()
            };
            let example = match missing.first() {
                Some(hash) => format!("; tx {hash} is {:?}", watcher.status(*hash).await.map(|a| a.status)),
                None => String::new(),
            };
            bail!("{} of {total} bench txs were not seen committed within 600 s{example}", missing.len());
        }
    }
    let clock = clock.lock().unwrap_or_else(|e| e.into_inner());
    let last = clock.committed.values().max().copied().unwrap_or(start);
    let mut latencies: Vec<f64> = clock
        .submitted
        .iter()
        .filter_map(|(h, s)| clock.committed.get(h).map(|c| c.duration_since(*s).as_secs_f64() * 1000.0))
        .collect();
    latencies.sort_by(f64::total_cmp);
    Ok(Phase {
        txs: total,
        seconds: last.duration_since(start).as_secs_f64(),
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
    })
}

/// `chancery bench`.
pub fn bench(args: BenchArgs) -> Result<()> {
    let keys = load_keys(&args.keys)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let client = chancery_rpc::connect(&args.rpc, Duration::from_secs(60)).await?;
        let info = client.info().await.map_err(|e| anyhow::anyhow!("chain_info: {e}"))?;
        let chain = info.identity()?;
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        println!("chancery bench against {} (chain {}), {} submitters, {threads} cores", args.rpc, info.chain_id, keys.len());
        let raw = raw_batch_verify_rate(32_768);
        println!("raw ed25519 batch verification (ed25519-dalek, {threads} threads): {raw:.0} signatures/s");
        let per_key = args.txs.div_ceil(keys.len());
        let full = phase(&args, &keys, &chain, per_key, None, args.batch, "full").await?;
        let rate = full.txs as f64 / full.seconds;
        println!(
            "full load: {} txs committed in {:.2} s = {rate:.0} evidence/s ({:.1}% of raw batch verification); submit-to-commit p50 {:.0} ms, p99 {:.0} ms",
            full.txs,
            full.seconds,
            100.0 * rate / raw,
            full.p50_ms,
            full.p99_ms
        );
        // Half load: each submitter sends small batches on a fixed beat.
        let half = match (args.paced_rate, args.paced_raw_divisor) {
            (Some(offered), _) if offered > 0.0 => offered,
            (_, Some(divisor)) if divisor > 0.0 => raw / divisor,
            _ => rate / 2.0,
        };
        let tick = Duration::from_millis(50);
        let per_tick = ((half * tick.as_secs_f64()) / keys.len() as f64).max(1.0).round() as usize;
        let per_key = per_tick * (args.half_load_secs * 1000 / tick.as_millis() as u64) as usize;
        let paced = phase(&args, &keys, &chain, per_key, Some(tick), per_tick, "half").await?;
        println!(
            "paced load ({:.0} evidence/s offered): {} txs in {:.2} s; submit-to-commit p50 {:.0} ms, p99 {:.0} ms",
            (per_tick * keys.len()) as f64 / tick.as_secs_f64(),
            paced.txs,
            paced.seconds,
            paced.p50_ms,
            paced.p99_ms
        );
        Ok(())
    })
}

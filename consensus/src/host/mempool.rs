//! The mempool: signed txs that passed every check and wait for a block.
//!
//! Admission verifies signatures in batches spread over the cores (one batch per core;
//! a failed batch is retried one signature at a time to name the bad txs), then checks
//! each tx against the committed state as a block would (chain, size, member,
//! permission, nonce, duplicate, certificate rules). It is bounded in txs and bytes, in
//! total and per submitter; above a bound a submitter is told to retry, the pool never
//! grows. A tx admitted here is marked verified, so executing its block does not verify
//! its signature again.
//!
//! Block order is deterministic: txs in arrival order, except that each submitter's txs
//! go in nonce order (the nonce rule needs it when one submitter sends concurrently).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use chancery_ledger::crypto::{verify_batch, CheckedKey};
use chancery_ledger::state::{BlockContext, Execution, StateView, TxError};
use chancery_ledger::store::{Backend, ChainStore};
use chancery_ledger::{encode, Hash, HashContext, PublicKey, Tx};

/// Bounds on the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MempoolLimits {
    /// Most txs in the pool.
    pub txs_max: usize,
    /// Most bytes (canonical tx bytes) in the pool.
    pub bytes_max: usize,
    /// Most txs from one submitter.
    pub per_submitter_txs_max: usize,
    /// Most bytes from one submitter.
    pub per_submitter_bytes_max: usize,
}

/// Why a tx was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// It breaks a ledger rule (signature, member, nonce, ...).
    #[error(transparent)]
    Invalid(#[from] TxError),
    /// Another pending tx of the same submitter has this nonce.
    #[error("nonce {nonce} of signer {signer} is already used by pending tx {pending}; use another nonce")]
    NoncePending {
        /// Signer key.
        signer: String,
        /// The nonce.
        nonce: u64,
        /// The pending tx.
        pending: Hash,
    },
    /// A bound is reached.
    #[error("mempool full ({0}), retry after the next block")]
    Full(String),
    /// The store could not be read.
    #[error("node store error: {0}")]
    Store(String),
}

/// What the pool knows about a tx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolStatus {
    /// Waiting for a block.
    Pending,
    /// Dropped when a block was built (the state changed since admission).
    Dropped(String),
    /// Not here (maybe committed, maybe never seen).
    Unknown,
}

struct Entry {
    tx: Tx,
    hash: Hash,
    bytes: usize,
    signer: PublicKey,
    nonce: u64,
}

#[derive(Default)]
struct Usage {
    txs: usize,
    bytes: usize,
    nonces: BTreeMap<u64, Hash>,
}

#[derive(Default)]
struct Pool {
    order: BTreeMap<u64, Hash>,
    seq_of: HashMap<Hash, u64>,
    entries: HashMap<Hash, Entry>,
    usage: HashMap<PublicKey, Usage>,
    bytes: usize,
    next_seq: u64,
    dropped: HashMap<Hash, String>,
    dropped_order: VecDeque<Hash>,
}

/// How many dropped txs' reasons are remembered for status queries.
const DROPPED_REMEMBERED: usize = 100_000;
/// A submission is split over the cores only into batches of at least this many.
const PARALLEL_MIN: usize = 512;
/// Most submitter keys whose checked form is cached.
const KEYS_CACHED: usize = 4096;

/// The mempool.
pub struct Mempool {
    limits: MempoolLimits,
    /// The chain's genesis hash, which every tx signature covers.
    genesis_hash: Hash,
    pool: Mutex<Pool>,
    keys: Mutex<HashMap<PublicKey, CheckedKey>>,
    threads: usize,
}

/// A tx with its canonical bytes' size and hash.
pub struct Candidate {
    /// The tx.
    pub tx: Tx,
    /// Size of its canonical bytes.
    pub bytes: usize,
    /// Its hash.
    pub hash: Hash,
}

impl Mempool {
    /// An empty pool with `limits` for the chain of `genesis_hash`.
    pub fn new(limits: MempoolLimits, genesis_hash: Hash) -> Self {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Mempool { limits, genesis_hash, pool: Mutex::default(), keys: Mutex::default(), threads }
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        // A panic while holding the lock cannot leave the pool half-updated in a way
        // that breaks safety: every update is a few map operations.
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of pending txs and their bytes.
    pub fn size(&self) -> (usize, usize) {
        let pool = self.pool();
        (pool.entries.len(), pool.bytes)
    }

    /// Checks and admits `txs` against `view` (the committed state at `ctx`); one result
    /// per tx, in order. A tx already pending is accepted again without a second copy.
    pub fn submit<V: StateView>(&self, view: &V, ctx: &BlockContext, txs: Vec<Tx>) -> Vec<Result<Hash, SubmitError>>
    where
        V::Error: std::fmt::Debug,
    {
        let candidates: Vec<Candidate> = txs
            .into_iter()
            .map(|tx| {
                let bytes = encode(&tx);
                Candidate { hash: HashContext::Tx.hash(&bytes), bytes: bytes.len(), tx }
            })
            .collect();
        let mut results: Vec<Option<Result<Hash, SubmitError>>> = vec![None; candidates.len()];
        // Cheap refusals first, then signatures, then state.
        {
            let pool = self.pool();
            for (i, c) in candidates.iter().enumerate() {
                if pool.entries.contains_key(&c.hash) {
                    results[i] = Some(Ok(c.hash));
                } else if let Some(e) = self.capacity(&pool, c) {
                    results[i] = Some(Err(e));
                }
            }
        }
        let to_verify: Vec<usize> = (0..candidates.len()).filter(|i| results[*i].is_none()).collect();
        let refs: Vec<&Tx> = to_verify.iter().map(|i| &candidates[*i].tx).collect();
        for (j, error) in self.verify_signatures(&refs) {
            results[to_verify[j]] = Some(Err(error));
        }
        // State checks in (signer, nonce) order, so one batch may carry a run of nonces.
        let mut order: Vec<usize> = (0..candidates.len()).filter(|i| results[*i].is_none()).collect();
        order.sort_by_key(|i| (candidates[*i].tx.signer, candidates[*i].tx.nonce));
        let mut execution = match Execution::new(view, ctx.clone()) {
            Ok(execution) => execution,
            Err(e) => {
                let message = e.to_string();
                return results
                    .into_iter()
                    .map(|r| r.unwrap_or_else(|| Err(SubmitError::Store(message.clone()))))
                    .collect();
            }
        };
        let mut pool = self.pool();
        for i in order {
            let c = &candidates[i];
            results[i] = Some(self.admit(&mut pool, &mut execution, c));
        }
        drop(pool);
        results.into_iter().map(|r| r.unwrap_or_else(|| Err(SubmitError::Store("unchecked".into())))).collect()
    }

    fn admit<V: StateView>(
        &self,
        pool: &mut Pool,
        execution: &mut Execution<'_, V>,
        c: &Candidate,
    ) -> Result<Hash, SubmitError>
    where
        V::Error: std::fmt::Debug,
    {
        if pool.entries.contains_key(&c.hash) {
            return Ok(c.hash);
        }
        if let Some(e) = self.capacity(pool, c) {
            return Err(e);
        }
        if let Some(pending) = pool.usage.get(&c.tx.signer).and_then(|u| u.nonces.get(&c.tx.nonce)) {
            return Err(SubmitError::NoncePending {
                signer: c.tx.signer.to_hex(),
                nonce: c.tx.nonce,
                pending: *pending,
            });
        }
        match execution.push_verified_known(&c.tx, c.bytes, &c.hash) {
            Err(e) => return Err(SubmitError::Store(e.to_string())),
            Ok(Err(e)) => return Err(SubmitError::Invalid(e)),
            Ok(Ok(())) => {}
        }
        let seq = pool.next_seq;
        pool.next_seq += 1;
        pool.order.insert(seq, c.hash);
        pool.seq_of.insert(c.hash, seq);
        let usage = pool.usage.entry(c.tx.signer).or_default();
        usage.txs += 1;
        usage.bytes += c.bytes;
        usage.nonces.insert(c.tx.nonce, c.hash);
        pool.bytes += c.bytes;
        pool.entries.insert(
            c.hash,
            Entry { tx: c.tx.clone(), hash: c.hash, bytes: c.bytes, signer: c.tx.signer, nonce: c.tx.nonce },
        );
        Ok(c.hash)
    }

    fn capacity(&self, pool: &Pool, c: &Candidate) -> Option<SubmitError> {
        let l = &self.limits;
        if pool.entries.len() >= l.txs_max {
            return Some(SubmitError::Full(format!("{} txs pending, the limit", l.txs_max)));
        }
        if pool.bytes + c.bytes > l.bytes_max {
            return Some(SubmitError::Full(format!("{} bytes pending, the limit is {}", pool.bytes, l.bytes_max)));
        }
        let usage = pool.usage.get(&c.tx.signer);
        let (txs, bytes) = usage.map_or((0, 0), |u| (u.txs, u.bytes));
        if txs >= l.per_submitter_txs_max {
            return Some(SubmitError::Full(format!(
                "signer {} has {txs} txs pending, the per-submitter limit",
                c.tx.signer.short()
            )));
        }
        if bytes + c.bytes > l.per_submitter_bytes_max {
            return Some(SubmitError::Full(format!(
                "signer {} has {bytes} bytes pending, the per-submitter limit is {}",
                c.tx.signer.short(),
                l.per_submitter_bytes_max
            )));
        }
        None
    }

    fn checked_key(&self, key: &PublicKey) -> Result<CheckedKey, TxError> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = keys.get(key) {
            return Ok(*k);
        }
        let checked = key.checked().map_err(TxError::BadSignature)?;
        if keys.len() >= KEYS_CACHED {
            keys.clear();
        }
        keys.insert(*key, checked);
        Ok(checked)
    }

    /// Verifies the signatures of `candidates[i]` for `i` in `which`, in one batch per
    /// core; returns the failures by position in `txs`.
    fn verify_signatures(&self, txs: &[&Tx]) -> Vec<(usize, SubmitError)> {
        let mut failures = Vec::new();
        let mut items = Vec::with_capacity(txs.len());
        for (i, tx) in txs.iter().enumerate() {
            match self.checked_key(&tx.signer) {
                Ok(key) => items.push((i, key, tx.message(&self.genesis_hash))),
                Err(e) => failures.push((i, SubmitError::Invalid(e))),
            }
        }
        // Larger batches verify cheaper per signature, and concurrent submissions keep the
        // cores busy anyway: split only into batches of at least PARALLEL_MIN.
        let chunks = (items.len() / PARALLEL_MIN).clamp(1, self.threads);
        let chunk_len = items.len().div_ceil(chunks).max(1);
        let check = |chunk: &[(usize, CheckedKey, Hash)]| -> Vec<(usize, SubmitError)> {
            let batch: Vec<_> = chunk.iter().map(|(i, k, m)| (k, m, &txs[*i].signature)).collect();
            if verify_batch(&batch).is_ok() {
                return Vec::new();
            }
            chunk
                .iter()
                .filter_map(|(i, k, m)| {
                    k.verify(m, &txs[*i].signature).err().map(|e| (*i, SubmitError::Invalid(TxError::BadSignature(e))))
                })
                .collect()
        };
        if chunks == 1 {
            failures.extend(check(&items));
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = items.chunks(chunk_len).map(|c| scope.spawn(move || check(c))).collect();
                for handle in handles {
                    match handle.join() {
                        Ok(f) => failures.extend(f),
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                }
            });
        }
        failures
    }

    /// Whether every tx's signature verifies, checked in batches over the cores (a block
    /// fetched by sync); txs pending here were checked at admission and are skipped.
    /// `false` says only that some tx fails; execution then finds and names it.
    pub fn verify_all(&self, txs: &[Tx]) -> bool {
        let refs: Vec<&Tx> = if self.size().0 == 0 {
            txs.iter().collect()
        } else {
            // Hashed before the pool is locked: admission goes on meanwhile.
            let hashes: Vec<Hash> = txs.iter().map(Tx::hash).collect();
            let pool = self.pool();
            txs.iter().zip(&hashes).filter(|(_, hash)| !pool.entries.contains_key(hash)).map(|(tx, _)| tx).collect()
        };
        self.verify_signatures(&refs).is_empty()
    }

    /// Up to `max_txs` pending txs in block order (see the module docs).
    pub fn candidates(&self, max_txs: usize) -> Vec<Candidate> {
        let pool = self.pool();
        let mut next_nonce: HashMap<PublicKey, std::collections::btree_map::Iter<'_, u64, Hash>> = HashMap::new();
        let mut out = Vec::with_capacity(max_txs.min(pool.entries.len()));
        for hash in pool.order.values() {
            if out.len() >= max_txs {
                break;
            }
            let Some(entry) = pool.entries.get(hash) else { continue };
            let nonces = next_nonce
                .entry(entry.signer)
                .or_insert_with(|| pool.usage.get(&entry.signer).map(|u| u.nonces.iter()).unwrap_or_default());
            if let Some((_, h)) = nonces.next() {
                if let Some(e) = pool.entries.get(h) {
                    out.push(Candidate { tx: e.tx.clone(), bytes: e.bytes, hash: e.hash });
                }
            }
        }
        out
    }

    /// The pending txs with these hashes, in order; `None` where the pool has none.
    pub fn get_txs(&self, hashes: &[Hash]) -> Vec<Option<Tx>> {
        let pool = self.pool();
        hashes.iter().map(|h| pool.entries.get(h).map(|e| e.tx.clone())).collect()
    }

    /// Whether `hash` is pending (its signature was verified at admission).
    pub fn is_verified(&self, hash: &Hash) -> bool {
        self.pool().entries.contains_key(hash)
    }

    /// Removes txs that are now in a committed block.
    pub fn remove_committed(&self, hashes: &[Hash]) {
        let mut pool = self.pool();
        for hash in hashes {
            pool.remove(hash);
        }
    }

    /// Drops a tx that can no longer go into a block, remembering why.
    pub fn drop_tx(&self, hash: &Hash, reason: String) {
        let mut pool = self.pool();
        if pool.remove(hash) {
            if pool.dropped_order.len() >= DROPPED_REMEMBERED {
                if let Some(old) = pool.dropped_order.pop_front() {
                    pool.dropped.remove(&old);
                }
            }
            pool.dropped_order.push_back(*hash);
            pool.dropped.insert(*hash, reason);
        }
    }

    /// What the pool knows about `hash`.
    pub fn status(&self, hash: &Hash) -> PoolStatus {
        let pool = self.pool();
        if pool.entries.contains_key(hash) {
            PoolStatus::Pending
        } else if let Some(reason) = pool.dropped.get(hash) {
            PoolStatus::Dropped(reason.clone())
        } else {
            PoolStatus::Unknown
        }
    }
}

impl Pool {
    fn remove(&mut self, hash: &Hash) -> bool {
        let Some(entry) = self.entries.remove(hash) else { return false };
        if let Some(seq) = self.seq_of.remove(hash) {
            self.order.remove(&seq);
        }
        self.bytes -= entry.bytes;
        if let Some(usage) = self.usage.get_mut(&entry.signer) {
            usage.txs -= 1;
            usage.bytes -= entry.bytes;
            usage.nonces.remove(&entry.nonce);
            if usage.txs == 0 {
                self.usage.remove(&entry.signer);
            }
        }
        true
    }
}

/// The one admission path (RPC submissions, peers' gossip, the host's own misbehaviour
/// reports): `txs` checked against the store's latest state at the clock's time
/// `clock_ms`, and admitted to `mempool` if they pass; one result per tx, in order.
pub fn admit<B: Backend>(
    store: &ChainStore<B>,
    mempool: &Mempool,
    txs: Vec<Tx>,
    clock_ms: u64,
) -> Vec<Result<Hash, SubmitError>> {
    let ctx = BlockContext { chain_id: store.chain_id().clone(), height: store.height(), time_ms: clock_ms };
    mempool.submit(store, &ctx, txs)
}

/// The txs of `offered` that `results` (from [`admit`]) says are in the pool: what a node
/// gossips, in the order offered.
pub fn admitted(offered: Vec<Tx>, results: &[Result<Hash, SubmitError>]) -> Vec<Tx> {
    offered.into_iter().zip(results).filter(|(_, r)| r.is_ok()).map(|(tx, _)| tx).collect()
}

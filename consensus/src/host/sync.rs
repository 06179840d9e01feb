//! Block sync: a node behind its peers (their status says how many blocks they have)
//! asks for its next blocks, each with the commit that proves it, up to
//! [`SYNC_WINDOW`] heights ahead and at most [`SYNC_REQUESTS_PER_PEER_MAX`] of one peer,
//! so the next blocks travel (and the node checks their signatures) while it executes
//! one; blocks that arrive ahead of the store wait, and are committed in height order
//! through the store, which checks each commit against the validators in force and
//! each block against the chain. Peers that fail a request are backed off.

use std::collections::{BTreeMap, HashMap};

use chancery_ledger::store::{Backend, StoreError};
use chancery_ledger::{Block, Commit, Tx};

use super::{Action, CommittedBlock, Halt, Host, Peer};
use crate::engine::{Signer, Wal};

/// How long a block request may go unanswered before another peer is asked.
pub const SYNC_REQUEST_TIMEOUT_MS: u64 = 5_000;
/// How long a peer that failed a block request (answered that it does not have a block
/// it claimed, or timed out) is not asked again.
pub const SYNC_PEER_BACKOFF_MS: u64 = 30_000;
/// How long a peer that answered `Busy` is not asked again.
pub const SYNC_BUSY_BACKOFF_MS: u64 = 1_000;
/// Peers whose claimed heights are remembered for sync.
pub const SYNC_PEERS_MAX: usize = 1024;
/// Heights a syncing node asks for ahead of its store (each block fetched may be up to
/// `BLOCK_BYTES_MAX`: at most this many wait in memory).
pub const SYNC_WINDOW: u64 = 4;
/// Block requests one peer has from this node at once (a node answers `Busy` beyond
/// its per-peer read limit, which must not be below this).
pub const SYNC_REQUESTS_PER_PEER_MAX: usize = 2;
const _: () = assert!(SYNC_REQUEST_TIMEOUT_MS < SYNC_PEER_BACKOFF_MS);
const _: () = assert!(SYNC_WINDOW >= 1 && SYNC_WINDOW <= 16 && SYNC_REQUESTS_PER_PEER_MAX >= 1);

/// A block fetched ahead of the store, with its commit and the peer that sent it.
pub(super) struct Fetched<P> {
    pub(super) from: P,
    pub(super) block: Block,
    pub(super) commit: Commit,
    /// The caller checked every tx signature in batch.
    pub(super) verified: bool,
}

/// Which blocks are asked of whom, what arrived ahead, what peers claim, who is backed
/// off.
pub(super) struct SyncState<P> {
    /// The heights asked for: when, and of whom.
    pub(super) asked: BTreeMap<u64, (u64, P)>,
    /// Blocks that arrived before the store reached them.
    pub(super) fetched: BTreeMap<u64, Fetched<P>>,
    /// The blocks each peer says it has.
    pub(super) peer_blocks: HashMap<P, u64>,
    /// Peers that failed a block request, until when they are not asked.
    pub(super) backoff: HashMap<P, u64>,
}

impl<P> Default for SyncState<P> {
    fn default() -> Self {
        SyncState {
            asked: BTreeMap::new(),
            fetched: BTreeMap::new(),
            peer_blocks: HashMap::new(),
            backoff: HashMap::new(),
        }
    }
}

impl<P: Peer> SyncState<P> {
    /// Whether blocks are asked for or wait to be committed.
    pub(super) fn under_way(&self) -> bool {
        !self.asked.is_empty() || !self.fetched.is_empty()
    }
}

impl<B: Backend, S: Signer, W: Wal, P: Peer> Host<B, S, W, P> {
    /// A peer says it has `peer_blocks` blocks: the heights of the window this node lacks
    /// and has not asked for (or whose request timed out) are asked of peers that claim
    /// them and are not backed off, that peer first.
    pub(super) fn maybe_sync(&mut self, peer: P, peer_blocks: u64) {
        let sync = &mut self.sync;
        if sync.peer_blocks.len() < SYNC_PEERS_MAX || sync.peer_blocks.contains_key(&peer) {
            sync.peer_blocks.insert(peer, peer_blocks);
        }
        self.fill_window(Some(peer));
    }

    /// Asks for every height of the window not yet asked for or fetched.
    fn fill_window(&mut self, preferred: Option<P>) {
        let height = self.store.height();
        let now = self.now.ms;
        let sync = &mut self.sync;
        sync.asked.retain(|h, _| *h >= height);
        sync.fetched.retain(|h, _| *h >= height);
        // Unanswered requests: those peers are not asked again for a while.
        let expired: Vec<(u64, P)> = sync
            .asked
            .iter()
            .filter(|(_, (at, _))| now >= at + SYNC_REQUEST_TIMEOUT_MS)
            .map(|(h, (_, p))| (*h, *p))
            .collect();
        for (h, peer) in expired {
            sync.backoff.insert(peer, now + SYNC_PEER_BACKOFF_MS);
            sync.asked.remove(&h);
        }
        sync.backoff.retain(|_, until| *until > now);
        for h in height..height + SYNC_WINDOW {
            if self.sync.asked.contains_key(&h) || self.sync.fetched.contains_key(&h) {
                continue;
            }
            // A peer that failed a request waits out its backoff, whatever it claims (a
            // peer announcing a height it cannot serve must not stay the sync target).
            let Some(peer) = self.sync_candidate(h, preferred) else { break };
            self.sync.asked.insert(h, (now, peer));
            self.actions.push(Action::GetBlock { peer, height: h });
        }
    }

    /// A peer that claims to have block `height`, is not backed off and has room for a
    /// request: `preferred` if it qualifies, else the one claiming the most.
    fn sync_candidate(&self, height: u64, preferred: Option<P>) -> Option<P> {
        let sync = &self.sync;
        let eligible = |peer: &P| {
            sync.peer_blocks.get(peer).is_some_and(|blocks| *blocks > height)
                && !sync.backoff.contains_key(peer)
                && sync.asked.values().filter(|(_, p)| p == peer).count() < SYNC_REQUESTS_PER_PEER_MAX
        };
        if let Some(peer) = preferred.filter(|p| eligible(p)) {
            return Some(peer);
        }
        sync.peer_blocks.iter().filter(|(peer, _)| eligible(peer)).max_by_key(|(_, blocks)| **blocks).map(|(p, _)| *p)
    }

    /// `from` did not send block `height` it was asked for (it does not have it, was
    /// busy, or the request failed): it is backed off and another peer is asked.
    pub(super) fn sync_failed(&mut self, from: P, height: u64, busy: bool) {
        if self.sync.asked.get(&height).is_none_or(|(_, peer)| *peer != from) {
            return;
        }
        self.sync.asked.remove(&height);
        let now = self.now.ms;
        self.sync.backoff.retain(|_, until| *until > now);
        if busy {
            // Only busy: a short pause, its claim stands.
            self.sync.backoff.insert(from, now + SYNC_BUSY_BACKOFF_MS);
        } else {
            tracing::info!(?from, height, "a peer did not send a block it was asked for; asking another");
            self.sync.backoff.insert(from, now + SYNC_PEER_BACKOFF_MS);
            // Whatever it claimed, it has at most this many blocks.
            if let Some(blocks) = self.sync.peer_blocks.get_mut(&from) {
                *blocks = (*blocks).min(height);
            }
        }
        self.fill_window(None);
    }

    /// A block a peer sent with its commit (`verified`: the caller checked its txs'
    /// signatures): the store's next block is committed now, one ahead of it waits.
    pub(super) fn on_synced_block(&mut self, fetched: Fetched<P>) {
        let height = self.height();
        let at = fetched.block.header.height;
        if at < height || at >= height + SYNC_WINDOW || self.sync.fetched.contains_key(&at) {
            return;
        }
        self.sync.asked.remove(&at);
        // Committed from `poll` (`commit_fetched`), one block per pass, in height order.
        self.sync.fetched.insert(at, fetched);
    }

    /// Commits the fetched block of the store's next height, if it arrived: the store
    /// checks the commit against the current validators and the block against the
    /// chain, executes and commits it. Consensus moves on once nothing more is fetched.
    pub(super) fn commit_fetched(&mut self) -> Result<bool, Halt> {
        let height = self.height();
        let Some(Fetched { from, block, commit, verified }) = self.sync.fetched.remove(&height) else {
            return Ok(false);
        };
        let mempool = self.mempool.clone();
        // Signatures in batches over the cores first (unless the caller did, or the txs
        // are pending here, checked at admission); if that fails, execution checks them
        // one by one and names the bad tx.
        let batch_ok = verified || mempool.verify_all(&block.txs);
        let result = self
            .store
            .execute_and_commit_verified(&block, &commit, &|tx: &Tx| batch_ok || mempool.is_verified(&tx.hash()));
        if let Err(e) = result {
            if matches!(e, StoreError::Poisoned | StoreError::Backend(_)) {
                return Err(Halt::Store { doing: "committing a synced block", source: Box::new(e) });
            }
            self.actions.push(Action::Penalise { peer: from, reason: format!("bad block {height}: {e}") });
            // What it sent ahead of this block is not used either.
            self.sync.fetched.retain(|_, f| f.from != from);
            self.fill_window(None);
            return Ok(true);
        }
        tracing::info!(height, txs = block.txs.len(), ?from, "synced");
        let tx_hashes: Vec<_> = block.txs.iter().map(Tx::hash).collect();
        mempool.remove_committed(&tx_hashes);
        self.actions.push(Action::Committed(CommittedBlock {
            header: block.header,
            tx_hashes,
            latency_ms: None,
            synced_from: Some(from),
        }));
        // Ask for the next blocks at once while peers are ahead, not at their next status.
        self.fill_window(Some(from));
        if !self.sync.under_way() {
            // Caught up: consensus restarts at the store's height (while still behind,
            // it would only wait for messages it cannot use).
            self.restart_at_store_height()?;
        }
        Ok(true)
    }
}

//! Block sync: a node behind its peers (their status says how many blocks they have)
//! asks one peer at a time for its next block with the commit that proves it, backs off
//! peers that fail a request, and commits what it gets through the store, which checks
//! the commit against the validators in force and the block against the chain.

use std::collections::HashMap;

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
const _: () = assert!(SYNC_REQUEST_TIMEOUT_MS < SYNC_PEER_BACKOFF_MS);

/// Who was asked for which block, what peers claim, who is backed off.
pub(super) struct SyncState<P> {
    /// The block asked for, when, and of whom.
    pub(super) asked: Option<(u64, u64, P)>,
    /// The blocks each peer says it has.
    pub(super) peer_blocks: HashMap<P, u64>,
    /// Peers that failed a block request, until when they are not asked.
    pub(super) backoff: HashMap<P, u64>,
}

impl<P> Default for SyncState<P> {
    fn default() -> Self {
        SyncState { asked: None, peer_blocks: HashMap::new(), backoff: HashMap::new() }
    }
}

impl<B: Backend, S: Signer, W: Wal, P: Peer> Host<B, S, W, P> {
    /// A peer says it has `peer_blocks` blocks: if that is more than this node has, its
    /// next block is asked for (of that peer, or of another if it is backed off), unless a
    /// request for it is still under way.
    pub(super) fn maybe_sync(&mut self, peer: P, peer_blocks: u64) {
        let sync = &mut self.sync;
        if sync.peer_blocks.len() < SYNC_PEERS_MAX || sync.peer_blocks.contains_key(&peer) {
            sync.peer_blocks.insert(peer, peer_blocks);
        }
        let height = self.store.height();
        if peer_blocks <= height {
            return;
        }
        let now = self.now.ms;
        if let Some((asked, at, asked_peer)) = sync.asked {
            if asked == height && now < at + SYNC_REQUEST_TIMEOUT_MS {
                return;
            }
            if asked == height {
                // Unanswered: that peer is not asked again for a while.
                sync.backoff.insert(asked_peer, now + SYNC_PEER_BACKOFF_MS);
                sync.asked = None;
            }
        }
        sync.backoff.retain(|_, until| *until > now);
        // A peer that failed a request waits out its backoff, whatever it claims (a peer
        // announcing a height it cannot serve must not stay the sync target).
        let peer = if sync.backoff.contains_key(&peer) {
            match self.sync_candidate(height) {
                Some(other) => other,
                None => return,
            }
        } else {
            peer
        };
        self.sync.asked = Some((height, now, peer));
        self.actions.push(Action::GetBlock { peer, height });
    }

    /// A peer that claims to have block `height` and is not backed off.
    fn sync_candidate(&self, height: u64) -> Option<P> {
        self.sync
            .peer_blocks
            .iter()
            .filter(|(peer, blocks)| **blocks > height && !self.sync.backoff.contains_key(peer))
            .max_by_key(|(_, blocks)| **blocks)
            .map(|(peer, _)| *peer)
    }

    /// `from` did not send block `height` it was asked for (it does not have it, was
    /// busy, or the request failed): it is backed off and another peer is asked.
    pub(super) fn sync_failed(&mut self, from: P, height: u64, busy: bool) {
        let Some((asked, _, peer)) = self.sync.asked else { return };
        if asked != height || peer != from {
            return;
        }
        self.sync.asked = None;
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
        if let Some(other) = self.sync_candidate(height) {
            if let Some(&blocks) = self.sync.peer_blocks.get(&other) {
                self.maybe_sync(other, blocks);
            }
        }
    }

    /// A block a peer sent with its commit: the store checks the commit against the
    /// current validators and the block against the chain, executes and commits it.
    /// Consensus then moves on to the next height.
    pub(super) fn on_synced_block(&mut self, from: P, block: Block, commit: Commit) -> Result<(), Halt> {
        let height = self.height();
        if block.header.height != height {
            return Ok(());
        }
        self.sync.asked = None;
        let mempool = self.mempool.clone();
        // Signatures in batches over the cores first; if that fails, execution checks
        // them one by one and names the bad tx.
        let batch_ok = mempool.verify_all(&block.txs);
        let result = self
            .store
            .execute_and_commit_verified(&block, &commit, &|tx: &Tx| batch_ok || mempool.is_verified(&tx.hash()));
        if let Err(e) = result {
            if matches!(e, StoreError::Poisoned | StoreError::Backend(_)) {
                return Err(Halt::Store { doing: "committing a synced block", source: Box::new(e) });
            }
            self.actions.push(Action::Penalise { peer: from, reason: format!("bad block {height}: {e}") });
            return Ok(());
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
        // Ask for the next block at once while the peer is ahead, not at its next status.
        if let Some(&known) = self.sync.peer_blocks.get(&from) {
            self.maybe_sync(from, known);
        }
        if self.sync.asked.is_some() {
            // Still behind: consensus at this height would only wait for messages it
            // cannot use; it restarts when the node has caught up.
            return Ok(());
        }
        self.restart_at_store_height()
    }
}

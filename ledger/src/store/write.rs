//! Committing blocks: checks that the block extends the stored chain, then one atomic,
//! synced batch with everything the block changes. Only the store's one [`StoreWriter`]
//! writes: it is made once, when the store is opened, and every write takes it by `&mut`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::*;

/// The one right to write a chain store. [`ChainStore::open`] makes it for the backend it
/// takes; it is not `Clone`, and every write borrows it mutably, so one writer at a time
/// is a fact of the types, not a convention. Reads go through it (it dereferences to the
/// store) or through shared [`StoreWriter::reader`] handles.
pub struct StoreWriter<B: Backend> {
    store: Arc<ChainStore<B>>,
}

impl<B: Backend> std::ops::Deref for StoreWriter<B> {
    type Target = ChainStore<B>;

    fn deref(&self) -> &ChainStore<B> {
        &self.store
    }
}

impl<B: Backend> StoreWriter<B> {
    pub(super) fn new(store: ChainStore<B>) -> Self {
        StoreWriter { store: Arc::new(store) }
    }

    /// A handle that reads the store (and sees every block this writer commits).
    pub fn reader(&self) -> Arc<ChainStore<B>> {
        self.store.clone()
    }

    /// Executes `block` on the stored state, checks its header against the result, and
    /// commits it with `commit`. Returns the state changes it made.
    pub fn execute_and_commit(&mut self, block: &Block, commit: &Commit) -> Result<StateChanges> {
        self.execute_and_commit_verified(block, commit, &|_| false)
    }

    /// Like [`StoreWriter::execute_and_commit`], skipping the signature check of txs the
    /// caller has already verified.
    pub fn execute_and_commit_verified(
        &mut self,
        block: &Block,
        commit: &Commit,
        verified: &dyn Fn(&Tx) -> bool,
    ) -> Result<StateChanges> {
        self.store.execute_and_commit_verified(block, commit, verified)
    }

    /// Commits an executed block (see [`ChainStore`]'s rules for a block to extend it).
    pub fn commit_block(&mut self, block: &Block, commit: &Commit, changes: &StateChanges) -> Result<()> {
        self.store.commit_block(block, commit, changes)
    }
}

impl<B: Backend> ChainStore<B> {
    fn execute_and_commit_verified(
        &self,
        block: &Block,
        commit: &Commit,
        verified: &dyn Fn(&Tx) -> bool,
    ) -> Result<StateChanges> {
        self.live()?;
        self.check_extends(&block.header)?;
        let changes = apply_with(self, block, encode(block).len(), verified).map_err(|e| match e {
            ExecError::Store(e) => StoreError::Backend(e),
            other => StoreError::Invalid(other),
        })?;
        self.commit_block(block, commit, &changes)?;
        Ok(changes)
    }

    /// Commits an executed block: checks that it extends the stored chain (height, chain
    /// id, parent hash, history root), that its tx root, state root and next validators
    /// match, and that `commit` carries a quorum of the current validators for it; then
    /// writes it and everything it changes in one atomic, synced batch.
    fn commit_block(&self, block: &Block, commit: &Commit, changes: &StateChanges) -> Result<()> {
        self.live()?;
        let height = self.height();
        let header = &block.header;
        self.check_extends(header)?;
        let validators = self.current_validators()?;
        commit
            .verify(header, &validators, &self.genesis_hash)
            .map_err(|e| StoreError::Refused(format!("commit does not prove block {height}: {e}")))?;
        let encoded: Vec<Vec<u8>> = block.txs.iter().map(encode).collect();
        let tx_hashes: Vec<Hash> = encoded.iter().map(|bytes| crate::hash::HashContext::Tx.hash(bytes)).collect();
        let levels = tx_tree::levels(&tx_hashes);
        let checks = [
            ("tx_count", header.tx_count as usize == block.txs.len()),
            ("tx_root", tx_tree::root_of_levels(&levels, header.tx_count) == header.tx_root),
            ("state_root", changes.state_root == header.state_root && changes.tree.version == height + 1),
            ("next_validators_hash", changes.next_validators.hash() == header.next_validators_hash),
            ("validators_epoch", header.validators_epoch == self.current_epoch()?),
        ];
        if let Some((field, _)) = checks.iter().find(|(_, ok)| !ok) {
            return Err(StoreError::Refused(format!(
                "block {height}: header {field} does not match the block's content"
            )));
        }
        let batch = self.block_batch(block, commit, changes, &encoded, &tx_hashes, &levels)?;
        self.write(batch)?;
        self.height.store(height + 1, Ordering::SeqCst);
        Ok(())
    }

    fn check_extends(&self, header: &Header) -> Result<()> {
        let height = self.height();
        if header.height != height {
            return Err(StoreError::Refused(format!(
                "block is at height {}, the next height is {height}",
                header.height
            )));
        }
        if header.chain_id != self.chain_id {
            return Err(StoreError::Refused(format!(
                "block is for chain {}, this store holds chain {}",
                header.chain_id, self.chain_id
            )));
        }
        let parent = if height == 0 { self.genesis_hash } else { self.header(height - 1)?.hash() };
        if header.prev_hash != parent {
            return Err(StoreError::Refused(format!(
                "block {height} links to {}, the stored chain ends with {parent}",
                header.prev_hash
            )));
        }
        let history = StoredHistory { backend: &self.backend, size: height };
        let expected = bound_root_at(&history, height).map_err(|e| history_error(height, e))?;
        if header.history_root != expected {
            return Err(StoreError::Refused(format!(
                "block {height} has history_root {}, the stored history gives {expected}",
                header.history_root
            )));
        }
        Ok(())
    }

    fn block_batch(
        &self,
        block: &Block,
        commit: &Commit,
        changes: &StateChanges,
        encoded: &[Vec<u8>],
        tx_hashes: &[Hash],
        levels: &[Vec<Hash>],
    ) -> Result<Batch> {
        let height = block.header.height;
        let mut batch = Batch::default();
        batch.put(Column::Headers, height_key(height), encode(&block.header));
        batch.put(Column::Commits, height_key(height), encode(commit));
        let stored: Vec<u8> = levels.iter().skip(STORED_LEVEL).flat_map(|l| l.iter().flat_map(|h| h.0)).collect();
        batch.put(Column::TxTrees, height_key(height), stored);
        for (group, txs) in encoded.chunks(GROUP).enumerate() {
            let key = group_key(height, (group * GROUP) as u32);
            batch.put(Column::Blocks, key, encode_group(txs.iter().map(Vec::as_slice)));
        }
        for (index, (tx, tx_hash)) in block.txs.iter().zip(tx_hashes).enumerate() {
            let location = location_key(height, index as u32);
            batch.put(Column::Txs, tx_hash.0, location);
            match &tx.body {
                TxBody::Evidence(evidence) => {
                    let mut key = digest_prefix(&evidence.digest);
                    key.extend_from_slice(&location);
                    batch.put(Column::Evidence, key, Vec::new());
                }
                TxBody::CertEvent(event) => {
                    let mut key = cert_prefix(&event.ca, &event.serial);
                    key.extend_from_slice(&location);
                    batch.put(Column::Certs, key, Vec::new());
                }
                TxBody::Propose(_) | TxBody::Vote(_) | TxBody::RotateKey(_) | TxBody::Misbehaviour(_) => {}
            }
        }
        write_state(&mut batch, changes);
        // A change is proven by this block's header and commit; the row, keyed by the
        // first height the new set signs, holds the new set.
        if block.header.next_validators_hash != block.header.validators_hash {
            batch.put(Column::ValidatorChanges, height_key(height + 1), encode(&changes.next_validators));
        }
        let history = StoredHistory { backend: &self.backend, size: height };
        let leaf = Blake3History::hash_leaf(block.header.hash().as_bytes());
        for (level, index, hash) in history::append_writes(&history, leaf).map_err(|e| history_error(height, e))? {
            batch.put(Column::History, history_key(level, index), hash.0);
        }
        batch.put(Column::Meta, META_HEIGHT, height_key(height + 1));
        Ok(batch)
    }
}

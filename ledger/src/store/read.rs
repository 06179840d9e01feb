//! Queries, each checked against the hashes that commit to it, proof-bundle assembly, and
//! the integrity check.

use super::*;
use crate::merkle::smt::{Smt, Terminal};
use crate::types::gov::ProposalRecord;
use crate::verify::{CertEventProof, CertStatusProof};

/// Most anchors of one digest returned by one query.
pub const ANCHORS_PER_QUERY_MAX: usize = 1_000;

impl<B: Backend> ChainStore<B> {
    fn require_height(&self, height: u64, what: &str) -> Result<()> {
        if height >= self.height() {
            return Err(StoreError::NotFound(format!(
                "{what} at height {height} (the chain has {} blocks)",
                self.height()
            )));
        }
        Ok(())
    }

    /// The header at `height`, checked against the block hash in the history tree.
    pub fn header(&self, height: u64) -> Result<Header> {
        self.require_height(height, "header")?;
        let header: Header = self
            .decoded(Column::Headers, &height_key(height), height)?
            .ok_or_else(|| StoreError::Corrupt { height, what: "header is missing".into() })?;
        let leaf = self.get(Column::History, &history_key(0, height))?;
        if leaf.as_deref() != Some(Blake3History::hash_leaf(header.hash().as_bytes()).as_bytes().as_slice())
            || header.height != height
        {
            return Err(StoreError::Corrupt {
                height,
                what: "stored header does not hash to the block hash recorded in the history tree".into(),
            });
        }
        Ok(header)
    }

    /// The commit of the block at `height`, checked to be for that block.
    pub fn commit(&self, height: u64) -> Result<Commit> {
        self.commit_for(&self.header(height)?)
    }

    /// The commit of the block with this (already checked) header.
    fn commit_for(&self, header: &Header) -> Result<Commit> {
        let height = header.height;
        let commit: Commit = self
            .decoded(Column::Commits, &height_key(height), height)?
            .ok_or_else(|| StoreError::Corrupt { height, what: "commit is missing".into() })?;
        if commit.block_hash != header.hash() || commit.height != height {
            return Err(StoreError::Corrupt { height, what: "stored commit is not for the stored block".into() });
        }
        Ok(commit)
    }

    /// The block at `height`, its txs checked against the header's tx root.
    pub fn block(&self, height: u64) -> Result<Block> {
        let header = self.header(height)?;
        let (txs, hashes) = self.block_txs(height, header.tx_count)?;
        if tx_tree::tx_root(&hashes) != header.tx_root {
            return Err(StoreError::Corrupt { height, what: "stored txs do not match the header's tx_root".into() });
        }
        let txs = BoundedVec::new(txs).map_err(|_| StoreError::Corrupt { height, what: "too many txs".into() })?;
        Ok(Block { header, txs })
    }

    fn block_txs(&self, height: u64, count: u32) -> Result<(Vec<Tx>, Vec<Hash>)> {
        if count as usize > BLOCK_TXS_MAX {
            return Err(StoreError::Corrupt { height, what: format!("header claims {count} txs") });
        }
        let groups = (count as usize).div_ceil(GROUP);
        let rows = self.backend.scan(Column::Blocks, &height_key(height), &height_key(height), groups + 1)?;
        if rows.len() != groups {
            return Err(StoreError::Corrupt {
                height,
                what: format!("{} tx groups stored, the header's {count} txs need {groups}", rows.len()),
            });
        }
        let mut txs = Vec::with_capacity(count as usize);
        for (group, (key, value)) in rows.iter().enumerate() {
            if key.as_slice() != group_key(height, (group * GROUP) as u32) {
                return Err(StoreError::Corrupt {
                    height,
                    what: format!("tx group {group} is stored under the wrong key"),
                });
            }
            txs.extend(decode_group(height, value)?);
        }
        if txs.len() != count as usize {
            return Err(StoreError::Corrupt {
                height,
                what: format!("{} txs stored, the header says {count}", txs.len()),
            });
        }
        let hashes = txs.iter().map(Tx::hash).collect();
        Ok((txs, hashes))
    }

    /// The stored txs of the group holding tx `index` of block `height`.
    fn group(&self, height: u64, index: u32) -> Result<Vec<Tx>> {
        let bytes = self
            .get(Column::Blocks, &group_key(height, index))?
            .ok_or_else(|| StoreError::Corrupt { height, what: format!("the tx group of tx #{index} is missing") })?;
        decode_group(height, &bytes)
    }

    /// Where the tx with this hash is.
    pub fn tx_location(&self, tx_hash: &Hash) -> Result<TxLocation> {
        let bytes = self.get(Column::Txs, &tx_hash.0)?.ok_or_else(|| StoreError::NotFound(format!("tx {tx_hash}")))?;
        parse_location(&bytes).filter(|l| l.height < self.height()).ok_or_else(|| StoreError::Corrupt {
            height: self.height(),
            what: format!("location of tx {tx_hash} is malformed"),
        })
    }

    /// The tx at `location` (not checked against a hash: use [`ChainStore::tx`] for that).
    pub fn tx_at(&self, location: TxLocation) -> Result<Tx> {
        if location.height >= self.height() {
            return Err(StoreError::NotFound(format!("block {}", location.height)));
        }
        let group = self.group(location.height, location.index)?;
        group
            .into_iter()
            .nth(location.index as usize % GROUP)
            .ok_or_else(|| StoreError::NotFound(format!("tx #{} of block {}", location.index, location.height)))
    }

    /// The tx with this hash and where it is, checked to hash to it.
    pub fn tx(&self, tx_hash: &Hash) -> Result<(Tx, TxLocation)> {
        let location = self.tx_location(tx_hash)?;
        let group = self.group(location.height, location.index)?;
        let tx = group.into_iter().nth(location.index as usize % GROUP).ok_or_else(|| StoreError::Corrupt {
            height: location.height,
            what: format!("tx #{} is missing from its group", location.index),
        })?;
        if tx.hash() != *tx_hash {
            return Err(StoreError::Corrupt {
                height: location.height,
                what: format!("tx #{} does not hash to {tx_hash}", location.index),
            });
        }
        Ok((tx, location))
    }

    /// Every anchor of `digest`, in chain order (at most [`ANCHORS_PER_QUERY_MAX`],
    /// starting after `after` when paging).
    pub fn anchors(&self, digest: &Digest, after: Option<TxLocation>) -> Result<Vec<TxLocation>> {
        self.live()?;
        let prefix = digest_prefix(digest);
        let mut from = prefix.clone();
        if let Some(after) = after {
            from.extend_from_slice(&location_key(after.height, after.index.saturating_add(1)));
        }
        let rows = self.backend.scan(Column::Evidence, &prefix, &from, ANCHORS_PER_QUERY_MAX)?;
        rows.iter()
            .map(|(key, _)| {
                parse_location(&key[prefix.len()..])
                    .ok_or_else(|| StoreError::Corrupt { height: 0, what: "malformed evidence index key".into() })
            })
            .collect()
    }

    /// The chain parameters in force for the next block.
    pub fn params(&self) -> Result<crate::types::block::Params> {
        self.decoded(Column::State, &encode(&StateKey::Params), self.height())?
            .ok_or_else(|| StoreError::Corrupt { height: self.height(), what: "chain parameters are missing".into() })
    }

    /// The events of a certificate, from the latest state.
    pub fn cert_record(&self, ca: &CaId, serial: &CertSerial) -> Result<Option<CertRecord>> {
        self.decoded(Column::State, &encode(&StateKey::Cert(ca.clone(), serial.clone())), self.height())
    }

    /// A governance proposal's record (change, votes, recorded status), by id.
    pub fn proposal(&self, id: &Hash) -> Result<Option<ProposalRecord>> {
        self.decoded(Column::State, &encode(&StateKey::Proposal(*id)), self.height())
    }

    /// The proof of proposal `id`'s record (or its absence) as of the latest block.
    pub fn proposal_proof(&self, id: &Hash) -> Result<crate::verify::ProposalProof> {
        let Some(last) = self.height().checked_sub(1) else {
            return Err(StoreError::NotFound("a committed block to prove a proposal against".into()));
        };
        let header = self.header(last)?;
        let commit = self.commit_for(&header)?;
        let key = StateKey::Proposal(*id).hash();
        let state_proof = Smt::prove(self, last + 1, &key).map_err(|e| self.tree_error(last, e))?;
        Ok(crate::verify::ProposalProof {
            version: crate::verify::BUNDLE_VERSION,
            chain_id: self.chain_id.clone(),
            genesis_hash: self.genesis_hash,
            id: *id,
            header: HexBytes::of(&header),
            commit: HexBytes::of(&commit),
            validator_changes: self.validator_changes(last)?,
            state_proof,
        })
    }

    /// The proposals open for votes (recorded as pending, not past their expiry) with
    /// their ids, in id order.
    pub fn open_proposals(&self) -> Result<Vec<(Hash, ProposalRecord)>> {
        let height = self.height();
        let open: crate::types::gov::OpenProposals =
            self.decoded(Column::State, &encode(&StateKey::OpenProposals), height)?.unwrap_or_default();
        let mut records = Vec::with_capacity(open.ids.len());
        for (id, expires_at_height) in open.ids.iter().filter(|(_, expires)| height <= *expires) {
            let record = self.proposal(id)?.ok_or_else(|| StoreError::Corrupt {
                height,
                what: format!("open proposal {id} (expiring at {expires_at_height}) has no record"),
            })?;
            records.push((*id, record));
        }
        records.sort_by_key(|(id, _)| *id);
        Ok(records)
    }

    /// Up to `limit` governance proposals with their ids, in id order from `after`
    /// (exclusive), for listing.
    pub fn proposals(&self, after: Option<Hash>, limit: usize) -> Result<Vec<(Hash, ProposalRecord)>> {
        self.live()?;
        // Every proposal key is the variant's tag followed by the 32-byte id.
        let full = encode(&StateKey::Proposal(Hash::ZERO));
        let prefix = &full[..full.len() - 32];
        let from = match after {
            Some(id) => {
                let mut key = encode(&StateKey::Proposal(id));
                key.push(0);
                key
            }
            None => prefix.to_vec(),
        };
        let rows = self.backend.scan(Column::State, prefix, &from, limit)?;
        rows.into_iter()
            .map(|(key, value)| {
                let id = Hash(key[prefix.len()..].try_into().map_err(|_| StoreError::Corrupt {
                    height: self.height(),
                    what: "malformed proposal key".into(),
                })?);
                let record = decode(&value).map_err(|e| corrupt(self.height(), Column::State, e))?;
                Ok((id, record))
            })
            .collect()
    }

    /// Where each event of a certificate was anchored, in chain order.
    pub fn cert_locations(&self, ca: &CaId, serial: &CertSerial) -> Result<Vec<TxLocation>> {
        self.live()?;
        let prefix = cert_prefix(ca, serial);
        let rows = self.backend.scan(Column::Certs, &prefix, &prefix, crate::limits::CERT_EVENTS_MAX)?;
        rows.iter()
            .map(|(key, _)| {
                parse_location(&key[prefix.len()..])
                    .ok_or_else(|| StoreError::Corrupt { height: 0, what: "malformed certificate index key".into() })
            })
            .collect()
    }

    /// Proof of a certificate's status at `at_ms` as of the last committed block: its
    /// record proven in that block's state tree, and each event with its inclusion proof
    /// (see [`crate::verify::cert`]).
    pub fn cert_status_proof(&self, ca: &CaId, serial: &CertSerial, at_ms: u64) -> Result<CertStatusProof> {
        let Some(last) = self.height().checked_sub(1) else {
            return Err(StoreError::NotFound("a committed block to prove a certificate's status against".into()));
        };
        let header = self.header(last)?;
        let commit = self.commit_for(&header)?;
        let key = StateKey::Cert(ca.clone(), serial.clone()).hash();
        let state_proof = Smt::prove(self, last + 1, &key).map_err(|e| self.tree_error(last, e))?;
        let record: CertRecord = match &state_proof.terminal {
            Terminal::Leaf { key: leaf, value } if *leaf == key => {
                decode(value).map_err(|e| corrupt(last, Column::StateTree, e))?
            }
            _ => CertRecord::default(),
        };
        // The index may already hold events of blocks after `last`: they come later.
        let locations = self.cert_locations(ca, serial)?;
        if locations.len() < record.events.len() {
            return Err(StoreError::Corrupt { height: last, what: format!("certificate index of {ca} lacks events") });
        }
        let mut events = Vec::new();
        for (entry, location) in record.events.iter().zip(locations) {
            let (tx, at, tx_proof) = self.proven_tx(location, &entry.tx_hash)?;
            let history_proof =
                if location.height < last { self.history_inclusion(location.height, last)? } else { Vec::new() };
            events.push(CertEventProof { tx: HexBytes::of(&tx), tx_proof, header: HexBytes::of(&at), history_proof });
        }
        Ok(CertStatusProof {
            version: crate::verify::BUNDLE_VERSION,
            chain_id: self.chain_id.clone(),
            genesis_hash: self.genesis_hash,
            ca: ca.clone(),
            serial: HexBytes(serial.as_bytes().to_vec()),
            at_ms,
            header: HexBytes::of(&header),
            commit: HexBytes::of(&commit),
            validator_changes: self.validator_changes(last)?,
            state_proof,
            events,
        })
    }

    /// The validator set for the next block.
    pub fn current_validators(&self) -> Result<ValidatorSet> {
        self.decoded(Column::State, &encode(&StateKey::Validators), self.height())?.ok_or_else(|| StoreError::Corrupt {
            height: self.height(),
            what: "validator set is missing from the state".into(),
        })
    }

    /// The `validators_epoch` of the next block.
    pub fn current_epoch(&self) -> Result<u64> {
        self.decoded(Column::State, &encode(&StateKey::ValidatorsEpoch), self.height())?.ok_or_else(|| {
            StoreError::Corrupt { height: self.height(), what: "validators epoch is missing from the state".into() }
        })
    }

    /// The validator-set changes taking effect at or below `up_to`, in order: the first
    /// height each new set signs, and that set.
    fn changed_sets(&self, up_to: u64) -> Result<Vec<(u64, ValidatorSet)>> {
        self.live()?;
        let rows = self.backend.scan(Column::ValidatorChanges, &[], &[], usize::MAX)?;
        let mut sets = Vec::new();
        for (key, value) in rows {
            let from = key
                .as_slice()
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Corrupt { height: 0, what: "malformed validator change key".into() })?;
            if from > up_to {
                break;
            }
            sets.push((from, decode(&value).map_err(|e| corrupt(from, Column::ValidatorChanges, e))?));
        }
        Ok(sets)
    }

    /// The set of the last validator-set change in force at `height` (none: the genesis
    /// set is), read without the headers and commits that prove the changes.
    pub fn changed_set_at(&self, height: u64) -> Result<Option<ValidatorSet>> {
        Ok(self.changed_sets(height)?.pop().map(|(_, set)| set))
    }

    /// The validator set that signed block `height`: the last change in force at
    /// `height`, else the genesis set; checked against the block's header.
    pub fn validators_at(&self, height: u64) -> Result<ValidatorSet> {
        let header = self.header(height)?;
        let set = self.changed_set_at(height)?.unwrap_or_else(|| self.genesis_validators.clone());
        if set.hash() != header.validators_hash {
            return Err(StoreError::Corrupt {
                height,
                what: "the stored validator set in force does not match the header's validators hash".into(),
            });
        }
        Ok(set)
    }

    /// Every validator-set change taking effect at or below `up_to`, in order, each with
    /// the header and commit that prove it.
    pub fn validator_changes(&self, up_to: u64) -> Result<Vec<ValidatorSetChange>> {
        let mut changes = Vec::new();
        for (from, set) in self.changed_sets(up_to)? {
            let committed_at = from.checked_sub(1).ok_or_else(|| StoreError::Corrupt {
                height: 0,
                what: "a validator change takes effect at height 0".into(),
            })?;
            let (header, commit) = (self.header(committed_at)?, self.commit(committed_at)?);
            changes.push(ValidatorSetChange::new(&header, &commit, &set));
        }
        Ok(changes)
    }

    /// The `history_root` over the first `size` blocks.
    pub fn history_root(&self, size: u64) -> Result<Hash> {
        self.live()?;
        let history = StoredHistory { backend: &self.backend, size: self.height() };
        bound_root_at(&history, size).map_err(|e| history_error(size, e))
    }

    /// The inclusion proof of block `height` in the history of the first `size` blocks.
    pub fn history_inclusion(&self, height: u64, size: u64) -> Result<Vec<Hash>> {
        self.live()?;
        let history = StoredHistory { backend: &self.backend, size: self.height() };
        history::inclusion_proof::<Blake3History, _>(&history, height, size).map_err(|e| history_error(height, e))
    }

    /// The consistency proof between the histories of `size1` and `size2` blocks.
    pub fn history_consistency(&self, size1: u64, size2: u64) -> Result<HistoryConsistency> {
        self.live()?;
        let history = StoredHistory { backend: &self.backend, size: self.height() };
        history::history_consistency(&history, size1, size2).map_err(|e| history_error(size2, e))
    }

    fn stored_levels(&self, height: u64, count: u32) -> Result<Vec<Vec<Hash>>> {
        let bytes = self.get(Column::TxTrees, &height_key(height))?.unwrap_or_default();
        let widths: Vec<usize> = level_widths(count).into_iter().skip(STORED_LEVEL).collect();
        if widths.iter().sum::<usize>() * 32 != bytes.len() {
            return Err(StoreError::Corrupt { height, what: "stored tx-tree levels do not fit the tx count".into() });
        }
        let mut hashes = bytes.chunks_exact(32).map(|c| Hash(c.try_into().expect("chunks_exact(32) gives 32 bytes")));
        Ok(widths.iter().map(|w| hashes.by_ref().take(*w).collect()).collect())
    }

    /// The tx proof of the tx at `location` in the block with `header`, rebuilt from the
    /// hashes of the tx's group of 16 and the stored upper levels, and verified before it
    /// is returned.
    fn tx_proof(&self, location: TxLocation, header: &Header, group_hashes: &[Hash]) -> Result<TxProof> {
        let (height, count) = (location.height, header.tx_count);
        let local = tx_tree::levels(group_hashes);
        let upper = self.stored_levels(height, count)?;
        let mut siblings = Vec::new();
        tx_tree::siblings(&local, location.index as usize % GROUP, &mut siblings);
        tx_tree::siblings(&upper, location.index as usize / GROUP, &mut siblings);
        let proof = TxProof { index: location.index, count, siblings };
        let tx_hash = group_hashes.get(location.index as usize % GROUP).copied().unwrap_or(Hash::ZERO);
        proof
            .verify(&tx_hash, &header.tx_root)
            .map_err(|e| StoreError::Corrupt { height, what: format!("rebuilt tx proof does not verify: {e}") })?;
        Ok(proof)
    }

    /// The tx at `location`, checked to hash to `tx_hash`, with its block's header and its
    /// tx proof.
    fn proven_tx(&self, location: TxLocation, tx_hash: &Hash) -> Result<(Tx, Header, TxProof)> {
        let mut group = self.group(location.height, location.index)?;
        let group_hashes: Vec<Hash> = group.iter().map(Tx::hash).collect();
        let position = location.index as usize % GROUP;
        if group_hashes.get(position) != Some(tx_hash) {
            return Err(StoreError::Corrupt {
                height: location.height,
                what: format!("tx #{} does not hash to {tx_hash}", location.index),
            });
        }
        let header = self.header(location.height)?;
        let proof = self.tx_proof(location, &header, &group_hashes)?;
        Ok((group.swap_remove(position), header, proof))
    }

    /// The proof bundle for a tx, optionally with a checkpoint at a later height whose
    /// history includes the tx's block.
    pub fn proof_bundle(&self, tx_hash: &Hash, checkpoint: Option<u64>) -> Result<ProofBundle> {
        let location = self.tx_location(tx_hash)?;
        let (tx, header, proof) = self.proven_tx(location, tx_hash)?;
        let commit = self.commit_for(&header)?;
        let last = checkpoint.unwrap_or(location.height);
        let mut bundle =
            ProofBundle::new(&tx, proof, &header, &commit, self.genesis_hash, self.validator_changes(last)?);
        if let Some(at) = checkpoint {
            if at <= location.height {
                return Err(StoreError::Refused(format!(
                    "checkpoint {at} is not after the tx's block {}",
                    location.height
                )));
            }
            let later = self.header(at)?;
            bundle.checkpoint = Some(Checkpoint {
                commit: HexBytes::of(&self.commit_for(&later)?),
                header: HexBytes::of(&later),
                history_proof: self.history_inclusion(location.height, at)?,
            });
        }
        // Evidence naming a certificate carries the certificate's status at its block
        // time, as of the latest block.
        if let TxBody::Evidence(Evidence { cert: Some(cert), .. }) = &tx.body {
            bundle.cert_status = Some(self.cert_status_proof(&cert.ca, &cert.serial, header.time_ms)?);
        }
        Ok(bundle)
    }

    /// Checks the last `last` blocks (all of them with `None`): each header's link to its
    /// parent, its hash against the history tree, its history root against the stored
    /// history, its txs against its tx root and the stored tree levels, the tx index,
    /// its commit, and its state root against the stored state tree.
    pub fn check_integrity(&self, last: Option<u64>) -> Result<IntegrityReport> {
        self.live()?;
        let height = self.height();
        if self.get(Column::Headers, &height_key(height))?.is_some() {
            return Err(StoreError::Corrupt { height, what: "a header exists beyond the recorded height".into() });
        }
        let from = last.map_or(0, |n| height.saturating_sub(n));
        let mut parent = if from == 0 { self.genesis_hash } else { self.header(from - 1)?.hash() };
        for h in from..height {
            let block = self.block(h)?;
            let header = &block.header;
            let corrupt = |what: &str| StoreError::Corrupt { height: h, what: what.to_string() };
            if header.prev_hash != parent || header.chain_id != self.chain_id {
                return Err(corrupt("header does not link to the previous block"));
            }
            let history = StoredHistory { backend: &self.backend, size: height };
            if bound_root_at(&history, h).map_err(|e| history_error(h, e))? != header.history_root {
                return Err(corrupt("header history_root does not match the stored history of the blocks before it"));
            }
            self.commit_for(header)?;
            let hashes: Vec<Hash> = block.txs.iter().map(Tx::hash).collect();
            let levels = tx_tree::levels(&hashes);
            if levels.get(STORED_LEVEL..).unwrap_or(&[]) != self.stored_levels(h, header.tx_count)?.as_slice() {
                return Err(corrupt("stored tx-tree levels do not match the block's txs"));
            }
            for (index, tx_hash) in hashes.iter().enumerate() {
                if self.tx_location(tx_hash)? != (TxLocation { height: h, index: index as u32 }) {
                    return Err(corrupt(&format!("tx index entry of tx #{index} points elsewhere")));
                }
            }
            let root = NodeSource::root(self, h + 1)?.ok_or_else(|| corrupt("state tree root is missing"))?;
            if root.hash != header.state_root {
                return Err(corrupt("stored state tree root does not match the header's state_root"));
            }
            parent = header.hash();
        }
        Ok(IntegrityReport { from, blocks: height - from })
    }
}

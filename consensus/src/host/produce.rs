//! Block production: the proposer fills a block from the mempool up to the chain's
//! limits, executing each tx on the committed state as it goes (a tx the state no longer
//! accepts is dropped from the pool with its reason), and seals the header over the
//! result. The state changes are kept with the block so that committing it, once decided,
//! does not execute it again.

use chancery_ledger::codec::BoundedVec;
use chancery_ledger::state::{BlockContext, ExecError, Execution, StateChanges, StateView};
use chancery_ledger::store::{Backend, ChainStore, StoreError};
use chancery_ledger::tx_tree::tx_root;
use chancery_ledger::{encode, Block, Hash, Header, PublicKey, Tx};

use super::mempool::Mempool;

/// A block built by this node, with what executing it changes.
pub struct Built {
    /// The block.
    pub block: Block,
    /// Its state changes, to commit without executing again.
    pub changes: StateChanges,
    /// Its txs' hashes, in block order.
    pub tx_hashes: Vec<Hash>,
}

/// Bytes of a block's encoding beyond its header and txs' own bytes (the tx count).
const BLOCK_FRAMING_BYTES: usize = 8;

/// Builds the block at the store's next height with time `time_ms`, proposed by
/// `proposer`, from the mempool's candidates in order.
pub fn build_block<B: Backend>(
    store: &ChainStore<B>,
    mempool: &Mempool,
    proposer: PublicKey,
    time_ms: u64,
) -> Result<Built, StoreError> {
    let height = store.height();
    let chain_id = store.chain_id().clone();
    let ctx = BlockContext { chain_id: chain_id.clone(), height, time_ms };
    let mut execution = Execution::new(store, ctx).map_err(store_error)?;
    let params = execution.params().clone();
    let validators_hash = execution.validators().hash();
    let prev_hash = if height == 0 { store.genesis_hash() } else { store.header(height - 1)?.hash() };
    let history_root = store.history_root(height)?;
    let mut header = Header {
        chain_id,
        height,
        time_ms,
        prev_hash,
        tx_root: Hash::ZERO,
        tx_count: 0,
        history_root,
        validators_hash,
        validators_epoch: execution.validators_epoch(),
        next_validators_hash: Hash::ZERO,
        state_root: Hash::ZERO,
        proposer,
    };
    let mut bytes = encode(&header).len() + BLOCK_FRAMING_BYTES;
    let max_txs = params.max_block_txs as usize;
    let max_bytes = params.max_block_bytes as usize;
    let mut txs: Vec<Tx> = Vec::new();
    let mut hashes: Vec<Hash> = Vec::new();
    for candidate in mempool.candidates(max_txs) {
        if bytes + candidate.bytes > max_bytes {
            break;
        }
        match execution.push_verified_known(&candidate.tx, candidate.bytes, &candidate.hash).map_err(store_error)? {
            Ok(()) => {
                bytes += candidate.bytes;
                txs.push(candidate.tx);
                hashes.push(candidate.hash);
            }
            Err(reason) => mempool.drop_tx(&candidate.hash, reason.to_string()),
        }
    }
    let changes = execution.finish().map_err(store_error)?;
    header.tx_root = tx_root(&hashes);
    header.tx_count = txs.len() as u32;
    header.next_validators_hash = changes.next_validators.hash();
    header.state_root = changes.state_root;
    let txs = BoundedVec::new(txs).map_err(|e| StoreError::Refused(e.to_string()))?;
    Ok(Built { block: Block { header, txs }, changes, tx_hashes: hashes })
}

fn store_error<E: std::fmt::Debug>(e: ExecError<E>) -> StoreError {
    StoreError::Refused(e.to_string())
}

/// Executes a block someone else proposed on the committed state, skipping the signature
/// check of txs the mempool already verified; the changes let it commit without running
/// again.
pub fn execute_proposed<V: StateView>(
    view: &V,
    block: &Block,
    mempool: &Mempool,
) -> Result<StateChanges, ExecError<V::Error>> {
    chancery_ledger::state::apply_with(view, block, encode(block).len(), &|tx| mempool.is_verified(&tx.hash()))
}

//! Test helper: commits blocks of evidence to a RocksDB chain store in a loop, printing
//! `committed HEIGHT TX_HASH` (flushed) after each synced commit, until it is killed.
//! Usage: `store-writer DIR TXS_PER_BLOCK`.

use std::io::Write;

use chancery_ledger::codec::decode;
use chancery_ledger::state::{StateKey, StateView};
use chancery_ledger::store::ChainStore;
use chancery_ledger::testkit::{chain_spec, document_evidence, key, produce_block, public, signed_tx};
use chancery_node::rocks::RocksBackend;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: store-writer DIR TXS_PER_BLOCK")?;
    let per_block: u64 = args.next().ok_or("usage: store-writer DIR TXS_PER_BLOCK")?.parse()?;
    let (spec, keys) = chain_spec(4);
    let mut store = ChainStore::open(RocksBackend::open(std::path::Path::new(&dir))?, &spec, 2)?;
    let integrator = key(3, 0);
    let nonce_bytes = store.value(&StateKey::Nonce(public(&integrator)))?;
    let mut nonce: u64 = nonce_bytes.map(|b| decode(&b)).transpose()?.unwrap_or(0);
    let mut out = std::io::stdout().lock();
    loop {
        let height = store.height();
        let txs: Vec<_> = (0..per_block)
            .map(|i| {
                nonce += 1;
                signed_tx(
                    &integrator,
                    &spec.chain_id,
                    &spec.genesis_hash,
                    document_evidence(&[height.to_le_bytes(), i.to_le_bytes()].concat()),
                    nonce,
                )
            })
            .collect();
        let (block, _) = produce_block(&mut store, &keys, txs, 1_767_225_600_000 + 1_000 * (height + 1), true)?;
        let last = block.txs.last().map(|tx| tx.hash().to_hex()).unwrap_or_default();
        writeln!(out, "committed {height} {last}")?;
        out.flush()?;
    }
}

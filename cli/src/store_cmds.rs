//! `chancery store`: check, back up and restore a node's store.

use std::path::Path;

use anyhow::{Context, Result};
use chancery_genesis::Genesis;
use chancery_ledger::store::{ChainStore, StoreWriter};
use chancery_node::rocks::{backup, restore, RocksBackend};

use crate::args::StoreCommand;
use crate::read_text;

fn open_store(data: &Path, genesis: &Path, check_last: u64) -> Result<StoreWriter<RocksBackend>> {
    let genesis = Genesis::from_json(&read_text(genesis, "genesis file")?)?;
    if !data.join("CURRENT").exists() {
        anyhow::bail!("{} holds no store: give the directory of an existing store", data.display());
    }
    let backend = RocksBackend::open(data).with_context(|| format!("cannot open the store in {}", data.display()))?;
    Ok(ChainStore::open(backend, &genesis.chain_spec(), check_last)?)
}

/// Runs a `chancery store` command.
pub(crate) fn store(command: StoreCommand) -> Result<()> {
    match command {
        StoreCommand::Check { data, genesis, last } => {
            let store = open_store(&data, &genesis, 0)?;
            let report = store.check_integrity(last)?;
            println!(
                "store of chain {} is intact: {} blocks checked from height {} ({} blocks in all)",
                store.chain_id(),
                report.blocks,
                report.from,
                store.height()
            );
        }
        StoreCommand::Backup { data, genesis, to } => {
            let store = open_store(&data, &genesis, 1)?;
            backup(&store, &to)?;
            println!("backed up {} blocks of chain {} to {}", store.height(), store.chain_id(), to.display());
        }
        StoreCommand::Restore { from, data, genesis } => {
            restore(&from, &data)?;
            let store = open_store(&data, &genesis, u64::MAX)?;
            println!(
                "restored {} blocks of chain {} into {}; full integrity check passed",
                store.height(),
                store.chain_id(),
                data.display()
            );
        }
    }
    Ok(())
}

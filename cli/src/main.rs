//! The `chancery` command-line tool: a thin adapter that parses arguments, calls the
//! ledger and genesis crates, and formats their answers. Commands that need a running
//! node arrive with the node.

mod format;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chancery_genesis::{verify_bundle, Genesis};
use chancery_ledger::store::rocks::{restore, RocksBackend};
use chancery_ledger::store::ChainStore;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "chancery", version, about = "Chancery: a permissioned evidence ledger")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify a proof bundle offline against the chain's genesis file, and optionally the
    /// anchored file itself.
    Verify {
        /// The proof bundle (JSON).
        bundle: PathBuf,
        /// The chain's genesis file: the trust root.
        #[arg(long)]
        genesis: PathBuf,
        /// The document whose digest was anchored; it is hashed and compared.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Inspect a genesis file.
    Genesis {
        #[command(subcommand)]
        command: GenesisCommand,
    },
    /// Check, back up and restore a node's chain store.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Check the store's integrity: header links, history roots, tx roots, the tx index,
    /// commits and state roots.
    Check {
        /// The store's directory.
        #[arg(long)]
        data: PathBuf,
        /// The chain's genesis file.
        #[arg(long)]
        genesis: PathBuf,
        /// Check only the last N blocks (default: all).
        #[arg(long)]
        last: Option<u64>,
    },
    /// Write a consistent copy of the store to a new directory; safe while the node runs.
    Backup {
        /// The store's directory.
        #[arg(long)]
        data: PathBuf,
        /// The chain's genesis file.
        #[arg(long)]
        genesis: PathBuf,
        /// The backup directory to create.
        #[arg(long)]
        to: PathBuf,
    },
    /// Restore a backup into a new, empty store directory, then check all of it.
    Restore {
        /// The backup directory.
        #[arg(long)]
        from: PathBuf,
        /// The store directory to create.
        #[arg(long)]
        data: PathBuf,
        /// The chain's genesis file.
        #[arg(long)]
        genesis: PathBuf,
    },
}

#[derive(Subcommand)]
enum GenesisCommand {
    /// Check every rule of a genesis file.
    Validate {
        /// The genesis file.
        file: PathBuf,
    },
    /// Print the genesis hash that blocks and proofs are bound to.
    Hash {
        /// The genesis file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn read_text(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read the {what} {}", path.display()))
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Verify { bundle, genesis, file, json } => {
            let bundle_json = read_text(&bundle, "proof bundle")?;
            let genesis_json = read_text(&genesis, "genesis file")?;
            let document = file
                .as_deref()
                .map(|p| std::fs::read(p).with_context(|| format!("cannot read the file {}", p.display())))
                .transpose()?;
            let report = verify_bundle(&bundle_json, &genesis_json, document.as_deref()).context("NOT VERIFIED")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", format::report(&report));
            }
            Ok(())
        }
        Command::Genesis { command: GenesisCommand::Validate { file } } => {
            let genesis = Genesis::from_json(&read_text(&file, "genesis file")?)?;
            println!(
                "genesis of chain {} is valid: {} validators, {} members, hash {}",
                genesis.chain_id,
                genesis.validators.validators.len(),
                genesis.members.len(),
                genesis.hash()
            );
            Ok(())
        }
        Command::Genesis { command: GenesisCommand::Hash { file } } => {
            println!("{}", Genesis::from_json(&read_text(&file, "genesis file")?)?.hash());
            Ok(())
        }
        Command::Store { command } => store(command),
    }
}

fn open_store(data: &Path, genesis: &Path, check_last: u64) -> Result<ChainStore<RocksBackend>> {
    let genesis = Genesis::from_json(&read_text(genesis, "genesis file")?)?;
    if !data.join("CURRENT").exists() {
        anyhow::bail!("{} holds no store: give the directory of an existing store", data.display());
    }
    let backend = RocksBackend::open(data).with_context(|| format!("cannot open the store in {}", data.display()))?;
    Ok(ChainStore::open(backend, &genesis.chain_spec(), check_last)?)
}

fn store(command: StoreCommand) -> Result<()> {
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
            store.backup(&to)?;
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

//! The `chancery` command-line tool: a thin adapter that parses arguments, calls the
//! ledger and genesis crates, and formats their answers. Commands that need a running
//! node arrive with the node.

mod format;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chancery_genesis::{verify_bundle, Genesis};
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
        #[arg(long)]
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
    }
}

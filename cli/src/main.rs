//! The `chancery` command-line tool: a thin adapter that parses arguments, calls the
//! ledger, genesis, node and RPC crates, and formats their answers. This file only
//! dispatches; each command's handler is in its module.

mod args;
mod bench;
mod cert_cmds;
mod format;
mod genesis_cmds;
mod gov_cmds;
mod manifest;
mod node_cmds;
mod report;
mod store_cmds;
mod verify_cmds;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use args::{CertCommand, Cli, Command, GenesisCommand, KeysCommand, SignerCommand, SignerKeysCommand, TestnetCommand};

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The text of the file `path` (`what` names it in the error).
fn read_text(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read the {what} {}", path.display()))
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Verify { proof, json } => verify_cmds::verify(&proof, json),
        Command::Report { proof, out, font, bold_font, face } => {
            verify_cmds::report(&proof, &out, verify_cmds::Fonts { regular: font, bold: bold_font, face })
        }
        Command::VerifyPage { out } => verify_cmds::verify_page(&out),
        Command::Consistency { old, new, genesis } => verify_cmds::consistency(&old, &new, &genesis),
        Command::Genesis { command } => match command {
            GenesisCommand::Validate { file } => genesis_cmds::validate(&file),
            GenesisCommand::Hash { file } => genesis_cmds::hash(&file),
            GenesisCommand::New { chain_id, out, time_ms } => genesis_cmds::new(&chain_id, &out, time_ms),
            GenesisCommand::AddValidator { file, name, role, consensus_key, p2p_key, admin_key, power } => {
                let new = genesis_cmds::NewValidator {
                    name,
                    role: &role,
                    consensus_key: &consensus_key,
                    p2p_key: &p2p_key,
                    admin_key: &admin_key,
                    power,
                };
                genesis_cmds::add_validator(&file, new)
            }
            GenesisCommand::AddMember { file, name, key, kinds, ca } => {
                genesis_cmds::add_member(&file, name, &key, &kinds, ca.as_deref())
            }
        },
        Command::Store { command } => store_cmds::store(command),
        Command::Dev { home, rpc_addr, empty_block_interval_ms } => {
            node_cmds::dev(home, rpc_addr, empty_block_interval_ms)
        }
        Command::Testnet { command: TestnetCommand::Init { out, base_port, empty_block_interval_ms } } => {
            node_cmds::testnet_init(&out, base_port, empty_block_interval_ms)
        }
        Command::Testnet { command: TestnetCommand::Run { dir } } => node_cmds::testnet_run(&dir),
        Command::Start { home } => node_cmds::start_node(&home),
        Command::Init { home, genesis, passphrase_env, consensus_key } => {
            node_cmds::init(&home, &genesis, passphrase_env, consensus_key.as_deref())
        }
        Command::Signer { command: Some(SignerCommand::Keys { command }), .. } => match command {
            SignerKeysCommand::New { home, id, ca, serial, passphrase_env } => {
                cert_cmds::keys_new(&home, &id, &ca, &serial, passphrase_env)
            }
            SignerKeysCommand::List { home, passphrase_env } => cert_cmds::keys_list(&home, passphrase_env),
        },
        Command::Signer { command: Some(SignerCommand::Resume { home, height }), .. } => {
            node_cmds::signer_resume(&home, height)
        }
        Command::Signer { command: None, home, listen, passphrase_env } => match (home, listen) {
            (Some(home), Some(listen)) => node_cmds::signer(&home, &listen, passphrase_env),
            _ => anyhow::bail!("chancery signer needs --home and --listen"),
        },
        Command::Cert { command } => match command {
            CertCommand::Issue { target, submit, cert, cert_digest, subject_key, not_before, not_after } => {
                let cert_digest = cert_cmds::cert_digest(cert.as_deref(), cert_digest.as_deref())?;
                let action = cert_cmds::CertAction::Issue { cert_digest, subject_key, not_before, not_after };
                cert_cmds::cert_event(&target.args(), &submit.key(), action, submit.wait)
            }
            CertCommand::Renew { target, submit, not_after } => cert_cmds::cert_event(
                &target.args(),
                &submit.key(),
                cert_cmds::CertAction::Renew { not_after },
                submit.wait,
            ),
            CertCommand::Revoke { target, submit, reason, effective } => cert_cmds::cert_event(
                &target.args(),
                &submit.key(),
                cert_cmds::CertAction::Revoke { reason, effective },
                submit.wait,
            ),
            CertCommand::Status { target, at, out, genesis } => {
                cert_cmds::cert_status(&target.args(), at.as_deref(), out.as_deref(), genesis.as_deref())
            }
            CertCommand::History { target } => cert_cmds::cert_history(&target.args()),
            CertCommand::Verify { proof, genesis } => verify_cmds::cert_status(&proof, &genesis),
        },
        Command::Sign { file, key, rpc, token_file, kind, refs } => cert_cmds::sign(cert_cmds::SignArgs {
            rpc,
            file,
            key,
            token_file: token_file.unwrap_or_else(|| node_cmds::default_dev_home().join("keys/hosted.token")),
            kind,
            refs,
        }),
        Command::Submit { rpc, key, kind, alg, wait, manifest, files } => node_cmds::submit(node_cmds::SubmitArgs {
            rpc,
            key: key.unwrap_or_else(|| node_cmds::default_dev_home().join("integrator.key")),
            kind,
            alg,
            wait,
            manifest,
            files,
        }),
        Command::Status { rpc, tx } => node_cmds::status(&rpc, &tx),
        Command::Checkpoint { rpc, height, since, out } => node_cmds::checkpoint(&rpc, height, since.as_deref(), &out),
        Command::Proof { rpc, file, digest, tx, manifest, checkpoint, out } => {
            let target = match (file, digest, tx, manifest) {
                (Some(f), _, _, _) => node_cmds::ProofTarget::File(f),
                (_, Some(d), _, _) => node_cmds::ProofTarget::Digest(d),
                (_, _, Some(t), _) => node_cmds::ProofTarget::Tx(t),
                (_, _, _, Some(m)) => return node_cmds::proofs_of_manifest(&rpc, &m, checkpoint, &out),
                _ => anyhow::bail!("name what to prove: --file, --digest, --tx or --manifest"),
            };
            node_cmds::proof(&rpc, target, checkpoint, &out)
        }
        Command::Bench { rpc, keys, txs, batch, half_load_secs, paced_raw_divisor, paced_rate } => {
            bench::bench(bench::BenchArgs {
                rpc,
                keys: keys.unwrap_or_else(|| node_cmds::default_dev_home().join("bench")),
                txs,
                batch: batch.max(1),
                half_load_secs,
                paced_raw_divisor,
                paced_rate,
            })
        }
        Command::Keys { command: KeysCommand::Rotate { admin, new_key } } => gov_cmds::rotate(admin, new_key),
        Command::Keys { command: KeysCommand::Generate { out, passphrase_env } } => {
            node_cmds::keys_generate(&out, passphrase_env.as_deref())
        }
        Command::Gov { command } => gov_cmds::gov(command),
    }
}

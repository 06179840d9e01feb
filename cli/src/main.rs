//! The `chancery` command-line tool: a thin adapter that parses arguments, calls the
//! ledger, genesis, node and RPC crates, and formats their answers.

mod bench;
mod cert_cmds;
mod format;
mod gov_cmds;
mod node_cmds;
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chancery_genesis::{verify_bundle, Genesis};
use chancery_ledger::store::{ChainStore, StoreWriter};
use chancery_ledger::verify::{verify_with_checkpoint, SavedCheckpoint};
use chancery_node::rocks::{backup, restore, RocksBackend};
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
        #[command(flatten)]
        proof: ProofArgs,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Inspect a genesis file.
    Genesis {
        #[command(subcommand)]
        command: GenesisCommand,
    },
    /// Create a node home: config.toml (commented), the genesis, and a consensus key.
    Init {
        /// The node home to create.
        #[arg(long)]
        home: PathBuf,
        /// The chain's genesis file (copied into the home).
        #[arg(long)]
        genesis: PathBuf,
        /// Encrypt the consensus key with the passphrase held in this environment variable.
        #[arg(long)]
        passphrase_env: Option<String>,
        /// Use this existing consensus key file (the one named in the genesis) instead of
        /// generating one; it is copied into the home, readable by its owner only.
        #[arg(long)]
        consensus_key: Option<PathBuf>,
    },
    /// Create key files.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Check, back up and restore a node's chain store.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Run a one-validator dev chain: created under DIR on first run, resumed after.
    Dev {
        /// The chain's home (default ~/.chancery/dev).
        #[arg(long)]
        home: Option<PathBuf>,
        /// RPC listen address (default from config.toml: 127.0.0.1:7700).
        #[arg(long)]
        rpc_addr: Option<String>,
    },
    /// A local testnet: four validators (operator, notary, court, arbitration) and an
    /// observer, as separate processes on loopback.
    Testnet {
        #[command(subcommand)]
        command: TestnetCommand,
    },
    /// Hold a validator's consensus key and double-sign guard in this process and sign
    /// for its node over a Unix socket (the node's `keys.remote_signer`); or, with
    /// `keys`, manage hosted document-signing keys.
    #[command(args_conflicts_with_subcommands = true)]
    Signer {
        #[command(subcommand)]
        command: Option<SignerCommand>,
        /// The signer's home: keys/consensus.key and keys/signer_state.json.
        #[arg(long, required = true)]
        home: Option<PathBuf>,
        /// unix:PATH of the socket to create (owner-only).
        #[arg(long, required = true)]
        listen: Option<String>,
        /// Environment variable holding the key passphrase, for an encrypted key.
        #[arg(long)]
        passphrase_env: Option<String>,
    },
    /// On-chain governance: propose changes of members, CAs, validators and parameters,
    /// vote on them with an institution's admin key, and follow them.
    Gov {
        #[command(subcommand)]
        command: gov_cmds::GovCommand,
    },
    /// Record a certificate's lifecycle (as its CA), and ask its status at a time with a
    /// proof that verifies offline.
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
    /// Sign a file's SHA-256 digest with a hosted key of the node's signer; the node
    /// anchors the signing event (naming the key's certificate) and answers the signature
    /// once that event is committed.
    Sign {
        /// The file.
        file: PathBuf,
        /// The hosted key id.
        #[arg(long)]
        key: String,
        /// Node RPC URL.
        #[arg(long, default_value = node_cmds::DEFAULT_RPC)]
        rpc: String,
        /// The node's hosted-signing token file (default: the dev chain's).
        #[arg(long)]
        token_file: Option<PathBuf>,
        /// Evidence kind of the signing event: signing_event or custom:N.
        #[arg(long, default_value = "signing_event")]
        kind: String,
        /// Related tx (the document's anchor); repeatable.
        #[arg(long = "ref")]
        refs: Vec<String>,
    },
    /// Run the node of a home made by `chancery init`.
    Start {
        /// The node home.
        #[arg(long)]
        home: PathBuf,
    },
    /// Anchor files: hash each, sign, submit in batches; with --wait, return when all are
    /// committed and print height and block time per file.
    Submit {
        /// Node RPC URL.
        #[arg(long, default_value = node_cmds::DEFAULT_RPC)]
        rpc: String,
        /// The submitter's key file (default: the dev chain's integrator key).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Evidence kind (document, signing_event, identity_check, ...).
        #[arg(long, default_value = "document")]
        kind: String,
        /// Digest algorithm: sha256, sha512, sm3 or blake3.
        #[arg(long, default_value = "sha256")]
        alg: String,
        /// Wait until every tx is committed.
        #[arg(long)]
        wait: bool,
        /// The files.
        files: Vec<PathBuf>,
    },
    /// Where a tx stands: pending, committed (height, block time) or dropped.
    Status {
        /// Node RPC URL.
        #[arg(long, default_value = node_cmds::DEFAULT_RPC)]
        rpc: String,
        /// The tx hash.
        tx: String,
    },
    /// Fetch the proof bundle of an anchored file, digest or tx.
    Proof {
        /// Node RPC URL.
        #[arg(long, default_value = node_cmds::DEFAULT_RPC)]
        rpc: String,
        /// The file (hashed with SHA-256; its first anchor is proven).
        #[arg(long, group = "target")]
        file: Option<PathBuf>,
        /// A digest ALG:HEX.
        #[arg(long, group = "target")]
        digest: Option<String>,
        /// A tx hash.
        #[arg(long, group = "target")]
        tx: Option<String>,
        /// Extend the proof to this later block height.
        #[arg(long)]
        checkpoint: Option<u64>,
        /// Where to write the proof.
        #[arg(long)]
        out: PathBuf,
    },
    /// Save a signed checkpoint of a node's chain (its latest block, or `--height`): a
    /// trust anchor for `verify --checkpoint` and `consistency`.
    Checkpoint {
        /// Node RPC URL.
        #[arg(long, default_value = node_cmds::DEFAULT_RPC)]
        rpc: String,
        /// The block height (default: the latest).
        #[arg(long)]
        height: Option<u64>,
        /// An earlier checkpoint: the new one carries the proof that its history extends
        /// that one's.
        #[arg(long)]
        since: Option<PathBuf>,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify offline that the ledger only grew between two saved checkpoints (the newer
    /// one saved with `--since` the older).
    Consistency {
        /// The earlier checkpoint.
        old: PathBuf,
        /// The later checkpoint.
        new: PathBuf,
        /// The chain's genesis file: the trust root.
        #[arg(long)]
        genesis: PathBuf,
    },
    /// Write a printable HTML evidence report of what a proof shows (it must verify).
    Report {
        #[command(flatten)]
        proof: ProofArgs,
        /// The HTML file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Load a node with pre-signed txs and print committed evidence per second and
    /// submit-to-commit latency, beside the raw batch-verification rate of this machine.
    Bench {
        /// Node RPC URL.
        #[arg(long, default_value = node_cmds::DEFAULT_RPC)]
        rpc: String,
        /// Directory of submitter keys (default: the dev chain's bench keys).
        #[arg(long)]
        keys: Option<PathBuf>,
        /// Txs at full load.
        #[arg(long, default_value_t = 200_000)]
        txs: usize,
        /// Txs per submit batch.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Seconds of the half-load phase.
        #[arg(long, default_value_t = 10)]
        half_load_secs: u64,
        /// Offer raw batch-verification rate / D in the paced phase instead of half the
        /// measured throughput (8 on the testnet: half of its ceiling raw / 4).
        #[arg(long)]
        paced_raw_divisor: Option<f64>,
    },
}

#[derive(Subcommand)]
enum SignerCommand {
    /// Hosted document-signing keys.
    Keys {
        #[command(subcommand)]
        command: SignerKeysCommand,
    },
    /// State the height a consensus key without a double-sign guard file may sign from
    /// (a key brought from another host: stop its old signer first, and give a height
    /// above the last one it signed at). Refused if the guard file exists.
    Resume {
        /// The signer's home, or the node home whose node signs itself.
        #[arg(long)]
        home: PathBuf,
        /// Sign nothing below this height.
        #[arg(long)]
        height: u64,
    },
}

#[derive(Subcommand)]
enum SignerKeysCommand {
    /// Make a hosted key inside the signer's home, bound to one certificate; prints the
    /// public key and the subject-key digest the CA names when it issues the certificate.
    New {
        /// The signer's home (a node home when the node signs itself).
        #[arg(long)]
        home: PathBuf,
        /// The key id (a-z, 0-9, '-', '_').
        #[arg(long)]
        id: String,
        /// The certificate's CA id.
        #[arg(long)]
        ca: String,
        /// The certificate's serial, hex.
        #[arg(long)]
        serial: String,
        /// Encrypt the key with the passphrase in this environment variable.
        #[arg(long)]
        passphrase_env: Option<String>,
    },
    /// List the hosted keys (ids, certificates, public keys).
    List {
        /// The signer's home.
        #[arg(long)]
        home: PathBuf,
        /// Environment variable holding the keys' passphrase.
        #[arg(long)]
        passphrase_env: Option<String>,
    },
}

/// Which certificate, on which node.
#[derive(clap::Args)]
struct CertTarget {
    /// Node RPC URL.
    #[arg(long, default_value = node_cmds::DEFAULT_RPC)]
    rpc: String,
    /// The CA id.
    #[arg(long)]
    ca: String,
    /// The serial, hex.
    #[arg(long)]
    serial: String,
}

impl CertTarget {
    fn args(&self) -> cert_cmds::CertArgs {
        cert_cmds::CertArgs { rpc: self.rpc.clone(), ca: self.ca.clone(), serial: self.serial.clone() }
    }
}

/// The CA's signing key and whether to wait.
#[derive(clap::Args)]
struct CaSubmit {
    /// The CA's member key file (default: the dev chain's demo CA key).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Wait until the event is committed.
    #[arg(long)]
    wait: bool,
}

impl CaSubmit {
    fn key(&self) -> PathBuf {
        self.key.clone().unwrap_or_else(|| node_cmds::default_dev_home().join("ca.key"))
    }
}

#[derive(Subcommand)]
enum CertCommand {
    /// Record a certificate's issue. Times: milliseconds, `now`, or 2026-01-31T12:00:00Z.
    Issue {
        #[command(flatten)]
        target: CertTarget,
        #[command(flatten)]
        submit: CaSubmit,
        /// The certificate file (DER), hashed with SHA-256.
        #[arg(long, group = "certificate")]
        cert: Option<PathBuf>,
        /// Or its digest, ALG:HEX.
        #[arg(long, group = "certificate")]
        cert_digest: Option<String>,
        /// The subject's public key (hex), or its digest ALG:HEX.
        #[arg(long)]
        subject_key: String,
        /// Start of validity.
        #[arg(long)]
        not_before: String,
        /// End of validity (included).
        #[arg(long)]
        not_after: String,
    },
    /// Extend a certificate's validity.
    Renew {
        #[command(flatten)]
        target: CertTarget,
        #[command(flatten)]
        submit: CaSubmit,
        /// The new end of validity.
        #[arg(long)]
        not_after: String,
    },
    /// Revoke a certificate (final).
    Revoke {
        #[command(flatten)]
        target: CertTarget,
        #[command(flatten)]
        submit: CaSubmit,
        /// key_compromise, information_changed, illegal_use, organisation_dissolved or
        /// unspecified.
        #[arg(long)]
        reason: String,
        /// From when (default: the latest block's time; never later).
        #[arg(long)]
        effective: Option<String>,
    },
    /// The status at a time (default now), as of the latest block; with --genesis the
    /// proof is checked offline.
    Status {
        #[command(flatten)]
        target: CertTarget,
        /// The time asked about.
        #[arg(long)]
        at: Option<String>,
        /// Write the proof (JSON) here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The chain's genesis file: verify the proof against it.
        #[arg(long)]
        genesis: Option<PathBuf>,
    },
    /// Every anchored event of a certificate.
    History {
        #[command(flatten)]
        target: CertTarget,
    },
    /// Verify a saved status proof offline against the chain's genesis file.
    Verify {
        /// The status proof (JSON), as `cert status --out` wrote it.
        proof: PathBuf,
        /// The chain's genesis file: the trust root.
        #[arg(long)]
        genesis: PathBuf,
    },
}

#[derive(Subcommand)]
enum TestnetCommand {
    /// Write the testnet: DIR/genesis.json, DIR/integrator.key, and the node homes
    /// DIR/operator, DIR/notary, DIR/court, DIR/arbitration and DIR/observer.
    Init {
        /// The directory to create.
        #[arg(long)]
        out: PathBuf,
        /// First port: node i gets RPC on BASE + 10 i and p2p on BASE + 10 i + 1.
        #[arg(long, default_value_t = 27600)]
        base_port: u16,
    },
    /// Start every node of the testnet as its own process; Ctrl-C stops them all.
    Run {
        /// The testnet directory.
        dir: PathBuf,
    },
}

/// A proof to verify offline.
#[derive(clap::Args)]
struct ProofArgs {
    /// The proof bundle (JSON).
    bundle: PathBuf,
    /// The chain's genesis file: the trust root.
    #[arg(long)]
    genesis: PathBuf,
    /// The document whose digest was anchored; it is hashed and compared.
    #[arg(long)]
    file: Option<PathBuf>,
    /// A checkpoint saved later (`chancery checkpoint`), trusted besides the genesis: the
    /// block must be in its history.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
}

/// Verifies the proof offline; the error names the check that failed.
fn verified(proof: &ProofArgs) -> Result<chancery_ledger::Report> {
    let bundle_json = read_text(&proof.bundle, "proof bundle")?;
    let genesis_json = read_text(&proof.genesis, "genesis file")?;
    let document = proof
        .file
        .as_deref()
        .map(|p| std::fs::read(p).with_context(|| format!("cannot read the file {}", p.display())))
        .transpose()?;
    match &proof.checkpoint {
        None => verify_bundle(&bundle_json, &genesis_json, document.as_deref()).context("NOT VERIFIED"),
        Some(path) => {
            let genesis = Genesis::from_json(&genesis_json)?;
            let bundle = chancery_ledger::ProofBundle::from_json(&bundle_json).context("NOT VERIFIED")?;
            let trusted = SavedCheckpoint::from_json(&read_text(path, "checkpoint")?).context("NOT VERIFIED")?;
            verify_with_checkpoint(&bundle, &genesis.trust_root(), document.as_deref(), &trusted)
                .context("NOT VERIFIED")
        }
    }
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
enum KeysCommand {
    /// Generate an Ed25519 key into a new file readable by its owner only.
    Generate {
        /// The key file to create.
        #[arg(long)]
        out: PathBuf,
        /// Encrypt the key with the passphrase held in this environment variable.
        #[arg(long)]
        passphrase_env: Option<String>,
    },
    /// Replace one of the institution's own keys (consensus, p2p or admin), signed by its
    /// current admin key alone; takes effect at the height after the block holding it.
    Rotate {
        #[command(flatten)]
        admin: gov_cmds::AdminArgs,
        #[command(flatten)]
        new_key: gov_cmds::NewKey,
    },
}

#[derive(Subcommand)]
enum GenesisCommand {
    /// Start a genesis file with default parameters and no validators or members.
    New {
        /// The chain id (letters, digits, '-', '_', '.').
        #[arg(long)]
        chain_id: String,
        /// The genesis file to create.
        #[arg(long)]
        out: PathBuf,
        /// Genesis time, milliseconds since the Unix epoch (default: now).
        #[arg(long)]
        time_ms: Option<u64>,
    },
    /// Add a validator to a genesis file.
    AddValidator {
        /// The genesis file.
        file: PathBuf,
        /// The institution's name.
        #[arg(long)]
        name: String,
        /// operator, notary, court, arbitration or observer.
        #[arg(long)]
        role: String,
        /// Key file of the consensus key (only its public key is read).
        #[arg(long)]
        consensus_key: PathBuf,
        /// Key file of the p2p key.
        #[arg(long)]
        p2p_key: PathBuf,
        /// Key file of the institution's admin (governance) key (only its public key is
        /// read).
        #[arg(long)]
        admin_key: PathBuf,
        /// Voting power (0 for observers).
        #[arg(long, default_value_t = 10)]
        power: u64,
    },
    /// Add a member (an integrator or a certificate authority) to a genesis file.
    AddMember {
        /// The genesis file.
        file: PathBuf,
        /// The member's name.
        #[arg(long)]
        name: String,
        /// Key file of the member's signing key (only its public key is read).
        #[arg(long)]
        key: PathBuf,
        /// For an integrator: the evidence kinds it may anchor, comma separated.
        #[arg(long, value_delimiter = ',', conflicts_with = "ca")]
        kinds: Vec<String>,
        /// For a certificate authority: its CA id.
        #[arg(long)]
        ca: Option<String>,
    },
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
        Command::Verify { proof, json } => {
            let report = verified(&proof)?;
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
        Command::Dev { home, rpc_addr } => node_cmds::dev(home, rpc_addr),
        Command::Testnet { command: TestnetCommand::Init { out, base_port } } => {
            node_cmds::testnet_init(&out, base_port)
        }
        Command::Testnet { command: TestnetCommand::Run { dir } } => node_cmds::testnet_run(&dir),
        Command::Start { home } => node_cmds::start_node(&home),
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
            CertCommand::Verify { proof, genesis } => {
                let proof = chancery_ledger::verify::CertStatusProof::from_json(&read_text(&proof, "status proof")?)?;
                cert_cmds::print_verified(&cert_cmds::verified_status(&proof, &genesis)?);
                Ok(())
            }
        },
        Command::Sign { file, key, rpc, token_file, kind, refs } => cert_cmds::sign(cert_cmds::SignArgs {
            rpc,
            file,
            key,
            token_file: token_file.unwrap_or_else(|| node_cmds::default_dev_home().join("keys/hosted.token")),
            kind,
            refs,
        }),
        Command::Submit { rpc, key, kind, alg, wait, files } => node_cmds::submit(node_cmds::SubmitArgs {
            rpc,
            key: key.unwrap_or_else(|| node_cmds::default_dev_home().join("integrator.key")),
            kind,
            alg,
            wait,
            files,
        }),
        Command::Status { rpc, tx } => node_cmds::status(&rpc, &tx),
        Command::Checkpoint { rpc, height, since, out } => node_cmds::checkpoint(&rpc, height, since.as_deref(), &out),
        Command::Consistency { old, new, genesis } => {
            let genesis = Genesis::from_json(&read_text(&genesis, "genesis file")?)?;
            let old = SavedCheckpoint::from_json(&read_text(&old, "checkpoint")?)?;
            let new = SavedCheckpoint::from_json(&read_text(&new, "checkpoint")?)?;
            let verdict = chancery_ledger::verify::verify_consistency_of(&old, &new, &genesis.trust_root())
                .context("NOT CONSISTENT")?;
            println!(
                "CONSISTENT: the history at height {} (block {}, {}) extends the history at height {} (block {}, {}); both checkpoints verified against the genesis",
                verdict.new.height,
                verdict.new.block_hash,
                format::utc(verdict.new.block_time_ms),
                verdict.old.height,
                verdict.old.block_hash,
                format::utc(verdict.old.block_time_ms)
            );
            Ok(())
        }
        Command::Proof { rpc, file, digest, tx, checkpoint, out } => {
            let target = match (file, digest, tx) {
                (Some(f), _, _) => node_cmds::ProofTarget::File(f),
                (_, Some(d), _) => node_cmds::ProofTarget::Digest(d),
                (_, _, Some(t)) => node_cmds::ProofTarget::Tx(t),
                _ => anyhow::bail!("name what to prove: --file, --digest or --tx"),
            };
            node_cmds::proof(&rpc, target, checkpoint, &out)
        }
        Command::Report { proof, out } => {
            let report = verified(&proof)?;
            let name = proof.file.as_ref().map(|p| p.display().to_string());
            std::fs::write(&out, report::html(&report, name.as_deref(), chancery_node::shared::now_ms()))
                .with_context(|| format!("writing {}", out.display()))?;
            println!("VERIFIED; wrote the evidence report to {}", out.display());
            Ok(())
        }
        Command::Bench { rpc, keys, txs, batch, half_load_secs, paced_raw_divisor } => bench::bench(bench::BenchArgs {
            rpc,
            keys: keys.unwrap_or_else(|| node_cmds::default_dev_home().join("bench")),
            txs,
            batch: batch.max(1),
            half_load_secs,
            paced_raw_divisor,
        }),
        Command::Init { home, genesis, passphrase_env, consensus_key } => {
            init(&home, &genesis, passphrase_env, consensus_key.as_deref())
        }
        Command::Keys { command: KeysCommand::Rotate { admin, new_key } } => gov_cmds::rotate(admin, new_key),
        Command::Gov { command } => gov_cmds::gov(command),
        Command::Keys { command: KeysCommand::Generate { out, passphrase_env } } => {
            let passphrase = node_cmds::passphrase(passphrase_env.as_deref())?;
            let key = chancery_node::signer::KeyFile::generate(&out, passphrase.as_deref())?;
            println!("{}", chancery_ledger::PublicKey(key.verifying_key().to_bytes()));
            Ok(())
        }
        Command::Genesis { command: GenesisCommand::New { chain_id, out, time_ms } } => {
            let chain_id = chancery_ledger::ChainId::new(&chain_id)?;
            let time_ms = match time_ms {
                Some(t) => t,
                None => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as u64,
            };
            if out.exists() {
                anyhow::bail!("{} exists; choose a new file", out.display());
            }
            std::fs::write(&out, Genesis::new(chain_id, time_ms).to_json())?;
            println!("wrote {}; add validators with `chancery genesis add-validator`", out.display());
            Ok(())
        }
        Command::Genesis {
            command: GenesisCommand::AddValidator { file, name, role, consensus_key, p2p_key, admin_key, power },
        } => {
            let mut genesis = read_genesis_draft(&file)?;
            let role: chancery_ledger::Role = serde_json::from_value(serde_json::Value::String(role.clone()))
                .with_context(|| {
                    format!("unknown role {role:?}: use operator, notary, court, arbitration or observer")
                })?;
            let validator = chancery_ledger::Validator {
                name: chancery_ledger::validator::Name::new(name)?,
                role,
                consensus_key: chancery_node::signer::KeyFile::public_key(&consensus_key)?,
                p2p_key: chancery_node::signer::KeyFile::public_key(&p2p_key)?,
                admin_key: chancery_node::signer::KeyFile::public_key(&admin_key)?,
                power,
            };
            genesis.add_validator(validator)?;
            write_genesis(&file, &genesis)
        }
        Command::Genesis { command: GenesisCommand::AddMember { file, name, key, kinds, ca } } => {
            let mut genesis = read_genesis_draft(&file)?;
            let role = gov_cmds::member_role(&kinds, ca.as_deref())?;
            let member = chancery_ledger::Member {
                name: chancery_ledger::validator::Name::new(name)?,
                key: chancery_node::signer::KeyFile::public_key(&key)?,
                role,
            };
            genesis.add_member(member)?;
            write_genesis(&file, &genesis)
        }
    }
}

fn init(home: &Path, genesis_path: &Path, passphrase_env: Option<String>, existing_key: Option<&Path>) -> Result<()> {
    use chancery_node::config::{Config, TEMPLATE};
    let genesis = Genesis::from_json(&read_text(genesis_path, "genesis file")?)?;
    let config_path = home.join("config.toml");
    if config_path.exists() {
        anyhow::bail!("{} exists: this home is already initialised", config_path.display());
    }
    let passphrase = node_cmds::passphrase(passphrase_env.as_deref())?;
    let config = Config::template()?;
    std::fs::create_dir_all(home.join("keys"))?;
    std::fs::write(home.join("genesis.json"), genesis.to_json())?;
    let template = match &passphrase_env {
        Some(var) => TEMPLATE.replacen("passphrase_env = \"\"", &format!("passphrase_env = {var:?}"), 1),
        None => TEMPLATE.to_string(),
    };
    let key_path = Config::resolve(home, &config.keys.consensus_key);
    let key = match existing_key {
        Some(source) => {
            use std::os::unix::fs::PermissionsExt;
            let key = chancery_node::signer::KeyFile::load(source, passphrase.as_deref())?;
            std::fs::copy(source, &key_path).with_context(|| format!("copying {}", source.display()))?;
            std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))?;
            key
        }
        None => chancery_node::signer::generate_consensus_key(
            &key_path,
            &Config::resolve(home, &config.keys.signer_state),
            passphrase.as_deref(),
        )?,
    };
    let public = chancery_ledger::PublicKey(key.verifying_key().to_bytes());
    if genesis.validators.find(&public).is_none() {
        eprintln!("note: consensus key {public} is not a validator in this genesis: the node will follow, not vote");
    }
    std::fs::write(&config_path, template)?;
    Config::load(&config_path)?;
    println!("initialised {} for chain {} (genesis {})", home.display(), genesis.chain_id, genesis.hash());
    println!("consensus key {public} in {}", key_path.display());
    if existing_key.is_some() {
        println!(
            "this key may have signed on another host: its signer signs nothing until you run `chancery signer resume --home {} --height H` (H above the last height it signed at)",
            home.display()
        );
    }
    println!("edit {} to change ports and limits", config_path.display());
    Ok(())
}

/// A genesis being built: parsed without the full validation (it may have no validators
/// yet); every addition is validated by the builder.
fn read_genesis_draft(path: &Path) -> Result<Genesis> {
    let text = read_text(path, "genesis file")?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a genesis document", path.display()))
}

fn write_genesis(path: &Path, genesis: &Genesis) -> Result<()> {
    std::fs::write(path, genesis.to_json())?;
    println!(
        "updated {}: {} validators, {} members",
        path.display(),
        genesis.validators.validators.len(),
        genesis.members.len()
    );
    Ok(())
}

fn open_store(data: &Path, genesis: &Path, check_last: u64) -> Result<StoreWriter<RocksBackend>> {
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

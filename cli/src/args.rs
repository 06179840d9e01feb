//! The command line: every command and its arguments (clap).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "chancery", version, about = "Chancery: a permissioned evidence ledger")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Verify a proof bundle (or a PDF evidence report, whose attached proof is verified
    /// and its printed text checked against it) offline against the chain's genesis file,
    /// and optionally the anchored file itself.
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
        /// When creating the chain: how long it waits for a tx before it makes an empty
        /// block, ms (the genesis parameter `empty_block_interval_ms`; default 60000).
        #[arg(long)]
        empty_block_interval_ms: Option<u64>,
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
        command: crate::gov_cmds::GovCommand,
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
        #[arg(long, default_value = crate::node_cmds::DEFAULT_RPC)]
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
        #[arg(long, default_value = crate::node_cmds::DEFAULT_RPC)]
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
        /// Write what was anchored (file, digest, tx, and with --wait height and block
        /// time) to this file, JSON or CSV by its extension; `chancery proof --manifest`
        /// fetches every file's proof from it.
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// The files, or directories: every file under them.
        files: Vec<PathBuf>,
    },
    /// Where a tx stands: pending, committed (height, block time) or dropped.
    Status {
        /// Node RPC URL.
        #[arg(long, default_value = crate::node_cmds::DEFAULT_RPC)]
        rpc: String,
        /// The tx hash.
        tx: String,
    },
    /// Fetch the proof bundle of an anchored file, digest or tx.
    Proof {
        /// Node RPC URL.
        #[arg(long, default_value = crate::node_cmds::DEFAULT_RPC)]
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
        /// A manifest `chancery submit --manifest` wrote: one proof per file in it.
        #[arg(long, group = "target")]
        manifest: Option<PathBuf>,
        /// Extend the proof to this later block height.
        #[arg(long)]
        checkpoint: Option<u64>,
        /// Where to write the proof (with --manifest: a directory, one proof per file).
        #[arg(long)]
        out: PathBuf,
    },
    /// Save a signed checkpoint of a node's chain (its latest block, or `--height`): a
    /// trust anchor for `verify --checkpoint` and `consistency`.
    Checkpoint {
        /// Node RPC URL.
        #[arg(long, default_value = crate::node_cmds::DEFAULT_RPC)]
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
    /// Write the evidence report of a proof (it must verify): an archival PDF (PDF/A-3,
    /// English and Chinese, the proof and the genesis attached so that the report verifies
    /// by itself) when OUT ends in .pdf, a printable HTML page when it ends in .html.
    Report {
        #[command(flatten)]
        proof: ProofArgs,
        /// The file to write (.pdf or .html).
        #[arg(long)]
        out: PathBuf,
        /// The font of the PDF, a Noto Sans CJK collection or any OpenType font with
        /// Chinese (default: Debian's fonts-noto-cjk).
        #[arg(long)]
        font: Option<PathBuf>,
        /// The bold font of the PDF (default: the same package's bold face).
        #[arg(long)]
        bold_font: Option<PathBuf>,
        /// The face to use in a font collection (default: 2, Simplified Chinese in Noto
        /// Sans CJK's collections).
        #[arg(long, default_value_t = chancery_court::pdf_write::SC_FACE)]
        face: u32,
    },
    /// Write the verification page: one self-contained HTML file that verifies proofs in
    /// the browser, offline (the same verifier, compiled to WebAssembly). Save it, open it
    /// from disk, drop in the proof, the genesis file and the document.
    VerifyPage {
        /// The HTML file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Load a node with pre-signed txs and print committed evidence per second and
    /// submit-to-commit latency, beside the raw batch-verification rate of this machine.
    Bench {
        /// Node RPC URL.
        #[arg(long, default_value = crate::node_cmds::DEFAULT_RPC)]
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
        #[arg(long, conflicts_with = "paced_rate")]
        paced_raw_divisor: Option<f64>,
        /// Offer this many evidence records a second in the paced phase (the same load
        /// whatever this run's raw rate; for comparing runs).
        #[arg(long)]
        paced_rate: Option<f64>,
    },
}

#[derive(Subcommand)]
pub(crate) enum SignerCommand {
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
pub(crate) enum SignerKeysCommand {
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
pub(crate) struct CertTarget {
    /// Node RPC URL.
    #[arg(long, default_value = crate::node_cmds::DEFAULT_RPC)]
    pub(crate) rpc: String,
    /// The CA id.
    #[arg(long)]
    pub(crate) ca: String,
    /// The serial, hex.
    #[arg(long)]
    pub(crate) serial: String,
}

impl CertTarget {
    pub(crate) fn args(&self) -> crate::cert_cmds::CertArgs {
        crate::cert_cmds::CertArgs { rpc: self.rpc.clone(), ca: self.ca.clone(), serial: self.serial.clone() }
    }
}

/// The CA's signing key and whether to wait.
#[derive(clap::Args)]
pub(crate) struct CaSubmit {
    /// The CA's member key file (default: the dev chain's demo CA key).
    #[arg(long)]
    pub(crate) key: Option<PathBuf>,
    /// Wait until the event is committed.
    #[arg(long)]
    pub(crate) wait: bool,
}

impl CaSubmit {
    pub(crate) fn key(&self) -> PathBuf {
        self.key.clone().unwrap_or_else(|| crate::node_cmds::default_dev_home().join("ca.key"))
    }
}

#[derive(Subcommand)]
pub(crate) enum CertCommand {
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
pub(crate) enum TestnetCommand {
    /// Write the testnet: DIR/genesis.json, DIR/integrator.key, and the node homes
    /// DIR/operator, DIR/notary, DIR/court, DIR/arbitration and DIR/observer.
    Init {
        /// The directory to create.
        #[arg(long)]
        out: PathBuf,
        /// First port: node i gets RPC on BASE + 10 i and p2p on BASE + 10 i + 1.
        #[arg(long, default_value_t = 27600)]
        base_port: u16,
        /// How long the chain waits for a tx before it makes an empty block, ms (the
        /// genesis parameter `empty_block_interval_ms`; default 60000).
        #[arg(long)]
        empty_block_interval_ms: Option<u64>,
    },
    /// Start every node of the testnet as its own process; Ctrl-C stops them all.
    Run {
        /// The testnet directory.
        dir: PathBuf,
    },
}

/// A proof to verify offline.
#[derive(clap::Args)]
pub(crate) struct ProofArgs {
    /// The proof bundle (JSON), or a PDF evidence report.
    pub(crate) bundle: PathBuf,
    /// The chain's genesis file: the trust root.
    #[arg(long)]
    pub(crate) genesis: PathBuf,
    /// The document whose digest was anchored; it is hashed and compared.
    #[arg(long)]
    pub(crate) file: Option<PathBuf>,
    /// A checkpoint saved later (`chancery checkpoint`), trusted besides the genesis: the
    /// block must be in its history.
    #[arg(long)]
    pub(crate) checkpoint: Option<PathBuf>,
}

#[derive(Subcommand)]
pub(crate) enum StoreCommand {
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
pub(crate) enum KeysCommand {
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
        admin: crate::gov_cmds::AdminArgs,
        #[command(flatten)]
        new_key: crate::gov_cmds::NewKey,
    },
}

#[derive(Subcommand)]
pub(crate) enum GenesisCommand {
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

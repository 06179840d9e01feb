//! Commands that run a node or talk to one: `dev`, `start`, `submit`, `status`, `proof`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chancery_ledger::tx::EvidenceKind;
use chancery_ledger::{Digest, DigestAlg, Hash, Tx};
use chancery_node::config::Config;
use chancery_node::node::{start, Overrides, RunningNode};
use chancery_node::signer::KeyFile;
use chancery_rpc::txs::{clock_nonce, evidence_tx, tx_hex};
use chancery_rpc::types::{CommittedBlock, SubmitOutcome, TxStatus};
use chancery_rpc::{ChanceryApiClient, Client, ErrorCode};

use crate::format::utc;

/// The dev chain's home unless `--home` says otherwise.
pub fn default_dev_home() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".chancery").join("dev")
}

/// The RPC URL of the dev chain.
pub const DEFAULT_RPC: &str = "ws://127.0.0.1:7700";

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

/// `chancery dev`.
pub fn dev(home: Option<PathBuf>, rpc_addr: Option<String>, empty_block_interval_ms: Option<u64>) -> Result<()> {
    let home = home.unwrap_or_else(default_dev_home);
    let created = !home.join("config.toml").exists();
    if created {
        chancery_node::devchain::create(&home, empty_block_interval_ms)?;
    } else if let Some(asked) = empty_block_interval_ms {
        // The same command line resumes the chain; another interval cannot change it.
        let genesis = std::fs::read_to_string(home.join("genesis.json")).context("reading the dev chain's genesis")?;
        let set = chancery_genesis::Genesis::from_json(&genesis)?.params.empty_block_interval_ms;
        if set != asked {
            bail!(
                "the dev chain in {} has empty_block_interval_ms {set} in its genesis, not {asked}; \
                 change it on chain with `chancery gov propose set-params --empty-block-interval-ms`, \
                 or start a new chain in another --home",
                home.display()
            );
        }
    }
    let config = Config::load(&home.join("config.toml"))?;
    run_node(&home, &config, Overrides { rpc_listen: rpc_addr }, |node| {
        println!("{} the dev chain in {}", if created { "created" } else { "resumed" }, home.display());
        println!("RPC            ws://{0}  (HTTP: http://{0}, health: http://{0}/health)", node.rpc_addr);
        println!("genesis        {}", home.join("genesis.json").display());
        println!("integrator key {}", home.join("integrator.key").display());
        println!("blocks so far  {}", node.store.height());
        println!("verify page    http://{}/verify  (verifies proofs in the browser, offline)", node.rpc_addr);
        println!("Ctrl-C stops the chain; `chancery dev` resumes it.");
        let (rpc, key, genesis) = (
            format!("ws://{}", node.rpc_addr),
            home.join("integrator.key").display().to_string(),
            home.join("genesis.json").display().to_string(),
        );
        println!("next, in another shell, anchor a file, fetch its proof and verify it offline:");
        println!("  chancery submit --rpc {rpc} --key {key} --wait contract.pdf");
        println!("  chancery proof --rpc {rpc} --file contract.pdf --out proof.json");
        println!("  chancery verify proof.json --genesis {genesis} --file contract.pdf");
    })
}

/// `chancery testnet init`.
pub fn testnet_init(out: &Path, base_port: u16, empty_block_interval_ms: Option<u64>) -> Result<()> {
    let nodes = chancery_node::devchain::create_testnet(out, base_port, empty_block_interval_ms)?;
    println!("wrote the testnet in {}", out.display());
    println!("genesis        {}", out.join("genesis.json").display());
    println!("integrator key {}", out.join("integrator.key").display());
    for node in &nodes {
        println!("{:<12}   {}  RPC ws://{}  p2p {}", node.name, out.join(&node.name).display(), node.rpc, node.p2p);
    }
    println!("run it with `chancery testnet run {}`", out.display());
    Ok(())
}

/// The node homes of a testnet directory, in start order.
pub fn testnet_homes(dir: &Path) -> Vec<PathBuf> {
    let mut names: Vec<&str> = chancery_node::devchain::TESTNET_VALIDATORS.iter().map(|(n, _, _)| *n).collect();
    names.push(chancery_node::devchain::TESTNET_OBSERVER);
    names.iter().map(|n| dir.join(n)).collect()
}

/// How long `chancery testnet run` waits for its nodes to stop before it kills them.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// `chancery testnet run`: each node is `chancery start --home DIR/NAME`, logging to
/// `DIR/NAME/node.log`.
pub fn testnet_run(dir: &Path) -> Result<()> {
    use std::io::BufRead;
    let exe = std::env::current_exe().context("finding the chancery binary")?;
    let mut children = Vec::new();
    for home in testnet_homes(dir) {
        if !home.join("config.toml").exists() {
            bail!("{} is not a node home; run `chancery testnet init --out {}` first", home.display(), dir.display());
        }
        let log = std::fs::File::create(home.join("node.log"))?;
        let mut child = std::process::Command::new(&exe)
            .arg("start")
            .arg("--home")
            .arg(&home)
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting the node in {}", home.display()))?;
        let stdout = child.stdout.take().context("node stdout")?;
        let mut lines = std::io::BufReader::new(stdout).lines();
        match lines.next() {
            Some(Ok(line)) => println!("{:<12} {line}", home.file_name().and_then(|n| n.to_str()).unwrap_or("?")),
            _ => bail!("the node in {} did not start; see {}", home.display(), home.join("node.log").display()),
        }
        std::thread::spawn(move || for _ in lines {});
        children.push(child);
    }
    println!("all nodes running; Ctrl-C stops them");
    runtime()?.block_on(wait_for_stop_signal())?;
    // Ctrl-C in a terminal reaches the nodes too; SIGTERM covers a signal sent to this
    // process alone. A node stopping already ignores the second one.
    for child in &children {
        let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    }
    let deadline = std::time::Instant::now() + STOP_WAIT;
    let mut failed = Vec::new();
    for (mut child, home) in children.into_iter().zip(testnet_homes(dir)) {
        let name = home.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
        };
        match status {
            Some(status) if status.success() => {}
            Some(status) => failed.push(format!("{name} ({status})")),
            None => failed.push(format!("{name} (did not stop within {} s; killed)", STOP_WAIT.as_secs())),
        }
    }
    if failed.is_empty() {
        println!("stopped cleanly");
        Ok(())
    } else {
        bail!("nodes did not stop cleanly: {}; see their node.log", failed.join(", "))
    }
}

/// The passphrase held in the environment variable `env`, if one is named.
pub fn passphrase(env: Option<&str>) -> Result<Option<String>> {
    env.map(|var| std::env::var(var).with_context(|| format!("environment variable {var} is not set"))).transpose()
}

/// The guard file of a signer home, or of a node home (as its config names it).
fn guard_file(home: &Path) -> Result<std::path::PathBuf> {
    let config_path = home.join("config.toml");
    if config_path.exists() {
        let config = Config::load(&config_path)?;
        return Ok(Config::resolve(home, &config.keys.signer_state));
    }
    Ok(home.join("keys/signer_state.json"))
}

/// `chancery signer resume`: writes the missing guard file of a key brought from
/// another host, so its signer signs from `height` on (a running signer picks it up).
pub fn signer_resume(home: &Path, height: u64) -> Result<()> {
    let path = guard_file(home)?;
    chancery_node::signer::DoubleSignGuard::resume(&path, height)?;
    println!("{}: this key signs from height {height} on", path.display());
    Ok(())
}

/// `chancery signer`: serves until Ctrl-C or SIGTERM.
pub fn signer(home: &Path, listen: &str, passphrase_env: Option<String>) -> Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let path = listen.strip_prefix("unix:").with_context(|| format!("--listen {listen:?} must be unix:PATH"))?;
    let passphrase = passphrase(passphrase_env.as_deref())?;
    let mut signer = chancery_node::signer::LocalSigner::open(
        &home.join("keys/consensus.key"),
        passphrase.as_deref(),
        &home.join("keys/signer_state.json"),
    )?;
    let hosted = chancery_node::signer::hosted::HostedKeys::open(&home.join("hosted"), passphrase.as_deref())?;
    let policy = chancery_node::signer::remote::HostedPolicy::load(home)?;
    let listener = chancery_node::signer::remote::bind_owner_only(Path::new(path))
        .with_context(|| format!("listening on {path}"))?;
    println!("signer for consensus key {} listening on unix:{path}", signer.public_key());
    chancery_node::logging::init("text", "info");
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let rt = runtime()?;
    rt.spawn(async move {
        let _ = wait_for_stop_signal().await;
        flag.store(true, Ordering::SeqCst);
    });
    chancery_node::signer::remote::serve(&mut signer, &hosted, &policy, listener, Path::new(path), &stop)
        .with_context(|| format!("serving on {path}"))?;
    eprintln!("signer stopped");
    Ok(())
}

/// `chancery start`.
pub fn start_node(home: &Path) -> Result<()> {
    let config = Config::load(&home.join("config.toml"))?;
    run_node(home, &config, Overrides::default(), |node| {
        println!("node {} serving RPC on ws://{}", config.moniker, node.rpc_addr);
    })
}

fn run_node(home: &Path, config: &Config, overrides: Overrides, banner: impl FnOnce(&RunningNode)) -> Result<()> {
    chancery_node::logging::init(&config.log.format, &config.log.level);
    let rt = runtime()?;
    rt.block_on(async {
        let node = start(home, config, &overrides).await?;
        banner(&node);
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let stop = wait_for_stop_signal();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                r = &mut stop => { r?; break; }
                _ = hangup.recv() => {
                    // Re-read the p2p block list; a broken config leaves the old one.
                    match Config::load(&home.join("config.toml")) {
                        Ok(fresh) => match node.reload_blocked(&fresh).await {
                            Ok(n) => tracing::info!(blocked = n, "p2p block list reloaded"),
                            Err(e) => tracing::error!(error = %e, "block list not reloaded"),
                        },
                        Err(e) => tracing::error!(error = %e, "config not reloaded"),
                    }
                }
            }
        }
        eprintln!("stopping...");
        if !node.stop().await {
            bail!("the node stopped, but its store was still in use and was not closed cleanly; see the log");
        }
        Ok(())
    })?;
    // Every task and blocking thread of the runtime ends before the process exits.
    rt.shutdown_timeout(std::time::Duration::from_secs(10));
    eprintln!("stopped cleanly");
    Ok(())
}

async fn wait_for_stop_signal() -> Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

pub async fn connect(rpc: &str) -> Result<Client> {
    Ok(chancery_rpc::connect(rpc, Duration::from_secs(120)).await?)
}

pub fn call<T>(result: Result<T, chancery_rpc::ClientError>) -> Result<T> {
    result.map_err(|e| match chancery_rpc::client::call_error(&e) {
        Some((code, message)) => anyhow::anyhow!("the node refused: {message} (code {code})"),
        None => anyhow::anyhow!("RPC failed: {e}"),
    })
}

/// Options of `chancery submit`.
pub struct SubmitArgs {
    /// Node RPC URL.
    pub rpc: String,
    /// Integrator key file.
    pub key: PathBuf,
    /// Evidence kind.
    pub kind: String,
    /// Digest algorithm.
    pub alg: String,
    /// Wait for commit.
    pub wait: bool,
    /// Where to write the manifest.
    pub manifest: Option<PathBuf>,
    /// Files and directories.
    pub files: Vec<PathBuf>,
}

/// How far a long run is: a bar on a terminal, a line per tenth otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    what: &'static str,
    total: u64,
    done: u64,
}

impl Progress {
    fn new(what: &'static str, total: usize) -> Self {
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bar = (terminal && total >= 20).then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_message(what);
            bar
        });
        Progress { bar, what, total: total as u64, done: 0 }
    }

    fn add(&mut self, n: u64) {
        let before = self.done;
        self.done += n;
        match &self.bar {
            Some(bar) => bar.inc(n),
            None if self.total >= 20 => {
                let step = (self.total / 10).max(1);
                if before / step != self.done / step || self.done == self.total {
                    eprintln!("{} {}/{}", self.what, self.done, self.total);
                }
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `chancery submit`.
pub fn submit(args: SubmitArgs) -> Result<()> {
    let files = crate::manifest::expand(&args.files)?;
    if let Some(path) = &args.manifest {
        // Refused before anything is submitted, not after.
        crate::manifest::check_name(path)?;
    }
    let kind: EvidenceKind = serde_json::from_value(serde_json::Value::String(args.kind.clone()))
        .with_context(|| format!("unknown evidence kind {:?}", args.kind))?;
    let alg = DigestAlg::from_name(&args.alg)
        .with_context(|| format!("unknown digest algorithm {:?}; use sha256, sha512, sm3 or blake3", args.alg))?;
    let key = KeyFile::load(&args.key, None).with_context(|| format!("loading the key {}", args.key.display()))?;
    let rt = runtime()?;
    rt.block_on(async {
        let client = connect(&args.rpc).await?;
        let info = call(client.info().await)?;
        let chain = info.identity()?;
        let mut subscription = if args.wait { Some(call(client.subscribe_committed().await)?) } else { None };
        let mut progress = Progress::new("submitted", files.len());
        let base = clock_nonce();
        let mut txs: Vec<(PathBuf, Tx)> = Vec::with_capacity(files.len());
        let mut digests: HashMap<Hash, String> = HashMap::new();
        for (i, path) in files.iter().enumerate() {
            let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let digest = Digest::compute(alg, &bytes);
            let tx = evidence_tx(&key, &chain, kind, digest.clone(), base + i as u64);
            digests.insert(tx.hash(), digest.to_text());
            txs.push((path.clone(), tx));
        }
        let batch = (info.submit_batch_max as usize).clamp(1, 1000);
        let mut waiting: HashMap<Hash, PathBuf> = HashMap::new();
        let mut order = Vec::new();
        for chunk in txs.chunks(batch) {
            let mut pending: Vec<&(PathBuf, Tx)> = chunk.iter().collect();
            let mut attempts = 0;
            while !pending.is_empty() {
                let hexes: Vec<String> = pending.iter().map(|(_, tx)| tx_hex(tx)).collect();
                let outcomes = call(client.submit_batch(hexes).await)?;
                let mut retry = Vec::new();
                for (item, outcome) in pending.iter().zip(outcomes) {
                    match outcome {
                        SubmitOutcome::Accepted { tx_hash } => {
                            progress.add(1);
                            order.push((item.0.clone(), tx_hash));
                            waiting.insert(tx_hash, item.0.clone());
                        }
                        SubmitOutcome::Refused { error } if error.code == ErrorCode::MempoolFull.code() => {
                            retry.push(*item)
                        }
                        SubmitOutcome::Refused { error } => {
                            progress.finish();
                            bail!("{}: the node refused: {} (code {})", item.0.display(), error.message, error.code);
                        }
                    }
                }
                if !retry.is_empty() {
                    attempts += 1;
                    if attempts > 600 {
                        bail!("the mempool stayed full for {attempts} tries; the node is overloaded");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                pending = retry;
            }
        }
        progress.finish();
        let manifest = |committed: &HashMap<Hash, (u64, u64)>| -> Result<()> {
            let Some(path) = &args.manifest else { return Ok(()) };
            let entries: Vec<crate::manifest::Entry> = order
                .iter()
                .map(|(file, hash)| crate::manifest::Entry {
                    file: file.display().to_string(),
                    digest: digests[hash].clone(),
                    tx_hash: *hash,
                    height: committed.get(hash).map(|c| c.0),
                    block_time_ms: committed.get(hash).map(|c| c.1),
                })
                .collect();
            crate::manifest::write(path, &entries)?;
            eprintln!("wrote the manifest of {} files to {}", entries.len(), path.display());
            Ok(())
        };
        let Some(subscription) = subscription.as_mut() else {
            for (path, hash) in &order {
                println!("{}  submitted  tx {hash}", path.display());
            }
            return manifest(&HashMap::new());
        };
        let mut waited = Progress::new("committed", waiting.len());
        let deadline = Instant::now() + Duration::from_secs(300);
        let mut committed: HashMap<Hash, (u64, u64)> = HashMap::new();
        // Txs committed before the subscription saw them: ask.
        for hash in waiting.keys() {
            if let TxStatus::Committed { height, block_time_ms, .. } = call(client.status(*hash).await)?.status {
                committed.insert(*hash, (height, block_time_ms));
                waited.add(1);
            }
        }
        while committed.len() < waiting.len() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let block: CommittedBlock = match tokio::time::timeout(remaining, subscription.next()).await {
                Ok(Some(Ok(block))) => block,
                Ok(Some(Err(e))) => bail!("reading committed blocks: {e}"),
                Ok(None) => bail!("the node closed the subscription"),
                Err(_) => bail!("{} txs not committed after 300 s", waiting.len() - committed.len()),
            };
            let before = committed.len();
            for hash in block.tx_hashes {
                if waiting.contains_key(&hash) {
                    committed.insert(hash, (block.height, block.time_ms));
                }
            }
            waited.add((committed.len() - before) as u64);
        }
        waited.finish();
        for (path, hash) in &order {
            let (height, time) = committed[hash];
            println!("{}  committed at height {height}, block time {}  tx {hash}", path.display(), utc(time));
        }
        manifest(&committed)
    })
}

/// `chancery status`.
pub fn status(rpc: &str, tx: &str) -> Result<()> {
    let hash = Hash::from_hex(tx).with_context(|| format!("{tx:?} is not a tx hash (64 hex digits)"))?;
    runtime()?.block_on(async {
        let client = connect(rpc).await?;
        let answer = call(client.status(hash).await)?;
        match answer.status {
            TxStatus::Committed { height, index, block_time_ms } => {
                println!("committed at height {height}, index {index}, block time {}", utc(block_time_ms))
            }
            TxStatus::Pending => println!("pending in the mempool"),
            TxStatus::Dropped { reason } => println!("dropped before reaching a block: {reason}"),
            TxStatus::Unknown => bail!("tx {hash} is unknown to this node"),
        }
        Ok(())
    })
}

/// What `chancery proof` looks up.
pub enum ProofTarget {
    /// A file, hashed with SHA-256.
    File(PathBuf),
    /// A digest `alg:hex`.
    Digest(String),
    /// A tx hash.
    Tx(String),
}

/// `chancery proof --manifest`: every file's proof, written under `out`.
pub fn proofs_of_manifest(rpc: &str, manifest: &Path, checkpoint: Option<u64>, out: &Path) -> Result<()> {
    let entries = crate::manifest::read(manifest)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    runtime()?.block_on(async {
        let client = connect(rpc).await?;
        let mut progress = Progress::new("proofs", entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let name = Path::new(&entry.file).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let name: String =
                name.chars().map(|c| if c.is_alphanumeric() || ".-_".contains(c) { c } else { '_' }).collect();
            let path = out.join(format!("{:05}-{name}.proof.json", i + 1));
            let bundle = call(client.proof(entry.tx_hash, checkpoint).await)
                .with_context(|| format!("the proof of {} (tx {})", entry.file, entry.tx_hash))?;
            std::fs::write(&path, bundle.to_json()).with_context(|| format!("writing {}", path.display()))?;
            progress.add(1);
        }
        progress.finish();
        println!("wrote {} proofs to {}", entries.len(), out.display());
        Ok(())
    })
}

/// The tx that first anchored `digest`.
async fn first_anchor(client: &Client, digest: &Digest) -> Result<Hash> {
    match call(client.by_digest(digest.to_text(), None).await)?.anchors.first() {
        Some(first) => Ok(first.tx_hash),
        None => bail!("no committed tx anchors {digest} on this chain"),
    }
}

/// `chancery proof`.
pub fn proof(rpc: &str, target: ProofTarget, checkpoint: Option<u64>, out: &Path) -> Result<()> {
    runtime()?.block_on(async {
        let client = connect(rpc).await?;
        let tx_hash = match &target {
            ProofTarget::Tx(text) => {
                Hash::from_hex(text).with_context(|| format!("{text:?} is not a tx hash (64 hex digits)"))?
            }
            ProofTarget::File(path) => {
                let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                first_anchor(&client, &Digest::compute(DigestAlg::Sha256, &bytes)).await?
            }
            ProofTarget::Digest(text) => {
                first_anchor(&client, &Digest::parse(text).map_err(anyhow::Error::msg)?).await?
            }
        };
        let bundle = call(client.proof(tx_hash, checkpoint).await)?;
        std::fs::write(out, bundle.to_json()).with_context(|| format!("writing {}", out.display()))?;
        println!("wrote the proof of tx {tx_hash} to {}", out.display());
        Ok(())
    })
}

/// `chancery checkpoint`: the node's header and commit at a height (default the latest),
/// the validator-set changes up to it, and with `since` a consistency proof from that
/// earlier checkpoint. It is checked when used (`verify --checkpoint`, `consistency`),
/// against the genesis the verifier holds.
pub fn checkpoint(rpc: &str, height: Option<u64>, since: Option<&Path>, out: &Path) -> Result<()> {
    use chancery_ledger::verify::{ConsistencyFrom, SavedCheckpoint};
    let since = match since {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let old = SavedCheckpoint::from_json(&text)?;
            Some(old.header.decode::<chancery_ledger::Header>().map_err(anyhow::Error::msg)?.height)
        }
        None => None,
    };
    runtime()?.block_on(async {
        let client = connect(rpc).await?;
        let info = call(client.info().await)?;
        let point = call(client.checkpoint(height).await)?;
        let mut saved =
            SavedCheckpoint::new(info.genesis_hash, &point.header, &point.commit, point.validator_changes.clone());
        if let Some(from_height) = since {
            if from_height > point.height {
                bail!("the earlier checkpoint (height {from_height}) is above this one (height {})", point.height);
            }
            if from_height > 0 && from_height < point.height {
                let proof = call(client.consistency_proof(from_height, point.height).await)?;
                saved.consistency =
                    Some(ConsistencyFrom { from_height, from_mth: proof.mth1, to_mth: proof.mth2, proof: proof.proof });
            }
        }
        std::fs::write(out, saved.to_json()).with_context(|| format!("writing {}", out.display()))?;
        println!(
            "wrote the checkpoint at height {} (block {}, {}) of chain {} to {}",
            point.height,
            point.header.hash(),
            crate::format::utc(point.header.time_ms),
            info.chain_id,
            out.display()
        );
        Ok(())
    })
}

/// `chancery init`: a node home for the chain of `genesis_path`, with a fresh consensus
/// key or a copy of `existing_key`.
pub fn init(
    home: &Path,
    genesis_path: &Path,
    passphrase_env: Option<String>,
    existing_key: Option<&Path>,
) -> Result<()> {
    use chancery_node::config::{Config, TEMPLATE};
    let genesis = chancery_genesis::Genesis::from_json(&crate::read_text(genesis_path, "genesis file")?)?;
    let config_path = home.join("config.toml");
    if config_path.exists() {
        anyhow::bail!("{} exists: this home is already initialised", config_path.display());
    }
    let passphrase = passphrase(passphrase_env.as_deref())?;
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

/// `chancery keys generate`: a new key file; prints its public key.
pub fn keys_generate(out: &Path, passphrase_env: Option<&str>) -> Result<()> {
    let passphrase = passphrase(passphrase_env)?;
    let key = KeyFile::generate(out, passphrase.as_deref())?;
    println!("{}", chancery_ledger::PublicKey(key.verifying_key().to_bytes()));
    Ok(())
}

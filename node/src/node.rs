//! Starting and stopping a node: open the store, the signer and the WAL, start the
//! consensus driver thread and the RPC server (JSON-RPC over HTTP and WebSocket, plus
//! `GET /health` and `GET /metrics`, on one port).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::rocks::RocksBackend;
use chancery_consensus::context::Address;
use chancery_genesis::Genesis;
use chancery_ledger::store::ChainStore;
use chancery_rpc::ChanceryApiServer;
use jsonrpsee::server::ServerHandle;

use crate::admission::Admission;
use crate::config::Config;
use crate::driver::{Driver, DriverMsg};
use crate::metrics::{HttpRoutesLayer, Metrics};
use crate::service::{RpcService, ServiceParts};
use crate::signer::LocalSigner;
use crate::status::NodeStatus;
use chancery_consensus::host::mempool::{Mempool, MempoolLimits};

/// Why the node cannot start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

fn fail<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> StartError + '_ {
    move |e| StartError(format!("{what}: {e}"))
}

/// Largest JSON-RPC response (a block of the largest size, in JSON, fits).
pub const RESPONSE_BYTES_MAX: u32 = 256 * 1024 * 1024;
pub use crate::rpc_server::CONNECTIONS_MAX;

/// A running node.
pub struct RunningNode {
    /// Where the RPC listens.
    pub rpc_addr: SocketAddr,
    /// The store, read only (for tests and the dev command).
    pub store: Arc<ChainStore<RocksBackend>>,
    /// Committed blocks and liveness (for tests and the dev command).
    pub status: Arc<NodeStatus>,
    server: ServerHandle,
    stopping: Arc<std::sync::atomic::AtomicBool>,
    net: Option<tokio::sync::mpsc::Sender<crate::p2p::NetCommand>>,
    net_task: Option<tokio::task::JoinHandle<()>>,
    /// Tells the RPC's waits (hosted signing) that the node stops.
    rpc_stopping: tokio::sync::watch::Sender<bool>,
    driver: Option<JoinHandle<()>>,
    stop: std::sync::mpsc::SyncSender<DriverMsg>,
}

/// Overrides for `chancery dev` and tests.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Listen here instead of the configured address.
    pub rpc_listen: Option<String>,
}

/// Starts the node of `home` (with its `config.toml`). Must run inside a tokio runtime.
pub async fn start(home: &Path, config: &Config, overrides: &Overrides) -> Result<RunningNode, StartError> {
    let resolve = |p: &PathBuf| Config::resolve(home, p);
    let genesis_path = resolve(&config.chain.genesis);
    let genesis_text = std::fs::read_to_string(&genesis_path).map_err(fail(&genesis_path.display().to_string()))?;
    let genesis = Genesis::from_json(&genesis_text).map_err(fail(&genesis_path.display().to_string()))?;
    let data_dir = resolve(&config.store.data_dir);
    std::fs::create_dir_all(&data_dir).map_err(fail(&data_dir.display().to_string()))?;
    let backend = RocksBackend::open(&data_dir.join("store")).map_err(fail("opening the store"))?;
    let store = ChainStore::open(backend, &genesis.chain_spec(), config.store.check_last_blocks)
        .map_err(fail("opening the store"))?;
    let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let passphrase =
        match config.keys.passphrase_env.as_str() {
            "" => None,
            var => Some(std::env::var(var).map_err(|_| {
                StartError(format!("the key passphrase variable {var} (keys.passphrase_env) is not set"))
            })?),
        };
    let (signer, address): (Box<dyn chancery_consensus::engine::Signer + Send>, Address) =
        match config.keys.remote_signer.strip_prefix("unix:") {
            Some(path) => {
                let remote = crate::signer::remote::RemoteSigner::connect(
                    Path::new(path),
                    stopping.clone(),
                    REMOTE_SIGNER_START_WAIT,
                )
                .map_err(|e| StartError(format!("keys.remote_signer: {e}")))?;
                let address = Address(remote.public_key());
                (Box::new(remote), address)
            }
            None => {
                let signer = LocalSigner::open(
                    &resolve(&config.keys.consensus_key),
                    passphrase.as_deref(),
                    &resolve(&config.keys.signer_state),
                )
                .map_err(fail("opening the signer"))?;
                let address = Address(signer.public_key());
                (Box::new(signer), address)
            }
        };
    let m = &config.mempool;
    let mempool = Mempool::new(
        MempoolLimits {
            txs_max: m.txs_max as usize,
            bytes_max: m.bytes_max as usize,
            per_submitter_txs_max: m.per_submitter_txs_max as usize,
            per_submitter_bytes_max: m.per_submitter_bytes_max as usize,
        },
        store.genesis_hash(),
    );
    let mempool = Arc::new(mempool);
    let metrics = Arc::new(Metrics::new());
    metrics.blocks.set(store.height() as i64);
    let networked = !config.p2p.listen.is_empty();
    let status = Arc::new(NodeStatus::new(config.moniker.clone(), address.0, networked));
    let reader = store.reader();
    let (tx, rx) = sync_channel(DRIVER_QUEUE);
    let (net, net_commands) = match networked {
        true => {
            let (sender, receiver) = crate::p2p::command_queue();
            (Some(sender), Some(receiver))
        }
        false => (None, None),
    };
    let admission = Arc::new(Admission::new(reader.clone(), mempool.clone(), metrics.clone(), tx.clone(), net.clone()));
    let (net_task, reporter) = match net_commands {
        None => (None, None),
        Some(commands) => {
            let key_path = Config::resolve(home, &config.p2p.p2p_key);
            let key = crate::signer::KeyFile::load(&key_path, None).map_err(fail("loading the p2p key"))?;
            let parts = crate::p2p::NetParts {
                store: reader.clone(),
                admission: admission.clone(),
                status: status.clone(),
                metrics: metrics.clone(),
                driver: tx.clone(),
            };
            let network = start_network(&key, config, parts, commands)?;
            (Some(network.task), Some(key))
        }
    };
    let owned = crate::driver::Owned {
        store,
        mempool,
        signer,
        address,
        wal_path: data_dir.join("consensus.wal"),
        genesis_time_ms: genesis.genesis_time_ms,
    };
    let driver = Driver::start(
        status.clone(),
        metrics.clone(),
        owned,
        rx,
        net.clone().zip(reporter).map(|(commands, reporter)| crate::driver::Peers { commands, reporter }),
    )
    .map_err(|e| StartError(format!("starting consensus: {e}")))?;
    let driver = std::thread::Builder::new()
        .name("consensus".into())
        .spawn(move || driver.run())
        .map_err(fail("starting the consensus thread"))?;

    let listen = overrides.rpc_listen.clone().unwrap_or_else(|| config.rpc.listen.clone());
    let hosted = crate::hosting::load(home, config, &listen, passphrase.as_deref())
        .map_err(|e| StartError(format!("hosted signing: {e}")))?;
    let server_config =
        crate::rpc_server::server_config(config.rpc.request_bytes_max, RESPONSE_BYTES_MAX, config.rpc.batch_len_max);
    let (health_store, health_status, health_admission) = (reader.clone(), status.clone(), admission.clone());
    let verify_page = Arc::new(chancery_court::page::served(genesis.chain_id.as_str(), &genesis.hash()));
    let routes = HttpRoutesLayer {
        metrics: metrics.clone(),
        verify_page,
        health: Arc::new(move || {
            let h = health_status.health(&health_store, health_admission.mempool());
            let status = if h.status == "ok" { 200 } else { 503 };
            (status, serde_json::to_string(&h).expect("the health answer serialises to JSON"))
        }),
    };
    let activity = Arc::new(crate::rpc_server::Activity::default());
    let (rpc_stopping, stopping_rx) = tokio::sync::watch::channel(false);
    let parts = ServiceParts {
        store: reader.clone(),
        admission,
        status: status.clone(),
        metrics: metrics.clone(),
        request_bytes_max: config.rpc.request_bytes_max,
        submit_batch_max: config.rpc.batch_len_max,
    };
    let service = RpcService::new(parts, &genesis, hosted, activity.clone(), stopping_rx);
    let limits = crate::rpc_server::Limits { idle_timeout: Duration::from_millis(config.rpc.idle_timeout_ms) };
    let module = service.into_rpc();
    crate::rpc_server::check_described(&module).map_err(fail("the RPC methods"))?;
    let (rpc_addr, handle) = crate::rpc_server::serve(
        listen.as_str(),
        server_config,
        routes,
        metrics.clone(),
        activity,
        module.into(),
        limits,
    )
    .await
    .map_err(fail(&format!("listening on {listen} (rpc.listen)")))?;
    tracing::info!(%rpc_addr, chain = %genesis.chain_id, blocks = reader.height(), "node started");
    Ok(RunningNode {
        rpc_addr,
        store: reader,
        status,
        server: handle,
        stopping,
        net,
        net_task,
        rpc_stopping,
        driver: Some(driver),
        stop: tx,
    })
}

fn blocked_peers(config: &Config) -> Result<Vec<libp2p::PeerId>, StartError> {
    config
        .p2p
        .blocked
        .iter()
        .map(|hex| {
            let key = chancery_ledger::PublicKey::from_hex(hex).map_err(fail("p2p.blocked"))?;
            crate::p2p::peer_id(&key).map_err(|e| StartError(format!("p2p.blocked: {e}")))
        })
        .collect()
}

/// Messages the consensus driver may have waiting (network messages beyond it are
/// dropped: consensus re-sends what matters).
pub const DRIVER_QUEUE: usize = 8192;
/// How long a starting node waits for its remote signer to answer.
pub const REMOTE_SIGNER_START_WAIT: Duration = Duration::from_secs(30);
/// How long a stopping node waits for the last readers of its store (a blocking read,
/// a subscriber's last message) before it reports the store not closed cleanly.
pub const STORE_RELEASE_WAIT: Duration = Duration::from_secs(10);
/// How often a stopping node looks again.
pub const STOP_POLL: Duration = Duration::from_millis(20);
const _: () = assert!(DRIVER_QUEUE >= crate::p2p::TXS_PER_MESSAGE_MAX);

fn start_network(
    key: &ed25519_dalek::SigningKey,
    config: &Config,
    parts: crate::p2p::NetParts,
    commands: tokio::sync::mpsc::Receiver<crate::p2p::NetCommand>,
) -> Result<crate::p2p::Network, StartError> {
    let mut observers = Vec::new();
    for observer in &config.p2p.observers {
        let key = chancery_ledger::PublicKey::from_hex(observer).map_err(fail("p2p.observers"))?;
        observers.push(crate::p2p::peer_id(&key).map_err(fail("p2p.observers"))?);
    }
    let mut peers = Vec::new();
    for text in &config.p2p.peers {
        let address: libp2p::Multiaddr = text.parse().map_err(fail(&format!("p2p.peers {text:?}")))?;
        let peer = match address.iter().last() {
            Some(libp2p::multiaddr::Protocol::P2p(peer)) => peer,
            _ => return Err(StartError(format!("p2p.peers {text:?} does not end in /p2p/<peer id>"))),
        };
        peers.push((peer, address));
    }
    let listen = config.p2p.listen.parse().map_err(fail("p2p.listen"))?;
    let blocked = blocked_peers(config)?;
    let network = crate::p2p::start(
        crate::p2p::NetConfig {
            secret: key.to_bytes(),
            listen,
            peers,
            observers,
            blocked,
            consensus_gossip: config.p2p.consensus_gossip,
            compact_proposals: config.p2p.compact_proposals,
        },
        parts,
        commands,
    )
    .map_err(|e| StartError(format!("starting the network: {e}")))?;
    tracing::info!(peer_id = %network.peer_id, "p2p identity");
    Ok(network)
}

impl RunningNode {
    /// Applies the `[p2p] blocked` list of `config` to the running network (SIGHUP).
    pub async fn reload_blocked(&self, config: &Config) -> Result<usize, StartError> {
        let blocked = blocked_peers(config)?;
        let count = blocked.len();
        if let Some(net) = &self.net {
            net.send(crate::p2p::NetCommand::SetBlocked(blocked))
                .await
                .map_err(|_| StartError("the network task has stopped".into()))?;
        }
        Ok(count)
    }

    /// Stops the RPC server, consensus (after its current step) and the network, waits
    /// for each, and closes the store: when it returns no thread of the node runs and
    /// nothing holds the store, so the process exits with nothing of RocksDB left
    /// running. Returns whether the store was closed here.
    pub async fn stop(mut self) -> bool {
        let _ = self.rpc_stopping.send(true);
        let _ = self.server.stop();
        self.server.clone().stopped().await;
        self.halt_driver();
        if let Some(net) = self.net.take() {
            let _ = net.send(crate::p2p::NetCommand::Shutdown).await;
        }
        if let Some(task) = self.net_task.take() {
            let _ = task.await;
        }
        // Blocking reads finishing, a subscriber's last message: a moment at most.
        let deadline = Instant::now() + STORE_RELEASE_WAIT;
        while Arc::strong_count(&self.store) > 1 && Instant::now() < deadline {
            tokio::time::sleep(STOP_POLL).await;
        }
        let holders = Arc::strong_count(&self.store) - 1;
        if holders > 0 {
            tracing::error!(holders, "the store is still referenced after stopping; it is not closed cleanly");
            return false;
        }
        tracing::info!("store closed");
        true
    }

    fn halt_driver(&mut self) {
        // A signer call retrying against an unreachable remote signer gives up now.
        self.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        // The driver may be waiting on a full channel slot: retry until it takes the message.
        while let Err(std::sync::mpsc::TrySendError::Full(_)) = self.stop.try_send(DriverMsg::Shutdown) {
            std::thread::sleep(STOP_POLL);
        }
        if let Some(driver) = self.driver.take() {
            let _ = driver.join();
        }
    }
}

impl Drop for RunningNode {
    fn drop(&mut self) {
        let _ = self.rpc_stopping.send(true);
        let _ = self.server.stop();
        self.halt_driver();
        if let Some(net) = &self.net {
            let _ = net.try_send(crate::p2p::NetCommand::Shutdown);
        }
    }
}

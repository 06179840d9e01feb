//! The validators' network: libp2p over TCP with Noise and Yamux. Permissioned: only
//! peers whose key is a validator's p2p key in the current set, or a configured
//! observer's, may connect; anyone else is refused when the connection is made.
//!
//! Consensus messages and txs go to every connected peer on direct request-response
//! streams (a full mesh of a few institutions: every message is one hop). Blocks with
//! their commits are fetched on the same protocol for sync. A peer that sends something
//! that does not decode is disconnected. Configured peers are redialled with
//! exponential backoff.
//!
//! With `compact_proposals`, a proposer sends its block's tx hashes instead of its txs
//! and answers its peers' requests for the ones they lack; the receiving side (complete
//! from the mempool, ask for the rest) is the consensus host's.

use std::collections::HashMap;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chancery_consensus::host::{OwnProposals, ProposalTxs};
pub use chancery_consensus::wire::TXS_PER_MESSAGE_MAX;
use chancery_consensus::wire::{pack_txs, Message, Reply, WireProposal, MESSAGE_BYTES_MAX, TXS_MESSAGE_BYTES_MAX};
use chancery_ledger::codec::BoundedVec;
use chancery_ledger::{decode, encode, Hash, PublicKey, Tx};
use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ListenError, NetworkBehaviour, SwarmEvent};
use libp2p::{
    allow_block_list, gossipsub, identity, noise, ping, tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm, Transport,
};
use tokio::sync::mpsc;

use crate::admission::{Admission, Source};
use crate::driver::DriverMsg;
use crate::metrics::Metrics;
use crate::rocks::RocksBackend;
use crate::status::NodeStatus;
use chancery_ledger::store::ChainStore;

/// Block reads (store read and encoding, off the network task) one peer may have
/// outstanding, and all peers together; beyond, a request is answered `Busy` at once.
pub const BLOCK_READS_PER_PEER_MAX: usize = 2;
const _: () = assert!(chancery_consensus::host::SYNC_REQUESTS_PER_PEER_MAX <= BLOCK_READS_PER_PEER_MAX);
/// See [`BLOCK_READS_PER_PEER_MAX`].
pub const BLOCK_READS_MAX: usize = 8;
/// Inbound requests per second one peer may send (a token bucket of this rate, with a
/// burst of [`PEER_REQUEST_BURST`]); beyond, requests are dropped unanswered and logged.
/// Four validators under full load exchange a few hundred messages a second.
pub const PEER_REQUESTS_PER_SECOND: u32 = 2_000;
/// See [`PEER_REQUESTS_PER_SECOND`].
pub const PEER_REQUEST_BURST: u32 = 4_000;
/// How long a request to a peer may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Streams open at once per connection.
pub const STREAMS_PER_CONNECTION_MAX: usize = 1024;
/// Commands queued for the network task.
pub const COMMAND_QUEUE: usize = 4096;
/// The protocol name.
/// (Version 2: round certificates are on the wire; a version-1 node would drop a peer
/// that sends one as undecodable, so the two do not talk.)
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/chancery/2");
/// How often a node tells its peers how many blocks it has.
pub const STATUS_INTERVAL: Duration = Duration::from_millis(500);

/// The least retransmission timeout of peer connections (Linux' default is 200 ms).
///
/// Everything to a peer goes over one TCP connection, and consensus messages are small
/// and sparse: when the only segment in flight is lost, Linux resends it after twice the
/// round trip plus this floor, and if that is lost too, after timeouts that start at the
/// round trip plus this floor and double; everything sent behind it waits. With 5% of
/// packets lost on every node, the 200 ms default made blocks take about half a second
/// and put the p99 submit-to-commit over 2 s (docs/BENCHMARKS.md, "Under packet loss");
/// 20 ms brought it to a few hundred milliseconds. The timeout still adds the measured
/// round trip and its variation, so a slow link is not resent early; an early resend
/// costs one segment.
pub const TCP_RTO_MIN: Duration = Duration::from_millis(20);

/// `TCP_RTO_MIN_US` of `linux/tcp.h` (Linux 6.15 and later).
#[cfg(target_os = "linux")]
const TCP_RTO_MIN_US: nix::libc::c_int = 45;

#[cfg(target_os = "linux")]
mod sockopt {
    // The macro names `libc` and its helper macros unqualified.
    use nix::{getsockopt_impl, libc, setsockopt_impl, sockopt_impl};
    sockopt_impl!(
        /// The least retransmission timeout of one TCP socket, in microseconds.
        RtoMinUs,
        Both,
        libc::IPPROTO_TCP,
        super::TCP_RTO_MIN_US,
        u32
    );
}

/// Sets [`TCP_RTO_MIN`] on a peer connection's socket.
#[cfg(target_os = "linux")]
fn set_rto_min(socket: &tokio::net::TcpStream) -> nix::Result<()> {
    nix::sys::socket::setsockopt(socket, sockopt::RtoMinUs, &(TCP_RTO_MIN.as_micros() as u32))
}

/// [`set_rto_min`] on each new peer connection. Kernels before 6.15 refuse the option:
/// the system's floor then applies (`net.ipv4.tcp_rto_min_us`, or a route's `rto_min`,
/// docs/OPERATIONS.md), which the log says once.
fn quick_retransmission(socket: &tokio::net::TcpStream) {
    #[cfg(target_os = "linux")]
    if let Err(e) = set_rto_min(socket) {
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            tracing::warn!(error = %e, "the kernel refused a 20 ms retransmission floor for peer connections (Linux 6.15 and later have it); the system's applies");
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = socket;
}

/// What the consensus host hears from the network.
pub type NetEvent = chancery_consensus::host::Event<PeerId>;

/// What the driver (or the RPC) asks the network to do.
#[derive(Debug)]
pub enum NetCommand {
    /// Send to every connected peer.
    Broadcast(Arc<Message>),
    /// Txs this node admitted, to every connected peer, in as many numbered messages as
    /// their count and bytes need, in the order given.
    GossipTxs(Vec<Tx>),
    /// Ask one peer for a block.
    GetBlock {
        /// The peer.
        peer: PeerId,
        /// The height.
        height: u64,
    },
    /// Ask a proposer for txs of its compact proposal.
    GetProposalTxs {
        /// The proposer.
        peer: PeerId,
        /// The height.
        height: u64,
        /// The round.
        round: u32,
        /// The proposed block.
        block_hash: Hash,
        /// The txs wanted.
        hashes: Vec<Hash>,
    },
    /// Refuse exactly these peers from now on (the operator's block list).
    SetBlocked(Vec<PeerId>),
    /// Close every connection and end the network task (the node is stopping).
    Shutdown,
    /// Drop a peer that misbehaved.
    Penalise {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: String,
    },
}

/// A token bucket: `rate` tokens a second, at most `burst` held.
struct RateLimit {
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    fn new(now: Instant) -> Self {
        RateLimit { tokens: f64::from(PEER_REQUEST_BURST), at: now }
    }

    /// Takes a token if there is one.
    fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + elapsed * f64::from(PEER_REQUESTS_PER_SECOND)).min(f64::from(PEER_REQUEST_BURST));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The libp2p peer id of an Ed25519 p2p public key.
pub fn peer_id(key: &PublicKey) -> Result<PeerId, NetError> {
    let public = identity::ed25519::PublicKey::try_from_bytes(&key.0).map_err(net_error("p2p key"))?;
    Ok(identity::PublicKey::from(public).to_peer_id())
}

/// The network cannot start, or a key is no p2p key.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {reason}")]
pub struct NetError {
    /// What failed.
    pub what: String,
    /// Why.
    pub reason: String,
}

fn net_error<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> NetError + '_ {
    move |e| NetError { what: what.to_string(), reason: e.to_string() }
}

/// Length-prefixed frames, at most [`MESSAGE_BYTES_MAX`].
#[derive(Clone, Default)]
pub struct FrameCodec;

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MESSAGE_BYTES_MAX {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "frame above the message limit"));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, data: &[u8]) -> std::io::Result<()> {
    if data.len() > MESSAGE_BYTES_MAX {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "frame above the message limit"));
    }
    io.write_all(&(data.len() as u32).to_be_bytes()).await?;
    io.write_all(data).await?;
    io.flush().await
}

impl request_response::Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> std::io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> std::io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, request: Vec<u8>) -> std::io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &request).await
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, response: Vec<u8>) -> std::io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &response).await
    }
}

/// The node's network behaviour. The allow list comes first: a refused connection must
/// not reach the other behaviours.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    allow: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    streams: request_response::Behaviour<FrameCodec>,
    gossip: gossipsub::Behaviour,
    ping: ping::Behaviour,
}

/// Network settings.
pub struct NetConfig {
    /// The node's p2p secret key (32-byte Ed25519 seed).
    pub secret: [u8; 32],
    /// Listen address.
    pub listen: Multiaddr,
    /// Peers to dial.
    pub peers: Vec<(PeerId, Multiaddr)>,
    /// Configured observers: allowed to connect whatever the validator set (the
    /// validators themselves are read from the store, and followed as the set changes).
    pub observers: Vec<PeerId>,
    /// Peers refused even if allowed.
    pub blocked: Vec<PeerId>,
    /// Consensus messages over gossipsub instead of direct streams.
    pub consensus_gossip: bool,
    /// Proposals sent in compact form (with direct streams; ignored with gossipsub).
    pub compact_proposals: bool,
}

/// The gossip topic of consensus messages.
const CONSENSUS_TOPIC: &str = "/chancery/consensus/1";

/// A running network task.
pub struct Network {
    /// Our peer id.
    pub peer_id: PeerId,
    /// The task; it ends after [`NetCommand::Shutdown`], once its admission thread has.
    pub task: tokio::task::JoinHandle<()>,
}

/// Who may connect: the current validators' nodes and the configured observers, minus
/// the operator's blocked peers. The validators follow the chain's set: read again
/// whenever the store's validator epoch moves.
struct Access {
    validators: std::collections::HashSet<PeerId>,
    observers: std::collections::HashSet<PeerId>,
    blocked: std::collections::HashSet<PeerId>,
    /// The validator epoch `validators` was read at.
    epoch: u64,
}

impl Access {
    fn allows(&self, peer: &PeerId) -> bool {
        (self.validators.contains(peer) || self.observers.contains(peer)) && !self.blocked.contains(peer)
    }
}

/// The peer ids of a validator set's nodes (keys that are no Ed25519 point are skipped:
/// the set's validation refuses them).
fn validator_peers(set: &chancery_ledger::ValidatorSet) -> std::collections::HashSet<PeerId> {
    set.validators.iter().filter_map(|v| peer_id(&v.p2p_key).ok()).collect()
}

/// Follows a validator-set change: the nodes of removed validators are refused and their
/// connections closed; added validators' nodes are allowed (and dialled if configured).
fn follow_validators(
    swarm: &mut Swarm<Behaviour>,
    access: &mut Access,
    redial: &mut HashMap<PeerId, Redial>,
    store: &ChainStore<RocksBackend>,
) {
    let epoch = match store.current_epoch() {
        Ok(epoch) if epoch != access.epoch => epoch,
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(error = %e, "reading the validator epoch");
            return;
        }
    };
    let validators = match store.current_validators() {
        Ok(set) => validator_peers(&set),
        Err(e) => {
            tracing::warn!(error = %e, "reading the validator set");
            return;
        }
    };
    let previous = std::mem::replace(&mut access.validators, validators);
    access.epoch = epoch;
    for peer in previous.difference(&access.validators) {
        if !access.allows(peer) {
            tracing::warn!(%peer, epoch, "no longer a validator's node: its connections are closed and refused");
            swarm.behaviour_mut().allow.disallow_peer(*peer);
        }
    }
    for peer in access.validators.difference(&previous) {
        if access.allows(peer) {
            tracing::info!(%peer, epoch, "a new validator's node is allowed");
            swarm.behaviour_mut().allow.allow_peer(*peer);
            if let Some(r) = redial.get_mut(peer) {
                r.next = Instant::now();
                r.backoff = BACKOFF_MIN;
            }
        }
    }
}

struct Redial {
    address: Multiaddr,
    next: Instant,
    backoff: Duration,
}

/// A configured peer that is not connected is dialled again after this, doubling up to
/// [`BACKOFF_MAX`].
pub const BACKOFF_MIN: Duration = Duration::from_millis(250);
/// See [`BACKOFF_MIN`].
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// The gossipsub heartbeat (with `consensus_gossip`).
pub const GOSSIP_HEARTBEAT: Duration = Duration::from_millis(500);
/// How often a connection is pinged (a dead one is closed).
pub const PING_INTERVAL: Duration = Duration::from_secs(5);
/// How long a connection with nothing to do stays open (peers send statuses every
/// [`STATUS_INTERVAL`], so only a dead one idles this long).
pub const CONNECTION_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);
const _: () = assert!(BACKOFF_MIN.as_millis() < BACKOFF_MAX.as_millis());
const _: () = assert!(STATUS_INTERVAL.as_millis() < CONNECTION_IDLE_TIMEOUT.as_millis());
const _: () = assert!(PING_INTERVAL.as_millis() < REQUEST_TIMEOUT.as_millis());

/// What the network works with besides its configuration.
pub struct NetParts {
    /// The store, read only (the validator set, blocks peers ask for).
    pub store: Arc<ChainStore<RocksBackend>>,
    /// Where peers' txs are admitted.
    pub admission: Arc<Admission>,
    /// Where connected peers are counted.
    pub status: Arc<NodeStatus>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The consensus driver's queue.
    pub driver: SyncSender<DriverMsg>,
}

/// The network task's command queue: made before the network, so that what submits txs
/// (which gossips them) exists before the network that admits peers' txs through it.
pub fn command_queue() -> (mpsc::Sender<NetCommand>, mpsc::Receiver<NetCommand>) {
    mpsc::channel(COMMAND_QUEUE)
}

/// Starts the network on the current tokio runtime, taking `commands` from the queue
/// [`command_queue`] made.
pub fn start(config: NetConfig, parts: NetParts, commands: mpsc::Receiver<NetCommand>) -> Result<Network, NetError> {
    let NetParts { store, admission, status, metrics, driver } = parts;
    let keypair = identity::Keypair::ed25519_from_bytes(config.secret).map_err(net_error("p2p key"))?;
    let peer_id = keypair.public().to_peer_id();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_other_transport(|key| -> Result<_, Box<dyn std::error::Error + Send + Sync>> {
            Ok(tcp::tokio::Transport::new(tcp::Config::default().nodelay(true))
                .map(|stream, _| {
                    quick_retransmission(&stream.0);
                    stream
                })
                .upgrade(libp2p::core::upgrade::Version::V1Lazy)
                .authenticate(noise::Config::new(key)?)
                .multiplex(yamux::Config::default()))
        })
        .map_err(net_error("p2p transport"))?
        .with_behaviour(|key| -> Result<Behaviour, Box<dyn std::error::Error + Send + Sync>> {
            let config = gossipsub::ConfigBuilder::default()
                .heartbeat_interval(GOSSIP_HEARTBEAT)
                .validation_mode(gossipsub::ValidationMode::Strict)
                .max_transmit_size(MESSAGE_BYTES_MAX)
                .message_id_fn(|m: &gossipsub::Message| {
                    gossipsub::MessageId::from(blake3::hash(&m.data).as_bytes().to_vec())
                })
                .build()?;
            Ok(Behaviour {
                allow: allow_block_list::Behaviour::default(),
                streams: request_response::Behaviour::new(
                    [(PROTOCOL, ProtocolSupport::Full)],
                    request_response::Config::default()
                        .with_request_timeout(REQUEST_TIMEOUT)
                        .with_max_concurrent_streams(STREAMS_PER_CONNECTION_MAX),
                ),
                gossip: gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key.clone()), config)?,
                ping: ping::Behaviour::new(ping::Config::new().with_interval(PING_INTERVAL)),
            })
        })
        .map_err(net_error("p2p behaviour"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(CONNECTION_IDLE_TIMEOUT))
        .build();
    let set = store.current_validators().map_err(net_error("reading the validator set"))?;
    let epoch = store.current_epoch().map_err(net_error("reading the validator epoch"))?;
    let access = Access {
        validators: validator_peers(&set),
        observers: config.observers.iter().copied().collect(),
        blocked: config.blocked.iter().copied().collect(),
        epoch,
    };
    for peer in access.validators.iter().chain(&access.observers).filter(|p| access.allows(p)) {
        swarm.behaviour_mut().allow.allow_peer(*peer);
    }
    swarm
        .listen_on(config.listen.clone())
        .map_err(|e| NetError { what: format!("p2p listen on {}", config.listen), reason: e.to_string() })?;
    let topic = gossipsub::IdentTopic::new(CONSENSUS_TOPIC);
    swarm.behaviour_mut().gossip.subscribe(&topic).map_err(net_error("gossip subscribe"))?;
    let redial = config
        .peers
        .iter()
        .filter(|(p, _)| *p != peer_id)
        .map(|(p, a)| (*p, Redial { address: a.clone(), next: Instant::now(), backoff: BACKOFF_MIN }))
        .collect();
    let gossip = config.consensus_gossip.then_some(topic);
    let (replies, reply_rx) = mpsc::unbounded_channel();
    let (admission_queue, admission_thread) = start_admission(admission.clone())?;
    let task = Task {
        requests: HashMap::new(),
        block_reads: HashMap::new(),
        replies,
        limits: HashMap::new(),
        txs_sent: 0,
        inbound: HashMap::new(),
        admission_queue: Some(admission_queue),
        admission_thread: Some(admission_thread),
        own_proposals: OwnProposals::default(),
        compact: config.compact_proposals && gossip.is_none(),
        store,
        admission,
        status,
        metrics,
        driver,
    };
    let task = tokio::spawn(run(swarm, commands, reply_rx, redial, access, gossip, task));
    Ok(Network { peer_id, task })
}

/// What an outbound request was for.
enum Outbound {
    Block(u64),
    ProposalTxs { height: u64, round: u32, block_hash: Hash },
}

/// A reply made off the network task (a block read), to send on it.
struct ReadyReply {
    peer: PeerId,
    channel: request_response::ResponseChannel<Vec<u8>>,
    bytes: Vec<u8>,
}

/// The network task's state besides the swarm.
struct Task {
    requests: HashMap<request_response::OutboundRequestId, Outbound>,
    /// Block reads under way, per peer.
    block_reads: HashMap<PeerId, usize>,
    /// Where block reads send their replies.
    replies: mpsc::UnboundedSender<ReadyReply>,
    /// Each peer's request budget.
    limits: HashMap<PeerId, RateLimit>,
    /// Tx messages this node has sent (the last sequence number).
    txs_sent: u64,
    /// Each peer's tx messages, put back in order.
    inbound: HashMap<PeerId, Inbound>,
    /// The ordered admission of peers' txs (taken when the task ends, so that the
    /// admission thread ends too).
    admission_queue: Option<SyncSender<Vec<Tx>>>,
    admission_thread: Option<std::thread::JoinHandle<()>>,
    /// Proposals this node sent compact, to answer requests for their txs.
    own_proposals: OwnProposals,
    compact: bool,
    store: Arc<ChainStore<RocksBackend>>,
    admission: Arc<Admission>,
    status: Arc<NodeStatus>,
    metrics: Arc<Metrics>,
    driver: SyncSender<DriverMsg>,
}

async fn run(
    mut swarm: Swarm<Behaviour>,
    mut commands: mpsc::Receiver<NetCommand>,
    mut replies: mpsc::UnboundedReceiver<ReadyReply>,
    mut redial: HashMap<PeerId, Redial>,
    mut access: Access,
    gossip: Option<gossipsub::IdentTopic>,
    mut task: Task,
) {
    let mut tick = tokio::time::interval(STATUS_INTERVAL);
    let (store, metrics) = (task.store.clone(), task.metrics.clone());
    loop {
        tokio::select! {
            event = swarm.select_next_some() => {
                handle_event(&mut swarm, event, &mut task, &mut redial);
            }
            Some(ready) = replies.recv() => {
                if let Some(count) = task.block_reads.get_mut(&ready.peer) {
                    *count = count.saturating_sub(1);
                    if *count == 0 {
                        task.block_reads.remove(&ready.peer);
                    }
                }
                if swarm.behaviour_mut().streams.send_response(ready.channel, ready.bytes).is_err() {
                    tracing::debug!(peer = %ready.peer, "a block reply could not be sent (the peer went away)");
                }
            }
            command = commands.recv() => {
                let Some(command) = command else { break };
                match command {
                    NetCommand::Shutdown => break,
                    NetCommand::Broadcast(message) => {
                        let consensus = matches!(*message, Message::Vote(_) | Message::Proposal(_) | Message::Polka(_));
                        if let (Some(topic), true) = (&gossip, consensus) {
                            // No subscribed peer yet is not an error: consensus re-sends.
                            let _ = swarm.behaviour_mut().gossip.publish(topic.clone(), encode(&*message));
                            continue;
                        }
                        let bytes = match &*message {
                            Message::Proposal(proposal) if task.compact => task.compact_proposal(proposal),
                            _ => encode(&*message),
                        };
                        let peers: Vec<PeerId> = swarm.connected_peers().copied().collect();
                        if matches!(*message, Message::Proposal(_)) {
                            metrics.proposal_bytes_sent.inc_by((bytes.len() * peers.len()) as u64);
                        }
                        for peer in peers {
                            swarm.behaviour_mut().streams.send_request(&peer, bytes.clone());
                        }
                    }
                    NetCommand::GossipTxs(txs) => {
                        let peers: Vec<PeerId> = swarm.connected_peers().copied().collect();
                        for txs in pack_txs(txs) {
                            task.txs_sent += 1;
                            let bytes = encode(&Message::Txs { seq: task.txs_sent, txs });
                            for peer in &peers {
                                swarm.behaviour_mut().streams.send_request(peer, bytes.clone());
                            }
                        }
                    }
                    NetCommand::GetProposalTxs { peer, height, round, block_hash, hashes } => {
                        // A subset of a proposal's hashes: within the same bound.
                        let hashes = BoundedVec::new(hashes).expect("no more hashes than a block has txs");
                        let request = Message::GetProposalTxs { height, round, block_hash, hashes };
                        let id = swarm.behaviour_mut().streams.send_request(&peer, encode(&request));
                        task.requests.insert(id, Outbound::ProposalTxs { height, round, block_hash });
                    }
                    NetCommand::GetBlock { peer, height } => {
                        let id = swarm.behaviour_mut().streams.send_request(&peer, encode(&Message::GetBlock { height }));
                        task.requests.insert(id, Outbound::Block(height));
                    }
                    NetCommand::SetBlocked(peers) => {
                        let blocked: std::collections::HashSet<PeerId> = peers.into_iter().collect();
                        for peer in blocked.difference(&access.blocked) {
                            tracing::warn!(%peer, "peer blocked by the operator");
                            swarm.behaviour_mut().allow.disallow_peer(*peer);
                        }
                        for peer in access.blocked.difference(&blocked) {
                            if access.validators.contains(peer) || access.observers.contains(peer) {
                                tracing::info!(%peer, "peer unblocked");
                                swarm.behaviour_mut().allow.allow_peer(*peer);
                                if let Some(r) = redial.get_mut(peer) {
                                    r.next = Instant::now();
                                    r.backoff = BACKOFF_MIN;
                                }
                            }
                        }
                        access.blocked = blocked;
                    }
                    NetCommand::Penalise { peer, reason } => {
                        tracing::warn!(%peer, %reason, "dropping peer");
                        let _ = swarm.disconnect_peer_id(peer);
                    }
                }
            }
            _ = tick.tick() => {
                task.release_stalled();
                follow_validators(&mut swarm, &mut access, &mut redial, &store);
                let now = Instant::now();
                for (peer, r) in redial.iter_mut() {
                    if !swarm.is_connected(peer) && now >= r.next && access.allows(peer) {
                        let opts = DialOpts::peer_id(*peer)
                            .addresses(vec![r.address.clone()])
                            .condition(PeerCondition::DisconnectedAndNotDialing)
                            .build();
                        let _ = swarm.dial(opts);
                        r.next = now + r.backoff;
                        r.backoff = (r.backoff * 2).min(BACKOFF_MAX);
                    }
                }
                let status = encode(&Message::Status { blocks: store.height() });
                let peers: Vec<PeerId> = swarm.connected_peers().copied().collect();
                for peer in peers {
                    swarm.behaviour_mut().streams.send_request(&peer, status.clone());
                }
            }
        }
    }
    // Stopping: connections close with the swarm; the admission thread ends once its
    // queue is closed and drained, and holds the store no longer.
    drop(swarm);
    task.admission_queue = None;
    if let Some(thread) = task.admission_thread.take() {
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    tracing::info!("network stopped");
}

/// Txs peers admitted are admitted here too, one message after another in the order
/// [`Inbound`] releases them; refusals are only logged: the submitter heard from its own
/// node.
fn start_admission(admission: Arc<Admission>) -> Result<(SyncSender<Vec<Tx>>, std::thread::JoinHandle<()>), NetError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Tx>>(ADMISSION_QUEUE);
    let thread = std::thread::Builder::new()
        .name("gossip-admission".into())
        .spawn(move || {
            for txs in rx {
                let refused = admission.admit(txs, Source::Peer).iter().filter(|r| r.is_err()).count();
                if refused > 0 {
                    tracing::debug!(refused, "gossiped txs refused");
                }
            }
        })
        .map_err(net_error("starting the gossip admission thread"))?;
    Ok((tx, thread))
}

/// Gossiped tx messages waiting for admission.
pub const ADMISSION_QUEUE: usize = 256;
/// Most out-of-order tx messages held per peer, and how long a gap may stay open, before
/// the missing ones are given up (a message lost with a connection).
pub const INBOUND_WAITING_MAX: usize = 16;
/// See [`INBOUND_WAITING_MAX`].
pub const INBOUND_GAP_WAIT: Duration = Duration::from_secs(1);

/// One peer's tx messages, released in its sequence order.
#[derive(Default)]
struct Inbound {
    next: Option<u64>,
    waiting: std::collections::BTreeMap<u64, Vec<Tx>>,
    gap_since: Option<Instant>,
}

impl Inbound {
    /// Takes message `seq`; returns the messages now in order.
    fn receive(&mut self, seq: u64, txs: Vec<Tx>, now: Instant) -> Vec<Vec<Tx>> {
        let mut out = Vec::new();
        match self.next {
            // A sender that restarted numbers from the start again: flush and follow it.
            Some(next) if seq < next => {
                out.extend(std::mem::take(&mut self.waiting).into_values());
                self.next = Some(seq);
            }
            None => self.next = Some(seq),
            Some(_) => {}
        }
        self.waiting.insert(seq, txs);
        out.extend(self.release(now));
        out
    }

    /// The messages in order from `next`; past a gap that stayed open too long (or with
    /// too many waiting), from the first one held.
    fn release(&mut self, now: Instant) -> Vec<Vec<Tx>> {
        let mut out = Vec::new();
        loop {
            let Some(next) = self.next else { return out };
            if let Some(txs) = self.waiting.remove(&next) {
                out.push(txs);
                self.next = Some(next + 1);
                self.gap_since = None;
                continue;
            }
            let Some(&first) = self.waiting.keys().next() else { return out };
            let since = *self.gap_since.get_or_insert(now);
            if self.waiting.len() > INBOUND_WAITING_MAX || now.duration_since(since) >= INBOUND_GAP_WAIT {
                self.next = Some(first);
                self.gap_since = None;
                continue;
            }
            return out;
        }
    }
}

fn forward(driver: &SyncSender<DriverMsg>, event: NetEvent) {
    // A full queue means the driver is far behind: drop, consensus re-sends what matters.
    if driver.try_send(DriverMsg::Net(event)).is_err() {
        tracing::debug!("driver queue full, network message dropped");
    }
}

impl Task {
    /// A newly connected peer gets this node's oldest pending txs (one message, in block
    /// order), numbered as the last gossip message: it never saw them gossiped, and a
    /// proposer missing a signer's earlier txs while holding its later ones would commit
    /// the later nonces and leave the earlier txs stale (seen when a new validator joined
    /// a chain under load).
    fn send_pending(&self, swarm: &mut Swarm<Behaviour>, peer: PeerId) {
        let mut budget = TXS_MESSAGE_BYTES_MAX;
        let txs: Vec<Tx> = self
            .admission
            .mempool()
            .candidates(TXS_PER_MESSAGE_MAX)
            .into_iter()
            .take_while(|c| match budget.checked_sub(c.bytes) {
                Some(left) => {
                    budget = left;
                    true
                }
                None => false,
            })
            .map(|c| c.tx)
            .collect();
        if txs.is_empty() {
            return;
        }
        let count = txs.len();
        match BoundedVec::new(txs) {
            Ok(txs) => {
                let bytes = encode(&Message::Txs { seq: self.txs_sent, txs });
                swarm.behaviour_mut().streams.send_request(&peer, bytes);
                tracing::debug!(%peer, count, "pending txs sent to a new peer");
            }
            Err(e) => tracing::warn!(%peer, error = %e, "pending txs not sent"),
        }
    }

    /// Reads and encodes block `height` with its commit for `peer` off the network task
    /// (a block is up to `BLOCK_BYTES_MAX`); the reply is sent when ready. Beyond the
    /// read limits the answer is `NoBlock` at once (the peer asks another).
    fn read_block(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: PeerId,
        height: u64,
        channel: request_response::ResponseChannel<Vec<u8>>,
    ) {
        let mine = self.block_reads.get(&peer).copied().unwrap_or(0);
        let all: usize = self.block_reads.values().sum();
        if mine >= BLOCK_READS_PER_PEER_MAX || all >= BLOCK_READS_MAX {
            tracing::debug!(%peer, height, "too many block reads under way: answered Busy");
            let _ = swarm.behaviour_mut().streams.send_response(channel, encode(&Reply::Busy));
            return;
        }
        *self.block_reads.entry(peer).or_default() += 1;
        let (store, replies) = (self.store.clone(), self.replies.clone());
        tokio::task::spawn_blocking(move || {
            let reply = match (store.block(height), store.commit(height)) {
                (Ok(block), Ok(commit)) => Reply::Block { block, commit },
                _ => Reply::NoBlock,
            };
            let _ = replies.send(ReadyReply { peer, channel, bytes: encode(&reply) });
        });
    }

    /// The compact form of our own proposal, kept to answer requests for its txs.
    fn compact_proposal(&mut self, proposal: &WireProposal) -> Vec<u8> {
        encode(&Message::CompactProposal(self.own_proposals.compact(proposal)))
    }

    /// Tx message `seq` of `from`: admitted once the messages before it are.
    fn on_txs(&mut self, from: PeerId, seq: u64, txs: Vec<Tx>) {
        let ready = self.inbound.entry(from).or_default().receive(seq, txs, Instant::now());
        self.admit_in_order(ready);
    }

    /// Gaps that stayed open too long are given up (on the status tick).
    fn release_stalled(&mut self) {
        let now = Instant::now();
        let ready: Vec<Vec<Tx>> = self.inbound.values_mut().flat_map(|i| i.release(now)).collect();
        self.admit_in_order(ready);
    }

    fn admit_in_order(&mut self, ready: Vec<Vec<Tx>>) {
        let Some(admission) = &self.admission_queue else { return };
        for txs in ready {
            if admission.try_send(txs).is_err() {
                tracing::warn!("gossip admission queue full: a peer's txs were not admitted here");
            }
        }
    }
}

fn handle_event(
    swarm: &mut Swarm<Behaviour>,
    event: SwarmEvent<BehaviourEvent>,
    task: &mut Task,
    redial: &mut HashMap<PeerId, Redial>,
) {
    let (status, metrics, driver) = (task.status.clone(), task.metrics.clone(), task.driver.clone());
    let driver = &driver;
    match event {
        SwarmEvent::Behaviour(BehaviourEvent::Streams(request_response::Event::Message { peer, message, .. })) => {
            match message {
                request_response::Message::Request { .. }
                    if !task
                        .limits
                        .entry(peer)
                        .or_insert_with(|| RateLimit::new(Instant::now()))
                        .allow(Instant::now()) =>
                {
                    // Dropped unanswered: the peer's request times out on its side.
                    metrics.peer_requests_limited.inc();
                    tracing::debug!(%peer, "peer over its request rate: request dropped");
                }
                request_response::Message::Request { request, channel, .. } => match decode::<Message>(&request) {
                    Ok(Message::GetBlock { height }) => task.read_block(swarm, peer, height, channel),
                    Ok(Message::Txs { seq, txs }) => {
                        let _ = swarm.behaviour_mut().streams.send_response(channel, encode(&Reply::Ack));
                        task.on_txs(peer, seq, txs.into_vec());
                    }
                    Ok(Message::GetProposalTxs { height, round, block_hash, hashes }) => {
                        let reply = task.own_proposals.answer(height, round, &block_hash, &hashes);
                        let _ = swarm.behaviour_mut().streams.send_response(channel, encode(&reply));
                    }
                    Ok(message) => {
                        let _ = swarm.behaviour_mut().streams.send_response(channel, encode(&Reply::Ack));
                        forward(driver, NetEvent::Message { from: peer, message });
                    }
                    Err(e) => {
                        tracing::warn!(%peer, error = %e, "undecodable message: dropping the peer");
                        let _ = swarm.disconnect_peer_id(peer);
                    }
                },
                request_response::Message::Response { request_id, response } => {
                    let problem = match (task.requests.remove(&request_id), decode::<Reply>(&response)) {
                        (None, _) => None,
                        (Some(Outbound::Block(height)), Ok(Reply::Block { block, commit }))
                            if block.header.height == height =>
                        {
                            // Its txs' signatures are checked in batch here, off the
                            // consensus thread, which meanwhile executes the block before.
                            let (admission, driver) = (task.admission.clone(), driver.clone());
                            tokio::task::spawn_blocking(move || {
                                let verified = admission.mempool().verify_all(&block.txs);
                                let block = Box::new(block);
                                forward(&driver, NetEvent::Block { from: peer, block, commit, verified });
                            });
                            None
                        }
                        (Some(Outbound::Block(height)), Ok(Reply::NoBlock)) => {
                            forward(driver, NetEvent::NoBlock { from: peer, height, busy: false });
                            None
                        }
                        (Some(Outbound::Block(height)), Ok(Reply::Busy)) => {
                            forward(driver, NetEvent::NoBlock { from: peer, height, busy: true });
                            None
                        }
                        (Some(Outbound::ProposalTxs { height, round, block_hash }), Ok(Reply::ProposalTxs(txs))) => {
                            let answer = ProposalTxs { height, round, block_hash, txs: Some(txs.into_vec()) };
                            forward(driver, NetEvent::ProposalTxs { from: peer, answer });
                            None
                        }
                        (Some(_), Ok(_)) => Some("a reply that does not answer the request".to_string()),
                        (Some(_), Err(e)) => Some(e.to_string()),
                    };
                    if let Some(problem) = problem {
                        tracing::warn!(%peer, %problem, "bad reply: dropping the peer");
                        let _ = swarm.disconnect_peer_id(peer);
                    }
                }
            }
        }
        SwarmEvent::Behaviour(BehaviourEvent::Streams(request_response::Event::OutboundFailure {
            peer,
            request_id,
            error,
            ..
        })) => {
            match task.requests.remove(&request_id) {
                Some(Outbound::Block(height)) => forward(driver, NetEvent::NoBlock { from: peer, height, busy: false }),
                Some(Outbound::ProposalTxs { height, round, block_hash }) => {
                    let answer = ProposalTxs { height, round, block_hash, txs: None };
                    forward(driver, NetEvent::ProposalTxs { from: peer, answer });
                }
                None => {}
            }
            match error {
                request_response::OutboundFailure::ConnectionClosed
                | request_response::OutboundFailure::DialFailure => {
                    tracing::debug!(%peer, %error, "a request to a peer failed");
                }
                error => tracing::warn!(%peer, %error, "a request to a peer failed"),
            }
        }
        SwarmEvent::Behaviour(BehaviourEvent::Allow(never)) => match never {},
        SwarmEvent::Behaviour(BehaviourEvent::Gossip(gossipsub::Event::Message {
            propagation_source,
            message,
            ..
        })) => match decode::<Message>(&message.data) {
            Ok(m @ (Message::Vote(_) | Message::Proposal(_) | Message::Polka(_))) => {
                forward(driver, NetEvent::Message { from: propagation_source, message: m });
            }
            _ => {
                tracing::warn!(peer = %propagation_source, "bad gossip message: dropping the peer");
                let _ = swarm.disconnect_peer_id(propagation_source);
            }
        },
        SwarmEvent::ConnectionEstablished { peer_id, num_established, .. } => {
            tracing::info!(peer = %peer_id, "peer connected");
            if num_established.get() == 1 {
                task.send_pending(swarm, peer_id);
            }
            if let Some(peers) = &mut status.liveness().peers {
                peers.insert(peer_id);
            }
            if let Some(r) = redial.get_mut(&peer_id) {
                r.backoff = BACKOFF_MIN;
            }
        }
        SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
            tracing::info!(peer = %peer_id, "peer disconnected");
            task.limits.remove(&peer_id);
            if let Some(peers) = &mut status.liveness().peers {
                peers.remove(&peer_id);
            }
        }
        SwarmEvent::IncomingConnectionError {
            error: ListenError::Denied { cause }, peer_id, send_back_addr, ..
        } => {
            tracing::warn!(peer = ?peer_id, from = %send_back_addr, %cause, "refused a peer that is not a validator or observer");
        }
        SwarmEvent::NewListenAddr { address, .. } => tracing::info!(%address, "p2p listening"),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chancery_ledger::testkit::TestChain;

    /// `n` signed evidence txs.
    fn txs(n: usize) -> Vec<Tx> {
        let mut chain = TestChain::new(4);
        (0..n).map(|i| chain.evidence_tx(format!("document {i}").as_bytes())).collect()
    }

    #[test]
    fn peers_tx_messages_are_admitted_in_their_order() {
        let txs = txs(4);
        let one = |i: usize| vec![txs[i].clone()];
        let start = Instant::now();
        let mut inbound = Inbound::default();
        assert_eq!(inbound.receive(10, one(0), start), vec![one(0)]);
        // 12 before 11: held until 11 comes, then both in order.
        assert!(inbound.receive(12, one(2), start).is_empty());
        assert_eq!(inbound.receive(11, one(1), start), vec![one(1), one(2)]);
        // A gap that stays open is given up after a while, not before.
        assert!(inbound.receive(14, one(3), start).is_empty());
        assert!(inbound.release(start + INBOUND_GAP_WAIT / 2).is_empty());
        assert_eq!(inbound.release(start + INBOUND_GAP_WAIT), vec![one(3)]);
        // A restarted sender numbers from the start again: followed at once.
        assert_eq!(inbound.receive(1, one(0), start), vec![one(0)]);
        assert_eq!(inbound.receive(2, one(1), start), vec![one(1)]);
        // Too many held behind a gap: released without waiting.
        for seq in 4..4 + INBOUND_WAITING_MAX as u64 {
            assert!(inbound.receive(seq, one(2), start).is_empty(), "{seq}");
        }
        assert_eq!(inbound.receive(4 + INBOUND_WAITING_MAX as u64, one(2), start).len(), INBOUND_WAITING_MAX + 1);
    }

    /// The floor is set on a real connection's socket and reads back (rounded to the
    /// kernel's clock ticks); a kernel without the option (before 6.15) refuses it.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn peer_connections_get_the_retransmission_floor() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let socket = tokio::net::TcpStream::connect(listener.local_addr().expect("addr")).await.expect("connect");
        let before = nix::sys::socket::getsockopt(&socket, sockopt::RtoMinUs);
        match set_rto_min(&socket) {
            Ok(()) => {
                let now = nix::sys::socket::getsockopt(&socket, sockopt::RtoMinUs).expect("read back");
                let wanted = TCP_RTO_MIN.as_micros() as u32;
                assert!((wanted..wanted + 10_000).contains(&now), "floor {now} us, wanted {wanted} us");
                assert_ne!(before.expect("read before"), now, "the system's floor was not already 20 ms");
            }
            Err(nix::errno::Errno::ENOPROTOOPT) => {
                assert!(before.is_err(), "the option reads but does not set");
                eprintln!("skipped: this kernel has no TCP_RTO_MIN_US (Linux 6.15 and later)");
            }
            Err(e) => panic!("setting the floor: {e}"),
        }
    }

    #[test]
    fn a_peer_over_its_request_rate_is_limited_and_recovers() {
        let start = Instant::now();
        let mut limit = RateLimit::new(start);
        let allowed = (0..PEER_REQUEST_BURST * 2).filter(|_| limit.allow(start)).count();
        assert_eq!(allowed, PEER_REQUEST_BURST as usize, "the burst, then nothing");
        let later = start + Duration::from_millis(500);
        let refilled = (0..PEER_REQUEST_BURST).filter(|_| limit.allow(later)).count();
        assert_eq!(refilled, PEER_REQUESTS_PER_SECOND as usize / 2);
    }
}

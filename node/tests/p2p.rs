//! The network is permissioned: a peer with a key that is neither a validator's nor a
//! configured observer's is refused when it connects; an observer's key is served.

use std::time::Duration;

use chancery_consensus::wire::{Message, Reply};
use chancery_ledger::{decode, encode};
use chancery_node::config::Config;
use chancery_node::node::{start, Overrides};
use chancery_node::p2p::{FrameCodec, PROTOCOL};
use chancery_node::signer::KeyFile;
use libp2p::futures::StreamExt;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{identity, noise, tcp, yamux, Multiaddr};

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Dials `address` with `secret` as identity and asks for the peer's status; the reply,
/// or why there was none.
async fn ask(secret: [u8; 32], address: Multiaddr) -> Result<Reply, String> {
    let keypair = identity::Keypair::ed25519_from_bytes(secret).expect("key");
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(tcp::Config::default(), noise::Config::new, yamux::Config::default)
        .expect("transport")
        .with_behaviour(|_| {
            request_response::Behaviour::<FrameCodec>::new(
                [(PROTOCOL, ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(Duration::from_secs(5)),
            )
        })
        .expect("behaviour")
        .build();
    let peer = match address.iter().last() {
        Some(libp2p::multiaddr::Protocol::P2p(peer)) => peer,
        _ => panic!("address without peer id"),
    };
    swarm.add_peer_address(peer, address.clone());
    swarm.behaviour_mut().send_request(&peer, encode(&Message::Status { blocks: 0 }));
    let deadline = tokio::time::sleep(Duration::from_secs(10));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return Err("no answer".into()),
            event = swarm.select_next_some() => match event {
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message: request_response::Message::Response { response, .. }, ..
                }) => return decode::<Reply>(&response).map_err(|e| e.to_string()),
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure { error, .. }) => {
                    return Err(format!("refused: {error}"))
                }
                _ => {}
            },
        }
    }
}

#[test]
fn a_foreign_key_is_refused_and_an_observer_is_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = free_port();
    let nodes = chancery_node::devchain::create_testnet(dir.path(), base, Some(1_000)).expect("testnet");
    let operator = dir.path().join("operator");
    let mut config = Config::load(&operator.join("config.toml")).expect("config");
    // Only the operator runs: it listens on its own port and dials no one.
    config.p2p.peers.clear();
    config.rpc.listen = "127.0.0.1:0".into();
    let address: Multiaddr = nodes[0].p2p.parse().expect("multiaddr");
    let observer_secret = KeyFile::load(&dir.path().join("observer/keys/p2p.key"), None).expect("key").to_bytes();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let node = start(&operator, &config, &Overrides::default()).await.expect("node starts");
        let served = ask(observer_secret, address.clone()).await;
        assert_eq!(served, Ok(Reply::Ack), "the configured observer is served");
        let foreign = ask([42; 32], address.clone()).await;
        assert!(foreign.is_err(), "a foreign key must be refused, got {foreign:?}");
        // The refusal is the allow list's, not a fluke: the observer still gets through.
        assert_eq!(ask(observer_secret, address).await, Ok(Reply::Ack));
        assert!(node.stop().await, "the store closes");
    });
}

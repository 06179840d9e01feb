//! Clients cannot take the RPC from each other: idle connections are closed, so 256 of
//! them do not lock everyone out; a connection holds a bounded number of subscriptions;
//! a subscriber that never reads has its subscriptions closed instead of buffered.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use chancery_rpc::txs::{clock_nonce, tx_hex};
use chancery_rpc::ChanceryApiClient;
use support::{doc_txs, DevNode};

/// A dev node whose RPC closes connections idle for `idle_ms`.
fn node_with_idle_timeout(home: &Path, idle_ms: u64) -> DevNode {
    chancery_node::devchain::create(home, Some(support::IDLE_BLOCK_MS)).expect("dev home");
    let config = home.join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, text.replace("idle_timeout_ms = 60000", &format!("idle_timeout_ms = {idle_ms}")))
        .expect("config");
    DevNode::start(home)
}

/// A metric's value from `/metrics`.
fn metric(node: &DevNode, name: &str) -> u64 {
    let (_, body) = node.http("GET", "/metrics", "text/plain", b"");
    let value = body.lines().find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')));
    value.and_then(|v| v.trim().parse().ok()).unwrap_or_else(|| panic!("{name} in {body}"))
}

#[test]
fn idle_connections_are_closed_so_they_cannot_lock_other_clients_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = node_with_idle_timeout(&dir.path().join("dev"), 8000);
    let url = node.ws();
    let rt = support::runtime();
    rt.block_on(async {
        // Every slot taken by a client that connects, calls once and then idles (well
        // within the idle timeout).
        let started = Instant::now();
        let mut idle = Vec::new();
        for _ in 0..chancery_node::node::CONNECTIONS_MAX {
            let client = chancery_rpc::connect(&url, Duration::from_secs(10)).await.expect("connect");
            client.info().await.expect("a first call");
            idle.push(client);
        }
        let refused = match chancery_rpc::connect(&url, Duration::from_secs(10)).await {
            Err(e) => e.to_string(),
            Ok(client) => client.info().await.err().map(|e| e.to_string()).unwrap_or_default(),
        };
        assert!(started.elapsed() < Duration::from_secs(7), "slots filled within the idle timeout");
        assert!(!refused.is_empty(), "every slot is taken");
        // A subscriber is not idle: it keeps its connection and its notifications.
        drop(idle.pop());
        let subscriber = loop {
            // The dropped client's slot is freed once the server sees it close.
            match chancery_rpc::connect(&url, Duration::from_secs(10)).await {
                Ok(client) => break client,
                Err(e) => assert!(started.elapsed() < Duration::from_secs(7), "{e}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let mut heads = subscriber.subscribe_heads().await.expect("subscribe");
        // After the idle timeout the idle clients are gone and a new client gets in.
        tokio::time::sleep(Duration::from_millis(9000)).await;
        let newcomer = chancery_rpc::connect(&url, Duration::from_secs(10)).await.expect("a slot is free again");
        newcomer.info().await.expect("served");
        let deadline = Instant::now() + Duration::from_secs(10);
        let before = newcomer.info().await.expect("info").blocks;
        let mut latest = 0;
        while latest < before {
            assert!(Instant::now() < deadline, "the subscriber still gets heads");
            latest = heads.next().await.expect("a head").expect("decodes").height;
        }
        assert!(idle.iter().all(|c| !c.is_connected()), "idle clients were closed");
        assert!(subscriber.is_connected());
    });
    assert!(metric(&node, "chancery_rpc_idle_closed_total") >= chancery_node::node::CONNECTIONS_MAX as u64 - 1);
}

#[test]
fn subscriptions_per_connection_are_bounded_and_a_subscriber_that_never_reads_is_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = node_with_idle_timeout(&dir.path().join("dev"), 60_000);
    let rt = support::runtime();
    rt.block_on(async {
        let client = chancery_rpc::connect(&node.ws(), Duration::from_secs(10)).await.expect("connect");
        let mut subscriptions = Vec::new();
        for _ in 0..chancery_node::rpc_server::SUBSCRIPTIONS_PER_CONNECTION_MAX {
            subscriptions.push(client.subscribe_committed().await.expect("within the bound"));
        }
        assert!(client.subscribe_committed().await.is_err(), "one more is refused");
    });

    // A raw WebSocket client that subscribes and then never reads a byte.
    let mut socket = TcpStream::connect(&node.addr).expect("connect");
    let handshake = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        node.addr
    );
    socket.write_all(handshake.as_bytes()).expect("handshake");
    let mut response = [0u8; 1024];
    let read = socket.read(&mut response).expect("101");
    assert!(String::from_utf8_lossy(&response[..read]).starts_with("HTTP/1.1 101"), "upgraded");
    for id in 0..chancery_node::rpc_server::SUBSCRIPTIONS_PER_CONNECTION_MAX {
        let request = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"evidence_subscribeCommitted","params":[]}}"#);
        socket.write_all(&masked_text_frame(request.as_bytes())).expect("subscribe");
    }
    // Blocks with many txs make large notifications; the connection's buffer fills and
    // the subscriptions are closed rather than queued without bound.
    let chain = node.chain();
    let keys = node.submitter_keys();
    rt.block_on(async {
        let client = chancery_rpc::connect(&node.ws(), Duration::from_secs(30)).await.expect("connect");
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut round = 0;
        while metric(&node, "chancery_rpc_subscriptions_dropped_total") == 0 {
            assert!(Instant::now() < deadline, "the non-reading subscriber was never dropped");
            let key = &keys[round % keys.len()];
            let txs = doc_txs(key, &chain, &format!("flood {round}"), clock_nonce(), 1000);
            let _ = client.submit_batch(txs.iter().map(tx_hex).collect()).await.expect("submit");
            round += 1;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        // The node goes on serving everyone else.
        client.info().await.expect("served");
    });
    drop(socket);
}

/// A client-to-server WebSocket text frame (masked, as clients must).
fn masked_text_frame(payload: &[u8]) -> Vec<u8> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![0x81];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

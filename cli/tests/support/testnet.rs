//! A testnet of real `chancery start` processes on loopback, made by `chancery testnet
//! init`: the nodes, their RPC clients, and checks every multi-node test shares.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use chancery_ledger::Hash;
use chancery_rpc::ChanceryApiClient;

pub const NAMES: [&str; 5] = ["operator", "notary", "court", "arbitration", "observer"];

pub struct Node {
    pub name: &'static str,
    pub home: PathBuf,
    pub child: Option<Child>,
    pub rpc: String,
}

impl Node {
    pub fn start(&mut self) {
        let args = ["start".as_ref(), "--home".as_ref(), self.home.as_os_str()];
        let (child, line) = super::spawn(&args, &self.home.join("node.log"));
        assert!(line.contains("serving RPC"), "{}: {line}", self.name);
        self.child = Some(child);
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill");
            child.wait().expect("wait");
        }
    }

    /// Rewrites `[p2p] blocked` and makes the running node re-read it (SIGHUP).
    pub fn block(&self, keys: &[String]) {
        let path = self.home.join("config.toml");
        let text = std::fs::read_to_string(&path).expect("config");
        let start = text.find("\nblocked = [").expect("blocked line") + 1;
        let end = start + text[start..].find('\n').expect("line end");
        let list: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
        let text = format!("{}blocked = [{}]{}", &text[..start], list.join(", "), &text[end..]);
        std::fs::write(&path, text).expect("write config");
        let pid = self.child.as_ref().expect("running").id().to_string();
        assert!(Command::new("kill").args(["-HUP", &pid]).status().expect("kill").success());
    }

    /// A counter from the node's `/metrics`.
    pub fn metric(&self, name: &str) -> u64 {
        let (_, body) = super::http(self.rpc.trim_start_matches("ws://"), "GET", "/metrics", "text/plain", b"");
        let value = body.lines().find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')));
        value.and_then(|v| v.trim().parse().ok()).unwrap_or_else(|| panic!("{name} in {body}"))
    }

    pub fn health(&self) -> serde_json::Value {
        let (_, body) = super::http(self.rpc.trim_start_matches("ws://"), "GET", "/health", "text/plain", b"");
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn free_base_port() -> u16 {
    // Ten ports per node, five nodes and room for a sixth: 60 free consecutive ports.
    for _ in 0..50 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        if port > 20_000
            && port < 60_000
            && (0..60).all(|i| std::net::TcpListener::bind(("127.0.0.1", port + i)).is_ok())
        {
            return port;
        }
    }
    panic!("no free port range");
}

/// `chancery testnet init` into `dir` on free ports, idle blocks every
/// [`super::IDLE_BLOCK_MS`]; the base port.
pub fn init(dir: &Path) -> u16 {
    init_with_interval(dir, Some(super::IDLE_BLOCK_MS))
}

/// `chancery testnet init` into `dir` on free ports with `empty_block_interval_ms` (none:
/// the default); the base port.
pub fn init_with_interval(dir: &Path, empty_block_interval_ms: Option<u64>) -> u16 {
    let base = free_base_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_chancery"));
    command.args(["testnet", "init", "--out"]).arg(dir).args(["--base-port", &base.to_string()]);
    if let Some(interval) = empty_block_interval_ms {
        command.args(["--empty-block-interval-ms", &interval.to_string()]);
    }
    let out = command.output().expect("testnet init");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    base
}

pub fn testnet(dir: &Path) -> Vec<Node> {
    testnet_with_interval(dir, Some(super::IDLE_BLOCK_MS))
}

/// The testnet's nodes (not started), its genesis with `empty_block_interval_ms`.
pub fn testnet_with_interval(dir: &Path, empty_block_interval_ms: Option<u64>) -> Vec<Node> {
    let base = init_with_interval(dir, empty_block_interval_ms);
    NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| Node {
            name,
            home: dir.join(name),
            child: None,
            rpc: format!("ws://127.0.0.1:{}", base + 10 * i as u16),
        })
        .collect()
}

pub async fn client(node: &Node) -> chancery_rpc::Client {
    chancery_rpc::connect(&node.rpc, Duration::from_secs(60)).await.expect("connect")
}

pub async fn blocks(node: &Node) -> u64 {
    client(node).await.info().await.expect("info").blocks
}

/// Waits until every running node has at least `n` blocks.
pub async fn wait_blocks(nodes: &[&Node], n: u64, within: Duration) {
    let deadline = Instant::now() + within;
    for node in nodes {
        while blocks(node).await < n {
            assert!(Instant::now() < deadline, "{} did not reach {n} blocks", node.name);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Every pair of nodes agrees on every block hash they both have.
pub async fn same_chain(nodes: &[&Node]) {
    let mut hashes: HashMap<u64, (Hash, &str)> = HashMap::new();
    for node in nodes {
        let c = client(node).await;
        let n = c.info().await.expect("info").blocks;
        for h in 0..n {
            let hash = c.header(h).await.expect("header").hash();
            match hashes.get(&h) {
                Some((other, who)) => assert_eq!(*other, hash, "{} and {who} differ at height {h}", node.name),
                None => {
                    hashes.insert(h, (hash, node.name));
                }
            }
        }
    }
}

//! Real network faults: each institution's node runs in its own network namespace with
//! its own address (veth pairs on a bridge in a hub namespace), so faults are the
//! kernel's: partitions by iptables DROP rules between chosen addresses (symmetric and
//! one-way), 5% random inbound packet loss on every node, a starved link (`tc tbf`), a
//! paused node (SIGSTOP/SIGCONT), and a validator whose clock is skewed beyond the
//! chain's drift. Under load throughout; checked: safety always (identical block hashes at
//! every height every node has), liveness after each fault heals, and every tx a node
//! acknowledged is committed, at the same place on every node.
//!
//! Needs root (CI runs as root) and iproute2 and iptables (`.ci/run` installs them).
//! Without them the test says why and passes only if `CHANCERY_NETNS` is not `require`
//! (CI sets it, so there it always runs).
//!
//! The ignored `soak` test is the long run of `docs/BENCHMARKS.md`:
//! `CHANCERY_SOAK_MINUTES=30 cargo test -p chancery-cli --test netns soak -- --ignored --nocapture`.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chancery_ledger::Hash;
use chancery_rpc::txs::{clock_nonce, tx_hex};
use chancery_rpc::types::SubmitOutcome;
use chancery_rpc::ChanceryApiClient;

const NAMES: [&str; 5] = ["operator", "notary", "court", "arbitration", "observer"];
const RPC_PORT: u16 = 7700;
const P2P_PORT: u16 = 26656;

fn sh(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0]).args(&args[1..]).output().map_err(|e| format!("{}: {e}", args[0]))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

fn run(args: &[&str]) {
    sh(args).unwrap_or_else(|e| panic!("{e}"));
}

/// Why namespaces cannot be made here, if they cannot.
fn unavailable() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if uid.as_deref() != Some("0") {
        return Some("not root".into());
    }
    for tool in ["ip", "iptables", "tc"] {
        if Command::new(tool).arg("-V").output().is_err() && Command::new(tool).arg("--version").output().is_err() {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

/// Adds the `Tcp` and `TcpExt` counters of a `/proc/net/snmp` or `/proc/net/netstat` text
/// to `counters`: each group is a line of names and a line of values, both led by
/// "Group:".
fn add_tcp_counters(text: &str, counters: &mut BTreeMap<String, u64>) {
    let lines: Vec<&str> = text.lines().collect();
    for pair in lines.windows(2) {
        let (Some((group, names)), Some((again, values))) = (pair[0].split_once(':'), pair[1].split_once(':')) else {
            continue;
        };
        if group != again || !group.starts_with("Tcp") || names.split_whitespace().any(|n| n.parse::<i64>().is_ok()) {
            continue;
        }
        for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
            if let Ok(value) = value.parse::<u64>() {
                *counters.entry(format!("{group}.{name}")).or_default() += value;
            }
        }
    }
}

/// Skips (with the reason) where namespaces cannot be made, unless CI requires them.
fn can_run() -> bool {
    match unavailable() {
        None => true,
        Some(why) if std::env::var("CHANCERY_NETNS").as_deref() == Ok("require") => {
            panic!("network namespace tests are required here (CHANCERY_NETNS=require) but {why}")
        }
        Some(why) => {
            eprintln!("skipped: network namespace tests need root, iproute2 and iptables ({why})");
            false
        }
    }
}

/// The hosts: a hub namespace with a bridge, one namespace per node with its address,
/// and a veth from this (the test's) namespace to the bridge so the test reaches every
/// node's RPC. Removed on drop.
struct Hosts {
    tag: String,
    subnet: String,
}

impl Hosts {
    fn new() -> Hosts {
        let pid = std::process::id();
        let tag = format!("{}", pid % 100_000);
        let subnet = format!("10.213.{}", 20 + pid % 200);
        let hosts = Hosts { tag, subnet };
        hosts.remove();
        let hub = hosts.hub();
        run(&["ip", "netns", "add", &hub]);
        run(&["ip", "-n", &hub, "link", "add", "br0", "type", "bridge"]);
        run(&["ip", "-n", &hub, "link", "set", "br0", "up"]);
        run(&["ip", "-n", &hub, "link", "set", "lo", "up"]);
        // This namespace's side.
        let local = hosts.local_link();
        run(&["ip", "link", "add", &local, "type", "veth", "peer", "name", "up0", "netns", &hub]);
        run(&["ip", "-n", &hub, "link", "set", "up0", "master", "br0", "up"]);
        run(&["ip", "addr", "add", &format!("{}.1/24", hosts.subnet), "dev", &local]);
        run(&["ip", "link", "set", &local, "up"]);
        for i in 0..NAMES.len() {
            let ns = hosts.ns(i);
            run(&["ip", "netns", "add", &ns]);
            run(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
            let port = format!("n{i}");
            run(&["ip", "-n", &ns, "link", "add", "eth0", "type", "veth", "peer", "name", &port, "netns", &hub]);
            run(&["ip", "-n", &hub, "link", "set", &port, "master", "br0", "up"]);
            run(&["ip", "-n", &ns, "addr", "add", &format!("{}/24", hosts.ip(i)), "dev", "eth0"]);
            run(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
        }
        hosts
    }

    fn hub(&self) -> String {
        format!("chhub{}", self.tag)
    }

    fn ns(&self, i: usize) -> String {
        format!("chn{i}x{}", self.tag)
    }

    fn local_link(&self) -> String {
        format!("chv{}", self.tag)
    }

    fn ip(&self, i: usize) -> String {
        format!("{}.{}", self.subnet, 10 + i)
    }

    /// `iptables` in node `i`'s namespace.
    fn iptables(&self, i: usize, rule: &[&str]) {
        let ns = self.ns(i);
        let mut args = vec!["ip", "netns", "exec", &ns, "iptables"];
        args.extend_from_slice(rule);
        run(&args);
    }

    /// The kernel TCP counters of `nodes` (`/proc/net/snmp` and `/proc/net/netstat` of
    /// their namespaces), summed, named `Tcp.RetransSegs`, `TcpExt.TCPLossProbes` and so on.
    fn tcp_counters(&self, nodes: &[usize]) -> BTreeMap<String, u64> {
        let mut counters = BTreeMap::new();
        for i in nodes {
            let ns = self.ns(*i);
            let out = Command::new("ip")
                .args(["netns", "exec", &ns, "cat", "/proc/net/snmp", "/proc/net/netstat"])
                .output()
                .expect("ip netns exec cat");
            assert!(out.status.success(), "reading the TCP counters of {ns}");
            add_tcp_counters(&String::from_utf8_lossy(&out.stdout), &mut counters);
        }
        counters
    }

    /// Node `i` drops every packet from node `from`.
    fn drop_from(&self, i: usize, from: usize) {
        self.iptables(i, &["-A", "INPUT", "-s", &self.ip(from), "-j", "DROP"]);
    }

    /// Node `i` drops 5% of its inbound packets at random.
    fn lose(&self, i: usize) {
        self.drop_at_random(i, &[]);
    }

    /// Node `i` drops 5% of its inbound packets that match `only` (iptables match
    /// arguments; none: every packet) at random.
    fn drop_at_random(&self, i: usize, only: &[&str]) {
        let mut rule = vec!["-A", "INPUT"];
        rule.extend_from_slice(only);
        rule.extend_from_slice(&["-m", "statistic", "--mode", "random", "--probability", "0.05", "-j", "DROP"]);
        self.iptables(i, &rule);
    }

    /// Node `i` drops 5% of its inbound peer-to-peer packets at random (its RPC clients'
    /// packets all arrive: the benchmark measures consensus under loss, not its client).
    fn lose_p2p(&self, i: usize) {
        let port = P2P_PORT.to_string();
        for direction in ["--dport", "--sport"] {
            self.drop_at_random(i, &["-p", "tcp", direction, &port]);
        }
    }

    /// Node `i`'s uplink at 1 Mbit/s with a 200 ms queue.
    fn starve(&self, i: usize) {
        let ns = self.ns(i);
        let tbf = [
            "tc", "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", "1mbit", "burst", "32kbit", "latency", "200ms",
        ];
        let mut args = vec!["ip", "netns", "exec", ns.as_str()];
        args.extend_from_slice(&tbf);
        run(&args);
    }

    /// Every rule of node `i` removed, its link unthrottled.
    fn heal(&self, i: usize) {
        self.iptables(i, &["-F", "INPUT"]);
        let _ = sh(&["ip", "netns", "exec", &self.ns(i), "tc", "qdisc", "del", "dev", "eth0", "root"]);
    }

    fn heal_all(&self) {
        for i in 0..NAMES.len() {
            self.heal(i);
        }
    }

    fn remove(&self) {
        for i in 0..NAMES.len() {
            let _ = sh(&["ip", "netns", "del", &self.ns(i)]);
        }
        let _ = sh(&["ip", "link", "del", &self.local_link()]);
        let _ = sh(&["ip", "netns", "del", &self.hub()]);
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A testnet whose nodes live in the hosts' namespaces.
struct Cluster {
    hosts: Hosts,
    homes: Vec<PathBuf>,
    children: Vec<Option<Child>>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn new() -> Cluster {
        let hosts = Hosts::new();
        let dir = tempfile::tempdir().expect("tempdir");
        let base = support::testnet::init(dir.path());
        let homes: Vec<PathBuf> = NAMES.iter().map(|n| dir.path().join(n)).collect();
        // Each node on its own address: loopback ports become addresses.
        for home in &homes {
            let path = home.join("config.toml");
            let mut text = std::fs::read_to_string(&path).expect("config");
            for i in 0..NAMES.len() {
                let (rpc, p2p) = (base + 10 * i as u16, base + 10 * i as u16 + 1);
                text = text
                    .replace(&format!("127.0.0.1:{rpc}\""), &format!("{}:{RPC_PORT}\"", hosts.ip(i)))
                    .replace(&format!("/ip4/127.0.0.1/tcp/{p2p}"), &format!("/ip4/{}/tcp/{P2P_PORT}", hosts.ip(i)));
            }
            std::fs::write(&path, text).expect("config");
        }
        let mut cluster = Cluster { hosts, homes, children: (0..NAMES.len()).map(|_| None).collect(), _dir: dir };
        for i in 0..NAMES.len() {
            cluster.start(i, 0);
        }
        cluster
    }

    fn rpc(&self, i: usize) -> String {
        format!("ws://{}:{RPC_PORT}", self.hosts.ip(i))
    }

    /// Starts node `i` in its namespace, its clock shifted by `clock_offset_ms`.
    fn start(&mut self, i: usize, clock_offset_ms: i64) {
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.homes[i].join("node.log")).expect("log");
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.hosts.ns(i), env!("CARGO_BIN_EXE_chancery"), "start", "--home"])
            .arg(&self.homes[i])
            .env(chancery_node::clock::CLOCK_OFFSET_ENV, clock_offset_ms.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start");
        let mut line = String::new();
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        std::io::BufRead::read_line(&mut stdout, &mut line).expect("banner");
        assert!(line.contains("serving RPC"), "{}: {line}", NAMES[i]);
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        self.children[i] = Some(child);
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.children[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn signal(&self, i: usize, signal: &str) {
        let pid = self.children[i].as_ref().expect("running").id().to_string();
        run(&["kill", signal, &pid]);
    }

    fn pid(&self, i: usize) -> Option<u32> {
        self.children[i].as_ref().map(Child::id)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..NAMES.len() {
            if let Some(pid) = self.pid(i) {
                let _ = sh(&["kill", "-CONT", &pid.to_string()]);
            }
            self.kill(i);
        }
    }
}

async fn client(url: &str) -> Option<chancery_rpc::Client> {
    chancery_rpc::connect(url, Duration::from_secs(10)).await.ok()
}

async fn height(url: &str) -> Option<u64> {
    client(url).await?.info().await.ok().map(|i| i.blocks)
}

/// Waits until every listed node has more than `above` blocks.
async fn wait_past(cluster: &Cluster, nodes: &[usize], above: u64, within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    for &i in nodes {
        loop {
            if height(&cluster.rpc(i)).await.is_some_and(|h| h > above) {
                break;
            }
            assert!(Instant::now() < deadline, "{what}: {} did not pass height {above}", NAMES[i]);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// The highest height every listed node has.
async fn common_height(cluster: &Cluster, nodes: &[usize]) -> u64 {
    let mut min = u64::MAX;
    for &i in nodes {
        min = min.min(height(&cluster.rpc(i)).await.unwrap_or(0));
    }
    min
}

/// Submits documents to the operator and the notary (never restarted) at about `rate`
/// txs a second until stopped, recording every acknowledged tx hash.
struct Load {
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Vec<Hash>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(cluster: &Cluster, dir: &Path, rate: usize) -> Load {
        let keys = support::bench_keys(dir);
        let chain = support::chain_of(dir);
        let urls = [cluster.rpc(0), cluster.rpc(1)];
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let (flag, acked) = (stop.clone(), acknowledged.clone());
        let thread = std::thread::spawn(move || {
            let rt = support::runtime();
            rt.block_on(async {
                let per_batch = (rate / 4).max(1);
                let mut round = 0usize;
                let mut clients: HashMap<usize, chancery_rpc::Client> = HashMap::new();
                while !flag.load(Ordering::SeqCst) {
                    let which = round % urls.len();
                    if !clients.get(&which).is_some_and(|c| c.is_connected()) {
                        match client(&urls[which]).await {
                            Some(c) => {
                                clients.insert(which, c);
                            }
                            None => {
                                tokio::time::sleep(Duration::from_millis(250)).await;
                                round += 1;
                                continue;
                            }
                        }
                    }
                    // One key per node, so each key's nonces reach one mempool in order.
                    let key = &keys[which % keys.len()];
                    let txs = support::doc_txs(key, &chain, &format!("netns {round}"), clock_nonce(), per_batch);
                    if let Some(c) = clients.get(&which) {
                        if let Ok(outcomes) = c.submit_batch(txs.iter().map(tx_hex).collect()).await {
                            let mut acked = acked.lock().unwrap_or_else(|e| e.into_inner());
                            for outcome in outcomes {
                                if let SubmitOutcome::Accepted { tx_hash } = outcome {
                                    acked.push(tx_hash);
                                }
                            }
                        }
                    }
                    round += 1;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            });
        });
        Load { stop, acknowledged, thread: Some(thread) }
    }

    fn finish(mut self) -> Vec<Hash> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        std::mem::take(&mut *self.acknowledged.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Safety: every node has the same block hash at every height they all have. Returns
/// that height.
async fn same_chain(cluster: &Cluster) -> u64 {
    let all: Vec<usize> = (0..NAMES.len()).collect();
    let common = common_height(cluster, &all).await;
    let mut clients = Vec::new();
    for i in &all {
        clients.push(client(&cluster.rpc(*i)).await.expect("connect"));
    }
    for h in 0..common {
        let mut hashes = Vec::new();
        for c in &clients {
            hashes.push(c.header(h).await.expect("header").hash());
        }
        assert!(hashes.windows(2).all(|w| w[0] == w[1]), "height {h}: nodes disagree: {hashes:?}");
    }
    common
}

/// Every acknowledged tx is committed (waiting up to `within`), at the same height and
/// index on every node; returns how many are not.
async fn all_committed(cluster: &Cluster, acknowledged: &[Hash], within: Duration) -> usize {
    let deadline = Instant::now() + within;
    let mut places: Vec<HashMap<Hash, (u64, u32)>> = vec![HashMap::new(); NAMES.len()];
    let mut read = vec![0u64; NAMES.len()];
    loop {
        for i in 0..NAMES.len() {
            let Some(c) = client(&cluster.rpc(i)).await else { continue };
            let blocks = c.info().await.map(|info| info.blocks).unwrap_or(read[i]);
            while read[i] < blocks {
                let Ok(block) = c.block(read[i]).await else { break };
                for (index, tx) in block.txs.iter().enumerate() {
                    places[i].insert(tx.hash(), (read[i], index as u32));
                }
                read[i] += 1;
            }
        }
        let missing = acknowledged.iter().filter(|h| places.iter().any(|p| !p.contains_key(h))).count();
        if missing == 0 || Instant::now() >= deadline {
            for hash in acknowledged {
                let found: Vec<_> = places.iter().filter_map(|p| p.get(hash)).collect();
                assert!(found.windows(2).all(|w| w[0] == w[1]), "tx {hash} at different places: {found:?}");
            }
            return missing;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[test]
fn faults_of_a_real_network_keep_safety_and_heal_to_liveness() {
    if !can_run() {
        return;
    }
    let mut cluster = Cluster::new();
    let dir = cluster.homes[0].parent().expect("dir").to_path_buf();
    let rt = support::runtime();
    let validators = [0, 1, 2, 3];
    let all = [0, 1, 2, 3, 4];
    rt.block_on(wait_past(&cluster, &all, 2, Duration::from_secs(60), "start"));
    let load = Load::start(&cluster, &dir, 200);

    // A symmetric partition into halves: neither has a quorum, so nothing commits; after
    // healing, the chain goes on.
    let before = rt.block_on(common_height(&cluster, &all));
    for (a, b) in [(0, 2), (0, 3), (1, 2), (1, 3)] {
        cluster.hosts.drop_from(a, b);
        cluster.hosts.drop_from(b, a);
    }
    std::thread::sleep(Duration::from_secs(8));
    let during = rt.block_on(common_height(&cluster, &validators));
    assert!(during <= before + 2, "a partition without a quorum committed {} blocks", during - before);
    cluster.hosts.heal_all();
    rt.block_on(wait_past(&cluster, &all, during + 2, Duration::from_secs(60), "after the partition"));

    // One way: the court hears nothing from the operator (the operator hears the court).
    let before = rt.block_on(common_height(&cluster, &all));
    cluster.hosts.drop_from(2, 0);
    rt.block_on(wait_past(&cluster, &[0, 1, 3], before + 3, Duration::from_secs(60), "one-way partition"));
    cluster.hosts.heal_all();

    // 5% random inbound loss on every node: the chain keeps committing.
    let before = rt.block_on(common_height(&cluster, &all));
    for i in all {
        cluster.hosts.lose(i);
    }
    rt.block_on(wait_past(&cluster, &all, before + 5, Duration::from_secs(60), "5% packet loss"));
    cluster.hosts.heal_all();

    // A starved link: the notary's uplink at 1 Mbit/s with a 200 ms queue.
    let before = rt.block_on(common_height(&cluster, &all));
    cluster.hosts.starve(1);
    rt.block_on(wait_past(&cluster, &all, before + 5, Duration::from_secs(60), "starved link"));
    cluster.hosts.heal_all();

    // A paused validator: the others go on; once resumed, it catches up.
    let before = rt.block_on(common_height(&cluster, &all));
    cluster.signal(3, "-STOP");
    rt.block_on(wait_past(&cluster, &[0, 1, 2, 4], before + 3, Duration::from_secs(60), "a paused validator"));
    cluster.signal(3, "-CONT");
    let now = rt.block_on(common_height(&cluster, &[0, 1, 2]));
    rt.block_on(wait_past(&cluster, &[3], now, Duration::from_secs(60), "the resumed validator catching up"));

    // A validator whose clock runs 3 drifts ahead: its proposals are refused (its
    // rounds pass to the next proposer), the chain goes on and stays consistent.
    let drift = chancery_ledger::block::Params::default().max_clock_drift_ms as i64;
    cluster.kill(2);
    cluster.start(2, 3 * drift);
    let before = rt.block_on(common_height(&cluster, &all));
    rt.block_on(wait_past(&cluster, &all, before + 8, Duration::from_secs(90), "a skewed clock"));
    cluster.kill(2);
    cluster.start(2, 0);

    let acknowledged = load.finish();
    assert!(acknowledged.len() > 100, "the cluster was under load: {} txs acknowledged", acknowledged.len());
    let lost = rt.block_on(all_committed(&cluster, &acknowledged, Duration::from_secs(60)));
    assert_eq!(lost, 0, "acknowledged txs not committed");
    let checked = rt.block_on(same_chain(&cluster));
    println!("{} acknowledged txs committed; {checked} heights identical on all 5 nodes", acknowledged.len());
}

/// The node's resident memory, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The long run: paced load, a validator killed and restarted every 2 minutes, a network
/// fault every 5; every node's RSS sampled. Prints RSS at start and end per node, the
/// acknowledged txs lost, and the longest time without a new block.
#[test]
#[ignore]
fn soak() {
    if !can_run() {
        return;
    }
    let minutes: u64 = std::env::var("CHANCERY_SOAK_MINUTES").ok().and_then(|m| m.parse().ok()).unwrap_or(30);
    let mut cluster = Cluster::new();
    let dir = cluster.homes[0].parent().expect("dir").to_path_buf();
    let rt = support::runtime();
    let all = [0, 1, 2, 3, 4];
    rt.block_on(wait_past(&cluster, &all, 2, Duration::from_secs(60), "start"));
    let load = Load::start(&cluster, &dir, 400);
    let started = Instant::now();
    let end = started + Duration::from_secs(minutes * 60);
    let mut rss: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    let (mut last_height, mut last_progress, mut longest_stall) = (0, Instant::now(), Duration::ZERO);
    let (mut next_kill, mut next_fault) = (started + Duration::from_secs(120), started + Duration::from_secs(300));
    let (mut kills, mut faults, mut fault_on) = (0usize, 0usize, None::<Instant>);
    let mut sampled = started;
    while Instant::now() < end {
        let now = Instant::now();
        if now >= sampled {
            for i in all {
                if let Some(kib) = cluster.pid(i).and_then(rss_kib) {
                    rss.entry(i).or_default().push(kib);
                }
            }
            sampled = now + Duration::from_secs(30);
        }
        let h = rt.block_on(height(&cluster.rpc(0))).unwrap_or(last_height);
        if h > last_height {
            last_height = h;
            last_progress = now;
        }
        longest_stall = longest_stall.max(now - last_progress);
        if now >= next_kill {
            // Validators 1..=3 in turn (the operator takes the load).
            let victim = 1 + kills % 3;
            cluster.kill(victim);
            std::thread::sleep(Duration::from_secs(2));
            cluster.start(victim, 0);
            kills += 1;
            next_kill = now + Duration::from_secs(120);
        }
        if now >= next_fault {
            match faults % 3 {
                0 => {
                    for i in all {
                        cluster.hosts.lose(i);
                    }
                }
                1 => {
                    cluster.hosts.drop_from(2, 0);
                    cluster.hosts.drop_from(0, 2);
                }
                _ => cluster.hosts.starve(3),
            }
            faults += 1;
            fault_on = Some(now + Duration::from_secs(60));
            next_fault = now + Duration::from_secs(300);
        }
        if fault_on.is_some_and(|until| now >= until) {
            cluster.hosts.heal_all();
            fault_on = None;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    cluster.hosts.heal_all();
    let acknowledged = load.finish();
    let lost = rt.block_on(all_committed(&cluster, &acknowledged, Duration::from_secs(120)));
    let checked = rt.block_on(same_chain(&cluster));
    println!("soak: {minutes} min, {kills} validator restarts, {faults} network faults");
    println!("soak: {} txs acknowledged, {lost} lost; {checked} heights identical on all nodes", acknowledged.len());
    println!("soak: longest time without a new block on the operator: {:.1} s", longest_stall.as_secs_f64());
    for (i, samples) in &rss {
        println!(
            "soak: {:<12} RSS start {} MiB, end {} MiB, max {} MiB ({} samples)",
            NAMES[*i],
            samples.first().copied().unwrap_or(0) / 1024,
            samples.last().copied().unwrap_or(0) / 1024,
            samples.iter().max().copied().unwrap_or(0) / 1024,
            samples.len()
        );
    }
    assert_eq!(lost, 0, "acknowledged txs lost");
}

/// The packet-loss benchmark of docs/BENCHMARKS.md: the namespaced testnet, then
/// `chancery bench` against the operator, first without loss and then with 5% random
/// inbound loss of peer-to-peer packets on every node (the bench's own RPC link is
/// spared: over a lossy link its committed-block subscription falls behind and the node
/// closes it). `CHANCERY_LOSS_TXS` txs at full load (default 40,000); the paced phase
/// offers half the measured rate for 10 s, or raw / `CHANCERY_LOSS_DIVISOR`, or
/// `CHANCERY_LOSS_RATE` evidence/s (the same load in every run). Prints both benches'
/// lines, the kernel's TCP counters over the lossy phase, and the blocks of each phase
/// (decision rounds, time between blocks, txs per block); `CHANCERY_LOSS_LOGS=DIR` keeps
/// the nodes' logs there.
/// `cargo test --release -p chancery-cli --test netns loss_bench -- --ignored --nocapture`
#[test]
#[ignore]
fn loss_bench() {
    if !can_run() {
        return;
    }
    let cluster = Cluster::new();
    let dir = cluster.homes[0].parent().expect("dir").to_path_buf();
    let rt = support::runtime();
    let all = [0, 1, 2, 3, 4];
    rt.block_on(wait_past(&cluster, &all, 1, Duration::from_secs(60), "start"));
    let txs = std::env::var("CHANCERY_LOSS_TXS").unwrap_or_else(|_| "40000".into());
    let divisor = std::env::var("CHANCERY_LOSS_DIVISOR").ok();
    let rate = std::env::var("CHANCERY_LOSS_RATE").ok();
    let bench = |what: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_chancery"))
            .args(["bench", "--rpc", &cluster.rpc(0), "--keys"])
            .arg(dir.join("bench"))
            .args(["--txs", &txs, "--half-load-secs", "10"])
            .args(divisor.iter().flat_map(|d| ["--paced-raw-divisor", d.as_str()]))
            .args(rate.iter().flat_map(|r| ["--paced-rate", r.as_str()]))
            .output()
            .expect("bench");
        let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        println!("{what}:\n{text}");
        assert!(out.status.success(), "{what}: bench failed");
    };
    // The rounds the blocks of a phase were decided in (a round past 0 is a timeout),
    // and how far apart its non-empty blocks' times are and how many txs they hold.
    let blocks = |from: u64, to: u64| -> String {
        rt.block_on(async {
            let c = client(&cluster.rpc(4)).await.expect("observer");
            let mut rounds: BTreeMap<u32, usize> = BTreeMap::new();
            let (mut gaps, mut sizes, mut last) = (Vec::new(), Vec::new(), None);
            for h in from..to {
                *rounds.entry(c.commit(h).await.expect("commit").round).or_default() += 1;
                let header = c.header(h).await.expect("header");
                if header.tx_count > 0 {
                    gaps.extend(last.map(|t: u64| header.time_ms.saturating_sub(t)));
                    sizes.push(header.tx_count as u64);
                    last = Some(header.time_ms);
                }
            }
            let spread = |mut v: Vec<u64>| {
                v.sort_unstable();
                match v.len() {
                    0 => "none".to_string(),
                    n => format!("p50 {}, p90 {}, max {}", v[n / 2], v[n * 9 / 10], v[n - 1]),
                }
            };
            format!(
                "by decision round {rounds:?}; ms between non-empty blocks {}; txs per non-empty block {}",
                spread(gaps),
                spread(sizes)
            )
        })
    };
    let start = rt.block_on(common_height(&cluster, &all));
    bench("no loss");
    let clean = rt.block_on(common_height(&cluster, &all));
    for i in all {
        cluster.hosts.lose_p2p(i);
    }
    let before = cluster.hosts.tcp_counters(&all);
    bench("5% inbound loss of peer-to-peer packets on every node");
    let after = cluster.hosts.tcp_counters(&all);
    cluster.hosts.heal_all();
    // What TCP did about the loss, summed over the five nodes: segments sent and resent,
    // tail-loss probes, retransmission timeouts (each at least 200 ms), fast retransmits.
    let watched = [
        "Tcp.OutSegs",
        "Tcp.RetransSegs",
        "TcpExt.TCPLossProbes",
        "TcpExt.TCPLossProbeRecovery",
        "TcpExt.TCPTimeouts",
        "TcpExt.TCPFastRetrans",
        "TcpExt.TCPLostRetransmit",
        "TcpExt.TCPSpuriousRTOs",
    ];
    let deltas: Vec<String> = watched
        .iter()
        .map(|name| {
            let delta = after.get(*name).unwrap_or(&0).saturating_sub(*before.get(*name).unwrap_or(&0));
            format!("{name} {delta}")
        })
        .collect();
    println!("kernel TCP counters over the lossy phase, all nodes: {}", deltas.join(", "));
    let lossy = rt.block_on(common_height(&cluster, &all));
    println!("blocks, no loss: {}", blocks(start, clean));
    println!("blocks, 5% loss: {}", blocks(clean, lossy));
    let checked = rt.block_on(same_chain(&cluster));
    println!("{checked} heights identical on all 5 nodes");
    // The nodes' logs, kept for reading the lossy phase where asked.
    if let Ok(keep) = std::env::var("CHANCERY_LOSS_LOGS") {
        for (i, home) in cluster.homes.iter().enumerate() {
            std::fs::copy(home.join("node.log"), Path::new(&keep).join(format!("{}.log", NAMES[i]))).expect("copy log");
        }
    }
}

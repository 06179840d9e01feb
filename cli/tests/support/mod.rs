//! A real `chancery dev` process for tests: started on a free loopback port, killed
//! (SIGKILL) or stopped on drop.

#![allow(dead_code)]

pub mod testnet;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chancery_ledger::{ChainIdentity, Tx};
use chancery_node::signer::KeyFile;
use chancery_rpc::txs::evidence_tx;
use ed25519_dalek::SigningKey;

/// The idle interval of the chains tests make (`empty_block_interval_ms`): tests that wait
/// for heights or checkpoints get a block a second, as a busy chain would; the default
/// interval itself is tested in dev_node.rs.
pub const IDLE_BLOCK_MS: u64 = 1_000;

pub struct DevNode {
    pub child: Child,
    pub addr: String,
    pub home: PathBuf,
}

impl DevNode {
    pub fn start(home: &Path) -> DevNode {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(home.with_extension("log")).expect("log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_chancery"))
            .args(["dev", "--home"])
            .arg(home)
            .args(["--rpc-addr", "127.0.0.1:0"])
            .args(["--empty-block-interval-ms", &IDLE_BLOCK_MS.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn chancery dev");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = match lines.next() {
                Some(Ok(line)) => line,
                _ => {
                    let log = std::fs::read_to_string(home.with_extension("log")).unwrap_or_default();
                    panic!("chancery dev exited before serving RPC; log:\n{log}");
                }
            };
            if let Some(rest) = line.strip_prefix("RPC") {
                let url = rest.split_whitespace().next().expect("url");
                break url.trim_start_matches("ws://").to_string();
            }
        };
        // Keep draining stdout so the node never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        DevNode { child, addr, home: home.to_path_buf() }
    }

    pub fn ws(&self) -> String {
        format!("ws://{}", self.addr)
    }

    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("wait");
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().expect("kill -TERM");
        self.child.wait().expect("wait")
    }

    pub fn genesis(&self) -> chancery_genesis::Genesis {
        chancery_genesis::Genesis::from_json(&std::fs::read_to_string(self.home.join("genesis.json")).expect("genesis"))
            .expect("valid genesis")
    }

    /// The chain's identity (id and genesis hash) from the home's genesis.
    pub fn chain(&self) -> ChainIdentity {
        chain_of(&self.home)
    }

    pub fn key(&self, name: &str) -> SigningKey {
        KeyFile::load(&self.home.join(name), None).expect("key")
    }

    pub fn submitter_keys(&self) -> Vec<SigningKey> {
        let mut keys = vec![self.key("integrator.key")];
        keys.extend(bench_keys(&self.home));
        keys
    }

    /// One raw HTTP/1.1 request; returns status and body.
    pub fn http(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
        http(&self.addr, method, path, content_type, body)
    }
}

impl Drop for DevNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn http(addr: &str, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write head");
    // The server may answer (413) before reading a large body; a broken pipe is fine.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, dechunk(&body))
}

/// Joins a chunked body (hyper may chunk small responses too).
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else { return body.to_string() };
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { return body.to_string() };
        if n == 0 {
            return out;
        }
        if after.len() < n {
            return body.to_string();
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
}

/// Runs `chancery ARGS` with stderr appended to `log`; returns the child and the first
/// line it printed (stdout keeps being drained so the child never blocks on it).
pub fn spawn(args: &[&std::ffi::OsStr], log: &Path) -> (Child, String) {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_chancery"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("spawn chancery");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    std::thread::spawn(move || for _ in lines {});
    (child, first)
}

/// One JSON-RPC call over HTTP; the whole answer (result or error).
pub fn call(node: &DevNode, method: &str, params: serde_json::Value) -> serde_json::Value {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let (status, text) = node.http("POST", "/", "application/json", body.as_bytes());
    assert_eq!(status, 200, "{method}: HTTP {status}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method}: not JSON ({e}): {text}"))
}

/// Waits until `hash` is committed; its `evidence_status` answer.
pub fn wait_committed(node: &DevNode, hash: &str) -> serde_json::Value {
    for _ in 0..300 {
        let status = call(node, "evidence_status", serde_json::json!([hash]));
        if status["result"]["status"] == "committed" {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("tx {hash} not committed");
}

/// Makes hosted key `id` (bound to the demo CA's certificate `serial`) in the signer
/// home `home` with `chancery signer keys new`; its public key.
pub fn new_hosted_key(home: &Path, id: &str, serial: &str) -> chancery_ledger::PublicKey {
    let made = Command::new(env!("CARGO_BIN_EXE_chancery"))
        .args(["signer", "keys", "new", "--home"])
        .arg(home)
        .args(["--id", id, "--ca", "demo-ca", "--serial", serial])
        .output()
        .expect("chancery signer keys new");
    let made = String::from_utf8_lossy(&made.stdout).into_owned();
    let public_key = made.lines().find_map(|l| l.trim().strip_prefix("public key")).expect("public key").trim();
    chancery_ledger::PublicKey::from_hex(public_key).expect("key")
}

/// The bench submitter keys a dev or testnet directory holds (`bench/submitter-N.key`).
pub fn bench_keys(dir: &Path) -> Vec<SigningKey> {
    (0..chancery_node::devchain::BENCH_SUBMITTERS)
        .map(|i| KeyFile::load(&dir.join(format!("bench/submitter-{i}.key")), None).expect("bench key"))
        .collect()
}

/// The error code of an answer that must be an error.
pub fn error_code(answer: &serde_json::Value) -> i64 {
    answer["error"]["code"].as_i64().unwrap_or_else(|| panic!("expected an error, got {answer}"))
}

/// The identity of the chain whose `genesis.json` is in `dir`.
pub fn chain_of(dir: &Path) -> ChainIdentity {
    let genesis =
        chancery_genesis::Genesis::from_json(&std::fs::read_to_string(dir.join("genesis.json")).expect("genesis"))
            .expect("valid genesis");
    ChainIdentity { chain_id: genesis.chain_id.clone(), genesis_hash: genesis.hash() }
}

pub fn doc_txs(key: &SigningKey, chain: &ChainIdentity, tag: &str, nonce_base: u64, n: usize) -> Vec<Tx> {
    (0..n)
        .map(|i| {
            let digest = chancery_ledger::Digest::compute(
                chancery_ledger::DigestAlg::Sha256,
                format!("{tag} document {i}").as_bytes(),
            );
            evidence_tx(key, chain, chancery_ledger::tx::EvidenceKind::Document, digest, nonce_base + i as u64)
        })
        .collect()
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// The report with its visible text edited the way an editor would: the content
/// stream uncompressed (qpdf --qdf), two glyphs of one shown string swapped, lengths
/// fixed (fix-qdf).
pub fn edit_pdf_text(report: &Path, out: &Path, dir: &Path) {
    let qdf = dir.join("qdf.pdf");
    let made = Command::new("qpdf")
        .args(["--qdf", "--object-streams=disable"])
        .arg(report)
        .arg(&qdf)
        .output()
        .expect("qpdf (README's setup)");
    assert!(made.status.success(), "qpdf: {}", String::from_utf8_lossy(&made.stderr));
    let mut bytes = std::fs::read(&qdf).expect("qdf");
    // The page's content stream, as qpdf's QDF form marks it.
    let find =
        |from: usize, what: &[u8]| from + bytes[from..].windows(what.len()).position(|w| w == what).expect("found");
    let contents = find(0, b"%% Contents for page 1");
    let (stream_start, stream_end) = (find(contents, b"stream\n") + 7, find(contents, b"endstream"));
    // The 12th shown string with two different glyphs first: a fact's value, well past
    // the title and the verdict.
    let mut seen = 0;
    let mut at = stream_start;
    let (start, end, swapped) = loop {
        let open = find(at, b"<");
        assert!(open < stream_end, "a string to edit");
        let close = find(open, b">");
        at = close + 1;
        if bytes[open + 1] == b'<' {
            continue;
        }
        let Ok(codes) = hex::decode(&bytes[open + 1..close]) else { continue };
        if codes.len() >= 4 && codes[..2] != codes[2..4] {
            seen += 1;
            if seen == 12 {
                let mut swapped = codes.clone();
                swapped[..2].copy_from_slice(&codes[2..4]);
                swapped[2..4].copy_from_slice(&codes[..2]);
                break (open, close, swapped);
            }
        }
    };
    let hex = format!("<{}>", hex::encode(&swapped));
    bytes.splice(start..=end, hex.into_bytes());
    let edited = dir.join("edited-qdf.pdf");
    std::fs::write(&edited, &bytes).expect("write");
    let fixed = Command::new("fix-qdf").arg(&edited).output().expect("fix-qdf (qpdf)");
    assert!(fixed.status.success(), "fix-qdf: {}", String::from_utf8_lossy(&fixed.stderr));
    std::fs::write(out, fixed.stdout).expect("write");
}

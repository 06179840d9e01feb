//! The node's `config.toml`: every field documented in the template `chancery init`
//! writes, and validated with an error that names the rule broken.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Largest config file read, in bytes.
pub const CONFIG_BYTES_MAX: u64 = 64 * 1024;

/// A node's configuration. Paths are relative to the node home unless absolute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Name of this node in logs and metrics.
    pub moniker: String,
    /// The chain.
    pub chain: ChainConfig,
    /// Key files.
    pub keys: KeysConfig,
    /// The chain store.
    pub store: StoreConfig,
    /// JSON-RPC.
    pub rpc: RpcConfig,
    /// Mempool bounds.
    pub mempool: MempoolConfig,
    /// The validators' network.
    pub p2p: P2pConfig,
    /// Logging.
    pub log: LogConfig,
    /// Hosted document-signing keys.
    #[serde(default)]
    pub hosted: HostedConfig,
}

/// `[hosted]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostedConfig {
    /// Where the hosted keys live (`chancery signer keys new` makes them there).
    pub keys_dir: PathBuf,
    /// The token `signer_signDigest` callers present; written on first start.
    pub token_file: PathBuf,
    /// The integrator key that signs the signing events anchored for hosted signatures.
    pub submitter_key: PathBuf,
    /// Serve `signer_signDigest` when `[rpc] listen` is not a loopback address.
    pub allow_remote: bool,
    /// How long `signer_signDigest` waits for its signing event to commit before it
    /// answers a retryable error instead of the signature.
    #[serde(default = "default_commit_wait_ms")]
    pub commit_wait_ms: u64,
}

fn default_commit_wait_ms() -> u64 {
    30_000
}

impl Default for HostedConfig {
    fn default() -> Self {
        HostedConfig {
            keys_dir: "hosted".into(),
            token_file: "keys/hosted.token".into(),
            submitter_key: "keys/hosted-submitter.key".into(),
            allow_remote: false,
            commit_wait_ms: default_commit_wait_ms(),
        }
    }
}

/// `[p2p]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct P2pConfig {
    /// Listen address, a multiaddr (`/ip4/0.0.0.0/tcp/26656`); empty: no network (a
    /// one-validator chain).
    pub listen: String,
    /// The node's p2p key file (its network identity, named in the genesis).
    pub p2p_key: PathBuf,
    /// Peers to dial: multiaddrs ending in `/p2p/<peer id>`.
    pub peers: Vec<String>,
    /// Public p2p keys (hex) of observers allowed to connect besides the validators.
    pub observers: Vec<String>,
    /// Public p2p keys (hex) of peers to refuse and disconnect even when they are
    /// validators (to isolate a misbehaving node). Re-read on SIGHUP.
    pub blocked: Vec<String>,
    /// Send consensus messages over gossipsub instead of direct streams (measured
    /// slower here; kept for comparison).
    pub consensus_gossip: bool,
    /// Proposals name their txs by hash; receivers take them from their mempools and
    /// fetch the rest from the proposer (direct streams only).
    #[serde(default = "enabled")]
    pub compact_proposals: bool,
}

fn enabled() -> bool {
    true
}

/// `[chain]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// The genesis file.
    pub genesis: PathBuf,
}

/// `[keys]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// Consensus key file (validators only).
    pub consensus_key: PathBuf,
    /// Double-sign guard state file; never delete it.
    pub signer_state: PathBuf,
    /// Environment variable holding the key passphrase; empty for an unencrypted key.
    pub passphrase_env: String,
    /// `unix:PATH` of a remote signer (`chancery signer`) holding the consensus key and
    /// its guard; empty to use `consensus_key` and `signer_state` here.
    pub remote_signer: String,
}

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// RocksDB directory.
    pub data_dir: PathBuf,
    /// Blocks checked when the store opens.
    pub check_last_blocks: u64,
}

/// `[rpc]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RpcConfig {
    /// Listen address, `host:port`.
    pub listen: String,
    /// Largest request body, bytes.
    pub request_bytes_max: u32,
    /// Most calls in one batch request.
    pub batch_len_max: u32,
    /// A connection with no call in flight, no subscription and no call for this long is
    /// closed (so idle clients cannot hold every connection slot).
    #[serde(default = "default_idle_timeout_ms")]
    pub idle_timeout_ms: u64,
}

fn default_idle_timeout_ms() -> u64 {
    60_000
}

/// `[mempool]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MempoolConfig {
    /// Most txs waiting, in all.
    pub txs_max: u32,
    /// Most bytes waiting, in all.
    pub bytes_max: u64,
    /// Most txs waiting from one submitter.
    pub per_submitter_txs_max: u32,
    /// Most bytes waiting from one submitter.
    pub per_submitter_bytes_max: u64,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// "text" or "json".
    pub format: String,
    /// "error", "warn", "info", "debug" or "trace".
    pub level: String,
}

/// A config that cannot be used, naming the rule broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not readable.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
    /// Not TOML of the config schema.
    #[error("{path} is not a valid config: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A rule broken.
    #[error("config {field}: {rule}")]
    Rule {
        /// The field, as `section.name`.
        field: &'static str,
        /// The rule, with the value found.
        rule: String,
    },
}

/// The commented template `chancery init` writes.
pub const TEMPLATE: &str = r#"# Chancery node configuration. Paths are relative to the node home unless absolute.

# Name of this node in logs and metrics.
moniker = "chancery-node"

[chain]
# The chain's genesis file: the trust root every block and proof is checked against.
genesis = "genesis.json"

[keys]
# Consensus key file (validators only). Must be readable by its owner only (chmod 600).
consensus_key = "keys/consensus.key"
# Double-sign guard state. Never delete or roll it back: it is what stops this validator
# from signing twice at one height and round after a restart.
signer_state = "keys/signer_state.json"
# Environment variable holding the key passphrase; empty when the key is not encrypted.
passphrase_env = ""
# A remote signer (`chancery signer --home DIR --listen unix:PATH`) as "unix:PATH": the
# key and its guard then live in that process only. Empty: the key files above.
remote_signer = ""

[store]
# RocksDB directory of the chain store.
data_dir = "data"
# Blocks whose integrity is checked at every start (`chancery store check` checks all).
check_last_blocks = 100

[rpc]
# JSON-RPC over HTTP and WebSocket on one port. Loopback by default.
listen = "127.0.0.1:7700"
# Largest request body, in bytes.
request_bytes_max = 4194304
# Most calls in one batch request.
batch_len_max = 1000
# A connection with no call in flight, no subscription and no call for this long is
# closed, so idle clients cannot hold the 256 connection slots.
idle_timeout_ms = 60000

[mempool]
# Bounds on txs waiting for a block; above them submitters get "mempool full, retry".
txs_max = 50000
bytes_max = 67108864
per_submitter_txs_max = 20000
per_submitter_bytes_max = 33554432

[p2p]
# Where other validators reach this node (a multiaddr); empty for a one-validator chain.
listen = ""
# This node's network identity: the p2p key named in the genesis.
p2p_key = "keys/p2p.key"
# Peers to dial, as multiaddrs ending in /p2p/<peer id> (see `chancery testnet init`).
peers = []
# Only validators of the current set and these observers (hex p2p public keys) may
# connect; anyone else is refused when the connection is made.
observers = []
# Public p2p keys (hex) of peers to refuse and disconnect, even validators (to isolate a
# misbehaving node). `kill -HUP` makes a running node re-read this list.
blocked = []
# Consensus messages over gossipsub instead of direct streams to each peer. Direct
# streams measured faster on a four-validator network (docs/BENCHMARKS.md).
consensus_gossip = false
# Proposals carry tx hashes instead of whole txs; peers take the txs from their mempools
# (txs are gossiped as they are admitted) and fetch any they lack from the proposer.
compact_proposals = true

[hosted]
# Hosted document-signing keys ("cloud certificates"), made inside this directory with
# `chancery signer keys new --home HOME`; signer_signDigest uses them.
keys_dir = "hosted"
# The token signer_signDigest callers present; written (owner-only) on the first start
# with hosted keys.
token_file = "keys/hosted.token"
# The integrator key (a member allowed signing events) that signs the signing events
# the node anchors for hosted signatures.
submitter_key = "keys/hosted-submitter.key"
# Serve signer_signDigest when [rpc] listen is not a loopback address.
allow_remote = false
# A hosted signature is returned only once its signing event is committed; after this
# long without a commit the caller gets a retryable error and no signature.
commit_wait_ms = 30000

[log]
# "text" or "json".
format = "text"
# "error", "warn", "info", "debug" or "trace".
level = "info"
"#;

impl Config {
    /// The template's values.
    pub fn template() -> Result<Config, ConfigError> {
        Config::parse(TEMPLATE, "the built-in template")
    }

    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let name = path.display().to_string();
        let io = |e: std::io::Error| ConfigError::Io { path: name.clone(), message: e.to_string() };
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > CONFIG_BYTES_MAX {
            return Err(ConfigError::Io {
                path: name,
                message: format!("{size} bytes, above the limit of {CONFIG_BYTES_MAX}"),
            });
        }
        Config::parse(&std::fs::read_to_string(path).map_err(io)?, &name)
    }

    /// Parses and validates config text.
    pub fn parse(text: &str, name: &str) -> Result<Config, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError::Syntax { path: name.to_string(), message: e.to_string() })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every rule; the error names the first broken.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let rule = |field, rule: String| Err(ConfigError::Rule { field, rule });
        if self.moniker.trim().is_empty() || self.moniker.len() > 64 {
            return rule("moniker", "must be 1 to 64 characters".into());
        }
        if self.rpc.listen.parse::<SocketAddr>().is_err() {
            return rule("rpc.listen", format!("{:?} is not host:port (for example 127.0.0.1:7700)", self.rpc.listen));
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.rpc.request_bytes_max) {
            return rule(
                "rpc.request_bytes_max",
                format!("{} must be between 1024 and 67108864", self.rpc.request_bytes_max),
            );
        }
        if !(1..=10_000).contains(&self.rpc.batch_len_max) {
            return rule("rpc.batch_len_max", format!("{} must be between 1 and 10000", self.rpc.batch_len_max));
        }
        if !(1_000..=86_400_000).contains(&self.rpc.idle_timeout_ms) {
            return rule(
                "rpc.idle_timeout_ms",
                format!("{} must be between 1000 (1 s) and 86400000 (a day)", self.rpc.idle_timeout_ms),
            );
        }
        if !(1_000..=600_000).contains(&self.hosted.commit_wait_ms) {
            return rule(
                "hosted.commit_wait_ms",
                format!("{} must be between 1000 (1 s) and 600000 (10 minutes)", self.hosted.commit_wait_ms),
            );
        }
        let m = &self.mempool;
        if m.txs_max == 0 || m.bytes_max == 0 {
            return rule("mempool.txs_max", "txs_max and bytes_max must be above 0".into());
        }
        if m.per_submitter_txs_max == 0 || m.per_submitter_txs_max > m.txs_max {
            return rule(
                "mempool.per_submitter_txs_max",
                format!("{} must be between 1 and mempool.txs_max ({})", m.per_submitter_txs_max, m.txs_max),
            );
        }
        if m.per_submitter_bytes_max == 0 || m.per_submitter_bytes_max > m.bytes_max {
            return rule(
                "mempool.per_submitter_bytes_max",
                format!("{} must be between 1 and mempool.bytes_max ({})", m.per_submitter_bytes_max, m.bytes_max),
            );
        }
        if !["text", "json"].contains(&self.log.format.as_str()) {
            return rule("log.format", format!("{:?} must be \"text\" or \"json\"", self.log.format));
        }
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log.level.as_str()) {
            return rule("log.level", format!("{:?} must be one of error, warn, info, debug, trace", self.log.level));
        }
        if !self.keys.remote_signer.is_empty() && !self.keys.remote_signer.starts_with("unix:") {
            return rule("keys.remote_signer", format!("{:?} must be unix:PATH", self.keys.remote_signer));
        }
        if !self.p2p.listen.is_empty() && !self.p2p.listen.starts_with('/') {
            return rule(
                "p2p.listen",
                format!("{:?} is not a multiaddr (for example /ip4/0.0.0.0/tcp/26656)", self.p2p.listen),
            );
        }
        if let Some(peer) = self.p2p.peers.iter().find(|p| !p.starts_with('/') || !p.contains("/p2p/")) {
            return rule("p2p.peers", format!("{peer:?} is not a multiaddr ending in /p2p/<peer id>"));
        }
        for (field, keys) in [("p2p.observers", &self.p2p.observers), ("p2p.blocked", &self.p2p.blocked)] {
            if let Some(key) = keys.iter().find(|k| chancery_ledger::PublicKey::from_hex(k).is_err()) {
                return rule(field, format!("{key:?} is not a hex public key (64 hex digits)"));
            }
        }
        for (field, path) in [
            ("chain.genesis", &self.chain.genesis),
            ("keys.consensus_key", &self.keys.consensus_key),
            ("keys.signer_state", &self.keys.signer_state),
            ("store.data_dir", &self.store.data_dir),
        ] {
            if path.as_os_str().is_empty() {
                return rule(field, "must not be empty".into());
            }
        }
        Ok(())
    }

    /// `path` resolved against the node home.
    pub fn resolve(home: &Path, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            home.join(path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_is_valid_and_documents_every_field() {
        let config = Config::template().expect("valid template");
        assert_eq!(config.rpc.listen, "127.0.0.1:7700");
        // Every field of the template has a comment line above it or in its section.
        for line in TEMPLATE.lines().filter(|l| l.contains(" = ")) {
            let field = line.split(" = ").next().unwrap_or_default();
            let position = TEMPLATE.find(line).unwrap_or(0);
            assert!(
                TEMPLATE[..position].lines().rev().take(4).any(|l| l.starts_with('#')),
                "field {field} is undocumented"
            );
        }
    }

    #[test]
    fn each_broken_rule_is_named() {
        let cases = [
            (
                "listen = \"127.0.0.1:7700\"",
                "listen = \"localhost\"",
                "config rpc.listen: \"localhost\" is not host:port",
            ),
            ("batch_len_max = 1000", "batch_len_max = 0", "config rpc.batch_len_max"),
            (
                "per_submitter_txs_max = 20000",
                "per_submitter_txs_max = 60000",
                "must be between 1 and mempool.txs_max (50000)",
            ),
            ("format = \"text\"", "format = \"xml\"", "config log.format"),
            ("level = \"info\"", "level = \"loud\"", "config log.level"),
            ("moniker = \"chancery-node\"", "moniker = \"\"", "config moniker"),
            ("moniker = \"chancery-node\"", "moniker = \"x\"\nunknown = 1", "unknown field `unknown`"),
            ("[log]", "[logs]", "is not a valid config"),
        ];
        for (from, to, want) in cases {
            let text = TEMPLATE.replacen(from, to, 1);
            assert_ne!(text, TEMPLATE, "case {from} must change the template");
            let err = Config::parse(&text, "config.toml").expect_err(want);
            assert!(err.to_string().contains(want), "{err} should contain {want}");
        }
    }
}

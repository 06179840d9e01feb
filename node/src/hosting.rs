//! Hosted signing as a node serves it (`signer_signDigest`): the hosted keys of this
//! node's signer, the token callers present, and the integrator key that signs the
//! signing events the node anchors. Served on a loopback RPC address only, unless the
//! operator allows otherwise.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use ed25519_dalek::SigningKey;

use crate::config::{Config, HostedConfig};
use chancery_ledger::{Digest, Signature};

use crate::signer::hosted::{HostedError, HostedKeyInfo, HostedKeys, KeyUse};
use crate::signer::remote::RemoteHosted;
use crate::signer::KeyFile;

/// Where the hosted keys are: in this node's signer module, or in a remote signer.
pub enum HostedStore {
    /// In the node home's keys directory.
    Local(HostedKeys),
    /// In the remote signer (`keys.remote_signer`), which logs every use itself.
    Remote(RemoteHosted),
}

impl HostedStore {
    /// A key's binding.
    pub fn info(&self, key_id: &str) -> Result<HostedKeyInfo, HostedError> {
        match self {
            HostedStore::Local(keys) => keys.info(key_id),
            HostedStore::Remote(remote) => remote.info(key_id),
        }
    }

    /// A signature by the key of `info` over `digest`'s bytes. A remote signer applies
    /// the policy itself: it gets the caller's `token` and a status proof of the key's
    /// certificate (`cert_proof` makes its JSON).
    pub fn sign(
        &self,
        info: &HostedKeyInfo,
        digest: &Digest,
        token: &str,
        cert_proof: impl FnOnce() -> Result<String, HostedError>,
    ) -> Result<Signature, HostedError> {
        match self {
            HostedStore::Local(keys) => keys.sign(&info.key_id, digest),
            HostedStore::Remote(remote) => {
                let proof = cert_proof()?;
                remote.sign(&info.key_id, digest, &info.public_key, token, proof)
            }
        }
    }

    /// Records a use in the usage log here (a remote signer logged the signature when
    /// it made it; the node's own log records the anchoring).
    pub fn record(&self, entry: &KeyUse) -> Result<(), HostedError> {
        match self {
            HostedStore::Local(keys) => keys.record(entry),
            HostedStore::Remote(_) => {
                tracing::info!(key_id = %entry.key_id, digest = %entry.digest, stage = ?entry.stage, tx = ?entry.tx_hash, height = ?entry.height, refused = ?entry.refused, "hosted signature use");
                Ok(())
            }
        }
    }
}

/// Hosted signing, set up.
pub struct HostedSigning {
    /// The keys.
    pub keys: HostedStore,
    token: blake3::Hash,
    /// Signs the anchoring txs (a registered integrator allowed signing events).
    pub submitter: SigningKey,
    last_nonce: AtomicU64,
    /// Held from taking a nonce to submitting its tx, so nonces reach the mempool in
    /// order.
    pub turn: tokio::sync::Mutex<()>,
    /// How long a call waits for its signing event to commit.
    pub commit_wait: std::time::Duration,
}

/// Whether this node serves hosted signing, and if not, why.
pub enum HostedAccess {
    /// Served.
    Served(std::sync::Arc<HostedSigning>),
    /// Not served, with the reason a caller is told.
    Off(String),
}

/// Length of a generated token, in random bytes.
const TOKEN_BYTES: usize = 32;

impl HostedSigning {
    /// Whether `token` is this node's token (compared through hashes, in constant time).
    pub fn token_matches(&self, token: &str) -> bool {
        blake3::hash(token.trim().as_bytes()) == self.token
    }

    /// A nonce above every nonce this node used for the submitter: the clock in
    /// microseconds, or one more than the last.
    pub fn next_nonce(&self) -> u64 {
        let clock = chancery_rpc::txs::clock_nonce();
        let previous = self
            .last_nonce
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| Some(clock.max(last + 1)))
            .unwrap_or(clock);
        clock.max(previous + 1)
    }
}

/// Sets hosted signing up from `config`: off when the node has no submitter key, or its
/// RPC listens beyond loopback without `allow_remote`. Writes the token file on first
/// use. Errors (unreadable keys or token) stop the node.
pub fn load(
    home: &Path,
    config: &Config,
    rpc_listen: &str,
    passphrase: Option<&str>,
) -> Result<HostedAccess, HostingSetupError> {
    let hosted: &HostedConfig = &config.hosted;
    let loopback = rpc_listen.parse::<std::net::SocketAddr>().is_ok_and(|a| a.ip().is_loopback());
    if !loopback && !hosted.allow_remote {
        return Ok(HostedAccess::Off(format!(
            "hosted signing is served on a loopback RPC address only; this node listens on {rpc_listen} (see [hosted] allow_remote)"
        )));
    }
    let submitter_path = Config::resolve(home, &hosted.submitter_key);
    if !submitter_path.exists() {
        return Ok(HostedAccess::Off(format!(
            "hosted signing is not set up on this node: it needs [hosted] submitter_key, an integrator key allowed signing events (none at {})",
            submitter_path.display()
        )));
    }
    let keys = match config.keys.remote_signer.strip_prefix("unix:") {
        Some(path) => HostedStore::Remote(RemoteHosted::new(Path::new(path))),
        None => {
            let dir = Config::resolve(home, &hosted.keys_dir);
            HostedStore::Local(HostedKeys::open(&dir, passphrase)?)
        }
    };
    let submitter = KeyFile::load(&submitter_path, passphrase).map_err(HostingSetupError::Submitter)?;
    let token_path = Config::resolve(home, &hosted.token_file);
    let token = read_or_create_token(&token_path)?;
    tracing::info!(token_file = %token_path.display(), "hosted signing served");
    Ok(HostedAccess::Served(std::sync::Arc::new(HostedSigning {
        keys,
        token: blake3::hash(token.as_bytes()),
        submitter,
        last_nonce: AtomicU64::new(0),
        turn: tokio::sync::Mutex::new(()),
        commit_wait: std::time::Duration::from_millis(hosted.commit_wait_ms),
    })))
}

/// The token in `path`, made (owner-only, random) if the file does not exist; refuses a
/// file others can read.
pub fn read_or_create_token(path: &Path) -> Result<String, TokenFileError> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let name = || path.display().to_string();
    let io = |e: std::io::Error| TokenFileError::Io { path: name(), reason: e.to_string() };
    if path.exists() {
        let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(TokenFileError::Readable { path: name(), mode });
        }
        let token = std::fs::read_to_string(path).map_err(io)?;
        let token = token.trim().to_string();
        if token.len() < 32 || token.len() > 256 {
            return Err(TokenFileError::Length { path: name() });
        }
        return Ok(token);
    }
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::getrandom(&mut bytes).map_err(|e| TokenFileError::Randomness { reason: e.to_string() })?;
    let token = hex::encode(bytes);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| TokenFileError::Io { path: parent.display().to_string(), reason: e.to_string() })?;
    }
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io)?;
    file.write_all(format!("{token}\n").as_bytes()).and_then(|()| file.sync_all()).map_err(io)?;
    Ok(token)
}

/// Hosted signing that cannot be set up: the node does not start.
#[derive(Debug, thiserror::Error)]
pub enum HostingSetupError {
    /// The hosted keys cannot be read.
    #[error(transparent)]
    Keys(#[from] HostedError),
    /// The submitter key cannot be read.
    #[error("[hosted] submitter_key (the integrator key that anchors hosted signatures): {0}")]
    Submitter(crate::signer::KeyFileError),
    /// The token file cannot be used.
    #[error(transparent)]
    Token(#[from] TokenFileError),
}

/// A hosted-signing token file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenFileError {
    /// The file system failed.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        reason: String,
    },
    /// Others may read it.
    #[error("{path} is readable by others (mode {mode:o}); chmod 600 it")]
    Readable {
        /// The file.
        path: String,
        /// Its mode bits.
        mode: u32,
    },
    /// Too short or too long.
    #[error("{path}: a token must be 32 to 256 characters")]
    Length {
        /// The file.
        path: String,
    },
    /// No randomness to make one.
    #[error("no system randomness: {reason}")]
    Randomness {
        /// What failed.
        reason: String,
    },
}

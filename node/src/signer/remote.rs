//! The remote signer: the consensus key and its double-sign guard in a separate process
//! (`chancery signer --home DIR --listen unix:PATH`), reached by the node over a Unix
//! socket through the same [`Signer`] trait. The socket is created readable and
//! writable by its owner only.
//!
//! The signer answers one request at a time (connections are served side by side, the
//! keys behind one lock), so its guard sees every request in order. The node retries a
//! request until the signer answers (a signer restart only pauses consensus): retrying
//! is safe because the guard answers a repeated request with the same signature and
//! refuses anything conflicting, whoever asks.
//!
//! The signer also holds the hosted document-signing keys of its home (see
//! [`super::hosted`]): the node asks for a key's certificate binding and for signatures
//! over digests; the signer logs every signature in its own `usage.log`.
//!
//! Frames: `len: u32 BE | canonical bytes`, at most [`FRAME_BYTES_MAX`].

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bincode::{Decode, Encode};
use chancery_consensus::context::Sig;
use chancery_consensus::engine::{SignRequest, SignStep, Signer, SignerRefused};
use chancery_ledger::codec::{BoundedString, BoundedVec};
use chancery_ledger::tx::CertSerial;
use chancery_ledger::validator::CaId;
use chancery_ledger::{decode, encode, Canonical, Digest, Hash, PublicKey, Signature};

use super::hosted::{self, HostedError, HostedKeyInfo, HostedKeys, KeyUse, KEY_ID_LEN_MAX};

use super::{LocalSigner, CONSENSUS_KEYS_MAX};

/// Largest frame either side accepts.
pub const FRAME_BYTES_MAX: usize = 1024;

/// What the node asks.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum RemoteRequest {
    /// The consensus public keys and the height last signed at.
    Identify,
    /// A consensus signature by `key`.
    Sign {
        /// The consensus key to sign with.
        key: PublicKey,
        /// Height.
        height: u64,
        /// Round.
        round: u32,
        /// 0 propose, 1 prevote, 2 precommit.
        step: u8,
        /// What to sign.
        message: Hash,
    },
    /// A hosted key's certificate binding and public key.
    HostedKey {
        /// The key id.
        key_id: BoundedString<KEY_ID_LEN_MAX>,
    },
    /// A document signature by a hosted key over a digest's bytes.
    SignDigest {
        /// The key id.
        key_id: BoundedString<KEY_ID_LEN_MAX>,
        /// The digest.
        digest: Digest,
    },
}

impl Canonical for RemoteRequest {
    const KIND: &'static str = "signer request";
    const BYTES_MAX: usize = FRAME_BYTES_MAX;
}

/// What the signer answers.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum RemoteReply {
    /// The keys and the guard's height.
    Identity {
        /// Consensus public keys, the one in use first.
        keys: BoundedVec<PublicKey, CONSENSUS_KEYS_MAX>,
        /// Last height signed at.
        signed_up_to: Option<u64>,
    },
    /// The signature.
    Signed(Signature),
    /// Refused, with why (the guard, or a malformed request).
    Refused(String),
    /// A hosted key's binding.
    HostedKey {
        /// Its public key.
        public_key: PublicKey,
        /// The certificate's CA.
        ca: CaId,
        /// The certificate's serial.
        serial: CertSerial,
    },
    /// No hosted key has that id.
    NoSuchKey,
    /// A document signature.
    DocumentSigned(Signature),
}

impl Canonical for RemoteReply {
    const KIND: &'static str = "signer reply";
    const BYTES_MAX: usize = FRAME_BYTES_MAX;
}

fn step_code(step: SignStep) -> u8 {
    match step {
        SignStep::Propose => 0,
        SignStep::Prevote => 1,
        SignStep::Precommit => 2,
    }
}

fn step_of(code: u8) -> Option<SignStep> {
    match code {
        0 => Some(SignStep::Propose),
        1 => Some(SignStep::Prevote),
        2 => Some(SignStep::Precommit),
        _ => None,
    }
}

fn write_frame(stream: &mut UnixStream, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(&(bytes.len() as u32).to_be_bytes())?;
    stream.write_all(bytes)?;
    stream.flush()
}

fn read_frame(stream: &mut UnixStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > FRAME_BYTES_MAX {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "frame above the limit"));
    }
    let mut bytes = vec![0u8; len];
    stream.read_exact(&mut bytes)?;
    Ok(bytes)
}

fn hosted_reply(error: HostedError) -> RemoteReply {
    match error {
        HostedError::Unknown(_) => RemoteReply::NoSuchKey,
        other => RemoteReply::Refused(other.to_string()),
    }
}

/// Signs with a hosted key and logs the use before the signature leaves.
fn sign_digest(hosted: &HostedKeys, key_id: &str, digest: &Digest) -> RemoteReply {
    let signature = match hosted.sign(key_id, digest) {
        Ok(signature) => signature,
        Err(e) => return hosted_reply(e),
    };
    let entry = KeyUse {
        time_ms: crate::shared::now_ms(),
        key_id: key_id.to_string(),
        digest: digest.to_text(),
        signature_hash: hosted::signature_hash(&signature),
        tx_hash: None,
        refused: None,
    };
    match hosted.record(&entry) {
        Ok(()) => {
            tracing::info!(key_id, digest = %entry.digest, "hosted key signed a digest for the node");
            RemoteReply::DocumentSigned(signature)
        }
        Err(e) => RemoteReply::Refused(format!("usage log: {e}; the signature is withheld")),
    }
}

/// Answers one request. Consensus requests take the consensus signer's lock, so the
/// guard sees them one at a time; hosted-key requests do not wait for it.
pub fn answer(consensus: &std::sync::Mutex<&mut LocalSigner>, hosted: &HostedKeys, request: &[u8]) -> RemoteReply {
    let request = match decode::<RemoteRequest>(request) {
        Ok(request) => request,
        Err(e) => return RemoteReply::Refused(format!("malformed request: {e}")),
    };
    match request {
        RemoteRequest::HostedKey { key_id } => match hosted.info(key_id.as_str()) {
            Ok(info) => match info.cert() {
                Ok(cert) => RemoteReply::HostedKey { public_key: info.public_key, ca: cert.ca, serial: cert.serial },
                Err(e) => hosted_reply(e),
            },
            Err(e) => hosted_reply(e),
        },
        RemoteRequest::SignDigest { key_id, digest } => sign_digest(hosted, key_id.as_str(), &digest),
        RemoteRequest::Identify => {
            let mut signer = consensus.lock().unwrap_or_else(|e| e.into_inner());
            let mut keys = signer.public_keys();
            keys.truncate(CONSENSUS_KEYS_MAX);
            match BoundedVec::new(keys) {
                Ok(keys) => RemoteReply::Identity { keys, signed_up_to: signer.signed_up_to() },
                Err(e) => RemoteReply::Refused(e.to_string()),
            }
        }
        RemoteRequest::Sign { key, height, round, step, message } => match step_of(step) {
            Some(step) => {
                // A panic while signing cannot leave the guard half-written: it syncs its
                // state before a signature is returned.
                let mut signer = consensus.lock().unwrap_or_else(|e| e.into_inner());
                match signer.sign(&SignRequest { height, round, step, message, key }) {
                    Ok(sig) => RemoteReply::Signed(Signature(sig.0)),
                    Err(refused) => RemoteReply::Refused(refused.0),
                }
            }
            None => RemoteReply::Refused(format!("unknown step {step}")),
        },
    }
}

/// Most connections a signer serves at once (the node's consensus and its hosted
/// signing, with room for reconnects).
pub const CONNECTIONS_MAX: usize = 8;

/// Counts an open connection until dropped (also when its thread panics).
struct Open<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves the consensus signer and the hosted keys on a Unix socket at `path` until
/// `stop` is set: connections side by side. The socket file is replaced if stale and
/// made owner-only.
pub fn serve(consensus: &mut LocalSigner, hosted: &HostedKeys, path: &Path, stop: &AtomicBool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    listener.set_nonblocking(true)?;
    let consensus = std::sync::Mutex::new(consensus);
    let open = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        while !stop.load(Ordering::SeqCst) {
            let stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) => {
                    if e.kind() != std::io::ErrorKind::WouldBlock {
                        // Out of descriptors, an aborted connection: keep serving.
                        tracing::warn!(error = %e, "signer: accepting a connection failed");
                    }
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            };
            if open.load(Ordering::SeqCst) >= CONNECTIONS_MAX {
                tracing::warn!("signer: too many connections, one refused");
                continue;
            }
            open.fetch_add(1, Ordering::SeqCst);
            let (consensus, open) = (&consensus, Open(&open));
            scope.spawn(move || {
                let _open = open;
                if let Err(e) = serve_connection(stream, consensus, hosted, stop) {
                    tracing::debug!(error = %e, "signer connection ended");
                }
            });
        }
    });
    let _ = std::fs::remove_file(path);
    Ok(())
}

fn serve_connection(
    mut stream: UnixStream,
    consensus: &std::sync::Mutex<&mut LocalSigner>,
    hosted: &HostedKeys,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    while !stop.load(Ordering::SeqCst) {
        // Wait briefly for a request to start (to notice `stop`); once it has, read it
        // whole, so a slow writer never splits a frame.
        stream.set_read_timeout(Some(Duration::from_millis(200)))?;
        let mut first = [0u8; 1];
        match stream.read(&mut first) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(e) => return Err(e),
        }
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut rest = [0u8; 3];
        stream.read_exact(&mut rest)?;
        let len = u32::from_be_bytes([first[0], rest[0], rest[1], rest[2]]) as usize;
        if len > FRAME_BYTES_MAX {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "frame above the limit"));
        }
        let mut request = vec![0u8; len];
        stream.read_exact(&mut request)?;
        write_frame(&mut stream, &encode(&answer(consensus, hosted, &request)))?;
    }
    Ok(())
}

/// The node's side: a [`Signer`] that asks the remote signer, reconnecting and retrying
/// until it answers or the node stops.
pub struct RemoteSigner {
    path: PathBuf,
    stream: Option<UnixStream>,
    stopping: Arc<AtomicBool>,
    keys: Vec<PublicKey>,
    signed_up_to: Option<u64>,
}

impl RemoteSigner {
    /// Connects to the signer at `path` and asks who it is (waiting up to `wait` for it
    /// to come up).
    pub fn connect(path: &Path, stopping: Arc<AtomicBool>, wait: Duration) -> Result<Self, String> {
        let deadline = std::time::Instant::now() + wait;
        let mut last = String::new();
        while std::time::Instant::now() < deadline {
            match UnixStream::connect(path) {
                Ok(stream) => {
                    let mut signer = RemoteSigner {
                        path: path.to_path_buf(),
                        stream: Some(stream),
                        stopping: stopping.clone(),
                        keys: Vec::new(),
                        signed_up_to: None,
                    };
                    match signer.call(&RemoteRequest::Identify) {
                        Ok(RemoteReply::Identity { keys, signed_up_to }) if !keys.is_empty() => {
                            signer.keys = keys.into_vec();
                            signer.signed_up_to = signed_up_to;
                            return Ok(signer);
                        }
                        Ok(other) => return Err(format!("the signer answered {other:?} to identify")),
                        Err(e) => last = e.to_string(),
                    }
                }
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("cannot reach the signer at {}: {last}", path.display()))
    }

    /// The consensus public key the signer holds in use.
    pub fn public_key(&self) -> PublicKey {
        self.keys[0]
    }

    fn call(&mut self, request: &RemoteRequest) -> std::io::Result<RemoteReply> {
        exchange(&self.path, &mut self.stream, request)
    }
}

/// One request and its reply over `stream` (connected to `path` first if needed; dropped
/// after a failure, so the next call reconnects).
fn exchange(path: &Path, stream: &mut Option<UnixStream>, request: &RemoteRequest) -> std::io::Result<RemoteReply> {
    if stream.is_none() {
        *stream = Some(UnixStream::connect(path)?);
    }
    let connected = stream.as_mut().ok_or_else(|| std::io::Error::other("no stream"))?;
    connected.set_read_timeout(Some(Duration::from_secs(10)))?;
    let result = write_frame(connected, &encode(request)).and_then(|()| read_frame(connected));
    match result {
        Ok(bytes) => decode::<RemoteReply>(&bytes)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())),
        Err(e) => {
            *stream = None;
            Err(e)
        }
    }
}

/// The node's side of hosted signing when its keys live in a remote signer.
pub struct RemoteHosted {
    path: PathBuf,
    stream: std::sync::Mutex<Option<UnixStream>>,
}

impl RemoteHosted {
    /// Hosted signing through the signer at `path` (connected on first use).
    pub fn new(path: &Path) -> Self {
        RemoteHosted { path: path.to_path_buf(), stream: std::sync::Mutex::new(None) }
    }

    fn call(&self, request: &RemoteRequest) -> Result<RemoteReply, HostedError> {
        let mut stream = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        exchange(&self.path, &mut stream, request)
            .map_err(|e| HostedError::Io { path: self.path.display().to_string(), message: e.to_string() })
    }

    fn key_id(key_id: &str) -> Result<BoundedString<KEY_ID_LEN_MAX>, HostedError> {
        hosted::check_id(key_id)?;
        BoundedString::new(key_id).map_err(|_| HostedError::BadKeyId(key_id.to_string()))
    }

    /// A hosted key's binding, as the signer holds it.
    pub fn info(&self, key_id: &str) -> Result<HostedKeyInfo, HostedError> {
        match self.call(&RemoteRequest::HostedKey { key_id: Self::key_id(key_id)? })? {
            RemoteReply::HostedKey { public_key, ca, serial } => Ok(HostedKeyInfo {
                key_id: key_id.to_string(),
                ca: ca.to_string(),
                serial: hex::encode(serial.as_bytes()),
                public_key,
            }),
            RemoteReply::NoSuchKey => Err(HostedError::Unknown(key_id.to_string())),
            RemoteReply::Refused(why) => Err(HostedError::Refused(why)),
            other => Err(HostedError::Refused(format!("unexpected signer reply {other:?}"))),
        }
    }

    /// A signature over `digest`'s bytes, checked against `public_key` before it is
    /// passed on.
    pub fn sign(&self, key_id: &str, digest: &Digest, public_key: &PublicKey) -> Result<Signature, HostedError> {
        let request = RemoteRequest::SignDigest { key_id: Self::key_id(key_id)?, digest: digest.clone() };
        match self.call(&request)? {
            RemoteReply::DocumentSigned(signature) => {
                let key = ed25519_dalek::VerifyingKey::from_bytes(&public_key.0)
                    .map_err(|e| HostedError::Refused(format!("hosted public key: {e}")))?;
                key.verify_strict(digest.bytes(), &ed25519_dalek::Signature::from_bytes(&signature.0))
                    .map_err(|e| HostedError::Refused(format!("the signer returned a bad signature: {e}")))?;
                Ok(signature)
            }
            RemoteReply::NoSuchKey => Err(HostedError::Unknown(key_id.to_string())),
            RemoteReply::Refused(why) => Err(HostedError::Refused(why)),
            other => Err(HostedError::Refused(format!("unexpected signer reply {other:?}"))),
        }
    }
}

impl Signer for RemoteSigner {
    fn signed_up_to(&self) -> Option<u64> {
        self.signed_up_to
    }

    fn public_keys(&mut self) -> Vec<PublicKey> {
        // Asked once per height: the signer may have picked up a successor key.
        match self.call(&RemoteRequest::Identify) {
            Ok(RemoteReply::Identity { keys, .. }) if !keys.is_empty() => self.keys = keys.into_vec(),
            Ok(other) => tracing::warn!(reply = ?other, "the signer answered identify unexpectedly"),
            Err(e) => tracing::warn!(error = %e, "the signer is unreachable; keeping the keys it named before"),
        }
        self.keys.clone()
    }

    fn sign(&mut self, request: &SignRequest) -> Result<Sig, SignerRefused> {
        let wire = RemoteRequest::Sign {
            key: request.key,
            height: request.height,
            round: request.round,
            step: step_code(request.step),
            message: request.message,
        };
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.call(&wire) {
                Ok(RemoteReply::Signed(signature)) => {
                    // Never pass on a signature that does not verify under the key.
                    return match request.key.verify(&request.message, &signature) {
                        Ok(()) => {
                            self.signed_up_to = Some(self.signed_up_to.unwrap_or(0).max(request.height));
                            Ok(Sig(signature.0))
                        }
                        Err(e) => Err(SignerRefused(format!("the remote signer returned a bad signature: {e}"))),
                    };
                }
                Ok(RemoteReply::Refused(why)) => return Err(SignerRefused(why)),
                Ok(other) => return Err(SignerRefused(format!("unexpected signer reply {other:?}"))),
                Err(e) => {
                    if self.stopping.load(Ordering::SeqCst) {
                        return Err(SignerRefused(format!("node stopping; signer unreachable: {e}")));
                    }
                    tracing::warn!(path = %self.path.display(), error = %e, "signer unreachable, retrying");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }
}

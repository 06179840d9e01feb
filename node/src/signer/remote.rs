//! The remote signer: the consensus key and its double-sign guard in a separate process
//! (`chancery signer --home DIR --listen unix:PATH`), reached by the node over a Unix
//! socket through the same [`Signer`] trait. The socket is created readable and
//! writable by its owner only.
//!
//! The signer serves one request at a time, so its guard sees every request in order.
//! The node retries a request until the signer answers (a signer restart only pauses
//! consensus): retrying is safe because the guard answers a repeated request with the
//! same signature and refuses anything conflicting, whoever asks.
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
use chancery_ledger::{decode, encode, Canonical, Hash, PublicKey, Signature};

use super::LocalSigner;

/// Largest frame either side accepts.
pub const FRAME_BYTES_MAX: usize = 1024;

/// What the node asks.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum RemoteRequest {
    /// The consensus public key and the height last signed at.
    Identify,
    /// A consensus signature.
    Sign {
        /// Height.
        height: u64,
        /// Round.
        round: u32,
        /// 0 propose, 1 prevote, 2 precommit.
        step: u8,
        /// What to sign.
        message: Hash,
    },
}

impl Canonical for RemoteRequest {
    const KIND: &'static str = "signer request";
    const BYTES_MAX: usize = FRAME_BYTES_MAX;
}

/// What the signer answers.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum RemoteReply {
    /// The key and the guard's height.
    Identity {
        /// Consensus public key.
        key: PublicKey,
        /// Last height signed at.
        signed_up_to: Option<u64>,
    },
    /// The signature.
    Signed(Signature),
    /// Refused, with why (the guard, or a malformed request).
    Refused(String),
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

/// Answers one request with the local signer.
pub fn answer(signer: &mut LocalSigner, request: &[u8]) -> RemoteReply {
    match decode::<RemoteRequest>(request) {
        Ok(RemoteRequest::Identify) => {
            RemoteReply::Identity { key: signer.public_key(), signed_up_to: signer.signed_up_to() }
        }
        Ok(RemoteRequest::Sign { height, round, step, message }) => match step_of(step) {
            Some(step) => match signer.sign(&SignRequest { height, round, step, message }) {
                Ok(sig) => RemoteReply::Signed(Signature(sig.0)),
                Err(refused) => RemoteReply::Refused(refused.0),
            },
            None => RemoteReply::Refused(format!("unknown step {step}")),
        },
        Err(e) => RemoteReply::Refused(format!("malformed request: {e}")),
    }
}

/// Serves `signer` on a Unix socket at `path` until `stop` is set: one connection and
/// one request at a time. The socket file is replaced if stale and made owner-only.
pub fn serve(signer: &mut LocalSigner, path: &Path, stop: &AtomicBool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    listener.set_nonblocking(true)?;
    while !stop.load(Ordering::SeqCst) {
        let mut stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(e) => return Err(e),
        };
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(Duration::from_millis(200)))?;
        loop {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let request = match read_frame(&mut stream) {
                Ok(request) => request,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
                Err(_) => break,
            };
            let reply = answer(signer, &request);
            if write_frame(&mut stream, &encode(&reply)).is_err() {
                break;
            }
        }
    }
    let _ = std::fs::remove_file(path);
    Ok(())
}

/// The node's side: a [`Signer`] that asks the remote signer, reconnecting and retrying
/// until it answers or the node stops.
pub struct RemoteSigner {
    path: PathBuf,
    stream: Option<UnixStream>,
    stopping: Arc<AtomicBool>,
    key: PublicKey,
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
                        key: PublicKey([0; 32]),
                        signed_up_to: None,
                    };
                    match signer.call(&RemoteRequest::Identify) {
                        Ok(RemoteReply::Identity { key, signed_up_to }) => {
                            signer.key = key;
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

    /// The consensus public key the signer holds.
    pub fn public_key(&self) -> PublicKey {
        self.key
    }

    fn call(&mut self, request: &RemoteRequest) -> std::io::Result<RemoteReply> {
        if self.stream.is_none() {
            self.stream = Some(UnixStream::connect(&self.path)?);
        }
        let stream = self.stream.as_mut().ok_or_else(|| std::io::Error::other("no stream"))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let result = write_frame(stream, &encode(request)).and_then(|()| read_frame(stream));
        match result {
            Ok(bytes) => decode::<RemoteReply>(&bytes)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())),
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }
}

impl Signer for RemoteSigner {
    fn signed_up_to(&self) -> Option<u64> {
        self.signed_up_to
    }

    fn sign(&mut self, request: &SignRequest) -> Result<Sig, SignerRefused> {
        let wire = RemoteRequest::Sign {
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
                    return match self.key.verify(&request.message, &signature) {
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

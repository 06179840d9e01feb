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

/// How often the signer's accept loop looks for a connection (and for `stop`).
pub const ACCEPT_POLL: Duration = Duration::from_millis(20);
/// How long the signer waits for a request to start before it looks at `stop` again.
pub const REQUEST_START_POLL: Duration = Duration::from_millis(200);
/// How long a started frame may take to arrive, either way.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the node tries to reach the signer while it starts.
pub const CONNECT_RETRY: Duration = Duration::from_millis(100);
/// The node's backoff between attempts to reach an unreachable signer, from the first
/// to the longest.
pub const RETRY_BACKOFF_MIN: Duration = Duration::from_millis(50);
/// See [`RETRY_BACKOFF_MIN`].
pub const RETRY_BACKOFF_MAX: Duration = Duration::from_secs(2);
const _: () = assert!(RETRY_BACKOFF_MIN.as_millis() <= RETRY_BACKOFF_MAX.as_millis());
const _: () = assert!(REQUEST_START_POLL.as_millis() < FRAME_TIMEOUT.as_millis());

/// Largest reply frame the node accepts.
pub const FRAME_BYTES_MAX: usize = 1024;
/// Largest certificate status proof (JSON) a document-signing request carries: validator
/// changes make it grow with the chain's history of set changes.
pub const CERT_PROOF_BYTES_MAX: usize = 8 << 20;
/// Largest request frame the signer accepts.
pub const REQUEST_BYTES_MAX: usize = CERT_PROOF_BYTES_MAX + FRAME_BYTES_MAX;
/// Longest hosted-signing token.
pub const TOKEN_LEN_MAX: usize = 256;
/// How far a certificate proof's time may be from the signer's clock: the status is
/// asked at "now".
pub const CERT_PROOF_CLOCK_SKEW_MS: u64 = 60_000;
/// How old the block a certificate proof is proven as of may be: a revocation recorded
/// since would not show. Blocks come every second under load and at least every
/// `empty_block_interval_ms` when idle, which must stay well below this.
pub const CERT_PROOF_AGE_MAX_MS: u64 = 10 * 60_000;
const _: () = assert!(
    chancery_ledger::limits::EMPTY_BLOCK_INTERVAL_MS_MAX * 2 <= CERT_PROOF_AGE_MAX_MS,
    "an idle chain makes blocks well within a proof's age limit"
);

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
    /// A document signature by a hosted key over a digest's bytes. The signer applies
    /// the policy the node's RPC applies, itself: the caller's token, and the key's
    /// certificate valid now, issued for this key, shown by a status proof it verifies
    /// against the genesis in its home.
    SignDigest {
        /// The key id.
        key_id: BoundedString<KEY_ID_LEN_MAX>,
        /// The digest.
        digest: Digest,
        /// The hosted-signing token the caller presented.
        token: BoundedString<TOKEN_LEN_MAX>,
        /// A certificate status proof (JSON) of the key's certificate at the signer's
        /// "now", as of the node's latest block.
        cert_proof: chancery_ledger::codec::BoundedBytes<CERT_PROOF_BYTES_MAX>,
    },
}

impl Canonical for RemoteRequest {
    const KIND: &'static str = "signer request";
    const BYTES_MAX: usize = REQUEST_BYTES_MAX;
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

/// What the signer requires of a document-signing request, read from its home: the
/// hosted-signing token (`keys/hosted.token`, made on first start; the node's
/// `[hosted] token_file` must hold the same token) and the chain's genesis
/// (`genesis.json`), against which it verifies certificate status proofs.
pub struct HostedPolicy {
    token: blake3::Hash,
    trust: Option<chancery_ledger::verify::TrustRoot>,
}

impl HostedPolicy {
    /// The policy of the signer home `home`.
    pub fn load(home: &Path) -> Result<Self, PolicyError> {
        let token = crate::hosting::read_or_create_token(&home.join("keys/hosted.token"))?;
        let genesis_path = home.join("genesis.json");
        let genesis_error = |reason: String| PolicyError::Genesis { path: genesis_path.display().to_string(), reason };
        let trust = match std::fs::read_to_string(&genesis_path) {
            Ok(text) => {
                let genesis = chancery_genesis::Genesis::from_json(&text).map_err(|e| genesis_error(e.to_string()))?;
                Some(genesis.trust_root())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(genesis_error(e.to_string())),
        };
        Ok(HostedPolicy { token: blake3::hash(token.as_bytes()), trust })
    }

    /// Whether a request may be signed by the key of `info`: the token, then the proof
    /// (verified, for this certificate, at the signer's clock, recent, valid, issued for
    /// this key). The error says which and why.
    fn check(&self, info: &HostedKeyInfo, token: &str, proof: &[u8], now_ms: u64) -> Result<(), PolicyRefusal> {
        use chancery_ledger::tx::TxBody;
        if blake3::hash(token.trim().as_bytes()) != self.token {
            return Err(PolicyRefusal::Token);
        }
        let Some(trust) = &self.trust else { return Err(PolicyRefusal::NoGenesis) };
        let text = std::str::from_utf8(proof).map_err(|_| PolicyRefusal::ProofNotText)?;
        let proof = chancery_ledger::verify::CertStatusProof::from_json(text)
            .map_err(|e| PolicyRefusal::Proof { reason: e.to_string() })?;
        let verdict = chancery_ledger::verify::verify_cert_status(&proof, trust)
            .map_err(|e| PolicyRefusal::ProofFails { reason: e.to_string() })?;
        let named = format!("certificate {}/{} of hosted key {:?}", info.ca, info.serial, info.key_id);
        if verdict.ca != info.ca || verdict.serial != info.serial {
            let proven = format!("{}/{}", verdict.ca, verdict.serial);
            return Err(PolicyRefusal::OtherCertificate { proven, named });
        }
        if proof.at_ms.abs_diff(now_ms) > CERT_PROOF_CLOCK_SKEW_MS {
            return Err(PolicyRefusal::NotNow { at_ms: proof.at_ms, now_ms });
        }
        if now_ms.saturating_sub(verdict.as_of_time_ms) > CERT_PROOF_AGE_MAX_MS {
            return Err(PolicyRefusal::TooOld { as_of_ms: verdict.as_of_time_ms });
        }
        if !verdict.status.is_valid() {
            return Err(PolicyRefusal::NotValid { named, status: verdict.status.name().replace('_', " ") });
        }
        let issue = proof.events.first().and_then(|e| e.tx.decode::<chancery_ledger::Tx>().ok());
        let subject_key = match issue.map(|tx| tx.body) {
            Some(TxBody::CertEvent(event)) => event.subject_key,
            _ => return Err(PolicyRefusal::NoIssue { named }),
        };
        if subject_key != Digest::compute(subject_key.alg(), &info.public_key.0) {
            return Err(PolicyRefusal::OtherKey { named });
        }
        Ok(())
    }
}

/// A signer's hosted-signing policy that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The token file cannot be used.
    #[error(transparent)]
    Token(#[from] crate::hosting::TokenFileError),
    /// The genesis in the signer's home cannot be read.
    #[error("{path}: {reason}")]
    Genesis {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Why the signer's policy refuses a hosted signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyRefusal {
    /// The caller's token is not the signer's.
    #[error("wrong hosted-signing token (the node's [hosted] token_file must hold the signer's keys/hosted.token)")]
    Token,
    /// The signer has no genesis to check proofs against.
    #[error("the signer checks certificates against the chain's genesis: put genesis.json in its home")]
    NoGenesis,
    /// The proof is not text.
    #[error("the certificate proof is not UTF-8 JSON")]
    ProofNotText,
    /// The proof does not parse.
    #[error("certificate proof: {reason}")]
    Proof {
        /// Why.
        reason: String,
    },
    /// The proof does not verify.
    #[error("certificate proof does not verify: {reason}")]
    ProofFails {
        /// Why.
        reason: String,
    },
    /// The proof is for another certificate than the key's.
    #[error("the proof is for certificate {proven}, not {named}")]
    OtherCertificate {
        /// The certificate proven.
        proven: String,
        /// The key's certificate.
        named: String,
    },
    /// The proof asks the status at another time than now.
    #[error("the proof asks the status at {at_ms}, not now ({now_ms} by the signer's clock)")]
    NotNow {
        /// When it asks.
        at_ms: u64,
        /// The signer's clock.
        now_ms: u64,
    },
    /// The proof is as of a block too old to show a recent revocation.
    #[error("the proof is as of block time {as_of_ms}, too old to show a recent revocation")]
    TooOld {
        /// Its block time.
        as_of_ms: u64,
    },
    /// The certificate is not valid now.
    #[error("{named} is {status} now; the key does not sign")]
    NotValid {
        /// The certificate.
        named: String,
        /// Its status.
        status: String,
    },
    /// The proof shows no issue of the certificate.
    #[error("{named}: the proof shows no issue")]
    NoIssue {
        /// The certificate.
        named: String,
    },
    /// The certificate was issued for another key.
    #[error("{named} was issued for another key (its subject_key is not this key's digest)")]
    OtherKey {
        /// The certificate.
        named: String,
    },
}

/// The remote signer cannot be reached or does not identify.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// It answered something else than its identity.
    #[error("the signer answered {answer} to identify")]
    Answer {
        /// The answer.
        answer: String,
    },
    /// It could not be reached before the wait ran out.
    #[error("cannot reach the signer at {path}: {reason}")]
    Unreachable {
        /// The socket.
        path: String,
        /// The last failure.
        reason: String,
    },
}

/// Signs with a hosted key, if the policy allows, and logs the use before the signature
/// leaves.
fn sign_digest(
    hosted: &HostedKeys,
    policy: &HostedPolicy,
    key_id: &str,
    digest: &Digest,
    token: &str,
    cert_proof: &[u8],
) -> RemoteReply {
    let info = match hosted.info(key_id) {
        Ok(info) => info,
        Err(e) => return hosted_reply(e),
    };
    if let Err(why) = policy.check(&info, token, cert_proof, crate::clock::now_ms()) {
        tracing::warn!(key_id, %why, "hosted signature refused");
        return RemoteReply::Refused(why.to_string());
    }
    let signature = match hosted.sign(key_id, digest) {
        Ok(signature) => signature,
        Err(e) => return hosted_reply(e),
    };
    let entry = KeyUse {
        stage: hosted::UseStage::Signed,
        height: None,
        time_ms: crate::clock::now_ms(),
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
pub fn answer(
    consensus: &std::sync::Mutex<&mut LocalSigner>,
    hosted: &HostedKeys,
    policy: &HostedPolicy,
    request: &[u8],
) -> RemoteReply {
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
        RemoteRequest::SignDigest { key_id, digest, token, cert_proof } => {
            sign_digest(hosted, policy, key_id.as_str(), &digest, token.as_str(), cert_proof.as_bytes())
        }
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

/// Binds a socket at `path` that no one but its owner can ever connect to: it is made in
/// a fresh owner-only directory beside `path`, made owner-only there, and only then
/// renamed into place. A socket already at `path` that answers is another signer's: it
/// is left alone and this one refuses; a stale one (nothing listening) is replaced.
pub fn bind_owner_only(path: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if UnixStream::connect(path).is_ok() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!("a signer already listens on {}; one key has one signer", path.display()),
        ));
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let private = parent.join(format!(".{name}.{}.bind", std::process::id()));
    let _ = std::fs::remove_dir_all(&private);
    std::fs::DirBuilder::new().mode(0o700).create(&private)?;
    let staged = private.join("socket");
    let bound = UnixListener::bind(&staged).and_then(|listener| {
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
        // Replaces a stale socket file atomically.
        std::fs::rename(&staged, path)?;
        Ok(listener)
    });
    let _ = std::fs::remove_dir_all(&private);
    bound
}

/// Serves the consensus signer and the hosted keys on `listener` (bound at `path` by
/// [`bind_owner_only`]) until `stop` is set: connections side by side. The socket file is
/// removed at the end.
pub fn serve(
    consensus: &mut LocalSigner,
    hosted: &HostedKeys,
    policy: &HostedPolicy,
    listener: UnixListener,
    path: &Path,
    stop: &AtomicBool,
) -> std::io::Result<()> {
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
                    std::thread::sleep(ACCEPT_POLL);
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
                if let Err(e) = serve_connection(stream, consensus, hosted, policy, stop) {
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
    policy: &HostedPolicy,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    while !stop.load(Ordering::SeqCst) {
        // Wait briefly for a request to start (to notice `stop`); once it has, read it
        // whole, so a slow writer never splits a frame.
        stream.set_read_timeout(Some(REQUEST_START_POLL))?;
        let mut first = [0u8; 1];
        match stream.read(&mut first) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(e) => return Err(e),
        }
        stream.set_read_timeout(Some(FRAME_TIMEOUT))?;
        let mut rest = [0u8; 3];
        stream.read_exact(&mut rest)?;
        let len = u32::from_be_bytes([first[0], rest[0], rest[1], rest[2]]) as usize;
        if len > REQUEST_BYTES_MAX {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "frame above the limit"));
        }
        let mut request = vec![0u8; len];
        stream.read_exact(&mut request)?;
        write_frame(&mut stream, &encode(&answer(consensus, hosted, policy, &request)))?;
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
    pub fn connect(path: &Path, stopping: Arc<AtomicBool>, wait: Duration) -> Result<Self, ConnectError> {
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
                        Ok(other) => return Err(ConnectError::Answer { answer: format!("{other:?}") }),
                        Err(e) => last = e.to_string(),
                    }
                }
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(CONNECT_RETRY);
        }
        Err(ConnectError::Unreachable { path: path.display().to_string(), reason: last })
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
    connected.set_read_timeout(Some(FRAME_TIMEOUT))?;
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
    pub fn sign(
        &self,
        key_id: &str,
        digest: &Digest,
        public_key: &PublicKey,
        token: &str,
        cert_proof: String,
    ) -> Result<Signature, HostedError> {
        let bad = |what: String| HostedError::Refused(what);
        let request = RemoteRequest::SignDigest {
            key_id: Self::key_id(key_id)?,
            digest: digest.clone(),
            token: BoundedString::new(token.trim()).map_err(|e| bad(format!("token: {e}")))?,
            cert_proof: chancery_ledger::codec::BoundedBytes::new(cert_proof.into_bytes())
                .map_err(|e| bad(format!("certificate proof: {e}")))?,
        };
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
            Ok(RemoteReply::Identity { keys, signed_up_to }) if !keys.is_empty() => {
                // The signer's guard is the authority: a resume height stated there since
                // (`chancery signer resume`) lets this node vote without a restart.
                self.keys = keys.into_vec();
                self.signed_up_to = signed_up_to;
            }
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
        let mut backoff = RETRY_BACKOFF_MIN;
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
                    backoff = (backoff * 2).min(RETRY_BACKOFF_MAX);
                }
            }
        }
    }
}

//! The signer: the only place private keys exist. It signs consensus messages behind a
//! double-sign guard whose high-water mark is synced to disk before any signature leaves,
//! so neither a bug nor a restart can make the validator sign two different messages for
//! one height, round and step.

pub mod guard;
pub mod hosted;
pub mod keyfile;
pub mod remote;

use std::path::Path;

use chancery_consensus::context::Sig;
use chancery_consensus::engine::{SignRequest, Signer, SignerRefused};
use chancery_ledger::PublicKey;
use ed25519_dalek::{Signer as _, SigningKey};

pub use guard::{DoubleSignGuard, GuardError};
pub use keyfile::{KeyFile, KeyFileError};

/// Most consensus keys one signer holds: the key in use and its successor.
pub const CONSENSUS_KEYS_MAX: usize = 2;

/// A signer over key files and a guard file on local disk. Besides its consensus key it
/// picks up the successor key an operator puts beside it (`consensus.next.key` next to
/// `consensus.key`) for a key rotation, and signs with whichever key the chain names at
/// each height; one guard covers both, so heights stay monotonic across the switch.
pub struct LocalSigner {
    /// The key file in use and its successor, each with the key loaded from it and the
    /// file's stamp when it was loaded (a replaced file is loaded again).
    slots: [KeySlot; CONSENSUS_KEYS_MAX],
    passphrase: Option<String>,
    guard: DoubleSignGuard,
    /// The home's lock, held while this signer lives: one signer per guard.
    _lock: HomeLock,
}

/// An exclusive OS lock (`flock`) on `signer.lock` beside the guard file, holding the
/// process id of its owner. Two signers of one key (two `chancery signer` processes, or
/// a node and a signer, on one home) would each keep their own guard mark and could sign
/// conflicting votes: the second one refuses to start. The kernel releases the lock
/// when its process ends, however it ends.
pub struct HomeLock {
    _file: std::fs::File,
}

impl HomeLock {
    /// Takes the lock beside `guard_file`, or says which process holds it.
    pub fn acquire(guard_file: &Path) -> Result<Self, SignerError> {
        use std::io::{Read as _, Seek as _, Write as _};
        let path = guard_file.with_file_name("signer.lock");
        let io = |e: std::io::Error| SignerError::Lock { path: path.display().to_string(), holder: e.to_string() };
        let mut file =
            std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = (&mut file).take(64).read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "another process".to_string(),
                    pid => format!("process {pid}"),
                };
                return Err(SignerError::Lock {
                    path: path.display().to_string(),
                    holder: format!("held by {holder}"),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).and_then(|()| file.rewind()).map_err(io)?;
        writeln!(file, "{}", std::process::id()).and_then(|()| file.sync_all()).map_err(io)?;
        Ok(HomeLock { _file: file })
    }
}

/// What tells a replaced key file from the one loaded: its inode (a file moved over it has
/// another) and its modification time (rewritten in place).
type FileStamp = (u64, std::time::SystemTime);

/// One consensus key file and what was last loaded from it.
struct KeySlot {
    path: std::path::PathBuf,
    loaded: Option<(FileStamp, SigningKey)>,
}

impl KeySlot {
    /// Loads the file again if it changed since the last load; forgets the key if the file
    /// is gone.
    fn refresh(&mut self, passphrase: Option<&str>) -> Result<(), KeyFileError> {
        use std::os::unix::fs::MetadataExt;
        let stamp = match std::fs::metadata(&self.path).and_then(|m| Ok((m.ino(), m.modified()?))) {
            Ok(stamp) => stamp,
            Err(_) => {
                self.loaded = None;
                return Ok(());
            }
        };
        if self.loaded.as_ref().is_some_and(|(at, _)| *at == stamp) {
            return Ok(());
        }
        let key = KeyFile::load(&self.path, passphrase)?;
        tracing::info!(file = %self.path.display(), key = %PublicKey(key.verifying_key().to_bytes()), "signer loaded a consensus key");
        self.loaded = Some((stamp, key));
        Ok(())
    }

    fn key(&self) -> Option<&SigningKey> {
        self.loaded.as_ref().map(|(_, key)| key)
    }
}

/// Makes a new consensus key at `key_file` and the guard file of a key that never
/// signed beside it (at `guard_file`): only a key made here may start without the
/// operator stating a height to resume from.
pub fn generate_consensus_key(
    key_file: &Path,
    guard_file: &Path,
    passphrase: Option<&str>,
) -> Result<SigningKey, SignerError> {
    let key = KeyFile::generate(key_file, passphrase)?;
    DoubleSignGuard::create_fresh(guard_file)?;
    Ok(key)
}

/// The successor key file of `key_file`: `consensus.next.key` beside `consensus.key`.
pub fn next_key_file(key_file: &Path) -> std::path::PathBuf {
    key_file.with_extension("next.key")
}

impl LocalSigner {
    /// Loads the key (refusing a file others can read), its successor if present, and
    /// the guard state.
    pub fn open(key_file: &Path, passphrase: Option<&str>, guard_file: &Path) -> Result<Self, SignerError> {
        let lock = HomeLock::acquire(guard_file)?;
        let guard = DoubleSignGuard::open(guard_file)?;
        let slot = |path: std::path::PathBuf| KeySlot { path, loaded: None };
        let mut signer = LocalSigner {
            slots: [slot(key_file.to_path_buf()), slot(next_key_file(key_file))],
            passphrase: passphrase.map(str::to_string),
            guard,
            _lock: lock,
        };
        // The key in use must load; a successor that does not is reported when asked.
        signer.slots[0].refresh(passphrase)?;
        if signer.slots[0].key().is_none() {
            return Err(SignerError::KeyFile(KeyFileError::Io {
                path: key_file.display().to_string(),
                message: "the consensus key file is missing".into(),
            }));
        }
        let _ = signer.public_keys();
        Ok(signer)
    }

    /// The consensus public key in use (from the key file it was opened with).
    pub fn public_key(&self) -> PublicKey {
        self.keys().next().map_or(PublicKey([0; 32]), |k| PublicKey(k.verifying_key().to_bytes()))
    }

    fn keys(&self) -> impl Iterator<Item = &SigningKey> {
        self.slots.iter().filter_map(KeySlot::key)
    }
}

impl Signer for LocalSigner {
    fn signed_up_to(&self) -> Option<u64> {
        self.guard.mark_height()
    }

    fn public_keys(&mut self) -> Vec<PublicKey> {
        // Both files are read again when they change: a successor put in place, or moved
        // over the key in use after a rotation (so a later rotation's successor loads too).
        for slot in self.slots.iter_mut() {
            if let Err(e) = slot.refresh(self.passphrase.as_deref()) {
                tracing::warn!(file = %slot.path.display(), error = %e, "a consensus key file cannot be loaded");
            }
        }
        if let Err(e) = self.guard.reload() {
            tracing::warn!(error = %e, "the double-sign guard file cannot be read");
        }
        let mut keys: Vec<PublicKey> = Vec::with_capacity(CONSENSUS_KEYS_MAX);
        for key in self.keys().map(|k| PublicKey(k.verifying_key().to_bytes())) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        keys
    }

    fn sign(&mut self, request: &SignRequest) -> Result<Sig, SignerRefused> {
        let next_file = self.slots[1].path.display().to_string();
        let held = self.slots.iter().filter_map(KeySlot::key);
        let Some(key) = held.into_iter().find(|k| k.verifying_key().to_bytes() == request.key.0) else {
            return Err(SignerRefused(format!(
                "this signer does not hold consensus key {}; put it at {next_file} for a rotation",
                request.key
            )));
        };
        self.guard
            .sign(request, || Sig(key.sign(request.message.as_bytes()).to_bytes()))
            .map_err(|e| SignerRefused(e.to_string()))
    }
}

/// Why the signer cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// The key file.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// The guard file.
    #[error(transparent)]
    Guard(#[from] GuardError),
    /// Another signer of this home runs.
    #[error("the signer home is locked ({path}: {holder}); one key has one signer: stop the other process first")]
    Lock {
        /// The lock file.
        path: String,
        /// Who holds it, or why it cannot be taken.
        holder: String,
    },
}

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
    keys: Vec<SigningKey>,
    next_file: std::path::PathBuf,
    passphrase: Option<String>,
    guard: DoubleSignGuard,
}

/// The successor key file of `key_file`: `consensus.next.key` beside `consensus.key`.
pub fn next_key_file(key_file: &Path) -> std::path::PathBuf {
    key_file.with_extension("next.key")
}

impl LocalSigner {
    /// Loads the key (refusing a file others can read), its successor if present, and
    /// the guard state.
    pub fn open(key_file: &Path, passphrase: Option<&str>, guard_file: &Path) -> Result<Self, SignerError> {
        let key = KeyFile::load(key_file, passphrase)?;
        let guard = DoubleSignGuard::open(guard_file)?;
        let mut signer = LocalSigner {
            keys: vec![key],
            next_file: next_key_file(key_file),
            passphrase: passphrase.map(str::to_string),
            guard,
        };
        signer.load_next()?;
        Ok(signer)
    }

    /// Loads the successor key once it is there.
    fn load_next(&mut self) -> Result<(), KeyFileError> {
        if self.keys.len() >= CONSENSUS_KEYS_MAX || !self.next_file.exists() {
            return Ok(());
        }
        let key = KeyFile::load(&self.next_file, self.passphrase.as_deref())?;
        if key.verifying_key() != self.keys[0].verifying_key() {
            tracing::info!(key = %PublicKey(key.verifying_key().to_bytes()), "signer holds the successor consensus key");
            self.keys.push(key);
        }
        Ok(())
    }

    /// The consensus public key it was opened with.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.keys[0].verifying_key().to_bytes())
    }
}

impl Signer for LocalSigner {
    fn signed_up_to(&self) -> Option<u64> {
        self.guard.mark_height()
    }

    fn public_keys(&mut self) -> Vec<PublicKey> {
        if let Err(e) = self.load_next() {
            tracing::warn!(file = %self.next_file.display(), error = %e, "the successor consensus key cannot be loaded");
        }
        self.keys.iter().map(|k| PublicKey(k.verifying_key().to_bytes())).collect()
    }

    fn sign(&mut self, request: &SignRequest) -> Result<Sig, SignerRefused> {
        let Some(key) = self.keys.iter().find(|k| k.verifying_key().to_bytes() == request.key.0) else {
            return Err(SignerRefused(format!(
                "this signer does not hold consensus key {}; put it at {} for a rotation",
                request.key,
                self.next_file.display()
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
}

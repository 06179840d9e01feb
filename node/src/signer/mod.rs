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

/// A signer over a key file and a guard file on local disk.
pub struct LocalSigner {
    key: SigningKey,
    guard: DoubleSignGuard,
}

impl LocalSigner {
    /// Loads the key (refusing a file others can read) and the guard state.
    pub fn open(key_file: &Path, passphrase: Option<&str>, guard_file: &Path) -> Result<Self, SignerError> {
        let key = KeyFile::load(key_file, passphrase)?;
        let guard = DoubleSignGuard::open(guard_file)?;
        Ok(LocalSigner { key, guard })
    }

    /// The consensus public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.key.verifying_key().to_bytes())
    }
}

impl Signer for LocalSigner {
    fn signed_up_to(&self) -> Option<u64> {
        self.guard.mark_height()
    }

    fn sign(&mut self, request: &SignRequest) -> Result<Sig, SignerRefused> {
        let key = &self.key;
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

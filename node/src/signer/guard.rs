//! The double-sign guard: a high-water mark (height, round, step) and the message signed
//! there, persisted and synced before the signature is released.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chancery_consensus::context::Sig;
use chancery_consensus::engine::{SignRequest, SignStep};
use chancery_ledger::{Hash, PublicKey};
use serde::{Deserialize, Serialize};

/// The last slot signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Mark {
    height: u64,
    round: u32,
    step: u8,
    message: Hash,
    signature: String,
    /// The consensus key that signed (absent in marks written before key rotation).
    #[serde(default)]
    key: Option<PublicKey>,
}

/// Why the guard refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// A request at or below the mark for a different message.
    #[error("refusing to sign at height {height}, round {round}, {step:?}: the signer already signed {what} (height {mark_height}, round {mark_round}); signing now could equivocate")]
    Refused {
        /// Requested height.
        height: u64,
        /// Requested round.
        round: u32,
        /// Requested step.
        step: SignStep,
        /// What is in the way.
        what: &'static str,
        /// The mark's height.
        mark_height: u64,
        /// The mark's round.
        mark_round: u32,
    },
    /// The guard file cannot be read or written: nothing is signed.
    #[error("double-sign guard file {path}: {message}; no signature is given until it can be written")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
}

fn rank(step: SignStep) -> u8 {
    match step {
        SignStep::Propose => 0,
        SignStep::Prevote => 1,
        SignStep::Precommit => 2,
    }
}

/// The guard and its file.
pub struct DoubleSignGuard {
    path: PathBuf,
    mark: Option<Mark>,
}

impl DoubleSignGuard {
    /// Opens the guard at `path` (a missing file means nothing was signed yet).
    pub fn open(path: &Path) -> Result<Self, GuardError> {
        let io = |e: String| GuardError::Io { path: path.display().to_string(), message: e };
        let mark = match fs::read_to_string(path) {
            Ok(text) => Some(
                serde_json::from_str(&text)
                    .map_err(|e| io(format!("unreadable ({e}); restore it from backup, never delete it")))?,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(e.to_string())),
        };
        Ok(DoubleSignGuard { path: path.to_path_buf(), mark })
    }

    /// The height of the last signature, if any.
    pub fn mark_height(&self) -> Option<u64> {
        self.mark.as_ref().map(|m| m.height)
    }

    /// Signs with `sign` if the request is above the mark, records the new mark durably,
    /// then returns the signature. The same message at the mark gets the same signature
    /// again (a replay after a crash); anything else at or below the mark is refused.
    pub fn sign(&mut self, request: &SignRequest, sign: impl FnOnce() -> Sig) -> Result<Sig, GuardError> {
        let slot = (request.height, request.round, rank(request.step));
        if let Some(mark) = &self.mark {
            let marked = (mark.height, mark.round, mark.step);
            let refuse = |what| GuardError::Refused {
                height: request.height,
                round: request.round,
                step: request.step,
                what,
                mark_height: mark.height,
                mark_round: mark.round,
            };
            if slot < marked {
                return Err(refuse("a later slot"));
            }
            if slot == marked {
                if mark.message != request.message {
                    return Err(refuse("a different message for this slot"));
                }
                // A mark written before keys were recorded cannot show which key signed:
                // refusing is the safe answer.
                if mark.key != Some(request.key) {
                    return Err(refuse("this slot with another consensus key"));
                }
                let mut bytes = [0u8; 64];
                hex::decode_to_slice(&mark.signature, &mut bytes)
                    .map_err(|e| GuardError::Io { path: self.path.display().to_string(), message: e.to_string() })?;
                return Ok(Sig(bytes));
            }
        }
        let signature = sign();
        let mark = Mark {
            height: request.height,
            round: request.round,
            step: slot.2,
            message: request.message,
            signature: hex::encode(signature.0),
            key: Some(request.key),
        };
        self.persist(&mark)?;
        self.mark = Some(mark);
        Ok(signature)
    }

    /// Writes the mark to a temporary file, syncs it, renames it over the guard file and
    /// syncs the directory, so a crash leaves either the old mark or the new one.
    fn persist(&self, mark: &Mark) -> Result<(), GuardError> {
        let io = |e: std::io::Error| GuardError::Io { path: self.path.display().to_string(), message: e.to_string() };
        let tmp = self.path.with_extension("tmp");
        let text = serde_json::to_string(mark)
            .map_err(|e| GuardError::Io { path: self.path.display().to_string(), message: e.to_string() })?;
        let mut file = fs::File::create(&tmp).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        fs::rename(&tmp, &self.path).map_err(io)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok(())
    }
}

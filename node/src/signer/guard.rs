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

/// What the guard file holds: the last slot signed, or, before this host signed anything,
/// the height from which it may sign (0 for a key made here; for a key brought from
/// another host, the height its operator stated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum GuardFile {
    Signed(Mark),
    Resume {
        /// Nothing is signed below this height.
        resume_from_height: u64,
    },
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
    /// No guard file: this key may have signed elsewhere, so nothing is signed until the
    /// operator states the height to resume from.
    #[error("no double-sign guard file at {path}: this consensus key may have signed on another host, so nothing is signed until you state the height to resume from: stop any other signer of this key, then run `chancery signer resume --home HOME --height H` with H above the last height it signed at (the chain's current height + 1 is safe)")]
    Missing {
        /// The file.
        path: String,
    },
    /// Below the height the operator stated.
    #[error("refusing to sign at height {height}: this signer resumes from height {from}")]
    BelowResume {
        /// Requested height.
        height: u64,
        /// The stated height.
        from: u64,
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

/// Largest guard file read (a mark is a few hundred bytes).
const GUARD_FILE_BYTES_MAX: u64 = 4096;

/// The guard and its file.
pub struct DoubleSignGuard {
    path: PathBuf,
    /// `None` while the file is missing: every request is refused.
    state: Option<GuardFile>,
}

fn read_guard(path: &Path) -> Result<Option<GuardFile>, GuardError> {
    let io = |e: String| GuardError::Io { path: path.display().to_string(), message: e };
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e.to_string())),
    };
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(file, GUARD_FILE_BYTES_MAX + 1), &mut text)
        .map_err(|e| io(e.to_string()))?;
    if text.len() as u64 > GUARD_FILE_BYTES_MAX {
        return Err(io(format!("larger than {GUARD_FILE_BYTES_MAX} bytes; restore it from backup, never delete it")));
    }
    parse_state(&text).map(Some).map_err(|e| io(e.to_string()))
}

/// A guard file's text, checked: a signed mark (with a 64-byte hex signature) or a
/// resume height.
pub fn parse_guard(text: &str) -> Result<(), GuardTextError> {
    parse_state(text).map(|_| ())
}

/// Guard file text that is not a guard state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardTextError {
    /// Not the guard file's JSON.
    #[error("unreadable ({reason}); restore it from backup, never delete it")]
    Unreadable {
        /// The parser's message.
        reason: String,
    },
    /// The signed mark's signature is not 64 bytes of hex.
    #[error("its signature is not 64 bytes of hex ({reason}); restore it from backup")]
    Signature {
        /// What is wrong.
        reason: String,
    },
    /// The step is not prevote, precommit or proposal.
    #[error("step {step} is not a consensus step; restore it from backup")]
    Step {
        /// The step recorded.
        step: u8,
    },
}

fn parse_state(text: &str) -> Result<GuardFile, GuardTextError> {
    let state: GuardFile =
        serde_json::from_str(text).map_err(|e| GuardTextError::Unreadable { reason: e.to_string() })?;
    if let GuardFile::Signed(mark) = &state {
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(&mark.signature, &mut bytes)
            .map_err(|e| GuardTextError::Signature { reason: e.to_string() })?;
        if mark.step > 2 {
            return Err(GuardTextError::Step { step: mark.step });
        }
    }
    Ok(state)
}

impl DoubleSignGuard {
    /// Opens the guard at `path`. A missing file is not "never signed": the key may have
    /// signed on another host, so the guard refuses everything until the operator
    /// states the height to resume from ([`DoubleSignGuard::resume`]); it reads the file
    /// again on [`DoubleSignGuard::reload`].
    pub fn open(path: &Path) -> Result<Self, GuardError> {
        let state = read_guard(path)?;
        if state.is_none() {
            tracing::warn!("{}", GuardError::Missing { path: path.display().to_string() });
        }
        Ok(DoubleSignGuard { path: path.to_path_buf(), state })
    }

    /// Writes the guard file of a consensus key made on this host, which never signed:
    /// it may sign from height 0. Refuses if the file exists.
    pub fn create_fresh(path: &Path) -> Result<(), GuardError> {
        Self::resume(path, 0)
    }

    /// States that the key of the missing guard file at `path` may sign from `height`
    /// on (the operator knows it signed nowhere at or above it). Refuses if the file
    /// exists: a guard with a mark is never rolled back or replaced.
    pub fn resume(path: &Path, height: u64) -> Result<(), GuardError> {
        let io = |e: std::io::Error| GuardError::Io { path: path.display().to_string(), message: e.to_string() };
        if path.exists() {
            return Err(GuardError::Io {
                path: path.display().to_string(),
                message: "exists: a guard is never replaced or rolled back".into(),
            });
        }
        let guard = DoubleSignGuard { path: path.to_path_buf(), state: None };
        let text = serde_json::to_string(&GuardFile::Resume { resume_from_height: height })
            .map_err(|e| GuardError::Io { path: path.display().to_string(), message: e.to_string() })?;
        guard.persist_text(&text).map_err(io)
    }

    /// Reads the file again while it is missing (an operator may have stated the height
    /// since).
    pub fn reload(&mut self) -> Result<(), GuardError> {
        if self.state.is_none() {
            self.state = read_guard(&self.path)?;
            if let Some(GuardFile::Resume { resume_from_height }) = &self.state {
                tracing::info!(
                    height = resume_from_height,
                    "double-sign guard file found: signing resumes from this height"
                );
            }
        }
        Ok(())
    }

    /// The height at and below which this signer must be taken to have signed: the last
    /// signature's; every height while the guard file is missing; and the stated resume
    /// height itself (not the one below: a host votes at the height of its mark only if
    /// its WAL holds what it signed there, and a WAL of peers' messages below the resume
    /// height must not make it vote where the guard refuses), so a resumed key votes from
    /// the height after it, or at it once its WAL has it.
    pub fn mark_height(&self) -> Option<u64> {
        match &self.state {
            None => Some(u64::MAX),
            Some(GuardFile::Signed(mark)) => Some(mark.height),
            Some(GuardFile::Resume { resume_from_height: 0 }) => None,
            Some(GuardFile::Resume { resume_from_height }) => Some(*resume_from_height),
        }
    }

    /// Signs with `sign` if the request is above the mark, records the new mark durably,
    /// then returns the signature. The same message at the mark gets the same signature
    /// again (a replay after a crash); anything else at or below the mark is refused.
    pub fn sign(&mut self, request: &SignRequest, sign: impl FnOnce() -> Sig) -> Result<Sig, GuardError> {
        let slot = (request.height, request.round, rank(request.step));
        let mark = match &self.state {
            None => return Err(GuardError::Missing { path: self.path.display().to_string() }),
            Some(GuardFile::Resume { resume_from_height }) if request.height < *resume_from_height => {
                return Err(GuardError::BelowResume { height: request.height, from: *resume_from_height })
            }
            Some(GuardFile::Resume { .. }) => None,
            Some(GuardFile::Signed(mark)) => Some(mark),
        };
        if let Some(mark) = mark {
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
        let state = GuardFile::Signed(mark);
        let text = serde_json::to_string(&state)
            .map_err(|e| GuardError::Io { path: self.path.display().to_string(), message: e.to_string() })?;
        self.persist_text(&text)
            .map_err(|e| GuardError::Io { path: self.path.display().to_string(), message: e.to_string() })?;
        self.state = Some(state);
        Ok(signature)
    }

    /// Writes `text` to a temporary file, syncs it, renames it over the guard file and
    /// syncs the directory, so a crash leaves either the old mark or the new one.
    fn persist_text(&self, text: &str) -> std::io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        let mut file = fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::File::open(dir).and_then(|d| d.sync_all())?;
        }
        Ok(())
    }
}

//! Hosted document-signing keys ("cloud certificates"): Ed25519 keys made inside the
//! signer's home, each bound to one certificate (CA and serial), never exported. A key
//! signs a document digest's bytes; every use is appended (and synced) to
//! `usage.log` in the keys directory before the signature leaves.
//!
//! Layout of the keys directory (owner-only files):
//! - `ID.key`: the key file (optionally encrypted, as every Chancery key file);
//! - `ID.json`: the binding: key id, CA, serial, public key;
//! - `usage.log`: one JSON line per use.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use chancery_ledger::tx::CertRef;
use chancery_ledger::{Digest, DigestAlg, Hash, HashContext, PublicKey, Signature};
use ed25519_dalek::{Signer as _, SigningKey};
use serde::{Deserialize, Serialize};

use super::keyfile::{KeyFile, KeyFileError};

/// Most hosted keys one signer holds.
pub const HOSTED_KEYS_MAX: usize = 10_000;
/// Longest key id.
pub const KEY_ID_LEN_MAX: usize = 64;

/// A hosted key's public description (what `chancery signer keys list` and the RPC may
/// show).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostedKeyInfo {
    /// The key id.
    pub key_id: String,
    /// The CA of the certificate the key is bound to.
    pub ca: String,
    /// That certificate's serial, hex.
    pub serial: String,
    /// The public key.
    pub public_key: PublicKey,
}

impl HostedKeyInfo {
    /// The certificate reference.
    pub fn cert(&self) -> Result<CertRef, HostedError> {
        CertRef::from_text(&self.ca, &self.serial)
            .map_err(|e| HostedError::Format { key_id: self.key_id.clone(), message: e.to_string() })
    }

    /// The digest of the public key a CA names as the certificate's `subject_key`
    /// (SHA-256 of the 32 key bytes).
    pub fn subject_key(&self) -> Digest {
        Digest::compute(DigestAlg::Sha256, &self.public_key.0)
    }
}

/// Why a hosted key cannot be made, loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum HostedError {
    /// A key id that is not `[a-z0-9_-]{1,64}`.
    #[error("key id {0:?} must be 1 to 64 of a-z, 0-9, '-' and '_'")]
    BadKeyId(String),
    /// The id is taken.
    #[error("hosted key {0:?} exists already")]
    Exists(String),
    /// No such key.
    #[error("no hosted key {0:?} in this signer")]
    Unknown(String),
    /// The key file.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// A binding file that does not parse or does not match its key.
    #[error("hosted key {key_id:?}: {message}")]
    Format {
        /// The key.
        key_id: String,
        /// What is wrong.
        message: String,
    },
    /// The directory or the usage log.
    #[error("hosted keys in {path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// The failure.
        message: String,
    },
    /// Too many keys.
    #[error("this signer holds the maximum of {HOSTED_KEYS_MAX} hosted keys")]
    Full,
    /// The remote signer refused or answered wrongly.
    #[error("the signer refused: {0}")]
    Refused(String),
}

/// Where a use stands. A node that signs itself logs `pending` when the signature is
/// made and its signing event submitted, then `committed` (the signature leaves) or
/// `withheld` (it never does); a remote signer logs `signed` when it signs for its node,
/// whose own log follows the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UseStage {
    /// Signed by a remote signer for its node.
    Signed,
    /// Signed; the signing event is submitted, not yet committed.
    Pending,
    /// The signing event is committed; the signature was returned.
    Committed,
    /// The signature was not returned (the reason says why).
    Withheld,
    /// The signing event of a withheld use committed after the caller was answered
    /// (without the signature): the signature is on chain in its committed event.
    LateCommit,
}

/// One use of a hosted key, as the usage log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyUse {
    /// Where the use stands.
    pub stage: UseStage,
    /// The height that committed the signing event, once committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
    /// When (ms since the Unix epoch).
    pub time_ms: u64,
    /// The key.
    pub key_id: String,
    /// The digest signed.
    pub digest: String,
    /// Hash of the signature (`chancery v1 document signature`).
    pub signature_hash: Hash,
    /// The signing event anchoring it.
    pub tx_hash: Option<Hash>,
    /// Why the signature was withheld, if it was.
    pub refused: Option<String>,
}

/// The hash a signing event records for a document signature.
pub fn signature_hash(signature: &Signature) -> Hash {
    HashContext::DocumentSignature.hash(&signature.0)
}

pub(crate) fn check_id(key_id: &str) -> Result<(), HostedError> {
    let ok = !key_id.is_empty()
        && key_id.len() <= KEY_ID_LEN_MAX
        && key_id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(HostedError::BadKeyId(key_id.chars().take(80).collect()))
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> HostedError + '_ {
    move |e| HostedError::Io { path: path.display().to_string(), message: e.to_string() }
}

fn write_owner_only(path: &Path, text: &str) -> Result<(), HostedError> {
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io(path))?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(io(path))
}

/// Makes a new hosted key `key_id` in `dir`, bound to `cert`; returns its description.
/// The secret never leaves `dir`.
pub fn create(
    dir: &Path,
    key_id: &str,
    cert: &CertRef,
    passphrase: Option<&str>,
) -> Result<HostedKeyInfo, HostedError> {
    check_id(key_id)?;
    fs::create_dir_all(dir).map_err(io(dir))?;
    let key_path = dir.join(format!("{key_id}.key"));
    let info_path = dir.join(format!("{key_id}.json"));
    if key_path.exists() || info_path.exists() {
        return Err(HostedError::Exists(key_id.to_string()));
    }
    let count = fs::read_dir(dir).map_err(io(dir))?.filter_map(Result::ok).filter(|e| is_binding(&e.path())).count();
    if count >= HOSTED_KEYS_MAX {
        return Err(HostedError::Full);
    }
    let key = KeyFile::generate(&key_path, passphrase)?;
    let info = HostedKeyInfo {
        key_id: key_id.to_string(),
        ca: cert.ca.to_string(),
        serial: hex::encode(cert.serial.as_bytes()),
        public_key: PublicKey(key.verifying_key().to_bytes()),
    };
    let text = serde_json::to_string_pretty(&info)
        .map_err(|e| HostedError::Format { key_id: key_id.to_string(), message: e.to_string() })?;
    write_owner_only(&info_path, &text)?;
    Ok(info)
}

fn is_binding(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json")
}

type Loaded = BTreeMap<String, (HostedKeyInfo, SigningKey)>;

/// The hosted keys of one signer. Keys made after it opened are loaded on first use.
pub struct HostedKeys {
    dir: PathBuf,
    passphrase: Option<String>,
    keys: RwLock<Loaded>,
    log: Mutex<PathBuf>,
}

/// Reads and checks one key: its binding against its key file.
fn load_key(dir: &Path, key_id: &str, passphrase: Option<&str>) -> Result<(HostedKeyInfo, SigningKey), HostedError> {
    check_id(key_id)?;
    let path = dir.join(format!("{key_id}.json"));
    if !path.exists() {
        return Err(HostedError::Unknown(key_id.to_string()));
    }
    let format = |message: String| HostedError::Format { key_id: key_id.to_string(), message };
    let meta = fs::metadata(&path).map_err(io(&path))?;
    if meta.len() > 4096 {
        return Err(format(format!("binding file of {} bytes", meta.len())));
    }
    let text = fs::read_to_string(&path).map_err(io(&path))?;
    let info: HostedKeyInfo = serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
    if info.key_id != key_id {
        return Err(format(format!("binding names key {:?}", info.key_id)));
    }
    info.cert()?;
    let key = KeyFile::load(&dir.join(format!("{key_id}.key")), passphrase)?;
    if key.verifying_key().to_bytes() != info.public_key.0 {
        return Err(format("the binding's public key is not the key file's".into()));
    }
    Ok((info, key))
}

impl HostedKeys {
    /// Loads every key in `dir` (none if it does not exist), checking each binding
    /// against its key file.
    pub fn open(dir: &Path, passphrase: Option<&str>) -> Result<Self, HostedError> {
        let mut keys = BTreeMap::new();
        if dir.exists() {
            for entry in fs::read_dir(dir).map_err(io(dir))? {
                let path = entry.map_err(io(dir))?.path();
                if !is_binding(&path) {
                    continue;
                }
                if keys.len() >= HOSTED_KEYS_MAX {
                    return Err(HostedError::Full);
                }
                let key_id = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
                let loaded = load_key(dir, &key_id, passphrase)?;
                keys.insert(key_id, loaded);
            }
        }
        Ok(HostedKeys {
            dir: dir.to_path_buf(),
            passphrase: passphrase.map(str::to_string),
            keys: RwLock::new(keys),
            log: Mutex::new(dir.join("usage.log")),
        })
    }

    fn loaded(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Every loaded key's description.
    pub fn list(&self) -> Vec<HostedKeyInfo> {
        self.loaded().values().map(|(info, _)| info.clone()).collect()
    }

    /// One key's description, loading a key made since the signer opened.
    pub fn info(&self, key_id: &str) -> Result<HostedKeyInfo, HostedError> {
        if let Some((info, _)) = self.loaded().get(key_id) {
            return Ok(info.clone());
        }
        let (info, key) = load_key(&self.dir, key_id, self.passphrase.as_deref())?;
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= HOSTED_KEYS_MAX {
            return Err(HostedError::Full);
        }
        keys.insert(key_id.to_string(), (info.clone(), key));
        Ok(info)
    }

    /// Signs `digest`'s bytes with `key_id`. The caller records the use with
    /// [`HostedKeys::record`] before it lets the signature out.
    pub fn sign(&self, key_id: &str, digest: &Digest) -> Result<Signature, HostedError> {
        if let Some((_, key)) = self.loaded().get(key_id) {
            return Ok(Signature(key.sign(digest.bytes()).to_bytes()));
        }
        // Made since the signer opened: load it, then sign.
        self.info(key_id)?;
        let keys = self.loaded();
        let (_, key) = keys.get(key_id).ok_or_else(|| HostedError::Unknown(key_id.to_string()))?;
        Ok(Signature(key.sign(digest.bytes()).to_bytes()))
    }

    /// Appends `entry` to the usage log and syncs it.
    pub fn record(&self, entry: &KeyUse) -> Result<(), HostedError> {
        let path = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let line = serde_json::to_string(entry)
            .map_err(|e| HostedError::Io { path: path.display().to_string(), message: e.to_string() })?;
        let mut file = fs::OpenOptions::new().append(true).create(true).mode(0o600).open(&*path).map_err(io(&path))?;
        file.write_all(format!("{line}\n").as_bytes()).and_then(|()| file.sync_data()).map_err(io(&path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chancery_ledger::tx::CertSerial;
    use chancery_ledger::validator::CaId;

    fn cert() -> CertRef {
        CertRef { ca: CaId::new("demo-ca").expect("id"), serial: CertSerial::new(vec![1, 2]).expect("serial") }
    }

    #[test]
    fn keys_are_made_loaded_used_and_logged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let info = create(dir.path(), "alice-2026", &cert(), None).expect("created");
        assert_eq!(info.cert().expect("cert"), cert());
        assert!(matches!(create(dir.path(), "alice-2026", &cert(), None), Err(HostedError::Exists(_))));
        for bad in ["", "Alice", "a/b", "../x", &"x".repeat(65)] {
            assert!(matches!(create(dir.path(), bad, &cert(), None), Err(HostedError::BadKeyId(_))), "{bad:?}");
        }
        let keys = HostedKeys::open(dir.path(), None).expect("open");
        assert_eq!(keys.list(), vec![info.clone()]);
        let digest = Digest::compute(DigestAlg::Sha256, b"contract");
        let signature = keys.sign("alice-2026", &digest).expect("signs");
        let verifying = ed25519_dalek::VerifyingKey::from_bytes(&info.public_key.0).expect("key");
        verifying.verify_strict(digest.bytes(), &ed25519_dalek::Signature::from_bytes(&signature.0)).expect("valid");
        assert!(matches!(keys.sign("bob", &digest), Err(HostedError::Unknown(_))));
        let entry = KeyUse {
            stage: UseStage::Withheld,
            height: None,
            time_ms: 1,
            key_id: "alice-2026".into(),
            digest: digest.to_text(),
            signature_hash: signature_hash(&signature),
            tx_hash: None,
            refused: Some("test".into()),
        };
        keys.record(&entry).expect("logged");
        keys.record(&entry).expect("logged");
        let log = fs::read_to_string(dir.path().join("usage.log")).expect("log");
        assert_eq!(log.lines().count(), 2);
        assert!(log.contains("alice-2026"));
    }

    #[test]
    fn a_binding_that_does_not_match_its_key_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let info = create(dir.path(), "k1", &cert(), None).expect("created");
        create(dir.path(), "k2", &cert(), None).expect("created");
        let other = fs::read_to_string(dir.path().join("k2.json")).expect("read");
        let swapped = other.replace("\"k2\"", "\"k1\"");
        fs::remove_file(dir.path().join("k1.json")).expect("rm");
        write_owner_only(&dir.path().join("k1.json"), &swapped).expect("write");
        let error = HostedKeys::open(dir.path(), None).err().expect("refused");
        assert!(error.to_string().contains("not the key file's"), "{error}");
        assert_ne!(info.public_key, PublicKey([0; 32]));
    }
}

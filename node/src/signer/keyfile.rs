//! Key files: an Ed25519 secret key in JSON, readable by its owner only, optionally
//! encrypted under a passphrase with Argon2id (KDF) and ChaCha20-Poly1305 (AEAD).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

/// Argon2id cost: 19 MiB, 2 passes, 1 lane (the OWASP baseline).
const KDF_MEMORY_KIB: u32 = 19_456;
const KDF_PASSES: u32 = 2;
const KDF_LANES: u32 = 1;
/// Largest key file read, in bytes.
const KEY_FILE_BYTES_MAX: u64 = 4096;

/// A key file as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// Format version (1).
    pub version: u32,
    /// The public key, hex.
    pub public_key: String,
    /// The secret key, hex, when not encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    /// The secret key encrypted under a passphrase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<Encrypted>,
}

/// An encrypted secret key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encrypted {
    /// "argon2id".
    pub kdf: String,
    /// Argon2 memory, KiB.
    pub memory_kib: u32,
    /// Argon2 passes.
    pub passes: u32,
    /// Argon2 lanes.
    pub lanes: u32,
    /// KDF salt, hex.
    pub salt: String,
    /// "chacha20poly1305".
    pub aead: String,
    /// AEAD nonce, hex.
    pub nonce: String,
    /// Encrypted secret key with its tag, hex; the public key is the associated data.
    pub ciphertext: String,
}

/// A key file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Group or others may read it.
    #[error("key file {path} can be read by group or others (mode {mode:o}); run `chmod 600 {path}` and check who has read it")]
    Permissions {
        /// The file.
        path: String,
        /// Its mode bits.
        mode: u32,
    },
    /// File system failure.
    #[error("key file {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
    /// Not a key file.
    #[error("key file {path} is not a valid key file: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Encrypted, and no passphrase or a wrong one.
    #[error("key file {path} is encrypted: {message}")]
    Passphrase {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

fn random<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes)?;
    Ok(bytes)
}

fn derive(passphrase: &str, salt: &[u8], memory_kib: u32, passes: u32, lanes: u32) -> Result<[u8; 32], argon2::Error> {
    let params = Params::new(memory_kib, passes, lanes, Some(32))?;
    let mut key = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params).hash_password_into(
        passphrase.as_bytes(),
        salt,
        &mut key,
    )?;
    Ok(key)
}

impl KeyFile {
    /// Generates a new key and writes it to `path` (which must not exist), readable by
    /// its owner only, encrypted if a passphrase is given. Returns the key.
    pub fn generate(path: &Path, passphrase: Option<&str>) -> Result<SigningKey, KeyFileError> {
        let err = |message: String| KeyFileError::Io { path: path.display().to_string(), message };
        let no_randomness = |e: getrandom::Error| err(format!("no system randomness: {e}"));
        let key = SigningKey::from_bytes(&random::<32>().map_err(no_randomness)?);
        let public = key.verifying_key().to_bytes();
        let mut file = KeyFile { version: 1, public_key: hex::encode(public), secret_key: None, encrypted: None };
        match passphrase {
            None => file.secret_key = Some(hex::encode(key.to_bytes())),
            Some(passphrase) => {
                let (salt, nonce) = (random::<16>().map_err(no_randomness)?, random::<12>().map_err(no_randomness)?);
                let secret =
                    derive(passphrase, &salt, KDF_MEMORY_KIB, KDF_PASSES, KDF_LANES).map_err(|e| err(e.to_string()))?;
                let cipher = ChaCha20Poly1305::new(Key::from_slice(&secret));
                let ciphertext = cipher
                    .encrypt(Nonce::from_slice(&nonce), Payload { msg: &key.to_bytes(), aad: &public })
                    .map_err(|e| err(e.to_string()))?;
                file.encrypted = Some(Encrypted {
                    kdf: "argon2id".into(),
                    memory_kib: KDF_MEMORY_KIB,
                    passes: KDF_PASSES,
                    lanes: KDF_LANES,
                    salt: hex::encode(salt),
                    aead: "chacha20poly1305".into(),
                    nonce: hex::encode(nonce),
                    ciphertext: hex::encode(ciphertext),
                });
            }
        }
        let text = serde_json::to_string_pretty(&file).map_err(|e| err(e.to_string()))?;
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| err(e.to_string()))?;
        out.write_all(text.as_bytes()).and_then(|()| out.sync_all()).map_err(|e| err(e.to_string()))?;
        Ok(key)
    }

    /// The public key recorded in the key file at `path` (no passphrase needed).
    pub fn public_key(path: &Path) -> Result<chancery_ledger::PublicKey, KeyFileError> {
        let name = path.display().to_string();
        let text =
            fs::read_to_string(path).map_err(|e| KeyFileError::Io { path: name.clone(), message: e.to_string() })?;
        let file: KeyFile = serde_json::from_str(&text)
            .map_err(|e| KeyFileError::Format { path: name.clone(), message: e.to_string() })?;
        chancery_ledger::PublicKey::from_hex(&file.public_key)
            .map_err(|e| KeyFileError::Format { path: name, message: format!("public_key: {e}") })
    }

    /// Loads the key in `path`, refusing a file that group or others can read.
    pub fn load(path: &Path, passphrase: Option<&str>) -> Result<SigningKey, KeyFileError> {
        let name = path.display().to_string();
        let io = |e: std::io::Error| KeyFileError::Io { path: name.clone(), message: e.to_string() };
        let format = |message: String| KeyFileError::Format { path: name.clone(), message };
        let metadata = fs::metadata(path).map_err(io)?;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::Permissions { path: name, mode });
        }
        if metadata.len() > KEY_FILE_BYTES_MAX {
            return Err(format(format!("{} bytes, larger than any key file", metadata.len())));
        }
        Self::parse(&name, &fs::read_to_string(path).map_err(io)?, passphrase)
    }

    /// The key in a key file's text (`name` names it in errors).
    pub fn parse(name: &str, text: &str, passphrase: Option<&str>) -> Result<SigningKey, KeyFileError> {
        let format = |message: String| KeyFileError::Format { path: name.to_string(), message };
        if text.len() as u64 > KEY_FILE_BYTES_MAX {
            return Err(format(format!("{} bytes, larger than any key file", text.len())));
        }
        let file: KeyFile = serde_json::from_str(text).map_err(|e| format(e.to_string()))?;
        if file.version != 1 {
            return Err(format(format!("version {} is not supported", file.version)));
        }
        let mut public = [0u8; 32];
        hex::decode_to_slice(&file.public_key, &mut public).map_err(|e| format(format!("public_key: {e}")))?;
        let secret = match (&file.secret_key, &file.encrypted) {
            (Some(secret), None) => {
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(secret, &mut bytes).map_err(|e| format(format!("secret_key: {e}")))?;
                bytes
            }
            (None, Some(encrypted)) => decrypt(name, encrypted, &public, passphrase)?,
            _ => return Err(format("exactly one of secret_key and encrypted must be present".into())),
        };
        let key = SigningKey::from_bytes(&secret);
        if key.verifying_key().to_bytes() != public {
            return Err(format("the secret key does not match public_key".into()));
        }
        Ok(key)
    }
}

fn decrypt(
    name: &str,
    encrypted: &Encrypted,
    public: &[u8; 32],
    passphrase: Option<&str>,
) -> Result<[u8; 32], KeyFileError> {
    let format = |message: String| KeyFileError::Format { path: name.to_string(), message };
    let Some(passphrase) = passphrase else {
        return Err(KeyFileError::Passphrase { path: name.to_string(), message: "give its passphrase".into() });
    };
    if encrypted.kdf != "argon2id" || encrypted.aead != "chacha20poly1305" {
        return Err(format(format!("unsupported kdf {} or aead {}", encrypted.kdf, encrypted.aead)));
    }
    if encrypted.memory_kib > 1 << 21 || encrypted.passes > 16 || encrypted.lanes > 16 {
        return Err(format("KDF cost out of range".into()));
    }
    let salt = hex::decode(&encrypted.salt).map_err(|e| format(format!("salt: {e}")))?;
    let mut nonce = [0u8; 12];
    hex::decode_to_slice(&encrypted.nonce, &mut nonce).map_err(|e| format(format!("nonce: {e}")))?;
    let ciphertext = hex::decode(&encrypted.ciphertext).map_err(|e| format(format!("ciphertext: {e}")))?;
    let secret = derive(passphrase, &salt, encrypted.memory_kib, encrypted.passes, encrypted.lanes)
        .map_err(|e| format(e.to_string()))?;
    let plain = ChaCha20Poly1305::new(Key::from_slice(&secret))
        .decrypt(Nonce::from_slice(&nonce), Payload { msg: &ciphertext, aad: public })
        .map_err(|_| KeyFileError::Passphrase {
            path: name.to_string(),
            message: "wrong passphrase, or the file was changed".into(),
        })?;
    plain.try_into().map_err(|_| format("decrypted key is not 32 bytes".into()))
}

//! Ed25519 public keys and signatures as ledger values.
//!
//! The ledger only verifies; signing lives in the node's signer (and in the `testkit`
//! feature for tests). Verification is strict (`verify_strict`): weak keys and
//! non-canonical signatures are rejected, so every node and every offline verifier gives
//! the same answer for the same bytes.

use std::fmt;

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::hash::{parse_hex_array, Hash, HexError};

/// An Ed25519 public key (32 bytes, compressed Edwards point).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub struct PublicKey(pub [u8; 32]);

/// An Ed25519 signature (64 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Signature(pub [u8; 64]);

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The key bytes are not a valid Ed25519 public key.
    #[error("public key {key} is not a valid Ed25519 key")]
    InvalidKey {
        /// The key, in hex.
        key: String,
    },
    /// The signature does not verify under the key.
    #[error("signature does not verify under key {key}")]
    Mismatch {
        /// The key, in hex.
        key: String,
    },
}

impl crate::codec::Canonical for PublicKey {
    const KIND: &'static str = "public key";
    const BYTES_MAX: usize = 32;
}

impl PublicKey {
    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, HexError> {
        parse_hex_array(text).map(PublicKey)
    }

    /// A short form for messages: the first 8 hex digits and an ellipsis.
    pub fn short(&self) -> String {
        format!("{}…", &self.to_hex()[..8])
    }

    /// Whether the bytes are a valid Ed25519 public key.
    pub fn is_valid(&self) -> bool {
        ed25519_dalek::VerifyingKey::from_bytes(&self.0).is_ok()
    }

    /// Verifies `signature` over the 32-byte `message` (always a context hash).
    pub fn verify(&self, message: &Hash, signature: &Signature) -> Result<(), SignatureError> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(&self.0)
            .map_err(|_| SignatureError::InvalidKey { key: self.to_hex() })?;
        let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
        key.verify_strict(message.as_bytes(), &signature).map_err(|_| SignatureError::Mismatch { key: self.to_hex() })
    }
}

impl Signature {
    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 128 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, HexError> {
        parse_hex_array(text).map(Signature)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

macro_rules! hex_serde {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.to_hex())
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                <$ty>::from_hex(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_serde!(PublicKey);
hex_serde!(Signature);

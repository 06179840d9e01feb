//! Canonical bytes as hex text: how binary objects travel in proof JSON, so a verifier
//! hashes exactly what the validators signed.

use serde::{Deserialize, Serialize};

use crate::codec::{decode, encode, Canonical, DecodeError};

/// Canonical bytes of an object, hex in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HexBytes(#[serde(with = "hex_string")] pub Vec<u8>);

impl HexBytes {
    /// Canonical bytes of `value`.
    pub fn of<T: bincode::Encode>(value: &T) -> Self {
        HexBytes(encode(value))
    }

    /// Decodes the bytes as a `T`.
    pub fn decode<T: Canonical>(&self) -> Result<T, DecodeError> {
        decode(&self.0)
    }
}

/// Bytes as a hex string in JSON (`#[serde(with = "hex_string")]`).
pub mod hex_string {

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `bytes` as lowercase hex.
    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    /// Reads hex (either case).
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

//! Digests of external documents, as the integrator computed them.
//!
//! Courts hash the file themselves with a standard tool, so the ledger records which
//! algorithm was used and checks the digest's length against it.

use std::fmt;

use bincode::de::{BorrowDecoder, Decoder};
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{BorrowDecode, Decode, Encode};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::codec::field_error;

/// A hash algorithm for external documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestAlg {
    /// SHA-256 (FIPS 180-4), 32 bytes.
    Sha256,
    /// SHA-512 (FIPS 180-4), 64 bytes.
    Sha512,
    /// SM3 (GB/T 32905-2016), 32 bytes.
    Sm3,
    /// BLAKE3 in plain hash mode, 32 bytes.
    Blake3,
}

impl DigestAlg {
    /// Digest length in bytes.
    pub const fn digest_len(self) -> usize {
        match self {
            DigestAlg::Sha256 | DigestAlg::Sm3 | DigestAlg::Blake3 => 32,
            DigestAlg::Sha512 => 64,
        }
    }

    /// The algorithm's lower-case name.
    pub const fn name(self) -> &'static str {
        match self {
            DigestAlg::Sha256 => "sha256",
            DigestAlg::Sha512 => "sha512",
            DigestAlg::Sm3 => "sm3",
            DigestAlg::Blake3 => "blake3",
        }
    }

    /// Parses a name as written by [`DigestAlg::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        [DigestAlg::Sha256, DigestAlg::Sha512, DigestAlg::Sm3, DigestAlg::Blake3]
            .into_iter()
            .find(|alg| alg.name() == name)
    }
}

impl fmt::Display for DigestAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A document digest: algorithm and bytes of exactly that algorithm's length.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Digest {
    alg: DigestAlg,
    #[serde(with = "hex_bytes")]
    bytes: Vec<u8>,
}

/// Digest bytes whose length does not fit the algorithm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {alg} digest is {expected} bytes, got {got}")]
pub struct DigestLengthError {
    /// The algorithm.
    pub alg: DigestAlg,
    /// Its digest length.
    pub expected: usize,
    /// Length given.
    pub got: usize,
}

/// Digest text that is not `alg:hex` of a known algorithm and the right length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestTextError {
    /// No `:` between algorithm and digits.
    #[error("digest {text:?} is not ALG:HEX (for example sha256:9f86...)")]
    Form {
        /// The text given.
        text: String,
    },
    /// An algorithm this ledger does not know.
    #[error("unknown digest algorithm {alg:?}; use sha256, sha512, sm3 or blake3")]
    Algorithm {
        /// The name given.
        alg: String,
    },
    /// The digits are not hex.
    #[error("digest hex: {reason}")]
    Hex {
        /// What is wrong.
        reason: String,
    },
    /// The digest has the wrong length for its algorithm.
    #[error(transparent)]
    Length(#[from] DigestLengthError),
}

impl Digest {
    /// Wraps `bytes` as a digest of `alg`, checking the length.
    pub fn new(alg: DigestAlg, bytes: Vec<u8>) -> Result<Self, DigestLengthError> {
        if bytes.len() != alg.digest_len() {
            return Err(DigestLengthError { alg, expected: alg.digest_len(), got: bytes.len() });
        }
        Ok(Self { alg, bytes })
    }

    /// Hashes `data` with `alg`.
    pub fn compute(alg: DigestAlg, data: &[u8]) -> Self {
        let bytes = match alg {
            DigestAlg::Sha256 => sha2::Sha256::digest(data).to_vec(),
            DigestAlg::Sha512 => sha2::Sha512::digest(data).to_vec(),
            DigestAlg::Sm3 => sm3::Sm3::digest(data).to_vec(),
            DigestAlg::Blake3 => blake3::hash(data).as_bytes().to_vec(),
        };
        Self { alg, bytes }
    }

    /// The algorithm.
    pub fn alg(&self) -> DigestAlg {
        self.alg
    }

    /// The digest bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `alg:hex`, the form the CLI prints.
    pub fn to_text(&self) -> String {
        format!("{}:{}", self.alg, hex::encode(&self.bytes))
    }

    /// Parses `alg:hex` (for example `sha256:9f86…`), the form [`Digest::to_text`] prints.
    pub fn parse(text: &str) -> Result<Self, DigestTextError> {
        let (alg, digits) = text.split_once(':').ok_or_else(|| DigestTextError::Form { text: text.to_string() })?;
        let alg = DigestAlg::from_name(alg).ok_or_else(|| DigestTextError::Algorithm { alg: alg.to_string() })?;
        let bytes = hex::decode(digits).map_err(|e| DigestTextError::Hex { reason: e.to_string() })?;
        Ok(Digest::new(alg, bytes)?)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl Encode for Digest {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        self.alg.encode(encoder)?;
        self.bytes.encode(encoder)
    }
}

impl<C> Decode<C> for Digest {
    fn decode<D: Decoder<Context = C>>(decoder: &mut D) -> Result<Self, DecodeError> {
        use bincode::de::read::Reader;
        let alg = DigestAlg::decode(decoder)?;
        let len = u64::decode(decoder)?;
        if len != alg.digest_len() as u64 {
            return Err(field_error(format!("a {alg} digest is {} bytes, got a length of {len}", alg.digest_len())));
        }
        let mut bytes = vec![0u8; alg.digest_len()];
        decoder.claim_bytes_read(bytes.len())?;
        decoder.reader().read(&mut bytes)?;
        Ok(Self { alg, bytes })
    }
}

impl<'de, C> BorrowDecode<'de, C> for Digest {
    fn borrow_decode<D: BorrowDecoder<'de, Context = C>>(decoder: &mut D) -> Result<Self, DecodeError> {
        Decode::decode(decoder)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            alg: DigestAlg,
            #[serde(with = "hex_bytes")]
            bytes: Vec<u8>,
        }
        let raw = Raw::deserialize(deserializer)?;
        Digest::new(raw.alg, raw.bytes).map_err(serde::de::Error::custom)
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known answers from the algorithms' own standards for the message "abc".
    #[test]
    fn known_answers_for_abc() {
        let cases = [
            (DigestAlg::Sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                DigestAlg::Sha512,
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
            (DigestAlg::Sm3, "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
            (DigestAlg::Blake3, "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"),
        ];
        for (alg, want) in cases {
            assert_eq!(hex::encode(Digest::compute(alg, b"abc").bytes()), want, "{alg}");
        }
    }

    #[test]
    fn length_is_checked_per_algorithm() {
        assert!(Digest::new(DigestAlg::Sha256, vec![0; 32]).is_ok());
        assert!(Digest::new(DigestAlg::Sha256, vec![0; 64]).is_err());
        assert!(Digest::new(DigestAlg::Sha512, vec![0; 32]).is_err());
        assert!(Digest::new(DigestAlg::Sm3, vec![0; 31]).is_err());
        let json = r#"{"alg":"sha512","bytes":"00"}"#;
        assert!(serde_json::from_str::<Digest>(json).is_err());
    }
}

//! Canonical bytes as hex text: how binary objects travel in proof JSON, so a verifier
//! hashes exactly what the validators signed.

use serde::{Deserialize, Serialize};

use crate::codec::{decode, encode, Canonical, DecodeError};

/// Each byte's value as a hex digit (either case), or [`NOT_HEX`].
const DIGITS: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};
const NOT_HEX: u8 = 0xff;
const LOWER: &[u8; 16] = b"0123456789abcdef";

/// Text that is not hex.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexTextError {
    /// An odd number of digits.
    #[error("an odd number of hex digits ({0})")]
    OddLength(usize),
    /// A character that is not a hex digit.
    #[error("{found:?} at position {at} is not a hex digit")]
    NotADigit {
        /// The character.
        found: char,
        /// Its byte position.
        at: usize,
    },
}

/// The bytes of hex text (either case). Txs arrive over the RPC as hex: a table lookup
/// per digit here, where the `hex` crate's iterator took about 65 instructions per byte
/// (5% of a dev node's instructions per tx, measured with callgrind).
pub fn decode_hex(text: &str) -> Result<Vec<u8>, HexTextError> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return Err(HexTextError::OddLength(digits.len()));
    }
    let mut out = Vec::with_capacity(digits.len() / 2);
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        let (high, low) = (DIGITS[pair[0] as usize], DIGITS[pair[1] as usize]);
        if high == NOT_HEX || low == NOT_HEX {
            let at = 2 * i + usize::from(high != NOT_HEX);
            let found = text.get(at..).and_then(|t| t.chars().next()).unwrap_or(char::REPLACEMENT_CHARACTER);
            return Err(HexTextError::NotADigit { found, at });
        }
        out.push(high << 4 | low);
    }
    Ok(out)
}

/// Bytes as lowercase hex.
pub fn encode_hex(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(LOWER[usize::from(byte >> 4)]);
        out.push(LOWER[usize::from(byte & 0x0f)]);
    }
    String::from_utf8(out).expect("hex digits are ASCII")
}

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
        serializer.serialize_str(&super::encode_hex(bytes))
    }

    /// Reads hex (either case).
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        super::decode_hex(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_agrees_with_the_hex_crate() {
        let bytes: Vec<u8> = (0..=255u8).chain([0, 0x0f, 0xf0, 0xff]).collect();
        let text = encode_hex(&bytes);
        assert_eq!(text, hex::encode(&bytes));
        assert_eq!(decode_hex(&text), Ok(bytes.clone()));
        assert_eq!(decode_hex(&text.to_uppercase()), Ok(bytes));
        assert_eq!(decode_hex(""), Ok(Vec::new()));
    }

    #[test]
    fn text_that_is_not_hex_is_refused_naming_where() {
        assert_eq!(decode_hex("abc"), Err(HexTextError::OddLength(3)));
        assert_eq!(decode_hex("0g"), Err(HexTextError::NotADigit { found: 'g', at: 1 }));
        assert_eq!(decode_hex("x0"), Err(HexTextError::NotADigit { found: 'x', at: 0 }));
        assert_eq!(decode_hex("00 11"), Err(HexTextError::OddLength(5)));
        assert_eq!(decode_hex("0011 "), Err(HexTextError::OddLength(5)));
        assert_eq!(decode_hex("001 "), Err(HexTextError::NotADigit { found: ' ', at: 3 }));
        // A multi-byte character: named whole, never split.
        assert_eq!(decode_hex("0é0"), Err(HexTextError::NotADigit { found: 'é', at: 1 }));
        assert_eq!(decode_hex("é0"), Err(HexTextError::OddLength(3)));
        assert_eq!(decode_hex("éé"), Err(HexTextError::NotADigit { found: 'é', at: 0 }));
    }
}

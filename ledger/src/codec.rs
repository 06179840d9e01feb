//! The one canonical encoding of every hashed or signed object: bincode 2 with a single
//! fixed configuration (little-endian, fixed-width integers, a decode limit).
//!
//! Layout rules, in full (see `docs/PROOF_FORMAT.md`): integers are little-endian at
//! their full width (`u16` 2 bytes, `u32` 4, `u64` 8); a struct is its fields in order;
//! an enum is its variant index as `u32` then the variant's fields; `Option` is one byte
//! `0` (none) or `1` (some) then the value; a list, string or byte string is its length
//! as `u64` then its items; fixed-size byte arrays (hashes, keys, signatures) are their
//! bytes with no length.
//!
//! [`decode`] accepts exactly the bytes [`encode`] produces: it rejects input longer than
//! the kind's limit, any length above its field's named limit, unknown enum tags, bad
//! booleans or option tags, invalid UTF-8, trailing bytes, and, as a last guard, anything
//! that does not re-encode to the same bytes. It returns an error, never panics.

use bincode::config::{Configuration, Fixint, Limit, LittleEndian};
use bincode::de::{BorrowDecoder, Decoder};
use bincode::enc::Encoder;
use bincode::error::{DecodeError as BincodeDecodeError, EncodeError};
use bincode::{BorrowDecode, Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::limits::DECODE_BYTES_MAX;

type CanonicalConfig = Configuration<LittleEndian, Fixint, Limit<DECODE_BYTES_MAX>>;

/// The only bincode configuration Chancery uses.
const CONFIG: CanonicalConfig =
    bincode::config::standard().with_little_endian().with_fixed_int_encoding().with_limit::<DECODE_BYTES_MAX>();

/// An object with a canonical byte form.
pub trait Canonical: Encode + Decode<()> {
    /// Name used in error messages ("tx", "header", ...).
    const KIND: &'static str;
    /// Largest accepted encoding, in bytes.
    const BYTES_MAX: usize;
}

/// Why bytes were not accepted as the canonical encoding of an object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input is longer than any valid encoding of this kind.
    #[error("{kind} encoding is {len} bytes, above the limit of {max}")]
    TooLarge {
        /// Object kind.
        kind: &'static str,
        /// Input length.
        len: usize,
        /// The kind's limit.
        max: usize,
    },
    /// The input ended early, or a field is malformed (bad tag, length over its limit,
    /// invalid UTF-8, a value outside its domain).
    #[error("{kind} encoding is malformed: {reason}")]
    Malformed {
        /// Object kind.
        kind: &'static str,
        /// What the decoder found.
        reason: String,
    },
    /// Bytes follow the end of the object.
    #[error("{kind} encoding has {extra} trailing bytes")]
    TrailingBytes {
        /// Object kind.
        kind: &'static str,
        /// Number of bytes after the object.
        extra: usize,
    },
    /// The input decodes, but not to the bytes the canonical encoder produces.
    #[error("{kind} encoding is not canonical")]
    NonCanonical {
        /// Object kind.
        kind: &'static str,
    },
}

/// Canonical bytes of `value`.
pub fn encode<T: Encode>(value: &T) -> Vec<u8> {
    // Encoding into a Vec has no I/O to fail and our types have no failing Encode impls;
    // an error here is a bug in this crate, not bad input.
    bincode::encode_to_vec(value, CONFIG).expect("canonical encoding into a Vec cannot fail")
}

/// Appends the canonical bytes of `value` to `out`.
pub fn encode_into<T: Encode>(value: &T, out: &mut Vec<u8>) {
    out.extend_from_slice(&encode(value));
}

/// Decodes canonical bytes of a `T`; see the module documentation for what is rejected.
pub fn decode<T: Canonical>(bytes: &[u8]) -> Result<T, DecodeError> {
    if bytes.len() > T::BYTES_MAX {
        return Err(DecodeError::TooLarge { kind: T::KIND, len: bytes.len(), max: T::BYTES_MAX });
    }
    let (value, read) = bincode::decode_from_slice::<T, _>(bytes, CONFIG)
        .map_err(|e| DecodeError::Malformed { kind: T::KIND, reason: describe(&e) })?;
    if read != bytes.len() {
        return Err(DecodeError::TrailingBytes { kind: T::KIND, extra: bytes.len() - read });
    }
    if encode(&value) != bytes {
        return Err(DecodeError::NonCanonical { kind: T::KIND });
    }
    Ok(value)
}

fn describe(error: &BincodeDecodeError) -> String {
    match error {
        BincodeDecodeError::UnexpectedEnd { .. } => "input ends early".to_string(),
        BincodeDecodeError::LimitExceeded => "a length exceeds the decode limit".to_string(),
        BincodeDecodeError::UnexpectedVariant { found, type_name, .. } => {
            format!("unknown tag {found} for {type_name}")
        }
        BincodeDecodeError::InvalidBooleanValue(v) => format!("invalid boolean byte {v}"),
        BincodeDecodeError::Utf8 { .. } => "text is not valid UTF-8".to_string(),
        BincodeDecodeError::OtherString(s) => s.clone(),
        BincodeDecodeError::Other(s) => (*s).to_string(),
        other => other.to_string(),
    }
}

/// A field-level rule broken while decoding (a limit or a domain check).
pub(crate) fn field_error(message: String) -> BincodeDecodeError {
    BincodeDecodeError::OtherString(message)
}

/// Most list items reserved up front while decoding; longer lists grow as they are read.
const PREALLOCATE_ITEMS_MAX: usize = 256;

fn decode_len<D: Decoder>(decoder: &mut D, max: usize, what: &str) -> Result<usize, BincodeDecodeError> {
    let len = u64::decode(decoder)?;
    if len > max as u64 {
        return Err(field_error(format!("{what} length {len} exceeds the limit of {max}")));
    }
    Ok(len as usize)
}

/// Error for a value built in code that breaks its limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} length {len} exceeds the limit of {max}")]
pub struct LimitError {
    /// What was too long.
    pub what: &'static str,
    /// Its length.
    pub len: usize,
    /// The limit.
    pub max: usize,
}

/// A list of at most `MAX` items; decoding rejects longer lists before reading them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct BoundedVec<T, const MAX: usize>(Vec<T>);

impl<T, const MAX: usize> Default for BoundedVec<T, MAX> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T, const MAX: usize> BoundedVec<T, MAX> {
    /// Wraps `items` if there are at most `MAX` of them.
    pub fn new(items: Vec<T>) -> Result<Self, LimitError> {
        if items.len() > MAX {
            return Err(LimitError { what: "list", len: items.len(), max: MAX });
        }
        Ok(Self(items))
    }
    /// An empty list.
    pub fn empty() -> Self {
        Self(Vec::new())
    }
    /// The items.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }
    /// Takes the items out.
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
    /// Number of items.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Iterates over the items.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }
}

impl<T, const MAX: usize> std::ops::Deref for BoundedVec<T, MAX> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<'a, T, const MAX: usize> IntoIterator for &'a BoundedVec<T, MAX> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T: Encode, const MAX: usize> Encode for BoundedVec<T, MAX> {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        self.0.encode(encoder)
    }
}

impl<C, T: Decode<C>, const MAX: usize> Decode<C> for BoundedVec<T, MAX> {
    fn decode<D: Decoder<Context = C>>(decoder: &mut D) -> Result<Self, BincodeDecodeError> {
        let len = decode_len(decoder, MAX, "list")?;
        // A length prefix costs the sender 8 bytes; do not let it reserve more than a
        // little memory before items have actually been read.
        let mut items = Vec::with_capacity(len.min(PREALLOCATE_ITEMS_MAX));
        for _ in 0..len {
            items.push(T::decode(decoder)?);
        }
        Ok(Self(items))
    }
}

impl<'de, C, T: Decode<C>, const MAX: usize> BorrowDecode<'de, C> for BoundedVec<T, MAX> {
    fn borrow_decode<D: BorrowDecoder<'de, Context = C>>(decoder: &mut D) -> Result<Self, BincodeDecodeError> {
        Decode::decode(decoder)
    }
}

impl<'de, T: Deserialize<'de>, const MAX: usize> Deserialize<'de> for BoundedVec<T, MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = Vec::<T>::deserialize(deserializer)?;
        Self::new(items).map_err(serde::de::Error::custom)
    }
}

/// A byte string of at most `MAX` bytes; hex in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct BoundedBytes<const MAX: usize>(Vec<u8>);

impl<const MAX: usize> BoundedBytes<MAX> {
    /// Wraps `bytes` if there are at most `MAX` of them.
    pub fn new(bytes: Vec<u8>) -> Result<Self, LimitError> {
        if bytes.len() > MAX {
            return Err(LimitError { what: "byte string", len: bytes.len(), max: MAX });
        }
        Ok(Self(bytes))
    }
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl<const MAX: usize> Encode for BoundedBytes<MAX> {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        self.0.encode(encoder)
    }
}

impl<C, const MAX: usize> Decode<C> for BoundedBytes<MAX> {
    fn decode<D: Decoder<Context = C>>(decoder: &mut D) -> Result<Self, BincodeDecodeError> {
        Ok(Self(decode_byte_string(decoder, MAX, "byte string")?))
    }
}

fn decode_byte_string<D: Decoder>(decoder: &mut D, max: usize, what: &str) -> Result<Vec<u8>, BincodeDecodeError> {
    use bincode::de::read::Reader;
    let len = decode_len(decoder, max, what)?;
    decoder.claim_bytes_read(len)?;
    let mut bytes = vec![0u8; len];
    decoder.reader().read(&mut bytes)?;
    Ok(bytes)
}

impl<'de, C, const MAX: usize> BorrowDecode<'de, C> for BoundedBytes<MAX> {
    fn borrow_decode<D: BorrowDecoder<'de, Context = C>>(decoder: &mut D) -> Result<Self, BincodeDecodeError> {
        Decode::decode(decoder)
    }
}

impl<const MAX: usize> Serialize for BoundedBytes<MAX> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for BoundedBytes<MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = hex::decode(&text).map_err(serde::de::Error::custom)?;
        Self::new(bytes).map_err(serde::de::Error::custom)
    }
}

/// A UTF-8 string of at most `MAX` bytes with no control characters, used for names and
/// ids. Its rules are checked when built and when decoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
#[serde(transparent)]
pub struct BoundedString<const MAX: usize>(String);

/// Why a string was refused as a name or id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Empty where a value is required.
    #[error("must not be empty")]
    Empty,
    /// Longer than its limit.
    #[error("is {len} bytes, above the limit of {max}")]
    TooLong {
        /// Length in bytes.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Contains a control character or leading/trailing whitespace.
    #[error("must not contain control characters or leading or trailing spaces")]
    BadCharacters,
}

impl<const MAX: usize> BoundedString<MAX> {
    /// Checks and wraps `text`: non-empty, at most `MAX` bytes, no control characters, no
    /// surrounding whitespace.
    pub fn new(text: impl Into<String>) -> Result<Self, TextError> {
        let text = text.into();
        check_text(&text, MAX)?;
        Ok(Self(text))
    }
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_text(text: &str, max: usize) -> Result<(), TextError> {
    if text.is_empty() {
        return Err(TextError::Empty);
    }
    if text.len() > max {
        return Err(TextError::TooLong { len: text.len(), max });
    }
    if text.chars().any(char::is_control) || text.trim() != text {
        return Err(TextError::BadCharacters);
    }
    Ok(())
}

impl<const MAX: usize> std::fmt::Display for BoundedString<MAX> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MAX: usize> Encode for BoundedString<MAX> {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        self.0.encode(encoder)
    }
}

impl<C, const MAX: usize> Decode<C> for BoundedString<MAX> {
    fn decode<D: Decoder<Context = C>>(decoder: &mut D) -> Result<Self, BincodeDecodeError> {
        let bytes = decode_byte_string(decoder, MAX, "text")?;
        let text = String::from_utf8(bytes).map_err(|_| field_error("text is not valid UTF-8".into()))?;
        check_text(&text, MAX).map_err(|e| field_error(format!("text {e}")))?;
        Ok(Self(text))
    }
}

impl<'de, C, const MAX: usize> BorrowDecode<'de, C> for BoundedString<MAX> {
    fn borrow_decode<D: BorrowDecoder<'de, Context = C>>(decoder: &mut D) -> Result<Self, BincodeDecodeError> {
        Decode::decode(decoder)
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for BoundedString<MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::new(text).map_err(serde::de::Error::custom)
    }
}

//! BLAKE3 hashes, domain-separated by object kind.
//!
//! Every hash Chancery computes is `BLAKE3-derive_key(context, bytes)` with one context
//! string per kind of object, so bytes of one kind can never be passed off as another
//! (a Merkle node as a leaf, a header as a transaction). The contexts are listed in
//! [`HashContext`] and in `docs/PROOF_FORMAT.md`.

use std::fmt;
use std::sync::LazyLock;

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

/// A 32-byte BLAKE3 hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Encode, Decode)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash, used where there is nothing to hash (the tx root of an empty
    /// block's tree, before the count is bound in).
    pub const ZERO: Hash = Hash([0; 32]);

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        crate::hex::encode_hex(&self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, HexError> {
        parse_hex_array(text).map(Hash)
    }
}

/// Text that is not the hex form of a fixed-size value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected} hex digits, got {text:?}")]
pub struct HexError {
    /// Number of hex digits expected.
    pub expected: usize,
    /// The text given (cut to 80 characters).
    pub text: String,
}

pub(crate) fn parse_hex_array<const N: usize>(text: &str) -> Result<[u8; N], HexError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out)
        .map_err(|_| HexError { expected: 2 * N, text: text.chars().take(80).collect() })?;
    Ok(out)
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Hash::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// One BLAKE3 `derive_key` context per kind of hashed object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashContext {
    /// `tx_hash`: the hash of a whole signed transaction's canonical bytes.
    Tx,
    /// The message a transaction's signer signs: its canonical bytes without the signature.
    TxSigning,
    /// The block hash: the hash of a header's canonical bytes.
    Header,
    /// The message a validator signs for a consensus vote.
    Vote,
    /// The message a validator signs for a consensus proposal.
    Proposal,
    /// A leaf of a block's tx tree (over a `tx_hash`).
    TxTreeLeaf,
    /// An inner node of a block's tx tree.
    TxTreeNode,
    /// A block's `tx_root`: the tx tree's root bound to the tx count.
    TxTreeRoot,
    /// A leaf of the history tree (over a block hash).
    HistoryLeaf,
    /// An inner node of the history tree.
    HistoryNode,
    /// The root of an empty history tree.
    HistoryEmpty,
    /// A header's `history_root`: the history tree's root bound to its size.
    HistoryRoot,
    /// The genesis hash.
    Genesis,
    /// `validators_hash`: the hash of a validator set's canonical bytes.
    ValidatorSet,
    /// A key of the ledger state.
    State,
    /// A value of the ledger state.
    StateValue,
    /// A leaf of the state tree (over key hash and value hash).
    StateLeaf,
    /// An inner node of the state tree.
    StateNode,
    /// Equivocation evidence (two conflicting signed messages of one validator).
    Equivocation,
    /// A document signature named by a signing event.
    DocumentSignature,
}

impl HashContext {
    /// Every context, for tests and documentation.
    pub const ALL: [HashContext; 20] = [
        HashContext::Tx,
        HashContext::TxSigning,
        HashContext::Header,
        HashContext::Vote,
        HashContext::Proposal,
        HashContext::TxTreeLeaf,
        HashContext::TxTreeNode,
        HashContext::TxTreeRoot,
        HashContext::HistoryLeaf,
        HashContext::HistoryNode,
        HashContext::HistoryEmpty,
        HashContext::HistoryRoot,
        HashContext::Genesis,
        HashContext::ValidatorSet,
        HashContext::State,
        HashContext::StateValue,
        HashContext::StateLeaf,
        HashContext::StateNode,
        HashContext::Equivocation,
        HashContext::DocumentSignature,
    ];

    /// The context string handed to BLAKE3's `derive_key`.
    pub const fn as_str(self) -> &'static str {
        match self {
            HashContext::Tx => "chancery v1 tx",
            HashContext::TxSigning => "chancery v1 tx signing",
            HashContext::Header => "chancery v1 block header",
            HashContext::Vote => "chancery v1 vote",
            HashContext::Proposal => "chancery v1 proposal",
            HashContext::TxTreeLeaf => "chancery v1 tx tree leaf",
            HashContext::TxTreeNode => "chancery v1 tx tree node",
            HashContext::TxTreeRoot => "chancery v1 tx tree root",
            HashContext::HistoryLeaf => "chancery v1 history leaf",
            HashContext::HistoryNode => "chancery v1 history node",
            HashContext::HistoryEmpty => "chancery v1 history empty",
            HashContext::HistoryRoot => "chancery v1 history root",
            HashContext::Genesis => "chancery v1 genesis",
            HashContext::ValidatorSet => "chancery v1 validator set",
            HashContext::State => "chancery v1 state",
            HashContext::StateValue => "chancery v1 state value",
            HashContext::StateLeaf => "chancery v1 state leaf",
            HashContext::StateNode => "chancery v1 state node",
            HashContext::Equivocation => "chancery v1 equivocation",
            HashContext::DocumentSignature => "chancery v1 document signature",
        }
    }

    /// A hasher in this context, ready for `update`.
    pub fn hasher(self) -> blake3::Hasher {
        use blake3::hazmat::{hash_derive_key_context, ContextKey, HasherExt};
        // Deriving the context key costs one BLAKE3 compression; do it once per context.
        // Building a hasher from the key is then as cheap as a plain `Hasher::new`.
        static CONTEXT_KEYS: LazyLock<Vec<ContextKey>> =
            LazyLock::new(|| HashContext::ALL.iter().map(|c| hash_derive_key_context(c.as_str())).collect());
        blake3::Hasher::new_from_context_key(&CONTEXT_KEYS[self as usize])
    }

    /// `BLAKE3-derive_key(self, bytes)`.
    pub fn hash(self, bytes: &[u8]) -> Hash {
        let mut hasher = self.hasher();
        hasher.update(bytes);
        Hash(*hasher.finalize().as_bytes())
    }

    /// `BLAKE3-derive_key(self, a || b)`, without building the concatenation.
    pub fn hash_pair(self, a: &[u8], b: &[u8]) -> Hash {
        let mut hasher = self.hasher();
        hasher.update(a);
        hasher.update(b);
        Hash(*hasher.finalize().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_are_distinct_and_indexed_in_order() {
        for (i, c) in HashContext::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i, "ALL must list contexts in declaration order");
        }
        let mut names: Vec<_> = HashContext::ALL.iter().map(|c| c.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), HashContext::ALL.len());
    }

    #[test]
    fn cached_hasher_matches_plain_derive_key() {
        for c in HashContext::ALL {
            let expected = blake3::derive_key(c.as_str(), b"chancery");
            assert_eq!(c.hash(b"chancery").0, expected);
            assert_eq!(c.hash_pair(b"chan", b"cery").0, expected);
        }
    }

    #[test]
    fn hex_round_trip_and_rejects_bad_text() {
        let h = HashContext::Tx.hash(b"x");
        assert_eq!(Hash::from_hex(&h.to_hex()), Ok(h));
        assert!(Hash::from_hex("abc").is_err());
        assert!(Hash::from_hex(&"zz".repeat(32)).is_err());
        assert!(Hash::from_hex(&"00".repeat(33)).is_err());
    }
}

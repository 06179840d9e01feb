//! The proof bundle: everything needed, besides the genesis file, to prove offline that a
//! tx was committed. Versioned JSON; binary objects travel as hex of their canonical bytes
//! so a verifier hashes exactly what the validators signed. Schema and verification steps:
//! `docs/PROOF_FORMAT.md`.

use serde::{Deserialize, Serialize};

use crate::chain::{ChainId, Commit, Header};
use crate::codec::{decode, encode, Canonical, DecodeError};
use crate::hash::Hash;
use crate::limits::BUNDLE_JSON_BYTES_MAX;
use crate::tx::Tx;
use crate::tx_tree::TxProof;
use crate::validator::ValidatorSet;

/// The bundle format version this crate writes and verifies.
pub const BUNDLE_VERSION: u32 = 2;

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

pub(crate) mod hex_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

/// A proof that one tx is in a committed block of one chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofBundle {
    /// Format version; this crate reads only [`BUNDLE_VERSION`].
    pub version: u32,
    /// The chain.
    pub chain_id: ChainId,
    /// Hash of the genesis the chain started from.
    pub genesis_hash: Hash,
    /// The tx, canonical bytes.
    pub tx: HexBytes,
    /// Path from the tx to the header's `tx_root`.
    pub tx_proof: TxProof,
    /// The block header, canonical bytes.
    pub header: HexBytes,
    /// The header's commit, canonical bytes.
    pub commit: HexBytes,
    /// Every validator-set change from genesis up to the last header in this bundle, in
    /// order, each proven by the header that committed it and that header's commit by
    /// the set before it.
    pub validator_changes: Vec<ValidatorSetChange>,
    /// Optionally, a later header whose `history_root` includes this block.
    pub checkpoint: Option<Checkpoint>,
    /// For evidence that names a certificate: its status at this block's time, proven as
    /// of a block at or after this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_status: Option<crate::cert::CertStatusProof>,
}

/// A validator-set change: the header that committed the new set (its
/// `next_validators_hash`), that header's commit by the set in force there, and the new
/// set, which signs from the header's height + 1 on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorSetChange {
    /// The committing header, canonical bytes.
    pub header: HexBytes,
    /// Its commit, canonical bytes.
    pub commit: HexBytes,
    /// The new set, canonical bytes.
    pub validators: HexBytes,
}

/// A later committed header and the history-tree path from the proven block to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The later header, canonical bytes.
    pub header: HexBytes,
    /// Its commit, canonical bytes.
    pub commit: HexBytes,
    /// Inclusion proof of the proven block's hash (leaf index = its height) in the
    /// history tree of size = the checkpoint's height.
    pub history_proof: Vec<Hash>,
}

/// A bundle that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// Larger than any bundle the verifier accepts.
    #[error("proof bundle is {len} bytes, above the limit of {max}")]
    TooLarge {
        /// Size.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// A version this verifier does not know.
    #[error("proof bundle version {found} is not supported; this verifier reads version {BUNDLE_VERSION}")]
    UnsupportedVersion {
        /// The bundle's version.
        found: u64,
    },
    /// Not valid bundle JSON.
    #[error("proof bundle is not valid JSON of the bundle schema: {reason}")]
    Json {
        /// Parser message.
        reason: String,
    },
}

/// Parses one of the proof documents (certificate status proof, saved checkpoint,
/// proposal proof): the size first, then the whole schema, unknown fields refused.
pub(crate) fn parse_document<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, BundleError> {
    if json.len() > BUNDLE_JSON_BYTES_MAX {
        return Err(BundleError::TooLarge { len: json.len(), max: BUNDLE_JSON_BYTES_MAX });
    }
    serde_json::from_str(json).map_err(|e| BundleError::Json { reason: e.to_string() })
}

impl ProofBundle {
    /// Assembles a bundle from decoded parts.
    pub fn new(
        tx: &Tx,
        tx_proof: TxProof,
        header: &Header,
        commit: &Commit,
        genesis_hash: Hash,
        validator_changes: Vec<ValidatorSetChange>,
    ) -> Self {
        ProofBundle {
            version: BUNDLE_VERSION,
            chain_id: header.chain_id.clone(),
            genesis_hash,
            tx: HexBytes::of(tx),
            tx_proof,
            header: HexBytes::of(header),
            commit: HexBytes::of(commit),
            validator_changes,
            checkpoint: None,
            cert_status: None,
        }
    }

    /// Parses bundle JSON: checks the size, then the version, then the whole schema.
    pub fn from_json(json: &str) -> Result<Self, BundleError> {
        if json.len() > BUNDLE_JSON_BYTES_MAX {
            return Err(BundleError::TooLarge { len: json.len(), max: BUNDLE_JSON_BYTES_MAX });
        }
        #[derive(Deserialize)]
        struct VersionOnly {
            version: u64,
        }
        let probe: VersionOnly = serde_json::from_str(json).map_err(|e| BundleError::Json { reason: e.to_string() })?;
        if probe.version != u64::from(BUNDLE_VERSION) {
            return Err(BundleError::UnsupportedVersion { found: probe.version });
        }
        serde_json::from_str(json).map_err(|e| BundleError::Json { reason: e.to_string() })
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain structs of strings and numbers cannot fail.
        serde_json::to_string_pretty(self).expect("bundle serialises to JSON")
    }
}

impl ValidatorSetChange {
    /// The change `header` committed to `validators`, proven by `commit`.
    pub fn new(header: &Header, commit: &Commit, validators: &ValidatorSet) -> Self {
        ValidatorSetChange {
            header: HexBytes::of(header),
            commit: HexBytes::of(commit),
            validators: HexBytes::of(validators),
        }
    }
}

//! The proof bundle: everything needed, besides the genesis file, to prove offline that a
//! tx was committed. Versioned JSON; binary objects travel as hex of their canonical bytes
//! so a verifier hashes exactly what the validators signed. Schema and verification steps:
//! `docs/PROOF_FORMAT.md`.

use serde::{Deserialize, Serialize};

use super::cert::CertStatusProof;
use super::chain::{Checkpoint, ValidatorSetChange};
use super::json::{BundleError, BUNDLE_VERSION};
use crate::hash::Hash;
use crate::hex::HexBytes;
use crate::limits::BUNDLE_JSON_BYTES_MAX;
use crate::merkle::tx_tree::TxProof;
use crate::types::block::{ChainId, Commit, Header};
use crate::types::tx::Tx;

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
    pub cert_status: Option<CertStatusProof>,
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

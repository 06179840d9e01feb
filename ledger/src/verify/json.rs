//! What every proof document (bundle, certificate status proof, saved checkpoint,
//! proposal proof) shares: the format version, the size limit, strict parsing.

use crate::limits::BUNDLE_JSON_BYTES_MAX;

/// The proof format version this crate writes and verifies.
pub const BUNDLE_VERSION: u32 = 2;

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
pub fn parse_document<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, BundleError> {
    if json.len() > BUNDLE_JSON_BYTES_MAX {
        return Err(BundleError::TooLarge { len: json.len(), max: BUNDLE_JSON_BYTES_MAX });
    }
    serde_json::from_str(json).map_err(|e| BundleError::Json { reason: e.to_string() })
}

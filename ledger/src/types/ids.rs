//! The small identifiers every record names: the chain (id and identity), a CA, a
//! certificate serial, an evidence kind. They come first in the ledger's types, which
//! import one way: ids, params, validator, vote, misbehaviour, gov, tx, block.

use bincode::de::{BorrowDecoder, Decoder};
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{BorrowDecode, Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::codec::{field_error, BoundedBytes, BoundedString};
use crate::hash::Hash;
use crate::limits::{CA_ID_BYTES_MAX, CERT_SERIAL_BYTES_MAX, CHAIN_ID_BYTES_MAX};

/// A chain id: 1 to 64 ASCII letters, digits, `-`, `_` or `.` (for example `court-net-1`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ChainId(BoundedString<CHAIN_ID_BYTES_MAX>);

/// A chain id that breaks the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chain id {given:?} is invalid: use 1 to {CHAIN_ID_BYTES_MAX} ASCII letters, digits, '-', '_' or '.'")]
pub struct ChainIdError {
    /// The text given (cut to 80 characters).
    pub given: String,
}

impl ChainId {
    /// Checks and wraps `text`.
    pub fn new(text: &str) -> Result<Self, ChainIdError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if !text.chars().all(allowed) {
            return Err(ChainIdError { given: text.chars().take(80).collect() });
        }
        BoundedString::new(text).map(ChainId).map_err(|_| ChainIdError { given: text.chars().take(80).collect() })
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl std::fmt::Display for ChainId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Encode for ChainId {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        self.0.encode(encoder)
    }
}

impl<C> Decode<C> for ChainId {
    fn decode<D: Decoder<Context = C>>(decoder: &mut D) -> Result<Self, DecodeError> {
        let text = BoundedString::<CHAIN_ID_BYTES_MAX>::decode(decoder)?;
        ChainId::new(text.as_str()).map_err(|e| field_error(e.to_string()))
    }
}

impl<'de, C> BorrowDecode<'de, C> for ChainId {
    fn borrow_decode<D: BorrowDecoder<'de, Context = C>>(decoder: &mut D) -> Result<Self, DecodeError> {
        Decode::decode(decoder)
    }
}

impl<'de> Deserialize<'de> for ChainId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ChainId::new(&text).map_err(serde::de::Error::custom)
    }
}

/// A chain's identity: its id and its genesis hash, both bound into every signed message,
/// so a chain relaunched with the same id and keys shares no valid signature with it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChainIdentity {
    /// The chain id.
    pub chain_id: ChainId,
    /// The genesis hash.
    pub genesis_hash: Hash,
}

/// A certificate authority's id, as used in certificate events.
pub type CaId = BoundedString<CA_ID_BYTES_MAX>;

/// A certificate serial number, as the CA assigned it.
pub type CertSerial = BoundedBytes<CERT_SERIAL_BYTES_MAX>;

/// The kind of an evidence record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// A document (contract) as signed.
    Document,
    /// A signing event: who signed what, when, with which certificate.
    SigningEvent,
    /// An identity check of a signer (salted hash of the facts).
    IdentityCheck,
    /// A check of the signer's intent to sign.
    IntentCheck,
    /// A bundle of evidence for one transaction.
    EvidencePackage,
    /// An external timestamp token (for example RFC 3161).
    TimestampToken,
    /// A notarial act.
    Notarization,
    /// A forensic expert's opinion.
    ForensicOpinion,
    /// A filing in court.
    CourtFiling,
    /// A kind defined by the network's members.
    Custom(u16),
}

impl EvidenceKind {
    /// The kind's name as written in JSON and on the command line.
    pub fn name(&self) -> String {
        match self {
            EvidenceKind::Document => "document".into(),
            EvidenceKind::SigningEvent => "signing_event".into(),
            EvidenceKind::IdentityCheck => "identity_check".into(),
            EvidenceKind::IntentCheck => "intent_check".into(),
            EvidenceKind::EvidencePackage => "evidence_package".into(),
            EvidenceKind::TimestampToken => "timestamp_token".into(),
            EvidenceKind::Notarization => "notarization".into(),
            EvidenceKind::ForensicOpinion => "forensic_opinion".into(),
            EvidenceKind::CourtFiling => "court_filing".into(),
            EvidenceKind::Custom(n) => format!("custom:{n}"),
        }
    }
}

//! Transactions: the signed envelope and the records it carries.

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::codec::{encode, BoundedVec, Canonical};
use crate::crypto::{PublicKey, Signature, SignatureError};
use crate::digest::Digest;
use crate::hash::{Hash, HashContext};
use crate::limits::{EVIDENCE_REFS_MAX, TX_BYTES_MAX};
use crate::types::ids::ChainId;
pub use crate::types::ids::{CaId, CertSerial, EvidenceKind};

/// A signed transaction. The signature covers the canonical bytes of every other field
/// (see [`Tx::signing_message`]).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tx {
    /// The chain this tx is for; a tx never validates on another chain.
    pub chain_id: ChainId,
    /// The record.
    pub body: TxBody,
    /// The submitting member's key.
    pub signer: PublicKey,
    /// Greater than the signer's previous nonce on this chain.
    pub nonce: u64,
    /// Ed25519 signature by `signer` over [`Tx::signing_message`].
    pub signature: Signature,
}

impl Canonical for Tx {
    const KIND: &'static str = "tx";
    const BYTES_MAX: usize = TX_BYTES_MAX;
}

impl Tx {
    /// `body` as a tx of `key` (a member's key, an institution's admin key, a node's p2p
    /// key) on the chain `chain` (its id and genesis hash), signed with `nonce`.
    pub fn sign(
        key: &ed25519_dalek::SigningKey,
        chain: &crate::types::ids::ChainIdentity,
        body: TxBody,
        nonce: u64,
    ) -> Tx {
        use ed25519_dalek::Signer as _;
        let signer = PublicKey(key.verifying_key().to_bytes());
        let message = Tx::signing_message(&chain.chain_id, &chain.genesis_hash, &body, &signer, nonce);
        let signature = Signature(key.sign(message.as_bytes()).to_bytes());
        Tx { chain_id: chain.chain_id.clone(), body, signer, nonce, signature }
    }

    /// `BLAKE3-derive_key("chancery v1 tx signing", chain_id || genesis_hash || body ||
    /// signer || nonce)`. The genesis hash binds the tx to one chain: a chain relaunched
    /// with the same id and keys accepts none of another's txs.
    pub fn signing_message(
        chain_id: &ChainId,
        genesis_hash: &Hash,
        body: &TxBody,
        signer: &PublicKey,
        nonce: u64,
    ) -> Hash {
        HashContext::TxSigning.hash(&encode(&(chain_id, genesis_hash, body, signer, nonce)))
    }

    /// This tx's own signing message on the chain of `genesis_hash`.
    pub fn message(&self, genesis_hash: &Hash) -> Hash {
        Self::signing_message(&self.chain_id, genesis_hash, &self.body, &self.signer, self.nonce)
    }

    /// `tx_hash`: the hash of the whole signed tx's canonical bytes.
    pub fn hash(&self) -> Hash {
        HashContext::Tx.hash(&encode(self))
    }

    /// Verifies the signature for the chain of `genesis_hash`.
    pub fn verify_signature(&self, genesis_hash: &Hash) -> Result<(), SignatureError> {
        self.signer.verify(&self.message(genesis_hash), &self.signature)
    }
}

/// What a transaction records.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxBody {
    /// A digest of signing evidence.
    Evidence(Evidence),
    /// A certificate lifecycle event.
    CertEvent(CertEvent),
    /// A governance proposal, signed by a voting validator's admin key; its id is its
    /// tx hash.
    Propose(crate::types::gov::GovProposal),
    /// A vote on a proposal, signed by a voting validator's admin key.
    Vote(crate::types::gov::GovVote),
    /// An institution replaces one of its own keys, signed by its current admin key.
    RotateKey(crate::types::gov::KeyRotation),
    /// Proof that a validator signed two conflicting consensus messages, anchored by a
    /// validator's node (signed with its p2p key).
    Misbehaviour(crate::types::misbehaviour::Equivocation),
}

/// An evidence record. No personal data goes on chain: identity facts are anchored as
/// salted hashes, so destroying the salt off chain honours an erasure request.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// What the digest is of.
    pub kind: EvidenceKind,
    /// The document's digest, as the integrator computed it.
    pub digest: Digest,
    /// Related records (a signing event points at its document's tx).
    pub refs: BoundedVec<Hash, EVIDENCE_REFS_MAX>,
    /// Hash of off-chain metadata, if any.
    pub meta: Option<Hash>,
    /// The time the integrator claims for the event; the anchoring time is the block's.
    pub claimed_time_ms: Option<u64>,
    /// The certificate used, for signing events.
    pub cert: Option<CertRef>,
    /// The signature made, for signing events: its hash and how it was made.
    #[serde(default)]
    pub signature: Option<DocumentSignature>,
}

/// A document signature named by a signing event (the signature itself stays off chain).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentSignature {
    /// `H("chancery v1 document signature", signature bytes)`.
    pub hash: Hash,
    /// How it was made.
    pub method: SigningMethod,
}

/// How a document signature was made.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SigningMethod {
    /// Ed25519 over the document digest's bytes, by a key hosted in a Chancery signer
    /// and bound to the named certificate. The event carries the signature and the key:
    /// execution checks that the signature verifies, that `hash` is its hash, and that the
    /// certificate was issued for this key, so no one can name a hosted certificate for a
    /// signature its key never made.
    HostedEd25519 {
        /// The certificate's subject key.
        public_key: PublicKey,
        /// The signature over the document digest's bytes.
        signature: Signature,
    },
    /// Outside Chancery (the integrator's own signing system).
    External,
}

impl SigningMethod {
    /// How people read it in reports: which key made a hosted signature.
    pub fn describe(&self) -> String {
        match self {
            SigningMethod::HostedEd25519 { public_key, .. } => {
                format!("a hosted Ed25519 key {} (signature verified over the digest)", public_key.to_hex())
            }
            SigningMethod::External => "an external signing system".into(),
        }
    }
}

impl DocumentSignature {
    /// The record of a hosted Ed25519 signature by `public_key`.
    pub fn hosted(public_key: PublicKey, signature: Signature) -> Self {
        DocumentSignature {
            hash: HashContext::DocumentSignature.hash(&signature.0),
            method: SigningMethod::HostedEd25519 { public_key, signature },
        }
    }

    /// For a hosted signature: that `hash` is the signature's, and that the signature
    /// verifies under its key over `digest`'s bytes. Nothing to check for an external one.
    pub fn check_hosted(&self, digest: &Digest) -> Result<(), HostedSignatureError> {
        let SigningMethod::HostedEd25519 { public_key, signature } = &self.method else { return Ok(()) };
        if self.hash != HashContext::DocumentSignature.hash(&signature.0) {
            return Err(HostedSignatureError::HashMismatch);
        }
        public_key
            .verify_bytes(digest.bytes(), signature)
            .map_err(|_| HostedSignatureError::BadSignature { key: *public_key })
    }
}

/// A hosted document signature that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostedSignatureError {
    /// The recorded hash is not the signature's.
    #[error("its hash is not the hash of the signature it carries")]
    HashMismatch,
    /// The signature does not verify.
    #[error("the signature does not verify under its key over the document digest")]
    BadSignature {
        /// The key it names.
        key: PublicKey,
    },
    /// The signing event names no certificate for the key.
    #[error("a hosted signature names the certificate of its key; this event names none")]
    NoCertificate,
    /// The certificate named is not issued on this chain.
    #[error("certificate {ca}/{serial} is not issued on this chain")]
    NotIssued {
        /// The CA.
        ca: String,
        /// The serial, hex.
        serial: String,
    },
    /// The certificate was issued for another key.
    #[error("certificate {ca}/{serial} was issued for another key than {key}")]
    OtherKey {
        /// The CA.
        ca: String,
        /// The serial, hex.
        serial: String,
        /// The key that signed.
        key: PublicKey,
    },
}

/// A certificate reference given as text that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertRefError {
    /// The CA id breaks the rules.
    #[error("ca: {reason}")]
    Ca {
        /// What is wrong.
        reason: String,
    },
    /// The serial is not hex.
    #[error("serial is not hex: {reason}")]
    SerialHex {
        /// What is wrong.
        reason: String,
    },
    /// The serial is too long.
    #[error("serial: {reason}")]
    Serial {
        /// What is wrong.
        reason: String,
    },
}

/// A reference to a certificate by its CA and serial.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertRef {
    /// The issuing CA's id.
    pub ca: CaId,
    /// The serial number.
    pub serial: CertSerial,
}

impl CertRef {
    /// A CA id and a serial in hex, as people and JSON write them; the error names the
    /// part that is wrong.
    pub fn from_text(ca: &str, serial_hex: &str) -> Result<Self, CertRefError> {
        let ca = CaId::new(ca).map_err(|e| CertRefError::Ca { reason: e.to_string() })?;
        let bytes = hex::decode(serial_hex.trim()).map_err(|e| CertRefError::SerialHex { reason: e.to_string() })?;
        let serial = CertSerial::new(bytes).map_err(|e| CertRefError::Serial { reason: e.to_string() })?;
        Ok(CertRef { ca, serial })
    }
}

/// A certificate lifecycle event, submitted by the issuing CA.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertEvent {
    /// The issuing CA's id.
    pub ca: CaId,
    /// The serial number.
    pub serial: CertSerial,
    /// Digest of the certificate (DER).
    pub cert_digest: Digest,
    /// Digest of the subject's public key.
    pub subject_key: Digest,
    /// What happened.
    pub event: CertEventKind,
}

/// What happened to a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CertEventKind {
    /// Issued, valid from `not_before_ms` until `not_after_ms`.
    Issued {
        /// Start of validity.
        not_before_ms: u64,
        /// End of validity.
        not_after_ms: u64,
    },
    /// Validity extended to `not_after_ms`.
    Renewed {
        /// New end of validity.
        not_after_ms: u64,
    },
    /// Revoked from `effective_ms` on; final.
    Revoked {
        /// Why.
        reason: RevocationReason,
        /// From when.
        effective_ms: u64,
    },
}

/// Why a certificate was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// The private key was lost or leaked.
    KeyCompromise,
    /// The holder's information changed.
    InformationChanged,
    /// The certificate was used illegally.
    IllegalUse,
    /// The holding organisation was dissolved.
    OrganisationDissolved,
    /// No reason given.
    Unspecified,
}

//! Every error the RPC returns has a stable numeric code. Codes from -32768 to -32000 are
//! JSON-RPC's own (and jsonrpsee's for limits); Chancery's codes are 1000 and above,
//! grouped by what the caller should do. `docs/RPC.md` lists them all; a test checks the
//! list against [`ErrorCode::ALL`].

use jsonrpsee::types::{ErrorObject, ErrorObjectOwned};
use serde::{Deserialize, Serialize};

/// Chancery's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(i32)]
pub enum ErrorCode {
    /// The tx hex is not hex, or its bytes are not one canonical tx.
    TxMalformed = 1000,
    /// The tx signature does not verify under its signer key.
    BadSignature = 1001,
    /// The tx is for another chain.
    WrongChain = 1002,
    /// The signer is not a registered member of this chain.
    UnknownSigner = 1003,
    /// The member may not submit this kind of record.
    NotPermitted = 1004,
    /// The nonce is not above the signer's last used nonce (a replay, or a reused nonce),
    /// or is the largest nonce, which no later tx could follow.
    StaleNonce = 1005,
    /// The tx is already on chain.
    Duplicate = 1006,
    /// The tx is larger than the chain allows.
    TxTooLarge = 1007,
    /// A certificate lifecycle rule.
    CertRule = 1008,
    /// A governance proposal without a quorum, or invalid.
    Governance = 1009,
    /// Another pending tx of the signer has this nonce.
    NoncePending = 1010,
    /// Misbehaviour evidence that proves nothing, or is already anchored.
    Misbehaviour = 1011,
    /// A signing event's hosted document signature does not verify, or its certificate
    /// was not issued for the key that made it.
    DocumentSignature = 1012,
    /// The mempool is full: retry later.
    MempoolFull = 1020,
    /// The list of txs in `evidence_submitBatch` is longer than the node allows.
    BatchTooLarge = 1021,
    /// An argument is malformed or out of range (hash, digest, height).
    BadArgument = 1030,
    /// Nothing is stored under what was asked (tx, height).
    NotFound = 1031,
    /// The node cannot answer now (store failure, shutting down).
    Unavailable = 1040,
    /// The hosted signer refused: the key's certificate is not valid now, or was
    /// issued for another key.
    SignerRefused = 1050,
    /// Hosted signing: no token, a wrong token, or not served to this caller.
    Unauthorized = 1051,
}

impl ErrorCode {
    /// Every code, in order.
    pub const ALL: [ErrorCode; 20] = [
        ErrorCode::TxMalformed,
        ErrorCode::BadSignature,
        ErrorCode::WrongChain,
        ErrorCode::UnknownSigner,
        ErrorCode::NotPermitted,
        ErrorCode::StaleNonce,
        ErrorCode::Duplicate,
        ErrorCode::TxTooLarge,
        ErrorCode::CertRule,
        ErrorCode::Governance,
        ErrorCode::NoncePending,
        ErrorCode::Misbehaviour,
        ErrorCode::DocumentSignature,
        ErrorCode::MempoolFull,
        ErrorCode::BatchTooLarge,
        ErrorCode::BadArgument,
        ErrorCode::NotFound,
        ErrorCode::Unavailable,
        ErrorCode::SignerRefused,
        ErrorCode::Unauthorized,
    ];

    /// The number on the wire.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The code for a number, if it is one of Chancery's.
    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The short name used in docs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::TxMalformed => "tx_malformed",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::WrongChain => "wrong_chain",
            ErrorCode::UnknownSigner => "unknown_signer",
            ErrorCode::NotPermitted => "not_permitted",
            ErrorCode::StaleNonce => "stale_nonce",
            ErrorCode::Duplicate => "duplicate",
            ErrorCode::TxTooLarge => "tx_too_large",
            ErrorCode::CertRule => "cert_rule",
            ErrorCode::Governance => "governance",
            ErrorCode::NoncePending => "nonce_pending",
            ErrorCode::Misbehaviour => "misbehaviour",
            ErrorCode::DocumentSignature => "document_signature",
            ErrorCode::MempoolFull => "mempool_full",
            ErrorCode::BatchTooLarge => "batch_too_large",
            ErrorCode::BadArgument => "bad_argument",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::SignerRefused => "signer_refused",
            ErrorCode::Unauthorized => "unauthorized",
        }
    }

    /// Whether the same request may succeed later unchanged.
    pub fn retryable(self) -> bool {
        matches!(self, ErrorCode::MempoolFull | ErrorCode::Unavailable)
    }
}

/// An error with its code and a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message} (code {code})")]
pub struct RpcError {
    /// The code.
    pub code: i32,
    /// What went wrong and what to do.
    pub message: String,
}

impl RpcError {
    /// An error of `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RpcError { code: code.code(), message: message.into() }
    }
}

impl From<RpcError> for ErrorObjectOwned {
    fn from(e: RpcError) -> Self {
        ErrorObject::owned(e.code, e.message, None::<()>)
    }
}

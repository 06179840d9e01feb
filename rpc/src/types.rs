//! What the RPC methods take and return. Txs travel as hex of their canonical bytes;
//! hashes as 64 hex digits; digests as `alg:hex`; ledger objects (headers, blocks,
//! commits, validator sets, proof bundles) in their JSON form.

use chancery_ledger::{Hash, PublicKey};
use serde::{Deserialize, Serialize};

use crate::errors::RpcError;

/// The answer for one tx of `evidence_submitBatch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmitOutcome {
    /// Accepted into the mempool (or already there).
    Accepted {
        /// The tx hash.
        tx_hash: Hash,
    },
    /// Refused, with why.
    Refused {
        /// The error.
        error: RpcError,
    },
}

/// Where a tx stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum TxStatus {
    /// Waiting in the mempool.
    Pending,
    /// In a committed block.
    Committed {
        /// Block height.
        height: u64,
        /// Position in the block.
        index: u32,
        /// Block time, milliseconds since the Unix epoch.
        block_time_ms: u64,
    },
    /// Dropped from the mempool before it reached a block.
    Dropped {
        /// Why.
        reason: String,
    },
    /// Neither pending nor committed here.
    Unknown,
}

/// A tx's status with its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxStatusAnswer {
    /// The tx.
    pub tx_hash: Hash,
    /// Its status.
    #[serde(flatten)]
    pub status: TxStatus,
}

/// One anchoring of a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// The tx that anchored it.
    pub tx_hash: Hash,
    /// Block height.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// Block time, milliseconds since the Unix epoch.
    pub block_time_ms: u64,
}

/// Anchors of a digest, oldest first, and where to continue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchors {
    /// The anchors on this page.
    pub anchors: Vec<Anchor>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<Hash>,
}

/// A committed block as announced to subscribers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedBlock {
    /// Height.
    pub height: u64,
    /// Block hash.
    pub block_hash: Hash,
    /// Block time, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Its txs' hashes, in block order.
    pub tx_hashes: Vec<Hash>,
}

/// The chain as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainInfo {
    /// Chain id.
    pub chain_id: String,
    /// Genesis hash.
    pub genesis_hash: Hash,
    /// Number of committed blocks (the next height).
    pub blocks: u64,
    /// Hash of the latest block, if any.
    pub latest_block_hash: Option<Hash>,
    /// Time of the latest block.
    pub latest_time_ms: Option<u64>,
    /// Largest request body the node accepts, bytes.
    pub request_bytes_max: u32,
    /// Most txs in one `evidence_submitBatch`.
    pub submit_batch_max: u32,
    /// The chain parameters in force for the next block.
    pub params: chancery_ledger::Params,
}

impl ChainInfo {
    /// The chain's identity (id and genesis hash), which a client signs its txs for.
    pub fn identity(&self) -> Result<chancery_ledger::ChainIdentity, chancery_ledger::block::ChainIdError> {
        let chain_id = chancery_ledger::ChainId::new(&self.chain_id)?;
        Ok(chancery_ledger::ChainIdentity { chain_id, genesis_hash: self.genesis_hash })
    }
}

/// A later committed block proofs can be extended to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointInfo {
    /// The checkpoint height.
    pub height: u64,
    /// Its header.
    pub header: chancery_ledger::Header,
    /// Its commit.
    pub commit: chancery_ledger::Commit,
    /// Every validator-set change from genesis up to it, each with the header that
    /// committed it and that header's commit.
    pub validator_changes: Vec<chancery_ledger::verify::ValidatorSetChange>,
}

/// `node_health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok`, or `stalled` (no block for longer than expected), `no_quorum` (validators
    /// with more than two thirds of the power are not reachable), or `halted` (consensus
    /// stopped); `reason` says which and why.
    pub status: String,
    /// Why, when not `ok`.
    pub reason: Option<String>,
    /// Node name.
    pub moniker: String,
    /// Committed blocks.
    pub blocks: u64,
    /// Milliseconds since the last commit (or since start).
    pub since_last_commit_ms: u64,
    /// Pending txs.
    pub mempool_txs: u64,
    /// Pending bytes.
    pub mempool_bytes: u64,
    /// Software version.
    pub version: String,
}

/// One anchored event of a certificate (`cert_history`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertHistoryEntry {
    /// Height of its block.
    pub height: u64,
    /// That block's time.
    pub time_ms: u64,
    /// The tx that recorded it.
    pub tx_hash: Hash,
    /// Digest of the certificate, `alg:hex`.
    pub cert_digest: String,
    /// Digest of the subject's public key, `alg:hex`.
    pub subject_key: String,
    /// The event.
    pub event: chancery_ledger::tx::CertEventKind,
}

/// `cert_history`: every anchored event of a certificate, in chain order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertHistory {
    /// The issuing CA.
    pub ca: String,
    /// The serial, hex.
    pub serial: String,
    /// The events (empty for a certificate never anchored).
    pub events: Vec<CertHistoryEntry>,
}

/// `cert_status`: a certificate's status at a time, with the proof that verifies it
/// offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertStatusAnswer {
    /// The status at `at_ms`.
    #[serde(flatten)]
    pub status: chancery_ledger::verify::CertStatus,
    /// The time asked about.
    pub at_ms: u64,
    /// The block as of which the ledger answered.
    pub as_of_height: u64,
    /// The proof (see `docs/PROOF_FORMAT.md`).
    pub proof: chancery_ledger::verify::CertStatusProof,
}

/// `signer_signDigest`: the signature made by a hosted key and the signing event
/// anchoring it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignDigestAnswer {
    /// The hosted key.
    pub key_id: String,
    /// Its public key.
    pub public_key: chancery_ledger::PublicKey,
    /// Ed25519 over the digest's bytes, hex.
    pub signature: String,
    /// The signing event tx, committed.
    pub tx_hash: Hash,
    /// The height of the block that committed it.
    pub height: u64,
}

/// `tx_prepare`: a tx to sign, for clients that cannot build one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreparedTx {
    /// The tx's canonical bytes (hex) with its 64 signature bytes zero: they are its last
    /// 64 bytes, so the signed tx is these bytes with the signature put there.
    pub unsigned_tx: String,
    /// What the signer signs with Ed25519 (hex, 32 bytes): BLAKE3 `derive_key("chancery
    /// v1 tx signing", ...)` of the chain id, genesis hash, body, signer and nonce
    /// (docs/PROOF_FORMAT.md section 2).
    pub sign_bytes: String,
    /// The chain the tx is for.
    pub chain_id: String,
    /// The genesis hash bound into `sign_bytes`.
    pub genesis_hash: Hash,
}

/// `evidence_verify`: the verdict of the offline verifier run by the node against its
/// own genesis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyAnswer {
    /// Whether every check passed.
    pub valid: bool,
    /// The check that failed.
    pub error: Option<String>,
    /// What the proof shows, when valid.
    pub report: Option<serde_json::Value>,
}

/// A governance proposal as of the latest block: its change, every vote with the power
/// it counts now, and its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalAnswer {
    /// The proposal's id (its tx hash).
    pub id: Hash,
    /// The proposing admin key.
    pub proposer: PublicKey,
    /// The institution that proposed, if its admin key is still in the validator set.
    pub proposer_name: Option<String>,
    /// The block that holds the proposal.
    pub height: u64,
    /// The change.
    pub change: chancery_ledger::gov::Change,
    /// Votes in blocks above this height are refused.
    pub expires_at_height: u64,
    /// Status as of `as_of_height`.
    pub status: chancery_ledger::gov::ProposalStatus,
    /// Every vote, in chain order.
    pub votes: Vec<VoteView>,
    /// The votes counted against the set in force for the next block.
    pub tally: chancery_ledger::gov::Tally,
    /// The next block's height: the state this answer reads.
    pub as_of_height: u64,
    /// `gov_proposal` only: the record proven in the latest block's state tree, which a
    /// verifier checks offline against the genesis (`chancery gov verify`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<chancery_ledger::verify::ProposalProof>,
}

/// One vote on a proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteView {
    /// The admin key that voted.
    pub admin_key: PublicKey,
    /// Its institution in the current set; `None` when it no longer is (the vote no
    /// longer counts).
    pub validator: Option<String>,
    /// The power this vote counts now (0 when it no longer counts).
    pub power: u64,
    /// Approve or reject.
    pub approve: bool,
    /// The block that holds the vote.
    pub height: u64,
    /// The vote tx.
    pub tx_hash: Hash,
}

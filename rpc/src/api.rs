//! The API, one trait; `jsonrpsee` generates the server trait the node implements and the
//! client methods.

use chancery_ledger::history::HistoryConsistency;
use chancery_ledger::{Block, Commit, Hash, Header, ProofBundle, ValidatorSet};
use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;

use crate::types::{
    Anchors, CertHistory, CertStatusAnswer, ChainInfo, CheckpointInfo, CommittedBlock, Health, PreparedTx,
    ProposalAnswer, SignDigestAnswer, SubmitOutcome, TxStatusAnswer, VerifyAnswer,
};

/// Chancery's JSON-RPC API.
#[rpc(server, client)]
pub trait ChanceryApi {
    /// Submits one signed tx (hex of its canonical bytes); returns its hash once the
    /// mempool holds it.
    #[method(name = "evidence_submit")]
    async fn submit(&self, tx: String) -> RpcResult<Hash>;

    /// Submits many txs; one outcome per tx, in order.
    #[method(name = "evidence_submitBatch")]
    async fn submit_batch(&self, txs: Vec<String>) -> RpcResult<Vec<SubmitOutcome>>;

    /// Where a tx stands.
    #[method(name = "evidence_status")]
    async fn status(&self, tx_hash: Hash) -> RpcResult<TxStatusAnswer>;

    /// For clients without a Chancery SDK: the tx of `body` (a tx body in JSON, as
    /// docs/RPC.md shows) by `signer` with `nonce` on this chain, unsigned, and the exact
    /// bytes its signer signs with Ed25519. The node prepares them: see docs/RPC.md on
    /// what a client trusts the node for when it signs bytes it did not build.
    #[method(name = "tx_prepare")]
    async fn prepare(
        &self,
        body: serde_json::Value,
        signer: chancery_ledger::PublicKey,
        nonce: u64,
    ) -> RpcResult<PreparedTx>;

    /// Submits a tx from `tx_prepare`'s `unsigned_tx` and the signer's Ed25519 signature
    /// (hex, 64 bytes) of its `sign_bytes`; returns its hash once the mempool holds it.
    #[method(name = "tx_submitSigned")]
    async fn submit_signed(&self, unsigned_tx: String, signature: String) -> RpcResult<Hash>;

    /// Txs anchoring a document digest (`alg:hex`), oldest first; `after` continues a page.
    #[method(name = "evidence_byDigest")]
    async fn by_digest(&self, digest: String, after: Option<Hash>) -> RpcResult<Anchors>;

    /// The proof bundle of a committed tx, optionally extended to a later checkpoint
    /// height.
    #[method(name = "evidence_proof")]
    async fn proof(&self, tx_hash: Hash, checkpoint: Option<u64>) -> RpcResult<ProofBundle>;

    /// Runs the offline verifier on a bundle against this node's genesis; `file_hex`
    /// optionally checks the document too.
    #[method(name = "evidence_verify")]
    async fn verify(&self, bundle: ProofBundle, file_hex: Option<String>) -> RpcResult<VerifyAnswer>;

    /// Every committed block's tx hashes, as blocks commit (WebSocket only).
    #[subscription(name = "evidence_subscribeCommitted", unsubscribe = "evidence_unsubscribeCommitted", item = CommittedBlock)]
    async fn subscribe_committed(&self) -> SubscriptionResult;

    /// Chain id, genesis hash, height and limits.
    #[method(name = "chain_info")]
    async fn info(&self) -> RpcResult<ChainInfo>;

    /// A committed header.
    #[method(name = "chain_header")]
    async fn header(&self, height: u64) -> RpcResult<Header>;

    /// A committed block.
    #[method(name = "chain_block")]
    async fn block(&self, height: u64) -> RpcResult<Block>;

    /// The commit (quorum signatures) of a block.
    #[method(name = "chain_commit")]
    async fn commit(&self, height: u64) -> RpcResult<Commit>;

    /// The validator set that signs the block at `height` (default: the next block).
    #[method(name = "chain_validators")]
    async fn validators(&self, height: Option<u64>) -> RpcResult<ValidatorSet>;

    /// The latest committed block's header and commit (or the one at `height`): the
    /// checkpoint later proofs extend to.
    #[method(name = "chain_checkpoint")]
    async fn checkpoint(&self, height: Option<u64>) -> RpcResult<CheckpointInfo>;

    /// Proof that the history tree of `from` blocks is a prefix of that of `to` blocks.
    #[method(name = "chain_consistencyProof")]
    async fn consistency_proof(&self, from: u64, to: u64) -> RpcResult<HistoryConsistency>;

    /// Every committed header, as blocks commit (WebSocket only).
    #[subscription(name = "chain_subscribeHeads", unsubscribe = "chain_unsubscribeHeads", item = Header)]
    async fn subscribe_heads(&self) -> SubscriptionResult;

    /// Whether the node is making progress.
    #[method(name = "node_health")]
    async fn health(&self) -> RpcResult<Health>;

    /// Submits a CA's signed certificate event tx (hex); returns its hash once the
    /// mempool holds it.
    #[method(name = "cert_submit")]
    async fn cert_submit(&self, tx: String) -> RpcResult<Hash>;

    /// Every anchored event of the certificate `serial` (hex) of CA `ca`, in chain order.
    #[method(name = "cert_history")]
    async fn cert_history(&self, ca: String, serial: String) -> RpcResult<CertHistory>;

    /// The certificate's status at `at_ms`, as of the latest block, with its proof.
    #[method(name = "cert_status")]
    async fn cert_status(&self, ca: String, serial: String, at_ms: u64) -> RpcResult<CertStatusAnswer>;

    /// Submits an institution's signed governance tx (a proposal, a vote or a key
    /// rotation, hex); returns its hash (for a proposal, its id) once the mempool holds it.
    #[method(name = "gov_submit")]
    async fn gov_submit(&self, tx: String) -> RpcResult<Hash>;

    /// A governance proposal by id: its change, votes with the power each counts now, and
    /// its status as of the latest block.
    #[method(name = "gov_proposal")]
    async fn gov_proposal(&self, id: Hash) -> RpcResult<ProposalAnswer>;

    /// Governance proposals in id order, at most 100 from `after` (exclusive); only the
    /// pending ones when `pending` is true.
    #[method(name = "gov_proposals")]
    async fn gov_proposals(&self, pending: Option<bool>, after: Option<Hash>) -> RpcResult<Vec<ProposalAnswer>>;

    /// Signs a document digest (`alg:hex`) with the hosted key `key_id` and anchors an
    /// evidence record of `kind` (`signing_event`, or a network's `custom:N` signing kind)
    /// carrying the digest, the signature and its key, and the key's certificate; `refs`
    /// are related txs (the document's anchor). `token` is the node's hosted-signing
    /// token. Refused when the certificate is not valid at the latest block's time. The
    /// signature is answered only once the signing event is committed (with its height);
    /// if it is not committed within `[hosted] commit_wait_ms`, the answer is a retryable
    /// error (1040) and no signature.
    #[method(name = "signer_signDigest")]
    async fn sign_digest(
        &self,
        key_id: String,
        digest: String,
        kind: String,
        refs: Vec<Hash>,
        token: String,
    ) -> RpcResult<SignDigestAnswer>;

    /// The API's OpenRPC 1.2.6 document: every method, its parameter and answer schemas
    /// and error codes (`crate::openrpc`).
    #[method(name = "rpc.discover")]
    async fn discover(&self) -> RpcResult<serde_json::Value>;
}

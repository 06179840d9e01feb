//! The JSON-RPC service: [`ChanceryApiServer`] over the store, the mempool and the event
//! bus. Every input is checked and every failure maps to one documented code.

use std::sync::Arc;

use chancery_ledger::codec::BoundedVec;
use chancery_ledger::gov::ProposalRecord;
use chancery_ledger::history::HistoryConsistency;
use chancery_ledger::state::TxError;
use chancery_ledger::store::{StoreError, TxLocation};
use chancery_ledger::tx::{CertRef, CertSerial, DocumentSignature, Evidence, EvidenceKind, TxBody};
use chancery_ledger::validator::CaId;
use chancery_ledger::verify::CertStatus;
use chancery_ledger::{
    decode, Block, Commit, Digest, Hash, Header, ProofBundle, PublicKey, Signature, Tx, ValidatorSet,
};
use chancery_rpc::types::{
    Anchor, Anchors, CertHistory, CertHistoryEntry, CertStatusAnswer, ChainInfo, CheckpointInfo, Health, PreparedTx,
    ProposalAnswer, SignDigestAnswer, SubmitOutcome, TxStatus, TxStatusAnswer, VerifyAnswer, VoteView,
};
use chancery_rpc::{ChanceryApiServer, ErrorCode, RpcError};
use jsonrpsee::core::{async_trait, RpcResult, SubscriptionResult};
use jsonrpsee::PendingSubscriptionSink;
use tokio::sync::broadcast::error::RecvError;

use crate::admission::{Admission, Source};
use crate::clock::now_ms;
use crate::hosting::{HostedAccess, HostedSigning};
use crate::metrics::Metrics;
use crate::rocks::RocksBackend;
use crate::signer::hosted::{HostedError, KeyUse, UseStage};
use crate::status::{Committed, NodeStatus};
use chancery_consensus::host::mempool::{PoolStatus, SubmitError};
use chancery_ledger::store::ChainStore;
use chancery_ledger::TrustRoot;

/// The RPC service.
#[derive(Clone)]
pub struct RpcService {
    store: Arc<ChainStore<RocksBackend>>,
    admission: Arc<Admission>,
    status: Arc<NodeStatus>,
    metrics: Arc<Metrics>,
    /// What the node's own proofs are checked against before it answers with them.
    trust: TrustRoot,
    genesis_time_ms: u64,
    request_bytes_max: u32,
    submit_batch_max: u32,
    hosted: Arc<HostedAccess>,
    /// Store reads under way (see [`crate::rpc_server::STORE_READS_MAX`]).
    reads: Arc<tokio::sync::Semaphore>,
    /// Connections' activity, for the idle check (subscriptions count as activity).
    activity: Arc<crate::rpc_server::Activity>,
    /// Becomes true when the node starts stopping: waits for commits end then.
    stopping: tokio::sync::watch::Receiver<bool>,
}

/// What the RPC service works with.
pub struct ServiceParts {
    /// The store, read only.
    pub store: Arc<ChainStore<RocksBackend>>,
    /// The way in to the mempool.
    pub admission: Arc<Admission>,
    /// Committed blocks and liveness.
    pub status: Arc<NodeStatus>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Largest request (`rpc.request_bytes_max`), as `chain_info` tells clients.
    pub request_bytes_max: u32,
    /// Most txs per batch (`rpc.batch_len_max`).
    pub submit_batch_max: u32,
}

/// How long a withheld hosted signature's event is followed after its caller was
/// answered, so that a late commit is logged.
pub const HOSTED_LATE_FOLLOW: std::time::Duration = std::time::Duration::from_secs(600);

impl RpcService {
    /// A service reading `parts.store`, submitting through `parts.admission`, on the
    /// chain of `genesis`; `hosted` says whether and how hosted signing is served.
    pub fn new(
        parts: ServiceParts,
        genesis: &chancery_genesis::Genesis,
        hosted: HostedAccess,
        activity: Arc<crate::rpc_server::Activity>,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        let ServiceParts { store, admission, status, metrics, request_bytes_max, submit_batch_max } = parts;
        RpcService {
            store,
            admission,
            status,
            metrics,
            trust: genesis.trust_root(),
            genesis_time_ms: genesis.genesis_time_ms,
            request_bytes_max,
            submit_batch_max,
            hosted: Arc::new(hosted),
            reads: Arc::new(tokio::sync::Semaphore::new(crate::rpc_server::STORE_READS_MAX)),
            activity,
            stopping,
        }
    }

    /// Runs `read` (store reads) off the async runtime, which the network also runs on,
    /// at most [`crate::rpc_server::STORE_READS_MAX`] at once: a batch of a thousand
    /// calls waits its turn instead of taking every thread.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&ChainStore<RocksBackend>) -> Result<T, RpcError> + Send + 'static,
    ) -> Result<T, RpcError> {
        let _permit = self.reads.clone().acquire_owned().await.map_err(|_| unavailable("the node is stopping"))?;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || read(&store))
            .await
            .map_err(|e| unavailable(&format!("read task failed: {e}")))?
    }

    /// Signs with a hosted key after checking its certificate, logs the use as pending,
    /// anchors the signing event, and returns the signature only once that event is
    /// committed (logged as committed); otherwise the signature never leaves (logged as
    /// withheld) and the caller gets an error, retryable when the event only took too
    /// long. Submissions take turns, so the submitter's nonces reach the mempool in
    /// order; the waits for commits do not.
    async fn hosted_sign(&self, request: HostedRequest) -> Result<SignDigestAnswer, RpcError> {
        let hosted = match &*self.hosted {
            HostedAccess::Served(hosted) => hosted.clone(),
            HostedAccess::Off(why) => return Err(RpcError::new(ErrorCode::Unauthorized, why.clone())),
        };
        if !hosted.token_matches(&request.token) {
            return Err(RpcError::new(
                ErrorCode::Unauthorized,
                "wrong hosted-signing token; use the one in the node's [hosted] token_file",
            ));
        }
        // Subscribed before the event is submitted, so its commit cannot be missed.
        let mut committed = self.status.subscribe();
        let (entry, mut answer) = {
            let _turn = hosted.turn.lock().await;
            let (store, signing, genesis_time_ms) = (self.store.clone(), hosted.clone(), self.genesis_time_ms);
            // Store reads, key loading, the signature and the synced log: off the runtime.
            let (tx, entry, answer) =
                tokio::task::spawn_blocking(move || prepare_hosted(&store, genesis_time_ms, &signing, request))
                    .await
                    .map_err(|e| unavailable(&format!("hosted signing task failed: {e}")))??;
            let mut outcome = self.submit_txs(vec![chancery_rpc::txs::tx_hex(&tx)]).await?;
            if let Some(Err(error)) = outcome.pop() {
                record_use(&hosted, entry, UseStage::Withheld, None, Some(error.message.clone())).await?;
                return Err(RpcError::new(
                    ErrorCode::from_code(error.code).unwrap_or(ErrorCode::Unavailable),
                    format!("the signing event was not accepted, so the signature is withheld: {}", error.message),
                ));
            }
            (entry, answer)
        };
        match self.wait_committed(&mut committed, &answer.tx_hash, hosted.commit_wait).await {
            Ok(height) => {
                record_use(&hosted, entry.clone(), UseStage::Committed, Some(height), None).await?;
                tracing::info!(key_id = %answer.key_id, digest = %entry.digest, tx_hash = %answer.tx_hash, height, "hosted key signed a digest");
                answer.height = height;
                Ok(answer)
            }
            Err(why) => {
                let tx_hash = answer.tx_hash;
                record_use(&hosted, entry.clone(), UseStage::Withheld, None, Some(why.to_string())).await?;
                // The event was submitted and may still commit: followed for a while, so
                // that the log says so if it does.
                let service = self.clone();
                tokio::spawn(async move {
                    let mut events = service.status.subscribe();
                    if let Ok(height) = service.wait_committed(&mut events, &tx_hash, HOSTED_LATE_FOLLOW).await {
                        let note = "committed after the caller was answered without the signature".to_string();
                        if let Err(e) = record_use(&hosted, entry, UseStage::LateCommit, Some(height), Some(note)).await
                        {
                            tracing::warn!(error = %e, %tx_hash, "a late commit of a hosted signing event was not logged");
                        }
                    }
                });
                Err(RpcError::new(
                    ErrorCode::Unavailable,
                    format!("the signing event {tx_hash} is not committed ({why}), so no signature is given; retry the call"),
                ))
            }
        }
    }

    /// The height that commits `tx_hash`, waiting up to `wait`; or why it will not come
    /// (dropped from the mempool, or not within `wait`).
    async fn wait_committed(
        &self,
        events: &mut tokio::sync::broadcast::Receiver<Arc<Committed>>,
        tx_hash: &Hash,
        wait: std::time::Duration,
    ) -> Result<u64, NotCommitted> {
        use tokio::sync::broadcast::error::RecvError;
        let deadline = tokio::time::Instant::now() + wait;
        let mut stopping = self.stopping.clone();
        // The store is read now and whenever the bus lost blocks; in between, every
        // committed block is announced on the bus, so a block without the tx needs only
        // the (in-memory) mempool asked whether it dropped it.
        let mut look = true;
        loop {
            if look {
                let store = self.store.clone();
                let hash = *tx_hash;
                let found = tokio::task::spawn_blocking(move || match store.tx_location(&hash) {
                    Ok(location) => Ok(Some(location.height)),
                    Err(StoreError::NotFound(_)) => Ok(None),
                    Err(e) => Err(NotCommitted::Store { reason: e.to_string() }),
                })
                .await
                .map_err(|e| NotCommitted::Store { reason: format!("task failed: {e}") })??;
                if let Some(height) = found {
                    return Ok(height);
                }
            }
            if let PoolStatus::Dropped(reason) = self.admission.mempool().status(tx_hash) {
                return Err(NotCommitted::Dropped { reason });
            }
            let event = tokio::select! {
                event = tokio::time::timeout_at(deadline, events.recv()) => event,
                _ = stopping.wait_for(|stopping| *stopping) => return Err(NotCommitted::Stopping),
            };
            look = match event {
                Err(_) => return Err(NotCommitted::Late { wait_ms: wait.as_millis() as u64 }),
                Ok(Ok(block)) if block.tx_hashes.contains(tx_hash) => return Ok(block.header.height),
                Ok(Ok(_)) => false,
                Ok(Err(RecvError::Lagged(_))) => true,
                Ok(Err(RecvError::Closed)) => return Err(NotCommitted::Stopping),
            };
        }
    }

    async fn submit_txs(&self, txs: Vec<String>) -> Result<Vec<Result<Hash, RpcError>>, RpcError> {
        let mut results: Vec<Option<Result<Hash, RpcError>>> = Vec::with_capacity(txs.len());
        let mut decoded = Vec::with_capacity(txs.len());
        for (i, text) in txs.iter().enumerate() {
            match decode_tx(text) {
                Ok(tx) => {
                    decoded.push((i, tx));
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        let admission = self.admission.clone();
        let (indices, txs): (Vec<usize>, Vec<Tx>) = decoded.into_iter().unzip();
        let outcomes = tokio::task::spawn_blocking(move || admission.admit(txs, Source::Client))
            .await
            .map_err(|e| RpcError::new(ErrorCode::Unavailable, format!("submission task failed: {e}")))?;
        for (i, outcome) in indices.into_iter().zip(outcomes) {
            results[i] = Some(outcome.map_err(submit_error));
        }
        Ok(results.into_iter().map(|r| r.unwrap_or_else(|| Err(unavailable("unchecked tx")))).collect())
    }

    fn height_arg(&self, height: u64) -> Result<u64, RpcError> {
        match self.store.height() {
            0 => Err(RpcError::new(
                ErrorCode::NotFound,
                format!("no block at height {height}: no block is committed yet"),
            )),
            blocks if height >= blocks => Err(RpcError::new(
                ErrorCode::NotFound,
                format!("no block at height {height}: the chain has {blocks} blocks (heights 0 to {})", blocks - 1),
            )),
            _ => Ok(height),
        }
    }
}

/// The latest block's time (the genesis time before the first block).
fn latest_time_ms(store: &ChainStore<RocksBackend>, genesis_time_ms: u64) -> Result<u64, RpcError> {
    match store.height() {
        0 => Ok(genesis_time_ms),
        blocks => Ok(store.header(blocks - 1).map_err(store_error)?.time_ms),
    }
}

/// Everything of hosted signing up to the anchoring: arguments checked, the key's
/// certificate valid at the latest block time and now, the signature made, the signing
/// event built and the use logged.
fn prepare_hosted(
    store: &ChainStore<RocksBackend>,
    genesis_time_ms: u64,
    hosted: &HostedSigning,
    request: HostedRequest,
) -> Result<(Tx, KeyUse, SignDigestAnswer), RpcError> {
    let bad = |what: String| RpcError::new(ErrorCode::BadArgument, what);
    let digest = Digest::parse(&request.digest).map_err(|e| bad(format!("digest: {e}")))?;
    let kind = match request.kind.as_str() {
        "signing_event" => EvidenceKind::SigningEvent,
        other => match other.strip_prefix("custom:").and_then(|n| n.parse::<u16>().ok()) {
            Some(n) => EvidenceKind::Custom(n),
            None => return Err(bad(format!("kind {other:?}: use signing_event or custom:N"))),
        },
    };
    let refs = BoundedVec::new(request.refs).map_err(|e| bad(format!("refs: {e}")))?;
    let hosted_error = |e: HostedError| {
        let code = match e {
            HostedError::Unknown(_) => ErrorCode::NotFound,
            HostedError::BadKeyId(_) => ErrorCode::BadArgument,
            _ => ErrorCode::Unavailable,
        };
        RpcError::new(code, e.to_string())
    };
    let info = hosted.keys.info(&request.key_id).map_err(hosted_error)?;
    let cert = info.cert().map_err(|e| unavailable(&e.to_string()))?;
    let record = store.cert_record(&cert.ca, &cert.serial).map_err(store_error)?.unwrap_or_default();
    let named = format!("certificate {}/{} of hosted key {:?}", info.ca, info.serial, info.key_id);
    // At the latest block's time, and at the clock's (a node that lags behind the chain
    // must not sign with a certificate that has run out since).
    for (at, which) in
        [(latest_time_ms(store, genesis_time_ms)?, "the latest block time"), (now_ms(), "this node's clock")]
    {
        let status = record.status_at(at);
        if !status.is_valid() {
            let detail = match status {
                CertStatus::Revoked { reason, effective_ms } => {
                    format!("revoked ({reason:?}) effective {effective_ms}")
                }
                other => other.name().replace('_', " "),
            };
            return Err(RpcError::new(
                ErrorCode::SignerRefused,
                format!("{named} is {detail} at {which} {at}; the key does not sign"),
            ));
        }
    }
    if let Some(first) = record.events.first() {
        if first.subject_key != Digest::compute(first.subject_key.alg(), &info.public_key.0) {
            return Err(RpcError::new(
                ErrorCode::SignerRefused,
                format!("{named} was issued for another key (its subject_key is not this key's digest)"),
            ));
        }
    }
    let proof = || {
        let proof = store.cert_status_proof(&cert.ca, &cert.serial, now_ms());
        proof.map(|proof| proof.to_json()).map_err(|e| HostedError::Refused(format!("certificate status proof: {e}")))
    };
    let signature = hosted.keys.sign(&info, &digest, &request.token, proof).map_err(hosted_error)?;
    let signature_hash = crate::signer::hosted::signature_hash(&signature);
    let body = TxBody::Evidence(Evidence {
        kind,
        digest: digest.clone(),
        refs,
        meta: None,
        claimed_time_ms: Some(now_ms()),
        cert: Some(cert),
        signature: Some(DocumentSignature::hosted(info.public_key, signature)),
    });
    let tx = chancery_rpc::txs::sign_tx(&hosted.submitter, &store.identity(), body, hosted.next_nonce());
    let tx_hash = tx.hash();
    let entry = KeyUse {
        stage: UseStage::Pending,
        height: None,
        time_ms: now_ms(),
        key_id: info.key_id.clone(),
        digest: digest.to_text(),
        signature_hash,
        tx_hash: Some(tx_hash),
        refused: None,
    };
    hosted.keys.record(&entry).map_err(|e| unavailable(&format!("usage log: {e}; the signature is withheld")))?;
    let answer = SignDigestAnswer {
        key_id: info.key_id,
        public_key: info.public_key,
        signature: hex::encode(signature.0),
        tx_hash,
        height: 0,
    };
    Ok((tx, entry, answer))
}

/// Appends a later stage of a hosted key's use to the usage log (off the runtime).
async fn record_use(
    hosted: &Arc<HostedSigning>,
    mut entry: KeyUse,
    stage: UseStage,
    height: Option<u64>,
    refused: Option<String>,
) -> Result<(), RpcError> {
    entry.stage = stage;
    entry.height = height;
    entry.refused = refused;
    entry.time_ms = now_ms();
    let signing = hosted.clone();
    tokio::task::spawn_blocking(move || signing.keys.record(&entry))
        .await
        .map_err(|e| unavailable(&format!("hosted signing task failed: {e}")))?
        .map_err(|e| unavailable(&format!("usage log: {e}; the signature is withheld")))
}

fn location_status(store: &ChainStore<RocksBackend>, location: TxLocation) -> Result<TxStatus, RpcError> {
    let header = store.header(location.height).map_err(store_error)?;
    Ok(TxStatus::Committed { height: location.height, index: location.index, block_time_ms: header.time_ms })
}

/// The arguments of `signer_signDigest`.
struct HostedRequest {
    key_id: String,
    digest: String,
    kind: String,
    refs: Vec<Hash>,
    token: String,
}

/// A CA id and a hex serial from RPC arguments.
fn cert_args(ca: &str, serial: &str) -> Result<(CaId, CertSerial), RpcError> {
    let cert = CertRef::from_text(ca, serial).map_err(|e| RpcError::new(ErrorCode::BadArgument, e.to_string()))?;
    Ok((cert.ca, cert.serial))
}

fn unavailable(what: &str) -> RpcError {
    RpcError::new(ErrorCode::Unavailable, what.to_string())
}

/// Hex of a tx's canonical bytes, decoded and checked canonical.
pub fn decode_tx(text: &str) -> Result<Tx, RpcError> {
    let bytes = chancery_ledger::hex::decode_hex(text.trim()).map_err(|e| {
        RpcError::new(ErrorCode::TxMalformed, format!("tx is not hex ({e}); send the hex of the tx's canonical bytes"))
    })?;
    decode::<Tx>(&bytes)
        .map_err(|e| RpcError::new(ErrorCode::TxMalformed, format!("tx bytes are not a canonical Chancery tx: {e}")))
}

/// The code of each refusal.
pub fn submit_error(error: SubmitError) -> RpcError {
    let code = match &error {
        SubmitError::Invalid(e) => match e {
            TxError::WrongChain { .. } => ErrorCode::WrongChain,
            TxError::TooLarge { .. } => ErrorCode::TxTooLarge,
            TxError::BadSignature(_) => ErrorCode::BadSignature,
            TxError::UnknownSigner { .. } => ErrorCode::UnknownSigner,
            TxError::NotPermitted { .. } => ErrorCode::NotPermitted,
            TxError::StaleNonce { .. } | TxError::NonceExhausted { .. } => ErrorCode::StaleNonce,
            TxError::HostedSignature(_) => ErrorCode::DocumentSignature,
            TxError::Duplicate { .. } => ErrorCode::Duplicate,
            TxError::Cert { .. } => ErrorCode::CertRule,
            TxError::Gov(_) => ErrorCode::Governance,
            TxError::BadMisbehaviour(_) | TxError::MisbehaviourKnown { .. } => ErrorCode::Misbehaviour,
        },
        SubmitError::NoncePending { .. } => ErrorCode::NoncePending,
        SubmitError::Full(_) => ErrorCode::MempoolFull,
        SubmitError::Store(_) => ErrorCode::Unavailable,
    };
    RpcError::new(code, error.to_string())
}

fn store_error(error: StoreError) -> RpcError {
    match error {
        StoreError::NotFound(what) => RpcError::new(ErrorCode::NotFound, format!("{what} is not stored on this node")),
        other => RpcError::new(ErrorCode::Unavailable, format!("store: {other}")),
    }
}

type Answer<T> = RpcResult<T>;

fn ok<T>(result: Result<T, RpcError>) -> Answer<T> {
    result.map_err(Into::into)
}

#[async_trait]
impl ChanceryApiServer for RpcService {
    async fn submit(&self, tx: String) -> Answer<Hash> {
        let mut results = self.submit_txs(vec![tx]).await?;
        ok(results.pop().unwrap_or_else(|| Err(unavailable("no result"))))
    }

    async fn prepare(&self, body: serde_json::Value, signer: PublicKey, nonce: u64) -> Answer<PreparedTx> {
        let body: TxBody = serde_json::from_value(body).map_err(|e| {
            RpcError::new(ErrorCode::BadArgument, format!("body: {e} (tx bodies in JSON: docs/RPC.md, tx_prepare)"))
        })?;
        let identity = self.store.identity();
        let tx = Tx { chain_id: identity.chain_id.clone(), body, signer, nonce, signature: Signature([0; 64]) };
        let bytes = chancery_ledger::encode(&tx);
        if bytes.len() > chancery_ledger::limits::TX_BYTES_MAX {
            return ok(Err(RpcError::new(
                ErrorCode::TxTooLarge,
                format!("the tx would be {} bytes, above {}", bytes.len(), chancery_ledger::limits::TX_BYTES_MAX),
            )));
        }
        Ok(PreparedTx {
            unsigned_tx: hex::encode(bytes),
            sign_bytes: tx.message(&identity.genesis_hash).to_hex(),
            chain_id: identity.chain_id.to_string(),
            genesis_hash: identity.genesis_hash,
        })
    }

    async fn submit_signed(&self, unsigned_tx: String, signature: String) -> Answer<Hash> {
        let mut tx = decode_tx(&unsigned_tx)?;
        if tx.signature.0 != [0; 64] {
            return ok(Err(RpcError::new(
                ErrorCode::BadArgument,
                "unsigned_tx already carries a signature: give tx_prepare's unsigned_tx, or send the signed tx to evidence_submit",
            )));
        }
        let signature: [u8; 64] =
            hex::decode(signature.trim()).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| {
                RpcError::new(
                    ErrorCode::BadArgument,
                    "signature: give the 64-byte Ed25519 signature of sign_bytes, in hex",
                )
            })?;
        tx.signature = Signature(signature);
        self.submit(chancery_rpc::txs::tx_hex(&tx)).await
    }

    async fn submit_batch(&self, txs: Vec<String>) -> Answer<Vec<SubmitOutcome>> {
        if txs.is_empty() {
            return ok(Err(RpcError::new(ErrorCode::BadArgument, "an empty batch: give at least one tx")));
        }
        if txs.len() > self.submit_batch_max as usize {
            return ok(Err(RpcError::new(
                ErrorCode::BatchTooLarge,
                format!(
                    "{} txs in one batch; this node takes at most {}: split the batch",
                    txs.len(),
                    self.submit_batch_max
                ),
            )));
        }
        let results = self.submit_txs(txs).await?;
        Ok(results
            .into_iter()
            .map(|r| match r {
                Ok(tx_hash) => SubmitOutcome::Accepted { tx_hash },
                Err(error) => SubmitOutcome::Refused { error },
            })
            .collect())
    }

    async fn status(&self, tx_hash: Hash) -> Answer<TxStatusAnswer> {
        let admission = self.admission.clone();
        let status = self
            .read(move |store| match store.tx_location(&tx_hash) {
                Ok(location) => location_status(store, location),
                Err(StoreError::NotFound(_)) => Ok(match admission.mempool().status(&tx_hash) {
                    PoolStatus::Pending => TxStatus::Pending,
                    PoolStatus::Dropped(reason) => TxStatus::Dropped { reason },
                    // Committed between the two reads?
                    PoolStatus::Unknown => match store.tx_location(&tx_hash) {
                        Ok(location) => location_status(store, location)?,
                        Err(_) => TxStatus::Unknown,
                    },
                }),
                Err(e) => Err(store_error(e)),
            })
            .await?;
        Ok(TxStatusAnswer { tx_hash, status })
    }

    async fn by_digest(&self, digest: String, after: Option<Hash>) -> Answer<Anchors> {
        let digest = Digest::parse(&digest).map_err(|e| RpcError::new(ErrorCode::BadArgument, e.to_string()))?;
        ok(self
            .read(move |store| {
                let after = match after {
                    Some(hash) => Some(store.tx_location(&hash).map_err(store_error)?),
                    None => None,
                };
                let locations = store.anchors(&digest, after).map_err(store_error)?;
                let full = locations.len() >= chancery_ledger::store::ANCHORS_PER_QUERY_MAX;
                let mut anchors = Vec::with_capacity(locations.len());
                for location in locations {
                    let tx = store.tx_at(location).map_err(store_error)?;
                    let header = store.header(location.height).map_err(store_error)?;
                    anchors.push(Anchor {
                        tx_hash: tx.hash(),
                        height: location.height,
                        index: location.index,
                        block_time_ms: header.time_ms,
                    });
                }
                let next = if full { anchors.last().map(|a| a.tx_hash) } else { None };
                Ok(Anchors { anchors, next })
            })
            .await)
    }

    async fn proof(&self, tx_hash: Hash, checkpoint: Option<u64>) -> Answer<ProofBundle> {
        if let Some(c) = checkpoint {
            self.height_arg(c)?;
        }
        ok(self
            .read(move |store| {
                store.proof_bundle(&tx_hash, checkpoint).map_err(|e| match e {
                    StoreError::NotFound(_) => RpcError::new(
                        ErrorCode::NotFound,
                        format!("tx {tx_hash} is not committed on this node (see evidence_status)"),
                    ),
                    StoreError::Refused(why) => RpcError::new(ErrorCode::BadArgument, why),
                    other => store_error(other),
                })
            })
            .await)
    }

    async fn verify(&self, bundle: ProofBundle, file_hex: Option<String>) -> Answer<VerifyAnswer> {
        let file = match file_hex {
            Some(text) => {
                Some(hex::decode(text).map_err(|e| RpcError::new(ErrorCode::BadArgument, format!("file_hex: {e}")))?)
            }
            None => None,
        };
        let trust = self.trust.clone();
        let answer = match chancery_ledger::verify(&bundle, &trust, file.as_deref()) {
            Ok(report) => VerifyAnswer { valid: true, error: None, report: serde_json::to_value(&report).ok() },
            Err(e) => VerifyAnswer { valid: false, error: Some(e.to_string()), report: None },
        };
        Ok(answer)
    }

    async fn cert_submit(&self, tx: String) -> Answer<Hash> {
        let decoded = decode_tx(&tx)?;
        if !matches!(decoded.body, TxBody::CertEvent(_)) {
            return ok(Err(RpcError::new(
                ErrorCode::BadArgument,
                "not a certificate event tx; submit other records with evidence_submit",
            )));
        }
        self.submit(tx).await
    }

    async fn gov_submit(&self, tx: String) -> Answer<Hash> {
        let decoded = decode_tx(&tx)?;
        if !matches!(decoded.body, TxBody::Propose(_) | TxBody::Vote(_) | TxBody::RotateKey(_)) {
            return ok(Err(RpcError::new(
                ErrorCode::BadArgument,
                "not a governance tx (proposal, vote or key rotation); submit other records with evidence_submit",
            )));
        }
        self.submit(tx).await
    }

    async fn gov_proposal(&self, id: Hash) -> Answer<ProposalAnswer> {
        let trust = self.trust.clone();
        let answer = self.read(move |store| -> Result<ProposalAnswer, RpcError> {
            let proof = store.proposal_proof(&id).map_err(store_error)?;
            // The node checks its own proof as any verifier would before it answers, and
            // answers from the record it proves.
            let verdict = chancery_ledger::verify::verify_proposal(&proof, &trust)
                .map_err(|e| unavailable(&format!("the store's proposal proof does not verify: {e}")))?;
            let Some(record) = verdict.record else {
                return Err(RpcError::new(ErrorCode::NotFound, format!("no proposal {id} is on chain")));
            };
            let set = store.current_validators().map_err(store_error)?;
            let mut answer = proposal_answer(id, record, &set, verdict.as_of_height + 1);
            answer.proof = Some(proof);
            Ok(answer)
        });
        ok(answer.await)
    }

    async fn gov_proposals(&self, pending: Option<bool>, after: Option<Hash>) -> Answer<Vec<ProposalAnswer>> {
        ok(self
            .read(move |store| {
                let set = store.current_validators().map_err(store_error)?;
                let height = store.height();
                let records = if pending.unwrap_or(false) {
                    // The open ones come from their own list in the state, not a scan of all.
                    let open = store.open_proposals().map_err(store_error)?;
                    open.into_iter()
                        .filter(|(id, _)| after.is_none_or(|after| *id > after))
                        .take(GOV_LIST_MAX)
                        .collect()
                } else {
                    store.proposals(after, GOV_LIST_MAX).map_err(store_error)?
                };
                Ok(records.into_iter().map(|(id, record)| proposal_answer(id, record, &set, height)).collect())
            })
            .await)
    }

    async fn cert_history(&self, ca: String, serial: String) -> Answer<CertHistory> {
        let (ca, serial) = cert_args(&ca, &serial)?;
        let (ca_read, serial_read) = (ca.clone(), serial.clone());
        let record = self
            .read(move |store| store.cert_record(&ca_read, &serial_read).map_err(store_error))
            .await?
            .unwrap_or_default();
        let events = record
            .events
            .iter()
            .map(|e| CertHistoryEntry {
                height: e.height,
                time_ms: e.time_ms,
                tx_hash: e.tx_hash,
                cert_digest: e.cert_digest.to_text(),
                subject_key: e.subject_key.to_text(),
                event: e.event.clone(),
            })
            .collect();
        Ok(CertHistory { ca: ca.to_string(), serial: hex::encode(serial.as_bytes()), events })
    }

    async fn cert_status(&self, ca: String, serial: String, at_ms: u64) -> Answer<CertStatusAnswer> {
        let (ca, serial) = cert_args(&ca, &serial)?;
        let trust = self.trust.clone();
        let answer = self.read(move |store| -> Result<CertStatusAnswer, RpcError> {
            let proof = store.cert_status_proof(&ca, &serial, at_ms).map_err(store_error)?;
            // The node checks its own proof as any verifier would before it answers.
            let verdict = chancery_ledger::verify::verify_cert_status(&proof, &trust)
                .map_err(|e| unavailable(&format!("the store's certificate proof does not verify: {e}")))?;
            Ok(CertStatusAnswer { status: verdict.status, at_ms, as_of_height: verdict.as_of_height, proof })
        });
        ok(answer.await)
    }

    async fn sign_digest(
        &self,
        key_id: String,
        digest: String,
        kind: String,
        refs: Vec<Hash>,
        token: String,
    ) -> Answer<SignDigestAnswer> {
        ok(self.hosted_sign(HostedRequest { key_id, digest, kind, refs, token }).await)
    }

    async fn subscribe_committed(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        forward(pending, self.status.subscribe(), self, Committed::block_json).await
    }

    async fn info(&self) -> Answer<ChainInfo> {
        let (request_bytes_max, submit_batch_max) = (self.request_bytes_max, self.submit_batch_max);
        ok(self
            .read(move |store| {
                let blocks = store.height();
                let latest = if blocks > 0 { Some(store.header(blocks - 1).map_err(store_error)?) } else { None };
                Ok(ChainInfo {
                    chain_id: store.chain_id().to_string(),
                    genesis_hash: store.genesis_hash(),
                    blocks,
                    latest_block_hash: latest.as_ref().map(Header::hash),
                    latest_time_ms: latest.as_ref().map(|h| h.time_ms),
                    request_bytes_max,
                    submit_batch_max,
                    params: store.params().map_err(store_error)?,
                })
            })
            .await)
    }

    async fn header(&self, height: u64) -> Answer<Header> {
        let height = self.height_arg(height)?;
        ok(self.read(move |store| store.header(height).map_err(store_error)).await)
    }

    async fn block(&self, height: u64) -> Answer<Block> {
        let height = self.height_arg(height)?;
        ok(self.read(move |store| store.block(height).map_err(store_error)).await)
    }

    async fn commit(&self, height: u64) -> Answer<Commit> {
        let height = self.height_arg(height)?;
        ok(self.read(move |store| store.commit(height).map_err(store_error)).await)
    }

    async fn validators(&self, height: Option<u64>) -> Answer<ValidatorSet> {
        let height = height.map(|h| self.height_arg(h)).transpose()?;
        ok(self
            .read(move |store| {
                let Some(h) = height else { return store.current_validators().map_err(store_error) };
                store.validators_at(h).map_err(store_error)
            })
            .await)
    }

    async fn checkpoint(&self, height: Option<u64>) -> Answer<CheckpointInfo> {
        let height = match height {
            Some(h) => self.height_arg(h)?,
            None => match self.store.height() {
                0 => return ok(Err(RpcError::new(ErrorCode::NotFound, "no block is committed yet"))),
                blocks => blocks - 1,
            },
        };
        ok(self
            .read(move |store| {
                Ok(CheckpointInfo {
                    height,
                    header: store.header(height).map_err(store_error)?,
                    commit: store.commit(height).map_err(store_error)?,
                    validator_changes: store.validator_changes(height).map_err(store_error)?,
                })
            })
            .await)
    }

    async fn consistency_proof(&self, from: u64, to: u64) -> Answer<HistoryConsistency> {
        let blocks = self.store.height();
        if from == 0 || from > to || to > blocks {
            return ok(Err(RpcError::new(
                ErrorCode::BadArgument,
                format!("need 0 < from <= to <= {blocks} (the chain's block count); got from {from}, to {to}"),
            )));
        }
        ok(self.read(move |store| store.history_consistency(from, to).map_err(store_error)).await)
    }

    async fn subscribe_heads(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        forward(pending, self.status.subscribe(), self, Committed::header_json).await
    }

    async fn health(&self) -> Answer<Health> {
        let (status, admission) = (self.status.clone(), self.admission.clone());
        ok(self.read(move |store| Ok(status.health(store, admission.mempool()))).await)
    }

    async fn discover(&self) -> Answer<serde_json::Value> {
        static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
        Ok(DOCUMENT.get_or_init(chancery_rpc::openrpc::document).clone())
    }
}

/// Sends each committed block's `item` to the subscriber. The JSON is made once per
/// block, whoever subscribes; a subscriber whose messages no longer fit its connection's
/// buffer (it does not read) is closed rather than buffered without bound.
async fn forward(
    pending: PendingSubscriptionSink,
    mut events: tokio::sync::broadcast::Receiver<Arc<Committed>>,
    service: &RpcService,
    item: fn(&Committed) -> &serde_json::value::RawValue,
) -> SubscriptionResult {
    let connection = pending.connection_id().0 as u32;
    let mut sink = pending.accept().await?;
    let _live = service.activity.subscribed(connection);
    loop {
        tokio::select! {
            _ = sink.closed() => return Ok(()),
            event = events.recv() => match event {
                Ok(committed) => match sink.try_send(item(&committed).to_owned()) {
                    Ok(()) => {}
                    Err(jsonrpsee::core::server::TrySendError::Full(_)) => {
                        service.metrics.rpc_subscriptions_dropped.inc();
                        return Err("the subscriber does not read its notifications; closed".into());
                    }
                    Err(jsonrpsee::core::server::TrySendError::Closed(_)) => return Ok(()),
                },
                // A subscriber that fell behind is told so and closed: it must not
                // believe it saw every block.
                Err(RecvError::Lagged(missed)) => {
                    return Err(format!("subscriber fell {missed} blocks behind; resubscribe and catch up with chain_block").into());
                }
                Err(RecvError::Closed) => return Ok(()),
            },
        }
    }
}

/// Most proposals one `gov_proposals` call returns.
const GOV_LIST_MAX: usize = 100;

/// A proposal record as the RPC shows it, counted against `set` (the set in force for the
/// block at `height`).
fn proposal_answer(id: Hash, record: ProposalRecord, set: &ValidatorSet, height: u64) -> ProposalAnswer {
    let votes = record
        .votes
        .iter()
        .map(|v| {
            let validator = set.find_admin(&v.admin_key).map(|(_, validator)| validator);
            VoteView {
                admin_key: v.admin_key,
                validator: validator.map(|validator| validator.name.to_string()),
                power: validator.map_or(0, |validator| validator.power),
                approve: v.approve,
                height: v.height,
                tx_hash: v.tx_hash,
            }
        })
        .collect();
    ProposalAnswer {
        id,
        proposer: record.proposer,
        proposer_name: set.find_admin(&record.proposer).map(|(_, v)| v.name.to_string()),
        height: record.height,
        status: record.status_at(height),
        tally: record.tally(set),
        change: record.proposal.change,
        expires_at_height: record.proposal.expires_at_height,
        votes,
        as_of_height: height,
        proof: None,
    }
}

/// Why a submitted tx is not (yet) committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotCommitted {
    /// The mempool dropped it.
    #[error("dropped from the mempool: {reason}")]
    Dropped {
        /// Why.
        reason: String,
    },
    /// Not within the wait.
    #[error("not committed within {wait_ms} ms")]
    Late {
        /// The wait.
        wait_ms: u64,
    },
    /// The node stops.
    #[error("the node is stopping")]
    Stopping,
    /// The store could not be read.
    #[error("store: {reason}")]
    Store {
        /// Why.
        reason: String,
    },
}

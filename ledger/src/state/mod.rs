//! The ledger state and the state transition: which txs a block may hold, and what they
//! change. Pure: reads come through [`StateView`], and the result is a set of changes the
//! store writes atomically with the block.
//!
//! The state holds the chain parameters, the validator set for the next height, the
//! members, each signer's last nonce, and the certificate index (CA and serial to every
//! event). Every entry is a leaf of the state tree ([`crate::merkle::smt`]), whose root is the
//! header's `state_root`. Evidence records change no state beyond their signer's nonce:
//! the same digest may be anchored any number of times, each anchor its own record.

use std::collections::{HashMap, HashSet};

use bincode::{Decode, Encode};

use crate::codec::{decode, encode, BoundedVec, Canonical};
use crate::crypto::{PublicKey, SignatureError};
use crate::digest::Digest;
use crate::hash::{Hash, HashContext};
use crate::limits::CERT_EVENTS_MAX;
use crate::merkle::smt::{NodeSource, Smt, SmtBatch, SmtError, SmtUpdate};
use crate::merkle::tx_tree::tx_root;
use crate::types::block::{Block, ChainId, Params};
use crate::types::tx::{
    CertEvent, CertEventKind, CertSerial, Evidence, HostedSignatureError, SigningMethod, Tx, TxBody,
};
use crate::types::validator::{CaId, Member, MemberRole, ValidatorSet};

pub mod cert_record;
mod governance;

pub use cert_record::{CertEntry, CertRecord, CertStatus};
pub use governance::GovRule;

impl Canonical for u64 {
    const KIND: &'static str = "nonce";
    const BYTES_MAX: usize = 8;
}

impl Canonical for Hash {
    const KIND: &'static str = "hash";
    const BYTES_MAX: usize = 32;
}

/// A key of the ledger state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub enum StateKey {
    /// The chain parameters.
    Params,
    /// The validator set for the next height.
    Validators,
    /// A member, by key.
    Member(PublicKey),
    /// The member key that owns a CA id.
    CaOwner(CaId),
    /// A signer's last used nonce.
    Nonce(PublicKey),
    /// A certificate's events.
    Cert(CaId, CertSerial),
    /// Anchored misbehaviour: (validator, height, round, step) to the accused key.
    Misbehaviour(PublicKey, u64, u32, u8),
    /// The chain's genesis hash: the state root commits to the chain's identity.
    Genesis,
    /// The `validators_epoch` of the next height (see [`crate::types::block::Header`]).
    ValidatorsEpoch,
    /// A governance proposal and its votes, by proposal id (its tx hash).
    Proposal(Hash),
    /// The ids of the proposals still open.
    OpenProposals,
    /// Present after a block that changed the validator set (its value: the new epoch):
    /// the next block counts every open proposal again against the new set.
    Recount,
}

impl Canonical for StateKey {
    const KIND: &'static str = "state key";
    const BYTES_MAX: usize = 256;
}

impl StateKey {
    /// The key's position in the state tree: `H("chancery v1 state", key bytes)`.
    pub fn hash(&self) -> Hash {
        HashContext::State.hash(&encode(self))
    }
}

impl CertRecord {
    /// Validity window `(not_before_ms, not_after_ms)` after every renewal, if issued.
    pub fn validity(&self) -> Option<(u64, u64)> {
        let mut window = None;
        for entry in self.events.iter() {
            match entry.event {
                CertEventKind::Issued { not_before_ms, not_after_ms } => window = Some((not_before_ms, not_after_ms)),
                CertEventKind::Renewed { not_after_ms } => window = window.map(|(from, _)| (from, not_after_ms)),
                CertEventKind::Revoked { .. } => {}
            }
        }
        window
    }

    /// Whether a revocation is recorded.
    pub fn is_revoked(&self) -> bool {
        self.events.iter().any(|e| matches!(e.event, CertEventKind::Revoked { .. }))
    }
}

/// Read access to the state as of the end of the previous block.
pub trait StateView: NodeSource {
    /// The latest value under `key`.
    fn value(&self, key: &StateKey) -> Result<Option<Vec<u8>>, Self::Error>;
    /// Whether a tx with this hash is already on chain.
    fn tx_exists(&self, tx_hash: &Hash) -> Result<bool, Self::Error>;
}

/// Where and when a block executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockContext {
    /// The chain.
    pub chain_id: ChainId,
    /// The block's height.
    pub height: u64,
    /// The block's time.
    pub time_ms: u64,
}

/// What a block changes, written by the store in one atomic batch with the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChanges {
    /// New latest values (`None` deletes).
    pub writes: Vec<(StateKey, Option<Vec<u8>>)>,
    /// New state-tree nodes and root.
    pub tree: SmtBatch,
    /// The new `state_root`.
    pub state_root: Hash,
    /// Validator set for the next height.
    pub next_validators: ValidatorSet,
    /// The `validators_epoch` of the next height: one more than this block's exactly
    /// when `next_validators` differs from this block's set.
    pub next_validators_epoch: u64,
}

/// Why a tx may not go into a block. Each message says what was wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// Signed for another chain.
    #[error("tx is for chain {got:?}, this is chain {expected:?}; sign it with chain id {expected:?}")]
    WrongChain {
        /// This chain.
        expected: String,
        /// The tx's chain.
        got: String,
    },
    /// Larger than the chain allows.
    #[error("tx is {size} bytes, above this chain's limit of {max}; anchor a digest of the content, not the content")]
    TooLarge {
        /// Encoded size.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// The signature does not verify.
    #[error("tx signature is invalid ({0}); sign the tx's signing message with the signer's key")]
    BadSignature(SignatureError),
    /// Not a registered submitter.
    #[error("tx signer {signer} is not a registered submitter on chain {chain}; register it with `chancery genesis add-member` or a governance proposal, or submit with a registered key")]
    UnknownSigner {
        /// Signer key.
        signer: String,
        /// Chain.
        chain: String,
    },
    /// The member may not submit this record.
    #[error("member {name:?} may not submit {what}")]
    NotPermitted {
        /// Member name.
        name: String,
        /// What it tried.
        what: String,
    },
    /// Nonce not above the last used one.
    #[error("tx nonce {nonce} of signer {signer} is not above its last used nonce {last}; use nonce {next} or higher")]
    StaleNonce {
        /// Signer key.
        signer: String,
        /// Nonce given.
        nonce: u64,
        /// Last used nonce.
        last: u64,
        /// Smallest acceptable nonce.
        next: u64,
    },
    /// Already on chain (or earlier in the same block).
    #[error("tx {tx_hash} is already on chain; it is anchored once, look it up instead of resubmitting")]
    Duplicate {
        /// The tx hash.
        tx_hash: Hash,
    },
    /// A certificate lifecycle rule.
    #[error("certificate {ca}/{serial}: {rule}")]
    Cert {
        /// CA id.
        ca: String,
        /// Serial, hex.
        serial: String,
        /// The rule broken.
        rule: CertRule,
    },
    /// A governance rule.
    #[error("governance: {0}")]
    Gov(GovRule),
    /// Misbehaviour evidence that does not prove misbehaviour, or came too late.
    #[error("misbehaviour evidence rejected: {0}")]
    BadMisbehaviour(String),
    /// A signing event's hosted document signature is not bound to its certificate.
    #[error("hosted document signature: {0}")]
    HostedSignature(Box<HostedSignatureError>),
    /// A nonce no later tx could follow.
    #[error("tx nonce {nonce} is the largest nonce, which no later tx could follow; use a smaller nonce above the signer's last")]
    NonceExhausted {
        /// The nonce.
        nonce: u64,
    },
    /// This misbehaviour (validator, height, round, step) is already on chain.
    #[error("this misbehaviour of validator {validator} at height {height} is already anchored")]
    MisbehaviourKnown {
        /// The validator's consensus key.
        validator: String,
        /// The height.
        height: u64,
    },
}

/// A certificate lifecycle rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertRule {
    /// An event before issue.
    #[error("no event may precede Issued; record the issue first")]
    NotIssued,
    /// A second issue.
    #[error("it is already issued; renew or revoke it instead")]
    AlreadyIssued,
    /// An empty or inverted validity window.
    #[error("not_before_ms {not_before_ms} must be below not_after_ms {not_after_ms}")]
    EmptyValidity {
        /// Start.
        not_before_ms: u64,
        /// End.
        not_after_ms: u64,
    },
    /// An event after revocation.
    #[error("it is revoked, and revocation is final")]
    Revoked,
    /// A renewal that shortens or keeps validity.
    #[error("a renewal must extend validity beyond {current_ms}, got {not_after_ms}")]
    RenewalDoesNotExtend {
        /// Current end of validity.
        current_ms: u64,
        /// Renewal's end.
        not_after_ms: u64,
    },
    /// A revocation effective before the certificate existed: before both its validity
    /// start and the block that recorded its issue.
    #[error("revocation effective at {effective_ms} is before the certificate was issued (validity from {not_before_ms}, issue recorded at {issued_ms})")]
    RevokedBeforeIssue {
        /// Effective time.
        effective_ms: u64,
        /// Start of validity.
        not_before_ms: u64,
        /// Time of the block that recorded the issue.
        issued_ms: u64,
    },
    /// A revocation in the future.
    #[error("revocation effective at {effective_ms} is after the block time {block_time_ms}; revocations cannot be recorded in advance")]
    RevokedInFuture {
        /// Effective time.
        effective_ms: u64,
        /// Block time.
        block_time_ms: u64,
    },
    /// Too many events (the last of the maximum is kept for a revocation).
    #[error(
        "it has the maximum of {CERT_EVENTS_MAX} events (the last kept for a revocation); issue a new certificate"
    )]
    TooManyEvents,
}

/// Why a block cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError<E> {
    /// Reading the state failed.
    #[error("state read failed: {0:?}")]
    Store(E),
    /// A stored state value does not decode: the store is damaged.
    #[error("stored state value for {key} does not decode: {reason}")]
    Corrupt {
        /// The key.
        key: String,
        /// Decoder message.
        reason: String,
    },
    /// The state tree failed.
    #[error("state tree: {0}")]
    Tree(SmtError<E>),
    /// A tx is invalid.
    #[error("tx #{index} ({tx_hash}): {error}")]
    Tx {
        /// Position in the block.
        index: usize,
        /// Its hash.
        tx_hash: Hash,
        /// Why.
        error: TxError,
    },
    /// Too many txs or bytes.
    #[error("block holds {what} {got}, above this chain's limit of {max}")]
    BlockTooLarge {
        /// "txs" or "bytes".
        what: &'static str,
        /// Amount.
        got: u64,
        /// Limit.
        max: u64,
    },
    /// A header field does not match the block's content or the state.
    #[error("header {field} is {got}, the block's content gives {expected}")]
    HeaderMismatch {
        /// Field name.
        field: &'static str,
        /// Computed value.
        expected: String,
        /// Header value.
        got: String,
    },
}

/// Reads through the block's pending writes, then the view.
struct Overlay<'a, V: StateView> {
    view: &'a V,
    /// Values read from the view, so a block of many txs by one signer reads its member
    /// record once.
    read: std::cell::RefCell<HashMap<StateKey, Option<Vec<u8>>>>,
    /// Members as decoded, for the same reason; dropped when a member changes.
    members: std::cell::RefCell<HashMap<PublicKey, Option<Member>>>,
    pending: HashMap<StateKey, Option<Vec<u8>>>,
    order: Vec<StateKey>,
    tx_hashes: HashSet<Hash>,
}

impl<'a, V: StateView> Overlay<'a, V> {
    fn new(view: &'a V) -> Self {
        Overlay {
            view,
            read: Default::default(),
            members: Default::default(),
            pending: HashMap::new(),
            order: Vec::new(),
            tx_hashes: HashSet::new(),
        }
    }

    fn raw(&self, key: &StateKey) -> Result<Option<Vec<u8>>, ExecError<V::Error>> {
        if let Some(value) = self.pending.get(key) {
            return Ok(value.clone());
        }
        if let Some(value) = self.read.borrow().get(key) {
            return Ok(value.clone());
        }
        let value = self.view.value(key).map_err(ExecError::Store)?;
        self.read.borrow_mut().insert(key.clone(), value.clone());
        Ok(value)
    }

    fn get<T: Canonical>(&self, key: &StateKey) -> Result<Option<T>, ExecError<V::Error>> {
        match self.raw(key)? {
            Some(bytes) => decode(&bytes)
                .map(Some)
                .map_err(|e| ExecError::Corrupt { key: format!("{key:?}"), reason: e.to_string() }),
            None => Ok(None),
        }
    }

    fn member(&self, key: &PublicKey) -> Result<Option<Member>, ExecError<V::Error>> {
        if let Some(member) = self.members.borrow().get(key) {
            return Ok(member.clone());
        }
        let member: Option<Member> = self.get(&StateKey::Member(*key))?;
        self.members.borrow_mut().insert(*key, member.clone());
        Ok(member)
    }

    fn put<T: bincode::Encode>(&mut self, key: StateKey, value: Option<&T>) {
        self.put_raw(key, value.map(encode));
    }

    fn put_raw(&mut self, key: StateKey, value: Option<Vec<u8>>) {
        if let StateKey::Member(member) = &key {
            self.members.borrow_mut().remove(member);
        }
        if !self.pending.contains_key(&key) {
            self.order.push(key.clone());
        }
        self.pending.insert(key, value);
    }
}

fn required<T, E>(value: Option<T>, key: &StateKey) -> Result<T, ExecError<E>> {
    value.ok_or_else(|| ExecError::Corrupt { key: format!("{key:?}"), reason: "missing".into() })
}

/// The state changes of the genesis: its hash, parameters, validators and members, as
/// version 0.
pub fn genesis_changes<V: NodeSource>(
    nodes: &V,
    genesis_hash: &Hash,
    params: &Params,
    validators: &ValidatorSet,
    members: &[Member],
) -> Result<StateChanges, SmtError<V::Error>> {
    let mut writes = vec![
        (StateKey::Genesis, Some(encode(genesis_hash))),
        (StateKey::Params, Some(encode(params))),
        (StateKey::Validators, Some(encode(validators))),
        (StateKey::ValidatorsEpoch, Some(encode(&0u64))),
    ];
    for member in members {
        writes.push((StateKey::Member(member.key), Some(encode(member))));
        if let MemberRole::CertificateAuthority { ca } = &member.role {
            writes.push((StateKey::CaOwner(ca.clone()), Some(encode(&member.key))));
        }
    }
    let tree = Smt::update(nodes, None, 0, &tree_updates(&writes))?;
    Ok(StateChanges {
        state_root: tree.root.hash,
        tree,
        writes,
        next_validators: validators.clone(),
        next_validators_epoch: 0,
    })
}

fn tree_updates(writes: &[(StateKey, Option<Vec<u8>>)]) -> Vec<SmtUpdate> {
    writes.iter().map(|(k, v)| SmtUpdate { key: k.hash(), value: v.clone() }).collect()
}

/// A block being executed tx by tx: the block builder pushes candidate txs and keeps
/// the valid ones; a rejected tx leaves the execution as it was.
pub struct Execution<'a, V: StateView> {
    overlay: Overlay<'a, V>,
    ctx: BlockContext,
    genesis_hash: Hash,
    params: Params,
    /// The set in force for this block; changes go to the next set, in the overlay.
    validators: ValidatorSet,
    validators_epoch: u64,
}

impl<'a, V: StateView> Execution<'a, V> {
    /// Starts executing a block on the state after height `ctx.height - 1` (state version
    /// `ctx.height`).
    pub fn new(view: &'a V, ctx: BlockContext) -> Result<Self, ExecError<V::Error>> {
        let overlay = Overlay::new(view);
        let genesis_hash: Hash = required(overlay.get(&StateKey::Genesis)?, &StateKey::Genesis)?;
        let params: Params = required(overlay.get(&StateKey::Params)?, &StateKey::Params)?;
        let validators: ValidatorSet = required(overlay.get(&StateKey::Validators)?, &StateKey::Validators)?;
        let validators_epoch: u64 = required(overlay.get(&StateKey::ValidatorsEpoch)?, &StateKey::ValidatorsEpoch)?;
        let mut overlay = overlay;
        // The first block of a new validator set counts the open proposals again: the
        // new set's power may pass or doom them without another vote.
        if overlay.get::<u64>(&StateKey::Recount)?.is_some() {
            governance::recount(&mut overlay, &validators, ctx.height)?;
            overlay.put::<u64>(StateKey::Recount, None);
        }
        Ok(Execution { overlay, ctx, genesis_hash, params, validators, validators_epoch })
    }

    /// The validator set in force for this block.
    pub fn validators(&self) -> &ValidatorSet {
        &self.validators
    }

    /// The `validators_epoch` of this block.
    pub fn validators_epoch(&self) -> u64 {
        self.validators_epoch
    }

    /// The chain parameters in force for this block.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Checks `tx` against every rule and, if it passes, records its effects. The outer
    /// error is a store failure; the inner one says why the tx is refused.
    pub fn push(&mut self, tx: &Tx) -> Result<Result<(), TxError>, ExecError<V::Error>> {
        self.push_checked(tx, true)
    }

    /// Like [`Execution::push`] for a tx whose signature the caller has already verified
    /// (the mempool verifies in batches; a tx is not verified twice).
    pub fn push_verified(&mut self, tx: &Tx) -> Result<Result<(), TxError>, ExecError<V::Error>> {
        self.push_checked(tx, false)
    }

    /// Like [`Execution::push_verified`] for a tx whose canonical size and hash the caller
    /// already has (the mempool computes both once, at admission).
    pub fn push_verified_known(
        &mut self,
        tx: &Tx,
        size: usize,
        tx_hash: &Hash,
    ) -> Result<Result<(), TxError>, ExecError<V::Error>> {
        self.push_known(tx, size, *tx_hash, false)
    }

    fn push_checked(&mut self, tx: &Tx, check_signature: bool) -> Result<Result<(), TxError>, ExecError<V::Error>> {
        // Encode once: the size rule and the tx hash both need the bytes.
        let bytes = encode(tx);
        let tx_hash = HashContext::Tx.hash(&bytes);
        self.push_known(tx, bytes.len(), tx_hash, check_signature)
    }

    fn push_known(
        &mut self,
        tx: &Tx,
        size: usize,
        tx_hash: Hash,
        check_signature: bool,
    ) -> Result<Result<(), TxError>, ExecError<V::Error>> {
        let rules = Rules {
            ctx: &self.ctx,
            genesis_hash: &self.genesis_hash,
            params: &self.params,
            validators: &self.validators,
            check_signature,
        };
        let outcome = apply_tx(&mut self.overlay, &rules, tx, size, &tx_hash)?;
        Ok(outcome.map(|()| {
            self.overlay.tx_hashes.insert(tx_hash);
        }))
    }

    /// Finishes the block: the state changes, the new state tree and root (state version
    /// `ctx.height + 1`).
    pub fn finish(self) -> Result<StateChanges, ExecError<V::Error>> {
        let mut overlay = self.overlay;
        let next_validators: ValidatorSet = required(overlay.get(&StateKey::Validators)?, &StateKey::Validators)?;
        let mut next_validators_epoch = self.validators_epoch;
        if next_validators.hash() != self.validators.hash() {
            next_validators_epoch += 1;
            overlay.put(StateKey::ValidatorsEpoch, Some(&next_validators_epoch));
            overlay.put(StateKey::Recount, Some(&next_validators_epoch));
        }
        let writes: Vec<_> =
            overlay.order.iter().map(|k| (k.clone(), overlay.pending.get(k).cloned().flatten())).collect();
        let tree = Smt::update(overlay.view, Some(self.ctx.height), self.ctx.height + 1, &tree_updates(&writes))
            .map_err(ExecError::Tree)?;
        Ok(StateChanges { state_root: tree.root.hash, tree, writes, next_validators, next_validators_epoch })
    }
}

/// Executes `txs` in order; any invalid tx makes the whole block invalid.
pub fn execute<V: StateView>(view: &V, ctx: &BlockContext, txs: &[Tx]) -> Result<StateChanges, ExecError<V::Error>> {
    execute_with(view, ctx, txs, &|_| false)
}

/// Like [`execute`], skipping the signature check of txs for which `verified` says the
/// caller already verified it.
pub fn execute_with<V: StateView>(
    view: &V,
    ctx: &BlockContext,
    txs: &[Tx],
    verified: &dyn Fn(&Tx) -> bool,
) -> Result<StateChanges, ExecError<V::Error>> {
    let mut execution = Execution::new(view, ctx.clone())?;
    check_block_size(&execution.params, txs)?;
    for (index, tx) in txs.iter().enumerate() {
        let outcome = if verified(tx) { execution.push_verified(tx)? } else { execution.push(tx)? };
        if let Err(error) = outcome {
            return Err(ExecError::Tx { index, tx_hash: tx.hash(), error });
        }
    }
    execution.finish()
}

fn check_block_size<E>(params: &Params, txs: &[Tx]) -> Result<(), ExecError<E>> {
    if txs.len() as u64 > u64::from(params.max_block_txs) {
        return Err(ExecError::BlockTooLarge { what: "txs", got: txs.len() as u64, max: params.max_block_txs.into() });
    }
    Ok(())
}

/// Executes `block` and checks that its header matches the result: tx count and root,
/// validator sets, state root, block size. Returns the changes to commit.
pub fn apply<V: StateView>(view: &V, block: &Block, block_bytes: usize) -> Result<StateChanges, ExecError<V::Error>> {
    apply_with(view, block, block_bytes, &|_| false)
}

/// Like [`apply`], skipping the signature check of txs the caller already verified.
pub fn apply_with<V: StateView>(
    view: &V,
    block: &Block,
    block_bytes: usize,
    verified: &dyn Fn(&Tx) -> bool,
) -> Result<StateChanges, ExecError<V::Error>> {
    let header = &block.header;
    let ctx = BlockContext { chain_id: header.chain_id.clone(), height: header.height, time_ms: header.time_ms };
    let overlay = Overlay::new(view);
    let params: Params = required(overlay.get(&StateKey::Params)?, &StateKey::Params)?;
    if block_bytes as u64 > u64::from(params.max_block_bytes) {
        return Err(ExecError::BlockTooLarge {
            what: "bytes",
            got: block_bytes as u64,
            max: params.max_block_bytes.into(),
        });
    }
    let validators: ValidatorSet = required(overlay.get(&StateKey::Validators)?, &StateKey::Validators)?;
    let epoch: u64 = required(overlay.get(&StateKey::ValidatorsEpoch)?, &StateKey::ValidatorsEpoch)?;
    let tx_hashes: Vec<Hash> = block.txs.iter().map(Tx::hash).collect();
    let checks = [
        ("tx_count", (block.txs.len() as u64).to_string(), header.tx_count.to_string()),
        ("tx_root", tx_root(&tx_hashes).to_hex(), header.tx_root.to_hex()),
        ("validators_hash", validators.hash().to_hex(), header.validators_hash.to_hex()),
        ("validators_epoch", epoch.to_string(), header.validators_epoch.to_string()),
    ];
    mismatch(&checks)?;
    let changes = execute_with(view, &ctx, &block.txs, verified)?;
    let checks = [
        ("next_validators_hash", changes.next_validators.hash().to_hex(), header.next_validators_hash.to_hex()),
        ("state_root", changes.state_root.to_hex(), header.state_root.to_hex()),
    ];
    mismatch(&checks)?;
    Ok(changes)
}

fn mismatch<E>(checks: &[(&'static str, String, String)]) -> Result<(), ExecError<E>> {
    for (field, expected, got) in checks {
        if expected != got {
            return Err(ExecError::HeaderMismatch { field, expected: expected.clone(), got: got.clone() });
        }
    }
    Ok(())
}

type TxOutcome = Result<(), TxError>;

/// What a tx is checked against.
struct Rules<'a> {
    ctx: &'a BlockContext,
    genesis_hash: &'a Hash,
    params: &'a Params,
    /// The set in force for this block.
    validators: &'a ValidatorSet,
    check_signature: bool,
}

/// Checks one tx against the state and the block so far, and records its effects.
/// The outer error is a store failure; the inner one is the tx's fault.
fn apply_tx<V: StateView>(
    overlay: &mut Overlay<'_, V>,
    rules: &Rules<'_>,
    tx: &Tx,
    size: usize,
    tx_hash: &Hash,
) -> Result<TxOutcome, ExecError<V::Error>> {
    let (ctx, params, validators) = (rules.ctx, rules.params, rules.validators);
    if tx.chain_id != ctx.chain_id {
        return Ok(Err(TxError::WrongChain { expected: ctx.chain_id.to_string(), got: tx.chain_id.to_string() }));
    }
    if size > params.max_tx_bytes as usize {
        return Ok(Err(TxError::TooLarge { size, max: params.max_tx_bytes as usize }));
    }
    if rules.check_signature {
        if let Err(e) = tx.verify_signature(rules.genesis_hash) {
            return Ok(Err(TxError::BadSignature(e)));
        }
    }
    let member = overlay.member(&tx.signer)?;
    let allowed = match &tx.body {
        // Members; what each may submit is checked below.
        TxBody::Evidence(_) | TxBody::CertEvent(_) => member.is_some(),
        // Institutions govern with their admin keys; any other key is refused by the
        // governance rules, which say so.
        TxBody::Propose(_) | TxBody::Vote(_) | TxBody::RotateKey(_) => true,
        // A validator's node anchors what its consensus saw, signed with its p2p key.
        TxBody::Misbehaviour(_) => validators.validators.iter().any(|v| v.p2p_key == tx.signer),
    };
    if !allowed {
        return Ok(Err(TxError::UnknownSigner { signer: tx.signer.to_hex(), chain: ctx.chain_id.to_string() }));
    }
    // A signer's nonce only ever grows and is never deleted, and a tx hash covers its
    // signer and nonce: a tx whose nonce is above its signer's last one cannot be on chain.
    // So the duplicate lookup is needed only to say why a stale nonce is refused.
    if tx.nonce == u64::MAX {
        return Ok(Err(TxError::NonceExhausted { nonce: tx.nonce }));
    }
    let last: u64 = overlay.get(&StateKey::Nonce(tx.signer))?.unwrap_or(0);
    if tx.nonce <= last {
        if overlay.tx_hashes.contains(tx_hash) || overlay.view.tx_exists(tx_hash).map_err(ExecError::Store)? {
            return Ok(Err(TxError::Duplicate { tx_hash: *tx_hash }));
        }
        return Ok(Err(TxError::StaleNonce {
            signer: tx.signer.to_hex(),
            nonce: tx.nonce,
            last,
            next: last.saturating_add(1),
        }));
    }
    let outcome = match &tx.body {
        TxBody::Evidence(evidence) => match check_evidence(member.as_ref(), evidence) {
            Ok(()) => check_hosted_signature(overlay, evidence),
            Err(e) => Ok(Err(e)),
        },
        TxBody::CertEvent(event) => apply_cert_event(overlay, ctx, member.as_ref(), event, tx_hash),
        TxBody::Propose(proposal) => governance::propose(overlay, rules, tx, tx_hash, proposal),
        TxBody::Vote(vote) => governance::vote(overlay, rules, tx, tx_hash, vote),
        TxBody::RotateKey(rotation) => governance::rotate(overlay, rules, tx, rotation),
        TxBody::Misbehaviour(equivocation) => apply_misbehaviour(overlay, rules, equivocation),
    }?;
    if outcome.is_ok() {
        overlay.put(StateKey::Nonce(tx.signer), Some(&tx.nonce));
    }
    Ok(outcome)
}

/// Misbehaviour evidence must prove an equivocation by a current validator at an earlier
/// height of this chain, and each (validator, height, round, step) is anchored once.
fn apply_misbehaviour<V: StateView>(
    overlay: &mut Overlay<'_, V>,
    rules: &Rules<'_>,
    equivocation: &crate::types::misbehaviour::Equivocation,
) -> Result<Result<(), TxError>, ExecError<V::Error>> {
    let (ctx, validators) = (rules.ctx, rules.validators);
    let (chain, height, round, step) = equivocation.first.slot();
    if chain != ctx.chain_id {
        return Ok(Err(TxError::BadMisbehaviour(format!("the messages are for chain {chain}"))));
    }
    if equivocation.first.genesis_hash() != *rules.genesis_hash {
        return Ok(Err(TxError::BadMisbehaviour("the messages are for another genesis of this chain id".into())));
    }
    if height >= ctx.height {
        return Ok(Err(TxError::BadMisbehaviour(format!("height {height} is not before this block's {}", ctx.height))));
    }
    if let Err(e) = equivocation.verify(validators) {
        return Ok(Err(TxError::BadMisbehaviour(e.to_string())));
    }
    let key = StateKey::Misbehaviour(equivocation.validator, height, round, step);
    if overlay.get::<PublicKey>(&key)?.is_some() {
        return Ok(Err(TxError::MisbehaviourKnown { validator: equivocation.validator.to_hex(), height }));
    }
    // The value: the accused key (the evidence itself is in the tx, found by its index).
    overlay.put(key, Some(&equivocation.validator));
    Ok(Ok(()))
}

fn not_permitted(member: Option<&Member>, what: String) -> TxError {
    TxError::NotPermitted { name: member.map(|m| m.name.to_string()).unwrap_or_else(|| "(validator)".into()), what }
}

fn check_evidence(member: Option<&Member>, evidence: &Evidence) -> Result<(), TxError> {
    match member.map(|m| &m.role) {
        Some(MemberRole::Integrator { kinds }) if kinds.contains(&evidence.kind) => Ok(()),
        Some(MemberRole::Integrator { .. }) => Err(not_permitted(
            member,
            format!("evidence of kind {}; ask the operator to permit that kind", evidence.kind.name()),
        )),
        _ => Err(not_permitted(member, "evidence: only integrators anchor evidence".into())),
    }
}

/// A signing event that records a hosted signature names the certificate of the key
/// that made it: the signature verifies over the document digest under the key it
/// carries, and the certificate was issued for that key (its subject key is the key's
/// digest, by the issue's digest algorithm).
fn check_hosted_signature<V: StateView>(
    overlay: &mut Overlay<'_, V>,
    evidence: &Evidence,
) -> Result<Result<(), TxError>, ExecError<V::Error>> {
    let Some(signature) = &evidence.signature else { return Ok(Ok(())) };
    let SigningMethod::HostedEd25519 { public_key, .. } = &signature.method else { return Ok(Ok(())) };
    let refuse = |why: HostedSignatureError| Ok(Err(TxError::HostedSignature(Box::new(why))));
    if let Err(why) = signature.check_hosted(&evidence.digest) {
        return refuse(why);
    }
    let Some(cert) = &evidence.cert else {
        return refuse(HostedSignatureError::NoCertificate);
    };
    let (ca, serial) = (cert.ca.to_string(), hex::encode(cert.serial.as_bytes()));
    let record: Option<CertRecord> = overlay.get(&StateKey::Cert(cert.ca.clone(), cert.serial.clone()))?;
    let issued = record.as_ref().and_then(|r| r.events.first());
    let Some(issued) = issued else {
        return refuse(HostedSignatureError::NotIssued { ca, serial });
    };
    if issued.subject_key != Digest::compute(issued.subject_key.alg(), &public_key.0) {
        return refuse(HostedSignatureError::OtherKey { ca, serial, key: *public_key });
    }
    Ok(Ok(()))
}

fn apply_cert_event<V: StateView>(
    overlay: &mut Overlay<'_, V>,
    ctx: &BlockContext,
    member: Option<&Member>,
    event: &CertEvent,
    tx_hash: &Hash,
) -> Result<Result<(), TxError>, ExecError<V::Error>> {
    match member.map(|m| &m.role) {
        Some(MemberRole::CertificateAuthority { ca }) if *ca == event.ca => {}
        Some(MemberRole::CertificateAuthority { ca }) => {
            return Ok(Err(not_permitted(member, format!("events for CA {}: it is CA {ca}", event.ca))));
        }
        _ => {
            return Ok(Err(not_permitted(
                member,
                "certificate events: only certificate authorities record them".into(),
            )))
        }
    }
    let key = StateKey::Cert(event.ca.clone(), event.serial.clone());
    let mut record: CertRecord = overlay.get(&key)?.unwrap_or_default();
    if let Err(rule) = check_cert_rule(&record, &event.event, ctx.time_ms) {
        return Ok(Err(TxError::Cert { ca: event.ca.to_string(), serial: hex::encode(event.serial.as_bytes()), rule }));
    }
    let entry = CertEntry {
        height: ctx.height,
        time_ms: ctx.time_ms,
        tx_hash: *tx_hash,
        cert_digest: event.cert_digest.clone(),
        subject_key: event.subject_key.clone(),
        event: event.event.clone(),
    };
    let mut events = record.events.into_vec();
    events.push(entry);
    record.events = BoundedVec::new(events)
        .map_err(|_| ExecError::Corrupt { key: format!("{key:?}"), reason: "event count checked above".into() })?;
    overlay.put(key, Some(&record));
    Ok(Ok(()))
}

/// The lifecycle rules: nothing before `Issued`, one issue, revocation final and not in
/// the future nor before validity, renewals only extend.
pub fn check_cert_rule(record: &CertRecord, event: &CertEventKind, block_time_ms: u64) -> Result<(), CertRule> {
    // The last slot is kept for a revocation: a certificate can always be revoked.
    let revocation = matches!(event, CertEventKind::Revoked { .. });
    if record.events.len() >= CERT_EVENTS_MAX || (record.events.len() + 1 >= CERT_EVENTS_MAX && !revocation) {
        return Err(CertRule::TooManyEvents);
    }
    let validity = record.validity();
    if let CertEventKind::Issued { not_before_ms, not_after_ms } = *event {
        if validity.is_some() {
            return Err(CertRule::AlreadyIssued);
        }
        if not_before_ms >= not_after_ms {
            return Err(CertRule::EmptyValidity { not_before_ms, not_after_ms });
        }
        return Ok(());
    }
    let (not_before_ms, current_ms) = validity.ok_or(CertRule::NotIssued)?;
    // A certificate dated to start later can be revoked from its issue on (its key may be
    // lost before its validity starts); one issued with a past start, from that start.
    let issued_ms = record.events.first().map_or(not_before_ms, |e| e.time_ms);
    if record.is_revoked() {
        return Err(CertRule::Revoked);
    }
    match *event {
        CertEventKind::Renewed { not_after_ms } if not_after_ms <= current_ms => {
            Err(CertRule::RenewalDoesNotExtend { current_ms, not_after_ms })
        }
        CertEventKind::Revoked { effective_ms, .. } if effective_ms < not_before_ms.min(issued_ms) => {
            Err(CertRule::RevokedBeforeIssue { effective_ms, not_before_ms, issued_ms })
        }
        CertEventKind::Revoked { effective_ms, .. } if effective_ms > block_time_ms => {
            Err(CertRule::RevokedInFuture { effective_ms, block_time_ms })
        }
        _ => Ok(()),
    }
}

//! Deterministic keys and a chain builder for tests and benchmarks (feature `testkit`).
//! It signs with keys derived from fixed seeds, so it never ships in a product binary.

use ed25519_dalek::{Signer as _, SigningKey};

use crate::codec::BoundedVec;
use crate::crypto::{PublicKey, Signature};
use crate::digest::{Digest, DigestAlg};
use crate::hash::{Hash, HashContext};
use crate::merkle::history::{Blake3History, HistoryTree};
use crate::merkle::tx_tree::TxTree;
use crate::types::block::{Block, ChainId, Commit, CommitSig, Header};
use crate::types::gov::{Change, GovProposal};
use crate::types::tx::{Evidence, EvidenceKind, Tx, TxBody};
use crate::types::validator::{Member, MemberRole, Name, Role, Validator, ValidatorSet};
use crate::verify::TrustRoot;
use crate::verify::{Checkpoint, ProofBundle, ValidatorSetChange};

/// A signing key from a fixed seed: `seed` repeated 32 times, with a domain byte.
pub fn key(domain: u8, seed: u16) -> SigningKey {
    let mut bytes = [0u8; 32];
    bytes[0] = domain;
    bytes[1..3].copy_from_slice(&seed.to_le_bytes());
    SigningKey::from_bytes(&blake3::derive_key("chancery testkit key", &bytes))
}

/// The public key of `key`.
pub fn public(key: &SigningKey) -> PublicKey {
    PublicKey(key.verifying_key().to_bytes())
}

/// Signs a 32-byte message.
pub fn sign(key: &SigningKey, message: &Hash) -> Signature {
    Signature(key.sign(message.as_bytes()).to_bytes())
}

/// Builds and signs a tx for the chain of `genesis_hash`.
pub fn signed_tx(key: &SigningKey, chain_id: &ChainId, genesis_hash: &Hash, body: TxBody, nonce: u64) -> Tx {
    let signer = public(key);
    let signature = sign(key, &Tx::signing_message(chain_id, genesis_hash, &body, &signer, nonce));
    Tx { chain_id: chain_id.clone(), body, signer, nonce, signature }
}

/// An evidence body for a document's SHA-256 digest.
pub fn document_evidence(document: &[u8]) -> TxBody {
    TxBody::Evidence(Evidence {
        kind: EvidenceKind::Document,
        digest: Digest::compute(DigestAlg::Sha256, document),
        refs: BoundedVec::empty(),
        meta: None,
        claimed_time_ms: None,
        cert: None,
        signature: None,
    })
}

const ROLES: [Role; 4] = [Role::Operator, Role::Notary, Role::Court, Role::Arbitration];

fn name(text: &str) -> Name {
    Name::new(text).expect("testkit names are valid")
}

/// The admin key of validator `index` of generation `generation` in [`validator_set`].
pub fn admin_key(generation: u16, index: usize) -> SigningKey {
    key(5, (generation << 8) | index as u16)
}

/// A validator set of `keys.len()` validators with power 10 each, roles rotating
/// operator, notary, court, arbitration; admin keys are [`admin_key`].
pub fn validator_set(keys: &[SigningKey], generation: u16) -> ValidatorSet {
    let validators = keys
        .iter()
        .enumerate()
        .map(|(i, k)| Validator {
            name: name(&format!("{}-{}-{}", ROLES[i % 4].name(), generation, i)),
            role: ROLES[i % 4],
            consensus_key: public(k),
            p2p_key: public(&key(2, (generation << 8) | i as u16)),
            admin_key: public(&admin_key(generation, i)),
            power: 10,
        })
        .collect();
    ValidatorSet::new(validators).expect("testkit sets fit the limit")
}

/// A chain under construction: validators sign real commits over real blocks.
pub struct TestChain {
    /// Chain id.
    pub chain_id: ChainId,
    /// Genesis hash the chain starts from.
    pub genesis_hash: Hash,
    /// The genesis validator set.
    pub genesis_validators: ValidatorSet,
    /// Keys of the current validators.
    pub validator_keys: Vec<SigningKey>,
    /// The current set.
    pub validators: ValidatorSet,
    /// The set for the next height (differs after a change).
    pub next_validators: ValidatorSet,
    next_keys: Vec<SigningKey>,
    /// The demo integrator.
    pub integrator: SigningKey,
    /// Genesis members.
    pub members: Vec<Member>,
    /// Committed blocks with their commits, by height.
    pub blocks: Vec<(Block, Commit)>,
    /// History tree over committed block hashes.
    pub history: HistoryTree<Blake3History>,
    /// Validator-set changes so far, each with the first height its set signs.
    pub changes: Vec<(u64, ValidatorSetChange)>,
    /// `validators_epoch` of the next block.
    pub epoch: u64,
    /// Current block time.
    pub time_ms: u64,
    nonce: u64,
    generation: u16,
}

impl TestChain {
    /// A chain of `n` validators on chain id `test-chain` with a made-up genesis hash.
    pub fn new(n: usize) -> Self {
        let keys: Vec<_> = (0..n).map(|i| key(1, i as u16)).collect();
        let set = validator_set(&keys, 0);
        let chain_id = ChainId::new("test-chain").expect("valid chain id");
        let integrator = key(3, 0);
        let members = vec![Member {
            name: name("demo-integrator"),
            key: public(&integrator),
            role: MemberRole::Integrator {
                kinds: BoundedVec::new(vec![EvidenceKind::Document, EvidenceKind::SigningEvent]).expect("two kinds"),
            },
        }];
        Self::from_parts(
            chain_id,
            HashContext::Genesis.hash(b"testkit genesis"),
            keys,
            set,
            integrator,
            members,
            1_767_225_600_000,
        )
    }

    /// A chain from explicit parts (for example, a real genesis's).
    pub fn from_parts(
        chain_id: ChainId,
        genesis_hash: Hash,
        validator_keys: Vec<SigningKey>,
        validators: ValidatorSet,
        integrator: SigningKey,
        members: Vec<Member>,
        genesis_time_ms: u64,
    ) -> Self {
        TestChain {
            chain_id,
            genesis_hash,
            genesis_validators: validators.clone(),
            next_validators: validators.clone(),
            next_keys: validator_keys.clone(),
            validator_keys,
            validators,
            integrator,
            members,
            blocks: Vec::new(),
            history: HistoryTree::new(),
            changes: Vec::new(),
            epoch: 0,
            time_ms: genesis_time_ms,
            nonce: 0,
            generation: 0,
        }
    }

    /// The chain's identity (id and genesis hash).
    pub fn identity(&self) -> crate::types::block::ChainIdentity {
        crate::types::block::ChainIdentity { chain_id: self.chain_id.clone(), genesis_hash: self.genesis_hash }
    }

    /// The trust root a verifier would derive from this chain's genesis.
    pub fn trust_root(&self) -> TrustRoot {
        TrustRoot {
            chain_id: self.chain_id.clone(),
            genesis_hash: self.genesis_hash,
            validators: self.genesis_validators.clone(),
            members: self.members.clone(),
        }
    }

    /// A signed evidence tx from the integrator for `document`.
    pub fn evidence_tx(&mut self, document: &[u8]) -> Tx {
        self.nonce += 1;
        signed_tx(&self.integrator, &self.chain_id, &self.genesis_hash, document_evidence(document), self.nonce)
    }

    /// Replaces the validators with `n` fresh keys from the height after the next block
    /// on, and returns a governance tx standing for the change in that block (the chain
    /// builder does not execute txs: the change is made by the builder itself, and the
    /// next block's header commits it in `next_validators_hash`).
    pub fn validator_change_tx(&mut self, n: usize) -> Tx {
        self.generation += 1;
        let keys: Vec<_> = (0..n).map(|i| key(1, (self.generation << 8) | i as u16)).collect();
        let set = validator_set(&keys, self.generation);
        let change = Change::AddValidator(set.validators[0].clone());
        let body = TxBody::Propose(GovProposal { change, expires_at_height: self.height() + 100 });
        self.nonce += 1;
        let admin = admin_key(self.generation - 1, 0);
        let tx = signed_tx(&admin, &self.chain_id, &self.genesis_hash, body, self.nonce);
        self.next_validators = set;
        self.next_keys = keys;
        tx
    }

    /// Height of the next block.
    pub fn height(&self) -> u64 {
        self.blocks.len() as u64
    }

    /// Builds the next block over `txs`, 1 s after the previous one, and commits it with
    /// every current validator's precommit.
    pub fn commit_block(&mut self, txs: Vec<Tx>) -> (Block, Commit) {
        let signer_count = self.validator_keys.len();
        self.commit_block_signed_by(txs, signer_count)
    }

    /// Like [`TestChain::commit_block`], with only the first `signers` validators signing.
    pub fn commit_block_signed_by(&mut self, txs: Vec<Tx>, signers: usize) -> (Block, Commit) {
        self.time_ms += 1_000;
        let height = self.height();
        let prev_hash = self.blocks.last().map(|(b, _)| b.header.hash()).unwrap_or(self.genesis_hash);
        let tx_hashes: Vec<_> = txs.iter().map(Tx::hash).collect();
        let header = Header {
            chain_id: self.chain_id.clone(),
            height,
            time_ms: self.time_ms,
            prev_hash,
            tx_root: TxTree::new(&tx_hashes).root(),
            tx_count: txs.len() as u32,
            history_root: self.history.bound_root_at(height).expect("tree holds every earlier block"),
            validators_hash: self.validators.hash(),
            validators_epoch: self.epoch,
            next_validators_hash: self.next_validators.hash(),
            state_root: HashContext::State.hash(&height.to_le_bytes()),
            proposer: public(&self.validator_keys[height as usize % self.validator_keys.len()]),
        };
        let commit = self.sign_commit(&header, 0, signers);
        let block = Block { header, txs: BoundedVec::new(txs).expect("block fits") };
        self.history.append_block(&block.header.hash());
        self.blocks.push((block.clone(), commit.clone()));
        if block.header.next_validators_hash != block.header.validators_hash {
            self.epoch += 1;
            self.changes.push((height + 1, ValidatorSetChange::new(&block.header, &commit, &self.next_validators)));
        }
        self.validators = self.next_validators.clone();
        self.validator_keys = self.next_keys.clone();
        (block, commit)
    }

    /// Precommits of the first `signers` current validators for `header`.
    pub fn sign_commit(&self, header: &Header, round: u32, signers: usize) -> Commit {
        let mut commit =
            Commit { height: header.height, round, block_hash: header.hash(), signatures: BoundedVec::empty() };
        let message = commit.vote(&self.chain_id, &self.genesis_hash).signing_message();
        let signatures = self
            .validator_keys
            .iter()
            .take(signers)
            .map(|k| CommitSig { validator: public(k), signature: sign(k, &message) })
            .collect();
        commit.signatures = BoundedVec::new(signatures).expect("fits");
        commit
    }

    /// The bundle for tx `index` of block `height`, optionally with a checkpoint at a later
    /// committed height.
    pub fn bundle(&self, height: u64, index: u32, checkpoint: Option<u64>) -> ProofBundle {
        let (block, commit) = &self.blocks[height as usize];
        let tx_hashes: Vec<_> = block.txs.iter().map(Tx::hash).collect();
        let proof = TxTree::new(&tx_hashes).proof(index).expect("index in block");
        let last = checkpoint.unwrap_or(height);
        let changes = self.changes.iter().filter(|(from, _)| *from <= last).map(|(_, c)| c.clone()).collect();
        let mut bundle =
            ProofBundle::new(&block.txs[index as usize], proof, &block.header, commit, self.genesis_hash, changes);
        if let Some(at) = checkpoint {
            let (later, later_commit) = &self.blocks[at as usize];
            bundle.checkpoint = Some(Checkpoint {
                header: crate::hex::HexBytes::of(&later.header),
                commit: crate::hex::HexBytes::of(later_commit),
                history_proof: self.history.inclusion_proof(height, at).expect("checkpoint after block"),
            });
        }
        bundle
    }
}

impl TestChain {
    /// A saved checkpoint of committed block `at`, optionally with the consistency proof
    /// from the history of `since` blocks.
    pub fn saved_checkpoint(&self, at: u64, since: Option<u64>) -> crate::verify::SavedCheckpoint {
        let (block, commit) = &self.blocks[at as usize];
        let changes = self.changes.iter().filter(|(from, _)| *from <= at).map(|(_, c)| c.clone()).collect();
        let mut saved = crate::verify::SavedCheckpoint::new(self.genesis_hash, &block.header, commit, changes);
        if let Some(from_height) = since {
            let proof = self.history.history_consistency(from_height, at).expect("sizes within the tree");
            saved.consistency = Some(crate::verify::ConsistencyFrom {
                from_height,
                from_mth: proof.mth1,
                to_mth: proof.mth2,
                proof: proof.proof,
            });
        }
        saved
    }
}

/// The ledger state in memory, for state-transition tests: latest values, the state
/// tree's nodes, and the tx hashes on chain.
#[derive(Default)]
pub struct MemoryState {
    values: std::collections::HashMap<crate::state::StateKey, Vec<u8>>,
    nodes: crate::merkle::smt::MemoryNodes,
    txs: std::collections::HashSet<Hash>,
}

impl MemoryState {
    /// The state a genesis with these parts starts from (version 0).
    pub fn genesis(
        genesis_hash: &Hash,
        params: &crate::types::block::Params,
        validators: &ValidatorSet,
        members: &[Member],
    ) -> Self {
        let mut state = MemoryState::default();
        let changes = crate::state::genesis_changes(&state.nodes, genesis_hash, params, validators, members)
            .expect("memory reads");
        state.commit(&changes, &[]);
        state
    }

    /// Records a block's changes and tx hashes.
    pub fn commit(&mut self, changes: &crate::state::StateChanges, txs: &[Tx]) {
        for (key, value) in &changes.writes {
            match value {
                Some(v) => self.values.insert(key.clone(), v.clone()),
                None => self.values.remove(key),
            };
        }
        self.nodes.apply(&changes.tree);
        self.txs.extend(txs.iter().map(Tx::hash));
    }
}

impl crate::merkle::smt::NodeSource for MemoryState {
    type Error = std::convert::Infallible;
    fn node(&self, key: &crate::merkle::smt::NodeKey) -> Result<Option<crate::merkle::smt::Node>, Self::Error> {
        self.nodes.node(key)
    }
    fn root(&self, version: u64) -> Result<Option<crate::merkle::smt::Child>, Self::Error> {
        self.nodes.root(version)
    }
}

impl crate::state::StateView for MemoryState {
    fn value(&self, key: &crate::state::StateKey) -> Result<Option<Vec<u8>>, Self::Error> {
        Ok(self.values.get(key).cloned())
    }
    fn tx_exists(&self, tx_hash: &Hash) -> Result<bool, Self::Error> {
        Ok(self.txs.contains(tx_hash))
    }
}

/// A chain spec of `n` validators (keys `key(1, i)`), the demo integrator (`key(3, 0)`,
/// documents and signing events) and a CA `ca-one` (`key(4, 0)`), with the validators'
/// keys.
pub fn chain_spec(n: usize) -> (crate::store::ChainSpec, Vec<SigningKey>) {
    let keys: Vec<_> = (0..n).map(|i| key(1, i as u16)).collect();
    let validators = validator_set(&keys, 0);
    let members = vec![
        Member {
            name: name("demo-integrator"),
            key: public(&key(3, 0)),
            role: MemberRole::Integrator {
                kinds: BoundedVec::new(vec![EvidenceKind::Document, EvidenceKind::SigningEvent]).expect("two kinds"),
            },
        },
        Member {
            name: name("ca-one"),
            key: public(&key(4, 0)),
            role: MemberRole::CertificateAuthority { ca: crate::types::validator::CaId::new("ca-one").expect("id") },
        },
    ];
    let chain_id = ChainId::new("store-test").expect("valid id");
    let genesis_hash = HashContext::Genesis.hash(chain_id.as_str().as_bytes());
    (
        crate::store::ChainSpec {
            chain_id,
            genesis_hash,
            params: crate::types::block::Params::default(),
            validators,
            members,
        },
        keys,
    )
}

/// The trust root of a chain made from `spec` (what a verifier reads from its genesis).
pub fn trust_root(spec: &crate::store::ChainSpec) -> crate::verify::TrustRoot {
    crate::verify::TrustRoot {
        chain_id: spec.chain_id.clone(),
        genesis_hash: spec.genesis_hash,
        validators: spec.validators.clone(),
        members: spec.members.clone(),
    }
}

/// Builds the next block over `txs` on top of `store`, signs its commit with every key
/// of `keys` that is a current validator, and commits it. `verified` txs skip the
/// signature check, as those the mempool verified would.
pub fn produce_block<B: crate::store::Backend>(
    store: &mut crate::store::StoreWriter<B>,
    keys: &[SigningKey],
    txs: Vec<Tx>,
    time_ms: u64,
    verified: bool,
) -> Result<(Block, Commit), crate::store::StoreError> {
    let ctx = crate::state::BlockContext { chain_id: store.chain_id().clone(), height: store.height(), time_ms };
    let changes = crate::state::execute_with(&**store, &ctx, &txs, &|_| verified)
        .map_err(|e| crate::store::StoreError::Refused(e.to_string()))?;
    let (block, commit) = seal_block(store, keys, txs, time_ms, &changes)?;
    store.commit_block(&block, &commit, &changes)?;
    Ok((block, commit))
}

/// The header and commit of the next block over executed `txs`: what a proposer and the
/// validators' precommits produce, for tests and benchmarks.
pub fn seal_block<B: crate::store::Backend>(
    store: &crate::store::ChainStore<B>,
    keys: &[SigningKey],
    txs: Vec<Tx>,
    time_ms: u64,
    changes: &crate::state::StateChanges,
) -> Result<(Block, Commit), crate::store::StoreError> {
    use crate::store::StoreError;
    let height = store.height();
    let validators = store.current_validators()?;
    let tx_hashes: Vec<_> = txs.iter().map(Tx::hash).collect();
    let header = Header {
        chain_id: store.chain_id().clone(),
        height,
        time_ms,
        prev_hash: if height == 0 { store.genesis_hash() } else { store.header(height - 1)?.hash() },
        tx_root: crate::merkle::tx_tree::tx_root(&tx_hashes),
        tx_count: txs.len() as u32,
        history_root: store.history_root(height)?,
        validators_hash: validators.hash(),
        validators_epoch: store.current_epoch()?,
        next_validators_hash: changes.next_validators.hash(),
        state_root: changes.state_root,
        proposer: validators.validators[height as usize % validators.validators.len()].consensus_key,
    };
    let mut commit = Commit { height, round: 0, block_hash: header.hash(), signatures: BoundedVec::empty() };
    let message = commit.vote(store.chain_id(), &store.genesis_hash()).signing_message();
    let signatures = keys
        .iter()
        .filter(|k| validators.find(&public(k)).is_some())
        .map(|k| CommitSig { validator: public(k), signature: sign(k, &message) })
        .collect();
    commit.signatures = BoundedVec::new(signatures).expect("at most one signature per validator");
    let block = Block { header, txs: BoundedVec::new(txs).map_err(|e| StoreError::Refused(e.to_string()))? };
    Ok((block, commit))
}

// ---- a store fixture shared by the tests of every backend ----

use crate::store::{Backend, ChainSpec, ChainStore, StoreError, StoreWriter, TxLocation};
use crate::verify::verify;

/// The time of block 0 in [`StoreFixture`] chains.
pub const STORE_T0: u64 = 1_767_225_600_000;

/// A chain store of [`chain_spec`]`(4)` with the demo integrator's documents, for tests of
/// a store backend.
pub struct StoreFixture<B: Backend> {
    /// The chain.
    pub spec: ChainSpec,
    /// The validators' keys.
    pub keys: Vec<SigningKey>,
    /// The store.
    pub store: StoreWriter<B>,
    /// The integrator's last nonce.
    pub nonce: u64,
}

impl<B: Backend> StoreFixture<B> {
    /// A fresh store on `backend`.
    pub fn new(backend: B) -> Self {
        let (spec, keys) = chain_spec(4);
        let store = ChainStore::open(backend, &spec, 100).expect("open");
        StoreFixture { spec, keys, store, nonce: 0 }
    }

    /// The integrator's next evidence tx anchoring `document`.
    pub fn doc(&mut self, document: &[u8]) -> Tx {
        self.nonce += 1;
        signed_tx(&key(3, 0), &self.spec.chain_id, &self.spec.genesis_hash, document_evidence(document), self.nonce)
    }

    /// Commits the next block of `txs`.
    pub fn block(&mut self, txs: Vec<Tx>) -> crate::Block {
        let time = STORE_T0 + 1_000 * (self.store.height() + 1);
        produce_block(&mut self.store, &self.keys, txs, time, false).expect("block commits").0
    }

    /// Blocks 0..3: 20, 1, 0 documents; "contract" anchored in blocks 0 and 1.
    pub fn populate(&mut self) {
        let txs: Vec<_> =
            (0..20u32).map(|i| if i == 7 { self.doc(b"contract") } else { self.doc(&i.to_le_bytes()) }).collect();
        self.block(txs);
        let again = self.doc(b"contract");
        self.block(vec![again]);
        self.block(Vec::new());
    }
}

/// The digest of the document "contract" that [`StoreFixture::populate`] anchors twice.
pub fn contract_digest() -> Digest {
    Digest::compute(DigestAlg::Sha256, b"contract")
}

/// What every store backend must serve: blocks, commits, anchors by digest, txs by hash,
/// proof bundles that verify (with and without checkpoints), refusals of bad requests,
/// history consistency and a full integrity check.
pub fn check_queries_and_proofs<B: Backend>(backend: B) {
    let mut f = StoreFixture::new(backend);
    f.populate();
    assert_eq!(f.store.height(), 3);
    let block = f.store.block(0).expect("block 0");
    assert_eq!(block.txs.len(), 20);
    assert_eq!(f.store.commit(1).expect("commit").height, 1);
    let anchors = f.store.anchors(&contract_digest(), None).expect("anchors");
    assert_eq!(anchors, vec![TxLocation { height: 0, index: 7 }, TxLocation { height: 1, index: 0 }]);
    assert_eq!(f.store.anchors(&contract_digest(), Some(anchors[0])).expect("page"), vec![anchors[1]]);
    for index in 0..20u32 {
        let tx_hash = block.txs[index as usize].hash();
        let (tx, location) = f.store.tx(&tx_hash).expect("tx");
        assert_eq!(tx.hash(), tx_hash);
        assert_eq!(location, TxLocation { height: 0, index });
        for checkpoint in [None, Some(1), Some(2)] {
            let bundle = f.store.proof_bundle(&tx_hash, checkpoint).expect("bundle");
            let report = verify(&bundle, &trust_root(&f.spec), None)
                .unwrap_or_else(|e| panic!("tx {index} checkpoint {checkpoint:?}: {e}"));
            assert_eq!(report.height, 0);
        }
    }
    assert!(matches!(f.store.proof_bundle(&block.txs[0].hash(), Some(0)), Err(StoreError::Refused(_))));
    assert!(matches!(f.store.proof_bundle(&block.txs[0].hash(), Some(3)), Err(StoreError::NotFound(_))));
    assert!(matches!(f.store.tx(&crate::HashContext::Tx.hash(b"none")), Err(StoreError::NotFound(_))));
    let consistency = f.store.history_consistency(1, 3).expect("consistency");
    let (root1, root3) = (f.store.header(1).expect("h1").history_root, f.store.history_root(3).expect("root 3"));
    assert!(consistency.verify(1, 3, &root1, &root3).is_ok());
    assert_eq!(f.store.check_integrity(None).expect("full check").blocks, 3);
}

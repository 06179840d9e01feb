//! The chain store on the memory backend: blocks commit atomically and are served
//! checked; proofs assembled from the store verify offline; blocks that do not extend the
//! chain are refused; a failed write stops the store; damaged values are reported, never
//! served. The RocksDB backend's own tests (raw damage, backups) are the node's.

use chancery_ledger::block::Commit;
use chancery_ledger::codec::BoundedBytes;
use chancery_ledger::store::memory::MemoryBackend;
use chancery_ledger::store::{ChainStore, Column, StoreError, TxLocation};
use chancery_ledger::testkit::{chain_spec, key, produce_block, signed_tx, trust_root};
use chancery_ledger::tx::{CertEvent, CertEventKind, TxBody};
use chancery_ledger::validator::CaId;
use chancery_ledger::verify::verify;
use chancery_ledger::{Digest, DigestAlg};

use chancery_ledger::testkit::{check_queries_and_proofs, StoreFixture as Fixture, STORE_T0 as T0};

#[test]
fn queries_and_proofs_in_memory() {
    check_queries_and_proofs(MemoryBackend::new());
}

#[test]
fn a_large_block_serves_proofs_for_every_position() {
    let mut f = Fixture::new(MemoryBackend::new());
    let txs: Vec<_> = (0..1_000u32).map(|i| f.doc(&i.to_le_bytes())).collect();
    let block = f.block(txs);
    for index in [0usize, 15, 16, 17, 500, 991, 992, 999] {
        let bundle = f.store.proof_bundle(&block.txs[index].hash(), None).expect("bundle");
        assert!(verify(&bundle, &trust_root(&f.spec), None).is_ok(), "index {index}");
    }
}

#[test]
fn certificate_events_are_indexed() {
    let mut f = Fixture::new(MemoryBackend::new());
    let ca = CaId::new("ca-one").expect("id");
    let serial = BoundedBytes::new(vec![9, 9]).expect("serial");
    let event = |kind| {
        TxBody::CertEvent(CertEvent {
            ca: ca.clone(),
            serial: serial.clone(),
            cert_digest: Digest::compute(DigestAlg::Sha256, b"cert"),
            subject_key: Digest::compute(DigestAlg::Sha256, b"key"),
            event: kind,
        })
    };
    let issue = signed_tx(
        &key(4, 0),
        &f.spec.chain_id,
        &f.spec.genesis_hash,
        event(CertEventKind::Issued { not_before_ms: T0, not_after_ms: T0 * 2 }),
        1,
    );
    f.block(vec![issue]);
    let renew = signed_tx(
        &key(4, 0),
        &f.spec.chain_id,
        &f.spec.genesis_hash,
        event(CertEventKind::Renewed { not_after_ms: T0 * 3 }),
        2,
    );
    f.block(vec![renew]);
    let record = f.store.cert_record(&ca, &serial).expect("read").expect("record");
    assert_eq!(record.events.len(), 2);
    assert_eq!(record.validity(), Some((T0, T0 * 3)));
    assert_eq!(
        f.store.cert_locations(&ca, &serial).expect("read"),
        vec![TxLocation { height: 0, index: 0 }, TxLocation { height: 1, index: 0 }]
    );
}

#[test]
fn blocks_that_do_not_extend_the_chain_are_refused() {
    let mut f = Fixture::new(MemoryBackend::new());
    f.populate();
    let txs = vec![f.doc(b"x")];
    // A block built for height 3, committed twice.
    let (block, commit) = produce_block(&mut f.store, &f.keys, txs, T0 + 10_000, false).expect("block 3");
    let err = f.store.execute_and_commit(&block, &commit).expect_err("already committed");
    assert!(err.to_string().contains("block is at height 3, the next height is 4"), "{err}");
    // A block for height 4 whose commit has only half the power.
    let tx = f.doc(b"y");
    let half = f.keys[..2].to_vec();
    let err = produce_block(&mut f.store, &half, vec![tx], T0 + 11_000, false).expect_err("half the power");
    assert!(err.to_string().contains("commit does not prove block 4"), "{err}");
    // A block whose content breaks a rule (a replayed tx).
    let replay = block.txs[0].clone();
    let err = produce_block(&mut f.store, &f.keys, vec![replay], T0 + 12_000, false).expect_err("replay");
    assert!(err.to_string().contains("already on chain"), "{err}");
    assert_eq!(f.store.height(), 4);
    let other: Commit = f.store.commit(3).expect("commit 3");
    assert_eq!(other.block_hash, block.header.hash());
}

#[test]
fn a_failed_write_stops_the_store_and_loses_nothing_committed() {
    let backend = MemoryBackend::new();
    let mut f = Fixture::new(backend.clone());
    f.populate();
    backend.fail_writes_after(0);
    let tx = f.doc(b"lost");
    let err = produce_block(&mut f.store, &f.keys, vec![tx], T0 + 9_000, false).expect_err("write fails");
    assert!(err.to_string().contains("injected write failure"), "{err}");
    assert!(matches!(f.store.header(0), Err(StoreError::Poisoned)), "every later call fails");
    assert!(matches!(f.store.check_integrity(None), Err(StoreError::Poisoned)));
    // The restarted node reopens the same storage: the three committed blocks, whole.
    backend.fail_writes_after(u64::MAX);
    let reopened = ChainStore::open(backend, &f.spec, u64::MAX).expect("reopen");
    assert_eq!(reopened.height(), 3);
    assert_eq!(reopened.check_integrity(None).expect("full check").blocks, 3);
}

#[test]
fn a_store_of_another_chain_refuses_to_open() {
    let backend = MemoryBackend::new();
    let f = Fixture::new(backend.clone());
    drop(f);
    let (mut spec, _) = chain_spec(4);
    spec.genesis_hash = chancery_ledger::HashContext::Genesis.hash(b"another");
    let err = ChainStore::open(backend, &spec, 10).err().expect("wrong genesis");
    assert!(err.to_string().contains("use the data directory of this chain"), "{err}");
}

/// Flips one byte of the value under `key` in `column`, through the backend, below the
/// chain store.
fn flip(backend: &MemoryBackend, column: Column, key: &[u8], at: usize) {
    assert!(
        backend.tamper(column, key, |v| {
            let i = at % v.len();
            v[i] ^= 0x10;
        }),
        "value to damage exists"
    );
}

#[test]
fn damaged_values_are_reported_on_read_and_by_the_integrity_check() {
    type KeyOf = fn(&ChainStore<MemoryBackend>) -> Vec<u8>;
    let cases: [(&str, Column, KeyOf, usize); 4] = [
        ("header", Column::Headers, |_| 1u64.to_be_bytes().to_vec(), 40),
        (
            "tx in a block",
            Column::Blocks,
            |_| [1u64.to_be_bytes().as_slice(), 0u32.to_be_bytes().as_slice()].concat(),
            60,
        ),
        ("tx index", Column::Txs, |s| s.block(1).expect("block").txs[0].hash().0.to_vec(), 11),
        ("commit", Column::Commits, |_| 1u64.to_be_bytes().to_vec(), 30),
    ];
    for (what, column, key, at) in cases {
        let backend = MemoryBackend::new();
        let mut f = Fixture::new(backend.clone());
        f.populate();
        let tx_hash = f.store.block(1).expect("block").txs[0].hash();
        flip(&backend, column, &key(&f.store), at);
        let read = match column {
            Column::Headers => f.store.header(1).map(|_| ()),
            Column::Blocks => f.store.block(1).map(|_| ()),
            Column::Txs => f.store.tx(&tx_hash).map(|_| ()),
            _ => f.store.commit(1).map(|_| ()),
        };
        assert!(
            matches!(read, Err(StoreError::Corrupt { height: 1, .. }) | Err(StoreError::NotFound(_))),
            "{what}: read gave {read:?}"
        );
        let check = f.store.check_integrity(None).expect_err("integrity check");
        assert!(
            matches!(check, StoreError::Corrupt { height: 1, .. } | StoreError::NotFound(_)),
            "{what}: check gave {check}"
        );
        let reopen = ChainStore::open(backend, &f.spec, 10).err().expect("refuses to open");
        assert!(
            reopen.to_string().contains("corrupt at height 1") || reopen.to_string().contains("not found"),
            "{what}: {reopen}"
        );
    }
}

/// Governance through a real store: a validator added by vote signs from the next height,
/// a bundle from after the change carries it with its committing header and commit, and
/// the proposal's record is proven from the state tree (and its absence for an unknown id).
#[test]
fn governance_changes_are_proven_from_the_store() {
    use chancery_ledger::gov::{Change, GovProposal, GovVote, ProposalStatus};
    use chancery_ledger::testkit::{admin_key, public};
    use chancery_ledger::verify::verify_proposal;
    let mut f = Fixture::new(MemoryBackend::new());
    let newcomer = chancery_ledger::Validator {
        name: chancery_ledger::validator::Name::new("Second Court").expect("name"),
        role: chancery_ledger::Role::Court,
        consensus_key: public(&key(1, 60)),
        p2p_key: public(&key(2, 60)),
        admin_key: public(&key(5, 60)),
        power: 10,
    };
    let (chain, genesis) = (f.spec.chain_id.clone(), f.spec.genesis_hash);
    let gov = |by: usize, body: TxBody, nonce: u64| signed_tx(&admin_key(0, by), &chain, &genesis, body, nonce);
    let proposal =
        gov(0, TxBody::Propose(GovProposal { change: Change::AddValidator(newcomer), expires_at_height: 50 }), 1);
    let id = proposal.hash();
    let vote = |by: usize, nonce: u64| gov(by, TxBody::Vote(GovVote { proposal: id, approve: true }), nonce);
    f.block(vec![proposal, vote(0, 2), vote(1, 1)]);
    let executed = f.block(vec![vote(2, 1)]);
    assert_ne!(executed.header.validators_hash, executed.header.next_validators_hash, "the block commits the change");
    assert_eq!(f.store.current_validators().expect("set").validators.len(), 5);
    assert_eq!(f.store.current_epoch().expect("epoch"), 1);
    let doc = f.doc(b"after the change");
    let after = f.block(vec![doc]);
    assert_eq!(after.header.validators_epoch, 1);
    // The set that signed each block: genesis up to the change, the new set after it.
    assert_eq!(f.store.validators_at(1).expect("set").hash(), f.spec.validators.hash());
    assert_eq!(f.store.validators_at(2).expect("set").validators.len(), 5);
    assert_eq!(f.store.validators_at(2).expect("set").hash(), after.header.validators_hash);
    assert!(f.store.validators_at(3).is_err(), "no block 3 yet");

    let trust = trust_root(&f.spec);
    let bundle = f.store.proof_bundle(&after.txs[0].hash(), None).expect("bundle");
    assert_eq!(bundle.validator_changes.len(), 1);
    let report = verify(&bundle, &trust, None).expect("verifies across the change");
    assert_eq!(report.attestation.total_power, 50);

    let proof = f.store.proposal_proof(&id).expect("proof");
    let verdict = verify_proposal(&proof, &trust).expect("verifies");
    assert_eq!(verdict.status, Some(ProposalStatus::Executed { height: 1 }));
    assert_eq!(verdict.record.expect("record").votes.len(), 3);
    let absent = f.store.proposal_proof(&chancery_ledger::Hash([3; 32])).expect("absence proof");
    assert_eq!(verify_proposal(&absent, &trust).expect("verifies").record, None);
    // Another record under the same proof, another id, another genesis: refused.
    let mut swapped = proof.clone();
    swapped.id = chancery_ledger::Hash([3; 32]);
    assert!(verify_proposal(&swapped, &trust).is_err());
    let mut tampered = proof.clone();
    if let chancery_ledger::smt::Terminal::Leaf { value, .. } = &mut tampered.state_proof.terminal {
        let mut bytes = value.to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        *value = chancery_ledger::codec::BoundedVec::new(bytes).expect("same size");
    }
    assert!(verify_proposal(&tampered, &trust).is_err());
    let mut foreign = trust.clone();
    foreign.genesis_hash = chancery_ledger::Hash([1; 32]);
    assert!(verify_proposal(&proof, &foreign).is_err());
    let json = proof.to_json();
    assert_eq!(chancery_ledger::verify::ProposalProof::from_json(&json).expect("parses"), proof);
    assert!(chancery_ledger::verify::ProposalProof::from_json(&json[..json.len() / 2]).is_err());
}

#[test]
fn the_format_version_is_kept_and_checked_on_open() {
    let version = |backend: &MemoryBackend| {
        use chancery_ledger::store::Backend;
        backend
            .get(Column::Meta, b"format_version")
            .expect("read")
            .map(|v| u32::from_be_bytes(v.try_into().expect("4")))
    };
    let set = |backend: &MemoryBackend, value: Option<u32>| {
        use chancery_ledger::store::{Backend, Batch};
        let mut batch = Batch::default();
        match value {
            Some(v) => batch.put(Column::Meta, b"format_version".to_vec(), v.to_be_bytes()),
            None => batch.delete(Column::Meta, b"format_version".to_vec()),
        }
        backend.write(batch).expect("write");
    };
    let backend = MemoryBackend::new();
    let mut f = Fixture::new(backend.clone());
    f.populate();
    let spec = f.spec.clone();
    drop(f);
    assert_eq!(version(&backend), Some(chancery_ledger::store::STORE_FORMAT_VERSION));
    // A store from before versions were kept: stamped and opened.
    set(&backend, None);
    assert_eq!(ChainStore::open(backend.clone(), &spec, 10).expect("opens").height(), 3);
    assert_eq!(version(&backend), Some(1));
    // Another version: refused, saying what to do.
    for (stored, advice) in [(2, "newer Chancery"), (0, "no migration")] {
        set(&backend, Some(stored));
        let err = ChainStore::open(backend.clone(), &spec, 10).err().expect("refused");
        assert!(matches!(err, StoreError::Format { stored: s, .. } if s == stored), "{err}");
        assert!(err.to_string().contains(advice), "{err}");
    }
}

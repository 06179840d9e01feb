//! Certificate status at a time and its offline proof: the status at each boundary of the
//! lifecycle; a status proof from the store verifies against the genesis alone and fails
//! when an event is dropped, added or reordered, or the record is swapped; a signing event
//! whose certificate was revoked is reported so; revoke and sign in one block.

use chancery_ledger::codec::{BoundedBytes, BoundedVec};
use chancery_ledger::hash::Hash;
use chancery_ledger::state::{CertEntry, CertRecord};
use chancery_ledger::store::memory::MemoryBackend;
use chancery_ledger::store::{ChainSpec, ChainStore, StoreWriter};
use chancery_ledger::testkit::{chain_spec, document_evidence, key, produce_block, signed_tx, trust_root};
use chancery_ledger::tx::{
    CertEvent, CertEventKind, CertRef, CertSerial, Evidence, EvidenceKind, RevocationReason, Tx, TxBody,
};
use chancery_ledger::validator::CaId;
use chancery_ledger::verify::{verify, VerifyError};
use chancery_ledger::verify::{verify_cert_status, CertStatus, CertStatusProof};
use chancery_ledger::{Digest, DigestAlg};
use ed25519_dalek::SigningKey;

const T0: u64 = 1_767_225_600_000;
const DAY: u64 = 86_400_000;

fn issued(not_before_ms: u64, not_after_ms: u64) -> CertEventKind {
    CertEventKind::Issued { not_before_ms, not_after_ms }
}

fn revoked(effective_ms: u64) -> CertEventKind {
    CertEventKind::Revoked { reason: RevocationReason::KeyCompromise, effective_ms }
}

/// A record of `events`, each recorded at the given block time.
fn record(events: &[(u64, CertEventKind)]) -> CertRecord {
    let entries = events
        .iter()
        .enumerate()
        .map(|(i, (time_ms, event))| CertEntry {
            height: i as u64,
            time_ms: *time_ms,
            tx_hash: Hash([i as u8; 32]),
            cert_digest: Digest::compute(DigestAlg::Sha256, b"cert"),
            subject_key: Digest::compute(DigestAlg::Sha256, b"key"),
            event: event.clone(),
        })
        .collect();
    CertRecord { events: BoundedVec::new(entries).expect("few events") }
}

#[test]
fn status_at_each_boundary() {
    let (nb, na) = (T0 + DAY, T0 + 10 * DAY);
    let valid = record(&[(T0, issued(nb, na))]);
    assert_eq!(CertRecord::default().status_at(nb), CertStatus::Unknown);
    assert_eq!(valid.status_at(nb - 1), CertStatus::NotYetValid, "just before not_before");
    assert_eq!(valid.status_at(nb), CertStatus::Valid, "at not_before");
    assert_eq!(valid.status_at(na), CertStatus::Valid, "at not_after (included)");
    assert_eq!(valid.status_at(na + 1), CertStatus::Expired, "just after not_after");

    let effective = nb + 3 * DAY;
    let revoked_record = record(&[(T0, issued(nb, na)), (effective + DAY, revoked(effective))]);
    assert_eq!(revoked_record.status_at(effective - 1), CertStatus::Valid, "just before the revocation");
    let revoked_status = CertStatus::Revoked { reason: RevocationReason::KeyCompromise, effective_ms: effective };
    assert_eq!(revoked_record.status_at(effective), revoked_status, "at the effective time");
    assert_eq!(revoked_record.status_at(effective + 1), revoked_status, "just after it");
    assert_eq!(revoked_record.status_at(na + DAY), revoked_status, "revoked outranks expired");

    // A renewal before expiry: no gap. One after expiry: expired until its block.
    let renewed = record(&[(T0, issued(nb, na)), (na - DAY, CertEventKind::Renewed { not_after_ms: na + 10 * DAY })]);
    assert_eq!(renewed.status_at(na + 1), CertStatus::Valid);
    assert_eq!(renewed.status_at(na + 10 * DAY + 1), CertStatus::Expired);
    let late = na + 2 * DAY;
    let lapsed = record(&[(T0, issued(nb, na)), (late, CertEventKind::Renewed { not_after_ms: na + 10 * DAY })]);
    assert_eq!(lapsed.status_at(na), CertStatus::Valid);
    assert_eq!(lapsed.status_at(na + 1), CertStatus::Expired, "lapsed before the renewal");
    assert_eq!(lapsed.status_at(late - 1), CertStatus::Expired);
    assert_eq!(lapsed.status_at(late), CertStatus::Valid, "valid again from the renewal's block");
}

struct Chain {
    spec: ChainSpec,
    keys: Vec<SigningKey>,
    store: StoreWriter<MemoryBackend>,
    nonces: u64,
    ca: CaId,
    serial: CertSerial,
}

impl Chain {
    fn new() -> Self {
        let (spec, keys) = chain_spec(4);
        let store = ChainStore::open(MemoryBackend::new(), &spec, 100).expect("open");
        let ca = CaId::new("ca-one").expect("id");
        let serial = BoundedBytes::new(vec![0x0c, 0x01]).expect("serial");
        Chain { spec, keys, store, nonces: 0, ca, serial }
    }

    fn time(&self) -> u64 {
        T0 + DAY * self.store.height()
    }

    fn block(&mut self, txs: Vec<Tx>) -> u64 {
        let time = self.time();
        produce_block(&mut self.store, &self.keys, txs, time, false).expect("block commits");
        time
    }

    fn tx(&mut self, signer: &SigningKey, body: TxBody) -> Tx {
        self.nonces += 1;
        signed_tx(signer, &self.spec.chain_id, &self.spec.genesis_hash, body, self.nonces)
    }

    fn cert(&mut self, event: CertEventKind) -> Tx {
        let body = TxBody::CertEvent(CertEvent {
            ca: self.ca.clone(),
            serial: self.serial.clone(),
            cert_digest: Digest::compute(DigestAlg::Sha256, b"certificate"),
            subject_key: Digest::compute(DigestAlg::Sha256, b"subject key"),
            event,
        });
        self.tx(&key(4, 0), body)
    }

    fn signing_event(&mut self, document: &[u8]) -> Tx {
        let body = TxBody::Evidence(Evidence {
            kind: EvidenceKind::SigningEvent,
            digest: Digest::compute(DigestAlg::Sha256, document),
            refs: BoundedVec::empty(),
            meta: None,
            claimed_time_ms: None,
            cert: Some(CertRef { ca: self.ca.clone(), serial: self.serial.clone() }),
            signature: None,
        });
        self.tx(&key(3, 0), body)
    }

    fn proof(&self, at_ms: u64) -> CertStatusProof {
        self.store.cert_status_proof(&self.ca, &self.serial, at_ms).expect("proof")
    }

    /// The evidence bundle of `tx` with its certificate's status at its block time.
    fn evidence_bundle(&self, tx: &Tx) -> chancery_ledger::ProofBundle {
        let mut bundle = self.store.proof_bundle(&tx.hash(), None).expect("bundle");
        let (_, location) = self.store.tx(&tx.hash()).expect("tx");
        let time = self.store.header(location.height).expect("header").time_ms;
        bundle.cert_status = Some(self.proof(time));
        bundle
    }
}

/// Issued in block 1, a document in block 2, renewed in block 3, revoked in block 4.
fn lifecycle() -> (Chain, u64) {
    let mut chain = Chain::new();
    chain.block(Vec::new());
    let nb = chain.time();
    let issue = chain.cert(issued(nb, nb + 5 * DAY));
    chain.block(vec![issue]);
    let doc = chain.tx(&key(3, 0), document_evidence(b"unrelated"));
    chain.block(vec![doc]);
    let renew = chain.cert(CertEventKind::Renewed { not_after_ms: nb + 50 * DAY });
    chain.block(vec![renew]);
    let effective = chain.time() - DAY / 2;
    let revoke = chain.cert(revoked(effective));
    chain.block(vec![revoke]);
    chain.block(Vec::new());
    (chain, effective)
}

#[test]
fn a_status_proof_verifies_offline_at_each_time() {
    let (chain, effective) = lifecycle();
    let trust = trust_root(&chain.spec);
    let record = chain.store.cert_record(&chain.ca, &chain.serial).expect("read").expect("record");
    assert_eq!(record.events.len(), 3);
    for at in [T0, T0 + DAY - 1, T0 + DAY, effective - 1, effective, effective + 1, T0 + 100 * DAY] {
        let proof = chain.proof(at);
        let json = proof.to_json();
        let verdict =
            verify_cert_status(&CertStatusProof::from_json(&json).expect("parses"), &trust).expect("verifies");
        assert_eq!(verdict.status, record.status_at(at), "at {at}");
        assert_eq!(verdict.events.len(), 3);
        assert_eq!(verdict.as_of_height, chain.store.height() - 1);
    }
    let verdict = verify_cert_status(&chain.proof(effective), &trust).expect("verifies");
    assert!(matches!(verdict.status, CertStatus::Revoked { effective_ms, .. } if effective_ms == effective));
    assert_eq!(verify_cert_status(&chain.proof(effective - 1), &trust).expect("verifies").status, CertStatus::Valid);

    // A certificate never anchored: Unknown, its absence proven.
    let mut other = chain.store.cert_status_proof(&chain.ca, &BoundedBytes::new(vec![7]).expect("serial"), T0);
    let other = other.as_mut().expect("proof");
    assert!(other.events.is_empty());
    assert_eq!(verify_cert_status(other, &trust).expect("verifies").status, CertStatus::Unknown);
}

#[test]
fn a_status_proof_fails_when_events_are_dropped_added_reordered_or_swapped() {
    let (chain, effective) = lifecycle();
    let trust = trust_root(&chain.spec);
    let good = chain.proof(effective);
    let fails = |proof: &CertStatusProof, needle: &str| match verify_cert_status(proof, &trust) {
        Err(e) => assert!(e.to_string().contains(needle), "{e} should mention {needle:?}"),
        Ok(v) => panic!("verified a tampered proof: {:?}", v.status),
    };

    // The revocation left out: the committed record still lists it.
    let mut dropped = good.clone();
    dropped.events.pop();
    fails(&dropped, "holds 3 events, the proof shows 2");
    // Reordered.
    let mut reordered = good.clone();
    reordered.events.swap(1, 2);
    fails(&reordered, "event #1");
    // An event shown twice in place of another.
    let mut doubled = good.clone();
    doubled.events[2] = doubled.events[1].clone();
    fails(&doubled, "event #2");
    // The committed record swapped for one without the revocation (and its event
    // dropped to match): the state proof no longer leads to the header's root.
    let mut swapped = good.clone();
    let chancery_ledger::smt::Terminal::Leaf { value, .. } = &mut swapped.state_proof.terminal else {
        panic!("the certificate is present")
    };
    let mut record = chain.store.cert_record(&chain.ca, &chain.serial).expect("read").expect("record");
    let mut events = record.events.into_vec();
    events.pop();
    record.events = BoundedVec::new(events).expect("fewer");
    *value = BoundedVec::new(chancery_ledger::encode(&record)).expect("small");
    swapped.events.pop();
    fails(&swapped, "not the one committed");
    // A serial the proof is not for.
    let mut other_serial = good.clone();
    other_serial.serial.0 = vec![0x0c, 0x02];
    assert!(verify_cert_status(&other_serial, &trust).is_err());
    // Another chain's genesis, a header from elsewhere, a broken commit.
    let mut wrong_genesis = good.clone();
    wrong_genesis.genesis_hash = Hash([1; 32]);
    assert!(matches!(verify_cert_status(&wrong_genesis, &trust), Err(VerifyError::WrongGenesis { .. })));
    let mut no_commit = good.clone();
    no_commit.commit.0.truncate(10);
    assert!(matches!(verify_cert_status(&no_commit, &trust), Err(VerifyError::Decode { what: "commit", .. })));
    // Hostile JSON.
    let json = good.to_json();
    assert!(CertStatusProof::from_json(&json[..json.len() / 2]).is_err());
    assert!(CertStatusProof::from_json(&" ".repeat(chancery_ledger::limits::BUNDLE_JSON_BYTES_MAX + 1)).is_err());
    assert!(CertStatusProof::from_json(&json.replace("\"at_ms\"", "\"extra\": 1, \"at_ms\"")).is_err());
}

#[test]
fn a_signing_event_with_a_revoked_certificate_is_reported_as_such() {
    let mut chain = Chain::new();
    let nb = chain.time();
    let issue = chain.cert(issued(nb, nb + 100 * DAY));
    chain.block(vec![issue]);
    let valid_signing = chain.signing_event(b"signed while valid");
    chain.block(vec![valid_signing.clone()]);
    let revoke = chain.cert(revoked(chain.time() - 1));
    chain.block(vec![revoke]);
    let late_signing = chain.signing_event(b"signed after revocation");
    chain.block(vec![late_signing.clone()]);
    let trust = trust_root(&chain.spec);

    let report = verify(&chain.evidence_bundle(&late_signing), &trust, None).expect("anchored: verifies");
    let certificate = report.certificate.expect("certificate verdict");
    assert!(matches!(certificate.status, CertStatus::Revoked { reason: RevocationReason::KeyCompromise, .. }));
    assert_eq!(certificate.at_ms, report.block_time_ms);

    // The earlier signature: valid at its time, although revoked since.
    let report = verify(&chain.evidence_bundle(&valid_signing), &trust, None).expect("verifies");
    assert_eq!(report.certificate.expect("verdict").status, CertStatus::Valid);

    // A status proof at another time than the record's block, or for another record.
    let mut bundle = chain.evidence_bundle(&late_signing);
    bundle.cert_status.as_mut().expect("proof").at_ms -= 1;
    assert!(verify(&bundle, &trust, None).expect_err("refused").to_string().contains("status asked at"));
    let doc = chain.tx(&key(3, 0), document_evidence(b"no certificate"));
    chain.block(vec![doc.clone()]);
    let mut bundle = chain.store.proof_bundle(&doc.hash(), None).expect("bundle");
    bundle.cert_status = Some(chain.proof(T0));
    assert!(verify(&bundle, &trust, None).expect_err("refused").to_string().contains("does not name"));
}

#[test]
fn revoke_and_sign_in_one_block_count_as_revoked_in_either_order() {
    for revocation_first in [true, false] {
        let mut chain = Chain::new();
        let nb = chain.time();
        let issue = chain.cert(issued(nb, nb + 100 * DAY));
        chain.block(vec![issue]);
        // Effective at the block's own time: the latest a revocation may take effect.
        let revoke = chain.cert(revoked(chain.time()));
        let signing = chain.signing_event(b"contract");
        let txs = if revocation_first { vec![revoke, signing.clone()] } else { vec![signing.clone(), revoke] };
        chain.block(txs);
        let report = verify(&chain.evidence_bundle(&signing), &trust_root(&chain.spec), None).expect("verifies");
        let status = report.certificate.expect("verdict").status;
        assert!(matches!(status, CertStatus::Revoked { .. }), "revocation first: {revocation_first}: {status:?}");
    }
}

#[test]
fn a_certificate_holds_at_most_its_event_limit_and_can_always_be_revoked() {
    use chancery_ledger::limits::CERT_EVENTS_MAX;
    use chancery_ledger::state::{check_cert_rule, CertRule};
    let mut events = vec![(T0, issued(T0, T0 + DAY))];
    for i in 1..CERT_EVENTS_MAX as u64 {
        events.push((T0 + i, CertEventKind::Renewed { not_after_ms: T0 + DAY + i }));
    }
    let renewal = CertEventKind::Renewed { not_after_ms: T0 + 10 * DAY };
    let room = record(&events[..CERT_EVENTS_MAX - 2]);
    assert_eq!(check_cert_rule(&room, &renewal, T0 + DAY), Ok(()), "the last renewal that fits");
    let one_left = record(&events[..CERT_EVENTS_MAX - 1]);
    assert_eq!(check_cert_rule(&one_left, &renewal, T0 + DAY), Err(CertRule::TooManyEvents));
    assert_eq!(check_cert_rule(&one_left, &revoked(T0 + 1), T0 + DAY), Ok(()), "the slot kept for revocation");
    let full = record(&events);
    assert_eq!(check_cert_rule(&full, &revoked(T0 + 1), T0 + DAY), Err(CertRule::TooManyEvents));
}

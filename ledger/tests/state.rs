//! The state transition, one table row per rule, accepted and rejected, with the error a
//! user would see.

use chancery_ledger::chain::{ChainId, Params};
use chancery_ledger::codec::{BoundedBytes, BoundedVec};
use chancery_ledger::state::{execute, BlockContext, ExecError, StateChanges, StateKey, StateView};
use chancery_ledger::testkit::{key, public, sign, signed_tx, validator_set, MemoryState};
use chancery_ledger::tx::{
    Approval, CertEvent, CertEventKind, Evidence, EvidenceKind, Governance, Proposal, RevocationReason, Tx, TxBody,
};
use chancery_ledger::validator::{CaId, Member, MemberRole, Name, ValidatorSet};
use chancery_ledger::{Digest, DigestAlg, Hash};
use ed25519_dalek::SigningKey;

const T0: u64 = 1_767_225_600_000;

struct Net {
    chain_id: ChainId,
    validator_keys: Vec<SigningKey>,
    validators: ValidatorSet,
    state: MemoryState,
    height: u64,
}

fn integrator() -> SigningKey {
    key(3, 0)
}
fn notary_backend() -> SigningKey {
    key(3, 1)
}
fn ca_one() -> SigningKey {
    key(4, 0)
}
fn ca_two() -> SigningKey {
    key(4, 1)
}
fn stranger() -> SigningKey {
    key(9, 0)
}

fn member(name: &str, k: &SigningKey, role: MemberRole) -> Member {
    Member { name: Name::new(name).expect("name"), key: public(k), role }
}

fn kinds(list: &[EvidenceKind]) -> MemberRole {
    MemberRole::Integrator { kinds: BoundedVec::new(list.to_vec()).expect("kinds") }
}

fn ca(id: &str) -> MemberRole {
    MemberRole::CertificateAuthority { ca: CaId::new(id).expect("ca") }
}

impl Net {
    fn new() -> Net {
        Net::with_params(Params::default())
    }

    fn with_params(params: Params) -> Net {
        let validator_keys: Vec<_> = (0..4).map(|i| key(1, i)).collect();
        let validators = validator_set(&validator_keys, 0);
        let members = vec![
            member("esign", &integrator(), kinds(&[EvidenceKind::Document, EvidenceKind::SigningEvent])),
            member("notary-backend", &notary_backend(), kinds(&[EvidenceKind::Notarization, EvidenceKind::Document])),
            member("ca-one", &ca_one(), ca("ca-one")),
            member("ca-two", &ca_two(), ca("ca-two")),
        ];
        let state = MemoryState::genesis(&params, &validators, &members);
        Net { chain_id: ChainId::new("state-test").expect("id"), validator_keys, validators, state, height: 0 }
    }

    fn ctx(&self) -> BlockContext {
        BlockContext { chain_id: self.chain_id.clone(), height: self.height, time_ms: T0 + 1_000 * (self.height + 1) }
    }

    /// Executes a block; on success commits it.
    fn block(&mut self, txs: Vec<Tx>) -> Result<StateChanges, String> {
        let changes = execute(&self.state, &self.ctx(), &txs).map_err(|e| e.to_string())?;
        self.state.commit(&changes, &txs);
        self.height += 1;
        Ok(changes)
    }

    fn tx(&self, k: &SigningKey, body: TxBody, nonce: u64) -> Tx {
        signed_tx(k, &self.chain_id, body, nonce)
    }

    fn approved(&self, proposal: Proposal, signers: usize) -> TxBody {
        let message = Governance::approval_message(&self.chain_id, &self.validators.hash(), &proposal);
        let approvals = self
            .validator_keys
            .iter()
            .take(signers)
            .map(|k| Approval { validator: public(k), signature: sign(k, &message) })
            .collect();
        TxBody::Governance(Governance { proposal, approvals: BoundedVec::new(approvals).expect("fits") })
    }
}

fn evidence(kind: EvidenceKind, document: &[u8]) -> TxBody {
    TxBody::Evidence(Evidence {
        kind,
        digest: Digest::compute(DigestAlg::Sha256, document),
        refs: BoundedVec::empty(),
        meta: None,
        claimed_time_ms: None,
        cert: None,
        signature: None,
    })
}

fn cert(ca: &str, serial: u8, event: CertEventKind) -> TxBody {
    TxBody::CertEvent(CertEvent {
        ca: CaId::new(ca).expect("ca"),
        serial: BoundedBytes::new(vec![serial]).expect("serial"),
        cert_digest: Digest::compute(DigestAlg::Sha256, &[serial]),
        subject_key: Digest::compute(DigestAlg::Sha256, b"subject"),
        event,
    })
}

fn issued() -> CertEventKind {
    CertEventKind::Issued { not_before_ms: T0, not_after_ms: T0 + 365 * 86_400_000 }
}

type Setup = fn(&Net) -> (Vec<Vec<Tx>>, Vec<Tx>);

/// One row: prior blocks (committed), then the block under test and the expected
/// outcome (`None` accepted, `Some(text)` rejected with a message containing text).
struct Case {
    desc: &'static str,
    setup: Setup,
    expected: Option<&'static str>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            desc: "integrator anchors a permitted kind",
            setup: |n| (vec![], vec![n.tx(&integrator(), evidence(EvidenceKind::Document, b"a"), 1)]),
            expected: None,
        },
        Case {
            desc: "tx for another chain",
            setup: |_| {
                let other = ChainId::new("other-chain").expect("id");
                (vec![], vec![signed_tx(&integrator(), &other, evidence(EvidenceKind::Document, b"a"), 1)])
            },
            expected: Some("tx is for chain \"other-chain\", this is chain \"state-test\""),
        },
        Case {
            desc: "unregistered signer",
            setup: |n| (vec![], vec![n.tx(&stranger(), evidence(EvidenceKind::Document, b"a"), 1)]),
            expected: Some("is not a registered submitter on chain state-test"),
        },
        Case {
            desc: "kind not permitted to the integrator",
            setup: |n| (vec![], vec![n.tx(&integrator(), evidence(EvidenceKind::CourtFiling, b"a"), 1)]),
            expected: Some("member \"esign\" may not submit evidence of kind court_filing"),
        },
        Case {
            desc: "a CA anchoring evidence",
            setup: |n| (vec![], vec![n.tx(&ca_one(), evidence(EvidenceKind::Document, b"a"), 1)]),
            expected: Some("only integrators anchor evidence"),
        },
        Case {
            desc: "an integrator recording a certificate event",
            setup: |n| (vec![], vec![n.tx(&integrator(), cert("ca-one", 1, issued()), 1)]),
            expected: Some("only certificate authorities record them"),
        },
        Case {
            desc: "a CA recording its own certificate",
            setup: |n| (vec![], vec![n.tx(&ca_one(), cert("ca-one", 1, issued()), 1)]),
            expected: None,
        },
        Case {
            desc: "a CA recording another CA's certificate",
            setup: |n| (vec![], vec![n.tx(&ca_one(), cert("ca-two", 1, issued()), 1)]),
            expected: Some("may not submit events for CA ca-two: it is CA ca-one"),
        },
        Case {
            desc: "nonce above the last, with a gap",
            setup: |n| {
                (
                    vec![vec![n.tx(&integrator(), evidence(EvidenceKind::Document, b"a"), 1)]],
                    vec![n.tx(&integrator(), evidence(EvidenceKind::Document, b"b"), 7)],
                )
            },
            expected: None,
        },
        Case {
            desc: "nonce equal to the last",
            setup: |n| {
                (
                    vec![vec![n.tx(&integrator(), evidence(EvidenceKind::Document, b"a"), 5)]],
                    vec![n.tx(&integrator(), evidence(EvidenceKind::Document, b"b"), 5)],
                )
            },
            expected: Some("tx nonce 5 of signer"),
        },
        Case {
            desc: "nonce below the last, within one block",
            setup: |n| {
                (
                    vec![],
                    vec![
                        n.tx(&integrator(), evidence(EvidenceKind::Document, b"a"), 5),
                        n.tx(&integrator(), evidence(EvidenceKind::Document, b"b"), 4),
                    ],
                )
            },
            expected: Some("is not above its last used nonce 5; use nonce 6 or higher"),
        },
        Case {
            desc: "a tx already on chain",
            setup: |n| {
                let tx = n.tx(&integrator(), evidence(EvidenceKind::Document, b"a"), 1);
                (vec![vec![tx.clone()]], vec![tx])
            },
            expected: Some("is already on chain"),
        },
        Case {
            desc: "the same tx twice in one block",
            setup: |n| {
                let tx = n.tx(&integrator(), evidence(EvidenceKind::Document, b"a"), 1);
                (vec![], vec![tx.clone(), tx])
            },
            expected: Some("is already on chain"),
        },
        Case {
            desc: "a bad signature",
            setup: |n| {
                let mut tx = n.tx(&integrator(), evidence(EvidenceKind::Document, b"a"), 1);
                tx.nonce = 2;
                (vec![], vec![tx])
            },
            expected: Some("tx signature is invalid"),
        },
        Case {
            desc: "the same digest anchored by two parties in two roles",
            setup: |n| {
                (
                    vec![],
                    vec![
                        n.tx(&integrator(), evidence(EvidenceKind::Document, b"contract"), 1),
                        n.tx(&notary_backend(), evidence(EvidenceKind::Notarization, b"contract"), 1),
                    ],
                )
            },
            expected: None,
        },
        Case {
            desc: "the same digest anchored twice by one party",
            setup: |n| {
                (
                    vec![],
                    vec![
                        n.tx(&integrator(), evidence(EvidenceKind::Document, b"contract"), 1),
                        n.tx(&integrator(), evidence(EvidenceKind::Document, b"contract"), 2),
                    ],
                )
            },
            expected: None,
        },
        Case {
            desc: "a certificate event before issue",
            setup: |n| {
                (vec![], vec![n.tx(&ca_one(), cert("ca-one", 1, CertEventKind::Renewed { not_after_ms: T0 * 2 }), 1)])
            },
            expected: Some("no event may precede Issued"),
        },
        Case {
            desc: "a second issue",
            setup: |n| {
                (
                    vec![vec![n.tx(&ca_one(), cert("ca-one", 1, issued()), 1)]],
                    vec![n.tx(&ca_one(), cert("ca-one", 1, issued()), 2)],
                )
            },
            expected: Some("certificate ca-one/01: it is already issued"),
        },
        Case {
            desc: "an empty validity window",
            setup: |n| {
                (
                    vec![],
                    vec![n.tx(
                        &ca_one(),
                        cert("ca-one", 1, CertEventKind::Issued { not_before_ms: T0, not_after_ms: T0 }),
                        1,
                    )],
                )
            },
            expected: Some("must be below not_after_ms"),
        },
        Case {
            desc: "a renewal that extends",
            setup: |n| {
                (
                    vec![vec![n.tx(&ca_one(), cert("ca-one", 1, issued()), 1)]],
                    vec![n.tx(
                        &ca_one(),
                        cert("ca-one", 1, CertEventKind::Renewed { not_after_ms: T0 + 800 * 86_400_000 }),
                        2,
                    )],
                )
            },
            expected: None,
        },
        Case {
            desc: "a renewal that shortens",
            setup: |n| {
                (
                    vec![vec![n.tx(&ca_one(), cert("ca-one", 1, issued()), 1)]],
                    vec![n.tx(&ca_one(), cert("ca-one", 1, CertEventKind::Renewed { not_after_ms: T0 + 10 }), 2)],
                )
            },
            expected: Some("a renewal must extend validity"),
        },
        Case {
            desc: "a revocation effective now",
            setup: |n| {
                (
                    vec![vec![n.tx(&ca_one(), cert("ca-one", 1, issued()), 1)]],
                    vec![n.tx(
                        &ca_one(),
                        cert(
                            "ca-one",
                            1,
                            CertEventKind::Revoked {
                                reason: RevocationReason::KeyCompromise,
                                effective_ms: T0 + 1_500,
                            },
                        ),
                        2,
                    )],
                )
            },
            expected: None,
        },
        Case {
            desc: "a revocation in the future",
            setup: |n| {
                (
                    vec![vec![n.tx(&ca_one(), cert("ca-one", 1, issued()), 1)]],
                    vec![n.tx(
                        &ca_one(),
                        cert(
                            "ca-one",
                            1,
                            CertEventKind::Revoked {
                                reason: RevocationReason::IllegalUse,
                                effective_ms: T0 + 86_400_000,
                            },
                        ),
                        2,
                    )],
                )
            },
            expected: Some("revocations cannot be recorded in advance"),
        },
        Case {
            desc: "a revocation before validity",
            setup: |n| {
                (
                    vec![vec![n.tx(&ca_one(), cert("ca-one", 1, issued()), 1)]],
                    vec![n.tx(
                        &ca_one(),
                        cert(
                            "ca-one",
                            1,
                            CertEventKind::Revoked { reason: RevocationReason::IllegalUse, effective_ms: T0 - 1 },
                        ),
                        2,
                    )],
                )
            },
            expected: Some("is before the certificate was issued"),
        },
        Case {
            desc: "a revocation before a later validity starts, after the issue",
            setup: |n| {
                let later = CertEventKind::Issued { not_before_ms: T0 + 86_400_000, not_after_ms: T0 + 2 * 86_400_000 };
                (
                    vec![vec![n.tx(&ca_one(), cert("ca-one", 1, later), 1)]],
                    vec![n.tx(
                        &ca_one(),
                        cert(
                            "ca-one",
                            1,
                            CertEventKind::Revoked {
                                reason: RevocationReason::KeyCompromise,
                                effective_ms: T0 + 1_500,
                            },
                        ),
                        2,
                    )],
                )
            },
            expected: None,
        },
        Case {
            desc: "an event after revocation",
            setup: |n| {
                let revoke = n.tx(
                    &ca_one(),
                    cert(
                        "ca-one",
                        1,
                        CertEventKind::Revoked { reason: RevocationReason::OrganisationDissolved, effective_ms: T0 },
                    ),
                    2,
                );
                (
                    vec![vec![n.tx(&ca_one(), cert("ca-one", 1, issued()), 1)], vec![revoke]],
                    vec![n.tx(&ca_one(), cert("ca-one", 1, CertEventKind::Renewed { not_after_ms: T0 * 2 }), 3)],
                )
            },
            expected: Some("revocation is final"),
        },
        Case {
            desc: "a governance change approved by the validators",
            setup: |n| {
                let body = n.approved(
                    Proposal::AddMember(member("new-integrator", &stranger(), kinds(&[EvidenceKind::Document]))),
                    3,
                );
                (vec![], vec![n.tx(&n.validator_keys[0], body, 1)])
            },
            expected: None,
        },
        Case {
            desc: "a governance change with two thirds or less of the power",
            setup: |n| {
                let body = n.approved(
                    Proposal::AddMember(member("new-integrator", &stranger(), kinds(&[EvidenceKind::Document]))),
                    2,
                );
                (vec![], vec![n.tx(&n.validator_keys[0], body, 1)])
            },
            expected: Some("is not approved by the current validators: signatures carry power 20 of 40"),
        },
        Case {
            desc: "a newly added member can submit in the next block",
            setup: |n| {
                let body = n.approved(
                    Proposal::AddMember(member("new-integrator", &stranger(), kinds(&[EvidenceKind::Document]))),
                    3,
                );
                (
                    vec![vec![n.tx(&n.validator_keys[0], body, 1)]],
                    vec![n.tx(&stranger(), evidence(EvidenceKind::Document, b"x"), 1)],
                )
            },
            expected: None,
        },
        Case {
            desc: "a removed member can no longer submit",
            setup: |n| {
                let body = n.approved(Proposal::RemoveMember(public(&integrator())), 4);
                (
                    vec![vec![n.tx(&n.validator_keys[0], body, 1)]],
                    vec![n.tx(&integrator(), evidence(EvidenceKind::Document, b"x"), 1)],
                )
            },
            expected: Some("is not a registered submitter"),
        },
        Case {
            desc: "a second CA with a taken CA id",
            setup: |n| {
                let body = n.approved(Proposal::AddMember(member("impostor", &stranger(), ca("ca-one"))), 3);
                (vec![], vec![n.tx(&n.validator_keys[0], body, 1)])
            },
            expected: Some("CA id ca-one is already registered"),
        },
        Case {
            desc: "two validator-set changes in one block",
            setup: |n| {
                let set = validator_set(&[key(1, 100), key(1, 101), key(1, 102), key(1, 103)], 1);
                let first = n.tx(&n.validator_keys[0], n.approved(Proposal::SetValidators(set.clone()), 4), 1);
                let second = n.tx(&n.validator_keys[1], n.approved(Proposal::SetValidators(set), 4), 1);
                (vec![], vec![first, second])
            },
            expected: Some("a block may change the validator set only once"),
        },
        Case {
            desc: "parameters out of range",
            setup: |n| {
                let params = Params { max_clock_drift_ms: 0, ..Params::default() };
                (vec![], vec![n.tx(&n.validator_keys[0], n.approved(Proposal::SetParams(params), 4), 1)])
            },
            expected: Some("params.max_clock_drift_ms is 0"),
        },
    ]
}

#[test]
fn every_rule_accepts_and_rejects_as_a_user_expects() {
    let mut failures = Vec::new();
    for case in cases() {
        let mut net = Net::new();
        let (prior, block) = (case.setup)(&net);
        for (i, txs) in prior.into_iter().enumerate() {
            net.block(txs).unwrap_or_else(|e| panic!("{}: prior block {i} failed: {e}", case.desc));
        }
        let outcome = net.block(block);
        let ok = match (&outcome, case.expected) {
            (Ok(_), None) => true,
            (Err(e), Some(want)) => e.contains(want),
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{}: expected {:?}, got {:?}",
                case.desc,
                case.expected,
                outcome.map(|c| c.state_root)
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn a_tx_above_the_chain_size_limit_is_refused() {
    let mut net = Net::with_params(Params { max_tx_bytes: 400, ..Params::default() });
    let refs = BoundedVec::new((0..16u8).map(|i| Hash([i; 32])).collect()).expect("16 refs");
    let body = TxBody::Evidence(Evidence {
        kind: EvidenceKind::Document,
        digest: Digest::compute(DigestAlg::Sha256, b"a"),
        refs,
        meta: None,
        claimed_time_ms: None,
        cert: None,
        signature: None,
    });
    let err = net.block(vec![net.tx(&integrator(), body, 1)]).expect_err("too large");
    assert!(err.contains("above this chain's limit of 400; anchor a digest of the content"), "{err}");
}

#[test]
fn a_block_with_too_many_txs_is_refused() {
    let mut net = Net::with_params(Params { max_block_txs: 2, ..Params::default() });
    let txs: Vec<_> = (1..=3).map(|i| net.tx(&integrator(), evidence(EvidenceKind::Document, &[i as u8]), i)).collect();
    let err = net.block(txs).expect_err("three txs");
    assert!(err.contains("block holds txs 3, above this chain's limit of 2"), "{err}");
}

#[test]
fn state_root_commits_to_nonces_members_and_certificates() {
    let mut a = Net::new();
    let mut b = Net::new();
    let root_a = a.block(vec![a.tx(&integrator(), evidence(EvidenceKind::Document, b"x"), 1)]).expect("ok").state_root;
    let root_b = b.block(vec![b.tx(&integrator(), evidence(EvidenceKind::Document, b"x"), 2)]).expect("ok").state_root;
    assert_ne!(root_a, root_b, "a different nonce is a different state");
    // Anchoring evidence changes only the signer's nonce: two different documents with the
    // same nonce give the same state.
    let mut c = Net::new();
    let root_c = c.block(vec![c.tx(&integrator(), evidence(EvidenceKind::Document, b"y"), 1)]).expect("ok").state_root;
    assert_eq!(root_a, root_c);
    // The certificate index is in the state, provable at the version it was written.
    let mut d = Net::new();
    d.block(vec![d.tx(&ca_one(), cert("ca-one", 1, issued()), 1)]).expect("ok");
    let key = StateKey::Cert(CaId::new("ca-one").expect("ca"), BoundedBytes::new(vec![1]).expect("serial"));
    assert!(d.state.value(&key).expect("memory").is_some());
}

#[test]
fn a_rejected_tx_leaves_the_execution_unchanged() {
    let net = Net::new();
    let mut execution = chancery_ledger::state::Execution::new(&net.state, net.ctx()).expect("state");
    let good = net.tx(&integrator(), evidence(EvidenceKind::Document, b"a"), 1);
    let bad = net.tx(&integrator(), evidence(EvidenceKind::CourtFiling, b"b"), 2);
    let good_after = net.tx(&integrator(), evidence(EvidenceKind::Document, b"c"), 2);
    assert!(execution.push(&good).expect("state").is_ok());
    assert!(execution.push(&bad).expect("state").is_err());
    // The rejected tx's nonce 2 was not consumed.
    assert!(execution.push(&good_after).expect("state").is_ok());
    let built = execution.finish().expect("state");
    let replayed = execute(&net.state, &net.ctx(), &[good, good_after]).expect("valid block");
    assert_eq!(built.state_root, replayed.state_root);
}

#[test]
fn a_header_that_does_not_match_its_content_is_refused() {
    use chancery_ledger::chain::{Block, Header};
    use chancery_ledger::state::apply;
    use chancery_ledger::tx_tree::tx_root;
    let net = Net::new();
    let txs = vec![net.tx(&integrator(), evidence(EvidenceKind::Document, b"a"), 1)];
    let changes = execute(&net.state, &net.ctx(), &txs).expect("valid");
    let header = Header {
        chain_id: net.chain_id.clone(),
        height: 0,
        time_ms: net.ctx().time_ms,
        prev_hash: Hash::ZERO,
        tx_root: tx_root(&[txs[0].hash()]),
        tx_count: 1,
        history_root: Hash::ZERO,
        validators_hash: net.validators.hash(),
        next_validators_hash: changes.next_validators.hash(),
        state_root: changes.state_root,
        proposer: public(&net.validator_keys[0]),
    };
    let block = Block { header: header.clone(), txs: BoundedVec::new(txs.clone()).expect("fits") };
    assert!(apply(&net.state, &block, 1_000).is_ok());
    for (field, edit) in [
        ("state_root", Box::new(|h: &mut Header| h.state_root = Hash::ZERO) as Box<dyn Fn(&mut Header)>),
        ("tx_root", Box::new(|h: &mut Header| h.tx_root = Hash::ZERO)),
        ("tx_count", Box::new(|h: &mut Header| h.tx_count = 2)),
        ("validators_hash", Box::new(|h: &mut Header| h.validators_hash = Hash::ZERO)),
        ("next_validators_hash", Box::new(|h: &mut Header| h.next_validators_hash = Hash::ZERO)),
    ] {
        let mut bad = block.clone();
        edit(&mut bad.header);
        match apply(&net.state, &bad, 1_000) {
            Err(ExecError::HeaderMismatch { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert!(matches!(
        apply(&net.state, &block, 100 * 1024 * 1024),
        Err(ExecError::BlockTooLarge { what: "bytes", .. })
    ));
}

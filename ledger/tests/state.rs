//! The state transition, one table row per rule, accepted and rejected, with the error a
//! user would see.

use chancery_ledger::block::{ChainId, Params};
use chancery_ledger::codec::{BoundedBytes, BoundedVec};
use chancery_ledger::gov::{Change, GovProposal, GovVote, KeyRotation, ProposalRecord, RecordedStatus, RotatedKey};
use chancery_ledger::state::{execute, BlockContext, ExecError, StateChanges, StateKey, StateView};
use chancery_ledger::testkit::{admin_key, key, public, signed_tx, validator_set, MemoryState};
use chancery_ledger::tx::{
    CertEvent, CertEventKind, CertRef, DocumentSignature, Evidence, EvidenceKind, RevocationReason, Tx, TxBody,
};
use chancery_ledger::validator::{CaId, Member, MemberRole, Name, ValidatorSet};
use chancery_ledger::{Digest, DigestAlg, Hash, Signature};
use ed25519_dalek::{Signer as _, SigningKey};

const T0: u64 = 1_767_225_600_000;

struct Net {
    chain_id: ChainId,
    genesis_hash: Hash,
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
        let genesis_hash = chancery_ledger::HashContext::Genesis.hash(b"state-test genesis");
        let state = MemoryState::genesis(&genesis_hash, &params, &validators, &members);
        let chain_id = ChainId::new("state-test").expect("id");
        Net { chain_id, genesis_hash, validator_keys, validators, state, height: 0 }
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
        signed_tx(k, &self.chain_id, &self.genesis_hash, body, nonce)
    }

    /// Institution `by` (its admin key) proposes `change`, open until height 100.
    fn propose(&self, by: usize, change: Change, nonce: u64) -> Tx {
        self.tx(&admin_key(0, by), TxBody::Propose(GovProposal { change, expires_at_height: 100 }), nonce)
    }

    /// Institution `by` votes on `proposal`.
    fn vote(&self, by: usize, proposal: &Tx, approve: bool, nonce: u64) -> Tx {
        self.tx(&admin_key(0, by), TxBody::Vote(GovVote { proposal: proposal.hash(), approve }), nonce)
    }

    fn record(&self, proposal: &Tx) -> ProposalRecord {
        let bytes = self.state.value(&StateKey::Proposal(proposal.hash())).expect("memory").expect("recorded");
        chancery_ledger::decode(&bytes).expect("record decodes")
    }
}

fn add_stranger() -> Change {
    Change::AddMember(member("new-integrator", &stranger(), kinds(&[EvidenceKind::Document])))
}

fn rotate(key: RotatedKey) -> TxBody {
    TxBody::RotateKey(KeyRotation { key })
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

/// The hosted key of certificate ca-one/7.
fn hosted_key() -> SigningKey {
    key(6, 0)
}

/// ca-one's issue of certificate 7 for the hosted key.
fn hosted_cert() -> TxBody {
    TxBody::CertEvent(CertEvent {
        subject_key: Digest::compute(DigestAlg::Sha256, &public(&hosted_key()).0),
        ..match cert("ca-one", 7, issued()) {
            TxBody::CertEvent(event) => event,
            _ => unreachable!("cert() builds a certificate event"),
        }
    })
}

/// A signing event naming certificate ca-one/`serial` and a hosted signature by `by` over
/// `signed` (the event's own digest is of `document`).
fn hosted_event(serial: u8, by: &SigningKey, document: &[u8], signed: &[u8]) -> TxBody {
    let digest = Digest::compute(DigestAlg::Sha256, document);
    let signature = Signature(by.sign(Digest::compute(DigestAlg::Sha256, signed).bytes()).to_bytes());
    TxBody::Evidence(Evidence {
        kind: EvidenceKind::SigningEvent,
        digest,
        refs: BoundedVec::empty(),
        meta: None,
        claimed_time_ms: None,
        cert: Some(CertRef {
            ca: CaId::new("ca-one").expect("ca"),
            serial: BoundedBytes::new(vec![serial]).expect("serial"),
        }),
        signature: Some(DocumentSignature::hosted(public(by), signature)),
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
            setup: |n| {
                let other = ChainId::new("other-chain").expect("id");
                (
                    vec![],
                    vec![signed_tx(&integrator(), &other, &n.genesis_hash, evidence(EvidenceKind::Document, b"a"), 1)],
                )
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
            desc: "the largest nonce, which no later tx could follow",
            setup: |n| (vec![], vec![n.tx(&integrator(), evidence(EvidenceKind::Document, b"a"), u64::MAX)]),
            expected: Some("is the largest nonce"),
        },
        Case {
            desc: "a hosted signature by the key its certificate was issued for",
            setup: |n| {
                let event = hosted_event(7, &hosted_key(), b"contract", b"contract");
                (vec![vec![n.tx(&ca_one(), hosted_cert(), 1)]], vec![n.tx(&integrator(), event, 1)])
            },
            expected: None,
        },
        Case {
            desc: "a hosted signature by another key naming a hosted certificate",
            setup: |n| {
                let event = hosted_event(7, &stranger(), b"contract", b"contract");
                (vec![vec![n.tx(&ca_one(), hosted_cert(), 1)]], vec![n.tx(&integrator(), event, 1)])
            },
            expected: Some("certificate ca-one/07 was issued for another key"),
        },
        Case {
            desc: "a hosted signature over another document",
            setup: |n| {
                let event = hosted_event(7, &hosted_key(), b"contract", b"other contract");
                (vec![vec![n.tx(&ca_one(), hosted_cert(), 1)]], vec![n.tx(&integrator(), event, 1)])
            },
            expected: Some("the signature does not verify under its key over the document digest"),
        },
        Case {
            desc: "a hosted signature whose recorded hash is not its signature's",
            setup: |n| {
                let mut event = hosted_event(7, &hosted_key(), b"contract", b"contract");
                if let TxBody::Evidence(Evidence { signature: Some(s), .. }) = &mut event {
                    s.hash = chancery_ledger::HashContext::DocumentSignature.hash(b"any signature");
                }
                (vec![vec![n.tx(&ca_one(), hosted_cert(), 1)]], vec![n.tx(&integrator(), event, 1)])
            },
            expected: Some("its hash is not the hash of the signature it carries"),
        },
        Case {
            desc: "a hosted signature naming a certificate never issued",
            setup: |n| (vec![], vec![n.tx(&integrator(), hosted_event(8, &hosted_key(), b"c", b"c"), 1)]),
            expected: Some("certificate ca-one/08 is not issued on this chain"),
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
            desc: "a tx signed for another genesis of the same chain id and keys",
            setup: |n| {
                let relaunched = chancery_ledger::HashContext::Genesis.hash(b"relaunched");
                (
                    vec![],
                    vec![signed_tx(&integrator(), &n.chain_id, &relaunched, evidence(EvidenceKind::Document, b"a"), 1)],
                )
            },
            expected: Some("tx signature is invalid"),
        },
    ]
}

/// Governance, one row per rule. Validators have power 10 each (40 in all): three
/// approvals (30) pass two thirds, two (20) do not.
fn governance_cases() -> Vec<Case> {
    vec![
        Case {
            desc: "a proposal alone changes nothing: proposing is not approving",
            setup: |n| {
                let p = n.propose(0, add_stranger(), 1);
                (
                    vec![vec![p.clone(), n.vote(1, &p, true, 1), n.vote(2, &p, true, 1)]],
                    vec![n.tx(&stranger(), evidence(EvidenceKind::Document, b"x"), 1)],
                )
            },
            expected: Some("is not a registered submitter"),
        },
        Case {
            desc: "approvals passing two thirds execute the change in their block",
            setup: |n| {
                let p = n.propose(0, add_stranger(), 1);
                let votes = vec![n.vote(0, &p, true, 2), n.vote(1, &p, true, 1), n.vote(2, &p, true, 1)];
                (vec![vec![p], votes], vec![n.tx(&stranger(), evidence(EvidenceKind::Document, b"x"), 1)])
            },
            expected: None,
        },
        Case {
            desc: "a proposal body resubmitted under a new nonce is a new proposal needing new votes",
            setup: |n| {
                let remove = n.propose(0, Change::RemoveMember(public(&integrator())), 1);
                let votes: Vec<_> = (0..3).map(|i| n.vote(i, &remove, true, 2 + (i == 0) as u64)).collect();
                let readd = n.propose(
                    1,
                    Change::AddMember(member("esign", &integrator(), kinds(&[EvidenceKind::Document]))),
                    3,
                );
                let readd_votes: Vec<_> = (1..4).map(|i| n.vote(i, &readd, true, 4)).collect();
                let again = n.propose(0, Change::RemoveMember(public(&integrator())), 5);
                let again_votes = vec![n.vote(1, &again, true, 5), n.vote(2, &again, true, 5)];
                (
                    vec![vec![remove.clone()], votes, vec![readd], readd_votes, vec![again], again_votes],
                    vec![n.tx(&integrator(), evidence(EvidenceKind::Document, b"x"), 1)],
                )
            },
            expected: None,
        },
        Case {
            desc: "a vote replayed",
            setup: |n| {
                let p = n.propose(0, add_stranger(), 1);
                let vote = n.vote(1, &p, true, 1);
                (vec![vec![p], vec![vote.clone()]], vec![vote])
            },
            expected: Some("is already on chain"),
        },
        Case {
            desc: "a double vote under a new nonce",
            setup: |n| {
                let p = n.propose(0, add_stranger(), 1);
                (vec![vec![p.clone(), n.vote(1, &p, true, 1)]], vec![n.vote(1, &p, false, 2)])
            },
            expected: Some("has already voted on proposal"),
        },
        Case {
            desc: "a vote after expiry",
            setup: |n| {
                let p = n.tx(
                    &admin_key(0, 0),
                    TxBody::Propose(GovProposal { change: add_stranger(), expires_at_height: 1 }),
                    1,
                );
                (vec![vec![p.clone()], vec![]], vec![n.vote(1, &p, true, 1)])
            },
            expected: Some("expired after height 1"),
        },
        Case {
            desc: "a vote after execution",
            setup: |n| {
                let p = n.propose(0, add_stranger(), 1);
                (
                    vec![vec![p.clone(), n.vote(0, &p, true, 2), n.vote(1, &p, true, 1), n.vote(2, &p, true, 1)]],
                    vec![n.vote(3, &p, true, 1)],
                )
            },
            expected: Some("is executed at height 0 and takes no more votes"),
        },
        Case {
            desc: "a vote after rejection",
            setup: |n| {
                let p = n.propose(0, add_stranger(), 1);
                (vec![vec![p.clone(), n.vote(1, &p, false, 1), n.vote(2, &p, false, 1)]], vec![n.vote(3, &p, true, 1)])
            },
            expected: Some("is rejected at height 0"),
        },
        Case {
            desc: "a vote on an unknown proposal",
            setup: |n| {
                (vec![], vec![n.vote(1, &n.tx(&integrator(), evidence(EvidenceKind::Document, b"x"), 1), true, 1)])
            },
            expected: Some("no proposal"),
        },
        Case {
            desc: "a vote by a member key, not an admin key",
            setup: |n| {
                let p = n.propose(0, add_stranger(), 1);
                (
                    vec![vec![p.clone()]],
                    vec![n.tx(&integrator(), TxBody::Vote(GovVote { proposal: p.hash(), approve: true }), 1)],
                )
            },
            expected: Some("is not the admin key of a validator"),
        },
        Case {
            desc: "a vote by a validator's consensus key",
            setup: |n| {
                let p = n.propose(0, add_stranger(), 1);
                (
                    vec![vec![p.clone()]],
                    vec![n.tx(&n.validator_keys[1], TxBody::Vote(GovVote { proposal: p.hash(), approve: true }), 1)],
                )
            },
            expected: Some("is not the admin key of a validator"),
        },
        Case {
            desc: "a vote by a removed validator",
            setup: |n| {
                let name = n.validators.validators[3].name.clone();
                let remove = n.propose(0, Change::RemoveValidator(name), 1);
                let votes: Vec<_> = (0..3).map(|i| n.vote(i, &remove, true, 2 + (i == 0) as u64)).collect();
                let p = n.propose(0, add_stranger(), 4);
                (vec![vec![remove], votes, vec![p.clone()]], vec![n.vote(3, &p, true, 1)])
            },
            expected: Some("is not the admin key of a validator"),
        },
        Case {
            desc: "a removed validator's earlier vote stops counting",
            setup: |n| {
                let p = n.propose(0, add_stranger(), 1);
                let early = vec![n.vote(3, &p, true, 1), n.vote(0, &p, true, 2)];
                let name = n.validators.validators[3].name.clone();
                let remove = n.propose(1, Change::RemoveValidator(name), 1);
                let votes = vec![n.vote(0, &remove, true, 3), n.vote(1, &remove, true, 2), n.vote(2, &remove, true, 1)];
                // 20 of the remaining 30 approve: not a quorum without the removed vote.
                (
                    vec![vec![p.clone()], early, vec![remove], votes, vec![n.vote(1, &p, true, 9)]],
                    vec![n.tx(&stranger(), evidence(EvidenceKind::Document, b"x"), 1)],
                )
            },
            expected: Some("is not a registered submitter"),
        },
        Case {
            desc: "open proposals are counted again when the set changes: the remaining approvals pass",
            setup: |n| {
                let p = n.propose(0, add_stranger(), 1);
                let [v2, v3] = [2, 3].map(|i| n.validators.validators[i].name.clone());
                let r2 = n.propose(1, Change::RemoveValidator(v2), 2);
                let r3 = n.propose(2, Change::RemoveValidator(v3), 3);
                let block = vec![
                    p.clone(),
                    n.vote(0, &p, true, 2),
                    n.vote(1, &p, true, 1),
                    r2.clone(),
                    n.vote(0, &r2, true, 3),
                    n.vote(1, &r2, true, 3),
                    n.vote(2, &r2, true, 2),
                    r3.clone(),
                    n.vote(0, &r3, true, 4),
                    n.vote(1, &r3, true, 4),
                    n.vote(2, &r3, true, 4),
                ];
                // 20 of 40 approved; from the next height the set is 20 and both approved.
                (vec![block, vec![]], vec![n.tx(&stranger(), evidence(EvidenceKind::Document, b"x"), 1)])
            },
            expected: None,
        },
        Case {
            desc: "a proposal expiring at or before its own block",
            setup: |n| {
                (
                    vec![],
                    vec![n.tx(
                        &admin_key(0, 0),
                        TxBody::Propose(GovProposal { change: add_stranger(), expires_at_height: 0 }),
                        1,
                    )],
                )
            },
            expected: Some("it must be above this block's height 0"),
        },
        Case {
            desc: "a proposal that cannot apply is refused when proposed",
            setup: |n| {
                (vec![], vec![n.propose(0, Change::AddMember(member("impostor", &stranger(), ca("ca-one"))), 1)])
            },
            expected: Some("CA id ca-one is already registered"),
        },
        Case {
            desc: "a change that leaves a voting validator without power",
            setup: |n| {
                let name = n.validators.validators[0].name.clone();
                (vec![], vec![n.propose(0, Change::SetPower { name, power: 0 }, 1)])
            },
            expected: Some("power 0"),
        },
        Case {
            desc: "parameters out of range",
            setup: |n| {
                let params = Params { max_clock_drift_ms: 0, ..Params::default() };
                (vec![], vec![n.propose(0, Change::SetParams(params), 1)])
            },
            expected: Some("params.max_clock_drift_ms is 0"),
        },
        Case {
            desc: "a passed proposal that no longer applies ends as failed, and takes no votes",
            setup: |n| {
                let first = n.propose(0, add_stranger(), 1);
                let second = n.propose(1, add_stranger(), 1);
                let votes: Vec<_> = (1..4)
                    .flat_map(|i| [n.vote(i, &first, true, 2 * i as u64), n.vote(i, &second, true, 2 * i as u64 + 1)])
                    .collect();
                (vec![vec![first, second.clone()], votes], vec![n.vote(0, &second, true, 2)])
            },
            expected: Some("failed to apply at height 1"),
        },
        Case {
            desc: "an institution rotates its consensus key with its admin key alone",
            setup: |n| (vec![], vec![n.tx(&admin_key(0, 1), rotate(RotatedKey::Consensus(public(&key(1, 50)))), 1)]),
            expected: None,
        },
        Case {
            desc: "a rotation signed by a member key",
            setup: |n| (vec![], vec![n.tx(&integrator(), rotate(RotatedKey::Consensus(public(&key(1, 50)))), 1)]),
            expected: Some("is not the admin key of a validator"),
        },
        Case {
            desc: "a rotation signed by the institution's consensus key",
            setup: |n| {
                (vec![], vec![n.tx(&n.validator_keys[1], rotate(RotatedKey::Consensus(public(&key(1, 50)))), 1)])
            },
            expected: Some("is not the admin key of a validator"),
        },
        Case {
            desc: "a rotation to a key another institution uses",
            setup: |n| (vec![], vec![n.tx(&admin_key(0, 1), rotate(RotatedKey::P2p(public(&n.validator_keys[2]))), 1)]),
            expected: Some("is already in use"),
        },
        Case {
            desc: "a removed validator's old admin key cannot rotate the keys of its re-added entry",
            setup: |n| {
                let name = n.validators.validators[1].name.clone();
                let remove = n.propose(0, Change::RemoveValidator(name.clone()), 1);
                let fresh = chancery_ledger::validator::Validator {
                    name,
                    role: chancery_ledger::Role::Notary,
                    consensus_key: public(&key(1, 70)),
                    p2p_key: public(&key(2, 70)),
                    admin_key: public(&key(5, 70)),
                    power: 10,
                };
                let readd = n.propose(0, Change::AddValidator(fresh), 3);
                let block = vec![
                    remove.clone(),
                    n.vote(0, &remove, true, 2),
                    n.vote(2, &remove, true, 1),
                    n.vote(3, &remove, true, 1),
                    readd.clone(),
                    n.vote(0, &readd, true, 4),
                    n.vote(2, &readd, true, 2),
                    n.vote(3, &readd, true, 2),
                    n.tx(&admin_key(0, 1), rotate(RotatedKey::Admin(public(&key(5, 71)))), 1),
                ];
                (vec![], block)
            },
            expected: Some("has no entry with this admin key"),
        },
        Case {
            desc: "a rotated-out admin key can no longer vote",
            setup: |n| {
                let p = n.propose(0, add_stranger(), 1);
                let rotation = n.tx(&admin_key(0, 1), rotate(RotatedKey::Admin(public(&key(5, 77)))), 1);
                (vec![vec![p.clone(), rotation], vec![]], vec![n.vote(1, &p, true, 2)])
            },
            expected: Some("is not the admin key of a validator"),
        },
        Case {
            desc: "the rotated-in admin key votes from the next height on",
            setup: |n| {
                let p = n.propose(0, add_stranger(), 1);
                let rotation = n.tx(&admin_key(0, 1), rotate(RotatedKey::Admin(public(&key(5, 77)))), 1);
                (
                    vec![vec![p.clone(), rotation]],
                    vec![n.tx(&key(5, 77), TxBody::Vote(GovVote { proposal: p.hash(), approve: true }), 1)],
                )
            },
            expected: None,
        },
    ]
}

fn run_cases(cases: Vec<Case>) {
    let mut failures = Vec::new();
    for case in cases {
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
fn governance_rules_accept_and_refuse_as_an_institution_expects() {
    run_cases(governance_cases());
}

#[test]
fn an_executed_validator_change_takes_effect_at_the_next_height_and_counts_an_epoch() {
    let mut net = Net::new();
    let newcomer = chancery_ledger::validator::Validator {
        name: Name::new("court-2").expect("name"),
        role: chancery_ledger::Role::Court,
        consensus_key: public(&key(1, 60)),
        p2p_key: public(&key(2, 60)),
        admin_key: public(&key(5, 60)),
        power: 10,
    };
    let p = net.propose(0, Change::AddValidator(newcomer.clone()), 1);
    let changes = net.block(vec![p.clone(), net.vote(1, &p, true, 1), net.vote(2, &p, true, 1)]).expect("pending");
    assert_eq!(changes.next_validators_epoch, 0);
    assert_eq!(net.record(&p).status, RecordedStatus::Pending);
    let changes = net.block(vec![net.vote(3, &p, true, 1)]).expect("executes");
    assert_eq!(net.record(&p).status, RecordedStatus::Executed { height: 1 });
    assert_eq!(changes.next_validators_epoch, 1);
    assert_eq!(changes.next_validators.validators.len(), 5);
    assert_eq!(changes.next_validators.validators[4], newcomer);
    // The new institution's admin key governs from the next height on.
    let q = net.propose(0, add_stranger(), 2);
    let changes = net
        .block(vec![q.clone(), net.tx(&key(5, 60), TxBody::Vote(GovVote { proposal: q.hash(), approve: true }), 1)])
        .expect("new admin votes");
    assert_eq!(changes.next_validators_epoch, 1, "no change, no new epoch");
    assert_eq!(net.record(&q).votes.len(), 1);
}

#[test]
fn a_rejection_that_leaves_no_quorum_reachable_ends_the_proposal() {
    let mut net = Net::new();
    let p = net.propose(0, add_stranger(), 1);
    net.block(vec![p.clone(), net.vote(1, &p, false, 1)]).expect("one rejection");
    assert_eq!(net.record(&p).status, RecordedStatus::Pending, "30 of 40 can still approve");
    net.block(vec![net.vote(2, &p, false, 1)]).expect("second rejection");
    assert_eq!(net.record(&p).status, RecordedStatus::Rejected { height: 1 });
    assert!(matches!(net.record(&p).status_at(1_000), chancery_ledger::gov::ProposalStatus::Rejected { height: 1 }));
}

#[test]
fn an_unvoted_proposal_expires_after_its_height() {
    let mut net = Net::new();
    let p = net.propose(0, add_stranger(), 1);
    net.block(vec![p.clone()]).expect("proposed");
    let record = net.record(&p);
    assert_eq!(record.status_at(100), chancery_ledger::gov::ProposalStatus::Pending);
    assert_eq!(record.status_at(101), chancery_ledger::gov::ProposalStatus::Expired { expires_at_height: 100 });
}

#[test]
fn every_rule_accepts_and_rejects_as_a_user_expects() {
    run_cases(cases());
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
    use chancery_ledger::block::{Block, Header};
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
        validators_epoch: 0,
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
        ("validators_epoch", Box::new(|h: &mut Header| h.validators_epoch = 1)),
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

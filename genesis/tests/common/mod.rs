//! A deterministic example network shared by the genesis tests.

use chancery_genesis::Genesis;
use chancery_ledger::codec::BoundedVec;
use chancery_ledger::testkit::{key, public, validator_set};
use chancery_ledger::tx::EvidenceKind;
use chancery_ledger::validator::{CaId, Member, MemberRole, Name};
use chancery_ledger::ChainId;

/// Four validators (operator, notary, court, arbitration), one integrator, one CA.
pub fn example_genesis() -> Genesis {
    let mut genesis = Genesis::new(ChainId::new("court-net-1").expect("valid id"), 1_767_225_600_000);
    let keys: Vec<_> = (0..4).map(|i| key(1, i)).collect();
    for validator in validator_set(&keys, 0).validators.iter() {
        genesis.add_validator(validator.clone()).expect("valid validator");
    }
    genesis
        .add_member(Member {
            name: Name::new("esign-platform").expect("name"),
            key: public(&key(3, 0)),
            role: MemberRole::Integrator {
                kinds: BoundedVec::new(vec![EvidenceKind::Document, EvidenceKind::SigningEvent]).expect("kinds"),
            },
        })
        .expect("integrator");
    genesis
        .add_member(Member {
            name: Name::new("national-ca").expect("name"),
            key: public(&key(4, 0)),
            role: MemberRole::CertificateAuthority { ca: CaId::new("national-ca").expect("id") },
        })
        .expect("ca");
    genesis
}

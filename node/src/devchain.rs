//! The one-validator dev chain's home: keys, genesis and config, created on first run
//! of `chancery dev`.

use std::path::Path;

use chancery_genesis::Genesis;
use chancery_ledger::codec::BoundedVec;
use chancery_ledger::tx::EvidenceKind;
use chancery_ledger::validator::Name;
use chancery_ledger::{ChainId, Member, MemberRole, PublicKey, Role, Validator};

use crate::config::TEMPLATE;
use crate::signer::KeyFile;

/// Why the dev home cannot be created.
#[derive(Debug, thiserror::Error)]
#[error("creating the dev chain in {home}: {message}")]
pub struct DevError {
    /// The home.
    pub home: String,
    /// What failed.
    pub message: String,
}

/// Every evidence kind the demo integrator may anchor.
const DEV_KINDS: [EvidenceKind; 9] = [
    EvidenceKind::Document,
    EvidenceKind::SigningEvent,
    EvidenceKind::IdentityCheck,
    EvidenceKind::IntentCheck,
    EvidenceKind::EvidencePackage,
    EvidenceKind::TimestampToken,
    EvidenceKind::Notarization,
    EvidenceKind::ForensicOpinion,
    EvidenceKind::CourtFiling,
];

/// Submitter keys the dev chain registers for `chancery bench`.
pub const BENCH_SUBMITTERS: usize = 4;

/// Creates the dev chain's home on first run: keys, genesis, config.
pub fn create(home: &Path) -> Result<(), DevError> {
    create_inner(home).map_err(|e| DevError { home: home.display().to_string(), message: e.to_string() })
}

fn create_inner(home: &Path) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(home.join("keys"))?;
    let consensus = KeyFile::generate(&home.join("keys/consensus.key"), None)?;
    let p2p = KeyFile::generate(&home.join("keys/p2p.key"), None)?;
    let integrator = KeyFile::generate(&home.join("integrator.key"), None)?;
    let public = |k: &ed25519_dalek::SigningKey| PublicKey(k.verifying_key().to_bytes());
    let mut genesis = Genesis::new(ChainId::new("chancery-dev")?, crate::shared::now_ms());
    genesis.add_validator(Validator {
        name: Name::new("dev-operator")?,
        role: Role::Operator,
        consensus_key: public(&consensus),
        p2p_key: public(&p2p),
        power: 10,
    })?;
    genesis.add_member(Member {
        name: Name::new("demo-integrator")?,
        key: public(&integrator),
        role: MemberRole::Integrator { kinds: BoundedVec::new(DEV_KINDS.to_vec())? },
    })?;
    // Load generators (`chancery bench`) use several submitters, one per connection, so
    // that their nonces never race each other.
    std::fs::create_dir_all(home.join("bench"))?;
    for i in 0..BENCH_SUBMITTERS {
        let key = KeyFile::generate(&home.join(format!("bench/submitter-{i}.key")), None)?;
        genesis.add_member(Member {
            name: Name::new(format!("bench-submitter-{i}"))?,
            key: public(&key),
            role: MemberRole::Integrator { kinds: BoundedVec::new(vec![EvidenceKind::Document])? },
        })?;
    }
    genesis.validate()?;
    std::fs::write(home.join("genesis.json"), genesis.to_json())?;
    std::fs::write(home.join("config.toml"), TEMPLATE.replacen("moniker = \"chancery-node\"", "moniker = \"dev\"", 1))?;
    Ok(())
}

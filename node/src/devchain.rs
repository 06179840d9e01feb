//! Homes made for you: the one-validator dev chain (`chancery dev`, created on first
//! run) and the local four-institution testnet (`chancery testnet init`).

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

fn public(key: &ed25519_dalek::SigningKey) -> PublicKey {
    PublicKey(key.verifying_key().to_bytes())
}

/// The demo CA's id.
pub const DEMO_CA: &str = "demo-ca";

/// Writes the demo integrator key `dir/integrator.key` (allowed every evidence kind), the
/// demo CA's key `dir/ca.key` (CA id [`DEMO_CA`]), the bench submitter keys
/// `dir/bench/submitter-N.key` (documents only), and the key that anchors hosted
/// signatures, `hosting_home/keys/hosted-submitter.key` (signing events only), and
/// registers them as members. Load generators (`chancery bench`) use one submitter per
/// connection, so that their nonces never race each other.
pub fn add_demo_members(
    genesis: &mut Genesis,
    dir: &Path,
    hosting_home: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let integrator = KeyFile::generate(&dir.join("integrator.key"), None)?;
    genesis.add_member(Member {
        name: Name::new("demo-integrator")?,
        key: public(&integrator),
        role: MemberRole::Integrator { kinds: BoundedVec::new(DEV_KINDS.to_vec())? },
    })?;
    let ca = KeyFile::generate(&dir.join("ca.key"), None)?;
    genesis.add_member(Member {
        name: Name::new("demo-ca")?,
        key: public(&ca),
        role: MemberRole::CertificateAuthority { ca: chancery_ledger::validator::CaId::new(DEMO_CA)? },
    })?;
    std::fs::create_dir_all(hosting_home.join("keys"))?;
    let hosting = KeyFile::generate(&hosting_home.join("keys/hosted-submitter.key"), None)?;
    genesis.add_member(Member {
        name: Name::new("hosted-signing")?,
        key: public(&hosting),
        role: MemberRole::Integrator { kinds: BoundedVec::new(vec![EvidenceKind::SigningEvent])? },
    })?;
    std::fs::create_dir_all(dir.join("bench"))?;
    for i in 0..BENCH_SUBMITTERS {
        let key = KeyFile::generate(&dir.join(format!("bench/submitter-{i}.key")), None)?;
        genesis.add_member(Member {
            name: Name::new(format!("bench-submitter-{i}"))?,
            key: public(&key),
            role: MemberRole::Integrator { kinds: BoundedVec::new(vec![EvidenceKind::Document])? },
        })?;
    }
    Ok(())
}

/// A genesis for `chain_id` starting now, with default parameters but the idle interval
/// if given.
fn new_genesis(chain_id: &str, empty_block_interval_ms: Option<u64>) -> Result<Genesis, Box<dyn std::error::Error>> {
    let mut genesis = Genesis::new(ChainId::new(chain_id)?, crate::clock::now_ms());
    if let Some(interval) = empty_block_interval_ms {
        genesis.params.empty_block_interval_ms = interval;
    }
    Ok(genesis)
}

/// Creates the dev chain's home on first run: keys, genesis, config. The genesis sets
/// `empty_block_interval_ms` if given (else the default of [`Params`]).
///
/// [`Params`]: chancery_ledger::params::Params
pub fn create(home: &Path, empty_block_interval_ms: Option<u64>) -> Result<(), DevError> {
    create_inner(home, empty_block_interval_ms)
        .map_err(|e| DevError { home: home.display().to_string(), message: e.to_string() })
}

fn create_inner(home: &Path, empty_block_interval_ms: Option<u64>) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(home.join("keys"))?;
    let consensus = crate::signer::generate_consensus_key(
        &home.join("keys/consensus.key"),
        &home.join("keys/signer_state.json"),
        None,
    )?;
    let p2p = KeyFile::generate(&home.join("keys/p2p.key"), None)?;
    // The institution's governance key: beside the node's keys on a dev chain; a real
    // institution keeps it offline (docs/OPERATIONS.md).
    let admin = KeyFile::generate(&home.join("admin.key"), None)?;
    let mut genesis = new_genesis("chancery-dev", empty_block_interval_ms)?;
    genesis.add_validator(Validator {
        name: Name::new("dev-operator")?,
        role: Role::Operator,
        consensus_key: public(&consensus),
        p2p_key: public(&p2p),
        admin_key: public(&admin),
        power: 10,
    })?;
    add_demo_members(&mut genesis, home, home)?;
    genesis.validate()?;
    std::fs::write(home.join("genesis.json"), genesis.to_json())?;
    std::fs::write(home.join("config.toml"), TEMPLATE.replacen("moniker = \"chancery-node\"", "moniker = \"dev\"", 1))?;
    Ok(())
}

/// The testnet's validators: home directory name, validator name, role.
pub const TESTNET_VALIDATORS: [(&str, &str, Role); 4] = [
    ("operator", "Platform Operator", Role::Operator),
    ("notary", "Notary Office", Role::Notary),
    ("court", "District Court", Role::Court),
    ("arbitration", "Arbitration Commission", Role::Arbitration),
];

/// The testnet's observer home.
pub const TESTNET_OBSERVER: &str = "observer";

/// One testnet node as `chancery testnet init` made it.
#[derive(Debug, Clone)]
pub struct TestnetNode {
    /// Home directory name.
    pub name: String,
    /// RPC address.
    pub rpc: String,
    /// P2P multiaddr with its peer id.
    pub p2p: String,
}

/// Writes a local testnet under `out`: `genesis.json` (four validators, named and
/// roled), the demo integrator and bench keys, and the homes of the four validators and
/// one observer, each with distinct loopback ports from `base_port` (RPC `base_port +
/// 10 i`, p2p `base_port + 10 i + 1`) and every other node as a peer. The genesis sets
/// `empty_block_interval_ms` if given.
pub fn create_testnet(
    out: &Path,
    base_port: u16,
    empty_block_interval_ms: Option<u64>,
) -> Result<Vec<TestnetNode>, DevError> {
    create_testnet_inner(out, base_port, empty_block_interval_ms)
        .map_err(|e| DevError { home: out.display().to_string(), message: e.to_string() })
}

fn create_testnet_inner(
    out: &Path,
    base_port: u16,
    empty_block_interval_ms: Option<u64>,
) -> Result<Vec<TestnetNode>, Box<dyn std::error::Error>> {
    if out.join("genesis.json").exists() {
        return Err(format!("{} already holds a testnet", out.display()).into());
    }
    let mut genesis = new_genesis("chancery-testnet", empty_block_interval_ms)?;
    let mut names: Vec<&str> = TESTNET_VALIDATORS.iter().map(|(home, _, _)| *home).collect();
    names.push(TESTNET_OBSERVER);
    let mut nodes = Vec::new();
    let mut observer_key = None;
    for (i, name) in names.iter().enumerate() {
        let home = out.join(name);
        std::fs::create_dir_all(home.join("keys"))?;
        let consensus = crate::signer::generate_consensus_key(
            &home.join("keys/consensus.key"),
            &home.join("keys/signer_state.json"),
            None,
        )?;
        let p2p = KeyFile::generate(&home.join("keys/p2p.key"), None)?;
        if let Some((_, full_name, role)) = TESTNET_VALIDATORS.iter().find(|(h, _, _)| h == name) {
            let admin = KeyFile::generate(&home.join("admin.key"), None)?;
            genesis.add_validator(Validator {
                name: Name::new(*full_name)?,
                role: *role,
                consensus_key: public(&consensus),
                p2p_key: public(&p2p),
                admin_key: public(&admin),
                power: 10,
            })?;
        } else {
            observer_key = Some(public(&p2p));
        }
        let port = base_port + 10 * i as u16;
        let peer_id = crate::p2p::peer_id(&public(&p2p)).map_err(|e| e.to_string())?;
        nodes.push(TestnetNode {
            name: name.to_string(),
            rpc: format!("127.0.0.1:{port}"),
            p2p: format!("/ip4/127.0.0.1/tcp/{}/p2p/{peer_id}", port + 1),
        });
    }
    add_demo_members(&mut genesis, out, &out.join(TESTNET_VALIDATORS[0].0))?;
    genesis.validate()?;
    std::fs::write(out.join("genesis.json"), genesis.to_json())?;
    let observers = observer_key.map(|k| vec![k.to_hex()]).unwrap_or_default();
    for node in &nodes {
        let home = out.join(&node.name);
        std::fs::write(home.join("genesis.json"), genesis.to_json())?;
        let peers: Vec<String> = nodes.iter().filter(|n| n.name != node.name).map(|n| format!("{:?}", n.p2p)).collect();
        let observers: Vec<String> = observers.iter().map(|o| format!("{o:?}")).collect();
        let listen = node.p2p.split("/p2p/").next().unwrap_or_default();
        let config = TEMPLATE
            .replacen("moniker = \"chancery-node\"", &format!("moniker = {:?}", node.name), 1)
            .replacen("listen = \"127.0.0.1:7700\"", &format!("listen = {:?}", node.rpc), 1)
            .replacen("listen = \"\"", &format!("listen = {listen:?}"), 1)
            .replacen("peers = []", &format!("peers = [{}]", peers.join(", ")), 1)
            .replacen("observers = []", &format!("observers = [{}]", observers.join(", ")), 1);
        crate::config::Config::parse(&config, &format!("testnet config of {}", node.name))?;
        std::fs::write(home.join("config.toml"), config)?;
    }
    Ok(nodes)
}

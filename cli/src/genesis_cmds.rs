//! `chancery genesis`: write a genesis, add validators and members, validate and hash it.

use std::path::Path;

use anyhow::{Context, Result};
use chancery_genesis::Genesis;

use crate::read_text;

/// `chancery genesis validate`.
pub(crate) fn validate(file: &Path) -> Result<()> {
    let genesis = Genesis::from_json(&read_text(file, "genesis file")?)?;
    println!(
        "genesis of chain {} is valid: {} validators, {} members, hash {}",
        genesis.chain_id,
        genesis.validators.validators.len(),
        genesis.members.len(),
        genesis.hash()
    );
    Ok(())
}

/// `chancery genesis hash`.
pub(crate) fn hash(file: &Path) -> Result<()> {
    println!("{}", Genesis::from_json(&read_text(file, "genesis file")?)?.hash());
    Ok(())
}

/// `chancery genesis new`.
pub(crate) fn new(chain_id: &str, out: &Path, time_ms: Option<u64>) -> Result<()> {
    let chain_id = chancery_ledger::ChainId::new(chain_id)?;
    let time_ms = match time_ms {
        Some(t) => t,
        None => chancery_node::clock::now_ms(),
    };
    if out.exists() {
        anyhow::bail!("{} exists; choose a new file", out.display());
    }
    std::fs::write(out, Genesis::new(chain_id, time_ms).to_json())?;
    println!("wrote {}; add validators with `chancery genesis add-validator`", out.display());
    Ok(())
}

/// A validator to add, as given on the command line.
pub(crate) struct NewValidator<'a> {
    pub(crate) name: String,
    pub(crate) role: &'a str,
    pub(crate) consensus_key: &'a Path,
    pub(crate) p2p_key: &'a Path,
    pub(crate) admin_key: &'a Path,
    pub(crate) power: u64,
}

/// `chancery genesis add-validator`.
pub(crate) fn add_validator(file: &Path, new: NewValidator<'_>) -> Result<()> {
    let mut genesis = read_genesis_draft(file)?;
    let role: chancery_ledger::Role = serde_json::from_value(serde_json::Value::String(new.role.to_string()))
        .with_context(|| {
            format!("unknown role {:?}: use operator, notary, court, arbitration or observer", new.role)
        })?;
    let validator = chancery_ledger::Validator {
        name: chancery_ledger::validator::Name::new(new.name)?,
        role,
        consensus_key: chancery_node::signer::KeyFile::public_key(new.consensus_key)?,
        p2p_key: chancery_node::signer::KeyFile::public_key(new.p2p_key)?,
        admin_key: chancery_node::signer::KeyFile::public_key(new.admin_key)?,
        power: new.power,
    };
    genesis.add_validator(validator)?;
    write_genesis(file, &genesis)
}

/// `chancery genesis add-member`.
pub(crate) fn add_member(file: &Path, name: String, key: &Path, kinds: &[String], ca: Option<&str>) -> Result<()> {
    let mut genesis = read_genesis_draft(file)?;
    let role = crate::gov_cmds::member_role(kinds, ca)?;
    let member = chancery_ledger::Member {
        name: chancery_ledger::validator::Name::new(name)?,
        key: chancery_node::signer::KeyFile::public_key(key)?,
        role,
    };
    genesis.add_member(member)?;
    write_genesis(file, &genesis)
}

/// A genesis being built: parsed without the full validation (it may have no validators
/// yet); every addition is validated by the builder.
fn read_genesis_draft(path: &Path) -> Result<Genesis> {
    let text = read_text(path, "genesis file")?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a genesis document", path.display()))
}

fn write_genesis(path: &Path, genesis: &Genesis) -> Result<()> {
    std::fs::write(path, genesis.to_json())?;
    println!(
        "updated {}: {} validators, {} members",
        path.display(),
        genesis.validators.validators.len(),
        genesis.members.len()
    );
    Ok(())
}

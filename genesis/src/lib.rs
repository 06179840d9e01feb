//! Chancery's genesis document: the JSON schema, its validation (errors name the rule
//! broken), creation, and the stable genesis hash that every chain and proof is bound to.
//!
//! The genesis hash is `BLAKE3-derive_key("chancery v1 genesis", canonical bytes)` of the
//! parsed document, so it does not depend on JSON whitespace or key order.

#![warn(missing_docs)]

use std::collections::HashSet;

use bincode::{Decode, Encode};
use chancery_ledger::codec::{encode, BoundedVec, Canonical};
use chancery_ledger::limits::VALIDATORS_MAX;
use chancery_ledger::validator::{Member, MemberRole, Validator, ValidatorSet, ValidatorSetError};
use chancery_ledger::verify::{verify_json, Report, TrustRoot, VerifyError};
use chancery_ledger::{ChainId, Hash, HashContext, Params};
use serde::{Deserialize, Serialize};

/// Most members a genesis may register.
pub const GENESIS_MEMBERS_MAX: usize = 1024;
/// Largest genesis file accepted, in bytes of JSON.
pub const GENESIS_JSON_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Largest canonical encoding of a genesis.
pub const GENESIS_BYTES_MAX: usize = 1024 * 1024;

const _: () = assert!(GENESIS_MEMBERS_MAX * 512 + VALIDATORS_MAX * 256 <= GENESIS_BYTES_MAX);

/// The genesis document.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// The chain id every tx and header carries.
    pub chain_id: ChainId,
    /// Time of genesis, milliseconds since the Unix epoch; block 0 is later.
    pub genesis_time_ms: u64,
    /// Block limits, clock drift and consensus timeouts.
    pub params: Params,
    /// The first validator set, in proposer-rotation order.
    pub validators: ValidatorSet,
    /// Registered integrators and certificate authorities.
    pub members: BoundedVec<Member, GENESIS_MEMBERS_MAX>,
}

impl Canonical for Genesis {
    const KIND: &'static str = "genesis";
    const BYTES_MAX: usize = GENESIS_BYTES_MAX;
}

/// A genesis that cannot be used, with the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// The file is too large.
    #[error("genesis file is {len} bytes, above the limit of {max}")]
    TooLarge {
        /// Size.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Not JSON of the genesis schema (unknown role, missing field, bad key hex, ...).
    #[error("genesis is not a valid genesis document: {reason}")]
    Json {
        /// The parser's message, with line and column.
        reason: String,
    },
    /// A parameter is out of range.
    #[error("genesis {0}")]
    Params(#[from] chancery_ledger::block::ParamsError),
    /// No validators.
    #[error("genesis has no validators: add at least one with `chancery genesis add-validator`")]
    NoValidators,
    /// The validator set breaks a rule.
    #[error("genesis validators: {0}")]
    Validators(#[from] ValidatorSetError),
    /// Genesis time zero.
    #[error("genesis_time_ms must be set to the chain's start time (milliseconds since the Unix epoch)")]
    NoGenesisTime,
    /// Two members share a key or name, or a member reuses a validator's key.
    #[error("member {name:?}: its {what} {value} is already used by another member or validator; each needs its own")]
    DuplicateMember {
        /// Member name.
        name: String,
        /// "key", "name" or "CA id".
        what: &'static str,
        /// The duplicated value.
        value: String,
    },
    /// A member's key is not a valid Ed25519 key.
    #[error("member {name:?} has an invalid key {key}")]
    InvalidMemberKey {
        /// Member name.
        name: String,
        /// The key.
        key: String,
    },
    /// An integrator permitted nothing.
    #[error("integrator {name:?} may submit no evidence kind: list at least one in its kinds")]
    IntegratorWithoutKinds {
        /// Member name.
        name: String,
    },
    /// Too many validators or members.
    #[error("genesis lists too many {what}: {count}, the limit is {max}")]
    TooMany {
        /// "validators" or "members".
        what: &'static str,
        /// Count.
        count: usize,
        /// Limit.
        max: usize,
    },
}

impl Genesis {
    /// A genesis with default parameters and no validators or members yet.
    pub fn new(chain_id: ChainId, genesis_time_ms: u64) -> Self {
        Genesis {
            chain_id,
            genesis_time_ms,
            params: Params::default(),
            validators: ValidatorSet { validators: BoundedVec::empty() },
            members: BoundedVec::empty(),
        }
    }

    /// Parses and validates genesis JSON.
    pub fn from_json(json: &str) -> Result<Self, GenesisError> {
        if json.len() > GENESIS_JSON_BYTES_MAX {
            return Err(GenesisError::TooLarge { len: json.len(), max: GENESIS_JSON_BYTES_MAX });
        }
        let genesis: Genesis = serde_json::from_str(json).map_err(|e| GenesisError::Json { reason: e.to_string() })?;
        genesis.validate()?;
        Ok(genesis)
    }

    /// Pretty JSON, the form written to `genesis.json`.
    pub fn to_json(&self) -> String {
        // Plain data: serialisation cannot fail.
        serde_json::to_string_pretty(self).expect("genesis serialises to JSON") + "\n"
    }

    /// Checks every rule; the error names the first one broken.
    pub fn validate(&self) -> Result<(), GenesisError> {
        if self.genesis_time_ms == 0 {
            return Err(GenesisError::NoGenesisTime);
        }
        self.params.validate()?;
        if self.validators.validators.is_empty() {
            return Err(GenesisError::NoValidators);
        }
        self.validators.validate()?;
        self.validate_members()
    }

    fn validate_members(&self) -> Result<(), GenesisError> {
        let mut keys: HashSet<_> =
            self.validators.validators.iter().flat_map(|v| [v.consensus_key, v.p2p_key, v.admin_key]).collect();
        let mut names = HashSet::new();
        let mut ca_ids = HashSet::new();
        for member in self.members.iter() {
            let name = member.name.to_string();
            if !member.key.is_valid() {
                return Err(GenesisError::InvalidMemberKey { name, key: member.key.to_hex() });
            }
            if !keys.insert(member.key) {
                return Err(GenesisError::DuplicateMember { name, what: "key", value: member.key.to_hex() });
            }
            if !names.insert(name.clone()) {
                return Err(GenesisError::DuplicateMember { value: name.clone(), name, what: "name" });
            }
            match &member.role {
                MemberRole::Integrator { kinds } if kinds.is_empty() => {
                    return Err(GenesisError::IntegratorWithoutKinds { name })
                }
                MemberRole::Integrator { .. } => {}
                MemberRole::CertificateAuthority { ca } => {
                    if !ca_ids.insert(ca.clone()) {
                        return Err(GenesisError::DuplicateMember { name, what: "CA id", value: ca.to_string() });
                    }
                }
            }
        }
        Ok(())
    }

    /// Adds a validator, then checks the set.
    pub fn add_validator(&mut self, validator: Validator) -> Result<(), GenesisError> {
        let mut list = self.validators.validators.to_vec();
        list.push(validator);
        let count = list.len();
        let set = ValidatorSet::new(list).map_err(|_| GenesisError::TooMany {
            what: "validators",
            count,
            max: VALIDATORS_MAX,
        })?;
        set.validate()?;
        self.validators = set;
        Ok(())
    }

    /// Adds a member, then checks the members.
    pub fn add_member(&mut self, member: Member) -> Result<(), GenesisError> {
        let mut list = self.members.to_vec();
        list.push(member);
        let count = list.len();
        let members = BoundedVec::new(list).map_err(|_| GenesisError::TooMany {
            what: "members",
            count,
            max: GENESIS_MEMBERS_MAX,
        })?;
        let previous = std::mem::replace(&mut self.members, members);
        if let Err(e) = self.validate_members() {
            self.members = previous;
            return Err(e);
        }
        Ok(())
    }

    /// The genesis hash: `BLAKE3-derive_key("chancery v1 genesis", canonical bytes)`.
    pub fn hash(&self) -> Hash {
        HashContext::Genesis.hash(&encode(self))
    }

    /// What a chain store is created from.
    pub fn chain_spec(&self) -> chancery_ledger::store::ChainSpec {
        chancery_ledger::store::ChainSpec {
            chain_id: self.chain_id.clone(),
            genesis_hash: self.hash(),
            params: self.params.clone(),
            validators: self.validators.clone(),
            members: self.members.to_vec(),
        }
    }

    /// What an offline verifier trusts from this genesis.
    pub fn trust_root(&self) -> TrustRoot {
        TrustRoot {
            chain_id: self.chain_id.clone(),
            genesis_hash: self.hash(),
            validators: self.validators.clone(),
            members: self.members.to_vec(),
        }
    }
}

/// Why a bundle could not be verified against a genesis file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleCheckError {
    /// The genesis is unusable.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// The bundle does not verify.
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

/// Verifies a proof bundle (JSON) against a genesis file (JSON) and, optionally, the
/// anchored file: the whole offline check a court runs.
pub fn verify_bundle(bundle_json: &str, genesis_json: &str, file: Option<&[u8]>) -> Result<Report, BundleCheckError> {
    let genesis = Genesis::from_json(genesis_json)?;
    Ok(verify_json(bundle_json, &genesis.trust_root(), file)?)
}

//! Validator sets, members, and the quorum rule (more than two thirds of the voting power).

use std::collections::HashSet;

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::codec::{encode, BoundedString, BoundedVec, Canonical};
use crate::crypto::{PublicKey, Signature, SignatureError};
use crate::hash::{Hash, HashContext};
use crate::limits::{MEMBER_KINDS_MAX, NAME_BYTES_MAX, VALIDATORS_MAX, VALIDATOR_POWER_MAX, VALIDATOR_SET_BYTES_MAX};
use crate::types::ids::EvidenceKind;

pub use crate::types::ids::CaId;

/// A human-readable name of a validator or member.
pub type Name = BoundedString<NAME_BYTES_MAX>;
/// The institution a validator belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The e-signature platform operator.
    Operator,
    /// A notary office.
    Notary,
    /// A court.
    Court,
    /// An arbitration commission.
    Arbitration,
    /// A read-only participant: listed for the network's allow-list, never votes
    /// (its power is zero).
    Observer,
}

impl Role {
    /// The role's lower-case name.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Notary => "notary",
            Role::Court => "court",
            Role::Arbitration => "arbitration",
            Role::Observer => "observer",
        }
    }
}

/// One validator: who it is, its keys and its voting power.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validator {
    /// Name of the institution, shown in reports.
    pub name: Name,
    /// Its role.
    pub role: Role,
    /// Key that signs votes and proposals.
    pub consensus_key: PublicKey,
    /// Key that identifies its node on the network.
    pub p2p_key: PublicKey,
    /// Key that signs the institution's governance txs (proposals, votes, key rotations);
    /// the institution's root of trust, best kept offline.
    pub admin_key: PublicKey,
    /// Voting power; zero exactly for observers.
    pub power: u64,
}

/// The validators of a block, in proposer-rotation order.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ValidatorSet {
    /// The validators.
    pub validators: BoundedVec<Validator, VALIDATORS_MAX>,
}

impl Canonical for ValidatorSet {
    const KIND: &'static str = "validator set";
    const BYTES_MAX: usize = VALIDATOR_SET_BYTES_MAX;
}

/// A validator set that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorSetError {
    /// No validator has voting power.
    #[error(
        "the validator set has no voting power: at least one non-observer validator with power 1 or more is needed"
    )]
    NoVotingPower,
    /// A key appears twice.
    #[error(
        "validator {name:?} reuses the {which} key {key} of another validator; every validator needs its own keys"
    )]
    DuplicateKey {
        /// The second validator using it.
        name: String,
        /// "consensus", "p2p" or "admin".
        which: &'static str,
        /// The key.
        key: String,
    },
    /// A name appears twice.
    #[error("validator name {name:?} is used twice; names must be unique")]
    DuplicateName {
        /// The name.
        name: String,
    },
    /// A voting validator has zero power, or an observer has some.
    #[error("validator {name:?} has role {role} and power {power}: observers must have power 0, every other role at least 1")]
    PowerForRole {
        /// Validator name.
        name: String,
        /// Its role.
        role: &'static str,
        /// Its power.
        power: u64,
    },
    /// Power above the limit.
    #[error("validator {name:?} has power {power}, above the limit of {max}")]
    PowerTooLarge {
        /// Validator name.
        name: String,
        /// Its power.
        power: u64,
        /// The limit.
        max: u64,
    },
    /// A key is not a valid Ed25519 point.
    #[error("validator {name:?} has an invalid {which} key {key}")]
    InvalidKey {
        /// Validator name.
        name: String,
        /// "consensus", "p2p" or "admin".
        which: &'static str,
        /// The key.
        key: String,
    },
}

/// Why a set of signatures is not a quorum of a validator set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuorumError {
    /// A signer is not in the set (or is an observer, who cannot vote).
    #[error("signer {key} is not a voting validator of this set")]
    NotAValidator {
        /// The signer's key.
        key: String,
    },
    /// A validator signed twice.
    #[error("validator {name:?} appears twice among the signatures; each may be counted once")]
    DuplicateSigner {
        /// Validator name.
        name: String,
    },
    /// A signature does not verify.
    #[error("signature of validator {name:?} does not verify: {source}")]
    BadSignature {
        /// Validator name.
        name: String,
        /// The failure.
        source: SignatureError,
    },
    /// Valid signatures, but not more than two thirds of the power.
    #[error("signatures carry power {signed} of {total}; more than two thirds is needed")]
    InsufficientPower {
        /// Power of the valid signers.
        signed: u64,
        /// Total power of the set.
        total: u64,
    },
}

impl ValidatorSet {
    /// Builds a set from validators (at most [`VALIDATORS_MAX`]).
    pub fn new(validators: Vec<Validator>) -> Result<Self, crate::codec::LimitError> {
        Ok(Self { validators: BoundedVec::new(validators)? })
    }

    /// `validators_hash`: the hash of the set's canonical bytes.
    pub fn hash(&self) -> Hash {
        HashContext::ValidatorSet.hash(&encode(self))
    }

    /// Sum of all voting power (cannot overflow: see the limits).
    pub fn total_power(&self) -> u64 {
        self.validators.iter().map(|v| v.power.min(VALIDATOR_POWER_MAX)).sum()
    }

    /// The validator with this consensus key.
    pub fn find(&self, consensus_key: &PublicKey) -> Option<(usize, &Validator)> {
        self.validators.iter().enumerate().find(|(_, v)| v.consensus_key == *consensus_key)
    }

    /// The validator whose governance (admin) key this is.
    pub fn find_admin(&self, admin_key: &PublicKey) -> Option<(usize, &Validator)> {
        self.validators.iter().enumerate().find(|(_, v)| v.admin_key == *admin_key)
    }

    /// Whether `key` is any key (consensus, p2p or admin) of any validator.
    pub fn uses_key(&self, key: &PublicKey) -> bool {
        self.validators.iter().any(|v| v.consensus_key == *key || v.p2p_key == *key || v.admin_key == *key)
    }

    /// Checks every rule of a well-formed set.
    pub fn validate(&self) -> Result<(), ValidatorSetError> {
        let mut consensus_keys = HashSet::new();
        let mut p2p_keys = HashSet::new();
        // An admin key is used for nothing else: no other validator's key of any kind.
        let mut admin_keys = HashSet::new();
        let mut names = HashSet::new();
        for v in self.validators.iter() {
            let name = v.name.as_str().to_string();
            let voting = v.role != Role::Observer;
            if voting != (v.power > 0) {
                return Err(ValidatorSetError::PowerForRole { name, role: v.role.name(), power: v.power });
            }
            if v.power > VALIDATOR_POWER_MAX {
                return Err(ValidatorSetError::PowerTooLarge { name, power: v.power, max: VALIDATOR_POWER_MAX });
            }
            for (which, key) in [("consensus", &v.consensus_key), ("p2p", &v.p2p_key), ("admin", &v.admin_key)] {
                if !key.is_valid() {
                    return Err(ValidatorSetError::InvalidKey { name, which, key: key.to_hex() });
                }
            }
            if !consensus_keys.insert(v.consensus_key) {
                return Err(ValidatorSetError::DuplicateKey {
                    name,
                    which: "consensus",
                    key: v.consensus_key.to_hex(),
                });
            }
            if !p2p_keys.insert(v.p2p_key) {
                return Err(ValidatorSetError::DuplicateKey { name, which: "p2p", key: v.p2p_key.to_hex() });
            }
            if !admin_keys.insert(v.admin_key) {
                return Err(ValidatorSetError::DuplicateKey { name, which: "admin", key: v.admin_key.to_hex() });
            }
            if !names.insert(name.clone()) {
                return Err(ValidatorSetError::DuplicateName { name });
            }
        }
        let reused =
            self.validators.iter().find(|v| consensus_keys.contains(&v.admin_key) || p2p_keys.contains(&v.admin_key));
        if let Some(v) = reused {
            return Err(ValidatorSetError::DuplicateKey {
                name: v.name.to_string(),
                which: "admin",
                key: v.admin_key.to_hex(),
            });
        }
        if self.total_power() == 0 {
            return Err(ValidatorSetError::NoVotingPower);
        }
        Ok(())
    }

    /// Checks that `signatures` over `message` come from distinct voting validators of
    /// this set holding more than two thirds of its power. Returns the signers' indices
    /// in the order given.
    pub fn verify_quorum(
        &self,
        message: &Hash,
        signatures: &[(PublicKey, Signature)],
    ) -> Result<Vec<usize>, QuorumError> {
        let mut seen = vec![false; self.validators.len()];
        let mut signers = Vec::with_capacity(signatures.len());
        let mut signed: u64 = 0;
        for (key, signature) in signatures {
            let (index, validator) = match self.find(key) {
                Some((i, v)) if v.power > 0 => (i, v),
                _ => return Err(QuorumError::NotAValidator { key: key.to_hex() }),
            };
            if seen[index] {
                return Err(QuorumError::DuplicateSigner { name: validator.name.to_string() });
            }
            seen[index] = true;
            key.verify(message, signature)
                .map_err(|source| QuorumError::BadSignature { name: validator.name.to_string(), source })?;
            signed += validator.power.min(VALIDATOR_POWER_MAX);
            signers.push(index);
        }
        let total = self.total_power();
        if !has_quorum(signed, total) {
            return Err(QuorumError::InsufficientPower { signed, total });
        }
        Ok(signers)
    }
}

/// Whether `signed` is more than two thirds of `total`.
pub fn has_quorum(signed: u64, total: u64) -> bool {
    (signed as u128) * 3 > (total as u128) * 2
}

/// A registered submitter: an integrator or a certificate authority.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Name shown in reports.
    pub name: Name,
    /// Key that signs its transactions.
    pub key: PublicKey,
    /// What it may submit.
    pub role: MemberRole,
}

impl Canonical for Member {
    const KIND: &'static str = "member";
    const BYTES_MAX: usize = 1024;
}

/// What a member may submit.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum MemberRole {
    /// An e-signature backend: evidence of the listed kinds.
    Integrator {
        /// Evidence kinds it may anchor.
        kinds: BoundedVec<EvidenceKind, MEMBER_KINDS_MAX>,
    },
    /// A certificate authority: certificate events for its own CA id.
    CertificateAuthority {
        /// Its CA id.
        ca: CaId,
    },
}

//! Misbehaviour evidence: two different signed votes (or proposals) of one validator for
//! the same height, round and step. Self-contained and verifiable offline against the
//! validator set; anchored on chain by the validators' nodes (`TxBody::Misbehaviour`).

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::codec::{encode, Canonical};
use crate::crypto::{PublicKey, Signature};
use crate::hash::{Hash, HashContext};
use crate::types::ids::ChainId;
use crate::types::validator::ValidatorSet;
use crate::types::vote::{ProposalHeader, Vote};

/// One signed consensus message as evidence carries it.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignedItem {
    /// A vote and its signature.
    Vote {
        /// The vote.
        vote: Vote,
        /// Its signature.
        signature: Signature,
    },
    /// A proposal header and its signature.
    Proposal {
        /// The proposal.
        proposal: ProposalHeader,
        /// Its signature.
        signature: Signature,
    },
}

impl SignedItem {
    fn message(&self) -> Hash {
        match self {
            SignedItem::Vote { vote, .. } => vote.signing_message(),
            SignedItem::Proposal { proposal, .. } => proposal.signing_message(),
        }
    }

    fn signature(&self) -> &Signature {
        match self {
            SignedItem::Vote { signature, .. } | SignedItem::Proposal { signature, .. } => signature,
        }
    }

    /// The genesis hash the message was signed for.
    pub fn genesis_hash(&self) -> Hash {
        match self {
            SignedItem::Vote { vote, .. } => vote.genesis_hash,
            SignedItem::Proposal { proposal, .. } => proposal.genesis_hash,
        }
    }

    /// (chain, height, round, step): two items of one validator must never differ here.
    pub fn slot(&self) -> (ChainId, u64, u32, u8) {
        match self {
            SignedItem::Vote { vote, .. } => (vote.chain_id.clone(), vote.height, vote.round, vote.kind as u8),
            SignedItem::Proposal { proposal, .. } => (proposal.chain_id.clone(), proposal.height, proposal.round, 2),
        }
    }
}

/// Two conflicting signed messages of one validator.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Equivocation {
    /// The validator's consensus key.
    pub validator: PublicKey,
    /// One message.
    pub first: SignedItem,
    /// The other.
    pub second: SignedItem,
}

impl Canonical for Equivocation {
    const KIND: &'static str = "equivocation";
    const BYTES_MAX: usize = 1024;
}

/// Why evidence does not prove an equivocation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EquivocationError {
    /// The accused is not a validator of the set.
    #[error("{0} is not a validator of this set")]
    NotAValidator(String),
    /// The two messages are not for the same slot, or are the same message (however
    /// signed).
    #[error("the two messages are not two different messages for one height, round and step")]
    NoConflict,
    /// A signature does not verify.
    #[error("a signature does not verify under the accused's key")]
    BadSignature,
}

impl Equivocation {
    /// Checks that `validator` is in `set` and signed both, different, messages for one
    /// height, round and step.
    pub fn verify(&self, set: &ValidatorSet) -> Result<(), EquivocationError> {
        if set.find(&self.validator).is_none() {
            return Err(EquivocationError::NotAValidator(self.validator.to_hex()));
        }
        let same_chain = self.first.genesis_hash() == self.second.genesis_hash();
        // The signed messages must differ: one message signed twice (a randomised signer
        // makes a new signature each time) is no equivocation.
        if !same_chain || self.first.slot() != self.second.slot() || self.first.message() == self.second.message() {
            return Err(EquivocationError::NoConflict);
        }
        for item in [&self.first, &self.second] {
            self.validator.verify(&item.message(), item.signature()).map_err(|_| EquivocationError::BadSignature)?;
        }
        Ok(())
    }

    /// The digest that anchors it: `H("chancery v1 equivocation", evidence bytes)`.
    pub fn hash(&self) -> Hash {
        HashContext::Equivocation.hash(&encode(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::decode;
    use crate::testkit::{key, public, sign, validator_set};
    use crate::types::vote::VoteKind;

    fn vote(block: Option<&[u8]>, round: u32) -> Vote {
        Vote {
            chain_id: ChainId::new("evidence-test").expect("id"),
            genesis_hash: HashContext::Genesis.hash(b"evidence-test"),
            height: 9,
            round,
            kind: VoteKind::Prevote,
            block_hash: block.map(|b| HashContext::Header.hash(b)),
        }
    }

    fn signed(signer: u16, vote: Vote) -> SignedItem {
        let signature = sign(&key(1, signer), &vote.signing_message());
        SignedItem::Vote { vote, signature }
    }

    #[test]
    fn only_two_different_signed_messages_for_one_slot_prove_equivocation() {
        let set = validator_set(&[key(1, 0), key(1, 1), key(1, 2), key(1, 3)], 0);
        let accused = public(&key(1, 2));
        let real = Equivocation {
            validator: accused,
            first: signed(2, vote(Some(b"a"), 0)),
            second: signed(2, vote(None, 0)),
        };
        assert_eq!(real.verify(&set), Ok(()));
        assert_eq!(decode::<Equivocation>(&encode(&real)), Ok(real.clone()));
        let same = Equivocation { second: real.first.clone(), ..real.clone() };
        assert_eq!(same.verify(&set), Err(EquivocationError::NoConflict));
        let other_round = Equivocation { second: signed(2, vote(None, 1)), ..real.clone() };
        assert_eq!(other_round.verify(&set), Err(EquivocationError::NoConflict));
        let mut relaunched = vote(None, 0);
        relaunched.genesis_hash = HashContext::Genesis.hash(b"relaunched");
        let other_chain = Equivocation { second: signed(2, relaunched), ..real.clone() };
        assert_eq!(other_chain.verify(&set), Err(EquivocationError::NoConflict));
        let forged = Equivocation { second: signed(3, vote(None, 0)), ..real.clone() };
        assert_eq!(forged.verify(&set), Err(EquivocationError::BadSignature));
        let outsider = Equivocation { validator: public(&key(7, 7)), ..real.clone() };
        assert!(matches!(outsider.verify(&set), Err(EquivocationError::NotAValidator(_))));
        assert_ne!(real.hash(), same.hash());
    }

    /// A signature by validator `signer` of the test set with nonce scalar `r`: a
    /// randomised signer (an HSM) makes a different valid signature of one message each
    /// time.
    fn sign_with_nonce(signer: u16, r: u8, message: &Hash) -> (PublicKey, Signature) {
        use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
        use curve25519_dalek::Scalar;
        use sha2::Digest as _;
        let (a, r) = (key(1, signer).to_scalar(), Scalar::from_bytes_mod_order([r; 32]));
        let public = (B * a).compress().to_bytes();
        let big_r = (B * r).compress().to_bytes();
        let k = Scalar::from_bytes_mod_order_wide(
            &sha2::Sha512::new()
                .chain_update(big_r)
                .chain_update(public)
                .chain_update(message.as_bytes())
                .finalize()
                .into(),
        );
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&big_r);
        signature[32..].copy_from_slice((r + k * a).as_bytes());
        (PublicKey(public), Signature(signature))
    }

    #[test]
    fn one_message_signed_twice_by_a_randomised_signer_is_no_equivocation() {
        let message = vote(Some(b"a"), 0);
        let (accused, first) = sign_with_nonce(2, 1, &message.signing_message());
        let (_, second) = sign_with_nonce(2, 2, &message.signing_message());
        assert_eq!(accused, public(&key(1, 2)));
        assert_ne!(first, second, "two signatures of one message");
        let set = validator_set(&[key(1, 0), key(1, 1), key(1, 2), key(1, 3)], 0);
        let twice = Equivocation {
            validator: accused,
            first: SignedItem::Vote { vote: message.clone(), signature: first },
            second: SignedItem::Vote { vote: message.clone(), signature: second },
        };
        assert_eq!(twice.verify(&set), Err(EquivocationError::NoConflict));
        // The same signer's two different messages still prove it.
        let (_, other) = sign_with_nonce(2, 3, &vote(None, 0).signing_message());
        let real = Equivocation { second: SignedItem::Vote { vote: vote(None, 0), signature: other }, ..twice };
        assert_eq!(real.verify(&set), Ok(()));
    }
}

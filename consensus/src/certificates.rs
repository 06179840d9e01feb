//! Checking the vote certificates consensus exchanges: one function rebuilds each vote's
//! signing bytes from what a certificate keeps, checks the signature, refuses unknown and
//! repeated signers, and requires the threshold of voting power.

// The error type is Malachite's `CertificateError`, which the core's resume requires as is.
#![allow(clippy::result_large_err)]

use chancery_ledger::{ChainIdentity, Signature};
use malachitebft_core_types::{
    CertificateError, CommitCertificate, CommitSignature, NilOrVal, PolkaCertificate, PolkaSignature, Round,
    RoundCertificate, RoundCertificateType, RoundSignature, ThresholdParam, ValidatorSet as _, VoteType,
};

use crate::context::{Address, BlockHash, ChanceryContext, ConsensusValidatorSet, ConsensusVote, Height, Sig};

type Error = CertificateError<ChanceryContext>;

/// One signed vote as a certificate keeps it, and the error to report if it is bad.
pub struct CertifiedVote {
    /// The vote, rebuilt.
    pub vote: ConsensusVote,
    /// Its signature.
    pub signature: Sig,
    /// Builds the error naming this signature.
    pub invalid: Box<dyn Fn() -> Error>,
}

/// Checks `votes` against `set`: each signer a member, counted once, its signature valid
/// over the rebuilt vote, and together more than `threshold` of the total power.
pub fn verify_votes(
    chain: &ChainIdentity,
    votes: &[CertifiedVote],
    set: &ConsensusValidatorSet,
    threshold: ThresholdParam,
) -> Result<(), Error> {
    let mut counted: Vec<Address> = Vec::with_capacity(votes.len());
    let mut signed: u64 = 0;
    for item in votes {
        let address = item.vote.validator;
        let Some(validator) = set.get_by_address(&address) else {
            return Err(CertificateError::UnknownValidator(address));
        };
        if counted.contains(&address) {
            return Err((item.invalid)());
        }
        let message = item.vote.signing_message(chain);
        if validator.public_key.verify(&message, &Signature(item.signature.0)).is_err() {
            return Err((item.invalid)());
        }
        counted.push(address);
        signed += validator.power;
    }
    let total = set.total_voting_power();
    if !threshold.is_met(signed, total) {
        return Err(CertificateError::NotEnoughVotingPower { signed, total, expected: threshold.min_expected(total) });
    }
    Ok(())
}

fn vote(
    height: Height,
    round: Round,
    vote_type: VoteType,
    value: NilOrVal<BlockHash>,
    validator: Address,
) -> ConsensusVote {
    ConsensusVote { height, round, vote_type, value, validator }
}

/// Votes of one type for one value, as a commit or polka certificate keeps them: each
/// signature with its signer, and the error that names a bad one.
fn same_value_votes<S: Clone + 'static>(
    (height, round, vote_type, value): (Height, Round, VoteType, BlockHash),
    signatures: &[S],
    parts: impl Fn(&S) -> (Address, Sig),
    invalid: fn(S) -> Error,
) -> Vec<CertifiedVote> {
    signatures
        .iter()
        .map(|s| {
            let (address, signature) = parts(s);
            let s = s.clone();
            CertifiedVote {
                vote: vote(height, round, vote_type, NilOrVal::Val(value), address),
                signature,
                invalid: Box::new(move || invalid(s.clone())),
            }
        })
        .collect()
}

/// A commit certificate: precommits for its value in its round.
pub fn verify_commit(
    chain: &ChainIdentity,
    cert: &CommitCertificate<ChanceryContext>,
    set: &ConsensusValidatorSet,
    threshold: ThresholdParam,
) -> Result<(), Error> {
    let slot = (cert.height, cert.round, VoteType::Precommit, cert.value_id);
    let votes = same_value_votes(
        slot,
        &cert.commit_signatures,
        |s: &CommitSignature<ChanceryContext>| (s.address, s.signature),
        CertificateError::InvalidCommitSignature,
    );
    verify_votes(chain, &votes, set, threshold)
}

/// A polka certificate: prevotes for its value in its round.
pub fn verify_polka(
    chain: &ChainIdentity,
    cert: &PolkaCertificate<ChanceryContext>,
    set: &ConsensusValidatorSet,
    threshold: ThresholdParam,
) -> Result<(), Error> {
    let slot = (cert.height, cert.round, VoteType::Prevote, cert.value_id);
    let votes = same_value_votes(
        slot,
        &cert.polka_signatures,
        |s: &PolkaSignature<ChanceryContext>| (s.address, s.signature),
        CertificateError::InvalidPolkaSignature,
    );
    verify_votes(chain, &votes, set, threshold)
}

/// A round certificate: precommits only (quorum) for `Precommit`, any votes of the round
/// (honest threshold) for `Skip`.
pub fn verify_round(
    chain: &ChainIdentity,
    cert: &RoundCertificate<ChanceryContext>,
    set: &ConsensusValidatorSet,
    quorum: ThresholdParam,
    honest: ThresholdParam,
) -> Result<(), Error> {
    let threshold = match cert.cert_type {
        RoundCertificateType::Precommit => quorum,
        RoundCertificateType::Skip => honest,
    };
    let mut votes = Vec::with_capacity(cert.round_signatures.len());
    for s in &cert.round_signatures {
        let s: &RoundSignature<ChanceryContext> = s;
        if cert.cert_type == RoundCertificateType::Precommit && s.vote_type != VoteType::Precommit {
            return Err(CertificateError::InvalidRoundSignature(s.clone()));
        }
        votes.push(CertifiedVote {
            vote: vote(cert.height, cert.round, s.vote_type, s.value_id, s.address),
            signature: s.signature,
            invalid: {
                let s = s.clone();
                Box::new(move || CertificateError::InvalidRoundSignature(s.clone()))
            },
        });
    }
    verify_votes(chain, &votes, set, threshold)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chancery_ledger::testkit::{key, public, sign, validator_set};
    use malachitebft_core_types::ThresholdParams;

    fn identity(id: &str, genesis: &[u8]) -> ChainIdentity {
        let chain_id = chancery_ledger::ChainId::new(id).expect("id");
        ChainIdentity { chain_id, genesis_hash: chancery_ledger::HashContext::Genesis.hash(genesis) }
    }

    fn commit(signers: &[u16]) -> CommitCertificate<ChanceryContext> {
        let chain = identity("cert-test", b"genesis");
        let value = BlockHash(chancery_ledger::HashContext::Header.hash(b"block"));
        let commit_signatures = signers
            .iter()
            .map(|i| {
                let address = Address(public(&key(1, *i)));
                let vote = vote(Height(4), Round::new(1), VoteType::Precommit, NilOrVal::Val(value), address);
                CommitSignature::new(address, Sig(sign(&key(1, *i), &vote.signing_message(&chain)).0))
            })
            .collect();
        CommitCertificate { height: Height(4), round: Round::new(1), value_id: value, commit_signatures }
    }

    #[test]
    fn a_commit_needs_distinct_known_signers_with_a_quorum() {
        let chain = identity("cert-test", b"genesis");
        let set = ConsensusValidatorSet::from_ledger(&validator_set(&(0..4).map(|i| key(1, i)).collect::<Vec<_>>(), 0));
        let quorum = ThresholdParams::default().quorum;
        assert!(verify_commit(&chain, &commit(&[0, 1, 2]), &set, quorum).is_ok());
        // A vote counted twice is refused, not counted: 2 distinct of 4 is no quorum.
        assert!(matches!(
            verify_commit(&chain, &commit(&[0, 1, 1]), &set, quorum),
            Err(CertificateError::InvalidCommitSignature(_))
        ));
        assert!(matches!(
            verify_commit(&chain, &commit(&[0, 1]), &set, quorum),
            Err(CertificateError::NotEnoughVotingPower { signed: 20, total: 40, .. })
        ));
        assert!(matches!(
            verify_commit(&chain, &commit(&[0, 1, 9]), &set, quorum),
            Err(CertificateError::UnknownValidator(_))
        ));
        let mut forged = commit(&[0, 1, 2]);
        forged.commit_signatures[2].signature.0[0] ^= 1;
        assert!(matches!(
            verify_commit(&chain, &forged, &set, quorum),
            Err(CertificateError::InvalidCommitSignature(_))
        ));
        // The same signatures do not pass as a commit of another chain, nor of a chain
        // relaunched with the same id and keys from another genesis.
        let other = identity("other", b"genesis");
        assert!(verify_commit(&other, &commit(&[0, 1, 2]), &set, quorum).is_err());
        let relaunched = identity("cert-test", b"another genesis");
        assert!(verify_commit(&relaunched, &commit(&[0, 1, 2]), &set, quorum).is_err());
    }
}

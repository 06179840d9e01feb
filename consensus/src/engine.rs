//! The host-agnostic consensus handle. The host feeds [`Input`]s; the engine runs them
//! through the Malachite core and returns, in order, the [`Output`]s the host must carry
//! out: publish, schedule or cancel timers, append to the WAL (before publishing what it
//! appended), build a block, store a decision. Signing is the only effect the core needs
//! answered on the spot; it goes to the [`Signer`] the host passes in, which alone holds
//! keys. Signature and certificate checks are pure and done here.

use std::time::Duration;

use chancery_ledger::block::{Commit, CommitSig};
use chancery_ledger::codec::BoundedVec;
use chancery_ledger::{ChainIdentity, Hash, PublicKey, Signature};
use malachitebft_core_consensus::{
    process, ConsensusMsg, Effect, Error as CoreError, Input, LivenessMsg, MisbehaviorEvidence, Params, Resumable,
    Role, SignedConsensusMsg, State, ThresholdParams,
};
use malachitebft_core_types::{
    CertificateError, CommitCertificate, CommitSignature, LinearTimeouts, Round, RoundCertificate, SignedMessage,
    SignedVote, Timeout, ValuePayload, ValueResponse, VoteExtensionPolicy,
};

use crate::certificates::{verify_commit, verify_polka, verify_round};
use crate::context::{Address, BlockHash, ChanceryContext, ConsensusValidatorSet, Height, Sig};
use crate::wire::WalEntry;

/// The context every consensus type is defined in.
pub type Ctx = ChanceryContext;

/// What the signer is asked to sign, for its double-sign guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignStep {
    /// A proposal.
    Propose,
    /// A prevote.
    Prevote,
    /// A precommit.
    Precommit,
}

/// A signing request: the 32-byte message and where in consensus it belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignRequest {
    /// Height.
    pub height: u64,
    /// Round.
    pub round: u32,
    /// Step.
    pub step: SignStep,
    /// What to sign.
    pub message: Hash,
    /// The consensus key to sign with: the validator's key at this height (an
    /// institution that rotated its key signs with the new one from the effective height).
    pub key: PublicKey,
}

/// The signer refused (its double-sign guard, or it is unreachable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signer refused: {0}")]
pub struct SignerRefused(pub String);

/// The holder of the validator's consensus key.
pub trait Signer {
    /// Signs `request.message` with `request.key`, or refuses.
    fn sign(&mut self, request: &SignRequest) -> Result<Sig, SignerRefused>;

    /// The consensus keys this signer holds, the one in use first. A signer may hold its
    /// successor too, ready for a key rotation's effective height.
    fn public_keys(&mut self) -> Vec<PublicKey>;

    /// The highest height this signer has signed at, if it keeps track: a host whose
    /// chain is behind it (lost data) must not vote until the chain has passed it.
    fn signed_up_to(&self) -> Option<u64> {
        None
    }
}

/// Why the WAL cannot be written, cleared or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("WAL {location}: {message}")]
pub struct WalError {
    /// Where the WAL is (a file path, or a name).
    pub location: String,
    /// What failed.
    pub message: String,
}

/// Where the engine writes its WAL records. `append` must return only once the record is
/// durable: the engine signs right after some records (a proposal after the block it
/// proposes), and a signature must never exist for something the WAL does not hold.
pub trait Wal {
    /// Appends and syncs one record made at `height`, or says why it cannot.
    fn append(&mut self, height: u64, entry: &WalEntry) -> Result<(), WalError>;

    /// Forgets every record (a height is committed: its records are not needed again).
    fn clear(&mut self) -> Result<(), WalError>;
}

impl<T: Wal + ?Sized> Wal for Box<T> {
    fn append(&mut self, height: u64, entry: &WalEntry) -> Result<(), WalError> {
        (**self).append(height, entry)
    }
    fn clear(&mut self) -> Result<(), WalError> {
        (**self).clear()
    }
}

impl<T: Signer + ?Sized> Signer for Box<T> {
    fn sign(&mut self, request: &SignRequest) -> Result<Sig, SignerRefused> {
        (**self).sign(request)
    }
    fn public_keys(&mut self) -> Vec<PublicKey> {
        (**self).public_keys()
    }
    fn signed_up_to(&self) -> Option<u64> {
        (**self).signed_up_to()
    }
}

/// What the host must do, in order.
#[derive(Debug, Clone)]
pub enum Output {
    /// Gossip a signed vote or proposal (after the WAL holds it).
    Publish(SignedConsensusMsg<Ctx>),
    /// Gossip a liveness message (a vote to rebroadcast, a polka or skip certificate).
    PublishLiveness(LivenessMsg<Ctx>),
    /// Gossip a vote again.
    RepublishVote(SignedVote<Ctx>),
    /// Gossip a round certificate again.
    RepublishRoundCertificate(RoundCertificate<Ctx>),
    /// Start a timer; when it fires, feed `Input::TimeoutElapsed(timeout)`.
    ScheduleTimeout {
        /// The timeout.
        timeout: Timeout,
        /// After how long.
        after: Duration,
    },
    /// Cancel a timer.
    CancelTimeout(Timeout),
    /// Cancel every timer.
    CancelAllTimeouts,
    /// A new round started.
    StartRound {
        /// Height.
        height: Height,
        /// Round.
        round: Round,
        /// Its proposer.
        proposer: Address,
        /// Our role in it.
        role: Role,
    },
    /// We propose: build a block for this height and round and feed `Input::Propose`
    /// within `within`.
    GetValue {
        /// Height.
        height: Height,
        /// Round.
        round: Round,
        /// Time left.
        within: Duration,
    },
    /// A block was decided, with the commit that proves it.
    Decide {
        /// The decided block.
        block: BlockHash,
        /// Its commit, as the ledger stores and verifies it.
        commit: Commit,
    },
    /// The height is final: store the final commit and the evidence, then feed
    /// `Input::StartHeight` for the next height.
    Finalize {
        /// The final commit (it may hold more signatures than the one decided).
        commit: Commit,
        /// Equivocations seen at this height.
        evidence: Box<MisbehaviorEvidence<Ctx>>,
    },
    /// A block fetched from a peer came with a valid commit: decode and validate it, then
    /// feed `Input::ProposedValue` with origin `Sync`.
    SyncValueVerified(Box<ValueResponse<Ctx>>, Address),
    /// A block fetched from a peer came with an invalid commit: penalise the peer.
    SyncValueRejected(Height, String),
}

/// Why a proposal is not the round's proposer's own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposalOriginError {
    /// For another height.
    #[error("a proposal for height {height}, not {current}")]
    Height {
        /// Its height.
        height: u64,
        /// The engine's height.
        current: u64,
    },
    /// Named another proposer than the round's.
    #[error("{by} is not the proposer of round {round} (that is {proposer})")]
    NotProposer {
        /// Who it names.
        by: PublicKey,
        /// The round.
        round: i64,
        /// The round's proposer.
        proposer: PublicKey,
    },
    /// Not signed by the proposer it names.
    #[error("the proposal's signature does not verify under its proposer {by}")]
    Signature {
        /// Who it names.
        by: PublicKey,
    },
}

/// Why the engine stopped.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The signer refused: never sign otherwise, stop and let an operator look.
    #[error("consensus halted: {0}")]
    Halted(String),
    /// The core reported an error for an input.
    #[error("consensus core: {0}")]
    Core(String),
}

/// The effects side of the engine, kept apart from the core's state so both can be
/// borrowed while an input runs.
struct Effects {
    chain: ChainIdentity,
    /// This validator's consensus key at this height.
    address: Address,
    timeouts: LinearTimeouts,
    outputs: Vec<Output>,
    halted: Option<String>,
    replaying: bool,
}

/// One validator's (or observer's) consensus.
pub struct Engine {
    state: State<Ctx>,
    effects: Effects,
}

impl Engine {
    /// A validator (`voting`) or observer at `height` with `validators`.
    pub fn new(
        chain: ChainIdentity,
        address: Address,
        height: Height,
        validators: ConsensusValidatorSet,
        timeouts: LinearTimeouts,
        voting: bool,
    ) -> Self {
        let params = Params {
            address,
            threshold_params: ThresholdParams::default(),
            value_payload: ValuePayload::ProposalAndParts,
            enabled: voting,
        };
        let state = State::new(ChanceryContext { chain: chain.clone() }, height, validators, params, 16, 2048);
        let effects = Effects { chain, address, timeouts, outputs: Vec::new(), halted: None, replaying: false };
        Engine { state, effects }
    }

    /// Restarts at `height` after a crash: starts the height, then replays the WAL entries
    /// recorded at it without appending them again. The core reuses our recorded votes and
    /// proposals rather than asking the signer, so a restart never signs anew what it
    /// signed before.
    #[allow(clippy::too_many_arguments)]
    pub fn recover(
        chain: ChainIdentity,
        address: Address,
        height: Height,
        validators: ConsensusValidatorSet,
        timeouts: LinearTimeouts,
        voting: bool,
        replay: &[Input<Ctx>],
        signer: &mut dyn Signer,
        wal: &mut dyn Wal,
    ) -> Result<(Engine, Vec<Output>), EngineError> {
        let mut engine = Engine::new(chain, address, height, validators.clone(), timeouts, voting);
        let mut outputs = engine.handle(
            Input::StartHeight(height, validators, false, None, VoteExtensionPolicy::Disabled),
            signer,
            wal,
        )?;
        engine.state.record_recovered_own_precommit_extensions(replay.iter());
        engine.state.index_wal_entries(replay.iter());
        engine.effects.replaying = true;
        for entry in replay {
            match engine.handle(entry.clone(), signer, wal) {
                Ok(more) => outputs.extend(more),
                Err(e) => {
                    engine.effects.replaying = false;
                    return Err(e);
                }
            }
        }
        engine.effects.replaying = false;
        engine.state.reset_entries_index();
        Ok((engine, outputs))
    }

    /// Whether `signed` is a proposal of this height's set that the core could take: made
    /// by the proposer of its round and signed by it. A host checks this before it
    /// executes the proposed block, so that no peer can make it execute (and keep)
    /// blocks nobody entitled proposed.
    pub fn check_proposal_origin(
        &self,
        signed: &malachitebft_core_types::SignedProposal<Ctx>,
    ) -> Result<(), ProposalOriginError> {
        let proposal = &signed.message;
        if proposal.height != self.state.height() {
            return Err(ProposalOriginError::Height { height: proposal.height.0, current: self.state.height().0 });
        }
        let expected = self.state.get_proposer(proposal.height, proposal.round);
        if proposal.proposer != *expected {
            return Err(ProposalOriginError::NotProposer {
                by: proposal.proposer.0,
                round: proposal.round.as_i64(),
                proposer: expected.0,
            });
        }
        let message = proposal.signing_message(&self.effects.chain);
        proposal
            .proposer
            .0
            .verify(&message, &Signature(signed.signature.0))
            .map_err(|_| ProposalOriginError::Signature { by: proposal.proposer.0 })
    }

    /// The core's state (read-only, for the host).
    pub fn state(&self) -> &State<Ctx> {
        &self.state
    }

    /// Mutable access to the core's state, for WAL replay bookkeeping.
    pub fn state_mut(&mut self) -> &mut State<Ctx> {
        &mut self.state
    }

    /// Runs one input and returns what the host must do, in order, writing WAL records
    /// to `wal` as the core asks for them, before it goes on (and before it signs what
    /// follows them). A failed append halts the engine: nothing after it is signed or
    /// published.
    pub fn handle(
        &mut self,
        input: Input<Ctx>,
        signer: &mut dyn Signer,
        wal: &mut dyn Wal,
    ) -> Result<Vec<Output>, EngineError> {
        self.run(input, signer, wal)
    }

    fn run(
        &mut self,
        input: Input<Ctx>,
        signer: &mut dyn Signer,
        wal: &mut dyn Wal,
    ) -> Result<Vec<Output>, EngineError> {
        if let Some(reason) = &self.effects.halted {
            return Err(EngineError::Halted(reason.clone()));
        }
        let effects = &mut self.effects;
        let result: Result<(), CoreError<Ctx>> = process!(input: input, state: &mut self.state, metrics: &(), with: effect => effects.handle(effect, signer, wal));
        let outputs = std::mem::take(&mut self.effects.outputs);
        if let Some(reason) = &self.effects.halted {
            return Err(EngineError::Halted(reason.clone()));
        }
        result.map_err(|e| EngineError::Core(format!("{e:?}")))?;
        Ok(outputs)
    }
}

/// A decided certificate as the ledger's `Commit`, signatures sorted by validator; `None`
/// for a certificate without a round or with more signatures than a set has validators,
/// which the core never decides (the engine halts rather than store it).
pub fn to_commit(cert: &CommitCertificate<Ctx>) -> Option<Commit> {
    let mut signatures: Vec<CommitSig> = cert
        .commit_signatures
        .iter()
        .map(|s| CommitSig { validator: s.address.0, signature: Signature(s.signature.0) })
        .collect();
    signatures.sort_by_key(|s| s.validator);
    Some(Commit {
        height: cert.height.0,
        round: cert.round.as_u32()?,
        block_hash: cert.value_id.0,
        signatures: BoundedVec::new(signatures).ok()?,
    })
}

/// The halt reason for a certificate [`to_commit`] refuses.
const MALFORMED_CERTIFICATE: &str =
    "the core decided a certificate without a round or with more signatures than validators";

impl Effects {
    fn push(&mut self, output: Output) {
        if self.halted.is_none() {
            self.outputs.push(output);
        }
    }

    /// Stops the engine: nothing is published from here on.
    fn halt(&mut self, reason: &str) {
        if self.halted.is_none() {
            self.halted = Some(reason.to_string());
        }
    }

    /// What the core gets for a message that must not be signed: a signature that
    /// verifies nowhere, with the engine halted so nothing is published.
    fn refuse_unsigned(&mut self, what: &str) -> Sig {
        self.halt(&format!("asked to sign {what}"));
        Sig([0; 64])
    }

    fn sign(&mut self, signer: &mut dyn Signer, request: SignRequest) -> Sig {
        if self.halted.is_some() {
            return Sig([0; 64]);
        }
        match signer.sign(&request) {
            Ok(signature) => signature,
            Err(refused) => {
                // The core needs a signed message to continue; it gets one that verifies
                // nowhere, and nothing is published from here on.
                self.halted = Some(refused.to_string());
                Sig([0; 64])
            }
        }
    }

    fn handle<'w>(
        &mut self,
        effect: Effect<Ctx>,
        signer: &mut dyn Signer,
        wal: &mut (dyn Wal + 'w),
    ) -> Result<malachitebft_core_consensus::Resume<Ctx>, std::convert::Infallible> {
        Ok(match effect {
            Effect::CancelAllTimeouts(r) => {
                self.push(Output::CancelAllTimeouts);
                r.resume_with(())
            }
            Effect::CancelTimeout(timeout, r) => {
                self.push(Output::CancelTimeout(timeout));
                r.resume_with(())
            }
            Effect::ScheduleTimeout(timeout, r) => {
                let after = self.timeouts.duration_for(timeout);
                self.push(Output::ScheduleTimeout { timeout, after });
                r.resume_with(())
            }
            Effect::StartRound(height, round, proposer, role, r) => {
                self.push(Output::StartRound { height, round, proposer, role });
                r.resume_with(())
            }
            Effect::PublishConsensusMsg(msg, r) => {
                self.push(Output::Publish(msg));
                r.resume_with(())
            }
            Effect::PublishLivenessMsg(msg, r) => {
                self.push(Output::PublishLiveness(msg));
                r.resume_with(())
            }
            Effect::RepublishVote(vote, r) => {
                self.push(Output::RepublishVote(vote));
                r.resume_with(())
            }
            Effect::RepublishRoundCertificate(cert, r) => {
                self.push(Output::RepublishRoundCertificate(cert));
                r.resume_with(())
            }
            Effect::GetValue(height, round, timeout, r) => {
                let within = self.timeouts.duration_for(timeout);
                self.push(Output::GetValue { height, round, within });
                r.resume_with(())
            }
            // The core republishes the signed proposal itself: nothing to stream.
            Effect::RestreamProposal(.., r) => r.resume_with(()),
            Effect::CertVerifiedSyncValue(response, proposer, r) => {
                self.push(Output::SyncValueVerified(Box::new(response), proposer));
                r.resume_with(())
            }
            Effect::CertRejectedSyncValue(_peer, height, error, r) => {
                self.push(Output::SyncValueRejected(height, format!("{error:?}")));
                r.resume_with(())
            }
            // L49: a decision is stored with the commit that proves it.
            Effect::Decide(cert, _extensions, r) => {
                match to_commit(&cert) {
                    Some(commit) => self.push(Output::Decide { block: cert.value_id, commit }),
                    None => self.halt(MALFORMED_CERTIFICATE),
                }
                r.resume_with(())
            }
            Effect::Finalize(cert, _extensions, evidence, r) => {
                match to_commit(&cert) {
                    Some(commit) => self.push(Output::Finalize { commit, evidence: Box::new(evidence) }),
                    None => self.halt(MALFORMED_CERTIFICATE),
                }
                r.resume_with(())
            }
            Effect::SignVote(vote, r) => {
                let step = match vote.vote_type {
                    malachitebft_core_types::VoteType::Prevote => SignStep::Prevote,
                    malachitebft_core_types::VoteType::Precommit => SignStep::Precommit,
                };
                // The guard keeps its slots by round: a vote without one is never signed.
                let signature = match vote.round.as_u32() {
                    Some(round) => {
                        let message = vote.signing_message(&self.chain);
                        let request = SignRequest { height: vote.height.0, round, step, message, key: self.address.0 };
                        self.sign(signer, request)
                    }
                    None => self.refuse_unsigned("a vote without a round"),
                };
                r.resume_with(SignedMessage::new(vote, signature))
            }
            Effect::SignProposal(proposal, r) => {
                let signature = match proposal.round.as_u32() {
                    Some(round) => {
                        let message = proposal.signing_message(&self.chain);
                        let (height, key) = (proposal.height.0, self.address.0);
                        self.sign(signer, SignRequest { height, round, step: SignStep::Propose, message, key })
                    }
                    None => self.refuse_unsigned("a proposal without a round"),
                };
                r.resume_with(SignedMessage::new(proposal, signature))
            }
            Effect::VerifySignature(signed, public_key, r) => {
                let message = match &signed.message {
                    ConsensusMsg::Vote(vote) => vote.signing_message(&self.chain),
                    ConsensusMsg::Proposal(proposal) => proposal.signing_message(&self.chain),
                };
                r.resume_with(public_key.verify(&message, &Signature(signed.signature.0)).is_ok())
            }
            Effect::VerifyCommitCertificate(cert, set, thresholds, r) => {
                r.resume_with(verify_commit(&self.chain, &cert, &set, thresholds.quorum))
            }
            Effect::VerifyExtendedCommitCertificate(cert, set, thresholds, _policy, r) => {
                let result = match cert.commit_signatures.iter().find(|s| s.extension.is_some()) {
                    Some(s) => Err(CertificateError::UnexpectedVoteExtension(s.address)),
                    None => {
                        let plain = CommitCertificate {
                            height: cert.height,
                            round: cert.round,
                            value_id: cert.value_id,
                            commit_signatures: cert
                                .commit_signatures
                                .iter()
                                .map(|s| CommitSignature::new(s.address, s.signature))
                                .collect(),
                        };
                        verify_commit(&self.chain, &plain, &set, thresholds.quorum)
                    }
                };
                r.resume_with(result)
            }
            Effect::VerifyPolkaCertificate(cert, set, thresholds, r) => {
                r.resume_with(verify_polka(&self.chain, &cert, &set, thresholds.quorum))
            }
            Effect::VerifyRoundCertificate(cert, set, thresholds, r) => {
                r.resume_with(verify_round(&self.chain, &cert, &set, thresholds.quorum, thresholds.honest))
            }
            Effect::WalAppend(height, input, r) => {
                // Inputs the WAL does not record (a height start) need no append.
                let entry = WalEntry::from_input(&input);
                if let (false, None, Some(entry)) = (self.replaying, &self.halted, entry) {
                    if let Err(e) = wal.append(height.0, &entry) {
                        self.halted = Some(format!("WAL append failed: {e}"));
                    }
                }
                r.resume_with(())
            }
            // Vote extensions are disabled; these never fire.
            Effect::ExtendVote(.., r) => r.resume_with(None),
            Effect::VerifyVoteExtension(.., r) => r.resume_with(Ok(())),
        })
    }
}

//! Proposals: who may propose, which blocks are executed and kept, the verdict the
//! engine gets, and next-height proposals kept until the node gets there.

use chancery_ledger::Block;
use malachitebft_core_consensus::{Input, ProposedValue};
use malachitebft_core_types::{Round, Validity, ValueOrigin};

use super::produce::execute_proposed;
use super::{
    Halt, Host, KeptBlock, Peer, BLOCKS_KEPT_MAX, PROPOSAL_ROUNDS_AHEAD_MAX, STASHED_MAX, STASHED_PER_PROPOSER_MAX,
};
use crate::context::{Address, Height};
use crate::engine::{Signer, Wal};
use crate::validity::{check_proposal, ProposalContext};
use crate::wire::WireProposal;
use chancery_ledger::state::StateChanges;
use chancery_ledger::store::Backend;

impl<B: Backend, S: Signer, W: Wal, P: Peer> Host<B, S, W, P> {
    /// L22 and L28: a proposal of this height is checked for its origin (the round's
    /// proposer, signed by it) before anything is executed or kept; its block is then
    /// validated (once per block) and the engine gets the proposal and the verdict.
    pub(super) fn on_proposal(&mut self, from: P, proposal: WireProposal) -> Result<(), Halt> {
        let height = self.height();
        if proposal.height == height + 1 {
            self.stash(from, proposal);
            return Ok(());
        }
        if proposal.height != height {
            return Ok(());
        }
        let signed = proposal.to_signed();
        if self.idle_until_ms.is_some() {
            // A validator started this height (it has txs, or its interval passed).
            let message = signed.message.signing_message(&self.store.identity());
            if self.signed_by_a_validator(&proposal.proposer, &message, &proposal.signature) {
                self.start_idle_height()?;
            }
        }
        // Who proposed and signed it, before anything is executed or kept.
        if let Err(why) = self.engine.check_proposal_origin(&signed) {
            tracing::warn!(?from, height, round = proposal.round, %why, "proposal refused");
            return Ok(());
        }
        // No round started yet at this height: nothing to keep a proposal for.
        let Some(current) = self.engine.state().round().as_u32() else { return Ok(()) };
        if proposal.round > current.saturating_add(PROPOSAL_ROUNDS_AHEAD_MAX) {
            tracing::debug!(?from, height, round = proposal.round, current, "proposal too many rounds ahead; not kept");
            return Ok(());
        }
        let value = signed.message.value.clone();
        let hash = value.hash();
        // L22 checks the block's time against the clock only for a fresh proposal (no
        // proof of lock); L28's re-proposal of a locked block is judged without it.
        let check_clock = signed.message.pol_round == Round::Nil;
        // A verdict is reused unless the clock was checked for it and is not now (a block
        // refused as too far from the clock may be re-proposed with a proof of lock).
        let known = self.blocks.get_mut(&hash).and_then(|kept| {
            // Re-proposed in a later round: it is as recent as that round.
            if proposal.round > kept.round {
                kept.round = proposal.round;
                kept.proposed_by = Address(proposal.proposer);
            }
            match kept.validity {
                Some(Validity::Invalid) if kept.clock_checked && !check_clock => None,
                other => other,
            }
        });
        let validity = match known {
            Some(validity) => validity,
            None if self.blocks.values().any(|kept| kept.round == proposal.round && kept.value.hash() != hash) => {
                // A second block for one round by its proposer: the core sees the signed
                // proposal (it is evidence of equivocation); nothing is executed.
                return self.feed(Input::Proposal(signed));
            }
            None => {
                let (validity, changes) = self.validate(value.block(), check_clock);
                self.keep_block(KeptBlock {
                    value: value.clone(),
                    round: proposal.round,
                    proposed_by: Address(proposal.proposer),
                    validity: Some(validity),
                    clock_checked: check_clock,
                    changes,
                });
                validity
            }
        };
        let proposed = ProposedValue {
            height: Height(height),
            round: signed.message.round,
            valid_round: signed.message.pol_round,
            proposer: signed.message.proposer,
            value,
            validity,
        };
        self.feed(Input::Proposal(signed))?;
        self.feed(Input::ProposedValue(proposed, ValueOrigin::Consensus))
    }

    /// Keeps a proposal for the next height if it is signed by the proposer it names, a
    /// validator of the current set (the set of the next height is known only once this
    /// one commits), within the rounds and per-proposer bounds: a peer cannot fill the
    /// stash with forgeries that would crowd out the real proposal.
    fn stash(&mut self, from: P, proposal: WireProposal) {
        if proposal.round > PROPOSAL_ROUNDS_AHEAD_MAX {
            return;
        }
        let same = |p: &WireProposal| p.round == proposal.round && p.proposer == proposal.proposer;
        let by_proposer = self.stashed.iter().filter(|(_, p)| p.proposer == proposal.proposer).count();
        if self.stashed.len() >= STASHED_MAX
            || by_proposer >= STASHED_PER_PROPOSER_MAX
            || self.stashed.iter().any(|(_, p)| same(p))
        {
            return;
        }
        let message = proposal.to_signed().message.signing_message(&self.store.identity());
        if !self.signed_by_a_validator(&proposal.proposer, &message, &proposal.signature) {
            tracing::warn!(
                ?from,
                height = proposal.height,
                "a next-height proposal not signed by a validator: not kept"
            );
            return;
        }
        self.stashed.push((from, proposal));
    }

    /// The stashed proposals of the height the node has reached, handled as if they
    /// arrived now; those for later heights stay.
    pub(super) fn replay_stashed(&mut self) -> Result<(), Halt> {
        let height = self.height();
        let (now, later): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.stashed).into_iter().partition(|(_, p)| p.height == height);
        self.stashed = later.into_iter().filter(|(_, p)| p.height > height).collect();
        for (from, proposal) in now {
            self.on_proposal(from, proposal)?;
        }
        Ok(())
    }

    /// Keeps a validated block; beyond [`BLOCKS_KEPT_MAX`], the earliest round's goes.
    fn keep_block(&mut self, kept: KeptBlock) {
        let hash = kept.value.hash();
        self.blocks.insert(hash, kept);
        while self.blocks.len() > BLOCKS_KEPT_MAX {
            let oldest =
                self.blocks.iter().filter(|(h, _)| **h != hash).min_by_key(|(_, kept)| kept.round).map(|(h, _)| *h);
            match oldest {
                Some(oldest) => {
                    self.blocks.remove(&oldest);
                }
                None => break,
            }
        }
    }

    /// L22's `valid(v)`: the consensus rules (chain link, time) and then the ledger's
    /// (every tx, the header's roots); the state changes are kept for the commit.
    fn validate(&self, block: &Block, check_clock: bool) -> (Validity, Option<StateChanges>) {
        let store = &self.store;
        let height = self.height();
        let parent = if height == 0 {
            Ok((store.genesis_hash(), self.genesis_time_ms))
        } else {
            store.header(height - 1).map(|h| (h.hash(), h.time_ms))
        };
        let (Ok((parent_hash, parent_time_ms)), Ok(history_root), Ok(validators)) =
            (parent, store.history_root(height), store.current_validators())
        else {
            return (Validity::Invalid, None);
        };
        let ctx = ProposalContext {
            chain_id: store.chain_id(),
            height,
            parent_hash,
            parent_time_ms,
            history_root,
            validators_hash: validators.hash(),
            clock_ms: check_clock.then_some(self.now.clock_ms),
            max_clock_drift_ms: self.params.max_clock_drift_ms,
        };
        if let Err(e) = check_proposal(block, &ctx) {
            tracing::warn!(height, error = %e, "proposed block refused");
            return (Validity::Invalid, None);
        }
        match execute_proposed(&**store, block, &self.mempool) {
            Ok(changes) => (Validity::Valid, Some(changes)),
            Err(e) => {
                tracing::warn!(height, error = %e, "proposed block does not execute");
                (Validity::Invalid, None)
            }
        }
    }
}

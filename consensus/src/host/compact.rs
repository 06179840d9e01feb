//! Compact proposals: a proposer may send its block's tx hashes instead of its txs (peers
//! hold most of them already, gossiped as they were admitted). A receiver completes the
//! proposal from its mempool and asks the proposer for the txs it lacks; the fetched txs
//! go through admission like any gossiped tx, and the whole proposal then goes through
//! the same checks as one sent whole, so consensus, validation and the WAL see the same
//! thing either way. The proposer side ([`OwnProposals`]) is the network's: it keeps what
//! it sent to answer the requests.

use std::collections::{HashMap, HashSet, VecDeque};

use chancery_ledger::codec::BoundedVec;
use chancery_ledger::store::Backend;
use chancery_ledger::{Hash, Tx};

use super::{mempool, Action, Halt, Host, Peer};
use crate::engine::{Signer, Wal};
use crate::wire::{CompactProposal, Message, Reply, WireProposal};

/// Most compact proposals waiting for txs from one peer, and in all: each holds a slot
/// per tx of its block, so a peer cannot make this node hold many.
pub const ASSEMBLING_PER_PEER_MAX: usize = 2;
/// See [`ASSEMBLING_PER_PEER_MAX`].
pub const ASSEMBLING_MAX: usize = 4;
const _: () = assert!(ASSEMBLING_PER_PEER_MAX <= ASSEMBLING_MAX);
/// How long a compact proposal waits for its proposer's txs before it is given up (the
/// node then gets the block by sync if it is decided).
pub const PROPOSAL_TXS_WAIT_MS: u64 = 5_000;
/// How many of its own proposals a proposer keeps to answer requests for their txs.
pub const OWN_PROPOSALS_KEPT: usize = 8;

/// A compact proposal waiting for the txs its receiver lacked.
pub(super) struct Assembling<P> {
    from: P,
    proposal: CompactProposal,
    block_hash: Hash,
    txs: Vec<Option<Tx>>,
    /// Until when it waits for the proposer's answer.
    pub(super) until_ms: u64,
}

/// The txs a peer sent for one of its compact proposals.
#[derive(Debug)]
pub struct ProposalTxs {
    /// The height.
    pub height: u64,
    /// The round.
    pub round: u32,
    /// The proposed block's hash.
    pub block_hash: Hash,
    /// The txs, `None` when the request failed.
    pub txs: Option<Vec<Tx>>,
}

/// Why fetched txs do not complete a proposal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{extra} txs that were not asked for")]
pub struct NotAskedFor {
    /// How many.
    pub extra: usize,
}

/// Puts the `supplied` txs into the empty `slots` whose hash they have; returns the
/// filled slots. A tx that fills no empty slot was not asked for: an error.
pub fn fill(hashes: &[Hash], slots: &mut [Option<Tx>], supplied: Vec<Tx>) -> Result<Vec<usize>, NotAskedFor> {
    let mut supplied: HashMap<Hash, Tx> = supplied.into_iter().map(|tx| (tx.hash(), tx)).collect();
    let mut filled = Vec::new();
    for (i, (hash, slot)) in hashes.iter().zip(slots.iter_mut()).enumerate() {
        if slot.is_none() {
            if let Some(tx) = supplied.remove(hash) {
                *slot = Some(tx);
                filled.push(i);
            }
        }
    }
    match supplied.len() {
        0 => Ok(filled),
        extra => Err(NotAskedFor { extra }),
    }
}

/// A proposal this node sent in compact form, kept to answer requests for its txs.
struct OwnProposal {
    height: u64,
    round: u32,
    block_hash: Hash,
    txs: Vec<Tx>,
    index: HashMap<Hash, usize>,
}

/// A proposer's recent proposals, to send compact and to answer requests for their txs.
#[derive(Default)]
pub struct OwnProposals {
    kept: VecDeque<OwnProposal>,
}

impl OwnProposals {
    /// The compact form of `proposal`, which is kept (the oldest kept goes beyond
    /// [`OWN_PROPOSALS_KEPT`]).
    pub fn compact(&mut self, proposal: &WireProposal) -> CompactProposal {
        let compact = CompactProposal::of(proposal);
        let index = compact.tx_hashes.iter().enumerate().map(|(i, h)| (*h, i)).collect();
        if self.kept.len() >= OWN_PROPOSALS_KEPT {
            self.kept.pop_front();
        }
        self.kept.push_back(OwnProposal {
            height: proposal.height,
            round: proposal.round,
            block_hash: proposal.block.header.hash(),
            txs: proposal.block.txs.to_vec(),
            index,
        });
        compact
    }

    /// The txs of our proposal of `block_hash` at (`height`, `round`) among `hashes`,
    /// each once: the reply is never larger than the block.
    pub fn answer(&self, height: u64, round: u32, block_hash: &Hash, hashes: &[Hash]) -> Reply {
        let own = self.kept.iter().find(|p| p.height == height && p.round == round && p.block_hash == *block_hash);
        let txs = match own {
            Some(own) => {
                let mut seen = HashSet::new();
                hashes
                    .iter()
                    .filter(|h| seen.insert(**h))
                    .filter_map(|h| own.index.get(h).map(|&i| own.txs[i].clone()))
                    .collect()
            }
            None => Vec::new(),
        };
        Reply::ProposalTxs(BoundedVec::new(txs).expect("distinct txs of one block: within the block's bound"))
    }
}

impl<B: Backend, S: Signer, W: Wal, P: Peer> Host<B, S, W, P> {
    /// A compact proposal from `from`: completed from the mempool, or the missing txs
    /// asked of the proposer.
    pub(super) fn on_compact(&mut self, from: P, proposal: CompactProposal) -> Result<(), Halt> {
        // Only proposals consensus can use now: this height, or the next one while the
        // last block commits. The full proposal gets every other check.
        let height = self.height();
        self.expire_assembling();
        if proposal.height < height || proposal.height > height + 1 {
            return Ok(());
        }
        // The same proposal again (a proposer re-sends its proposal): its txs are asked
        // for once. Two requests for one proposal could be answered crosswise, and an
        // honest proposer would look like one sending txs nobody asked for.
        let block_hash = proposal.header.hash();
        let same = |a: &Assembling<P>| {
            a.from == from
                && a.proposal.height == proposal.height
                && a.proposal.round == proposal.round
                && a.block_hash == block_hash
        };
        if self.assembling.iter().any(same) {
            return Ok(());
        }
        let waiting_from = self.assembling.iter().filter(|a| a.from == from).count();
        if self.assembling.len() >= ASSEMBLING_MAX || waiting_from >= ASSEMBLING_PER_PEER_MAX {
            tracing::debug!(?from, "too many compact proposals waiting for txs; one ignored");
            return Ok(());
        }
        let txs = self.mempool.get_txs(&proposal.tx_hashes);
        let missing: Vec<Hash> =
            proposal.tx_hashes.iter().zip(&txs).filter(|(_, tx)| tx.is_none()).map(|(h, _)| *h).collect();
        let until_ms = self.now.ms + PROPOSAL_TXS_WAIT_MS;
        let assembling = Assembling { from, proposal, block_hash, txs, until_ms };
        if missing.is_empty() {
            return self.assembled(assembling, 0);
        }
        self.actions.push(Action::GetProposalTxs {
            peer: from,
            height: assembling.proposal.height,
            round: assembling.proposal.round,
            block_hash,
            hashes: missing,
        });
        self.assembling.push(assembling);
        Ok(())
    }

    /// The proposer's answer to our request: every tx must be one that was asked for;
    /// the fetched txs are admitted, then the whole proposal is handled.
    pub(super) fn on_proposal_txs(&mut self, from: P, answer: ProposalTxs) -> Result<(), Halt> {
        let at = self.assembling.iter().position(|a| {
            a.from == from
                && a.proposal.height == answer.height
                && a.proposal.round == answer.round
                && a.block_hash == answer.block_hash
        });
        let Some(at) = at else { return Ok(()) };
        let mut assembling = self.assembling.swap_remove(at);
        let Some(txs) = answer.txs else {
            tracing::info!(?from, height = answer.height, "a request for a proposal's txs failed");
            return Ok(());
        };
        let fetched = match fill(&assembling.proposal.tx_hashes, &mut assembling.txs, txs) {
            Ok(fetched) => fetched,
            Err(e) => {
                self.actions.push(Action::Penalise { peer: from, reason: format!("proposal txs: {e}") });
                return Ok(());
            }
        };
        // Signatures checked in batches here, so validation need not check them one by one.
        let fetched_txs: Vec<Tx> = fetched.iter().filter_map(|&i| assembling.txs[i].clone()).collect();
        mempool::admit(&self.store, &self.mempool, fetched_txs, self.now.clock_ms);
        self.assembled(assembling, fetched.len())
    }

    /// Compact proposals of heights the node has passed, or whose proposer did not answer
    /// in time, are given up.
    pub(super) fn expire_assembling(&mut self) {
        let (height, now) = (self.height(), self.now.ms);
        self.assembling.retain(|a| a.proposal.height >= height && a.until_ms > now);
    }

    fn assembled(&mut self, assembling: Assembling<P>, fetched: usize) -> Result<(), Halt> {
        let Assembling { from, proposal, txs, .. } = assembling;
        let local = txs.iter().flatten().count() - fetched;
        self.actions.push(Action::Assembled { local, fetched });
        let Some(txs) = txs.into_iter().collect::<Option<Vec<Tx>>>() else {
            tracing::info!(
                ?from,
                height = proposal.height,
                round = proposal.round,
                "proposer no longer has txs of its proposal"
            );
            return Ok(());
        };
        match proposal.complete(txs) {
            Ok(proposal) => self.on_message(from, Message::Proposal(proposal)),
            Err(e) => {
                tracing::warn!(?from, error = %e, "compact proposal does not complete");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chancery_ledger::testkit::TestChain;

    #[test]
    fn fetched_txs_fill_only_the_slots_that_were_asked_for() {
        let mut chain = TestChain::new(4);
        let txs: Vec<Tx> = (0..4).map(|i| chain.evidence_tx(format!("document {i}").as_bytes())).collect();
        let hashes: Vec<Hash> = txs.iter().map(Tx::hash).collect();
        let local = || vec![Some(txs[0].clone()), None, Some(txs[2].clone()), None];

        let mut slots = local();
        assert_eq!(fill(&hashes, &mut slots, vec![txs[3].clone(), txs[1].clone()]), Ok(vec![1, 3]));
        assert_eq!(slots.into_iter().collect::<Option<Vec<_>>>(), Some(txs.clone()));

        // A partial answer leaves the slot empty (the proposal is then not completed).
        let mut slots = local();
        assert_eq!(fill(&hashes, &mut slots, vec![txs[1].clone()]), Ok(vec![1]));
        assert!(slots[3].is_none());

        // A tx we hold already, or one not in the block: not asked for.
        let stranger = chain.evidence_tx(b"a document not in the block");
        for extra in [txs[0].clone(), stranger] {
            let mut slots = local();
            let result = fill(&hashes, &mut slots, vec![txs[1].clone(), extra]);
            assert_eq!(result, Err(NotAskedFor { extra: 1 }));
        }
    }
}

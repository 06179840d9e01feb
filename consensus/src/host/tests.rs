use std::sync::Arc;

use chancery_ledger::store::memory::MemoryBackend;
use chancery_ledger::store::ChainStore;
use chancery_ledger::testkit::{chain_spec, key, public};
use ed25519_dalek::Signer as _;
use malachitebft_core_types::Round;

use super::mempool::{Mempool, MempoolLimits};
use super::produce::build_block;
use super::*;
use crate::context::{ConsensusProposal, Sig};
use crate::engine::{SignRequest, SignerRefused};

/// A signer for a key that is no validator's: the host follows without voting.
struct Observer(ed25519_dalek::SigningKey);

impl Signer for Observer {
    fn sign(&mut self, request: &SignRequest) -> Result<Sig, SignerRefused> {
        Ok(Sig(self.0.sign(request.message.as_bytes()).to_bytes()))
    }
    fn public_keys(&mut self) -> Vec<chancery_ledger::PublicKey> {
        vec![public(&self.0)]
    }
}

const GENESIS_MS: u64 = 1_767_225_600_000;

/// An observer's host on a chain of four validators, at virtual time 0 with the clock at
/// the genesis time; proposals are made with the validators' keys.
struct Bench {
    host: Host<MemoryBackend, Observer, MemoryWal, u32>,
    validators: Vec<ed25519_dalek::SigningKey>,
}

fn now() -> Now {
    Now { ms: 0, clock_ms: GENESIS_MS + 1_000 }
}

fn bench() -> Bench {
    let (spec, validators) = chain_spec(4);
    let store = ChainStore::open(MemoryBackend::new(), &spec, 10).expect("store");
    let limits = MempoolLimits {
        txs_max: 100,
        bytes_max: 1 << 20,
        per_submitter_txs_max: 100,
        per_submitter_bytes_max: 1 << 20,
    };
    let observer = key(9, 0);
    let parts = HostParts {
        store,
        mempool: Arc::new(Mempool::new(limits, spec.genesis_hash)),
        signer: Observer(observer.clone()),
        wal: MemoryWal::new("observer"),
        wal_records: Vec::new(),
        address: Address(public(&observer)),
        genesis_time_ms: GENESIS_MS,
        reporter: None,
    };
    let (host, _) = Host::start(parts, now()).expect("host");
    assert!(!host.is_voting(), "an observer");
    Bench { host, validators }
}

impl Bench {
    /// The key of the proposer of (`height`, `round`).
    fn proposer(&self, height: u64, round: u32) -> ed25519_dalek::SigningKey {
        let expected = self.host.engine.state().get_proposer(Height(height), Round::new(round));
        let key = self.validators.iter().find(|k| public(k) == expected.0);
        key.expect("a validator").clone()
    }

    /// A proposal of a fresh block at (`height`, `round`) naming `by` as proposer, signed
    /// by `signer`.
    fn proposal(
        &self,
        height: u64,
        round: u32,
        by: &ed25519_dalek::SigningKey,
        signer: &ed25519_dalek::SigningKey,
    ) -> WireProposal {
        let host = &self.host;
        let proposer = public(by);
        let time_ms = now().clock_ms + u64::from(round);
        let block = build_block(&host.store, &host.mempool, proposer, time_ms).expect("block").block;
        let consensus = ConsensusProposal {
            height: Height(height),
            round: Round::new(round),
            value: BlockValue::new(block.clone()),
            pol_round: Round::Nil,
            proposer: Address(proposer),
        };
        let message = consensus.signing_message(&host.store.identity());
        let signature = Signature(signer.sign(message.as_bytes()).to_bytes());
        WireProposal { height, round, pol_round: None, proposer, block, signature }
    }

    /// A proposal by the round's proposer, signed by it.
    fn real(&self, height: u64, round: u32) -> WireProposal {
        let key = self.proposer(height.min(self.host.height()), round);
        self.proposal(height, round, &key, &key)
    }

    fn deliver(&mut self, from: u32, proposal: WireProposal) {
        self.host.handle(Event::Message { from, message: Message::Proposal(proposal) }, now()).expect("handled");
    }
}

#[test]
fn proposals_from_anyone_but_the_rounds_proposer_are_neither_executed_nor_kept() {
    let mut bench = bench();
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let proposer = bench.proposer(0, 0);
    let other = bench.proposer(0, 1);
    // Not a validator; another validator (not this round's proposer), validly signed.
    for by in [&stranger, &other] {
        let forged = bench.proposal(0, 0, by, by);
        bench.deliver(1, forged);
    }
    // The proposer named, but signed by another key.
    let unsigned = bench.proposal(0, 0, &proposer, &other);
    bench.deliver(1, unsigned);
    assert!(bench.host.blocks.is_empty(), "nothing executed or kept");
    // The proposer's own: kept.
    let real = bench.real(0, 0);
    bench.deliver(1, real);
    assert_eq!(bench.host.blocks.len(), 1);
}

#[test]
fn kept_blocks_and_stashed_proposals_stay_bounded() {
    let mut bench = bench();
    // Blocks of many rounds by their legitimate proposers, without a commit.
    for round in 0..=PROPOSAL_ROUNDS_AHEAD_MAX + 4 {
        let proposal = bench.real(0, round);
        bench.deliver(1, proposal);
        assert!(bench.host.blocks.len() <= BLOCKS_KEPT_MAX, "round {round}: {}", bench.host.blocks.len());
    }
    assert_eq!(bench.host.blocks.len(), BLOCKS_KEPT_MAX);
    assert!(bench.host.blocks.values().all(|kept| kept.round <= PROPOSAL_ROUNDS_AHEAD_MAX), "too far ahead: not kept");
    assert!(bench.host.blocks.values().all(|kept| kept.round > 0), "the earliest round's block went first");
    // Far-future heights are not stashed; the next height is, up to the bound.
    for height in [u64::MAX, 1_000, 2] {
        let proposal = bench.real(height, 0);
        bench.deliver(1, proposal);
    }
    assert!(bench.host.stashed.is_empty(), "no stash for heights the node is not about to reach");
    // Nor forgeries for the next height: not signed by a validator, or signed by another
    // key than the proposer named.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let validator = bench.proposer(0, 0);
    for (by, signer) in [(&stranger, &stranger), (&validator, &stranger)] {
        let forged = bench.proposal(1, 0, by, signer);
        bench.deliver(1, forged);
    }
    assert!(bench.host.stashed.is_empty(), "forged next-height proposals are not kept");
    for round in 0..STASHED_MAX as u32 + 3 {
        let proposal = bench.real(1, round);
        bench.deliver(1, proposal);
    }
    assert_eq!(bench.host.stashed.len(), STASHED_MAX);
}

#[test]
fn a_peer_claiming_a_height_it_cannot_serve_does_not_stay_the_sync_target() {
    let mut bench = bench();
    let (liar, honest) = (7u32, 8u32);
    let at = |ms: u64| Now { ms, clock_ms: now().clock_ms + ms };
    let asked = |actions: Vec<Action<u32>>| {
        actions.into_iter().find_map(|a| match a {
            Action::GetBlock { peer, height } => Some((peer, height)),
            _ => None,
        })
    };
    let status = |from: u32, blocks: u64| Event::Message { from, message: Message::Status { blocks } };
    let host = &mut bench.host;
    assert_eq!(asked(host.handle(status(honest, 5), at(0)).expect("handled")), Some((honest, 0)));
    // The honest peer times out once; the liar claims a huge height and is asked…
    let late = SYNC_REQUEST_TIMEOUT_MS;
    assert_eq!(asked(host.handle(status(liar, u64::MAX), at(late)).expect("handled")), Some((liar, 0)));
    // …answers that it has no such block: the honest peer is asked once its backoff is
    // over, and the liar's claims do not take the sync back while it is backed off.
    let after = late + SYNC_PEER_BACKOFF_MS;
    let answer = Event::NoBlock { from: liar, height: 0, busy: false };
    host.handle(answer, at(after)).expect("handled");
    assert_eq!(host.sync.asked.get(&0).map(|(_, p)| *p), Some(honest));
    for i in 1..=5 {
        let when = after + i * SYNC_REQUEST_TIMEOUT_MS;
        if let Some((peer, _)) = asked(host.handle(status(liar, u64::MAX), at(when)).expect("handled")) {
            assert_eq!(peer, honest, "the liar is not asked again while backed off");
        }
    }
}

/// `count` committed blocks of the bench's chain (another store, the same genesis), with
/// their commits by every validator, each holding one evidence tx.
fn chain_ahead(bench: &Bench, count: u64) -> Vec<(Block, Commit)> {
    let (spec, _) = chain_spec(4);
    let mut other = ChainStore::open(MemoryBackend::new(), &spec, 10).expect("store");
    let integrator = key(3, 0);
    (0..count)
        .map(|i| {
            let document = chancery_ledger::testkit::document_evidence(&i.to_le_bytes());
            let tx =
                chancery_ledger::testkit::signed_tx(&integrator, &spec.chain_id, &spec.genesis_hash, document, i + 1);
            let time_ms = GENESIS_MS + 1 + i;
            chancery_ledger::testkit::produce_block(&mut other, &bench.validators, vec![tx], time_ms, false)
                .expect("block")
        })
        .collect()
}

#[test]
fn sync_asks_a_window_ahead_spread_over_peers_and_commits_in_height_order() {
    let mut bench = bench();
    let blocks = chain_ahead(&bench, 8);
    let asked = |actions: &[Action<u32>]| -> Vec<(u32, u64)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::GetBlock { peer, height } => Some((*peer, *height)),
                _ => None,
            })
            .collect()
    };
    let status = |from: u32| Event::Message { from, message: Message::Status { blocks: 8 } };
    let first = bench.host.handle(status(1), now()).expect("handled");
    assert_eq!(asked(&first), vec![(1, 0), (1, 1)], "two requests of one peer at most");
    let second = bench.host.handle(status(2), now()).expect("handled");
    assert_eq!(asked(&second), vec![(2, 2), (2, 3)], "the rest of the window of another");
    assert!(asked(&bench.host.handle(status(3), now()).expect("handled")).is_empty(), "window full");
    // Blocks arrive out of order: the later ones wait; nothing is committed before 0.
    let deliver = |bench: &mut Bench, from: u32, h: usize| {
        let (block, commit) = blocks[h].clone();
        let event = Event::Block { from, block: Box::new(block), commit, verified: false };
        bench.host.handle(event, now()).expect("handled")
    };
    for (from, h) in [(2, 3), (2, 2), (1, 1)] {
        let actions = deliver(&mut bench, from, h);
        assert!(!actions.iter().any(|a| matches!(a, Action::Committed(_))), "block {h} waits for block 0");
    }
    assert_eq!(bench.host.height(), 0);
    // Block 0 arrives: 0 to 3 are committed one per wake, in order, and the window moves.
    let mut committed = Vec::new();
    let mut requests = Vec::new();
    let mut actions = deliver(&mut bench, 1, 0);
    for _ in 0..8 {
        requests.extend(asked(&actions));
        committed.extend(actions.iter().filter_map(|a| match a {
            Action::Committed(c) => Some(c.header.height),
            _ => None,
        }));
        if bench.host.next_wake() != Some(0) {
            break;
        }
        actions = bench.host.handle(Event::Tick, now()).expect("handled");
    }
    assert_eq!(committed, vec![0, 1, 2, 3]);
    assert_eq!(bench.host.height(), 4);
    let heights: Vec<u64> = requests.iter().map(|(_, h)| *h).collect();
    assert!(heights.iter().all(|h| (4..8).contains(h)), "the window moved on: {requests:?}");
    for peer in [1, 2, 3] {
        assert!(requests.iter().filter(|(p, _)| *p == peer).count() <= SYNC_REQUESTS_PER_PEER_MAX);
    }
    // A block already committed is not kept.
    deliver(&mut bench, 3, 0);
    assert!(!bench.host.sync.fetched.contains_key(&0));
}

/// A prevote at (`height`, `round`) for `block_hash` by `by`, signed by `signer`.
fn prevote(
    bench: &Bench,
    height: u64,
    round: u32,
    by: &ed25519_dalek::SigningKey,
    signer: &ed25519_dalek::SigningKey,
) -> WireVote {
    let mut vote = WireVote {
        height,
        round,
        kind: chancery_ledger::VoteKind::Prevote,
        block_hash: Some(chancery_ledger::Hash([7; 32])),
        validator: public(by),
        signature: Signature([0; 64]),
    };
    let message = vote.to_signed().message.signing_message(&bench.host.store.identity());
    vote.signature = Signature(signer.sign(message.as_bytes()).to_bytes());
    vote
}

#[test]
fn next_height_votes_are_kept_within_bounds_and_counted_once_the_height_starts() {
    let mut bench = bench();
    let block = chain_ahead(&bench, 1).remove(0);
    let validators = bench.validators.clone();
    let vote = |bench: &mut Bench, vote: WireVote| {
        bench.host.handle(Event::Message { from: 1, message: Message::Vote(vote) }, now()).expect("handled");
    };
    // Height 1 while the node is at 0: every validator's round-0 prevote is kept; one
    // validator's later rounds only up to its bound.
    for key in &validators {
        let early = prevote(&bench, 1, 0, key, key);
        vote(&mut bench, early);
    }
    for round in 1..=EARLY_VOTES_PER_VALIDATOR_MAX as u32 + 2 {
        let early = prevote(&bench, 1, round, &validators[0], &validators[0]);
        vote(&mut bench, early);
    }
    let kept = validators.len() + EARLY_VOTES_PER_VALIDATOR_MAX - 1;
    assert_eq!(bench.host.early_votes.len(), kept);
    // Not kept: forgeries, the same vote again, rounds too far ahead, heights beyond the
    // next.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let forgeries = [
        prevote(&bench, 1, 0, &stranger, &stranger),
        prevote(&bench, 1, 1, &validators[1], &stranger),
        prevote(&bench, 1, 0, &validators[2], &validators[2]),
        prevote(&bench, 1, PROPOSAL_ROUNDS_AHEAD_MAX + 1, &validators[3], &validators[3]),
        prevote(&bench, 2, 0, &validators[3], &validators[3]),
    ];
    for forged in forgeries {
        vote(&mut bench, forged);
    }
    assert_eq!(bench.host.early_votes.len(), kept, "nothing more kept");
    // Block 0 arrives (synced): at height 1 the kept votes reach the engine.
    let (block, commit) = block;
    let mut event = Event::Block { from: 1, block: Box::new(block), commit, verified: false };
    for _ in 0..8 {
        bench.host.handle(event, now()).expect("handled");
        if bench.host.next_wake() != Some(0) {
            break;
        }
        event = Event::Tick;
    }
    assert_eq!(bench.host.height(), 1);
    assert!(bench.host.early_votes.is_empty());
    let keeper = bench.host.engine.state().driver.votes();
    let round0 = keeper.per_round(Round::new(0)).expect("round 0 votes").received_votes().len();
    assert_eq!(round0, validators.len(), "every validator's early prevote counted at round 0");
}

//! Misbehaviour evidence on chain: accepted only as proof, from a validator's node, once.

use chancery_ledger::block::{Params, VoteKind};
use chancery_ledger::misbehaviour::{Equivocation, SignedItem};
use chancery_ledger::state::{execute, BlockContext, TxError};
use chancery_ledger::testkit::{key, public, sign, signed_tx, validator_set, MemoryState};
use chancery_ledger::{ChainId, HashContext, Tx, TxBody, Vote};

fn chain() -> ChainId {
    ChainId::new("misbehaviour-test").expect("id")
}

fn genesis() -> chancery_ledger::Hash {
    HashContext::Genesis.hash(b"misbehaviour-test")
}

fn vote(height: u64, block: Option<&[u8]>) -> Vote {
    Vote {
        chain_id: chain(),
        genesis_hash: genesis(),
        height,
        round: 0,
        kind: VoteKind::Prevote,
        block_hash: block.map(|b| HashContext::Header.hash(b)),
    }
}

fn item(signer: u16, vote: Vote) -> SignedItem {
    let signature = sign(&key(1, signer), &vote.signing_message());
    SignedItem::Vote { vote, signature }
}

fn equivocation(accused: u16, height: u64) -> Equivocation {
    Equivocation {
        validator: public(&key(1, accused)),
        first: item(accused, vote(height, Some(b"block"))),
        second: item(accused, vote(height, None)),
    }
}

/// A tx signed by validator `v`'s p2p key (testkit: key(2, v)).
fn reported(by: u16, e: Equivocation, nonce: u64) -> Tx {
    signed_tx(&key(2, by), &chain(), &genesis(), TxBody::Misbehaviour(e), nonce)
}

fn run(state: &MemoryState, txs: &[Tx]) -> Result<(), (usize, TxError)> {
    let ctx = BlockContext { chain_id: chain(), height: 10, time_ms: 1_800_000_000_000 };
    match execute(state, &ctx, txs) {
        Ok(_) => Ok(()),
        Err(chancery_ledger::state::ExecError::Tx { index, error, .. }) => Err((index, error)),
        Err(other) => panic!("{other:?}"),
    }
}

#[test]
fn evidence_is_accepted_once_from_a_validators_node_and_only_as_proof() {
    let keys: Vec<_> = (0..4).map(|i| key(1, i)).collect();
    let mut state = MemoryState::genesis(&genesis(), &Params::default(), &validator_set(&keys, 0), &[]);
    // Ten empty blocks: the state as of height 10.
    for height in 0..10 {
        let ctx = BlockContext { chain_id: chain(), height, time_ms: 1_800_000_000_000 + height };
        let changes = execute(&state, &ctx, &[]).expect("empty block");
        state.commit(&changes, &[]);
    }
    // Accepted: validator 0's node reports validator 2's double prevote at height 7.
    assert_eq!(run(&state, &[reported(0, equivocation(2, 7), 1)]), Ok(()));
    // Once only, even from another node, in the same block.
    let twice = run(&state, &[reported(0, equivocation(2, 7), 1), reported(1, equivocation(2, 7), 1)]);
    assert!(matches!(twice, Err((1, TxError::MisbehaviourKnown { height: 7, .. }))), "{twice:?}");
    // Not a validator's node.
    let stranger = signed_tx(&key(9, 9), &chain(), &genesis(), TxBody::Misbehaviour(equivocation(2, 7)), 1);
    assert!(matches!(run(&state, &[stranger]), Err((0, TxError::UnknownSigner { .. }))));
    // A consensus key is not a node key for this.
    let consensus_signed = signed_tx(&key(1, 0), &chain(), &genesis(), TxBody::Misbehaviour(equivocation(2, 7)), 1);
    assert!(matches!(run(&state, &[consensus_signed]), Err((0, TxError::UnknownSigner { .. }))));
    // Not proof: the same message twice, a forged second signature, an outsider, the
    // current or a later height, another chain.
    let same = Equivocation { second: equivocation(2, 7).first, ..equivocation(2, 7) };
    let forged = Equivocation { second: item(3, vote(7, None)), ..equivocation(2, 7) };
    let outsider = Equivocation {
        validator: public(&key(1, 9)),
        first: item(9, vote(7, Some(b"x"))),
        second: item(9, vote(7, None)),
    };
    let mut other_chain = equivocation(2, 7);
    for slot in [&mut other_chain.first, &mut other_chain.second] {
        if let SignedItem::Vote { vote, signature } = slot {
            vote.chain_id = ChainId::new("elsewhere").expect("id");
            *signature = sign(&key(1, 2), &vote.signing_message());
        }
    }
    for (what, e) in [
        ("same", same),
        ("forged", forged),
        ("outsider", outsider),
        ("now", equivocation(2, 10)),
        ("later", equivocation(2, 11)),
        ("other chain", other_chain),
    ] {
        let result = run(&state, &[reported(0, e, 1)]);
        assert!(matches!(result, Err((0, TxError::BadMisbehaviour(_)))), "{what}: {result:?}");
    }
}

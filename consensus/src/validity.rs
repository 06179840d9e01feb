//! The host's verdict on a proposed block, before consensus may vote for it. Pure: the
//! caller passes what it knows (parent, clock, current validator set and history root).

use chancery_ledger::block::Block;
use chancery_ledger::{ChainId, Hash};

/// What a proposed block is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalContext<'a> {
    /// The chain.
    pub chain_id: &'a ChainId,
    /// The height being decided.
    pub height: u64,
    /// Hash of the last decided block (the genesis hash at height 0).
    pub parent_hash: Hash,
    /// Time of the last decided block (the genesis time at height 0).
    pub parent_time_ms: u64,
    /// `history_root` the block must carry.
    pub history_root: Hash,
    /// `validators_hash` the block must carry.
    pub validators_hash: Hash,
    /// The validator's own clock, or `None` to skip the drift check (a block re-proposed
    /// under a proof-of-lock, or one fetched with its commit by sync, is legitimately old).
    pub clock_ms: Option<u64>,
    /// `max_clock_drift_ms` of the chain.
    pub max_clock_drift_ms: u64,
}

/// Why a proposed block gets a nil prevote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposalError {
    /// A header field does not fit the chain.
    #[error("proposed block's {field} does not match the chain")]
    Mismatch {
        /// The field.
        field: &'static str,
    },
    /// Time not after the parent's.
    #[error("proposed block time {time_ms} is not after its parent's {parent_ms}")]
    NotAfterParent {
        /// Block time.
        time_ms: u64,
        /// Parent time.
        parent_ms: u64,
    },
    /// Time too far from the validator's clock.
    #[error(
        "proposed block time {time_ms} is {drift_ms} ms from this validator's clock, above the allowed {max_ms} ms"
    )]
    ClockDrift {
        /// Block time.
        time_ms: u64,
        /// Distance from the clock.
        drift_ms: u64,
        /// Allowed.
        max_ms: u64,
    },
}

/// Checks the consensus-level rules of a proposed block: it extends the decided chain
/// (height, parent, history root, validator set, tx count) and its time is after its
/// parent's and within the drift of this validator's clock. Executing its txs is the
/// ledger's part.
pub fn check_proposal(block: &Block, ctx: &ProposalContext<'_>) -> Result<(), ProposalError> {
    let header = &block.header;
    let fields = [
        ("chain_id", header.chain_id == *ctx.chain_id),
        ("height", header.height == ctx.height),
        ("prev_hash", header.prev_hash == ctx.parent_hash),
        ("history_root", header.history_root == ctx.history_root),
        ("validators_hash", header.validators_hash == ctx.validators_hash),
        ("tx_count", header.tx_count as usize == block.txs.len()),
    ];
    if let Some((field, _)) = fields.iter().find(|(_, ok)| !ok) {
        return Err(ProposalError::Mismatch { field });
    }
    if header.time_ms <= ctx.parent_time_ms {
        return Err(ProposalError::NotAfterParent { time_ms: header.time_ms, parent_ms: ctx.parent_time_ms });
    }
    if let Some(clock) = ctx.clock_ms {
        let drift_ms = header.time_ms.abs_diff(clock);
        if drift_ms > ctx.max_clock_drift_ms {
            return Err(ProposalError::ClockDrift {
                time_ms: header.time_ms,
                drift_ms,
                max_ms: ctx.max_clock_drift_ms,
            });
        }
    }
    Ok(())
}

/// The time a proposer gives its block: its clock, but always after the parent.
pub fn proposal_time_ms(clock_ms: u64, parent_time_ms: u64) -> u64 {
    clock_ms.max(parent_time_ms + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chancery_ledger::testkit::TestChain;

    #[test]
    fn each_rule_refuses_on_its_own() {
        let mut chain = TestChain::new(4);
        let (block, _) = chain.commit_block(Vec::new());
        let ok = ProposalContext {
            chain_id: &chain.chain_id,
            height: 0,
            parent_hash: chain.genesis_hash,
            parent_time_ms: block.header.time_ms - 1_000,
            history_root: block.header.history_root,
            validators_hash: block.header.validators_hash,
            clock_ms: Some(block.header.time_ms + 4_000),
            max_clock_drift_ms: 5_000,
        };
        assert_eq!(check_proposal(&block, &ok), Ok(()));
        let cases: Vec<(ProposalContext<'_>, &str)> = vec![
            (ProposalContext { height: 1, ..ok.clone() }, "height"),
            (ProposalContext { parent_hash: Hash::ZERO, ..ok.clone() }, "prev_hash"),
            (ProposalContext { history_root: Hash::ZERO, ..ok.clone() }, "history_root"),
            (ProposalContext { validators_hash: Hash::ZERO, ..ok.clone() }, "validators_hash"),
            (ProposalContext { parent_time_ms: block.header.time_ms, ..ok.clone() }, "not after its parent"),
            (
                ProposalContext { clock_ms: Some(block.header.time_ms + 5_001), ..ok.clone() },
                "from this validator's clock",
            ),
            (
                ProposalContext { clock_ms: Some(block.header.time_ms - 5_001), ..ok.clone() },
                "from this validator's clock",
            ),
        ];
        for (ctx, want) in cases {
            let err = check_proposal(&block, &ctx).expect_err(want);
            assert!(err.to_string().contains(want), "{err} should mention {want}");
        }
        assert_eq!(check_proposal(&block, &ProposalContext { clock_ms: None, ..ok.clone() }.clone()), Ok(()));
        assert_eq!(proposal_time_ms(10, 20), 21);
        assert_eq!(proposal_time_ms(30, 20), 30);
    }
}

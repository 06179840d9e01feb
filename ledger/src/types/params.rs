//! Chain parameters: set in genesis, changed only by governance.

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::codec::Canonical;
use crate::limits::{
    BLOCK_BYTES_MAX, BLOCK_TXS_MAX, CLOCK_DRIFT_MS_MAX, EMPTY_BLOCK_INTERVAL_MS_MAX, HEADER_BYTES_MAX, TIMEOUT_MS_MAX,
    TX_BYTES_MAX,
};

/// Chain parameters, set in genesis and changed only by governance.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Most txs in a block (at most [`BLOCK_TXS_MAX`]).
    pub max_block_txs: u32,
    /// Largest block encoding in bytes (at most [`BLOCK_BYTES_MAX`]).
    pub max_block_bytes: u32,
    /// Largest tx encoding in bytes (at most [`TX_BYTES_MAX`]).
    pub max_tx_bytes: u32,
    /// How far a proposed block's time may differ from a validator's clock.
    pub max_clock_drift_ms: u64,
    /// Consensus timeouts.
    pub timeouts: Timeouts,
    /// How long an idle chain waits for a tx before it makes an empty block, counted
    /// from the last block's time (at most [`EMPTY_BLOCK_INTERVAL_MS_MAX`]; 0 makes
    /// blocks back to back). A tx starts the next height at once. The interval bounds how
    /// old the latest attested time is on an idle chain, so how stale a certificate
    /// status proven "as of now" can be.
    pub empty_block_interval_ms: u64,
}

impl Canonical for Params {
    const KIND: &'static str = "params";
    const BYTES_MAX: usize = 128;
}

/// Consensus timeouts, in milliseconds; each round adds `round_increase_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// Wait for a proposal.
    pub propose_ms: u64,
    /// Wait for prevotes after seeing +2/3 of them for different values.
    pub prevote_ms: u64,
    /// Wait for precommits after seeing +2/3 of them for different values.
    pub precommit_ms: u64,
    /// Pause after a commit before starting the next height.
    pub commit_ms: u64,
    /// Added to each timeout per round.
    pub round_increase_ms: u64,
}

/// Parameters that break a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("params.{field} is {value}; it must be between {min} and {max}")]
pub struct ParamsError {
    /// The field.
    pub field: &'static str,
    /// Its value.
    pub value: u64,
    /// Smallest allowed.
    pub min: u64,
    /// Largest allowed.
    pub max: u64,
}

impl Params {
    /// Checks every field against its hard limit.
    pub fn validate(&self) -> Result<(), ParamsError> {
        let t = &self.timeouts;
        let checks: [(&'static str, u64, u64, u64); 10] = [
            ("max_block_txs", self.max_block_txs.into(), 1, BLOCK_TXS_MAX as u64),
            ("max_block_bytes", self.max_block_bytes.into(), (HEADER_BYTES_MAX + 1024) as u64, BLOCK_BYTES_MAX as u64),
            ("max_tx_bytes", self.max_tx_bytes.into(), 256, TX_BYTES_MAX.min(self.max_block_bytes as usize) as u64),
            ("max_clock_drift_ms", self.max_clock_drift_ms, 1, CLOCK_DRIFT_MS_MAX),
            ("timeouts.propose_ms", t.propose_ms, 1, TIMEOUT_MS_MAX),
            ("timeouts.prevote_ms", t.prevote_ms, 1, TIMEOUT_MS_MAX),
            ("timeouts.precommit_ms", t.precommit_ms, 1, TIMEOUT_MS_MAX),
            ("timeouts.commit_ms", t.commit_ms, 0, TIMEOUT_MS_MAX),
            ("timeouts.round_increase_ms", t.round_increase_ms, 0, TIMEOUT_MS_MAX),
            ("empty_block_interval_ms", self.empty_block_interval_ms, 0, EMPTY_BLOCK_INTERVAL_MS_MAX),
        ];
        for (field, value, min, max) in checks {
            if value < min || value > max {
                return Err(ParamsError { field, value, min, max });
            }
        }
        Ok(())
    }
}

/// The default idle interval: one minute. An idle chain makes 1,440 blocks a day
/// instead of 86,400 (one a second), and the latest attested time is never more than a
/// minute old, so a certificate's status proven "as of now" on an idle chain is at most
/// a minute stale (hosted signing accepts proofs up to ten minutes old).
pub const DEFAULT_EMPTY_BLOCK_INTERVAL_MS: u64 = 60_000;

impl Default for Params {
    fn default() -> Self {
        Params {
            max_block_txs: 10_000,
            max_block_bytes: 8 * 1024 * 1024,
            max_tx_bytes: TX_BYTES_MAX as u32,
            max_clock_drift_ms: 5_000,
            timeouts: Timeouts {
                propose_ms: 3_000,
                prevote_ms: 1_000,
                precommit_ms: 1_000,
                commit_ms: 500,
                round_increase_ms: 500,
            },
            empty_block_interval_ms: DEFAULT_EMPTY_BLOCK_INTERVAL_MS,
        }
    }
}

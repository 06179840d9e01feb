//! The system clock, the node's only reader of it (the consensus host and the ledger are
//! given the time).

use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable that shifts this node's clock, in signed milliseconds. For
/// tests only: the network-fault tests run a validator whose clock is skewed beyond the
/// chain's allowed drift. Never set it on a real node.
pub const CLOCK_OFFSET_ENV: &str = "CHANCERY_TEST_CLOCK_OFFSET_MS";

/// Milliseconds since the Unix epoch (shifted by [`CLOCK_OFFSET_ENV`] if it is set).
pub fn now_ms() -> u64 {
    static OFFSET: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let offset = *OFFSET.get_or_init(|| {
        let offset = std::env::var(CLOCK_OFFSET_ENV).ok().and_then(|v| v.trim().parse::<i64>().ok()).unwrap_or(0);
        if offset != 0 {
            tracing::warn!(offset_ms = offset, "this node's clock is shifted for a test ({CLOCK_OFFSET_ENV})");
        }
        offset
    });
    // A clock before 1970 reads as the epoch: every time check then fails closed (too old).
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    now.saturating_add_signed(offset)
}

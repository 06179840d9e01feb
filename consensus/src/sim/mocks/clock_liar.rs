//! A validator whose clock is wrong: its host proposes blocks at its clock's time (never
//! before the parent's, as the host's rule is) and judges others' blocks by it.

use crate::host::Now;

/// `now` as a clock off by `offset_ms` reads it.
pub fn skewed(now: Now, offset_ms: i64) -> Now {
    Now { ms: now.ms, clock_ms: now.clock_ms.saturating_add_signed(offset_ms) }
}

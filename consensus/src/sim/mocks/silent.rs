//! A validator that sends nothing at all (crashed for the others, but still running).

use crate::wire::Message;

/// Nothing.
pub(super) fn outgoing() -> Vec<(usize, Message)> {
    Vec::new()
}

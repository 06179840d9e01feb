//! A validator that also sends, with each message, one it received earlier (old votes,
//! proposals and txs of past heights and rounds).

use super::Sending;
use crate::wire::Message;

pub(super) fn outgoing(message: &Message, peers: &[usize], sending: &mut Sending<'_>) -> Vec<(usize, Message)> {
    let seen = sending.seen;
    let old = (!seen.is_empty()).then(|| seen[(sending.rng.next() as usize) % seen.len()].clone());
    let mut out = Vec::new();
    for &to in peers {
        out.push((to, message.clone()));
        if let Some(old) = &old {
            out.push((to, old.clone()));
        }
    }
    out
}

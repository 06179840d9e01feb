//! Byzantine test doubles. Each runs the real host (so it follows the protocol where it
//! does not deviate) and deviates in what it sends, or in the clock it reads: one file
//! per fault.

mod clock_liar;
mod equivocator;
mod future_sender;
mod replayer;
mod silent;
mod usurper;

use chancery_ledger::ChainIdentity;
use ed25519_dalek::SigningKey;

pub use clock_liar::skewed;

use super::Rng;
use crate::wire::Message;

/// How a simulated validator behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Follows the protocol.
    Honest,
    /// Sends nothing at all.
    Silent,
    /// Its clock is off by this many milliseconds (it proposes and judges by it).
    ClockLiar(i64),
    /// Sends every vote to half its peers, and a conflicting vote and then the vote to
    /// the other half.
    EquivocatingVoter,
    /// Sends its proposal to half its peers, and a different block and then the proposal
    /// to the other half.
    EquivocatingProposer,
    /// Also sends its votes relabelled for later rounds and heights.
    FutureSender,
    /// Also sends, with each message, an old message it received earlier.
    Replayer,
    /// Also proposes its block in the other rounds of its height, out of turn.
    Usurper,
}

impl Behaviour {
    /// Whether it follows the protocol.
    pub fn is_honest(self) -> bool {
        self == Behaviour::Honest
    }
}

/// What a double knows when it sends: its key, the chain, the simulation's randomness,
/// and what it received.
pub(super) struct Sending<'a> {
    pub key: &'a SigningKey,
    pub chain: &'a ChainIdentity,
    pub rng: &'a mut Rng,
    pub seen: &'a [Message],
}

/// What validator `from` behaving as `behaviour` sends each of `peers` when its host
/// broadcasts `message`.
pub(super) fn outgoing(
    behaviour: Behaviour,
    message: &Message,
    peers: &[usize],
    sending: &mut Sending<'_>,
) -> Vec<(usize, Message)> {
    let all = |message: &Message| peers.iter().map(|to| (*to, message.clone())).collect::<Vec<_>>();
    match behaviour {
        Behaviour::Silent => silent::outgoing(),
        Behaviour::EquivocatingVoter | Behaviour::EquivocatingProposer => {
            let proposer = behaviour == Behaviour::EquivocatingProposer;
            equivocator::outgoing(message, peers, proposer, sending)
        }
        Behaviour::FutureSender => future_sender::outgoing(message, peers, sending),
        Behaviour::Replayer => replayer::outgoing(message, peers, sending),
        Behaviour::Usurper => usurper::outgoing(message, peers, sending),
        Behaviour::Honest | Behaviour::ClockLiar(_) => all(message),
    }
}

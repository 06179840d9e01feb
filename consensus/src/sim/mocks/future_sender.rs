//! A validator that also sends its votes relabelled for later rounds and heights
//! (validly signed: only the slot is a lie).

use ed25519_dalek::Signer as _;
use malachitebft_core_types::{Round, SignedMessage};

use super::Sending;
use crate::context::{Height, Sig};
use crate::wire::{Message, WireVote};

pub(super) fn outgoing(message: &Message, peers: &[usize], sending: &mut Sending<'_>) -> Vec<(usize, Message)> {
    let mut copies = vec![message.clone()];
    if let Message::Vote(vote) = message {
        for (more_heights, more_rounds) in [(0u64, 12u32), (2, 0), (5, 3)] {
            let mut relabelled = vote.to_signed().message;
            relabelled.height = Height(vote.height + more_heights);
            relabelled.round = Round::new(vote.round + more_rounds);
            let signature = Sig(sending.key.sign(relabelled.signing_message(sending.chain).as_bytes()).to_bytes());
            copies.push(Message::Vote(WireVote::from_signed(&SignedMessage::new(relabelled, signature))));
        }
    }
    peers.iter().flat_map(|to| copies.iter().map(move |m| (*to, m.clone()))).collect()
}

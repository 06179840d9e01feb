//! A validator that proposes out of turn: with its own proposal, it sends the same block
//! proposed (and signed) by itself for the other rounds of the height, where another
//! validator is the proposer. An honest host executes and keeps none of those.

use ed25519_dalek::Signer as _;
use malachitebft_core_types::{Round, SignedMessage};

use super::Sending;
use crate::context::Sig;
use crate::wire::{Message, WireProposal};

/// The rounds of a height the usurper also proposes in.
const ROUNDS: u32 = 4;

pub(super) fn outgoing(message: &Message, peers: &[usize], sending: &mut Sending<'_>) -> Vec<(usize, Message)> {
    let mut copies = vec![message.clone()];
    if let Message::Proposal(proposal) = message {
        for round in (0..ROUNDS).filter(|r| *r != proposal.round) {
            let mut usurped = proposal.to_signed().message;
            usurped.round = Round::new(round);
            usurped.pol_round = Round::Nil;
            let signature = Sig(sending.key.sign(usurped.signing_message(sending.chain).as_bytes()).to_bytes());
            copies.push(Message::Proposal(WireProposal::from_signed(&SignedMessage::new(usurped, signature))));
        }
    }
    peers.iter().flat_map(|to| copies.iter().map(move |m| (*to, m.clone()))).collect()
}

//! Equivocation: even peers get the message; odd peers get a conflicting twin signed
//! with the same key (a vote for another block, or nil; a proposal of another block)
//! and then the message too, so someone holds both signed messages (the evidence).

use ed25519_dalek::Signer as _;
use malachitebft_core_types::{NilOrVal, SignedMessage};

use super::Sending;
use crate::context::{BlockHash, BlockValue, Sig};
use crate::wire::{Message, WireProposal, WireVote};
use chancery_ledger::HashContext;

pub(super) fn outgoing(
    message: &Message,
    peers: &[usize],
    proposer: bool,
    sending: &mut Sending<'_>,
) -> Vec<(usize, Message)> {
    let twin = twin(message, proposer, sending);
    let mut out = Vec::new();
    for &to in peers {
        match &twin {
            Some(twin) if to % 2 == 1 => {
                out.push((to, twin.clone()));
                out.push((to, message.clone()));
            }
            _ => out.push((to, message.clone())),
        }
    }
    out
}

/// The conflicting twin: of a vote for an equivocating voter, of a proposal for an
/// equivocating proposer.
fn twin(message: &Message, proposer: bool, sending: &mut Sending<'_>) -> Option<Message> {
    match (message, proposer) {
        (Message::Vote(vote), false) => {
            let mut twin = vote.to_signed().message;
            twin.value = match twin.value {
                NilOrVal::Nil => NilOrVal::Val(BlockHash(HashContext::Header.hash(&sending.rng.next().to_le_bytes()))),
                NilOrVal::Val(_) => NilOrVal::Nil,
            };
            let signature = Sig(sending.key.sign(twin.signing_message(sending.chain).as_bytes()).to_bytes());
            Some(Message::Vote(WireVote::from_signed(&SignedMessage::new(twin, signature))))
        }
        (Message::Proposal(proposal), true) => {
            let mut twin = proposal.to_signed().message;
            let mut block = twin.value.block().clone();
            block.header.time_ms += 1;
            twin.value = BlockValue::new(block);
            let signature = Sig(sending.key.sign(twin.signing_message(sending.chain).as_bytes()).to_bytes());
            Some(Message::Proposal(WireProposal::from_signed(&SignedMessage::new(twin, signature))))
        }
        _ => None,
    }
}

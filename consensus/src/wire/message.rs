//! What peers send each other: consensus messages (votes, proposals, polka
//! certificates), tx gossip, status, block and proposal-tx requests, and the replies.
//! Canonical ledger encoding, each bounded by [`MESSAGE_BYTES_MAX`].

use bincode::{Decode, Encode};
use chancery_ledger::codec::{BoundedVec, LimitError};
use chancery_ledger::limits::{BLOCK_BYTES_MAX, BLOCK_TXS_MAX, COMMIT_BYTES_MAX, TX_BYTES_MAX, VALIDATORS_MAX};
use chancery_ledger::{encode, Block, Canonical, Commit, Hash, Header, PublicKey, Signature, Tx, VoteKind};
use malachitebft_core_types::{
    NilOrVal, PolkaCertificate, PolkaSignature, Round, RoundCertificate, RoundCertificateType, RoundSignature, VoteType,
};

use super::{WireProposal, WireVote};
use crate::context::{Address, BlockHash, ChanceryContext, Height, Sig};

/// Most txs in one gossip message.
pub const TXS_PER_MESSAGE_MAX: usize = 1024;
/// Largest message on the wire: a block with its commit and framing.
pub const MESSAGE_BYTES_MAX: usize = BLOCK_BYTES_MAX + COMMIT_BYTES_MAX + 1024;
/// Most bytes of txs in one gossip message: [`TXS_PER_MESSAGE_MAX`] txs of up to
/// `TX_BYTES_MAX` would not fit a message, so messages are cut by bytes too.
pub const TXS_MESSAGE_BYTES_MAX: usize = BLOCK_BYTES_MAX;
const _: () = assert!(TXS_MESSAGE_BYTES_MAX + 64 <= MESSAGE_BYTES_MAX, "a tx message and its framing fit a frame");
const _: () = assert!(TX_BYTES_MAX <= TXS_MESSAGE_BYTES_MAX, "one tx always fits a message");
/// A polka certificate on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct WirePolka {
    /// Height.
    pub height: u64,
    /// Round.
    pub round: u32,
    /// The block.
    pub block_hash: Hash,
    /// The prevotes.
    pub signatures: BoundedVec<(PublicKey, Signature), VALIDATORS_MAX>,
}

impl WirePolka {
    /// The certificate the engine takes.
    pub fn to_certificate(&self) -> PolkaCertificate<ChanceryContext> {
        PolkaCertificate {
            height: Height(self.height),
            round: Round::new(self.round),
            value_id: BlockHash(self.block_hash),
            polka_signatures: self.signatures.iter().map(|(a, s)| PolkaSignature::new(Address(*a), Sig(s.0))).collect(),
        }
    }
}

/// A round certificate on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct WireRoundCertificate {
    /// Height.
    pub height: u64,
    /// The round the certificate lets a validator enter.
    pub round: u32,
    /// Made of f+1 votes of `round` (`true`), or 2f+1 precommits of the round before.
    pub skip: bool,
    /// The votes: kind, the block voted for (or nil), the voter and its signature.
    pub votes: BoundedVec<(VoteKind, Option<Hash>, PublicKey, Signature), VALIDATORS_MAX>,
}

impl WireRoundCertificate {
    /// The wire form of a certificate the engine made; `None` if it has more votes than a
    /// set has validators or no defined round (neither comes from the engine).
    pub fn from_certificate(cert: &RoundCertificate<ChanceryContext>) -> Option<Self> {
        let votes = cert
            .round_signatures
            .iter()
            .map(|s| {
                let kind = match s.vote_type {
                    VoteType::Prevote => VoteKind::Prevote,
                    VoteType::Precommit => VoteKind::Precommit,
                };
                let block = match &s.value_id {
                    NilOrVal::Nil => None,
                    NilOrVal::Val(hash) => Some(hash.0),
                };
                (kind, block, s.address.0, Signature(s.signature.0))
            })
            .collect();
        Some(WireRoundCertificate {
            height: cert.height.0,
            round: cert.round.as_u32()?,
            skip: cert.cert_type == RoundCertificateType::Skip,
            votes: BoundedVec::new(votes).ok()?,
        })
    }

    /// The certificate the engine takes (it checks the signatures and the thresholds).
    pub fn to_certificate(&self) -> RoundCertificate<ChanceryContext> {
        RoundCertificate {
            height: Height(self.height),
            round: Round::new(self.round),
            cert_type: if self.skip { RoundCertificateType::Skip } else { RoundCertificateType::Precommit },
            round_signatures: self
                .votes
                .iter()
                .map(|(kind, block, address, signature)| {
                    let vote_type = match kind {
                        VoteKind::Prevote => VoteType::Prevote,
                        VoteKind::Precommit => VoteType::Precommit,
                    };
                    let value_id = block.map_or(NilOrVal::Nil, |hash| NilOrVal::Val(BlockHash(hash)));
                    RoundSignature::new(vote_type, value_id, Address(*address), Sig(signature.0))
                })
                .collect(),
        }
    }
}

/// A proposal that names its txs by hash.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CompactProposal {
    /// Height.
    pub height: u64,
    /// Round.
    pub round: u32,
    /// Proof-of-lock round.
    pub pol_round: Option<u32>,
    /// The proposer.
    pub proposer: PublicKey,
    /// The block's header.
    pub header: Header,
    /// The block's tx hashes, in order.
    pub tx_hashes: BoundedVec<Hash, BLOCK_TXS_MAX>,
    /// The proposer's signature over the ledger proposal header.
    pub signature: Signature,
}

impl CompactProposal {
    /// The compact form of `proposal` and its tx hashes.
    pub fn of(proposal: &WireProposal) -> Self {
        let hashes = proposal.block.txs.iter().map(Tx::hash).collect();
        CompactProposal {
            height: proposal.height,
            round: proposal.round,
            pol_round: proposal.pol_round,
            proposer: proposal.proposer,
            header: proposal.block.header.clone(),
            tx_hashes: BoundedVec::new(hashes).expect("as many hashes as the block has txs, within the same bound"),
            signature: proposal.signature,
        }
    }

    /// The whole proposal with its txs (in the order of `tx_hashes`). The txs are not
    /// checked against the header here: validation does that, as for any proposal.
    pub fn complete(self, txs: Vec<Tx>) -> Result<WireProposal, LimitError> {
        Ok(WireProposal {
            height: self.height,
            round: self.round,
            pol_round: self.pol_round,
            proposer: self.proposer,
            block: Block { header: self.header, txs: BoundedVec::new(txs)? },
            signature: self.signature,
        })
    }
}

/// What peers send each other.
// Decoded once and moved to its handler: boxing the proposal would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum Message {
    /// A signed vote.
    Vote(WireVote),
    /// A signed proposal with its block.
    Proposal(WireProposal),
    /// A polka certificate.
    Polka(WirePolka),
    /// Txs a peer's mempool admitted, numbered by the sender so the receiver admits them
    /// in the order the sender did (a signer's later nonces must not overtake its
    /// earlier ones, or the earlier ones become stale once the later ones commit).
    Txs {
        /// The sender's sequence number of this message.
        seq: u64,
        /// The txs.
        txs: BoundedVec<Tx, TXS_PER_MESSAGE_MAX>,
    },
    /// How many blocks the sender has committed.
    Status {
        /// Committed blocks.
        blocks: u64,
    },
    /// Asks for the committed block at `height` with its commit.
    GetBlock {
        /// The height.
        height: u64,
    },
    /// A proposal whose txs are named by hash.
    CompactProposal(CompactProposal),
    /// Asks a proposer for txs of its proposal of block `block_hash` at (`height`,
    /// `round`).
    GetProposalTxs {
        /// The height.
        height: u64,
        /// The round.
        round: u32,
        /// The proposed block's hash.
        block_hash: Hash,
        /// The txs wanted.
        hashes: BoundedVec<Hash, BLOCK_TXS_MAX>,
    },
    /// Votes that justify entering a round: f+1 of it (skip) or 2f+1 precommits of the
    /// round before it. A validator that fell behind in rounds (its messages of earlier
    /// rounds lost) joins the round the others are in.
    RoundCertificate(WireRoundCertificate),
}

impl Canonical for Message {
    const KIND: &'static str = "p2p message";
    const BYTES_MAX: usize = MESSAGE_BYTES_MAX;
}

/// The answer to a [`Message`].
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum Reply {
    /// Received.
    Ack,
    /// The block asked for, with its commit.
    Block {
        /// The block.
        block: Block,
        /// Its commit.
        commit: Commit,
    },
    /// Not stored here.
    NoBlock,
    /// Txs of a proposal, those of the asked hashes that the proposer has.
    ProposalTxs(BoundedVec<Tx, BLOCK_TXS_MAX>),
    /// Too many block reads under way here: ask again later, or another peer.
    Busy,
}

impl Canonical for Reply {
    const KIND: &'static str = "p2p reply";
    const BYTES_MAX: usize = MESSAGE_BYTES_MAX;
}

/// Cuts `txs` into gossip messages of at most [`TXS_PER_MESSAGE_MAX`] txs and
/// [`TXS_MESSAGE_BYTES_MAX`] bytes, in order.
pub fn pack_txs(txs: Vec<Tx>) -> Vec<BoundedVec<Tx, TXS_PER_MESSAGE_MAX>> {
    pack_txs_within(txs, TXS_MESSAGE_BYTES_MAX)
}

/// [`pack_txs`] with another byte bound per message.
pub fn pack_txs_within(txs: Vec<Tx>, bytes_max: usize) -> Vec<BoundedVec<Tx, TXS_PER_MESSAGE_MAX>> {
    let mut messages = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for tx in txs {
        let size = encode(&tx).len();
        if !current.is_empty() && (current.len() == TXS_PER_MESSAGE_MAX || bytes + size > bytes_max) {
            // Within the count bound by construction.
            messages.extend(BoundedVec::new(std::mem::take(&mut current)).ok());
            bytes = 0;
        }
        bytes += size;
        current.push(tx);
    }
    if !current.is_empty() {
        messages.extend(BoundedVec::new(current).ok());
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;
    use chancery_ledger::decode;
    use chancery_ledger::testkit::{key, public, sign, TestChain};

    fn proposal(txs: usize) -> WireProposal {
        let mut chain = TestChain::new(4);
        let txs = (0..txs).map(|i| chain.evidence_tx(format!("document {i}").as_bytes())).collect();
        let (block, _) = chain.commit_block(txs);
        let proposer = key(1, 0);
        WireProposal {
            height: block.header.height,
            round: 2,
            pol_round: Some(1),
            proposer: public(&proposer),
            signature: sign(&proposer, &block.header.hash()),
            block,
        }
    }

    #[test]
    fn a_compact_proposal_completes_to_the_same_proposal_and_is_smaller() {
        let full = proposal(20);
        let message = Message::CompactProposal(CompactProposal::of(&full));
        let bytes = encode(&message);
        assert!(bytes.len() * 3 < encode(&Message::Proposal(full.clone())).len(), "hashes instead of txs");
        let Ok(Message::CompactProposal(compact)) = decode::<Message>(&bytes) else { panic!("round trip") };
        assert_eq!(compact.tx_hashes.len(), 20);
        assert_eq!(compact.complete(full.block.txs.to_vec()).expect("completes"), full);
        for cut in [1, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode::<Message>(&bytes[..cut]).is_err(), "truncated at {cut}");
        }
    }

    #[test]
    fn gossip_messages_are_cut_by_count_and_bytes_and_each_fits_a_frame() {
        // Cut by count (1,024 txs), and by bytes: 1,024 txs at the tx size limit would be
        // 64 MiB, twice a frame, so a lower byte limit is tried on smaller txs here.
        let mut chain = TestChain::new(4);
        let big: Vec<Tx> = (0..1_100)
            .map(|i| {
                let mut tx = chain.evidence_tx(format!("document {i}").as_bytes());
                if let chancery_ledger::TxBody::Evidence(e) = &mut tx.body {
                    e.refs = BoundedVec::new(vec![Hash([i as u8; 32]); 16]).expect("refs");
                }
                tx
            })
            .collect();
        let small = pack_txs(big[..10].to_vec());
        assert_eq!(small.len(), 1);
        let counted = pack_txs(big.clone());
        assert_eq!(counted.iter().map(|m| m.len()).collect::<Vec<_>>(), vec![TXS_PER_MESSAGE_MAX, 76]);
        let heavy: Vec<Tx> = big.into_iter().take(600).collect();
        let per = encode(&heavy[0]).len();
        let bytes_cut = pack_txs_within(heavy, per * 100);
        assert_eq!(bytes_cut.len(), 6, "{}", bytes_cut.len());
        for txs in pack_txs((0..3).map(|i| chain.evidence_tx(&[i])).collect()) {
            let message = encode(&Message::Txs { seq: u64::MAX, txs });
            assert!(message.len() <= MESSAGE_BYTES_MAX);
        }
    }
}

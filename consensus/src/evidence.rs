//! Equivocations the consensus core saw at a height, as the ledger's self-contained
//! misbehaviour records (`chancery_ledger::misbehaviour`), ready to anchor.

use chancery_ledger::{ChainIdentity, Signature};
use malachitebft_core_consensus::MisbehaviorEvidence;

pub use chancery_ledger::misbehaviour::{Equivocation, EquivocationError, SignedItem};

use crate::engine::Ctx;

/// Every equivocation in a height's misbehaviour evidence, as self-contained records.
pub fn equivocations(chain: &ChainIdentity, evidence: &MisbehaviorEvidence<Ctx>) -> Vec<Equivocation> {
    let mut out = Vec::new();
    for (address, pairs) in evidence.votes.iter() {
        for (a, b) in pairs {
            out.push(Equivocation {
                validator: address.0,
                first: SignedItem::Vote { vote: a.message.to_ledger(chain), signature: Signature(a.signature.0) },
                second: SignedItem::Vote { vote: b.message.to_ledger(chain), signature: Signature(b.signature.0) },
            });
        }
    }
    for (address, pairs) in evidence.proposals.iter() {
        for (a, b) in pairs {
            out.push(Equivocation {
                validator: address.0,
                first: SignedItem::Proposal {
                    proposal: a.message.to_ledger(chain),
                    signature: Signature(a.signature.0),
                },
                second: SignedItem::Proposal {
                    proposal: b.message.to_ledger(chain),
                    signature: Signature(b.signature.0),
                },
            });
        }
    }
    out
}

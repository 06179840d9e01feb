//! Building and signing txs on the client side (the CLI, the load generator, tests):
//! the integrator's key never leaves the client.

use chancery_ledger::codec::BoundedVec;
use chancery_ledger::tx::{Evidence, EvidenceKind};
use chancery_ledger::{encode, ChainIdentity, Digest, Tx, TxBody};
use ed25519_dalek::SigningKey;

/// A signed evidence tx anchoring `digest` as `kind`.
pub fn evidence_tx(key: &SigningKey, chain: &ChainIdentity, kind: EvidenceKind, digest: Digest, nonce: u64) -> Tx {
    let body = TxBody::Evidence(Evidence {
        kind,
        digest,
        refs: BoundedVec::empty(),
        meta: None,
        claimed_time_ms: None,
        cert: None,
        signature: None,
    });
    sign_tx(key, chain, body, nonce)
}

/// Signs `body` as a tx of `key` (a member's key, or an institution's admin key) on the
/// chain `chain` (its id and genesis hash).
pub fn sign_tx(key: &SigningKey, chain: &ChainIdentity, body: TxBody, nonce: u64) -> Tx {
    Tx::sign(key, chain, body, nonce)
}

/// The hex of a tx's canonical bytes: how txs travel over the RPC.
pub fn tx_hex(tx: &Tx) -> String {
    hex::encode(encode(tx))
}

/// A nonce base from the clock: microseconds since the Unix epoch. A client that numbers
/// its txs `base, base + 1, ...` stays above every nonce it used before, as long as it
/// sends fewer txs than microseconds pass between runs and the clock does not go back.
pub fn clock_nonce() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

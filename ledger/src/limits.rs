//! Every external quantity the ledger accepts has a named limit here. Decoders enforce them,
//! so hostile input is rejected before it can allocate or loop. Relationships between
//! limits are asserted at compile time at the bottom of this file.

/// Longest chain id, in bytes (ASCII letters, digits, `-`, `_`, `.`).
pub const CHAIN_ID_BYTES_MAX: usize = 64;
/// Longest human-readable name of a validator or member, in bytes of UTF-8.
pub const NAME_BYTES_MAX: usize = 64;
/// Longest certificate-authority id, in bytes.
pub const CA_ID_BYTES_MAX: usize = 64;
/// Longest certificate serial number, in bytes (X.509 allows 20).
pub const CERT_SERIAL_BYTES_MAX: usize = 32;
/// Most records one evidence record may reference.
pub const EVIDENCE_REFS_MAX: usize = 16;
/// Most evidence kinds one integrator may be permitted to submit.
pub const MEMBER_KINDS_MAX: usize = 16;
/// Most validators in one set.
pub const VALIDATORS_MAX: usize = 128;
/// Largest voting power of one validator. With `VALIDATORS_MAX` validators the total fits
/// a `u64` with room to spare, so power sums never overflow.
pub const VALIDATOR_POWER_MAX: u64 = 1 << 48;
/// Largest canonical encoding of one transaction.
pub const TX_BYTES_MAX: usize = 64 * 1024;
/// Most transactions in one block.
pub const BLOCK_TXS_MAX: usize = 20_000;
/// Largest canonical encoding of one block (header and transactions).
pub const BLOCK_BYTES_MAX: usize = 32 * 1024 * 1024;
/// Largest canonical encoding of one block header.
pub const HEADER_BYTES_MAX: usize = 1024;
/// Largest canonical encoding of one commit or validator set.
pub const COMMIT_BYTES_MAX: usize = 32 * 1024;
/// Largest canonical encoding of one validator set.
pub const VALIDATOR_SET_BYTES_MAX: usize = 32 * 1024;
/// Most sibling hashes in any Merkle proof (tx tree or history tree): trees of up to
/// 2^64 leaves.
pub const PROOF_DEPTH_MAX: usize = 64;
/// Most validator-set changes one proof bundle may carry.
pub const BUNDLE_SET_CHANGES_MAX: usize = 4096;
/// Largest proof bundle accepted by the verifier, in bytes of JSON.
pub const BUNDLE_JSON_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Most events one certificate may have (issue, renewals, revocation).
pub const CERT_EVENTS_MAX: usize = 128;
/// Largest value stored under one state key (a validator set is the largest).
pub const STATE_VALUE_BYTES_MAX: usize = 64 * 1024;
/// Upper bound handed to the bincode decoder for any one object: a backstop behind the
/// per-kind limits above, so that no length prefix can make it allocate more.
pub const DECODE_BYTES_MAX: usize = 4 * BLOCK_BYTES_MAX;

/// Most votes one governance proposal records: every institution once, with room for
/// institutions that join, leave or rotate their admin key while it is open.
pub const GOV_VOTES_MAX: usize = 2 * VALIDATORS_MAX;
/// Longest a governance proposal may stay open, in blocks after the one holding it.
pub const GOV_EXPIRY_BLOCKS_MAX: u64 = 1_000_000;
/// Most governance proposals open at once (pending and not expired).
pub const GOV_PENDING_MAX: usize = 256;
/// Longest reason recorded for a proposal whose change could not be applied, in bytes.
pub const GOV_REASON_BYTES_MAX: usize = 256;

/// Largest `max_clock_drift_ms` a genesis may set: one hour.
pub const CLOCK_DRIFT_MS_MAX: u64 = 3_600_000;
/// Longest consensus timeout a genesis may set: ten minutes.
pub const TIMEOUT_MS_MAX: u64 = 600_000;
/// Longest `empty_block_interval_ms` a genesis may set: five minutes, so the latest
/// block of an idle chain is always well within the age a hosted signer accepts for a
/// certificate status proof (ten minutes).
pub const EMPTY_BLOCK_INTERVAL_MS_MAX: u64 = 300_000;

const _: () = assert!(TX_BYTES_MAX <= BLOCK_BYTES_MAX);
const _: () = assert!(VALIDATOR_SET_BYTES_MAX <= STATE_VALUE_BYTES_MAX);
// A certificate entry is at most 8 + 32 + 2 * (4 + 8 + 64) + 4 + 16 bytes.
const _: () = assert!(CERT_EVENTS_MAX * 256 + 8 <= STATE_VALUE_BYTES_MAX);
const _: () = assert!(HEADER_BYTES_MAX + TX_BYTES_MAX <= BLOCK_BYTES_MAX);
const _: () = assert!(BLOCK_BYTES_MAX <= DECODE_BYTES_MAX);
const _: () = assert!(VALIDATORS_MAX <= u16::MAX as usize);
const _: () = assert!((VALIDATORS_MAX as u128) * (VALIDATOR_POWER_MAX as u128) < u64::MAX as u128);
// A commit holds one (key, signature) pair of 96 bytes per validator plus its header.
const _: () = assert!(VALIDATORS_MAX * 96 + 64 <= COMMIT_BYTES_MAX);
// A validator entry is at most name (8 + 64) + role 4 + three keys 96 + power 8 bytes.
const _: () = assert!(VALIDATORS_MAX * (8 + NAME_BYTES_MAX + 4 + 96 + 8) + 8 <= VALIDATOR_SET_BYTES_MAX);
// A proposal record: its change (a member or validator entry, at most 1 KiB), proposer,
// heights, a reason and every vote (admin key 32, approve 1, height 8, tx hash 32).
const _: () = assert!(1024 + 32 + 16 + GOV_REASON_BYTES_MAX + 16 + GOV_VOTES_MAX * 73 <= STATE_VALUE_BYTES_MAX);
// The list of open proposals: id and expiry height each.
const _: () = assert!(8 + GOV_PENDING_MAX * 40 <= STATE_VALUE_BYTES_MAX);

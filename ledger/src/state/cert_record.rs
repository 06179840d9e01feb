//! A certificate's record in the state (every anchored event, in chain order) and its
//! status at a time, which the state transition keeps and the verifier recomputes.
//!
//! Status. From a certificate's anchored events ([`CertRecord`]) and a time `t`:
//! - no event at all: `Unknown`;
//! - a revocation effective at or before `t`: `Revoked` (from its effective time on,
//!   whatever the validity window says);
//! - `t` before `not_before_ms`: `NotYetValid`;
//! - `t` within the validity: `Valid`. Validity runs from `not_before_ms` to
//!   `not_after_ms`, both included. A renewal recorded before the validity ran out
//!   extends it without a gap; one recorded after it ran out (the platform renews
//!   expired certificates) extends it from its block time, so the time between the old
//!   end and that block stays `Expired`: a later renewal does not make a lapsed
//!   certificate valid in hindsight;
//! - otherwise `Expired`.

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::codec::{BoundedVec, Canonical};
use crate::digest::Digest;
use crate::hash::Hash;
use crate::limits::{CERT_EVENTS_MAX, STATE_VALUE_BYTES_MAX};
use crate::types::tx::{CertEventKind, RevocationReason};

/// Every event of one certificate, in chain order.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct CertRecord {
    /// The events.
    pub events: BoundedVec<CertEntry, CERT_EVENTS_MAX>,
}

impl Default for CertRecord {
    fn default() -> Self {
        CertRecord { events: BoundedVec::empty() }
    }
}

impl Canonical for CertRecord {
    const KIND: &'static str = "certificate record";
    const BYTES_MAX: usize = STATE_VALUE_BYTES_MAX;
}

/// One anchored certificate event.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct CertEntry {
    /// Height of the block that holds it.
    pub height: u64,
    /// That block's time.
    pub time_ms: u64,
    /// The tx that recorded it.
    pub tx_hash: Hash,
    /// Digest of the certificate.
    pub cert_digest: Digest,
    /// Digest of the subject key.
    pub subject_key: Digest,
    /// The event.
    pub event: CertEventKind,
}

/// A certificate's status at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum CertStatus {
    /// Issued, but its validity starts later.
    NotYetValid,
    /// Within its validity and not revoked.
    Valid,
    /// Its validity ran out (and no renewal covered the time).
    Expired,
    /// Revoked, effective at or before the time.
    Revoked {
        /// Why.
        reason: RevocationReason,
        /// From when.
        effective_ms: u64,
    },
    /// No event of this certificate is anchored.
    Unknown,
}

impl CertStatus {
    /// Whether a signature made at that time counts.
    pub fn is_valid(&self) -> bool {
        matches!(self, CertStatus::Valid)
    }

    /// The status's name.
    pub fn name(&self) -> &'static str {
        match self {
            CertStatus::NotYetValid => "not_yet_valid",
            CertStatus::Valid => "valid",
            CertStatus::Expired => "expired",
            CertStatus::Revoked { .. } => "revoked",
            CertStatus::Unknown => "unknown",
        }
    }
}

impl CertRecord {
    /// The status at `at_ms` (see the module documentation).
    pub fn status_at(&self, at_ms: u64) -> CertStatus {
        let mut window: Option<(u64, u64)> = None;
        // Whether `at_ms` falls in a lapse that a late renewal ended.
        let mut lapsed = false;
        for entry in self.events.iter() {
            match entry.event {
                CertEventKind::Issued { not_before_ms, not_after_ms } => window = Some((not_before_ms, not_after_ms)),
                CertEventKind::Renewed { not_after_ms } => {
                    if let Some((from, until)) = window {
                        lapsed |= at_ms > until && at_ms < entry.time_ms;
                        window = Some((from, not_after_ms));
                    }
                }
                CertEventKind::Revoked { reason, effective_ms } if effective_ms <= at_ms => {
                    return CertStatus::Revoked { reason, effective_ms };
                }
                CertEventKind::Revoked { .. } => {}
            }
        }
        let Some((not_before_ms, not_after_ms)) = window else { return CertStatus::Unknown };
        if at_ms < not_before_ms {
            CertStatus::NotYetValid
        } else if at_ms > not_after_ms || lapsed {
            CertStatus::Expired
        } else {
            CertStatus::Valid
        }
    }
}

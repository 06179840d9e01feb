//! Ed25519 public keys and signatures as ledger values.
//!
//! The ledger only verifies; signing lives in the node's signer (and in the `testkit`
//! feature for tests). One rule decides every signature, single or in a batch: canonical
//! encodings, no small-order key, and the cofactored equation `[8]([S]B - [k]A - R) = 0`
//! (PROOF_FORMAT.md section 2). Batch verification checks exactly that equation, so a tx
//! the mempool accepted in a batch is one every node and every offline verifier accepts
//! alone.

use std::fmt;

use bincode::{Decode, Encode};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use serde::{Deserialize, Serialize};

use crate::hash::{parse_hex_array, Hash, HexError};

/// An Ed25519 public key (32 bytes, compressed Edwards point).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub struct PublicKey(pub [u8; 32]);

/// An Ed25519 signature (64 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Signature(pub [u8; 64]);

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The key bytes are not a valid Ed25519 public key.
    #[error("public key {key} is not a valid Ed25519 key")]
    InvalidKey {
        /// The key, in hex.
        key: String,
    },
    /// The signature does not verify under the key.
    #[error("signature does not verify under key {key}")]
    Mismatch {
        /// The key, in hex.
        key: String,
    },
}

impl crate::codec::Canonical for PublicKey {
    const KIND: &'static str = "public key";
    const BYTES_MAX: usize = 32;
}

impl PublicKey {
    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, HexError> {
        parse_hex_array(text).map(PublicKey)
    }

    /// A short form for messages: the first 8 hex digits and an ellipsis.
    pub fn short(&self) -> String {
        format!("{}…", &self.to_hex()[..8])
    }

    /// Whether the bytes are a valid Ed25519 public key by the ledger's rule: a canonical
    /// encoding of a curve point that is not of small order.
    pub fn is_valid(&self) -> bool {
        self.point().is_some()
    }

    fn point(&self) -> Option<EdwardsPoint> {
        let point = decompress_canonical(&self.0)?;
        (!point.is_small_order()).then_some(point)
    }

    /// The key checked once, for verifying many signatures under it (the mempool keeps
    /// one per submitter).
    pub fn checked(&self) -> Result<CheckedKey, SignatureError> {
        let point = self.point().ok_or_else(|| SignatureError::InvalidKey { key: self.to_hex() })?;
        Ok(CheckedKey { key: *self, point })
    }

    /// Verifies `signature` over the 32-byte `message` (always a context hash).
    pub fn verify(&self, message: &Hash, signature: &Signature) -> Result<(), SignatureError> {
        self.checked()?.verify(message, signature)
    }

    /// Verifies `signature` over `message` as given (a hosted document signature is made
    /// over the document digest's bytes, whatever their length), by the same rule.
    pub fn verify_bytes(&self, message: &[u8], signature: &Signature) -> Result<(), SignatureError> {
        self.checked()?.verify_bytes(message, signature)
    }
}

/// A public key whose encoding passed the ledger's checks.
#[derive(Clone, Copy)]
pub struct CheckedKey {
    key: PublicKey,
    point: EdwardsPoint,
}

impl CheckedKey {
    /// The key.
    pub fn key(&self) -> PublicKey {
        self.key
    }

    /// Verifies one signature: `R` canonical, `S < L`, `[8]([S]B - [k]A - R)` the identity
    /// with `k = SHA-512(R || A || M) mod L`.
    pub fn verify(&self, message: &Hash, signature: &Signature) -> Result<(), SignatureError> {
        self.verify_bytes(message.as_bytes(), signature)
    }

    /// [`CheckedKey::verify`] over a message of any length.
    pub fn verify_bytes(&self, message: &[u8], signature: &Signature) -> Result<(), SignatureError> {
        let mismatch = || SignatureError::Mismatch { key: self.key.to_hex() };
        let (r_bytes, s_bytes) = split(signature);
        let r = decompress_canonical(&r_bytes).ok_or_else(mismatch)?;
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)).ok_or_else(mismatch)?;
        let k = challenge(&r_bytes, &self.key.0, message);
        let check = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &-self.point, &s) - r;
        if check.mul_by_cofactor().is_identity() {
            Ok(())
        } else {
            Err(mismatch())
        }
    }
}

/// Verifies many signatures at once by the same rule as [`CheckedKey::verify`]. `Ok`
/// means every one verifies; `Err` means at least one does not (verify them one by one to
/// find which). About three times cheaper per signature than single checks.
///
/// The algorithm is ed25519-dalek's batch verification (one multiscalar multiplication
/// over a random linear combination) with the cofactor multiplication added, so that it
/// decides exactly as the single rule does: ed25519-dalek's own batch check is
/// cofactorless and would accept a signer-made torsion component in `R` one time in
/// eight. The coefficients are derived from all inputs (as ed25519-dalek's are), so a
/// result is reproducible.
///
/// Signatures by one key share its point: `z_i k_i A + z_j k_j A = (z_i k_i + z_j k_j) A`,
/// so each distinct key enters the multiscalar multiplication once. The sum is the same;
/// the multiplication has `n + keys + 1` points instead of `2n + 1`, which nearly halves
/// it when a few integrators' keys sign most txs.
pub fn verify_batch(items: &[(&CheckedKey, &Hash, &Signature)]) -> Result<(), SignatureError> {
    let Some(first) = items.first() else { return Ok(()) };
    let mismatch = || SignatureError::Mismatch { key: first.0.key.to_hex() };
    let mut transcript = blake3::Hasher::new_derive_key("chancery v1 batch verification coefficients");
    for (key, message, signature) in items {
        transcript.update(&key.key.0);
        transcript.update(message.as_bytes());
        transcript.update(&signature.0);
    }
    let mut coefficients = transcript.finalize_xof();
    let mut base = Scalar::ZERO;
    let mut scalars = Vec::with_capacity(items.len() * 2 + 1);
    let mut points = Vec::with_capacity(items.len() * 2 + 1);
    // Each distinct key's summed scalar, in the order keys first appear.
    let mut key_slot: std::collections::HashMap<[u8; 32], usize> = std::collections::HashMap::new();
    let mut key_scalars: Vec<Scalar> = Vec::new();
    let mut key_points: Vec<EdwardsPoint> = Vec::new();
    for (key, message, signature) in items {
        let (r_bytes, s_bytes) = split(signature);
        let r = decompress_canonical(&r_bytes).ok_or_else(mismatch)?;
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)).ok_or_else(mismatch)?;
        let mut z_bytes = [0u8; 32];
        coefficients.fill(&mut z_bytes[..16]);
        let z = Scalar::from_bytes_mod_order(z_bytes);
        base -= z * s;
        scalars.push(z);
        points.push(r);
        let zk = z * challenge(&r_bytes, &key.key.0, message.as_bytes());
        let slot = *key_slot.entry(key.key.0).or_insert_with(|| {
            key_scalars.push(Scalar::ZERO);
            key_points.push(key.point);
            key_scalars.len() - 1
        });
        key_scalars[slot] += zk;
    }
    scalars.extend(key_scalars);
    points.extend(key_points);
    scalars.push(base);
    points.push(curve25519_dalek::constants::ED25519_BASEPOINT_POINT);
    // sum z_i R_i + sum z_i k_i A_i - (sum z_i s_i) B, times the cofactor.
    let sum = EdwardsPoint::vartime_multiscalar_mul(scalars, points);
    if sum.mul_by_cofactor().is_identity() {
        Ok(())
    } else {
        Err(mismatch())
    }
}

fn split(signature: &Signature) -> ([u8; 32], [u8; 32]) {
    let mut r = [0; 32];
    let mut s = [0; 32];
    r.copy_from_slice(&signature.0[..32]);
    s.copy_from_slice(&signature.0[32..]);
    (r, s)
}

fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> Scalar {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha512::new();
    hasher.update(r);
    hasher.update(a);
    hasher.update(message);
    Scalar::from_bytes_mod_order_wide(&hasher.finalize().into())
}

/// The field prime 2^255 - 19, little-endian.
const P_LE: [u8; 32] = {
    let mut p = [0xff; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

/// Whether the 32 bytes are the one encoding of their point: `y < p`, and the sign bit
/// clear when `x = 0` (`y = 1` or `y = p - 1`). Pure byte checks, no field arithmetic.
fn is_canonical_encoding(bytes: &[u8; 32]) -> bool {
    let mut y = *bytes;
    let sign = y[31] >> 7;
    y[31] &= 0x7f;
    // Little-endian compare y < p, from the most significant byte.
    let below_p = y.iter().rev().zip(P_LE.iter().rev()).find(|(a, b)| a != b).is_some_and(|(a, b)| a < b);
    if !below_p {
        return false;
    }
    let mut one = [0; 32];
    one[0] = 1;
    let mut minus_one = P_LE;
    minus_one[0] -= 1;
    !(sign == 1 && (y == one || y == minus_one))
}

fn decompress_canonical(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    if !is_canonical_encoding(bytes) {
        return None;
    }
    CompressedEdwardsY(*bytes).decompress()
}

impl Signature {
    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 128 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, HexError> {
        parse_hex_array(text).map(Signature)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

macro_rules! hex_serde {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.to_hex())
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                <$ty>::from_hex(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_serde!(PublicKey);
hex_serde!(Signature);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{key, public, sign};

    /// A point of order 8 (RFC 8032 test lore: the torsion generator).
    const ORDER_8: &str = "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a";

    fn torsion() -> EdwardsPoint {
        let bytes: [u8; 32] = hex::decode(ORDER_8).expect("hex").try_into().expect("32 bytes");
        let point = CompressedEdwardsY(bytes).decompress().expect("a curve point");
        assert!(point.is_small_order() && !point.is_identity());
        point
    }

    fn signed(n: u16) -> (CheckedKey, Hash, Signature) {
        let k = key(9, n);
        let message = Hash(blake3::hash(&n.to_le_bytes()).into());
        (public(&k).checked().expect("valid key"), message, sign(&k, &message))
    }

    fn batch(items: &[(CheckedKey, Hash, Signature)]) -> Result<(), SignatureError> {
        let refs: Vec<_> = items.iter().map(|(k, m, s)| (k, m, s)).collect();
        verify_batch(&refs)
    }

    #[test]
    fn single_and_batch_accept_honest_signatures() {
        let items: Vec<_> = (0..40).map(signed).collect();
        for (k, m, s) in &items {
            assert_eq!(k.verify(m, s), Ok(()));
        }
        assert_eq!(batch(&items), Ok(()));
        assert_eq!(batch(&[]), Ok(()));
    }

    #[test]
    fn one_bad_signature_fails_the_batch_and_is_found_alone() {
        let mut items: Vec<_> = (0..40).map(signed).collect();
        items[17].2 .0[40] ^= 1;
        assert!(batch(&items).is_err());
        let bad: Vec<usize> =
            items.iter().enumerate().filter(|(_, (k, m, s))| k.verify(m, s).is_err()).map(|(i, _)| i).collect();
        assert_eq!(bad, vec![17]);
        // A valid signature under another message or key fails too.
        let (k, _, s) = signed(1);
        let (other, m2, _) = signed(2);
        assert!(k.verify(&m2, &s).is_err());
        assert!(other.verify(&m2, &s).is_err());
    }

    #[test]
    fn signatures_sharing_keys_batch_like_single_checks() {
        // Three keys, each signing many messages: the batch sums each key's scalars.
        let keys = [key(9, 100), key(9, 101), key(9, 102)];
        let items: Vec<_> = (0..60u16)
            .map(|n| {
                let k = &keys[usize::from(n % 3)];
                let message = Hash(blake3::hash(&n.to_le_bytes()).into());
                (public(k).checked().expect("valid key"), message, sign(k, &message))
            })
            .collect();
        assert_eq!(batch(&items), Ok(()));
        for bad in [0, 31, 59] {
            let mut items = items.clone();
            items[bad].2 .0[40] ^= 1;
            assert!(batch(&items).is_err(), "a bad signature at {bad} among shared keys");
        }
        // A signature moved to another message of the same key fails, even though the
        // key's scalars are summed.
        let mut swapped = items.clone();
        swapped[3].1 = items[6].1;
        assert!(batch(&swapped).is_err());
        // Two signatures of one key whose errors would cancel in a per-key sum if the
        // coefficients did not separate them: swap their messages.
        let mut crossed = items.clone();
        crossed[0].1 = items[3].1;
        crossed[3].1 = items[0].1;
        assert!(batch(&crossed).is_err());
    }

    #[test]
    fn torsion_in_r_is_judged_alike_single_and_batch() {
        // A signer may build R = rB + T with a small-order T (no one else can: k depends
        // on R). The cofactored rule accepts it alone and in a batch, so a block never
        // depends on which way its txs were checked.
        use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
        let a = Scalar::from_bytes_mod_order([7; 32]);
        let r = Scalar::from_bytes_mod_order([11; 32]);
        let key = PublicKey((B * a).compress().to_bytes()).checked().expect("valid key");
        let message = Hash([5; 32]);
        let big_r = (B * r + torsion()).compress().to_bytes();
        let s = r + challenge(&big_r, &key.key().0, message.as_bytes()) * a;
        let mut signature = Signature([0; 64]);
        signature.0[..32].copy_from_slice(&big_r);
        signature.0[32..].copy_from_slice(s.as_bytes());
        assert_eq!(key.verify(&message, &signature), Ok(()));
        let dalek = ed25519_dalek::Signature::from_bytes(&signature.0);
        let dalek_key = ed25519_dalek::VerifyingKey::from_bytes(&key.key().0).expect("key");
        assert!(dalek_key.verify_strict(message.as_bytes(), &dalek).is_err(), "the cofactorless rule differs");
        let mut items: Vec<_> = (10..20).map(signed).collect();
        items.push((key, message, signature));
        assert_eq!(batch(&items), Ok(()));
        // And a third party cannot twist an honest signature: R's change moves k.
        let (k, m, honest) = signed(3);
        let mut twisted = honest;
        let r = CompressedEdwardsY(split(&honest).0).decompress().expect("R");
        twisted.0[..32].copy_from_slice((r + torsion()).compress().as_bytes());
        assert!(k.verify(&m, &twisted).is_err());
        assert!(batch(&[(k, m, twisted)]).is_err());
    }

    #[test]
    fn non_canonical_encodings_are_refused_alike() {
        let (k, m, s) = signed(4);
        // S + L: same value mod L, not canonical.
        let mut high_s = s;
        let (_, s_bytes) = split(&s);
        // L, the group order, little-endian.
        let l: [u8; 32] = hex::decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
            .expect("hex")
            .try_into()
            .expect("32 bytes");
        let sum = Scalar::from_bytes_mod_order(s_bytes).to_bytes();
        let mut carry = 0u16;
        let mut out = [0u8; 32];
        for (i, (a, b)) in sum.iter().zip(l.iter()).enumerate() {
            let v = u16::from(*a) + u16::from(*b) + carry;
            out[i] = v as u8;
            carry = v >> 8;
        }
        high_s.0[32..].copy_from_slice(&out);
        assert!(k.verify(&m, &high_s).is_err());
        assert!(batch(&[(k, m, high_s)]).is_err());
        // R with y >= p: the non-canonical twin of a small y.
        let mut high_r = s;
        high_r.0[..32].copy_from_slice(&P_LE);
        assert!(k.verify(&m, &high_r).is_err());
        assert!(batch(&[(k, m, high_r)]).is_err());
        // Identity with the sign bit set.
        let mut one_negative = [0u8; 32];
        one_negative[0] = 1;
        one_negative[31] = 0x80;
        assert!(!is_canonical_encoding(&one_negative));
        one_negative[31] = 0;
        assert!(is_canonical_encoding(&one_negative));
    }

    #[test]
    fn small_order_and_invalid_keys_are_refused() {
        let small = PublicKey(torsion().compress().to_bytes());
        assert!(!small.is_valid());
        assert!(matches!(small.checked(), Err(SignatureError::InvalidKey { .. })));
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(!PublicKey(identity).is_valid());
        assert!(!PublicKey(P_LE).is_valid());
        assert!(public(&key(9, 1)).is_valid());
    }
}

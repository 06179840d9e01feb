//! The one core every language SDK binds (sdk/js through WebAssembly, sdk/python through
//! PyO3): keys and key files, document digests, evidence tx bodies, signing and the exact
//! signing bytes, and the offline verifier. Everything here is the ledger's own code
//! behind an API of strings, bytes and JSON, so a binding is a thin layer and the bytes
//! an SDK signs are the bytes the ledger checks.
//!
//! Errors carry a stable `kind`: the verifier's failed check (`file_mismatch`,
//! `tx_not_in_block`, ... see [`VerifyError::check`]) or the argument that is wrong.

#![warn(missing_docs)]

use chancery_genesis::{BundleCheckError, Genesis};
use chancery_ledger::block::{Block, Commit, Header, Vote};
use chancery_ledger::codec::{decode, encode, BoundedVec, Canonical};
use chancery_ledger::tx::{Evidence, EvidenceKind, Tx, TxBody};
use chancery_ledger::validator::ValidatorSet;
use chancery_ledger::verify::VerifyError;
use chancery_ledger::{ChainId, Digest, DigestAlg, Hash, ProposalHeader, PublicKey, Signature};
use ed25519_dalek::{Signer as _, SigningKey};
use serde::{Deserialize, Serialize};

/// Largest key file read, in bytes (a key file is about 200).
pub const KEY_FILE_BYTES_MAX: usize = 4096;

/// Why an SDK call failed: `kind` names the check or argument, `message` says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SdkError {
    /// A stable snake_case name: the verifier's failed check, or `bad_argument`,
    /// `key_file`, `genesis`, `decode`.
    pub kind: &'static str,
    /// What went wrong.
    pub message: String,
}

impl SdkError {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        SdkError { kind, message: message.into() }
    }

    fn argument(what: &str, why: impl std::fmt::Display) -> Self {
        SdkError::new("bad_argument", format!("{what}: {why}"))
    }
}

/// A signing key: an integrator's (or any member's) Ed25519 key.
pub struct Key(SigningKey);

/// A key file as the CLI writes it (`chancery keygen`, a dev chain's `integrator.key`).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    version: u32,
    public_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encrypted: Option<serde_json::Value>,
}

impl Key {
    /// The key of a 32-byte secret (a caller's randomness: `crypto.getRandomValues`,
    /// `os.urandom`).
    pub fn from_seed(seed: &[u8]) -> Result<Key, SdkError> {
        let seed: [u8; 32] =
            seed.try_into().map_err(|_| SdkError::argument("seed", format!("{} bytes, 32 needed", seed.len())))?;
        Ok(Key(SigningKey::from_bytes(&seed)))
    }

    /// The key in a key file's text. An encrypted key file is refused: unlock it with
    /// the CLI into a file only its owner reads.
    pub fn from_key_file(text: &str) -> Result<Key, SdkError> {
        let bad = |why: String| SdkError::new("key_file", format!("not a Chancery key file: {why}"));
        if text.len() > KEY_FILE_BYTES_MAX {
            return Err(bad(format!("{} bytes, at most {KEY_FILE_BYTES_MAX}", text.len())));
        }
        let file: KeyFile = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if file.version != 1 {
            return Err(bad(format!("version {}, this SDK reads version 1", file.version)));
        }
        let Some(secret) = file.secret_key else {
            let why = if file.encrypted.is_some() {
                "it is encrypted under a passphrase; SDKs read unencrypted key files only"
            } else {
                "it holds no secret key"
            };
            return Err(SdkError::new("key_file", why));
        };
        let seed = hex::decode(&secret).map_err(|e| bad(format!("secret_key: {e}")))?;
        let key = Key::from_seed(&seed).map_err(|e| bad(e.message))?;
        if key.public_key() != file.public_key {
            return Err(bad("its public_key is not the secret key's".into()));
        }
        Ok(key)
    }

    /// The key file's text (JSON, as the CLI writes it). Store it readable by its owner
    /// only.
    pub fn to_key_file(&self) -> String {
        let file = KeyFile {
            version: 1,
            public_key: self.public_key(),
            secret_key: Some(hex::encode(self.0.to_bytes())),
            encrypted: None,
        };
        serde_json::to_string_pretty(&file).expect("a key file serialises to JSON")
    }

    /// The public key, hex: what a genesis or a governance change registers.
    pub fn public_key(&self) -> String {
        hex::encode(self.0.verifying_key().to_bytes())
    }

    /// Signs 32 signing bytes (hex), as `tx_prepare` hands them out; answers the
    /// signature, hex.
    pub fn sign_prepared(&self, sign_bytes_hex: &str) -> Result<String, SdkError> {
        let message = Hash::from_hex(sign_bytes_hex).map_err(|e| SdkError::argument("sign_bytes", e))?;
        Ok(hex::encode(self.0.sign(message.as_bytes()).to_bytes()))
    }
}

/// The digest of a document's bytes as the ledger writes it: `alg:hex`. `alg` is one of
/// the ledger's (`sha256`, `sha512`, `sm3`, `blake3`).
pub fn digest(alg: &str, bytes: &[u8]) -> Result<String, SdkError> {
    let alg = DigestAlg::from_name(alg).ok_or_else(|| SdkError::argument("digest algorithm", format!("{alg:?}")))?;
    Ok(Digest::compute(alg, bytes).to_text())
}

/// An evidence kind by its name: `document`, `signing_event`, ..., or `custom:N`.
fn evidence_kind(name: &str) -> Result<EvidenceKind, SdkError> {
    if let Some(n) = name.strip_prefix("custom:") {
        return n.parse::<u16>().map(EvidenceKind::Custom).map_err(|e| SdkError::argument("kind", e));
    }
    serde_json::from_value(serde_json::Value::String(name.into()))
        .map_err(|_| SdkError::argument("kind", format!("{name:?} is not an evidence kind")))
}

/// The JSON body of an evidence tx anchoring `digest` (`alg:hex`) as `kind`, linking the
/// txs `refs` (hashes, hex): the body `tx_prepare` and [`sign_tx`] take.
pub fn evidence_body(kind: &str, digest: &str, refs: &[String]) -> Result<String, SdkError> {
    let digest = Digest::parse(digest).map_err(|e| SdkError::argument("digest", e))?;
    let refs = refs
        .iter()
        .map(|r| Hash::from_hex(r).map_err(|e| SdkError::argument("refs", e)))
        .collect::<Result<Vec<_>, _>>()?;
    let body = TxBody::Evidence(Evidence {
        kind: evidence_kind(kind)?,
        digest,
        refs: BoundedVec::new(refs).map_err(|e| SdkError::argument("refs", e))?,
        meta: None,
        claimed_time_ms: None,
        cert: None,
        signature: None,
    });
    Ok(serde_json::to_string(&body).expect("a tx body serialises to JSON"))
}

/// The chain a tx is for: its id and genesis hash (`chain_info` answers both).
pub struct ChainRef {
    chain_id: ChainId,
    genesis_hash: Hash,
}

impl ChainRef {
    /// The chain `chain_id` with genesis hash `genesis_hash` (hex).
    pub fn new(chain_id: &str, genesis_hash: &str) -> Result<ChainRef, SdkError> {
        Ok(ChainRef {
            chain_id: ChainId::new(chain_id).map_err(|e| SdkError::argument("chain_id", e))?,
            genesis_hash: Hash::from_hex(genesis_hash).map_err(|e| SdkError::argument("genesis_hash", e))?,
        })
    }
}

fn parse_body(body_json: &str) -> Result<TxBody, SdkError> {
    serde_json::from_str(body_json).map_err(|e| SdkError::argument("tx body", e))
}

/// The 32 bytes (hex) `signer` (hex) signs for `body_json` with `nonce` on `chain`:
/// compare them with `tx_prepare`'s `sign_bytes` before signing bytes a node prepared.
pub fn signing_bytes(chain: &ChainRef, body_json: &str, signer: &str, nonce: u64) -> Result<String, SdkError> {
    let signer = PublicKey::from_hex(signer).map_err(|e| SdkError::argument("signer", e))?;
    let body = parse_body(body_json)?;
    Ok(Tx::signing_message(&chain.chain_id, &chain.genesis_hash, &body, &signer, nonce).to_hex())
}

/// A signed tx: its canonical bytes (hex, what `evidence_submit` takes) and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedTx {
    /// The canonical bytes, hex.
    pub tx: String,
    /// The tx hash, hex.
    pub tx_hash: String,
}

/// Signs `body_json` with `key` and `nonce` on `chain`.
pub fn sign_tx(key: &Key, chain: &ChainRef, body_json: &str, nonce: u64) -> Result<SignedTx, SdkError> {
    let body = parse_body(body_json)?;
    let tx = Tx::sign(&key.0, &chain_identity(chain), body, nonce);
    Ok(SignedTx { tx: hex::encode(encode(&tx)), tx_hash: tx.hash().to_hex() })
}

fn chain_identity(chain: &ChainRef) -> chancery_ledger::ChainIdentity {
    chancery_ledger::ChainIdentity { chain_id: chain.chain_id.clone(), genesis_hash: chain.genesis_hash }
}

/// The hash of a tx given as its canonical bytes (hex).
pub fn tx_hash(tx_hex: &str) -> Result<String, SdkError> {
    Ok(decode_hex::<Tx>("tx", tx_hex)?.hash().to_hex())
}

/// A tx's canonical bytes (hex) as JSON: chain, body, signer, nonce, signature.
pub fn tx_json(tx_hex: &str) -> Result<String, SdkError> {
    let tx = decode_hex::<Tx>("tx", tx_hex)?;
    Ok(serde_json::to_string(&tx).expect("a tx serialises to JSON"))
}

fn decode_hex<T: Canonical>(what: &str, text: &str) -> Result<T, SdkError> {
    let bytes = hex::decode(text).map_err(|e| SdkError::new("decode", format!("{what}: not hex: {e}")))?;
    decode(&bytes).map_err(|e| SdkError::new("decode", format!("{what}: {e}")))
}

/// Verifies a proof bundle (JSON) against the chain's genesis (JSON) and, with `file`,
/// that the file is the anchored document: the whole offline check `chancery verify`
/// runs. Answers the report as JSON (what `chancery verify --json` prints), or the
/// failed check.
pub fn verify(bundle_json: &str, genesis_json: &str, file: Option<&[u8]>) -> Result<String, SdkError> {
    match chancery_genesis::verify_bundle(bundle_json, genesis_json, file) {
        Ok(report) => Ok(serde_json::to_string(&report).expect("a report serialises to JSON")),
        Err(BundleCheckError::Genesis(e)) => Err(SdkError::new("genesis", format!("the genesis is not usable: {e}"))),
        Err(BundleCheckError::Verify(e)) => Err(verify_error(&e)),
    }
}

fn verify_error(e: &VerifyError) -> SdkError {
    SdkError::new(e.check(), format!("NOT VERIFIED ({}): {e}", e.check()))
}

/// The hash of a genesis file's JSON: what a court compares with its own copy.
pub fn genesis_hash(genesis_json: &str) -> Result<String, SdkError> {
    let genesis = Genesis::from_json(genesis_json).map_err(|e| SdkError::new("genesis", e.to_string()))?;
    Ok(genesis.hash().to_hex())
}

/// Decodes the canonical bytes (hex) of an object of `kind` (a name of the ledger's
/// golden vectors: `tx_*`, `header`, `block`, `commit`, `vote`, `proposal`,
/// `validator_set`), checks they re-encode to the same bytes, and answers the hash that
/// identifies or is signed for it (for a commit: its precommit's signing message on
/// `chain`). The SDKs' tests run ledger/tests/golden.json through this.
pub fn canonical_hash(kind: &str, hex_bytes: &str, chain: &ChainRef) -> Result<String, SdkError> {
    fn checked<T: Canonical>(kind: &str, text: &str) -> Result<T, SdkError> {
        let value: T = decode_hex(kind, text)?;
        if hex::encode(encode(&value)) != text {
            return Err(SdkError::new("decode", format!("{kind}: the bytes do not re-encode to themselves")));
        }
        Ok(value)
    }
    let hash = match kind {
        k if k.starts_with("tx_") => checked::<Tx>(kind, hex_bytes)?.hash(),
        "header" => checked::<Header>(kind, hex_bytes)?.hash(),
        "block" => checked::<Block>(kind, hex_bytes)?.header.hash(),
        "commit" => checked::<Commit>(kind, hex_bytes)?.vote(&chain.chain_id, &chain.genesis_hash).signing_message(),
        "vote" => checked::<Vote>(kind, hex_bytes)?.signing_message(),
        "proposal" => checked::<ProposalHeader>(kind, hex_bytes)?.signing_message(),
        "validator_set" => checked::<ValidatorSet>(kind, hex_bytes)?.hash(),
        other => return Err(SdkError::argument("kind", format!("{other:?} is not an object kind"))),
    };
    Ok(hash.to_hex())
}

/// Checks a signature (hex) by `signer` (hex) over 32 signing bytes (hex).
pub fn check_signature(signer: &str, sign_bytes_hex: &str, signature_hex: &str) -> Result<(), SdkError> {
    let signer = PublicKey::from_hex(signer).map_err(|e| SdkError::argument("signer", e))?;
    let message = Hash::from_hex(sign_bytes_hex).map_err(|e| SdkError::argument("sign_bytes", e))?;
    let bytes: [u8; 64] = hex::decode(signature_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| SdkError::argument("signature", "not 64 bytes of hex"))?;
    signer.verify(&message, &Signature(bytes)).map_err(|e| SdkError::new("bad_signature", e.to_string()))
}

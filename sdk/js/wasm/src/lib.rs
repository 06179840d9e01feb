//! The JavaScript SDK's core: [`chancery_sdk`] exported with wasm-bindgen. Built by
//! `build.sh` beside this file for Node (`pkg/node`) and browsers (`pkg/web`); sdk/js's
//! `index.js` wraps it in the SDK's API.
//!
//! A failure is thrown as a string of JSON `{"kind": ..., "message": ...}`, which the
//! wrapper turns into an `Error` carrying `kind` (for the verifier: the failed check).

use chancery_sdk::{ChainRef, SdkError};
use wasm_bindgen::prelude::{wasm_bindgen, JsValue};

fn thrown(e: SdkError) -> JsValue {
    JsValue::from_str(&serde_json::json!({"kind": e.kind, "message": e.message}).to_string())
}

fn nonce(text: &str) -> Result<u64, JsValue> {
    text.parse::<u64>().map_err(|e| thrown(SdkError { kind: "bad_argument", message: format!("nonce {text:?}: {e}") }))
}

/// A signing key, held inside the WebAssembly instance.
#[wasm_bindgen]
pub struct Key(chancery_sdk::Key);

#[wasm_bindgen]
impl Key {
    /// The key of 32 random bytes.
    #[wasm_bindgen(js_name = fromSeed)]
    pub fn from_seed(seed: &[u8]) -> Result<Key, JsValue> {
        chancery_sdk::Key::from_seed(seed).map(Key).map_err(thrown)
    }

    /// The key in a key file's text.
    #[wasm_bindgen(js_name = fromKeyFile)]
    pub fn from_key_file(text: &str) -> Result<Key, JsValue> {
        chancery_sdk::Key::from_key_file(text).map(Key).map_err(thrown)
    }

    /// The key file's text.
    #[wasm_bindgen(js_name = keyFile)]
    pub fn key_file(&self) -> String {
        self.0.to_key_file()
    }

    /// The public key, hex.
    #[wasm_bindgen(js_name = publicKey)]
    pub fn public_key(&self) -> String {
        self.0.public_key()
    }

    /// Signs a tx body (JSON) with `nonce` (decimal) on a chain: `{"tx", "tx_hash"}` JSON.
    #[wasm_bindgen(js_name = signTx)]
    pub fn sign_tx(
        &self,
        chain_id: &str,
        genesis_hash: &str,
        body_json: &str,
        nonce_text: &str,
    ) -> Result<String, JsValue> {
        let chain = ChainRef::new(chain_id, genesis_hash).map_err(thrown)?;
        let signed = chancery_sdk::sign_tx(&self.0, &chain, body_json, nonce(nonce_text)?).map_err(thrown)?;
        Ok(serde_json::to_string(&signed).expect("a signed tx serialises to JSON"))
    }

    /// Signs 32 signing bytes (hex) a node prepared: the signature, hex.
    #[wasm_bindgen(js_name = signPrepared)]
    pub fn sign_prepared(&self, sign_bytes: &str) -> Result<String, JsValue> {
        self.0.sign_prepared(sign_bytes).map_err(thrown)
    }
}

/// A document's digest, `alg:hex`.
#[wasm_bindgen]
pub fn digest(alg: &str, bytes: &[u8]) -> Result<String, JsValue> {
    chancery_sdk::digest(alg, bytes).map_err(thrown)
}

/// An evidence tx body (JSON) anchoring `digest` as `kind`, linking `refs` (a JSON array of
/// tx hashes).
#[wasm_bindgen(js_name = evidenceBody)]
pub fn evidence_body(kind: &str, digest: &str, refs_json: &str) -> Result<String, JsValue> {
    let refs: Vec<String> = serde_json::from_str(refs_json)
        .map_err(|e| thrown(SdkError { kind: "bad_argument", message: format!("refs: {e}") }))?;
    chancery_sdk::evidence_body(kind, digest, &refs).map_err(thrown)
}

/// The signing bytes (hex) of a tx body (JSON) by `signer` with `nonce` (decimal).
#[wasm_bindgen(js_name = signingBytes)]
pub fn signing_bytes(
    chain_id: &str,
    genesis_hash: &str,
    body_json: &str,
    signer: &str,
    nonce_text: &str,
) -> Result<String, JsValue> {
    let chain = ChainRef::new(chain_id, genesis_hash).map_err(thrown)?;
    chancery_sdk::signing_bytes(&chain, body_json, signer, nonce(nonce_text)?).map_err(thrown)
}

/// A tx's hash from its canonical bytes (hex).
#[wasm_bindgen(js_name = txHash)]
pub fn tx_hash(tx_hex: &str) -> Result<String, JsValue> {
    chancery_sdk::tx_hash(tx_hex).map_err(thrown)
}

/// A tx's canonical bytes (hex) as JSON.
#[wasm_bindgen(js_name = txJson)]
pub fn tx_json(tx_hex: &str) -> Result<String, JsValue> {
    chancery_sdk::tx_json(tx_hex).map_err(thrown)
}

/// Verifies a bundle (JSON) against a genesis (JSON), and the file when given: the
/// report, JSON.
#[wasm_bindgen]
pub fn verify(bundle_json: &str, genesis_json: &str, file: Option<Vec<u8>>) -> Result<String, JsValue> {
    chancery_sdk::verify(bundle_json, genesis_json, file.as_deref()).map_err(thrown)
}

/// A genesis file's hash, hex.
#[wasm_bindgen(js_name = genesisHash)]
pub fn genesis_hash(genesis_json: &str) -> Result<String, JsValue> {
    chancery_sdk::genesis_hash(genesis_json).map_err(thrown)
}

/// An object's canonical hash from its bytes (hex), for the golden vectors.
#[wasm_bindgen(js_name = canonicalHash)]
pub fn canonical_hash(kind: &str, hex: &str, chain_id: &str, genesis_hash: &str) -> Result<String, JsValue> {
    let chain = ChainRef::new(chain_id, genesis_hash).map_err(thrown)?;
    chancery_sdk::canonical_hash(kind, hex, &chain).map_err(thrown)
}

/// Checks a signature (hex) by `signer` over signing bytes (hex).
#[wasm_bindgen(js_name = checkSignature)]
pub fn check_signature(signer: &str, sign_bytes: &str, signature: &str) -> Result<(), JsValue> {
    chancery_sdk::check_signature(signer, sign_bytes, signature).map_err(thrown)
}

/// The core's version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

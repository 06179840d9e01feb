//! The Python SDK's core: [`chancery_sdk`] exposed with PyO3 as `chancery._core`;
//! sdk/python/python/chancery wraps it in the SDK's API. A failure raises
//! `chancery._core.CoreError(kind, message)`, which the wrapper turns into
//! `chancery.ChanceryError` (or `chancery.VerifyError` naming the failed check).

use chancery_sdk::{ChainRef, SdkError};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(_core, CoreError, PyException, "A failure of the core: (kind, message).");

fn raised(e: SdkError) -> PyErr {
    CoreError::new_err((e.kind, e.message))
}

fn chain(chain_id: &str, genesis_hash: &str) -> PyResult<ChainRef> {
    ChainRef::new(chain_id, genesis_hash).map_err(raised)
}

/// A signing key, held by the core.
#[pyclass(frozen)]
struct Key(chancery_sdk::Key);

#[pymethods]
impl Key {
    /// The key of 32 random bytes.
    #[staticmethod]
    fn from_seed(seed: &[u8]) -> PyResult<Key> {
        chancery_sdk::Key::from_seed(seed).map(Key).map_err(raised)
    }

    /// The key in a key file's text.
    #[staticmethod]
    fn from_key_file(text: &str) -> PyResult<Key> {
        chancery_sdk::Key::from_key_file(text).map(Key).map_err(raised)
    }

    /// The key file's text.
    fn key_file(&self) -> String {
        self.0.to_key_file()
    }

    /// The public key, hex.
    #[getter]
    fn public_key(&self) -> String {
        self.0.public_key()
    }

    /// Signs a tx body (JSON) with `nonce` on a chain: (tx hex, tx hash).
    fn sign_tx(&self, chain_id: &str, genesis_hash: &str, body_json: &str, nonce: u64) -> PyResult<(String, String)> {
        let signed =
            chancery_sdk::sign_tx(&self.0, &chain(chain_id, genesis_hash)?, body_json, nonce).map_err(raised)?;
        Ok((signed.tx, signed.tx_hash))
    }

    /// Signs 32 signing bytes (hex) a node prepared: the signature, hex.
    fn sign_prepared(&self, sign_bytes: &str) -> PyResult<String> {
        self.0.sign_prepared(sign_bytes).map_err(raised)
    }
}

/// A document's digest, `alg:hex`.
#[pyfunction]
fn digest(alg: &str, data: &[u8]) -> PyResult<String> {
    chancery_sdk::digest(alg, data).map_err(raised)
}

/// An evidence tx body (JSON) anchoring `digest` as `kind`, linking `refs`.
#[pyfunction]
fn evidence_body(kind: &str, digest: &str, refs: Vec<String>) -> PyResult<String> {
    chancery_sdk::evidence_body(kind, digest, &refs).map_err(raised)
}

/// The signing bytes (hex) of a tx body (JSON) by `signer` with `nonce`.
#[pyfunction]
fn signing_bytes(chain_id: &str, genesis_hash: &str, body_json: &str, signer: &str, nonce: u64) -> PyResult<String> {
    chancery_sdk::signing_bytes(&chain(chain_id, genesis_hash)?, body_json, signer, nonce).map_err(raised)
}

/// A tx's hash from its canonical bytes (hex).
#[pyfunction]
fn tx_hash(tx_hex: &str) -> PyResult<String> {
    chancery_sdk::tx_hash(tx_hex).map_err(raised)
}

/// A tx's canonical bytes (hex) as JSON.
#[pyfunction]
fn tx_json(tx_hex: &str) -> PyResult<String> {
    chancery_sdk::tx_json(tx_hex).map_err(raised)
}

/// Verifies a bundle (JSON) against a genesis (JSON), and the file when given: the
/// report, JSON. The interpreter is released meanwhile.
#[pyfunction]
#[pyo3(signature = (bundle_json, genesis_json, file=None))]
fn verify(py: Python<'_>, bundle_json: &str, genesis_json: &str, file: Option<Vec<u8>>) -> PyResult<String> {
    py.detach(|| chancery_sdk::verify(bundle_json, genesis_json, file.as_deref())).map_err(raised)
}

/// A genesis file's hash, hex.
#[pyfunction]
fn genesis_hash(genesis_json: &str) -> PyResult<String> {
    chancery_sdk::genesis_hash(genesis_json).map_err(raised)
}

/// An object's canonical hash from its bytes (hex), for the golden vectors.
#[pyfunction]
fn canonical_hash(kind: &str, hex: &str, chain_id: &str, genesis_hash: &str) -> PyResult<String> {
    chancery_sdk::canonical_hash(kind, hex, &chain(chain_id, genesis_hash)?).map_err(raised)
}

/// Checks a signature (hex) by `signer` over signing bytes (hex).
#[pyfunction]
fn check_signature(signer: &str, sign_bytes: &str, signature: &str) -> PyResult<()> {
    chancery_sdk::check_signature(signer, sign_bytes, signature).map_err(raised)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("CoreError", m.py().get_type::<CoreError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Key>()?;
    m.add_function(wrap_pyfunction!(digest, m)?)?;
    m.add_function(wrap_pyfunction!(evidence_body, m)?)?;
    m.add_function(wrap_pyfunction!(signing_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(tx_hash, m)?)?;
    m.add_function(wrap_pyfunction!(tx_json, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(genesis_hash, m)?)?;
    m.add_function(wrap_pyfunction!(canonical_hash, m)?)?;
    m.add_function(wrap_pyfunction!(check_signature, m)?)?;
    Ok(())
}

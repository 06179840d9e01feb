//! The API described once, as data: every method the node serves (its positional
//! parameters, its answer, the Chancery error codes it can return and, for a
//! subscription, its notifications) in [`METHODS`], and the JSON Schemas of everything
//! that travels. [`document`] renders both as the OpenRPC 1.2.6 document the node answers
//! at `rpc.discover`; [`params_max`], the parameter-count check, derives from the same
//! table, so a method cannot be served, counted and described three different ways.
//!
//! The schemas state what the node writes: a field always present is `required`, an
//! `Option` written as `null` is nullable, a field left out when empty is not required,
//! and objects are closed (`additionalProperties: false`) unless a comment says why not.
//! As parameters the node reads a little more than it writes: hex in either case, and tx
//! bodies with their `null` fields left out (`tx_prepare`, so those are not required).
//!
//! [`validate`] checks a value against a schema of the document, for the subset of JSON
//! Schema (draft-07) used here, so tests can hold real answers to the document.

use std::cmp::Ordering;

use chancery_ledger::limits::{
    BLOCK_TXS_MAX, CERT_EVENTS_MAX, EVIDENCE_REFS_MAX, GOV_VOTES_MAX, MEMBER_KINDS_MAX, VALIDATORS_MAX,
};
use chancery_ledger::store::ANCHORS_PER_QUERY_MAX;
use chancery_ledger::DigestAlg;
use serde_json::{json, Map, Number, Value};

use crate::errors::ErrorCode;

/// The OpenRPC version [`document`] follows.
pub const OPENRPC_VERSION: &str = "1.2.6";

/// Where `$ref`s to component schemas point.
const SCHEMAS_PREFIX: &str = "#/components/schemas/";
/// Where `$ref`s to component errors point.
const ERRORS_PREFIX: &str = "#/components/errors/";
/// Most `$ref`s followed one inside another while validating. The schemas here do not
/// recurse, so a longer chain is a loop in a schema: reported, not followed forever.
const REFS_NESTED_MAX: usize = 32;
/// Most characters of a value an error message quotes.
const QUOTE_CHARS_MAX: usize = 80;
/// Every document digest algorithm, for the digest schemas (`DigestAlg::from_name`'s list).
const DIGEST_ALGS: [DigestAlg; 4] = [DigestAlg::Sha256, DigestAlg::Sha512, DigestAlg::Sm3, DigestAlg::Blake3];

/// One positional parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// Its name (the API trait's argument name).
    pub name: &'static str,
    /// Whether a call must give it; an optional one may be left out or given as `null`.
    pub required: bool,
    /// Its schema: a key of the document's `components.schemas`.
    pub schema: &'static str,
}

/// The notifications of a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription {
    /// The `method` each notification names.
    pub notification: &'static str,
    /// The schema of each notification's `result`: a key of `components.schemas`.
    pub item: &'static str,
    /// The method that ends the subscription.
    pub unsubscribe: &'static str,
}

/// One method the node serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    /// The JSON-RPC method name.
    pub name: &'static str,
    /// What it does, in a sentence or two.
    pub summary: &'static str,
    /// Its positional parameters, in order.
    pub params: &'static [Param],
    /// The schema of its answer: a key of `components.schemas`.
    pub result: &'static str,
    /// The Chancery error codes it can answer with (besides JSON-RPC's own).
    pub errors: &'static [ErrorCode],
    /// For a subscription, its notifications.
    pub subscription: Option<Subscription>,
}

const fn required(name: &'static str, schema: &'static str) -> Param {
    Param { name, required: true, schema }
}

const fn optional(name: &'static str, schema: &'static str) -> Param {
    Param { name, required: false, schema }
}

/// A submission's refusals: the tx's decoding, then the ledger's and the mempool's rules.
const SUBMIT_ERRORS: &[ErrorCode] = &[
    ErrorCode::TxMalformed,
    ErrorCode::BadSignature,
    ErrorCode::WrongChain,
    ErrorCode::UnknownSigner,
    ErrorCode::NotPermitted,
    ErrorCode::StaleNonce,
    ErrorCode::Duplicate,
    ErrorCode::TxTooLarge,
    ErrorCode::CertRule,
    ErrorCode::Governance,
    ErrorCode::NoncePending,
    ErrorCode::Misbehaviour,
    ErrorCode::DocumentSignature,
    ErrorCode::MempoolFull,
    ErrorCode::Unavailable,
];

/// [`SUBMIT_ERRORS`] for methods that first check an argument (the tx's kind, a signature).
const SUBMIT_CHECKED_ERRORS: &[ErrorCode] = &[
    ErrorCode::TxMalformed,
    ErrorCode::BadSignature,
    ErrorCode::WrongChain,
    ErrorCode::UnknownSigner,
    ErrorCode::NotPermitted,
    ErrorCode::StaleNonce,
    ErrorCode::Duplicate,
    ErrorCode::TxTooLarge,
    ErrorCode::CertRule,
    ErrorCode::Governance,
    ErrorCode::NoncePending,
    ErrorCode::Misbehaviour,
    ErrorCode::DocumentSignature,
    ErrorCode::MempoolFull,
    ErrorCode::BadArgument,
    ErrorCode::Unavailable,
];

/// Hosted signing: its own checks, then the refusals its signing event (an evidence tx the
/// node builds and signs) can meet in the mempool.
const SIGN_ERRORS: &[ErrorCode] = &[
    ErrorCode::UnknownSigner,
    ErrorCode::NotPermitted,
    ErrorCode::StaleNonce,
    ErrorCode::NoncePending,
    ErrorCode::DocumentSignature,
    ErrorCode::MempoolFull,
    ErrorCode::BadArgument,
    ErrorCode::NotFound,
    ErrorCode::Unavailable,
    ErrorCode::SignerRefused,
    ErrorCode::Unauthorized,
];

/// A read of the store.
const READ_ERRORS: &[ErrorCode] = &[ErrorCode::Unavailable];
/// A read of something stored under a height or an id.
const LOOKUP_ERRORS: &[ErrorCode] = &[ErrorCode::NotFound, ErrorCode::Unavailable];
/// A read whose arguments are checked first.
const ARGUMENT_ERRORS: &[ErrorCode] = &[ErrorCode::BadArgument, ErrorCode::Unavailable];
/// A read whose arguments are checked first, of something that may not be stored.
const ARGUMENT_LOOKUP_ERRORS: &[ErrorCode] = &[ErrorCode::BadArgument, ErrorCode::NotFound, ErrorCode::Unavailable];

/// Every method the node serves, in the API trait's order, then `rpc.discover`.
pub const METHODS: &[Method] = &[
    Method {
        name: "evidence_submit",
        summary: "Submits one signed tx (hex of its canonical bytes); returns its hash once the mempool holds it.",
        params: &[required("tx", "TxHex")],
        result: "Hash",
        errors: SUBMIT_ERRORS,
        subscription: None,
    },
    Method {
        name: "evidence_submitBatch",
        summary: "Submits many txs; one outcome per tx, in order.",
        params: &[required("txs", "TxHexList")],
        result: "SubmitOutcomeList",
        errors: &[ErrorCode::BatchTooLarge, ErrorCode::BadArgument, ErrorCode::Unavailable],
        subscription: None,
    },
    Method {
        name: "evidence_status",
        summary: "Where a tx stands: pending, committed, dropped or unknown.",
        params: &[required("tx_hash", "Hash")],
        result: "TxStatusAnswer",
        errors: READ_ERRORS,
        subscription: None,
    },
    Method {
        name: "tx_prepare",
        summary: "For clients without a Chancery SDK: the tx of `body` (a tx body in JSON) by `signer` with \
                  `nonce` on this chain, unsigned, and the exact bytes its signer signs with Ed25519. A client \
                  signing bytes it did not build trusts the node for them (docs/RPC.md).",
        params: &[required("body", "TxBody"), required("signer", "PublicKey"), required("nonce", "U64")],
        result: "PreparedTx",
        errors: &[ErrorCode::TxTooLarge, ErrorCode::BadArgument],
        subscription: None,
    },
    Method {
        name: "tx_submitSigned",
        summary: "Submits a tx from `tx_prepare`'s `unsigned_tx` and the signer's Ed25519 signature of its \
                  `sign_bytes`; returns its hash once the mempool holds it.",
        params: &[required("unsigned_tx", "TxHex"), required("signature", "Signature")],
        result: "Hash",
        errors: SUBMIT_CHECKED_ERRORS,
        subscription: None,
    },
    Method {
        name: "evidence_byDigest",
        summary: "Txs anchoring a document digest (`alg:hex`), oldest first; `after` continues a page.",
        params: &[required("digest", "DigestText"), optional("after", "Hash")],
        result: "Anchors",
        errors: ARGUMENT_LOOKUP_ERRORS,
        subscription: None,
    },
    Method {
        name: "evidence_proof",
        summary: "The proof bundle of a committed tx, optionally extended to a later checkpoint height.",
        params: &[required("tx_hash", "Hash"), optional("checkpoint", "U64")],
        result: "ProofBundle",
        errors: ARGUMENT_LOOKUP_ERRORS,
        subscription: None,
    },
    Method {
        name: "evidence_verify",
        summary: "Runs the offline verifier on a bundle against this node's genesis; `file_hex` optionally \
                  checks the document too. A bundle that does not verify is an answer (`valid: false`), not \
                  an error.",
        params: &[required("bundle", "ProofBundle"), optional("file_hex", "Hex")],
        result: "VerifyAnswer",
        errors: &[ErrorCode::BadArgument],
        subscription: None,
    },
    Method {
        name: "evidence_subscribeCommitted",
        summary: "Every committed block's tx hashes, as blocks commit (WebSocket only).",
        params: &[],
        result: "SubscriptionId",
        errors: &[],
        subscription: Some(Subscription {
            notification: "evidence_subscribeCommitted",
            item: "CommittedBlock",
            unsubscribe: "evidence_unsubscribeCommitted",
        }),
    },
    Method {
        name: "evidence_unsubscribeCommitted",
        summary: "Ends an `evidence_subscribeCommitted` subscription of this connection; true if it was live.",
        params: &[required("subscription", "SubscriptionId")],
        result: "Boolean",
        errors: &[],
        subscription: None,
    },
    Method {
        name: "chain_info",
        summary: "Chain id, genesis hash, height, the chain parameters and this node's request limits.",
        params: &[],
        result: "ChainInfo",
        errors: READ_ERRORS,
        subscription: None,
    },
    Method {
        name: "chain_header",
        summary: "A committed header.",
        params: &[required("height", "U64")],
        result: "Header",
        errors: LOOKUP_ERRORS,
        subscription: None,
    },
    Method {
        name: "chain_block",
        summary: "A committed block.",
        params: &[required("height", "U64")],
        result: "Block",
        errors: LOOKUP_ERRORS,
        subscription: None,
    },
    Method {
        name: "chain_commit",
        summary: "The commit (quorum signatures) of a block.",
        params: &[required("height", "U64")],
        result: "Commit",
        errors: LOOKUP_ERRORS,
        subscription: None,
    },
    Method {
        name: "chain_validators",
        summary: "The validator set that signs the block at `height` (default: the next block).",
        params: &[optional("height", "U64")],
        result: "ValidatorSet",
        errors: LOOKUP_ERRORS,
        subscription: None,
    },
    Method {
        name: "chain_checkpoint",
        summary: "The latest committed block's header and commit (or the one at `height`): the checkpoint \
                  later proofs extend to.",
        params: &[optional("height", "U64")],
        result: "CheckpointInfo",
        errors: LOOKUP_ERRORS,
        subscription: None,
    },
    Method {
        name: "chain_consistencyProof",
        summary: "Proof that the history tree of `from` blocks is a prefix of that of `to` blocks.",
        params: &[required("from", "U64"), required("to", "U64")],
        result: "HistoryConsistency",
        errors: ARGUMENT_ERRORS,
        subscription: None,
    },
    Method {
        name: "chain_subscribeHeads",
        summary: "Every committed header, as blocks commit (WebSocket only).",
        params: &[],
        result: "SubscriptionId",
        errors: &[],
        subscription: Some(Subscription {
            notification: "chain_subscribeHeads",
            item: "Header",
            unsubscribe: "chain_unsubscribeHeads",
        }),
    },
    Method {
        name: "chain_unsubscribeHeads",
        summary: "Ends a `chain_subscribeHeads` subscription of this connection; true if it was live.",
        params: &[required("subscription", "SubscriptionId")],
        result: "Boolean",
        errors: &[],
        subscription: None,
    },
    Method {
        name: "node_health",
        summary: "Whether the node is making progress.",
        params: &[],
        result: "Health",
        errors: READ_ERRORS,
        subscription: None,
    },
    Method {
        name: "cert_submit",
        summary: "Submits a CA's signed certificate event tx (hex); returns its hash once the mempool holds it.",
        params: &[required("tx", "TxHex")],
        result: "Hash",
        errors: SUBMIT_CHECKED_ERRORS,
        subscription: None,
    },
    Method {
        name: "cert_history",
        summary: "Every anchored event of the certificate `serial` (hex) of CA `ca`, in chain order.",
        params: &[required("ca", "Text"), required("serial", "Hex")],
        result: "CertHistory",
        errors: ARGUMENT_ERRORS,
        subscription: None,
    },
    Method {
        name: "cert_status",
        summary: "The certificate's status at `at_ms`, as of the latest block, with its proof.",
        params: &[required("ca", "Text"), required("serial", "Hex"), required("at_ms", "U64")],
        result: "CertStatusAnswer",
        errors: ARGUMENT_LOOKUP_ERRORS,
        subscription: None,
    },
    Method {
        name: "gov_submit",
        summary: "Submits an institution's signed governance tx (a proposal, a vote or a key rotation, hex); \
                  returns its hash (for a proposal, its id) once the mempool holds it.",
        params: &[required("tx", "TxHex")],
        result: "Hash",
        errors: SUBMIT_CHECKED_ERRORS,
        subscription: None,
    },
    Method {
        name: "gov_proposal",
        summary: "A governance proposal by id: its change, votes with the power each counts now, and its \
                  status as of the latest block, with the proof of its record.",
        params: &[required("id", "Hash")],
        result: "ProposalAnswer",
        errors: LOOKUP_ERRORS,
        subscription: None,
    },
    Method {
        name: "gov_proposals",
        summary: "Governance proposals in id order, at most 100 from `after` (exclusive); only the pending \
                  ones when `pending` is true.",
        params: &[optional("pending", "Boolean"), optional("after", "Hash")],
        result: "ProposalAnswerList",
        errors: READ_ERRORS,
        subscription: None,
    },
    Method {
        name: "signer_signDigest",
        summary: "Signs a document digest (`alg:hex`) with the hosted key `key_id` and anchors a signing \
                  event of `kind` (`signing_event` or `custom:N`) referring to `refs`; `token` is the node's \
                  hosted-signing token. The signature is answered only once the event is committed; \
                  otherwise a retryable error (1040) and no signature.",
        params: &[
            required("key_id", "Text"),
            required("digest", "DigestText"),
            required("kind", "Text"),
            required("refs", "HashList"),
            required("token", "Text"),
        ],
        result: "SignDigestAnswer",
        errors: SIGN_ERRORS,
        subscription: None,
    },
    Method {
        name: "rpc.discover",
        summary: "This API as an OpenRPC 1.2.6 document.",
        params: &[],
        result: "OpenrpcDocument",
        errors: &[],
        subscription: None,
    },
];

/// The method named `name`, if the node serves it.
pub fn find(name: &str) -> Option<&'static Method> {
    METHODS.iter().find(|method| method.name == name)
}

/// The most positional parameters `method` takes (optional ones included), if it is one
/// of the API's. A call with more is refused (-32602), not answered as if the extra ones
/// were absent.
pub fn params_max(method: &str) -> Option<usize> {
    find(method).map(|method| method.params.len())
}

/// The name of every method the node serves.
pub fn method_names() -> impl Iterator<Item = &'static str> {
    METHODS.iter().map(|method| method.name)
}

/// The OpenRPC 1.2.6 document of the API, as `rpc.discover` answers it.
pub fn document() -> Value {
    let methods: Vec<Value> = METHODS.iter().map(method_json).collect();
    json!({
        "openrpc": OPENRPC_VERSION,
        "info": {
            "title": "Chancery JSON-RPC",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "JSON-RPC 2.0 over HTTP (POST) and WebSocket, parameters by position: anchoring \
                evidence, proofs that verify offline, chain data, certificates, governance and hosted signing. \
                Txs travel as hex of their canonical bytes, hashes as 64 hex digits, digests as `alg:hex`, \
                times in milliseconds since the Unix epoch. Chancery's error codes (1000 and above) are in \
                `components.errors`; codes from -32768 to -32000 are JSON-RPC's. Subscriptions (WebSocket \
                only) describe their notifications in `x-notification`.",
        },
        "methods": methods,
        "components": {
            "schemas": Value::Object(schemas()),
            "errors": Value::Object(errors()),
        },
    })
}

fn method_json(method: &Method) -> Value {
    let params: Vec<Value> = method
        .params
        .iter()
        .map(|param| json!({"name": param.name, "required": param.required, "schema": param_schema(param)}))
        .collect();
    let errors: Vec<Value> =
        method.errors.iter().map(|code| json!({"$ref": format!("{ERRORS_PREFIX}{}", code.name())})).collect();
    let mut out = json!({
        "name": method.name,
        "summary": method.summary,
        "paramStructure": "by-position",
        "params": params,
        "result": {"name": method.result, "schema": reference(method.result)},
        "errors": errors,
    });
    if let Some(subscription) = method.subscription {
        out["x-notification"] = json!({
            "method": subscription.notification,
            "result": {"name": subscription.item, "schema": reference(subscription.item)},
            "unsubscribe": subscription.unsubscribe,
        });
    }
    out
}

/// A parameter's schema: an optional one may also be `null`.
fn param_schema(param: &Param) -> Value {
    if param.required {
        reference(param.schema)
    } else {
        nullable(reference(param.schema))
    }
}

/// `components.errors`: every Chancery error code under its name.
fn errors() -> Map<String, Value> {
    ErrorCode::ALL
        .iter()
        .map(|code| (code.name().to_string(), json!({"code": code.code(), "message": code.name()})))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Schemas

/// `components.schemas`: every type a method takes or answers, by name.
fn schemas() -> Map<String, Value> {
    let mut schemas = Map::new();
    value_schemas(&mut schemas);
    chain_schemas(&mut schemas);
    tx_schemas(&mut schemas);
    consensus_schemas(&mut schemas);
    gov_schemas(&mut schemas);
    proof_schemas(&mut schemas);
    evidence_answer_schemas(&mut schemas);
    chain_answer_schemas(&mut schemas);
    cert_answer_schemas(&mut schemas);
    schemas
}

fn add(schemas: &mut Map<String, Value>, name: &str, schema: Value) {
    let previous = schemas.insert(name.to_string(), schema);
    assert!(previous.is_none(), "schema {name} is defined twice");
}

/// A `$ref` to the component schema `name`.
fn reference(name: &str) -> Value {
    json!({"$ref": format!("{SCHEMAS_PREFIX}{name}")})
}

/// `schema`, or `null`.
fn nullable(schema: Value) -> Value {
    json!({"anyOf": [schema, {"type": "null"}]})
}

/// A closed object of `properties`, each required except those in `optional`.
fn object(properties: Value, optional: &[&str]) -> Value {
    let names = properties.as_object().expect("an object's properties are given as a JSON object");
    for name in optional {
        assert!(names.contains_key(*name), "optional property {name} is not among the properties");
    }
    let required: Vec<String> = names.keys().filter(|name| !optional.contains(&name.as_str())).cloned().collect();
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

/// A variant of an externally tagged enum, as serde writes it: `{"name": inner}`.
fn variant(name: &str, inner: Value) -> Value {
    object(json!({ name: inner }), &[])
}

/// A string that is one of `names` (a unit-only enum, or a unit variant).
fn names(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

/// `len` bytes as lower-case hex.
fn hex_bytes(len: usize) -> Value {
    json!({"type": "string", "pattern": format!("^[0-9a-f]{{{}}}$", 2 * len)})
}

fn array(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

fn array_max(items: Value, max: usize) -> Value {
    json!({"type": "array", "items": items, "maxItems": max})
}

/// Numbers, strings, hex and digests.
fn value_schemas(s: &mut Map<String, Value>) {
    add(s, "Boolean", json!({"type": "boolean"}));
    add(s, "Text", json!({"type": "string"}));
    add(s, "U16", json!({"type": "integer", "minimum": 0, "maximum": u16::MAX}));
    add(s, "U32", json!({"type": "integer", "minimum": 0, "maximum": u32::MAX}));
    add(s, "U64", json!({"type": "integer", "minimum": 0}));
    add(s, "Hex", json!({"type": "string", "pattern": "^[0-9a-f]*$", "description": "Bytes as lower-case hex."}));
    add(
        s,
        "TxHex",
        json!({
            "type": "string",
            "pattern": "^[0-9a-f]*$",
            "description": "A tx: hex of its canonical bytes (PROOF_FORMAT.md section 3).",
        }),
    );
    add(s, "Hash", described(hex_bytes(32), "A 32-byte BLAKE3 hash: 64 lower-case hex digits."));
    add(s, "PublicKey", described(hex_bytes(32), "An Ed25519 public key, hex."));
    add(s, "Signature", described(hex_bytes(64), "An Ed25519 signature, hex."));
    add(s, "ChainId", json!({"type": "string", "description": "1 to 64 ASCII letters, digits, '-', '_' or '.'."}));
    add(s, "HashList", array(reference("Hash")));
    add(s, "TxHexList", array(reference("TxHex")));
    let texts: Vec<Value> = DIGEST_ALGS
        .iter()
        .map(|alg| {
            let pattern = format!("^{}:[0-9a-f]{{{}}}$", alg.name(), 2 * alg.digest_len());
            json!({"type": "string", "pattern": pattern})
        })
        .collect();
    add(s, "DigestText", json!({"anyOf": texts, "description": "A document digest as `alg:hex`."}));
    let digests: Vec<Value> = DIGEST_ALGS
        .iter()
        .map(|alg| object(json!({"alg": {"const": alg.name()}, "bytes": hex_bytes(alg.digest_len())}), &[]))
        .collect();
    add(s, "Digest", json!({"anyOf": digests}));
    add(
        s,
        "SubscriptionId",
        json!({
            "anyOf": [reference("U64"), reference("Text")],
            "description": "A subscription, as its subscribe call answered (this node answers numbers).",
        }),
    );
}

/// `schema` (an object) with a description.
fn described(mut schema: Value, description: &str) -> Value {
    schema["description"] = json!(description);
    schema
}

/// Headers, blocks, commits, validators and parameters.
fn chain_schemas(s: &mut Map<String, Value>) {
    let header = json!({
        "chain_id": reference("ChainId"),
        "height": reference("U64"),
        "time_ms": reference("U64"),
        "prev_hash": reference("Hash"),
        "tx_root": reference("Hash"),
        "tx_count": reference("U32"),
        "history_root": reference("Hash"),
        "validators_hash": reference("Hash"),
        "validators_epoch": reference("U64"),
        "next_validators_hash": reference("Hash"),
        "state_root": reference("Hash"),
        "proposer": reference("PublicKey"),
    });
    add(s, "Header", object(header, &[]));
    add(
        s,
        "Block",
        object(json!({"header": reference("Header"), "txs": array_max(reference("Tx"), BLOCK_TXS_MAX)}), &[]),
    );
    let commit = json!({
        "height": reference("U64"),
        "round": reference("U32"),
        "block_hash": reference("Hash"),
        "signatures": array_max(reference("CommitSig"), VALIDATORS_MAX),
    });
    add(s, "Commit", object(commit, &[]));
    add(s, "CommitSig", object(json!({"validator": reference("PublicKey"), "signature": reference("Signature")}), &[]));
    let validator = json!({
        "name": reference("Text"),
        "role": reference("Role"),
        "consensus_key": reference("PublicKey"),
        "p2p_key": reference("PublicKey"),
        "admin_key": reference("PublicKey"),
        "power": reference("U64"),
    });
    add(s, "Validator", object(validator, &[]));
    add(s, "Role", names(&["operator", "notary", "court", "arbitration", "observer"]));
    add(s, "ValidatorSet", array_max(reference("Validator"), VALIDATORS_MAX));
    let params = json!({
        "max_block_txs": reference("U32"),
        "max_block_bytes": reference("U32"),
        "max_tx_bytes": reference("U32"),
        "max_clock_drift_ms": reference("U64"),
        "timeouts": reference("Timeouts"),
        "empty_block_interval_ms": reference("U64"),
    });
    add(s, "Params", object(params, &[]));
    let timeouts = json!({
        "propose_ms": reference("U64"),
        "prevote_ms": reference("U64"),
        "precommit_ms": reference("U64"),
        "commit_ms": reference("U64"),
        "round_increase_ms": reference("U64"),
    });
    add(s, "Timeouts", object(timeouts, &[]));
}

/// Txs and the records they carry. `Option` fields of a tx body are not required: a
/// client writing a body for `tx_prepare` may leave them out (serde reads them as
/// `None`), though answers always carry them, as `null`.
fn tx_schemas(s: &mut Map<String, Value>) {
    let tx = json!({
        "chain_id": reference("ChainId"),
        "body": reference("TxBody"),
        "signer": reference("PublicKey"),
        "nonce": reference("U64"),
        "signature": reference("Signature"),
    });
    add(s, "Tx", object(tx, &[]));
    let bodies = [
        variant("evidence", reference("Evidence")),
        variant("cert_event", reference("CertEvent")),
        variant("propose", reference("GovProposal")),
        variant("vote", reference("GovVote")),
        variant("rotate_key", reference("KeyRotation")),
        variant("misbehaviour", reference("Equivocation")),
    ];
    add(s, "TxBody", json!({"oneOf": bodies}));
    let evidence = json!({
        "kind": reference("EvidenceKind"),
        "digest": reference("Digest"),
        "refs": array_max(reference("Hash"), EVIDENCE_REFS_MAX),
        "meta": nullable(reference("Hash")),
        "claimed_time_ms": nullable(reference("U64")),
        "cert": nullable(reference("CertRef")),
        "signature": nullable(reference("DocumentSignature")),
    });
    add(s, "Evidence", object(evidence, &["meta", "claimed_time_ms", "cert", "signature"]));
    let kinds = names(&[
        "document",
        "signing_event",
        "identity_check",
        "intent_check",
        "evidence_package",
        "timestamp_token",
        "notarization",
        "forensic_opinion",
        "court_filing",
    ]);
    add(s, "EvidenceKind", json!({"anyOf": [kinds, variant("custom", reference("U16"))]}));
    add(s, "CertRef", object(json!({"ca": reference("Text"), "serial": reference("Hex")}), &[]));
    let document_signature = json!({"hash": reference("Hash"), "method": reference("SigningMethod")});
    add(s, "DocumentSignature", object(document_signature, &[]));
    let hosted = object(json!({"public_key": reference("PublicKey"), "signature": reference("Signature")}), &[]);
    add(s, "SigningMethod", json!({"oneOf": [names(&["external"]), variant("hosted_ed25519", hosted)]}));
    let cert_event = json!({
        "ca": reference("Text"),
        "serial": reference("Hex"),
        "cert_digest": reference("Digest"),
        "subject_key": reference("Digest"),
        "event": reference("CertEventKind"),
    });
    add(s, "CertEvent", object(cert_event, &[]));
    let issued = object(json!({"not_before_ms": reference("U64"), "not_after_ms": reference("U64")}), &[]);
    let renewed = object(json!({"not_after_ms": reference("U64")}), &[]);
    let revoked = object(json!({"reason": reference("RevocationReason"), "effective_ms": reference("U64")}), &[]);
    let events = [variant("issued", issued), variant("renewed", renewed), variant("revoked", revoked)];
    add(s, "CertEventKind", json!({"oneOf": events}));
    let reasons = ["key_compromise", "information_changed", "illegal_use", "organisation_dissolved", "unspecified"];
    add(s, "RevocationReason", names(&reasons));
}

/// Misbehaviour evidence: two signed consensus messages of one validator.
fn consensus_schemas(s: &mut Map<String, Value>) {
    let equivocation = json!({
        "validator": reference("PublicKey"),
        "first": reference("SignedItem"),
        "second": reference("SignedItem"),
    });
    add(s, "Equivocation", object(equivocation, &[]));
    let vote = object(json!({"vote": reference("Vote"), "signature": reference("Signature")}), &[]);
    let proposal = object(json!({"proposal": reference("ProposalHeader"), "signature": reference("Signature")}), &[]);
    add(s, "SignedItem", json!({"oneOf": [variant("vote", vote), variant("proposal", proposal)]}));
    let vote = json!({
        "chain_id": reference("ChainId"),
        "genesis_hash": reference("Hash"),
        "height": reference("U64"),
        "round": reference("U32"),
        "kind": names(&["prevote", "precommit"]),
        "block_hash": nullable(reference("Hash")),
    });
    add(s, "Vote", object(vote, &["block_hash"]));
    let proposal = json!({
        "chain_id": reference("ChainId"),
        "genesis_hash": reference("Hash"),
        "height": reference("U64"),
        "round": reference("U32"),
        "pol_round": nullable(reference("U32")),
        "block_hash": reference("Hash"),
    });
    add(s, "ProposalHeader", object(proposal, &["pol_round"]));
}

/// Governance: proposals, votes, key rotations, and how a proposal stands.
fn gov_schemas(s: &mut Map<String, Value>) {
    let proposal = json!({"change": reference("Change"), "expires_at_height": reference("U64")});
    add(s, "GovProposal", object(proposal, &[]));
    add(s, "GovVote", object(json!({"proposal": reference("Hash"), "approve": reference("Boolean")}), &[]));
    add(s, "KeyRotation", object(json!({"key": reference("RotatedKey")}), &[]));
    let rotated = [
        variant("consensus", reference("PublicKey")),
        variant("p2p", reference("PublicKey")),
        variant("admin", reference("PublicKey")),
    ];
    add(s, "RotatedKey", json!({"oneOf": rotated}));
    let set_power = object(json!({"name": reference("Text"), "power": reference("U64")}), &[]);
    let changes = [
        variant("add_member", reference("Member")),
        variant("update_member", reference("Member")),
        variant("remove_member", reference("PublicKey")),
        variant("remove_ca", reference("Text")),
        variant("add_validator", reference("Validator")),
        variant("remove_validator", reference("Text")),
        variant("set_power", set_power),
        variant("set_params", reference("Params")),
    ];
    add(s, "Change", json!({"oneOf": changes}));
    let member = json!({"name": reference("Text"), "key": reference("PublicKey"), "role": reference("MemberRole")});
    add(s, "Member", object(member, &[]));
    let integrator = object(json!({"kinds": array_max(reference("EvidenceKind"), MEMBER_KINDS_MAX)}), &[]);
    let authority = object(json!({"ca": reference("Text")}), &[]);
    let roles = [variant("integrator", integrator), variant("certificate_authority", authority)];
    add(s, "MemberRole", json!({"oneOf": roles}));
    // Tagged by `status`, as serde writes `ProposalStatus`.
    let statuses = [
        object(json!({"status": {"const": "pending"}}), &[]),
        object(json!({"status": {"const": "executed"}, "height": reference("U64")}), &[]),
        object(json!({"status": {"const": "failed"}, "height": reference("U64"), "reason": reference("Text")}), &[]),
        object(json!({"status": {"const": "rejected"}, "height": reference("U64")}), &[]),
        object(json!({"status": {"const": "expired"}, "expires_at_height": reference("U64")}), &[]),
    ];
    add(s, "ProposalStatus", json!({"oneOf": statuses}));
    let tally = json!({"approve": reference("U64"), "reject": reference("U64"), "total": reference("U64")});
    add(s, "Tally", object(tally, &[]));
    let vote = json!({
        "admin_key": reference("PublicKey"),
        "validator": nullable(reference("Text")),
        "power": reference("U64"),
        "approve": reference("Boolean"),
        "height": reference("U64"),
        "tx_hash": reference("Hash"),
    });
    add(s, "VoteView", object(vote, &[]));
    let answer = json!({
        "id": reference("Hash"),
        "proposer": reference("PublicKey"),
        "proposer_name": nullable(reference("Text")),
        "height": reference("U64"),
        "change": reference("Change"),
        "expires_at_height": reference("U64"),
        "status": reference("ProposalStatus"),
        "votes": array_max(reference("VoteView"), GOV_VOTES_MAX),
        "tally": reference("Tally"),
        "as_of_height": reference("U64"),
        "proof": reference("ProposalProof"),
    });
    // `proof` only in `gov_proposal`'s answer, left out of `gov_proposals`'.
    add(s, "ProposalAnswer", object(answer, &["proof"]));
    add(s, "ProposalAnswerList", array(reference("ProposalAnswer")));
}

/// Proof documents (PROOF_FORMAT.md): binary objects travel as hex of their canonical
/// bytes, so these are exact down to the hex.
fn proof_schemas(s: &mut Map<String, Value>) {
    let tx_proof = json!({"index": reference("U32"), "count": reference("U32"), "siblings": reference("HashList")});
    add(s, "TxProof", object(tx_proof, &[]));
    let change = json!({"header": reference("Hex"), "commit": reference("Hex"), "validators": reference("Hex")});
    add(s, "ValidatorSetChange", object(change, &[]));
    add(s, "ValidatorSetChangeList", array(reference("ValidatorSetChange")));
    let checkpoint =
        json!({"header": reference("Hex"), "commit": reference("Hex"), "history_proof": reference("HashList")});
    add(s, "Checkpoint", object(checkpoint, &[]));
    let bundle = json!({
        "version": reference("U32"),
        "chain_id": reference("ChainId"),
        "genesis_hash": reference("Hash"),
        "tx": reference("TxHex"),
        "tx_proof": reference("TxProof"),
        "header": reference("Hex"),
        "commit": reference("Hex"),
        "validator_changes": reference("ValidatorSetChangeList"),
        "checkpoint": nullable(reference("Checkpoint")),
        "cert_status": reference("CertStatusProof"),
    });
    // `cert_status` only for evidence that names a certificate.
    add(s, "ProofBundle", object(bundle, &["cert_status"]));
    add(s, "SmtProof", object(json!({"siblings": reference("HashList"), "terminal": reference("Terminal")}), &[]));
    let leaf = object(json!({"key": reference("Hash"), "value": reference("Hex")}), &[]);
    add(s, "Terminal", json!({"oneOf": [names(&["empty"]), variant("leaf", leaf)]}));
    let cert_status = json!({
        "version": reference("U32"),
        "chain_id": reference("ChainId"),
        "genesis_hash": reference("Hash"),
        "ca": reference("Text"),
        "serial": reference("Hex"),
        "at_ms": reference("U64"),
        "header": reference("Hex"),
        "commit": reference("Hex"),
        "validator_changes": reference("ValidatorSetChangeList"),
        "state_proof": reference("SmtProof"),
        "events": array(reference("CertEventProof")),
    });
    add(s, "CertStatusProof", object(cert_status, &[]));
    let event = json!({
        "tx": reference("TxHex"),
        "tx_proof": reference("TxProof"),
        "header": reference("Hex"),
        "history_proof": reference("HashList"),
    });
    add(s, "CertEventProof", object(event, &[]));
    let proposal = json!({
        "version": reference("U32"),
        "chain_id": reference("ChainId"),
        "genesis_hash": reference("Hash"),
        "id": reference("Hash"),
        "header": reference("Hex"),
        "commit": reference("Hex"),
        "validator_changes": reference("ValidatorSetChangeList"),
        "state_proof": reference("SmtProof"),
    });
    add(s, "ProposalProof", object(proposal, &[]));
    let consistency = json!({"mth1": reference("Hash"), "mth2": reference("Hash"), "proof": reference("HashList")});
    add(s, "HistoryConsistency", object(consistency, &[]));
}

/// Answers about txs: submissions, status, anchors, verification, hosted signatures.
fn evidence_answer_schemas(s: &mut Map<String, Value>) {
    add(s, "RpcError", object(json!({"code": {"type": "integer"}, "message": reference("Text")}), &[]));
    let accepted = object(json!({"tx_hash": reference("Hash")}), &[]);
    let refused = object(json!({"error": reference("RpcError")}), &[]);
    add(s, "SubmitOutcome", json!({"oneOf": [variant("accepted", accepted), variant("refused", refused)]}));
    add(s, "SubmitOutcomeList", array(reference("SubmitOutcome")));
    // `TxStatus` is flattened into the answer and tagged by `status`.
    let statuses = [
        object(json!({"tx_hash": reference("Hash"), "status": names(&["pending", "unknown"])}), &[]),
        object(
            json!({
                "tx_hash": reference("Hash"),
                "status": {"const": "committed"},
                "height": reference("U64"),
                "index": reference("U32"),
                "block_time_ms": reference("U64"),
            }),
            &[],
        ),
        object(json!({"tx_hash": reference("Hash"), "status": {"const": "dropped"}, "reason": reference("Text")}), &[]),
    ];
    add(s, "TxStatusAnswer", json!({"oneOf": statuses}));
    let prepared = json!({
        "unsigned_tx": reference("TxHex"),
        "sign_bytes": hex_bytes(32),
        "chain_id": reference("ChainId"),
        "genesis_hash": reference("Hash"),
    });
    add(s, "PreparedTx", object(prepared, &[]));
    let anchor = json!({
        "tx_hash": reference("Hash"),
        "height": reference("U64"),
        "index": reference("U32"),
        "block_time_ms": reference("U64"),
    });
    add(s, "Anchor", object(anchor, &[]));
    let anchors = json!({
        "anchors": array_max(reference("Anchor"), ANCHORS_PER_QUERY_MAX),
        "next": nullable(reference("Hash")),
    });
    add(s, "Anchors", object(anchors, &[]));
    // The report is the verifier's own JSON (`chancery_ledger::Report`), left open here.
    let verify = json!({
        "valid": reference("Boolean"),
        "error": nullable(reference("Text")),
        "report": {"type": ["object", "null"]},
    });
    add(s, "VerifyAnswer", object(verify, &[]));
    let signed = json!({
        "key_id": reference("Text"),
        "public_key": reference("PublicKey"),
        "signature": reference("Signature"),
        "tx_hash": reference("Hash"),
        "height": reference("U64"),
    });
    add(s, "SignDigestAnswer", object(signed, &[]));
}

/// Answers about the chain and the node, and the document itself.
fn chain_answer_schemas(s: &mut Map<String, Value>) {
    let committed = json!({
        "height": reference("U64"),
        "block_hash": reference("Hash"),
        "time_ms": reference("U64"),
        "tx_hashes": array_max(reference("Hash"), BLOCK_TXS_MAX),
    });
    add(s, "CommittedBlock", object(committed, &[]));
    let info = json!({
        "chain_id": reference("ChainId"),
        "genesis_hash": reference("Hash"),
        "blocks": reference("U64"),
        "latest_block_hash": nullable(reference("Hash")),
        "latest_time_ms": nullable(reference("U64")),
        "request_bytes_max": reference("U32"),
        "submit_batch_max": reference("U32"),
        "params": reference("Params"),
    });
    add(s, "ChainInfo", object(info, &[]));
    let checkpoint = json!({
        "height": reference("U64"),
        "header": reference("Header"),
        "commit": reference("Commit"),
        "validator_changes": reference("ValidatorSetChangeList"),
    });
    add(s, "CheckpointInfo", object(checkpoint, &[]));
    let health = json!({
        "status": names(&["ok", "stalled", "halted", "no_quorum"]),
        "reason": nullable(reference("Text")),
        "moniker": reference("Text"),
        "blocks": reference("U64"),
        "since_last_commit_ms": reference("U64"),
        "mempool_txs": reference("U64"),
        "mempool_bytes": reference("U64"),
        "version": reference("Text"),
    });
    add(s, "Health", object(health, &[]));
    // The document itself: what OpenRPC requires of it, the rest left open.
    let discover = json!({
        "type": "object",
        "properties": {"openrpc": {"const": OPENRPC_VERSION}, "methods": {"type": "array"}},
        "required": ["openrpc", "info", "methods"],
    });
    add(s, "OpenrpcDocument", discover);
}

/// `cert_history` and `cert_status`.
fn cert_answer_schemas(s: &mut Map<String, Value>) {
    let entry = json!({
        "height": reference("U64"),
        "time_ms": reference("U64"),
        "tx_hash": reference("Hash"),
        "cert_digest": reference("DigestText"),
        "subject_key": reference("DigestText"),
        "event": reference("CertEventKind"),
    });
    add(s, "CertHistoryEntry", object(entry, &[]));
    let history = json!({
        "ca": reference("Text"),
        "serial": reference("Hex"),
        "events": array_max(reference("CertHistoryEntry"), CERT_EVENTS_MAX),
    });
    add(s, "CertHistory", object(history, &[]));
    // `CertStatus` is flattened into the answer and tagged by `status`; only `revoked`
    // carries fields.
    let status = json!({
        "status": names(&["not_yet_valid", "valid", "expired", "unknown"]),
        "at_ms": reference("U64"),
        "as_of_height": reference("U64"),
        "proof": reference("CertStatusProof"),
    });
    let revoked = json!({
        "status": {"const": "revoked"},
        "reason": reference("RevocationReason"),
        "effective_ms": reference("U64"),
        "at_ms": reference("U64"),
        "as_of_height": reference("U64"),
        "proof": reference("CertStatusProof"),
    });
    add(s, "CertStatusAnswer", json!({"oneOf": [object(status, &[]), object(revoked, &[])]}));
}

// ---------------------------------------------------------------------------------------
// Validation

/// Checks `value` against `schema`, following `$ref`s into `document` (local ones,
/// `#/...`). Supports the JSON Schema keywords the document uses: `$ref`, `type` (one or
/// a list; `integer` is a number written without a fraction or exponent, as serde reads
/// integers), `enum`, `const`, `anyOf`, `oneOf`, `minimum`, `maximum`, `pattern` (only
/// `^PREFIX[0-9a-f]{N}$` and `^PREFIX[0-9a-f]*$` with a literal lower-case prefix),
/// `items`, `maxItems`, `properties`, `required` and `additionalProperties: false`, with
/// `description` and `title` ignored. Anything else is an error, so a schema that needs
/// more fails loudly instead of passing everything. The error names the JSON path that
/// failed (`$.header.height`).
pub fn validate(document: &Value, schema: &Value, value: &Value) -> Result<(), String> {
    Validation { document }.check(schema, value, "$", 0)
}

struct Validation<'a> {
    document: &'a Value,
}

impl Validation<'_> {
    fn check(&self, schema: &Value, value: &Value, path: &str, refs: usize) -> Result<(), String> {
        let keywords =
            schema.as_object().ok_or_else(|| format!("{path}: the schema {} is not an object", quote(schema)))?;
        if let Some(target) = keywords.get("$ref") {
            return self.follow(target, value, path, refs);
        }
        for (keyword, argument) in keywords {
            self.keyword(keyword, argument, keywords, value, path, refs)?;
        }
        Ok(())
    }

    fn follow(&self, target: &Value, value: &Value, path: &str, refs: usize) -> Result<(), String> {
        if refs >= REFS_NESTED_MAX {
            return Err(format!("{path}: more than {REFS_NESTED_MAX} nested $refs; is {target} part of a loop?"));
        }
        let schema = target
            .as_str()
            .and_then(|target| target.strip_prefix('#'))
            .and_then(|pointer| self.document.pointer(pointer))
            .ok_or_else(|| format!("{path}: $ref {target} does not resolve in the document"))?;
        self.check(schema, value, path, refs + 1)
    }

    fn keyword(
        &self,
        keyword: &str,
        argument: &Value,
        schema: &Map<String, Value>,
        value: &Value,
        path: &str,
        refs: usize,
    ) -> Result<(), String> {
        match keyword {
            "type" => check_type(argument, value, path),
            "enum" => check_enum(argument, value, path),
            "const" if argument == value => Ok(()),
            "const" => Err(format!("{path}: {} is not {}", quote(value), quote(argument))),
            "anyOf" => self.any_of(argument, value, path, refs),
            "oneOf" => self.one_of(argument, value, path, refs),
            "minimum" => check_bound(argument, value, path, Ordering::Less, "below the minimum"),
            "maximum" => check_bound(argument, value, path, Ordering::Greater, "above the maximum"),
            "pattern" => check_pattern(argument, value, path),
            "maxItems" => check_max_items(argument, value, path),
            "items" => self.items(argument, value, path, refs),
            "properties" => self.properties(argument, value, path, refs),
            "required" => check_required(argument, value, path),
            "additionalProperties" => check_additional(argument, schema, value, path),
            "description" | "title" => Ok(()),
            other => Err(format!("{path}: the schema keyword {other:?} is not supported by this validator")),
        }
    }

    /// Each schema of an `anyOf` or `oneOf`, checked against `value`.
    fn branches(&self, argument: &Value, value: &Value, path: &str, refs: usize) -> Result<Vec<String>, String> {
        let schemas = argument.as_array().ok_or_else(|| format!("{path}: anyOf and oneOf take a list of schemas"))?;
        let mut failures = Vec::new();
        for schema in schemas {
            if let Err(why) = self.check(schema, value, path, refs) {
                failures.push(why);
            }
        }
        Ok(failures)
    }

    fn any_of(&self, argument: &Value, value: &Value, path: &str, refs: usize) -> Result<(), String> {
        let count = argument.as_array().map_or(0, Vec::len);
        let failures = self.branches(argument, value, path, refs)?;
        if failures.len() < count {
            return Ok(());
        }
        Err(format!("{path}: fits none of the {count} schemas of anyOf: {}", failures.join("; or ")))
    }

    fn one_of(&self, argument: &Value, value: &Value, path: &str, refs: usize) -> Result<(), String> {
        let count = argument.as_array().map_or(0, Vec::len);
        let failures = self.branches(argument, value, path, refs)?;
        match count - failures.len() {
            1 => Ok(()),
            0 => Err(format!("{path}: fits none of the {count} schemas of oneOf: {}", failures.join("; or "))),
            fits => Err(format!("{path}: fits {fits} of the schemas of oneOf, not exactly one")),
        }
    }

    fn items(&self, schema: &Value, value: &Value, path: &str, refs: usize) -> Result<(), String> {
        if !schema.is_object() {
            return Err(format!("{path}: items must be one schema (lists of schemas are not supported)"));
        }
        let Some(items) = value.as_array() else { return Ok(()) };
        for (index, item) in items.iter().enumerate() {
            self.check(schema, item, &format!("{path}[{index}]"), refs)?;
        }
        Ok(())
    }

    fn properties(&self, argument: &Value, value: &Value, path: &str, refs: usize) -> Result<(), String> {
        let schemas = argument.as_object().ok_or_else(|| format!("{path}: properties must be an object"))?;
        let Some(fields) = value.as_object() else { return Ok(()) };
        for (name, schema) in schemas {
            if let Some(field) = fields.get(name) {
                self.check(schema, field, &format!("{path}.{name}"), refs)?;
            }
        }
        Ok(())
    }
}

fn check_type(argument: &Value, value: &Value, path: &str) -> Result<(), String> {
    let types: Vec<&str> = match argument {
        Value::String(name) => vec![name.as_str()],
        Value::Array(names) => names
            .iter()
            .map(|name| name.as_str().ok_or_else(|| format!("{path}: type lists names, got {name}")))
            .collect::<Result<_, _>>()?,
        other => return Err(format!("{path}: type must be a name or a list of names, got {other}")),
    };
    for name in &types {
        if has_type(name, value).map_err(|why| format!("{path}: {why}"))? {
            return Ok(());
        }
    }
    Err(format!("{path}: {} is not of type {}", quote(value), types.join(" or ")))
}

fn has_type(name: &str, value: &Value) -> Result<bool, String> {
    Ok(match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        other => return Err(format!("unknown type {other:?}")),
    })
}

fn check_enum(argument: &Value, value: &Value, path: &str) -> Result<(), String> {
    let allowed = argument.as_array().ok_or_else(|| format!("{path}: enum must be a list"))?;
    if allowed.contains(value) {
        return Ok(());
    }
    Err(format!("{path}: {} is not one of {}", quote(value), quote(argument)))
}

/// Refuses a number that compares to `bound` as `beyond`.
fn check_bound(bound: &Value, value: &Value, path: &str, beyond: Ordering, what: &str) -> Result<(), String> {
    let Value::Number(bound) = bound else { return Err(format!("{path}: a bound must be a number, got {bound}")) };
    let Value::Number(number) = value else { return Ok(()) };
    if compare(number, bound) == Some(beyond) {
        return Err(format!("{path}: {number} is {what} {bound}"));
    }
    Ok(())
}

/// Integers exactly, other numbers as floats.
fn compare(a: &Number, b: &Number) -> Option<Ordering> {
    let exact = |n: &Number| n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from));
    match (exact(a), exact(b)) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

fn check_pattern(argument: &Value, value: &Value, path: &str) -> Result<(), String> {
    let pattern = argument.as_str().ok_or_else(|| format!("{path}: pattern must be a string"))?;
    let Some(text) = value.as_str() else { return Ok(()) };
    if matches_pattern(pattern, text).map_err(|why| format!("{path}: {why}"))? {
        return Ok(());
    }
    Err(format!("{path}: {} does not match {pattern}", quote(value)))
}

/// Whether `text` matches `pattern`, for the only patterns the schemas use: `^`, a literal
/// prefix (lower-case letters, digits, `:`, `_`, `-`), `[0-9a-f]`, then `{N}` (exactly N
/// digits) or `*` (any number), then `$`.
fn matches_pattern(pattern: &str, text: &str) -> Result<bool, String> {
    let unsupported =
        || format!("unsupported pattern {pattern:?}: only ^PREFIX[0-9a-f]{{N}}$ and ^PREFIX[0-9a-f]*$ are implemented");
    let body = pattern.strip_prefix('^').and_then(|body| body.strip_suffix('$')).ok_or_else(unsupported)?;
    let (prefix, quantifier) = body.split_once("[0-9a-f]").ok_or_else(unsupported)?;
    let literal = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, ':' | '_' | '-');
    if !prefix.chars().all(literal) {
        return Err(unsupported());
    }
    let digits_len = match quantifier {
        "*" => None,
        counted => {
            let count = counted.strip_prefix('{').and_then(|c| c.strip_suffix('}')).ok_or_else(unsupported)?;
            Some(count.parse::<usize>().map_err(|_| unsupported())?)
        }
    };
    let Some(digits) = text.strip_prefix(prefix) else { return Ok(false) };
    let hex = digits.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    Ok(hex && digits_len.is_none_or(|len| digits.len() == len))
}

fn check_max_items(argument: &Value, value: &Value, path: &str) -> Result<(), String> {
    let max = argument.as_u64().ok_or_else(|| format!("{path}: maxItems must be a count"))?;
    let Some(items) = value.as_array() else { return Ok(()) };
    if items.len() as u64 > max {
        return Err(format!("{path}: {} items, more than the {max} allowed", items.len()));
    }
    Ok(())
}

fn check_required(argument: &Value, value: &Value, path: &str) -> Result<(), String> {
    let names = argument.as_array().ok_or_else(|| format!("{path}: required must be a list of names"))?;
    let Some(fields) = value.as_object() else { return Ok(()) };
    for name in names {
        let name = name.as_str().ok_or_else(|| format!("{path}: required lists names, got {name}"))?;
        if !fields.contains_key(name) {
            return Err(format!("{path}: the required property {name:?} is missing"));
        }
    }
    Ok(())
}

fn check_additional(argument: &Value, schema: &Map<String, Value>, value: &Value, path: &str) -> Result<(), String> {
    match argument {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => {}
        _ => return Err(format!("{path}: only additionalProperties true or false is supported")),
    }
    let Some(fields) = value.as_object() else { return Ok(()) };
    let known = schema.get("properties").and_then(Value::as_object);
    for name in fields.keys() {
        if !known.is_some_and(|known| known.contains_key(name)) {
            return Err(format!("{path}: the property {name:?} is not allowed here"));
        }
    }
    Ok(())
}

/// `value` as JSON, cut to [`QUOTE_CHARS_MAX`] characters.
fn quote(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= QUOTE_CHARS_MAX {
        return text;
    }
    let cut: String = text.chars().take(QUOTE_CHARS_MAX).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RPC reference, generated from real calls to a dev node.
    const RPC_DOC: &str = include_str!("../../docs/RPC.md");

    const HEADER: &str = r#"{
        "chain_id": "chancery-dev",
        "height": 0,
        "history_root": "414993a54ef0d157f6564123327343f50aade6e0bd947268db469654393612a0",
        "next_validators_hash": "2f6a6bd86e00cf23a20fd5220927f8012f9d259375f19fc39e9d2eea213aa7f8",
        "prev_hash": "cf95891616f30e10946e96fb3f5f75a917ae8ccd12321146fbf8f5155892e409",
        "proposer": "3b3e4eb35af36bb35e54c0553f56a8bd8d5b1985e720507ea23a93f38e32093a",
        "state_root": "7f87700292aea2aca71191c14ec1256fbf4c6b5a4996880da9324662834cb009",
        "time_ms": 1796230710245,
        "tx_count": 1,
        "tx_root": "309bf281a5883e2f0e3bdec7fe7a7ff849d81a3f93da5dd18e6748d044339cc0",
        "validators_epoch": 0,
        "validators_hash": "2f6a6bd86e00cf23a20fd5220927f8012f9d259375f19fc39e9d2eea213aa7f8"
    }"#;

    const CHAIN_INFO: &str = r#"{
        "blocks": 2,
        "chain_id": "chancery-dev",
        "genesis_hash": "cf95891616f30e10946e96fb3f5f75a917ae8ccd12321146fbf8f5155892e409",
        "latest_block_hash": "35e5bdaea83f30bb82ad3af989fd353c0cbc83cd6c4eb7456c17dc5e06f2234c",
        "latest_time_ms": 1796230710251,
        "params": {
            "empty_block_interval_ms": 60000,
            "max_block_bytes": 8388608,
            "max_block_txs": 10000,
            "max_clock_drift_ms": 5000,
            "max_tx_bytes": 65536,
            "timeouts": {
                "commit_ms": 500,
                "precommit_ms": 1000,
                "prevote_ms": 1000,
                "propose_ms": 3000,
                "round_increase_ms": 500
            }
        },
        "request_bytes_max": 4194304,
        "submit_batch_max": 1000
    }"#;

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).expect("the sample is JSON")
    }

    fn check(schema: &str, value: &Value) -> Result<(), String> {
        validate(&document(), &reference(schema), value)
    }

    /// Every `$ref` string in `value`.
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    out.push(target.clone());
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    /// Every `pattern` string in `value`.
    fn patterns(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(pattern)) = map.get("pattern") {
                    out.push(pattern.clone());
                }
                map.values().for_each(|v| patterns(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| patterns(v, out)),
            _ => {}
        }
    }

    /// The docs cut long arrays to two items and a "…": drop the marker to get a real
    /// (shorter) answer back.
    fn untrimmed(value: Value) -> Value {
        match value {
            Value::Array(items) => {
                Value::Array(items.into_iter().filter(|item| item.as_str() != Some("…")).map(untrimmed).collect())
            }
            Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, untrimmed(v))).collect()),
            other => other,
        }
    }

    fn json_blocks(text: &str) -> Vec<Value> {
        text.split("```json\n")
            .skip(1)
            .map(|rest| {
                let end = rest.find("\n```").expect("a json block is closed");
                serde_json::from_str(&rest[..end]).expect("docs/RPC.md's json blocks are JSON")
            })
            .collect()
    }

    fn schema_names() -> Vec<String> {
        schemas().keys().cloned().collect()
    }

    #[test]
    fn every_ref_in_the_document_resolves() {
        let document = document();
        let mut targets = Vec::new();
        refs(&document, &mut targets);
        assert!(targets.len() > 100, "the document refers to its components");
        for target in targets {
            let pointer = target.strip_prefix('#').expect("refs are local");
            assert!(document.pointer(pointer).is_some(), "{target} does not resolve");
        }
    }

    #[test]
    fn every_schema_is_used() {
        let mut targets = Vec::new();
        refs(&document(), &mut targets);
        for name in schema_names() {
            assert!(targets.contains(&format!("{SCHEMAS_PREFIX}{name}")), "schema {name} is never referred to");
        }
    }

    #[test]
    fn every_method_names_schemas_that_exist() {
        let names = schema_names();
        let exists = |name: &str| names.iter().any(|n| n == name);
        for method in METHODS {
            assert!(exists(method.result), "{}: result schema {} is missing", method.name, method.result);
            for param in method.params {
                assert!(
                    exists(param.schema),
                    "{}: param {} schema {} is missing",
                    method.name,
                    param.name,
                    param.schema
                );
            }
            if let Some(subscription) = method.subscription {
                assert!(exists(subscription.item), "{}: item schema {} is missing", method.name, subscription.item);
            }
        }
    }

    #[test]
    fn method_names_are_unique() {
        let mut names: Vec<&str> = method_names().collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "a method is listed twice");
        assert_eq!(count, METHODS.len());
    }

    #[test]
    fn error_lists_are_in_code_order_without_repeats() {
        for method in METHODS {
            let codes: Vec<i32> = method.errors.iter().map(|code| code.code()).collect();
            assert!(codes.windows(2).all(|pair| pair[0] < pair[1]), "{}: {codes:?}", method.name);
        }
    }

    #[test]
    fn every_pattern_is_one_the_validator_implements() {
        let mut found = Vec::new();
        patterns(&document(), &mut found);
        assert!(!found.is_empty());
        for pattern in found {
            assert!(matches_pattern(&pattern, "").is_ok(), "pattern {pattern} is not implemented");
        }
    }

    #[test]
    fn optional_params_come_last() {
        // By position, only trailing parameters can be left out.
        for method in METHODS {
            let first_optional = method.params.iter().position(|p| !p.required).unwrap_or(method.params.len());
            assert!(method.params[first_optional..].iter().all(|p| !p.required), "{}", method.name);
        }
    }

    #[test]
    fn subscriptions_name_their_unsubscribe_methods() {
        for method in METHODS {
            let Some(subscription) = method.subscription else { continue };
            let unsubscribe = find(subscription.unsubscribe).expect("the unsubscribe method is served");
            assert_eq!(unsubscribe.params, &[required("subscription", "SubscriptionId")][..]);
            assert_eq!(unsubscribe.result, "Boolean");
            assert_eq!(method.result, "SubscriptionId");
        }
    }

    #[test]
    fn params_max_counts_each_methods_parameters() {
        assert_eq!(params_max("evidence_submit"), Some(1));
        assert_eq!(params_max("signer_signDigest"), Some(5));
        assert_eq!(params_max("tx_prepare"), Some(3));
        assert_eq!(params_max("tx_submitSigned"), Some(2));
        assert_eq!(params_max("rpc.discover"), Some(0));
        assert_eq!(params_max("no_such_method"), None);
    }

    #[test]
    fn the_document_is_openrpc() {
        let document = document();
        assert_eq!(document["openrpc"], OPENRPC_VERSION);
        assert_eq!(document["methods"].as_array().map(Vec::len), Some(METHODS.len()));
        assert_eq!(document["components"]["errors"].as_object().map(Map::len), Some(ErrorCode::ALL.len()));
        assert_eq!(document["components"]["errors"]["not_found"]["code"], 1031);
        let methods = document["methods"].as_array().expect("methods are a list");
        let heads = methods.iter().find(|m| m["name"] == "chain_subscribeHeads").expect("chain_subscribeHeads");
        assert_eq!(heads["x-notification"]["result"]["schema"]["$ref"], "#/components/schemas/Header");
        assert_eq!(heads["x-notification"]["method"], "chain_subscribeHeads");
        assert!(check("OpenrpcDocument", &document).is_ok());
    }

    #[test]
    fn a_documented_header_fits_and_mutations_do_not() {
        let header = parse(HEADER);
        assert_eq!(check("Header", &header), Ok(()));

        let mut missing = header.clone();
        missing.as_object_mut().expect("an object").remove("state_root");
        let why = check("Header", &missing).expect_err("a required field is missing");
        assert!(why.contains("state_root"), "{why}");

        let mut extra = header.clone();
        extra["extra"] = json!(1);
        let why = check("Header", &extra).expect_err("an unknown field");
        assert!(why.contains("extra"), "{why}");

        let mut wrong_type = header.clone();
        wrong_type["height"] = json!("0");
        let why = check("Header", &wrong_type).expect_err("a height as a string");
        assert!(why.starts_with("$.height"), "{why}");

        for bad in ["CF95891616F30E10946E96FB3F5F75A917AE8CCD12321146FBF8F5155892E409", "cf9589", "xyz"] {
            let mut bad_hex = header.clone();
            bad_hex["prev_hash"] = json!(bad);
            let why = check("Header", &bad_hex).expect_err("not a hash");
            assert!(why.starts_with("$.prev_hash"), "{why}");
        }

        let mut negative = header.clone();
        negative["height"] = json!(-1);
        assert!(check("Header", &negative).is_err());
        let mut fraction = header;
        fraction["time_ms"] = json!(1.5);
        assert!(check("Header", &fraction).is_err());
    }

    #[test]
    fn documented_chain_info_fits_and_mutations_do_not() {
        let info = parse(CHAIN_INFO);
        assert_eq!(check("ChainInfo", &info), Ok(()));

        let mut empty_chain = info.clone();
        empty_chain["latest_block_hash"] = Value::Null;
        empty_chain["latest_time_ms"] = Value::Null;
        assert_eq!(check("ChainInfo", &empty_chain), Ok(()));

        let mut missing = info.clone();
        missing["params"]["timeouts"].as_object_mut().expect("an object").remove("commit_ms");
        let why = check("ChainInfo", &missing).expect_err("a timeout is missing");
        assert!(why.starts_with("$.params.timeouts"), "{why}");

        let mut wrong_type = info.clone();
        wrong_type["latest_time_ms"] = json!("soon");
        assert!(check("ChainInfo", &wrong_type).is_err());

        let mut too_large = info;
        too_large["request_bytes_max"] = json!(u64::from(u32::MAX) + 1);
        assert!(check("ChainInfo", &too_large).is_err());
    }

    #[test]
    fn documented_calls_fit_the_schemas() {
        let document = document();
        let mut last_call: Option<&Method> = None;
        let mut checked = 0;
        for block in json_blocks(RPC_DOC).into_iter().map(untrimmed) {
            let method_name = block.get("method").and_then(Value::as_str);
            match (method_name, block.get("id")) {
                (Some(name), Some(_)) => {
                    let method = find(name).unwrap_or_else(|| panic!("docs/RPC.md calls {name}, not in METHODS"));
                    let params = block["params"].as_array().expect("params by position");
                    assert!(params.len() <= method.params.len(), "{name}: too many params");
                    for (param, value) in method.params.iter().zip(params) {
                        let fits = validate(&document, &param_schema(param), value);
                        assert_eq!(fits, Ok(()), "{name} param {}", param.name);
                    }
                    last_call = Some(method);
                }
                (Some(name), None) => {
                    let subscription = METHODS
                        .iter()
                        .find_map(|m| m.subscription.filter(|s| s.notification == name))
                        .unwrap_or_else(|| panic!("docs/RPC.md shows a notification {name} no method sends"));
                    let fits = validate(&document, &reference(subscription.item), &block["params"]["result"]);
                    assert_eq!(fits, Ok(()), "notification {name}");
                }
                (None, _) => {
                    let method = last_call.expect("an answer follows its request");
                    let result = block.get("result").expect("documented calls succeed");
                    assert_eq!(validate(&document, &reference(method.result), result), Ok(()), "{}", method.name);
                }
            }
            checked += 1;
        }
        assert!(checked > 40, "docs/RPC.md shows every method's request and answer");
    }

    #[test]
    fn documented_methods_are_the_served_ones() {
        let documented: Vec<&str> =
            RPC_DOC.lines().filter_map(|line| line.strip_prefix("### `")?.strip_suffix('`')).collect();
        for name in &documented {
            assert!(find(name).is_some(), "docs/RPC.md documents {name}, which is not in METHODS");
        }
        let unsubscribe: Vec<&str> = METHODS.iter().filter_map(|m| m.subscription).map(|s| s.unsubscribe).collect();
        for name in method_names() {
            if name == "rpc.discover" || unsubscribe.contains(&name) {
                continue;
            }
            assert!(documented.contains(&name), "{name} is served but not in docs/RPC.md");
        }
    }

    #[test]
    fn one_of_needs_exactly_one_fit() {
        let document = document();
        let both = json!({"oneOf": [{"type": "integer"}, {"type": "number"}]});
        assert!(validate(&document, &both, &json!(1)).is_err());
        assert_eq!(validate(&document, &both, &json!(1.5)), Ok(()));
        let neither = json!({"anyOf": [{"type": "string"}, {"type": "null"}]});
        assert!(validate(&document, &neither, &json!(true)).is_err());
    }

    #[test]
    fn unsupported_schemas_fail_loudly() {
        let document = document();
        let regex = json!({"type": "string", "pattern": "^[a-z]+$"});
        let why = validate(&document, &regex, &json!("abc")).expect_err("a regex is not implemented");
        assert!(why.contains("unsupported pattern"), "{why}");
        let keyword = json!({"type": "string", "minLength": 1});
        assert!(validate(&document, &keyword, &json!("abc")).is_err());
        let dangling = json!({"$ref": "#/components/schemas/Nothing"});
        assert!(validate(&document, &dangling, &json!(1)).is_err());
    }

    #[test]
    fn digests_fit_their_algorithm() {
        let hex64 = "726cd5e00d528a1d9d7b5278f45411f7bd59cbb6e92cbc6590565cd7610f717e";
        assert_eq!(check("DigestText", &json!(format!("sha256:{hex64}"))), Ok(()));
        assert!(check("DigestText", &json!(format!("sha512:{hex64}"))).is_err());
        assert!(check("DigestText", &json!(format!("md5:{hex64}"))).is_err());
        assert_eq!(check("Digest", &json!({"alg": "sm3", "bytes": hex64})), Ok(()));
        assert!(check("Digest", &json!({"alg": "sha512", "bytes": hex64})).is_err());
    }
}

//! `docs/RPC.md` is generated from real calls to a real dev node
//! (`CHANCERY_BLESS=1 cargo test -p chancery-cli --test rpc_doc`); without the variable
//! the test makes the same calls and fails if the document's requests or answers no
//! longer have the shape the node gives, or if a method or error code is missing.

mod support;

use std::time::Duration;

use chancery_ledger::tx::{CertEvent, CertEventKind, CertSerial, TxBody};
use chancery_ledger::validator::CaId;
use chancery_ledger::{Digest, DigestAlg};
use chancery_rpc::txs::{clock_nonce, sign_tx, tx_hex};
use chancery_rpc::{openrpc, ChanceryApiClient, ErrorCode};
use serde_json::{json, Value};
use support::{doc_txs, runtime, DevNode};

struct Example {
    method: &'static str,
    about: &'static str,
    request: Value,
    response: Value,
}

fn call(node: &DevNode, method: &str, params: Value) -> (Value, Value) {
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let (_, text) = node.http("POST", "/", "application/json", request.to_string().as_bytes());
    (request, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method}: {e}: {text}")))
}

/// Long arrays are cut to their first two items, so the document stays readable.
fn trim(value: Value) -> Value {
    match value {
        Value::Array(items) if items.len() > 2 => {
            let mut kept: Vec<Value> = items.into_iter().take(2).map(trim).collect();
            kept.push(Value::String("…".into()));
            Value::Array(kept)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(trim).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, trim(v))).collect()),
        other => other,
    }
}

/// The shape of a value: object keys and value types, not the values.
fn skeleton(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), skeleton(v))).collect()),
        Value::Array(items) => Value::Array(items.iter().take(1).map(skeleton).collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => json!("null"),
    }
}

fn examples(node: &DevNode) -> Vec<Example> {
    let chain = node.chain();
    let integrator = node.key("integrator.key");
    let base = clock_nonce();
    let txs = doc_txs(&integrator, &chain, "rpc reference", base, 3);
    let mut out = Vec::new();
    let mut add = |method: &'static str, about: &'static str, params: Value| {
        let (request, response) = call(node, method, params);
        assert!(response.get("result").is_some(), "{method}: {response}");
        described(method, &request["params"], &response["result"]);
        out.push(Example { method, about, request, response: trim(response) });
    };
    add(
        "evidence_submit",
        "Submit one signed tx: hex of its canonical bytes. Returns the tx hash once the mempool holds it.",
        json!([tx_hex(&txs[0])]),
    );
    add(
        "evidence_submitBatch",
        "Submit many txs (at most `rpc.batch_len_max`); one outcome per tx, `accepted` with the hash or `refused` with the error.",
        json!([[tx_hex(&txs[1]), tx_hex(&txs[2])]]),
    );
    // A client without an SDK: the node prepares the tx, the client signs its bytes.
    let body = json!({"evidence": {
        "kind": "document",
        "digest": Digest::compute(DigestAlg::Sha256, b"prepared by the node"),
        "refs": []
    }});
    let signer = chancery_ledger::PublicKey(integrator.verifying_key().to_bytes());
    let (_, prepared) = call(node, "tx_prepare", json!([body, signer, base + 10]));
    add(
        "tx_prepare",
        "For clients without an SDK: the tx of a body (JSON) by a signer with a nonce, unsigned (its last 64 bytes, the signature, zero), and the exact bytes the signer signs with Ed25519. See below on trusting the node for them.",
        json!([body, signer, base + 10]),
    );
    let sign_bytes = hex::decode(prepared["result"]["sign_bytes"].as_str().expect("sign_bytes")).expect("hex");
    let signature = ed25519_dalek::Signer::sign(&integrator, &sign_bytes);
    add(
        "tx_submitSigned",
        "Submits `tx_prepare`'s `unsigned_tx` with the signature of its `sign_bytes` (hex, 64 bytes); returns the tx hash once the mempool holds it.",
        json!([prepared["result"]["unsigned_tx"], hex::encode(signature.to_bytes())]),
    );
    let hash = txs[0].hash().to_hex();
    support::wait_committed(node, &hash);
    support::wait_committed(node, &txs[2].hash().to_hex());
    let digest = match &txs[0].body {
        chancery_ledger::TxBody::Evidence(e) => e.digest.to_text(),
        _ => unreachable!("an evidence tx"),
    };
    let blocks = call(node, "chain_info", json!([])).1["result"]["blocks"].as_u64().expect("blocks");
    let (_, located) = call(node, "evidence_status", json!([hash]));
    let height = located["result"]["height"].as_u64().expect("height");
    add("evidence_status", "Where a tx stands: `pending`, `committed` (height, index, block time), `dropped` (with the reason) or `unknown`.", json!([hash]));
    add(
        "evidence_byDigest",
        "Committed txs anchoring a digest (`alg:hex`), oldest first, at most 1,000; pass `next` as `after` for more.",
        json!([digest, null]),
    );
    add(
        "evidence_proof",
        "The proof bundle of a committed tx (PROOF_FORMAT.md), optionally extended to a later checkpoint height.",
        json!([hash, null]),
    );
    let (_, proof) = call(node, "evidence_proof", json!([hash, null]));
    add(
        "evidence_verify",
        "Runs the offline verifier against this node's genesis; `file_hex` optionally checks the document.",
        json!([proof["result"], null]),
    );
    add("chain_info", "Chain id, genesis hash, committed blocks and this node's request limits.", json!([]));
    add("chain_header", "The header at a height.", json!([height]));
    add("chain_block", "The block at a height, with its txs.", json!([height]));
    add("chain_commit", "The commit (quorum precommit signatures) of the block at a height.", json!([height]));
    add(
        "chain_validators",
        "The validator set that signs the block at a height (`null`: the next block).",
        json!([null]),
    );
    add(
        "chain_checkpoint",
        "The latest (or given) block's header and commit: the checkpoint later proofs extend to.",
        json!([null]),
    );
    add(
        "chain_consistencyProof",
        "Proof that the history of `from` blocks is a prefix of the history of `to` blocks.",
        json!([1, blocks]),
    );
    add(
        "node_health",
        "Whether the node is making progress: `ok`, `stalled` or `halted` (with the reason).",
        json!([]),
    );

    // Certificates: a hosted key made in the node's signer home, its certificate issued
    // by the demo CA, then signing with it.
    let public_key = support::new_hosted_key(&node.home, "clerk-1", "0c01");
    let now = chancery_node::clock::now_ms();
    let issue = TxBody::CertEvent(CertEvent {
        ca: CaId::new("demo-ca").expect("id"),
        serial: CertSerial::new(vec![0x0c, 0x01]).expect("serial"),
        cert_digest: Digest::compute(DigestAlg::Sha256, b"certificate der"),
        subject_key: Digest::compute(DigestAlg::Sha256, &public_key.0),
        event: CertEventKind::Issued { not_before_ms: now - 86_400_000, not_after_ms: now + 365 * 86_400_000 },
    });
    let issue = sign_tx(&node.key("ca.key"), &chain, issue, clock_nonce());
    add(
        "cert_submit",
        "Submit a CA's signed certificate event (issued, renewed, revoked) as tx hex. Returns its hash once the mempool holds it; lifecycle rules refuse with code 1008.",
        json!([tx_hex(&issue)]),
    );
    let issue_hash = issue.hash().to_hex();
    support::wait_committed(node, &issue_hash);
    add(
        "cert_history",
        "Every anchored event of a certificate (CA id, serial hex), in chain order, with its block and tx.",
        json!(["demo-ca", "0c01"]),
    );
    add(
        "cert_status",
        "The certificate's status at `at_ms` (`not_yet_valid`, `valid`, `expired`, `revoked` with reason and effective time, `unknown`) as of the latest block, with the proof a verifier checks offline (PROOF_FORMAT.md section 5.1).",
        json!(["demo-ca", "0c01", now]),
    );
    let token = std::fs::read_to_string(node.home.join("keys/hosted.token")).expect("token");
    add(
        "signer_signDigest",
        "Sign a document digest with a hosted key (`key_id`, `digest`, `kind`, `refs`, `token`): Ed25519 over the digest's bytes. The node anchors a signing event carrying the digest, the signature and its key, and the key's certificate, and answers the signature, the event's tx hash and its height only once the event is committed; not committed within `[hosted] commit_wait_ms` (30 s), the answer is a retryable error (1040) and no signature exists. The token is the node's `[hosted] token_file`; served on loopback RPC only unless `[hosted] allow_remote`. Refused (1050) when the certificate is not valid at the latest block time.",
        json!(["clerk-1", Digest::compute(DigestAlg::Sha256, b"contract").to_text(), "signing_event", [], token.trim()]),
    );

    // Governance: the dev operator (the only validator) proposes a new integrator with
    // its admin key, then approves it; the proposal executes in the vote's block.
    let admin = node.key("admin.key");
    let newcomer = chancery_ledger::testkit::public(&chancery_ledger::testkit::key(6, 1));
    let kinds =
        chancery_ledger::codec::BoundedVec::new(vec![chancery_ledger::tx::EvidenceKind::Document]).expect("kinds");
    let member = chancery_ledger::Member {
        name: chancery_ledger::validator::Name::new("new-esign").expect("name"),
        key: newcomer,
        role: chancery_ledger::MemberRole::Integrator { kinds },
    };
    let height = call(node, "chain_info", json!([])).1["result"]["blocks"].as_u64().expect("blocks");
    let change = chancery_ledger::gov::Change::AddMember(member);
    let body = TxBody::Propose(chancery_ledger::gov::GovProposal { change, expires_at_height: height + 1000 });
    let proposal = sign_tx(&admin, &chain, body, clock_nonce());
    add(
        "gov_submit",
        "Submit an institution's governance tx, signed with its admin key: a proposal (its hash is the proposal id), a vote, or a key rotation. Governance rules refuse with code 1009.",
        json!([tx_hex(&proposal)]),
    );
    support::wait_committed(node, &proposal.hash().to_hex());
    let vote = TxBody::Vote(chancery_ledger::gov::GovVote { proposal: proposal.hash(), approve: true });
    let vote = sign_tx(&admin, &chain, vote, clock_nonce());
    call(node, "gov_submit", json!([tx_hex(&vote)]));
    support::wait_committed(node, &vote.hash().to_hex());
    add(
        "gov_proposal",
        "A proposal by id: its change, proposer, expiry, every vote with the power it counts against the set in force now (0 once its institution left or rotated its admin key), the tally, and its status (`pending`, `executed`, `failed`, `rejected`, `expired`).",
        json!([proposal.hash().to_hex()]),
    );
    add(
        "gov_proposals",
        "Proposals in id order, at most 100 after `after` (exclusive); only pending ones when `pending` is true.",
        json!([false, null]),
    );
    let (request, response) = call(node, "rpc.discover", json!([]));
    described("rpc.discover", &request["params"], &response["result"]);
    out.push(Example {
        method: "rpc.discover",
        about: "The API's OpenRPC 1.2.6 document: every method with its positional parameters, its answer and the error codes it can return, subscriptions with their notifications (`x-notification`), and the JSON Schemas of everything that travels. Generated from one table (`chancery_rpc::openrpc::METHODS`) that the node checks against the methods it serves at start; shown here cut to two of each.",
        request,
        response: trim_discover(response),
    });
    out
}

/// The OpenRPC schema named `name`, as a reference into the document.
fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// Holds a real call to what `rpc.discover` describes: each parameter given, and the
/// answer, must match the method's schemas.
fn described(method: &str, params: &Value, result: &Value) {
    let document = openrpc::document();
    let spec = openrpc::find(method).unwrap_or_else(|| panic!("{method} is not in openrpc::METHODS"));
    for (param, value) in spec.params.iter().zip(params.as_array().expect("positional params")) {
        let wanted = if param.required {
            schema(param.schema)
        } else {
            json!({"anyOf": [schema(param.schema), {"type": "null"}]})
        };
        openrpc::validate(&document, &wanted, value)
            .unwrap_or_else(|e| panic!("{method}: parameter {} is not what rpc.discover says: {e}", param.name));
    }
    openrpc::validate(&document, &schema(spec.result), result)
        .unwrap_or_else(|e| panic!("{method}: the answer is not what rpc.discover says: {e}\n{result}"));
}

/// The OpenRPC document as the reference shows it: two methods, two schemas, two errors.
fn trim_discover(mut response: Value) -> Value {
    for part in ["schemas", "errors"] {
        if let Some(Value::Object(map)) = response["result"]["components"].get_mut(part) {
            let kept: serde_json::Map<String, Value> =
                map.iter().take(2).map(|(k, v)| (k.clone(), v.clone())).collect();
            *map = kept;
            map.insert("…".into(), json!("…"));
        }
    }
    trim(response)
}

/// A real notification of each subscription, taken over WebSocket.
fn notifications(node: &DevNode) -> Vec<(&'static str, &'static str, Value)> {
    let rt = runtime();
    rt.block_on(async {
        let client = chancery_rpc::connect(&node.ws(), Duration::from_secs(30)).await.expect("connect");
        let mut committed = client.subscribe_committed().await.expect("subscribe");
        let mut heads = client.subscribe_heads().await.expect("subscribe");
        let chain = node.chain();
        let tx = doc_txs(&node.key("integrator.key"), &chain, "subscription example", clock_nonce(), 1);
        client.submit(tx_hex(&tx[0])).await.expect("submit");
        let block = committed.next().await.expect("a block").expect("decodes");
        let head = heads.next().await.expect("a head").expect("decodes");
        let document = openrpc::document();
        for (method, item) in [("evidence_subscribeCommitted", serde_json::to_value(&block)), ("chain_subscribeHeads", serde_json::to_value(&head))] {
            let subscription = openrpc::find(method).and_then(|m| m.subscription).expect("a described subscription");
            openrpc::validate(&document, &schema(subscription.item), &item.expect("json"))
                .unwrap_or_else(|e| panic!("{method}: the notification is not what rpc.discover says: {e}"));
        }
        vec![
            (
                "evidence_subscribeCommitted",
                "WebSocket only. Every committed block's tx hashes, in commit order; unsubscribe with `evidence_unsubscribeCommitted`. A subscriber that falls more than 1,024 blocks behind is closed with an error and must catch up with `chain_block`.",
                serde_json::to_value(block).expect("json"),
            ),
            (
                "chain_subscribeHeads",
                "WebSocket only. Every committed header; unsubscribe with `chain_unsubscribeHeads`.",
                serde_json::to_value(head).expect("json"),
            ),
        ]
    })
}

const JSONRPC_CODES: [(i32, &str); 7] = [
    (-32700, "Parse error: the body is not JSON (HTTP 400 when it does not even start like JSON)."),
    (-32600, "Invalid request: JSON, but not a JSON-RPC request."),
    (-32601, "Method not found."),
    (-32602, "Invalid params: wrong number or types of parameters; `data` says which."),
    (-32007, "Request is too big: the body exceeds `rpc.request_bytes_max` (HTTP 413)."),
    (-32010, "The batch request was too large: more calls than `rpc.batch_len_max`."),
    (-32603, "Internal error (for example a subscription asked over plain HTTP)."),
];

fn error_help(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::TxMalformed => "The tx is not hex, or its bytes are not exactly one canonical tx (truncated, trailing bytes, bad tags). Re-encode it.",
        ErrorCode::BadSignature => "The signature does not verify under the tx's signer key (PROOF_FORMAT.md section 2). Sign the tx's signing message.",
        ErrorCode::WrongChain => "The tx names another chain id. Sign it for this chain (`chain_info`).",
        ErrorCode::UnknownSigner => "The signer is not a registered member. Register the key (genesis or governance) or use a registered key.",
        ErrorCode::NotPermitted => "The member may not submit this kind of record (its genesis `kinds`, or a CA outside its own id).",
        ErrorCode::StaleNonce => "The nonce is not above the signer's last committed nonce (a replay or a reused nonce), or is 2^64 - 1, which no later tx could follow. Use a higher nonce below that.",
        ErrorCode::Duplicate => "This exact tx is already on chain. Look it up with `evidence_status`.",
        ErrorCode::TxTooLarge => "The tx is larger than the chain's `max_tx_bytes`. Anchor a digest, not content.",
        ErrorCode::CertRule => "A certificate lifecycle rule is broken; the message names it.",
        ErrorCode::Governance => "A governance rule is broken: the signer is not a voting institution's admin key, the proposal cannot apply or expires out of range, or the vote is on an unknown, ended or expired proposal, or a second vote of one institution; the message names it.",
        ErrorCode::NoncePending => "Another pending tx of this signer has this nonce. Use another nonce.",
        ErrorCode::Misbehaviour => "Misbehaviour evidence does not prove two conflicting signed messages of a current validator at an earlier height, or that misbehaviour is already anchored.",
        ErrorCode::DocumentSignature => "A signing event's hosted document signature is not bound to its certificate: its hash is not the signature's, the signature does not verify over the digest under its key, or the certificate was not issued for that key.",
        ErrorCode::MempoolFull => "A mempool bound (total or per submitter) is reached. Retry after the next block; nothing was stored.",
        ErrorCode::BatchTooLarge => "More txs in `evidence_submitBatch` than `rpc.batch_len_max`. Split the batch.",
        ErrorCode::BadArgument => "An argument is malformed or out of range (hash, digest algorithm, heights).",
        ErrorCode::NotFound => "Nothing is stored under what was asked (a tx not committed here, a height beyond the chain).",
        ErrorCode::Unavailable => "The node cannot answer now (store failure, shutting down). Retry, and check `/health`.",
        ErrorCode::SignerRefused => "The hosted key does not sign: its certificate is revoked, expired, not yet valid or unknown at the latest block time, or was issued for another key.",
        ErrorCode::Unauthorized => "Hosted signing: a missing or wrong token, or the node does not serve hosted signing to this caller (non-loopback RPC without `[hosted] allow_remote`, no submitter key).",
    }
}

fn render(examples: &[Example], notes: &[(&str, &str, Value)]) -> String {
    let pretty = |v: &Value| serde_json::to_string_pretty(v).expect("json");
    let mut out = String::from(
        "# Chancery JSON-RPC reference\n\n\
         <!-- Generated by `CHANCERY_BLESS=1 cargo test -p chancery-cli --test rpc_doc`; every example is a real call to a dev node. Do not edit by hand. -->\n\n\
         JSON-RPC 2.0 over HTTP (POST) and WebSocket on one port, `127.0.0.1:7700` by default (`rpc.listen` in `config.toml`). \
         Plain `GET /health` (JSON, HTTP 503 unless `ok`), `GET /metrics` (Prometheus/OpenMetrics text) and `GET /verify` (the verification page, naming the node's genesis hash) share the port.\n\n\
         Conventions: txs travel as hex of their canonical bytes (PROOF_FORMAT.md section 3); hashes as 64 hex digits; digests as `alg:hex`; \
         times in milliseconds since the Unix epoch; heights from 0. Parameters are positional. \
         The typed client is `chancery_rpc::ChanceryApiClient` over `chancery_rpc::connect` (the CLI uses it).\n\n\
         Limits: request body `rpc.request_bytes_max` (4 MiB), calls per JSON-RPC batch and txs per `evidence_submitBatch` `rpc.batch_len_max` (1,000), \
         256 connections; a connection with no call in flight, no subscription and no call for `rpc.idle_timeout_ms` (60 s) is closed, and a WebSocket client that answers no ping for two 30 s intervals too; \
         at most 16 subscriptions per connection, and 64 messages waiting to be written on one (a subscriber that does not read has its subscriptions closed); \
         a call with more positional parameters than its method takes is refused (-32602). \
`rpc.discover` answers the OpenRPC document of all of this, with JSON Schemas of every parameter and answer. Submitted txs wait in the mempool, which is not kept across restarts: a tx is durable once `evidence_status` says `committed`.\n\n## Methods\n\n",
    );
    for e in examples {
        out.push_str(&format!(
            "### `{}`\n\n{}\n\nRequest:\n\n```json\n{}\n```\n\nResponse:\n\n```json\n{}\n```\n\n",
            e.method,
            e.about,
            pretty(&e.request),
            pretty(&e.response)
        ));
    }
    for (method, about, item) in notes {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": []});
        let notification = json!({"jsonrpc": "2.0", "method": method, "params": {"subscription": 1234567890u64, "result": trim(item.clone())}});
        out.push_str(&format!(
            "### `{method}`\n\n{about}\n\nRequest:\n\n```json\n{}\n```\n\nNotification:\n\n```json\n{}\n```\n\n",
            pretty(&request),
            pretty(&notification)
        ));
    }
    out.push_str(SIGNING_PREPARED_BYTES);
    out.push_str("## Error codes\n\nEvery failure is `{\"code\": N, \"message\": \"...\"}`; the message says what to do. In `evidence_submitBatch`, per-tx refusals come in the result, the call itself succeeds.\n\n| code | name | meaning |\n|---|---|---|\n");
    for (code, meaning) in JSONRPC_CODES {
        out.push_str(&format!("| {code} | (JSON-RPC) | {meaning} |\n"));
    }
    for code in ErrorCode::ALL {
        out.push_str(&format!(
            "| {} | `{}` | {}{} |\n",
            code.code(),
            code.name(),
            error_help(code),
            if code.retryable() { " Retryable." } else { "" }
        ));
    }
    out
}

/// What a client trusts the node for when it signs `tx_prepare`'s bytes.
const SIGNING_PREPARED_BYTES: &str = "## Signing bytes a node prepared\n\n\
`tx_prepare` serves clients without a Chancery SDK (examples/java/Anchor.java uses only the JDK). \
A client that signs `sign_bytes` it did not compute trusts the node that prepared them: they are a hash, so the client cannot see what it signs. \
A lying node can make the key sign another tx of that key: any record the key may submit. For an integrator's key, that is evidence of its allowed kinds \
with another digest, other links or another claimed time, under any nonce (a high one makes the client's later txs stale); \
or the same for another chain, if the key is a member there too. It cannot make the key sign what the key may not submit \
(certificate events need a CA owner's key, governance an institution's admin key: keep those keys away from clients that sign prepared bytes), \
and it cannot sign in the key's name without it.\n\n\
To check: without an SDK, the unsigned tx is the tx's canonical bytes (PROOF_FORMAT.md section 3): it must contain the client's public key \
and its digest's bytes and end with 64 zero bytes (the Java example checks these), which does not check `sign_bytes`. \
With an SDK, compute the signing bytes from the body, the key and the nonce and compare (`signingBytes` in sdk/js, \
`chancery.signing_bytes` in sdk/python, `Tx::signing_message` in Rust), or build and sign the tx with the SDK and send it to `evidence_submit`.\n\n";

fn json_blocks(text: &str) -> Vec<Value> {
    text.split("```json\n")
        .skip(1)
        .map(|rest| serde_json::from_str(rest.split("\n```").next().expect("block")).expect("JSON block"))
        .collect()
}

#[test]
fn the_rpc_reference_is_made_of_real_calls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("dev"));
    let examples = examples(&node);
    let notes = notifications(&node);
    let generated = render(&examples, &notes);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/RPC.md");
    if std::env::var_os("CHANCERY_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write docs/RPC.md");
    }
    let doc = std::fs::read_to_string(&path).expect("docs/RPC.md exists (bless with CHANCERY_BLESS=1)");
    let (want, got) = (json_blocks(&generated), json_blocks(&doc));
    assert_eq!(want.len(), got.len(), "docs/RPC.md has a different set of examples; regenerate it");
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(skeleton(w), skeleton(g), "docs/RPC.md is out of date (regenerate with CHANCERY_BLESS=1)");
    }
    // Every method rpc.discover lists is served (not -32601) and documented, and the
    // document lists them all: the node refuses to start serving any other
    // (`rpc_server::check_described`).
    let (_, discovered) = call(&node, "rpc.discover", json!([]));
    let listed: Vec<&str> = discovered["result"]["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .map(|m| m["name"].as_str().expect("name"))
        .collect();
    assert_eq!(listed, openrpc::method_names().collect::<Vec<_>>());
    for method in listed {
        let (_, answer) = call(&node, method, json!([]));
        assert_ne!(answer["error"]["code"], json!(-32601), "{method} is described but not served");
        if !method.contains("unsubscribe") {
            assert!(doc.contains(&format!("### `{method}`")), "docs/RPC.md does not document {method}");
        }
    }
    let (_, unknown) = call(&node, "evidence_nonsense", json!([]));
    assert_eq!(unknown["error"]["code"], json!(-32601), "an unknown method is not found");
    for code in ErrorCode::ALL {
        assert!(doc.contains(&format!("| {} | `{}` |", code.code(), code.name())), "code {} undocumented", code.code());
    }
    assert!(doc.contains(SIGNING_PREPARED_BYTES), "docs/RPC.md lacks the note on signing prepared bytes");
    assert!(node.stop().success());
}

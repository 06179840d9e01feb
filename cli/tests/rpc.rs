//! The RPC under hostile input (each failure gets its documented code and the node keeps
//! serving), and `docs/RPC.md`: every example in it is a real call made here.

mod support;

use std::time::Duration;

use chancery_ledger::testkit::key;
use chancery_ledger::{ChainId, ChainIdentity, Tx, TxBody};
use chancery_rpc::txs::{clock_nonce, tx_hex};
use chancery_rpc::ErrorCode;
use serde_json::{json, Value};
use support::{call, doc_txs, error_code, wait_committed, DevNode};

fn assert_serving(node: &DevNode) {
    let health = call(node, "node_health", json!([]));
    assert_eq!(health["result"]["status"], "ok", "{health}");
}

fn chain(node: &DevNode) -> ChainIdentity {
    let info = call(node, "chain_info", json!([]));
    let chain_id = ChainId::new(info["result"]["chain_id"].as_str().expect("chain id")).expect("chain id");
    let genesis_hash = serde_json::from_value(info["result"]["genesis_hash"].clone()).expect("genesis hash");
    let chain = ChainIdentity { chain_id, genesis_hash };
    assert_eq!(chain, node.chain(), "chain_info names the home's genesis");
    chain
}

#[test]
fn hostile_input_gets_its_documented_code_and_the_node_keeps_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("dev"));
    let chain = chain(&node);
    let integrator = node.key("integrator.key");
    let code = |c: ErrorCode| i64::from(c.code());

    // Malformed JSON: not JSON at all (HTTP 400), and broken JSON.
    let (status, text) = node.http("POST", "/", "application/json", b"this is not json");
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("-32700"), "{text}");
    let (status, text) = node.http("POST", "/", "application/json", b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":");
    assert_eq!(status, 200);
    assert!(text.contains("-32700"), "{text}");
    assert_serving(&node);

    // Wrong params and unknown methods.
    assert_eq!(error_code(&call(&node, "evidence_status", json!([123]))), -32602);
    assert_eq!(error_code(&call(&node, "chain_header", json!(["tall"]))), -32602);
    assert_eq!(error_code(&call(&node, "evidence_submit", json!([]))), -32602);
    assert_eq!(error_code(&call(&node, "evidence_steal", json!([]))), -32601);
    // Extra positional parameters are refused, not ignored, also inside a batch.
    let extra = call(&node, "chain_header", json!([0, "x", 3]));
    assert_eq!(error_code(&extra), -32602, "{extra}");
    assert!(extra["error"]["message"].as_str().is_some_and(|m| m.contains("at most 1 parameters, 3 given")), "{extra}");
    assert_eq!(error_code(&call(&node, "chain_info", json!([null]))), -32602);
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "chain_info", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "chain_info", "params": [1, 2]},
    ]);
    let (_, text) = node.http("POST", "/", "application/json", batch.to_string().as_bytes());
    let answers: Vec<Value> = serde_json::from_str(&text).expect("batch answer");
    let by_id = |id: i64| answers.iter().find(|a| a["id"] == id).expect("answered").clone();
    assert!(by_id(1)["result"]["chain_id"].is_string(), "{text}");
    assert_eq!(by_id(2)["error"]["code"], -32602, "{text}");
    // An empty submit batch is an error, not an empty answer.
    let empty = call(&node, "evidence_submitBatch", json!([[]]));
    assert_eq!(error_code(&empty), code(ErrorCode::BadArgument), "{empty}");
    assert_serving(&node);

    // An oversize body is refused before it is read.
    let huge = vec![b'['; 5 * 1024 * 1024];
    let (status, text) = node.http("POST", "/", "application/json", &huge);
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("-32007"), "{text}");
    assert_serving(&node);

    // Txs that are not txs.
    assert_eq!(error_code(&call(&node, "evidence_submit", json!(["zz"]))), code(ErrorCode::TxMalformed));
    let good = doc_txs(&integrator, &chain, "hostile good", clock_nonce(), 1).remove(0);
    let hex = tx_hex(&good);
    for cut in [2, hex.len() / 2, hex.len() - 2] {
        assert_eq!(error_code(&call(&node, "evidence_submit", json!([&hex[..cut]]))), code(ErrorCode::TxMalformed));
    }
    assert_eq!(
        error_code(&call(&node, "evidence_submit", json!([format!("{hex}00")]))),
        code(ErrorCode::TxMalformed),
        "trailing bytes"
    );

    // Bad signature, wrong chain, unknown submitter.
    let mut forged = good.clone();
    forged.signature.0[10] ^= 1;
    assert_eq!(error_code(&call(&node, "evidence_submit", json!([tx_hex(&forged)]))), code(ErrorCode::BadSignature));
    let other = ChainIdentity { chain_id: ChainId::new("some-other-chain").expect("id"), ..chain.clone() };
    let foreign = doc_txs(&integrator, &other, "wrong chain", clock_nonce(), 1).remove(0);
    assert_eq!(error_code(&call(&node, "evidence_submit", json!([tx_hex(&foreign)]))), code(ErrorCode::WrongChain));
    let stranger = doc_txs(&key(8, 8), &chain, "stranger", 1, 1).remove(0);
    assert_eq!(error_code(&call(&node, "evidence_submit", json!([tx_hex(&stranger)]))), code(ErrorCode::UnknownSigner));
    // A bench submitter may anchor documents only.
    let bench = node.key("bench/submitter-0.key");
    let signing_event = chancery_rpc::txs::evidence_tx(
        &bench,
        &chain,
        chancery_ledger::tx::EvidenceKind::SigningEvent,
        chancery_ledger::Digest::compute(chancery_ledger::DigestAlg::Sha256, b"event"),
        clock_nonce(),
    );
    assert_eq!(
        error_code(&call(&node, "evidence_submit", json!([tx_hex(&signing_event)]))),
        code(ErrorCode::NotPermitted)
    );
    assert_serving(&node);

    // Replays: the same tx again, a pending nonce reused, a committed nonce reused.
    let accepted = call(&node, "evidence_submit", json!([hex]));
    let hash = accepted["result"].as_str().expect("accepted").to_string();
    let twin = doc_txs(&integrator, &chain, "hostile twin", good.nonce, 1).remove(0);
    let pending = call(&node, "evidence_submit", json!([tx_hex(&twin)]));
    if pending.get("error").is_some() {
        assert_eq!(error_code(&pending), code(ErrorCode::NoncePending));
    }
    wait_committed(&node, &hash);
    assert_eq!(error_code(&call(&node, "evidence_submit", json!([hex]))), code(ErrorCode::Duplicate));
    let stale = doc_txs(&integrator, &chain, "hostile stale", good.nonce, 1).remove(0);
    assert_eq!(error_code(&call(&node, "evidence_submit", json!([tx_hex(&stale)]))), code(ErrorCode::StaleNonce));
    assert_serving(&node);

    // Oversize batches: a JSON-RPC batch longer than rpc.batch_len_max, and more txs in
    // evidence_submitBatch than it takes.
    let calls: Vec<Value> =
        (0..1001).map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "node_health", "params": []})).collect();
    let (status, text) = node.http("POST", "/", "application/json", Value::Array(calls).to_string().as_bytes());
    assert_eq!(status, 200);
    assert!(text.contains("-32010"), "{text}");
    let many: Vec<String> = doc_txs(&integrator, &chain, "many", clock_nonce(), 1001).iter().map(tx_hex).collect();
    assert_eq!(error_code(&call(&node, "evidence_submitBatch", json!([many]))), code(ErrorCode::BatchTooLarge));
    // A batch with one bad tx among good ones: per-tx answers.
    let mut mixed: Vec<Tx> = doc_txs(&integrator, &chain, "mixed", clock_nonce(), 3);
    mixed[1].signature.0[0] ^= 1;
    let answer = call(&node, "evidence_submitBatch", json!([mixed.iter().map(tx_hex).collect::<Vec<_>>()]));
    let outcomes = answer["result"].as_array().expect("outcomes");
    assert!(outcomes[0]["accepted"].is_object() && outcomes[2]["accepted"].is_object(), "{answer}");
    assert_eq!(outcomes[1]["refused"]["error"]["code"], code(ErrorCode::BadSignature), "{answer}");

    // A proof against a later checkpoint verifies and names it; a tampered bundle does
    // not verify through evidence_verify either.
    let tx_height = call(&node, "evidence_status", json!([hash]))["result"]["height"].as_u64().expect("height");
    assert_eq!(
        error_code(&call(&node, "evidence_proof", json!([hash, tx_height]))),
        code(ErrorCode::BadArgument),
        "a checkpoint must come after the tx's block"
    );
    let mut blocks = 0;
    for _ in 0..100 {
        blocks = call(&node, "chain_info", json!([]))["result"]["blocks"].as_u64().expect("blocks");
        if blocks > tx_height + 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let proof = call(&node, "evidence_proof", json!([hash, blocks - 1]));
    assert!(proof.get("result").is_some(), "{proof}");
    let verdict = call(&node, "evidence_verify", json!([proof["result"], null]));
    assert_eq!(verdict["result"]["valid"], true, "{verdict}");
    assert_eq!(verdict["result"]["report"]["checkpoint"]["height"], blocks - 1, "{verdict}");
    let mut tampered = proof["result"].clone();
    let tx_hex = tampered["tx"].as_str().expect("tx hex").to_string();
    let flipped = format!("{}{}", &tx_hex[..tx_hex.len() - 1], if tx_hex.ends_with('0') { "1" } else { "0" });
    tampered["tx"] = json!(flipped);
    let verdict = call(&node, "evidence_verify", json!([tampered, null]));
    assert_eq!(verdict["result"]["valid"], false, "{verdict}");
    assert!(verdict["result"]["error"].as_str().is_some_and(|e| !e.is_empty()), "{verdict}");
    assert_eq!(error_code(&call(&node, "evidence_proof", json!([hash, blocks + 5]))), code(ErrorCode::NotFound));

    // Governance input: not a governance tx, truncated, a vote on an unknown proposal,
    // a member's key posing as an admin key, a vote signed for a relaunched chain (same
    // id and keys, another genesis), a replayed vote; unknown and malformed ids.
    assert_eq!(error_code(&call(&node, "gov_submit", json!([hex]))), code(ErrorCode::BadArgument));
    assert_eq!(error_code(&call(&node, "gov_submit", json!(["abcd"]))), code(ErrorCode::TxMalformed));
    let admin = node.key("admin.key");
    let unknown = chancery_ledger::gov::GovVote { proposal: chancery_ledger::Hash([5; 32]), approve: true };
    let vote = chancery_rpc::txs::sign_tx(&admin, &chain, TxBody::Vote(unknown.clone()), clock_nonce());
    assert_eq!(
        error_code(&call(&node, "gov_submit", json!([chancery_rpc::txs::tx_hex(&vote)]))),
        code(ErrorCode::Governance)
    );
    let posing = chancery_rpc::txs::sign_tx(&integrator, &chain, TxBody::Vote(unknown.clone()), clock_nonce());
    assert_eq!(
        error_code(&call(&node, "gov_submit", json!([chancery_rpc::txs::tx_hex(&posing)]))),
        code(ErrorCode::Governance)
    );
    let relaunched = ChainIdentity { genesis_hash: chancery_ledger::Hash([9; 32]), ..chain.clone() };
    let change = chancery_ledger::gov::Change::RemoveMember(chancery_ledger::PublicKey([7; 32]));
    let body = TxBody::Propose(chancery_ledger::gov::GovProposal { change, expires_at_height: 1_000_000 });
    let foreign = chancery_rpc::txs::sign_tx(&admin, &relaunched, body, clock_nonce());
    assert_eq!(
        error_code(&call(&node, "gov_submit", json!([chancery_rpc::txs::tx_hex(&foreign)]))),
        code(ErrorCode::BadSignature)
    );
    let params = |id: &str| json!([id]);
    assert_eq!(error_code(&call(&node, "gov_proposal", params(&"00".repeat(32)))), code(ErrorCode::NotFound));
    assert_eq!(error_code(&call(&node, "gov_proposal", params("not a hash"))), -32602);
    assert_eq!(error_code(&call(&node, "gov_proposals", json!(["yes", null]))), -32602);
    assert_eq!(call(&node, "gov_proposals", json!([true, null]))["result"], json!([]));
    assert_serving(&node);

    // Arguments out of range.
    assert_eq!(error_code(&call(&node, "evidence_byDigest", json!(["md5:00"]))), code(ErrorCode::BadArgument));
    assert_eq!(error_code(&call(&node, "chain_header", json!([1_000_000_000u64]))), code(ErrorCode::NotFound));
    assert_eq!(error_code(&call(&node, "chain_consistencyProof", json!([5, 2]))), code(ErrorCode::BadArgument));
    assert_eq!(error_code(&call(&node, "evidence_proof", json!(["00".repeat(32), null]))), code(ErrorCode::NotFound));
    assert_serving(&node);

    // Refusals are counted by method and outcome.
    let (status, metrics) = node.http("GET", "/metrics", "text/plain", b"");
    assert_eq!(status, 200);
    assert!(metrics.contains("chancery_rpc_calls_total{method=\"evidence_submit\",outcome=\"error\"}"), "{metrics}");
    assert!(metrics.contains("method=\"unknown\""), "unknown methods are one label: {metrics}");
    assert!(node.stop().success());
}

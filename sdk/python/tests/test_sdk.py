"""The Python SDK against a real dev chain: anchor, wait, proof, verify (with the SDK and
with ``chancery verify``), subscribe, the node's error codes; and the ledger's golden
vectors through the Rust core."""

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

import chancery
from chancery import _core

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = json.loads((ROOT / "ledger" / "tests" / "golden.json").read_text())
VECTORS = json.loads((ROOT / "sdk" / "vectors" / "signing.json").read_text())


def test_golden_txs_sign_to_the_same_bytes_and_hash():
    chain = {"chain_id": VECTORS["chain_id"], "genesis_hash": VECTORS["genesis_hash"]}
    assert VECTORS["txs"], "vectors to check"
    for v in VECTORS["txs"]:
        key = chancery.Key(_core.Key.from_seed(bytes.fromhex(v["seed"])))
        digest = chancery.digest_of(v["document_utf8"].encode(), v["digest_alg"])
        body = json.loads(_core.evidence_body(v["kind"], digest, []))
        assert body == v["body"]
        tx, tx_hash = key.sign_tx(chain, body, v["nonce"])
        assert tx == GOLDEN[v["golden"]]["hex"]
        assert tx_hash == GOLDEN[v["golden"]]["hash"]
        assert _core.tx_hash(tx) == tx_hash


@pytest.mark.parametrize("kind", sorted(GOLDEN))
def test_golden_objects_re_encode_and_hash_as_pinned(kind):
    entry = GOLDEN[kind]
    assert _core.canonical_hash(kind, entry["hex"], VECTORS["chain_id"], VECTORS["genesis_hash"]) == entry["hash"]
    with pytest.raises(_core.CoreError) as truncated:
        _core.canonical_hash(kind, entry["hex"][:-2], VECTORS["chain_id"], VECTORS["genesis_hash"])
    assert truncated.value.args[0] == "decode"


def test_hostile_input_raises_errors_naming_the_argument(tmp_path):
    with pytest.raises(chancery.ChanceryError) as e:
        chancery.load_key(_write(tmp_path / "k1", '{"version": 1}'))
    assert e.value.kind == "key_file"
    with pytest.raises(chancery.ChanceryError) as e:
        chancery.load_key(_write(tmp_path / "k2", "x" * 5000))
    assert e.value.kind == "key_file"
    with pytest.raises(chancery.ChanceryError) as e:
        chancery.digest_of(b"x", "md5")
    assert e.value.kind == "bad_argument"
    with pytest.raises(chancery.ChanceryError):
        chancery.verify("{", "{}")
    key = chancery.generate_key()
    with pytest.raises(chancery.ChanceryError) as e:
        key.sign_tx({"chain_id": "a b", "genesis_hash": "00" * 32}, {}, 1)
    assert e.value.kind == "bad_argument"
    key.save(tmp_path / "mine.key")
    assert (tmp_path / "mine.key").stat().st_mode & 0o777 == 0o600
    assert chancery.load_key(tmp_path / "mine.key").public_key == key.public_key
    with pytest.raises(FileExistsError):
        key.save(tmp_path / "mine.key")


def _write(path, text):
    path.write_text(text)
    return path


def test_subscriber_sees_the_anchored_tx_commit(dev_chain):
    client = chancery.Client(dev_chain["url"], key=dev_chain["key"])
    seen = []
    arrived = threading.Event()

    def on_block(block):
        seen.append(block)
        arrived.set()

    subscription = client.subscribe_committed(on_block)
    try:
        anchored = client.anchor(f"subscribed {time.time_ns()}".encode(), wait=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(anchored.tx_hash in b["tx_hashes"] for b in seen):
            arrived.wait(0.1)
            arrived.clear()
    finally:
        subscription.close()
    block = next((b for b in seen if anchored.tx_hash in b["tx_hashes"]), None)
    assert block is not None, "the committed block announced the tx"
    assert block["height"] == anchored.height


def test_anchor_wait_proof_and_verify_with_sdk_and_cli(dev_chain, tmp_path):
    client = chancery.Client(dev_chain["url"], key=dev_chain["key"])
    contract = _write(tmp_path / "contract.pdf", f"contract {time.time_ns()}")
    anchored = client.anchor(contract, wait=True)
    assert len(anchored.tx_hash) == 64
    assert anchored.height is not None and anchored.time_ms > 0
    assert client.status(anchored.tx_hash)["status"] == "committed"

    bundle = client.proof(anchored.tx_hash)
    assert isinstance(bundle, dict)
    report = chancery.verify(bundle, dev_chain["genesis"], path=contract)
    assert report.verified is True
    assert report.tx_hash == anchored.tx_hash
    assert report.height == anchored.height
    assert report.file_matches is True
    # The genesis as a dict, the bundle as JSON text, the proof by digest.
    genesis = json.loads(Path(dev_chain["genesis"]).read_text())
    by_digest = client.proof(anchored.digest)
    assert chancery.verify(json.dumps(by_digest), genesis).tx_hash == anchored.tx_hash

    proof_path = tmp_path / "proof.json"
    proof_path.write_text(json.dumps(bundle))
    cli = subprocess.run(
        [dev_chain["bin"], "verify", str(proof_path), "--genesis", str(dev_chain["genesis"]), "--file", str(contract)],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    assert "VERIFIED" in cli.stdout

    with pytest.raises(chancery.VerifyError) as e:
        chancery.verify(bundle, genesis, data=b"another document")
    assert e.value.check == "file_mismatch"
    assert "not the anchored file" in str(e.value)
    edited = dict(bundle)
    edited["tx"] = bundle["tx"][:-2] + ("01" if bundle["tx"].endswith("00") else "00")
    with pytest.raises(chancery.VerifyError) as e:
        chancery.verify(edited, genesis)
    assert e.value.check


def test_concurrent_anchors_of_one_client_reach_the_node_in_nonce_order(dev_chain):
    from concurrent.futures import ThreadPoolExecutor

    client = chancery.Client(dev_chain["url"], key=dev_chain["key"])
    tag = time.time_ns()
    with ThreadPoolExecutor(8) as pool:
        anchored = list(pool.map(lambda i: client.anchor(f"concurrent {tag} {i}".encode()), range(40)))
    assert len({a.tx_hash for a in anchored}) == 40
    for a in anchored:
        assert client.wait_committed(a.tx_hash)["status"] == "committed"


def test_prepared_bytes_are_the_bytes_the_sdk_computes(dev_chain):
    client = chancery.Client(dev_chain["url"], key=dev_chain["key"])
    key = chancery.load_key(dev_chain["key"])
    info = client.info()
    body = json.loads(_core.evidence_body("document", chancery.digest_of(f"prepared {time.time_ns()}".encode()), []))
    nonce = time.time_ns() // 1000 + 777
    prepared = client.request("tx_prepare", body, key.public_key, nonce)
    assert prepared["sign_bytes"] == chancery.signing_bytes(info, body, key.public_key, nonce)
    tx_hash = client.request("tx_submitSigned", prepared["unsigned_tx"], key.sign_prepared(prepared["sign_bytes"]))
    assert client.wait_committed(tx_hash)["status"] == "committed"


def test_node_error_codes_for_an_unknown_key_and_a_replayed_nonce(dev_chain):
    stranger = chancery.Client(dev_chain["url"], key=chancery.generate_key())
    with pytest.raises(chancery.RpcError) as e:
        stranger.anchor(b"from a stranger")
    assert e.value.code == 1003
    client = chancery.Client(dev_chain["url"], key=dev_chain["key"])
    key = chancery.load_key(dev_chain["key"])
    info = client.info()
    nonce = time.time_ns() // 1000 + 999

    def body(text):
        return json.loads(_core.evidence_body("document", chancery.digest_of(text.encode()), []))

    first, _ = key.sign_tx(info, body(f"first {nonce}"), nonce)
    client.wait_committed(client.request("evidence_submit", first))
    replay, _ = key.sign_tx(info, body(f"second {nonce}"), nonce)
    with pytest.raises(chancery.RpcError) as e:
        client.request("evidence_submit", replay)
    assert e.value.code == 1005

"""The SDK's API around the Rust core: keys, verify, and a JSON-RPC client of one node."""

from __future__ import annotations

import json
import os
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

from . import _core

PathLike = Union[str, "os.PathLike[str]"]
JsonInput = Union[dict, str, bytes, PathLike]

# Kinds of core errors that are about the caller's input, not a failed verifier check.
_NOT_CHECKS = {"bad_argument", "key_file", "genesis"}


class ChanceryError(Exception):
    """A failure of the SDK's core; ``kind`` names the failed check or the argument at fault."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class VerifyError(ChanceryError):
    """A proof that does not verify; ``check`` names the verifier's failed check
    (``file_mismatch``, ``tx_not_in_block``, ``commit``, ...)."""

    def __init__(self, kind: str, message: str):
        super().__init__(kind, message)
        self.check = kind


class RpcError(Exception):
    """An error the node answered; ``code`` is its stable error code (docs/RPC.md)."""

    def __init__(self, code: int, message: str, method: str):
        super().__init__(f"{method}: {message} (code {code})")
        self.code = code
        self.message = message
        self.method = method


def _core_call(fn: Callable[..., Any], *args: Any, verifying: bool = False) -> Any:
    try:
        return fn(*args)
    except _core.CoreError as e:
        kind, message = e.args
        if verifying and kind not in _NOT_CHECKS:
            raise VerifyError(kind, message) from None
        raise ChanceryError(kind, message) from None


def _json_text(value: JsonInput) -> str:
    """A dict, JSON text, or the path of a JSON file, as JSON text."""
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, str) and value.lstrip().startswith(("{", "[")):
        return value
    return Path(value).read_text(encoding="utf-8")


class Key:
    """A signing key; its secret stays in the core."""

    def __init__(self, inner: _core.Key):
        self._inner = inner

    @property
    def public_key(self) -> str:
        return self._inner.public_key

    def save(self, path: PathLike) -> None:
        """Writes the key file, readable by its owner only; refuses to overwrite."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self._inner.key_file())

    def sign_tx(self, chain: dict, body: Union[dict, str], nonce: int) -> tuple[str, str]:
        """Signs a tx body with ``nonce`` on ``chain`` ({chain_id, genesis_hash}): (tx hex, tx hash)."""
        body_json = body if isinstance(body, str) else json.dumps(body)
        return _core_call(self._inner.sign_tx, chain["chain_id"], chain["genesis_hash"], body_json, nonce)

    def sign_prepared(self, sign_bytes: str) -> str:
        """Signs ``tx_prepare``'s sign_bytes; check them first with :func:`signing_bytes`."""
        return _core_call(self._inner.sign_prepared, sign_bytes)


def generate_key() -> Key:
    """A new key from the OS's randomness."""
    return Key(_core_call(_core.Key.from_seed, os.urandom(32)))


def load_key(path: PathLike) -> Key:
    """The key in a key file as ``chancery`` writes it (unencrypted)."""
    return Key(_core_call(_core.Key.from_key_file, Path(path).read_text(encoding="utf-8")))


def digest_of(data: bytes, alg: str = "sha256") -> str:
    """The digest ``alg:hex`` of ``data``, as the ledger records it."""
    return _core_call(_core.digest, alg, data)


def signing_bytes(chain: dict, body: Union[dict, str], signer: str, nonce: int) -> str:
    """The bytes ``signer`` signs for ``body`` with ``nonce``: compare with ``tx_prepare``'s."""
    body_json = body if isinstance(body, str) else json.dumps(body)
    return _core_call(_core.signing_bytes, chain["chain_id"], chain["genesis_hash"], body_json, signer, nonce)


@dataclass(frozen=True)
class Report:
    """What a proof proved: the verifier's report (``chancery verify --json``)."""

    verified: bool
    tx_hash: str
    height: int
    block_hash: str
    block_time_ms: int
    chain_id: str
    genesis_hash: str
    file_matches: bool
    details: dict = field(repr=False)

    def __getitem__(self, key: str) -> Any:
        return self.details[key]


def verify(bundle: JsonInput, genesis: JsonInput, path: Optional[PathLike] = None, data: Optional[bytes] = None) -> Report:
    """Verifies a proof bundle against the chain's genesis (each a dict, JSON text or a
    file path) and, with ``path`` (or ``data``), that the file is the anchored document.

    Returns a :class:`Report` with ``verified == True``; raises :class:`VerifyError`
    naming the failed check otherwise.
    """
    if path is not None:
        data = Path(path).read_bytes()
    text = _core_call(_core.verify, _json_text(bundle), _json_text(genesis), data, verifying=True)
    report = json.loads(text)
    return Report(
        verified=True,
        tx_hash=report["tx_hash"],
        height=report["height"],
        block_hash=report["block_hash"],
        block_time_ms=report["block_time_ms"],
        chain_id=report["chain_id"],
        genesis_hash=report["genesis_hash"],
        file_matches=report["file_matches"],
        details=report,
    )


@dataclass
class Anchored:
    """An anchored file: its tx and digest, and once committed its height and block time."""

    tx_hash: str
    digest: str
    height: Optional[int] = None
    time_ms: Optional[int] = None


class _Queued:
    """A tx body waiting to be signed and sent, and then its outcome."""

    def __init__(self, body: Union[dict, str]):
        self.body = body
        self.done = threading.Event()
        self.tx_hash: Optional[str] = None
        self.error: Optional[BaseException] = None

    def finish(self, tx_hash: Optional[str] = None, error: Optional[BaseException] = None) -> None:
        self.tx_hash, self.error = tx_hash, error
        self.done.set()


class Subscription:
    """A live subscription; ``close()`` ends it."""

    def __init__(self, socket: Any, thread: threading.Thread):
        self._socket = socket
        self._thread = thread

    def close(self) -> None:
        self._socket.close()
        self._thread.join(timeout=5)


_nonce_lock = threading.Lock()
_last_nonce = 0


def _next_nonce() -> int:
    """Microseconds since the epoch, strictly increasing in the process: a client's txs
    stay above every nonce it used before, as the Rust client's do."""
    global _last_nonce
    with _nonce_lock:
        now = time.time_ns() // 1000
        _last_nonce = now if now > _last_nonce else _last_nonce + 1
        return _last_nonce


class Client:
    """A client of one node. ``url``: its RPC address, ``http://`` or ``ws://`` (one port
    serves both); ``key``: a key file path or a :class:`Key`, for anchoring."""

    def __init__(self, url: str, key: Union[PathLike, Key, None] = None, timeout: float = 30.0):
        parts = urllib.parse.urlsplit(url)
        secure = parts.scheme in ("https", "wss")
        self.http_url = urllib.parse.urlunsplit(("https" if secure else "http", parts.netloc, parts.path or "/", "", ""))
        self.ws_url = urllib.parse.urlunsplit(("wss" if secure else "ws", parts.netloc, parts.path or "/", "", ""))
        self.key = key if isinstance(key, Key) or key is None else load_key(key)
        self.timeout = timeout
        self._chain: Optional[dict] = None
        self._id = 0
        self._queue_lock = threading.Lock()
        self._queued: list[_Queued] = []
        self._sending = False

    def request(self, method: str, *params: Any) -> Any:
        """Calls a JSON-RPC method; its result, or :class:`RpcError`."""
        self._id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method, "params": list(params)}).encode()
        request = urllib.request.Request(self.http_url, data=body, headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read()
        except urllib.error.HTTPError as e:
            text = e.read()
            if not text.lstrip().startswith(b"{"):
                raise RpcError(-32700, f"HTTP {e.code}: {text[:200]!r}", method) from None
        answer = json.loads(text)
        if "error" in answer:
            raise RpcError(answer["error"]["code"], answer["error"]["message"], method)
        return answer["result"]

    def info(self) -> dict:
        """The chain's id, genesis hash, height and limits."""
        self._chain = self.request("chain_info")
        return self._chain

    def submit_body(self, body: Union[dict, str]) -> str:
        """Signs a tx body with the client's key and the next nonce, submits it; its hash.

        Calls from several threads are signed in nonce order and sent together with
        ``evidence_submitBatch`` by whichever thread is sending, so they reach the node in
        that order (a node refuses a nonce below one it already holds) and share round
        trips.
        """
        if self.key is None:
            raise ChanceryError("bad_argument", "this client has no key: Client(url, key=...)")
        item = _Queued(body)
        with self._queue_lock:
            self._queued.append(item)
            leader = not self._sending
            self._sending = True
        if leader:
            self._send_queued()
        item.done.wait()
        if item.error is not None:
            raise item.error
        return item.tx_hash

    def _send_queued(self) -> None:
        try:
            chain = self._chain or self.info()
            most = max(1, min(int(chain.get("submit_batch_max", 1)), 1000))
        except Exception as e:  # noqa: BLE001 - every queued call gets the failure
            chain, most, failure = None, 1, e
        else:
            failure = None
        while True:
            with self._queue_lock:
                batch, self._queued = self._queued[:most], self._queued[most:]
                if not batch:
                    self._sending = False
                    return
            if failure is not None:
                for item in batch:
                    item.finish(error=failure)
                continue
            signed = []
            for item in batch:
                try:
                    signed.append((item, self.key.sign_tx(chain, item.body, _next_nonce())[0]))
                except ChanceryError as e:
                    item.finish(error=e)
            if not signed:
                continue
            try:
                outcomes = self.request("evidence_submitBatch", [tx for _, tx in signed])
            except Exception as e:  # noqa: BLE001 - every call of the batch gets the failure
                for item, _ in signed:
                    item.finish(error=e)
                continue
            for (item, _), outcome in zip(signed, outcomes):
                if "accepted" in outcome:
                    item.finish(tx_hash=outcome["accepted"]["tx_hash"])
                else:
                    error = outcome["refused"]["error"]
                    item.finish(error=RpcError(error["code"], error["message"], "evidence_submit"))

    def anchor(
        self,
        file: Union[PathLike, bytes],
        kind: str = "document",
        refs: Optional[list] = None,
        alg: str = "sha256",
        wait: bool = False,
    ) -> Anchored:
        """Anchors a file (a path, or its bytes): its digest goes on chain, never its
        content. With ``wait``, returns once committed, with height and block time."""
        data = file if isinstance(file, bytes) else Path(file).read_bytes()
        digest = digest_of(data, alg)
        body = _core_call(_core.evidence_body, kind, digest, list(refs or []))
        anchored = Anchored(tx_hash=self.submit_body(body), digest=digest)
        if wait:
            status = self.wait_committed(anchored.tx_hash)
            anchored.height = status["height"]
            anchored.time_ms = status["block_time_ms"]
        return anchored

    def status(self, tx_hash: str) -> dict:
        """Where a tx stands: pending, committed (height, block time), dropped or unknown."""
        return self.request("evidence_status", tx_hash)

    def wait_committed(self, tx_hash: str, timeout: Optional[float] = None) -> dict:
        """Polls until ``tx_hash`` is committed; :class:`ChanceryError` if it is dropped or
        time runs out."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        pause = 0.02
        while True:
            status = self.status(tx_hash)
            if status["status"] == "committed":
                return status
            if status["status"] == "dropped":
                raise ChanceryError("dropped", f"tx {tx_hash} was dropped: {status['reason']}")
            if time.monotonic() > deadline:
                raise ChanceryError("timeout", f"tx {tx_hash} not committed in time ({status['status']})")
            time.sleep(pause)
            pause = min(pause * 2, 0.25)

    def proof(self, tx_hash_or_digest: str, checkpoint: Optional[int] = None) -> dict:
        """The proof bundle (a dict) of a committed tx, or of the first anchor of a digest."""
        tx_hash = tx_hash_or_digest
        if ":" in tx_hash_or_digest:
            anchors = self.request("evidence_byDigest", tx_hash_or_digest)["anchors"]
            if not anchors:
                raise ChanceryError("not_found", f"no committed tx anchors {tx_hash_or_digest}")
            tx_hash = anchors[0]["tx_hash"]
        if checkpoint is None:
            return self.request("evidence_proof", tx_hash)
        return self.request("evidence_proof", tx_hash, checkpoint)

    def subscribe_committed(self, callback: Callable[[dict], None]) -> Subscription:
        """Calls ``callback(block)`` ({height, block_hash, time_ms, tx_hashes}) for every
        committed block, from a background thread, until ``close()``."""
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        opened: "queue.Queue[Any]" = queue.Queue()
        request = {"jsonrpc": "2.0", "id": 1, "method": "evidence_subscribeCommitted", "params": []}

        def listen() -> None:
            try:
                with connect(self.ws_url, max_size=64 * 1024 * 1024, open_timeout=self.timeout) as socket:
                    socket.send(json.dumps(request))
                    answer = json.loads(socket.recv(timeout=self.timeout))
                    if "error" in answer:
                        error = answer["error"]
                        opened.put(RpcError(error["code"], error["message"], "evidence_subscribeCommitted"))
                        return
                    opened.put(socket)
                    for message in socket:
                        note = json.loads(message)
                        if note.get("method") == "evidence_subscribeCommitted":
                            callback(note["params"]["result"])
            except ConnectionClosed:
                pass
            except Exception as e:  # noqa: BLE001 - handed to the caller while subscribing
                opened.put(e)

        thread = threading.Thread(target=listen, name="chancery-subscription", daemon=True)
        thread.start()
        first = opened.get(timeout=self.timeout + 1)
        if isinstance(first, Exception):
            raise first
        return Subscription(first, thread)

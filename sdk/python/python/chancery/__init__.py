"""Chancery's Python SDK: anchor documents on a Chancery evidence ledger, follow them to
commit, fetch their proofs and verify them offline.

Keys, digests, txs, the bytes a key signs and the verifier are the ledger's own Rust code
(``chancery._core``, built by maturin); the client speaks JSON-RPC to a node.
"""

from ._client import (
    Anchored,
    ChanceryError,
    Client,
    Key,
    Report,
    RpcError,
    Subscription,
    VerifyError,
    digest_of,
    generate_key,
    load_key,
    signing_bytes,
    verify,
)
from . import _core

__version__ = _core.__version__

__all__ = [
    "Anchored",
    "ChanceryError",
    "Client",
    "Key",
    "Report",
    "RpcError",
    "Subscription",
    "VerifyError",
    "digest_of",
    "generate_key",
    "load_key",
    "signing_bytes",
    "verify",
]

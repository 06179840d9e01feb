"""Anchor a file on a Chancery chain, wait for its block, fetch the proof and verify it
offline against the genesis file:

    python examples/anchor.py http://127.0.0.1:7720 ~/.chancery/dev/integrator.key \
        ~/.chancery/dev/genesis.json contract.pdf
"""

import json
import sys
from datetime import datetime, timezone

import chancery


def main(url: str, key: str, genesis: str, path: str) -> None:
    client = chancery.Client(url, key=key)
    anchored = client.anchor(path, wait=True)
    print(f"anchored {anchored.digest} in tx {anchored.tx_hash} at height {anchored.height}")
    proof = client.proof(anchored.tx_hash)
    report = chancery.verify(proof, genesis, path=path)
    when = datetime.fromtimestamp(report.block_time_ms / 1000, tz=timezone.utc).isoformat()
    print(f"verified: {report.verified}, block time {when}")
    with open(f"{path}.proof.json", "w", encoding="utf-8") as f:
        json.dump(proof, f)


if __name__ == "__main__":
    try:
        main(*sys.argv[1:5])
    except (chancery.ChanceryError, chancery.RpcError) as e:
        sys.exit(str(e))

"""Anchoring throughput of the Python SDK from one process: N documents (made in
memory), T threads anchoring through one client (which batches
concurrent calls), then waits for the last to commit.

    python examples/bench.py URL KEYFILE [N=2000] [T=8]

Prints submitted/s (until every call answered) and committed/s (until the last tx's
block); docs/BENCHMARKS.md compares them with the Rust client on the same chain.
"""

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import chancery


def main(url: str, key: str, n: str = "2000", threads: str = "8") -> None:
    total, workers = int(n), int(threads)
    client = chancery.Client(url, key=key)
    client.info()
    tag = f"{os.getpid()}-{time.time_ns()}"

    def anchor(i: int) -> str:
        return client.anchor(f"bench {tag} {i}".encode()).tx_hash

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        hashes = list(pool.map(anchor, range(total)))
    submitted = time.perf_counter() - started
    waiter = chancery.Client(url, timeout=120)
    for tx_hash in hashes[-50:]:
        waiter.wait_committed(tx_hash)
    committed = time.perf_counter() - started
    print(
        f"python: {total} anchors, {workers} threads: submitted {total / submitted:.0f}/s, "
        f"committed {total / committed:.0f}/s ({committed:.2f} s)"
    )


if __name__ == "__main__":
    main(*sys.argv[1:5])

"""A real dev chain for the tests: the ``chancery`` binary (CHANCERY_BIN, or the
workspace's debug build) on a fresh home and a free port."""

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def chancery_bin() -> str:
    binary = os.environ.get("CHANCERY_BIN", str(ROOT / "target" / "debug" / "chancery"))
    if not Path(binary).exists():
        pytest.fail(f"no chancery binary at {binary}: cargo build -p chancery-cli, or set CHANCERY_BIN")
    return binary


@pytest.fixture(scope="session")
def dev_chain(chancery_bin):
    home = Path(tempfile.mkdtemp(prefix="chancery-py-"))
    log = open(home / "dev.log", "w+")
    child = subprocess.Popen(
        [chancery_bin, "dev", "--home", str(home / "chain"), "--rpc-addr", "127.0.0.1:0"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = None
    for _ in range(600):
        text = (home / "dev.log").read_text()
        match = re.search(r"^RPC\s+ws://(\S+)", text, re.M)
        if match:
            url = f"http://{match.group(1)}"
            break
        if child.poll() is not None:
            break
        time.sleep(0.1)
    if url is None:
        child.kill()
        pytest.fail(f"the dev chain did not start:\n{(home / 'dev.log').read_text()}")
    yield {
        "url": url,
        "home": home / "chain",
        "genesis": home / "chain" / "genesis.json",
        "key": home / "chain" / "integrator.key",
        "bin": chancery_bin,
    }
    child.terminate()
    child.wait(timeout=30)
    log.close()
    shutil.rmtree(home, ignore_errors=True)

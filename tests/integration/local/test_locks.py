"""The embedded workspace's locks die with their holder."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from mlops_azure.local import LocalWorkspace

HOLD = """
import sys, time
from pathlib import Path
from mlops_azure.local import LocalWorkspace
with LocalWorkspace(Path(sys.argv[1])).locks.exclusive("watch-x") as mine:
    print(mine, flush=True)
    time.sleep(60)
"""


def test_a_killed_holder_frees_the_lock(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "ws")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "True"
        with ws.locks.exclusive("watch-x") as mine:
            assert mine is False
    finally:
        holder.kill()
        holder.wait()
    deadline = time.monotonic() + 5
    while True:
        with ws.locks.exclusive("watch-x") as mine:
            if mine or time.monotonic() > deadline:
                break
    assert mine is True

"""One writer per endpoint: a second waits, then gives up naming the first; a dead holder's lock
is taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mlops_azure.errors import Busy
from mlops_azure.lifecycle.endpoint_lock import describe, endpoint_writer, lock_name
from mlops_azure.local import LocalWorkspace


def test_a_second_writer_gives_up_naming_the_holder_and_since_when(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    with ws.locks.exclusive(lock_name("prod"), holder=describe("promote m:2", "ana")), \
            pytest.raises(Busy) as caught, \
            endpoint_writer(ws, "prod", command="rollback", actor="bo", wait_s=0):
        pytest.fail("the block must not run while another writer holds the endpoint")
    message = caught.value.message
    assert "endpoint 'prod' is being changed by mlops promote m:2 by ana" in message
    assert f"pid {os.getpid()}" in message and " since 20" in message
    assert caught.value.exit_code == 1


def test_a_second_writer_waits_for_the_first_to_finish(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    said: list[str] = []
    released = threading.Event()
    taken = threading.Event()

    def first() -> None:
        with ws.locks.exclusive(lock_name("prod"), holder="first"):
            taken.set()
            released.wait(10)

    holder = threading.Thread(target=first)
    holder.start()
    taken.wait(10)
    timer = threading.Timer(0.5, released.set)
    timer.start()
    with endpoint_writer(ws, "prod", command="deploy", actor="bo", wait_s=30, say=said.append):
        assert released.is_set()  # ran only after the first let go
    holder.join()
    assert said and "being changed by first" in said[0]


def test_the_lock_of_a_killed_holder_is_taken_over(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    script = ("import sys, time\nfrom mlops_azure.local import LocalWorkspace\n"
              f"ws = LocalWorkspace({str(tmp_path / 'ws')!r})\n"
              "with ws.locks.exclusive('endpoint-prod', holder='doomed'):\n"
              "    print('held', flush=True)\n    time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(Busy, match="doomed"), endpoint_writer(ws, "prod", command="deploy",
                                                                  actor="bo", wait_s=0):
            pass
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        with endpoint_writer(ws, "prod", command="deploy", actor="bo", wait_s=10):
            assert ws.locks.holder("endpoint-prod") is not None
    finally:
        proc.kill()
        proc.wait(10)

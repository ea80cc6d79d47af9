"""One writer per endpoint: deploy, promote, rollback, recovery and endpoint delete hold the
endpoint's lock while they change it.

The lock is the workspace's named lock ``endpoint-<name>`` (local: a ``flock`` the OS drops when
its holder dies; Azure: a blob lease that expires a minute after its holder stops renewing it),
so a holder killed mid-change never blocks the next command: that command takes the lock over
and recovers what the dead one left (:mod:`mlops_azure.lifecycle.traffic_journal`). A second
writer waits up to ``rollout.lock_wait_s``, then exits 1 naming the holder and since when.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from mlops_azure.errors import Busy
from mlops_azure.workspace import Workspace

#: Seconds between two attempts to take a busy lock.
POLL_S = 0.2


def lock_name(endpoint: str) -> str:
    """The workspace lock that guards ``endpoint``."""
    return f"endpoint-{endpoint}"


def describe(command: str, actor: str) -> str:
    """How a holder names itself: the command, who ran it, and which process on which host."""
    return f"mlops {command} by {actor} (pid {os.getpid()} on {socket.gethostname()})"


@contextmanager
def endpoint_writer(ws: Workspace, endpoint: str, *, command: str, actor: str, wait_s: float,
                    say: Callable[[str], None] = lambda _: None) -> Iterator[None]:
    """Hold ``endpoint``'s writer lock while the block runs, waiting up to ``wait_s`` for it.

    ``Busy`` (exit 1) when another command still holds it after the wait.
    """
    name = lock_name(endpoint)
    holder = describe(command, actor)
    deadline = time.monotonic() + wait_s
    told = False
    while True:
        with ws.locks.exclusive(name, holder=holder) as mine:
            if mine:
                yield
                return
        now = time.monotonic()
        if now >= deadline:
            raise Busy(f"endpoint '{endpoint}' is being changed by {_holder(ws, name)}; "
                       f"waited {wait_s:g} s: try again when it has finished")
        if not told:
            say(f"endpoint {endpoint} is being changed by {_holder(ws, name)}: waiting up to "
                f"{wait_s:g} s")
            told = True
        time.sleep(min(POLL_S, deadline - now))


def _holder(ws: Workspace, name: str) -> str:
    found = ws.locks.holder(name)
    if found is None:
        return "another command (it has just finished)"
    since = f" since {found.since.isoformat(timespec='seconds')}" if found.since else ""
    return f"{found.holder}{since}"

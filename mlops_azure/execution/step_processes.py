"""The process group of a running pipeline step: ended with the step, on SIGTERM, and also when the
runner itself is killed outright.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType

#: How long a step may take to exit after SIGTERM before its process group gets SIGKILL.
KILL_GRACE_SECONDS = 5.0


class PipelineInterrupted(KeyboardInterrupt):
    """SIGTERM arrived while a step ran; the step's processes were killed before this was raised."""


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While a step runs, SIGTERM raises ``PipelineInterrupted`` so the step can be killed first."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN:
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second TERM must not cut the cleanup short
        raise PipelineInterrupted(f"received signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """End the step's whole process group: the command, and anything it left running."""
    if process.poll() is None:
        with suppress(ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=KILL_GRACE_SECONDS)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # stragglers: background children, or a step ignoring TERM
    process.wait()


#: The watchdog of a step: it blocks reading a pipe only the runner writes to. The read ends when
#: the runner's end closes, which the kernel does however the runner dies (kill -9 included); the
#: watchdog then kills the step's process group. Plain ``sh``: it starts in about a millisecond.
_WATCHDOG = 'read -r _ignored; kill -KILL -"$1" 2>/dev/null'  # no "--": dash's kill misreads it


@contextmanager
def group_ends_with_us(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """End the step's process group when the block ends, and also if this process is killed outright.

    The step runs in its own session (so Ctrl-C reaches us, not it, and we can kill its whole
    group), which also means nothing ended it when we were killed with SIGKILL: it ran on for
    seconds. ``prctl(PR_SET_PDEATHSIG)`` would reach the step's first process only, not what it
    starts, and exists on Linux only; a watchdog process covers the whole group on any POSIX system.
    """
    read_end, write_end = os.pipe()  # not inherited by the step: Python's pipes are close-on-exec
    watchdog: subprocess.Popen[bytes] | None = None
    try:
        try:
            watchdog = subprocess.Popen(
                ["/bin/sh", "-c", _WATCHDOG, "mlops-step-watchdog", str(process.pid)],
                stdin=read_end, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            pass  # no sh: the step still runs, it just may outlive a runner killed outright
        finally:
            os.close(read_end)
        yield
    finally:
        try:
            _kill_group(process)
        finally:
            # The watchdog goes only once the group is dead, and before its pipe closes: the
            # group's number may be reused by then, so the watchdog must never act on a normal end.
            if watchdog is not None:
                watchdog.kill()
                watchdog.wait()
            os.close(write_end)

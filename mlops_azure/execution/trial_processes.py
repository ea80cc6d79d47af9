"""The processes of a sweep's trials: each trial is its own process group, started fast.

A trial of the example's trainer spends ~0.3 s training and ~1.1 s starting Python and importing
pandas and LightGBM, so a new interpreter per trial would make a local sweep several times slower
than the same objective in one Python loop. When the trial's command is ``python -m MODULE ARGS``
(what Azure ML components usually run), a *forker* process is started once per sweep: a fresh
interpreter in the component's code folder that imports MODULE (its top-level imports: pandas,
LightGBM) and then forks one child per trial. The child becomes its own session, takes the trial's
working folder, environment and log, and runs MODULE as ``__main__`` with the trial's arguments,
exactly as ``python -m`` would. LightGBM never runs in the forker, so no OpenMP thread exists when
it forks (a fork after one hangs the child; see ``forked_pool``).

Any other command runs under ``bash -c`` like a pipeline step. Either way the caller gets a
:class:`TrialProcess` it can poll and kill (its whole process group). When the caller dies, even
by SIGKILL, the forker reads end-of-file on its request pipe and kills every trial it started.
"""

from __future__ import annotations

import gc
import json
import os
import select
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

#: How long a trial may take to exit after SIGTERM before its group gets SIGKILL.
KILL_GRACE_S = 3.0


def python_module_argv(command: str) -> tuple[str, list[str]] | None:
    """``(module, args)`` when ``command`` is exactly ``python -m MODULE ARGS`` with no shell syntax."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if len(words) < 3 or words[0] not in ("python", "python3") or words[1] != "-m":
        return None
    # Quoted words are plain arguments; only an unquoted operator would need a shell.
    unquoted = shlex.shlex(command, posix=True, punctuation_chars=True)
    unquoted.whitespace_split = True
    if any(token and set(token) <= set("|&;<>()") for token in unquoted):
        return None
    if any(ch in command for ch in "$`*?[~{\\\n"):
        return None  # expansions bash would do (even quoted ones are left to bash: it is only slower)
    return words[2], words[3:]


class TrialProcess:
    """A started trial: poll it, kill its group."""

    def __init__(self, pid: int, popen: subprocess.Popen[bytes] | None = None) -> None:
        self.pid = pid
        self._popen = popen
        self.exit_code: int | None = None

    def poll(self) -> int | None:
        if self._popen is not None and self.exit_code is None:
            self.exit_code = self._popen.poll()
        return self.exit_code

    def kill(self) -> None:
        """SIGTERM to the trial's process group, SIGKILL after a grace period; waits for the end."""
        if self.poll() is not None:
            return
        _signal_group(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + KILL_GRACE_S
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        _signal_group(self.pid, signal.SIGKILL)
        while self.poll() is None:
            time.sleep(0.005)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        with suppress(ProcessLookupError):
            os.kill(pid, sig)  # forked but not yet its own group leader
    except PermissionError:
        pass


class TrialLauncher:
    """Starts trial processes for one sweep; :meth:`close` ends the forker and any trial left."""

    def __init__(self, sample_command: str, code_dir: Path, env: Mapping[str, str]) -> None:
        self._module: str | None = None
        self._forker: subprocess.Popen[bytes] | None = None
        self._pending: dict[int, TrialProcess] = {}
        self._started: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        self._next = 0
        parsed = python_module_argv(sample_command)
        if parsed is not None:
            self._module = parsed[0]
            forker_env = {**env, "OMP_NUM_THREADS": "1"}
            self._forker = subprocess.Popen(
                [sys.executable, "-m", "mlops_azure.execution.trial_processes", self._module],
                cwd=code_dir, env=forker_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, start_new_session=True)
            threading.Thread(target=self._read, daemon=True, name="trial-forker-reader").start()

    @property
    def forks(self) -> bool:
        return self._forker is not None

    def _read(self) -> None:
        assert self._forker is not None and self._forker.stdout is not None
        for line in self._forker.stdout:
            message = json.loads(line)
            with self._lock:
                trial = self._pending.get(message["id"])
                if trial is None:
                    continue
                if "pid" in message:
                    trial.pid = message["pid"]
                    self._started[message["id"]].set()
                if "exit" in message:
                    trial.exit_code = message["exit"]
                    self._pending.pop(message["id"])
        with self._lock:  # the forker died: what it ran is gone with it
            for ident, trial in self._pending.items():
                trial.exit_code = -int(signal.SIGKILL) if trial.exit_code is None else trial.exit_code
                self._started[ident].set()

    def start(self, command: str, cwd: Path, env: Mapping[str, str], log_path: Path,
              umask: int = -1) -> TrialProcess:
        """Start ``command`` as a trial writing stdout and stderr to ``log_path``."""
        parsed = python_module_argv(command)
        if self._forker is None or parsed is None or parsed[0] != self._module:
            with open(log_path, "ab") as log:
                popen = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=dict(env), stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, umask=umask)
            return TrialProcess(popen.pid, popen)
        trial = TrialProcess(0)
        with self._lock:
            ident = self._next
            self._next += 1
            self._pending[ident] = trial
            self._started[ident] = threading.Event()
        request = {"id": ident, "args": parsed[1], "cwd": str(cwd), "env": dict(env),
                   "log": str(log_path), "umask": umask}
        assert self._forker.stdin is not None
        try:
            self._forker.stdin.write((json.dumps(request) + "\n").encode())
            self._forker.stdin.flush()
        except BrokenPipeError:
            trial.exit_code = -int(signal.SIGKILL)
            return trial
        self._started[ident].wait()
        return trial

    def close(self) -> None:
        if self._forker is None:
            return
        with suppress(OSError):
            assert self._forker.stdin is not None
            self._forker.stdin.close()  # the forker kills what is left and exits
        try:
            self._forker.wait(timeout=KILL_GRACE_S + 2)
        except subprocess.TimeoutExpired:
            self._forker.kill()
            self._forker.wait()


# --- the forker process ------------------------------------------------------------------------


def _run_child(module: str, request: Mapping[str, Any]) -> None:
    """In the forked child: become the trial and never return."""
    import runpy
    import traceback

    code = 1
    try:
        os.setsid()
        if request["umask"] >= 0:
            os.umask(request["umask"])
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        sys.argv = [module, *request["args"]]
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if not isinstance(exc.code, int | None):
                print(exc.code, file=sys.stderr)
        except BaseException:  # the trial's own failure: its traceback goes to its log
            traceback.print_exc()
            code = 1
    finally:
        with suppress(BaseException):
            import atexit

            atexit._run_exitfuncs()  # as at the end of `python -m`: e.g. flushing a metrics logger
        with suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _serve(module: str, requests: IO[bytes], replies: IO[bytes]) -> None:
    import importlib

    with suppress(BaseException):  # an import error shows in each trial's own log instead
        importlib.import_module(module)
    # What it imported stays loaded; the module itself runs afresh as __main__ in each trial.
    sys.modules.pop(module, None)
    # The children's collector then leaves the inherited objects alone: scanning them would write
    # to (and so copy) every page they share with the forker.
    gc.freeze()
    children: dict[int, int] = {}  # pid -> request id
    buffer = b""
    fd = requests.fileno()

    def reply(message: dict[str, Any]) -> None:
        replies.write((json.dumps(message) + "\n").encode())
        replies.flush()

    while True:
        readable, _, _ = select.select([fd], [], [], 0.01)
        if readable:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    _run_child(module, request)
                children[pid] = request["id"]
                reply({"id": request["id"], "pid": pid})
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            reply({"id": children.pop(pid), "exit": os.waitstatus_to_exitcode(status)})
    for pid in children:  # the sweep's runner is gone: so are its trials
        _signal_group(pid, signal.SIGKILL)
    os._exit(0)


if __name__ == "__main__":
    _serve(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer)

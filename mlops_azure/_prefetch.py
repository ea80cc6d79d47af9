"""Importing heavy modules in the background while the process waits on something else.

``mlops train`` spends most of its time waiting for the pipeline's step processes; the modules
the champion and responsible-ML gates need afterwards (pandas, fairlearn with scikit-learn and
SciPy: about 1.5 s) can be imported meanwhile. The caller joins before it uses them, so no two
threads ever import the same module at once.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable


class Prefetch:
    """Imports ``modules`` in a daemon thread; ``join()`` before using them. A module that fails
    to import is left for the real import to report."""

    def __init__(self, modules: Iterable[str]) -> None:
        self._modules = [m for m in modules if m]
        self._thread = threading.Thread(target=self._run, name="mlops-prefetch", daemon=True)
        if self._modules:
            self._thread.start()

    def _run(self) -> None:
        for name in self._modules:
            try:
                importlib.import_module(name)
            except Exception:  # reported by whoever imports it for real
                return

    def join(self) -> None:
        if self._thread.is_alive():
            self._thread.join()

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, *_: object) -> None:
        self.join()

"""``Lru``: what the web app reads once per server process and keeps (model files, training
tables, scored files), safe for the server's pool of threads."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class Lru:
    """A small thread-safe cache: the server answers on a pool of threads. Each key is made
    once: a thread asking for a key another is making waits for it (two threads downloading the
    same model on Azure would trip over each other's folder)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                found: T = self._items[key]
                return found
            making = self._making.setdefault(key, threading.Lock())
        # Outside the cache's lock: a download must not hold up pages about other keys.
        with making:
            with self._lock:
                if key in self._items:
                    done: T = self._items[key]
                    return done
            made = make()
            with self._lock:
                self._items[key] = made
                self._making.pop(key, None)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return made

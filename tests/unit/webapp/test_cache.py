"""The web app's cache: each key made once, whatever the threads asking."""

from __future__ import annotations


def test_the_cache_makes_each_key_once_for_threads_asking_together() -> None:
    import threading
    import time

    from mlops_azure.webapp._cache import Lru

    cache, made, go = Lru(4), [], threading.Event()

    def make() -> str:
        made.append(1)
        time.sleep(0.05)
        return "model"

    def ask() -> None:
        go.wait()
        assert cache.get("m:1", make) == "model"

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    go.set()
    for thread in threads:
        thread.join()
    assert made == [1]

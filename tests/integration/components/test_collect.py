"""score.py's collector: one valid JSON line per request, from many processes at once, rotated."""

from __future__ import annotations

import json
import multiprocessing
import sys
from pathlib import Path

COMPONENTS = Path(__file__).resolve().parents[3] / "examples" / "steel" / "components"
RECORDS = 300


def _write(folder: str, worker: int, max_bytes: int) -> None:
    sys.path.insert(0, str(COMPONENTS))
    from tabular.collect import Collector

    collector = Collector(Path(folder), f"blue{worker}", "m:1", max_bytes)
    for i in range(RECORDS):
        # a pretty-printed body (newlines) must still end up on one line
        collector.record(json.dumps({"data": [{"x": i, "w": worker}]}, indent=1), [float(i)])


def test_concurrent_workers_lose_nothing_and_rotate(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write, args=(str(tmp_path), w, 8_000)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    files = list(tmp_path.glob("*.jsonl"))
    assert len(files) > 4  # 8 kB files: every worker rotated
    records = [json.loads(line) for file in files for line in file.read_bytes().splitlines()]
    assert len(records) == 4 * RECORDS
    seen = {(r["request"]["data"][0]["w"], r["request"]["data"][0]["x"]) for r in records}
    assert len(seen) == 4 * RECORDS
    first = records[0]
    assert first["model"] == "m:1" and first["predictions"] == [float(first["request"]["data"][0]["x"])]
    assert len({r["request_id"] for r in records}) == 4 * RECORDS
    assert all(oct(f.stat().st_mode)[-3:] == "600" for f in files)

"""Batch scoring's input splitter and part-file writer agree with pandas, byte for byte."""

from __future__ import annotations

import hashlib
import io
import math
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_azure.lifecycle import _batch_input
from mlops_azure.lifecycle._batch_input import scan
from mlops_azure.lifecycle._batch_work import frame_csv

random.seed(7)
_MESSY = "a,b\n" + "".join(random.choice(["", "\n", " \n", "\t\r\n"]) + f"{i},{i * 2}\n"
                           for i in range(300))
SPLITTABLE = [
    "a,b\n1,2\n3,4\n5,6\n",
    "a,b\n1,2\n3,4\n5,6",            # no line end at the end
    "\n\na,b\n1,2\n\n  \n3,4\n \t\r\n5,6\n\n",  # blank lines, before the header too
    "a,b\r\n1,2\r\n3,4\r\n",
    "a,b\n 1,2\n 3, 4\n",            # leading blanks on rows that are not blank
    "a,b\n",                          # a header and no rows: one empty chunk, as pandas
    "a,b",
    _MESSY,
]


@pytest.mark.parametrize("text", SPLITTABLE)
@pytest.mark.parametrize("block", [3, 64, 1 << 20])
def test_chunks_are_those_of_pandas_chunked_reader(text: str, block: int, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_batch_input, "BLOCK", block)
    path = tmp_path / "rows.csv"
    path.write_bytes(text.encode())
    for rows in (1, 2, 7, 1000):
        layout = scan(path, rows)
        assert layout.digest == hashlib.sha256(text.encode()).hexdigest()
        assert layout.header is not None and layout.chunks is not None
        wanted = [chunk["a"].tolist() for chunk in pd.read_csv(path, chunksize=rows)]
        got = [pd.read_csv(io.BytesIO(layout.header + text.encode()[c.start:c.end]))["a"].tolist()
               for c in layout.chunks]
        assert got == wanted
        assert [c.rows for c in layout.chunks] == [len(w) for w in wanted]
        assert [c.number for c in layout.chunks] == list(range(len(wanted)))


@pytest.mark.parametrize("text", ['a,b\n1,"x\ny"\n', 'a,b\n1,5" pipe\n', "a,b\r1,2\r", "a,b\n1,2\r",
                                  ""])
def test_what_only_a_csv_parser_can_split_is_left_to_pandas(text: str, tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes(text.encode())
    layout = scan(path, 10)
    assert not layout.splittable and layout.digest == hashlib.sha256(text.encode()).hexdigest()


FLOATS = [0.0, -0.0, 1.0, 0.1, 1 / 3, 2.5e-5, 1e-4, 123456789.125, 1e16, 1.5e300, 5e-324,
          math.inf, -math.inf, math.nan]


def test_part_files_are_what_pandas_writes() -> None:
    rng = np.random.default_rng(3)
    values = np.concatenate([FLOATS, rng.random(2000) * 10.0 ** rng.integers(-8, 20, 2000)])
    keys = pd.Series([f"K-{i:04d}" for i in range(len(values))], dtype="str")
    keys[5] = None
    frame = pd.DataFrame({"period": pd.Series(["2024-01-01"] * len(values), dtype="str"),
                          "customer_id": keys, "object_keys": keys.astype(object),
                          "prediction": values})
    assert frame_csv(frame) == frame.to_csv(index=False, lineterminator="\n").encode()
    empty = frame.head(0)
    assert frame_csv(empty) == empty.to_csv(index=False, lineterminator="\n").encode()


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"k": ["a,b", "c"], "prediction": [1.0, 2.0]}),      # a field to quote
    pd.DataFrame({"k": ['say "hi"', "c"], "prediction": [1.0, 2.0]}),
    pd.DataFrame({"k": ["a", "b"], "n": [1, 2]}),                      # other dtypes
    pd.DataFrame({"k": pd.Categorical(["a", "b"]), "prediction": [1.0, 2.0]}),
    pd.DataFrame({"prediction": [1.0, math.nan]}),                     # one column: "" quoted
    pd.DataFrame({"a,b": ["x"], "prediction": [1.0]}),                  # a name to quote
])
def test_anything_else_is_written_by_pandas(frame: pd.DataFrame) -> None:
    assert frame_csv(frame) == frame.to_csv(index=False, lineterminator="\n").encode()

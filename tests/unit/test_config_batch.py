"""``batch.keys``: from the project (partitions, identifiers), never an example's column names."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_azure.config import load_config
from mlops_azure.errors import UserInputError

BASE = """
project: p
model: {name: m}
data:
  time_column: day
  schema:
    columns:
      day: {type: date}
      region: {type: string}
      store: {type: string}
      sales: {type: float}
"""


def write(tmp_path: Path, text: str) -> Path:
    """BASE and ``text``; lines of ``text`` indented by two spaces go into ``data:``."""
    data = "".join(line + "\n" for line in text.splitlines() if line.startswith("  "))
    top = "".join(line + "\n" for line in text.splitlines() if not line.startswith("  "))
    file = tmp_path / "mlops.yaml"
    file.write_text(BASE.replace("data:\n", "data:\n" + data) + top, encoding="utf-8")
    return file


@pytest.mark.parametrize(("ids", "extra", "keys"), [
    ("", "", []),
    ("[store]", "", ["store"]),
    ("[store]", "partitions: {levels: [region, store]}\n", ["region", "store"]),
    ("", "partitions: {levels: [region]}\nbatch: {keys: [store]}\n", ["store"]),  # given wins
])
def test_keys_default_to_partition_levels_then_id_columns(tmp_path: Path, ids: str, extra: str,
                                                          keys: list[str]) -> None:
    text = f"  id_columns: {ids}\n" + extra if ids else extra
    config = load_config(write(tmp_path, text))
    assert config.batch.keys == keys


def test_the_sink_takes_keys_and_time_column_from_the_project(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("psycopg")
    from mlops_azure.sinks import DSN_VARIABLE, PostgresSink

    monkeypatch.setenv(DSN_VARIABLE, "postgresql://user@127.0.0.1:5432/db")
    with pytest.raises(UserInputError, match=r"^batch.keys is not set in mlops.yaml: name the "):
        PostgresSink.for_project(load_config(write(tmp_path, "")))
    config = load_config(write(tmp_path, "batch: {keys: [region, store], table: sales_fc}\n"))
    sink = PostgresSink.for_project(config)
    assert (sink.table, sink.keys, sink.time_column) == ("sales_fc", ("region", "store"), "day")
    with pytest.raises(UserInputError, match="Time column 'store' is also a key column"):
        PostgresSink("postgresql://127.0.0.1/db", keys=["store"], time_column="store")

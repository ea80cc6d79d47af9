"""An ``MLTable`` file next to a CSV, so Azure ML can read the folder as a table (``mltable``
input of a parallel job) with the key and category columns as text, as ``read_frame`` reads
them (a customer ``007`` must not become the number 7)."""

from __future__ import annotations

from pathlib import Path

from tabular.step import write_text

MLTABLE_FILE = "MLTable"


def write_mltable(folder: Path, csv_name: str, text_columns: list[str]) -> None:
    """``folder/MLTable`` describing ``folder/csv_name`` (a header row, comma-separated)."""
    lines = ["$schema: https://azuremlschemas.azureedge.net/latest/MLTable.schema.json",
             "type: mltable", "paths:", f"  - file: ./{csv_name}", "transformations:",
             "  - read_delimited:", "      delimiter: ','", "      encoding: utf8",
             "      header: all_files_same_headers"]
    if text_columns:
        lines += ["  - convert_column_types:", "      - columns:"]
        lines += [f"          - {column}" for column in text_columns]
        lines += ["        column_type: string"]
    write_text(folder / MLTABLE_FILE, "\n".join(lines) + "\n")

"""``UiSettings``: what one ``mlops ui`` server was started with."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: Uploads larger than this are refused before they are read (413 with a sentence).
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: Above this many rows a CSV is batch scored: at the endpoint's ~60,000 rows/s (measured in
#: bench_ui_csv) that is where a file keeps a page waiting more than a few seconds.
BATCH_ROWS = 200_000


@dataclass(frozen=True)
class UiSettings:
    """The project the app shows and how it behaves.

    ``secret_key`` signs the session cookie that holds the CSRF token: give every worker of one
    server the same key (``mlops ui`` draws a random one per start). ``scratch_dir`` holds the
    CSV uploads and their scored results, one folder per scoring run.
    """

    config_path: Path
    secret_key: bytes
    scratch_dir: Path
    backend: str | None = None
    #: Seconds between the status page's refreshes (htmx polling); 0 turns them off.
    refresh_s: float = 5.0
    #: Take the signed-in user from Azure App Service / Container Apps authentication headers.
    easy_auth: bool = False
    #: The stage predictions go to by default: None means ``production`` when declared, else the
    #: last stage of mlops.yaml.
    stage: str | None = None
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    #: Rows per scoring request when a CSV goes through the endpoint.
    chunk_rows: int = 1000
    #: A CSV with more rows is scored by batch scoring (the project's batch script in a process
    #: pool, as ``mlops score batch``) instead of through the endpoint.
    batch_rows: int = BATCH_ROWS
    #: Extra Flask config (tests set ``TESTING``).
    flask: dict[str, object] = field(default_factory=dict)

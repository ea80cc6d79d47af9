"""``exclusive`` on Azure: a blob lease on ``mlops/locks/<name>`` in the default datastore.

The lease lasts a minute and a background thread renews it every 20 s while the block runs, so
a holder that dies (a DevOps agent cancelled mid-run) frees the lock within a minute, while one
that runs for hours keeps it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from mlops_azure.azure.connection import AzurePart
from mlops_azure.records import LockHolder
from mlops_azure.rules import check_lock_name
from mlops_azure.workspace import Locks

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient

LEASE_S = 60
RENEW_EVERY_S = 20.0


class AzureLocks(AzurePart, Locks):
    """Workspace-wide locks as blob leases."""

    def _lock_blob(self, name: str) -> BlobClient:
        check_lock_name(name)
        return self.store.container.get_blob_client(f"mlops/locks/{name}")

    @contextmanager
    def exclusive(self, name: str, holder: str = "") -> Iterator[bool]:
        from azure.core.exceptions import HttpResponseError, ResourceExistsError

        blob = self._lock_blob(name)
        with self.call(f"taking lock {name}"):
            with suppress(ResourceExistsError):
                blob.upload_blob(b"", overwrite=False)
            try:
                lease = blob.acquire_lease(lease_duration=LEASE_S)
            except HttpResponseError as exc:
                if exc.status_code != 409:  # 409: another holder's lease
                    raise
                lease = None
            if lease is not None:
                # Metadata values are ASCII: the description is percent-encoded.
                blob.set_blob_metadata({"holder": quote(holder), "since": _now_iso()}, lease=lease)
        if lease is None:
            yield False
            return
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(RENEW_EVERY_S):
                with suppress(HttpResponseError):
                    lease.renew()

        keeper = threading.Thread(target=renew, name=f"lease-{name}", daemon=True)
        keeper.start()
        try:
            yield True
        finally:
            stop.set()
            keeper.join(timeout=5)
            with suppress(HttpResponseError):
                lease.release()

    def holder(self, name: str) -> LockHolder | None:
        """The holder's description from the lock blob's metadata; None when it has no lease."""
        from azure.core.exceptions import ResourceNotFoundError

        blob = self._lock_blob(name)
        with self.call(f"reading lock {name}"):
            try:
                props = blob.get_blob_properties()
            except ResourceNotFoundError:
                return None
        if props.lease.state != "leased":
            return None
        since = props.metadata.get("since")
        return LockHolder(unquote(props.metadata.get("holder", "")) or "another process",
                          datetime.fromisoformat(since) if since else None)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

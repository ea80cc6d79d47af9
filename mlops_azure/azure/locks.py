"""``exclusive`` on Azure: a blob lease on ``mlops/locks/<name>`` in the default datastore.

The lease lasts a minute and a background thread renews it every 20 s while the block runs, so
a holder that dies (a DevOps agent cancelled mid-run) frees the lock within a minute, while one
that runs for hours keeps it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from mlops_azure.azure.connection import AzureConnection
from mlops_azure.rules import check_lock_name

LEASE_S = 60
RENEW_EVERY_S = 20.0


class AzureLocks(AzureConnection):
    """Workspace-wide locks as blob leases."""

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        from azure.core.exceptions import HttpResponseError, ResourceExistsError

        check_lock_name(name)
        blob = self.store.container.get_blob_client(f"mlops/locks/{name}")
        with self.call(f"taking lock {name}"):
            with suppress(ResourceExistsError):
                blob.upload_blob(b"", overwrite=False)
            try:
                lease = blob.acquire_lease(lease_duration=LEASE_S)
            except HttpResponseError as exc:
                if exc.status_code != 409:  # 409: another holder's lease
                    raise
                lease = None
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

"""What every part of the Azure workspace shares: the client, the datastores, a local cache.

Everything is built on first use, so constructing a workspace makes no network call and
``mlops --help`` never imports the SDK.
"""

from __future__ import annotations

import re
import secrets
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_azure.azure import client
from mlops_azure.azure.blobs import BlobFolder, blob_service
from mlops_azure.azure.client import AzureCoordinates, calling, make_client
from mlops_azure.errors import BackendError

if TYPE_CHECKING:
    from azure.ai.ml import MLClient
    from azure.core.credentials import TokenCredential
    from azure.storage.blob import BlobServiceClient

#: The datastore Azure ML writes step logs to (``ExperimentRun/dcid.<run>/...``).
ARTIFACT_DATASTORE = "workspaceartifactstore"
#: ``.../models/<name>/versions/<version>`` at the end of an ARM id.
MODEL_ID = re.compile(r"/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$")


def utc(value: datetime | str | None) -> datetime:
    """A timezone-aware UTC datetime from what the SDK returns (datetime or ISO string)."""
    if value is None:
        return datetime.now(UTC)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def created_at(entity: Any) -> datetime:
    context = getattr(entity, "creation_context", None)
    return utc(getattr(context, "created_at", None))


def as_version(value: object, what: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise BackendError(f"{what} has version '{value}', which mlops does not manage "
                           "(mlops versions are whole numbers)") from None


class AzureConnection:
    """The MLClient, the default and artifact datastores, and a local download cache."""

    def __init__(
        self,
        coords: AzureCoordinates,
        cache_dir: Path,
        *,
        credential: TokenCredential | None = None,
        blobs: BlobServiceClient | None = None,
        poll_interval_s: float = 10.0,
    ) -> None:
        self.coords = coords
        self.cache = cache_dir
        self._credential = credential
        self._blobs = blobs
        self.poll_interval_s = poll_interval_s

    def call(self, doing: str) -> AbstractContextManager[None]:
        """Map SDK exceptions inside the block to one-sentence mlops errors."""
        return calling(self.coords, doing)

    @staticmethod
    def wait_for(poller: Any, timeout_s: float) -> tuple[bool, Any]:
        """Wait at most ``timeout_s`` for a long-running operation: ``(True, result)`` once it
        finished, ``(False, None)`` while it still runs. ``poller.result(timeout)`` alone cannot
        tell: it returns (or fails deserializing) whatever is there when the wait ends."""
        poller.wait(timeout=max(timeout_s, 0.1))
        if not poller.done():
            return False, None
        return True, poller.result()

    @cached_property
    def credential(self) -> TokenCredential:
        return self._credential or client.default_credential()

    @cached_property
    def ml(self) -> MLClient:
        return make_client(self.coords, self.credential)

    @cached_property
    def _default_datastore(self) -> Any:
        with self.call("reading the default datastore"):
            return self.ml.datastores.get_default()

    @property
    def datastore_name(self) -> str:
        return str(self._default_datastore.name)

    def _folder(self, datastore: Any) -> BlobFolder:
        if self._blobs is None:
            from mlops_azure.azure.client import with_retries

            self._blobs = blob_service(str(datastore.account_name), self.credential,
                                       with_retries({}, self.coords))
        return BlobFolder(self._blobs.get_container_client(str(datastore.container_name)))

    @cached_property
    def store(self) -> BlobFolder:
        """The default datastore's container (data, inputs, job outputs, audit events)."""
        return self._folder(self._default_datastore)

    def folder(self, datastore: str) -> BlobFolder:
        """The container behind a named datastore."""
        if datastore == self.datastore_name:
            return self.store
        with self.call(f"reading datastore {datastore}"):
            return self._folder(self.ml.datastores.get(datastore))

    @cached_property
    def artifact_store(self) -> BlobFolder:
        return self.folder(ARTIFACT_DATASTORE)

    def cached(self, kind: str, key: str) -> Path:
        return self.cache / kind / key

    def staging(self, kind: str) -> Path:
        """A fresh folder next to the cache entries of ``kind``, renamed into place when done."""
        folder = self.cache / kind / f".partial-{secrets.token_hex(6)}"
        folder.mkdir(parents=True)
        return folder


class AzurePart:
    """One service of the Azure workspace (models, endpoints, ...): shares the workspace's
    :class:`AzureConnection`, so every part talks through one client and one cache."""

    def __init__(self, conn: AzureConnection) -> None:
        self.conn = conn

    @property
    def coords(self) -> AzureCoordinates:
        return self.conn.coords

    @property
    def cache(self) -> Path:
        return self.conn.cache

    @property
    def poll_interval_s(self) -> float:
        return self.conn.poll_interval_s

    @property
    def credential(self) -> TokenCredential:
        return self.conn.credential

    @property
    def ml(self) -> MLClient:
        return self.conn.ml

    @property
    def store(self) -> BlobFolder:
        return self.conn.store

    @property
    def datastore_name(self) -> str:
        return self.conn.datastore_name

    @property
    def artifact_store(self) -> BlobFolder:
        return self.conn.artifact_store

    def call(self, doing: str) -> AbstractContextManager[None]:
        return self.conn.call(doing)

    def folder(self, datastore: str) -> BlobFolder:
        return self.conn.folder(datastore)

    def cached(self, kind: str, key: str) -> Path:
        return self.conn.cached(kind, key)

    def staging(self, kind: str) -> Path:
        return self.conn.staging(kind)

    @staticmethod
    def wait_for(poller: Any, timeout_s: float) -> tuple[bool, Any]:
        return AzureConnection.wait_for(poller, timeout_s)

    def finish(self, poller: Any, doing: str, timeout_s: float | None = None) -> Any:
        """Wait for a started long-running operation at most ``timeout_s`` (default
        ``azure.operation_timeout_s``); its result. ``poller.result(timeout)`` alone returns
        whatever is there when the wait ends, so a still running operation would pass for a
        finished one."""
        limit = timeout_s or self.coords.operation_timeout_s
        done, result = self.wait_for(poller, limit)
        if not done:
            raise BackendError(f"{doing} did not finish within {limit:.0f} s "
                               "(azure.operation_timeout_s); it may still complete on Azure ML")
        return result

    def _operation(self, start: Any, doing: str, timeout_s: float | None = None) -> Any:
        """Start a long-running operation and wait for it (:meth:`finish`), within one
        ``call`` so the SDK's poll output never reaches stdout."""
        with self.call(doing):
            return self.finish(start(), doing, timeout_s)

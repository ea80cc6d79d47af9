"""Our own blob I/O on the workspace's datastores, with azure-storage-blob.

mlops uploads data and local inputs itself (content-addressed, so an unchanged file is never
sent twice) and reads job outputs, step logs and audit events straight from the datastore: one
code path whether the account is Azure Storage or Azurite. ``AZURE_STORAGE_CONNECTION_STRING``
(the variable azure-storage-blob's own tools read) points it at another account, e.g. Azurite;
otherwise the datastore's account is used with the workspace credential (identity-based access:
the user needs Storage Blob Data Contributor on it).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from mlops_azure.errors import BackendError, UserInputError

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.storage.blob import BlobServiceClient, ContainerClient

#: ``azureml://datastores/<ds>/paths/<p>``, also in the long form the service returns.
DATASTORE_URI = re.compile(
    r"azureml://(?:subscriptions/[^/]+/resource[gG]roups/[^/]+/"
    r"(?:providers/Microsoft\.MachineLearningServices/)?workspaces/[^/]+/)?"
    r"datastores/(?P<datastore>[^/]+)/paths/(?P<path>.*)"
)
CONNECTION_STRING_VARIABLE = "AZURE_STORAGE_CONNECTION_STRING"


def parse_datastore_uri(uri: str) -> tuple[str, str]:
    """(datastore, path) of an ``azureml://.../datastores/<ds>/paths/<p>`` URI."""
    found = DATASTORE_URI.fullmatch(uri.strip())
    if not found:
        raise BackendError(f"'{uri}' is not an azureml:// datastore path")
    return found["datastore"], found["path"]


def datastore_uri(datastore: str, path: str) -> str:
    return f"azureml://datastores/{datastore}/paths/{path}"


def blob_service(account_name: str, credential: TokenCredential, retries: dict[str, Any],
                 endpoint_suffix: str = "core.windows.net") -> BlobServiceClient:
    """The blob service of a datastore account, or of ``AZURE_STORAGE_CONNECTION_STRING``."""
    from azure.storage.blob import BlobServiceClient

    connection = os.environ.get(CONNECTION_STRING_VARIABLE)
    if connection:
        return BlobServiceClient.from_connection_string(connection, **retries)
    return BlobServiceClient(f"https://{account_name}.blob.{endpoint_suffix}",
                             credential=credential, **retries)


@dataclass
class BlobFolder:
    """One datastore container, addressed by blob-name prefixes ("folders")."""

    container: ContainerClient

    def ensure(self) -> None:
        from azure.core.exceptions import ResourceExistsError

        with contextlib.suppress(ResourceExistsError):
            self.container.create_container()

    def upload(self, source: Path, prefix: str) -> str:
        """Upload a file to ``prefix/<name>`` or a folder's files under ``prefix/<name>/``;
        returns the blob path of what was uploaded (file or folder)."""
        target = f"{prefix.rstrip('/')}/{source.name}"
        files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        if not source.exists():
            raise UserInputError(f"{source}: no such file or folder to upload")
        for file in files:
            name = target if file == source else f"{target}/{file.relative_to(source).as_posix()}"
            with file.open("rb") as handle:
                self.container.upload_blob(name, handle, overwrite=True, max_concurrency=4)
        return target

    def names(self, prefix: str) -> Iterator[str]:
        yield from self.container.list_blob_names(name_starts_with=prefix)

    def exists(self, prefix: str) -> bool:
        return next(iter(self.names(prefix)), None) is not None

    def download(self, prefix: str, dest: Path) -> Path:
        """Download a blob (to ``dest/<name>``) or every blob under a folder prefix (to
        ``dest/``, keeping relative paths); returns the local file or folder."""
        prefix = prefix.rstrip("/")
        names = [n for n in self.names(prefix) if n == prefix or n.startswith(prefix + "/")]
        if not names:
            raise BackendError(f"nothing stored at '{prefix}' in container "
                               f"{self.container.container_name}")
        if names == [prefix]:
            dest.mkdir(parents=True, exist_ok=True)
            file = dest / PurePosixPath(prefix).name
            self._fetch(prefix, file)
            return file
        for name in names:
            self._fetch(name, dest / PurePosixPath(name[len(prefix) + 1:]))
        return dest

    def _fetch(self, name: str, file: Path) -> None:
        file.parent.mkdir(parents=True, exist_ok=True)
        partial = file.with_name(file.name + ".partial")
        with partial.open("wb") as handle:
            self.container.download_blob(name, max_concurrency=4).readinto(handle)
        partial.replace(file)

    def read(self, name: str) -> bytes:
        return bytes(self.container.download_blob(name).readall())

    def write(self, name: str, data: bytes, metadata: dict[str, str] | None = None) -> None:
        self.container.upload_blob(name, data, overwrite=False, metadata=metadata)

"""A blob container watched for new data files (``mlops watch data``), with azure-storage-blob.

Works against any account: ``AZURE_STORAGE_CONNECTION_STRING`` (e.g. Azurite) or an account URL
with ``DefaultAzureCredential`` (the identity needs Storage Blob Data Reader on the container).
A blob is downloaded only if it still has the etag it was listed with, so what is registered is
exactly the version that was seen.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from mlops_azure.azure.blobs import CONNECTION_STRING_VARIABLE
from mlops_azure.errors import BackendError, MlopsError, NotFoundError, UserInputError
from mlops_azure.records import BlobInfo

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.storage.blob import ContainerClient


class BlobChanged(BackendError):
    """The blob was overwritten between listing and download (the next pass sees the new one)."""


class ContainerSource:
    """The blobs of one container, listed and downloaded for the data watcher."""

    def __init__(self, container: str, *, account_url: str | None = None,
                 credential: TokenCredential | None = None,
                 connection_string: str | None = None) -> None:
        from azure.storage.blob import ContainerClient

        self.container = container
        connection_string = connection_string or os.environ.get(CONNECTION_STRING_VARIABLE)
        retries: dict[str, Any] = {"retry_total": 3, "connection_timeout": 10, "read_timeout": 60}
        if account_url:
            if credential is None:
                from mlops_azure.azure.client import default_credential

                credential = default_credential()
            self.where = f"{account_url.rstrip('/')}/{container}"
            self.client: ContainerClient = ContainerClient(account_url, container,
                                                           credential=credential, **retries)
        elif connection_string:
            self.client = ContainerClient.from_connection_string(connection_string, container,
                                                                 **retries)
            self.where = f"{self.client.url} ({CONNECTION_STRING_VARIABLE})"
        else:
            raise UserInputError("say which storage account to watch: --account-url "
                                 "https://ACCOUNT.blob.core.windows.net, or set "
                                 f"{CONNECTION_STRING_VARIABLE}")

    @contextmanager
    def _calling(self, doing: str) -> Iterator[None]:
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ResourceModifiedError,
            ResourceNotFoundError,
            ServiceRequestError,
        )

        try:
            yield
        except MlopsError:
            raise
        except ResourceNotFoundError:
            raise NotFoundError(f"{doing}: container {self.where} does not exist") from None
        except ResourceModifiedError:
            raise BlobChanged(f"{doing}: the blob changed while it was read") from None
        except ClientAuthenticationError as exc:
            raise BackendError(f"{doing}: not signed in to {self.where} "
                               f"({str(exc).splitlines()[0]})") from None
        except HttpResponseError as exc:
            if exc.status_code == 403:
                raise BackendError(f"{doing}: no permission on {self.where}: the identity needs "
                                   "Storage Blob Data Reader on it") from None
            raise BackendError(f"{doing}: {self.where} answered {exc.status_code} "
                               f"({exc.reason})") from None
        except ServiceRequestError as exc:
            raise BackendError(f"{doing}: cannot reach {self.where} "
                               f"({str(exc).splitlines()[0]})") from None

    def list(self, prefix: str = "") -> list[BlobInfo]:
        """Every blob under ``prefix`` (folders' placeholder blobs of size 0 left out)."""
        with self._calling(f"listing {self.container}/{prefix}"):
            return [BlobInfo(b.name, str(b.etag).strip('"'), b.last_modified, int(b.size or 0))
                    for b in self.client.list_blobs(name_starts_with=prefix or None)
                    if b.size]

    def download(self, blob: BlobInfo, folder: Path) -> Path:
        """The blob, as listed (same etag), into ``folder`` under its base name."""
        from azure.core import MatchConditions

        file = folder / PurePosixPath(blob.name).name
        partial = file.with_name(file.name + ".partial")
        with self._calling(f"downloading {self.container}/{blob.name}"), partial.open("wb") as out:
            self.client.download_blob(blob.name, etag=f'"{blob.etag}"',
                                      match_condition=MatchConditions.IfNotModified,
                                      max_concurrency=4).readinto(out)
        partial.replace(file)
        return file

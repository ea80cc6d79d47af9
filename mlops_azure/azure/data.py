"""Data assets on Azure ML: content-addressed uploads to the default datastore, then a version.

The upload goes to ``mlops/data/<name>/<sha256>/`` with azure-storage-blob, so identical content
is never stored twice and the data asset only points at it (``azureml://datastores/...``); the
content hash rides along as a tag and is checked again after every download.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from mlops_azure._tree_hash import tree_hash
from mlops_azure.audit_events import DataUploadEvent, resolve_actor
from mlops_azure.azure.blobs import datastore_uri, parse_datastore_uri
from mlops_azure.azure.client import VERSION_ATTEMPTS, VersionTaken
from mlops_azure.azure.connection import AzureConnection, AzurePart, as_version, created_at
from mlops_azure.errors import BackendError, NotFoundError, UserInputError
from mlops_azure.rules import check_asset_name
from mlops_azure.workspace import AuditTrail, DataAsset, DataAssets, InputValue

SHA_TAG = "mlops.sha256"
SIZE_TAG = "mlops.size_bytes"
#: Beside a cached download: whether the asset is one file or a folder.
KIND_FILE = ".kind"


class AzureData(AzurePart, DataAssets):
    """Data assets on Azure ML; each upload is recorded in ``events``."""

    def __init__(self, conn: AzureConnection, events: AuditTrail) -> None:
        super().__init__(conn)
        self.events = events

    def upload(self, name: str, path: Path, *, description: str = "",
                    actor: str | None = None) -> DataAsset:
        """Upload ``path`` as the next version of ``name``; unchanged content returns the latest."""
        from azure.ai.ml.constants import AssetTypes
        from azure.ai.ml.entities import Data

        check_asset_name(name, "data asset")
        path = Path(path)
        if not path.exists():
            raise UserInputError(f"data path {path} does not exist")
        digest = tree_hash(path)
        if path.is_dir() and digest.files == 0:
            raise UserInputError(f"data folder {path} is empty")
        latest = self._latest_data(name)
        if latest is not None and latest.sha256 == digest.sha256:
            return latest
        with self.call(f"uploading {path} to datastore {self.datastore_name}"):
            blob_path = self.store.upload(path, f"mlops/data/{name}/{digest.sha256}")
        version = (latest.version if latest else 0) + 1
        for attempt in range(VERSION_ATTEMPTS):
            asset = Data(
                name=name, version=str(version), description=description or None,
                type=AssetTypes.URI_FOLDER if path.is_dir() else AssetTypes.URI_FILE,
                path=datastore_uri(self.datastore_name, blob_path),
                tags={SHA_TAG: digest.sha256, SIZE_TAG: str(digest.size_bytes)},
            )
            try:
                with self.call(f"registering data asset {name}:{version}"):
                    created = self.ml.data.create_or_update(asset)
                break
            except VersionTaken:
                # Versions are immutable: another upload (or an archived version) holds this
                # number, so take the one after the highest, archived ones included.
                if attempt == VERSION_ATTEMPTS - 1:
                    raise
                version = self._next_data_version(name)
        result = self._to_asset(created)
        event = DataUploadEvent(subject=result.ref, source=str(path.resolve()),
                                sha256=digest.sha256, size_bytes=digest.size_bytes)
        self.events.record(event.ACTION, event.subject, event.details(), actor=resolve_actor(actor))
        return result

    def _next_data_version(self, name: str) -> int:
        """One past the highest version of data asset ``name``, archived ones included."""
        from azure.ai.ml.constants import ListViewType

        with self.call(f"listing the versions of data asset {name}"):
            found = [d.version for d in self.ml.data.list(name=name,
                                                           list_view_type=ListViewType.ALL)]
        return max((int(v) for v in found if str(v).isdigit()), default=0) + 1

    def _latest_data(self, name: str) -> DataAsset | None:
        try:
            return self.get(name)
        except NotFoundError:
            return None

    def get(self, name: str, version: int | None = None) -> DataAsset:
        """One version of a data asset; the latest when ``version`` is None."""
        ref = f"{name}:{version}" if version is not None else f"{name} (latest)"
        try:
            with self.call(f"reading data asset {ref}"):
                found = (self.ml.data.get(name, version=str(version)) if version is not None
                         else self.ml.data.get(name, label="latest"))
        except NotFoundError:
            raise NotFoundError(f"data asset '{name}' does not exist" if version is None
                                else f"data asset '{name}' has no version {version}") from None
        return self._to_asset(found)

    def versions(self, name: str | None = None) -> list[DataAsset]:
        """Data asset versions, newest first (only those uploaded by mlops, with a hash tag)."""
        with self.call("listing data assets"):
            names = [name] if name else [str(c.name) for c in self.ml.data.list()]
            found = [d for n in names for d in self.ml.data.list(name=n)]
        assets = [self._to_asset(d) for d in found if SHA_TAG in (d.tags or {})]
        return sorted(assets, key=lambda a: (a.created_at, a.version), reverse=True)

    def local_path(self, asset: DataAsset) -> Path:
        """The asset's content in the local cache, downloaded once and verified by hash."""
        final = self.cached("data", asset.sha256)
        if final.exists():
            return _single(final)
        datastore, blob_path = parse_datastore_uri(asset.path)
        staging = self.staging("data")
        with self.call(f"downloading data asset {asset.ref}"):
            got = self.folder(datastore).download(blob_path, staging / "content")
        if tree_hash(got).sha256 != asset.sha256:
            shutil.rmtree(staging, ignore_errors=True)
            raise BackendError(f"the artifacts of data asset {asset.ref} at {asset.path} are "
                               "missing or altered (the download does not match the upload's hash)")
        (staging / KIND_FILE).write_text("file" if got.is_file() else "folder")
        staging.replace(final)
        return _single(final)

    def input(self, asset: DataAsset) -> InputValue:
        """Jobs read the asset where it is stored: ``azureml:<name>:<version>``."""
        return f"azureml:{asset.name}:{asset.version}"

    def _to_asset(self, data: Any) -> DataAsset:
        tags = dict(data.tags or {})
        if SHA_TAG not in tags:
            raise BackendError(f"data asset {data.name}:{data.version} was not uploaded by mlops "
                               f"(no {SHA_TAG} tag): upload it with 'mlops data upload'")
        return DataAsset(
            name=str(data.name), version=as_version(data.version, f"data asset {data.name}"),
            path=str(data.path), sha256=tags[SHA_TAG], size_bytes=int(tags.get(SIZE_TAG, 0)),
            created_at=created_at(data), description=str(data.description or ""),
        )


def _single(folder: Path) -> Path:
    """A cached download: the file itself when the asset is one file, else the folder."""
    content = folder / "content"
    if (folder / KIND_FILE).read_text() == "file":
        return next(content.iterdir())
    return content

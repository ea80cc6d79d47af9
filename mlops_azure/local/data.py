"""Data assets of the embedded workspace: content-addressed copies in the artifact store."""

from __future__ import annotations

from pathlib import Path

from mlops_azure._tree_hash import tree_hash
from mlops_azure.audit_events import DataUploadEvent, resolve_actor
from mlops_azure.errors import UserInputError
from mlops_azure.local import metadata as db
from mlops_azure.local.store import LocalPart
from mlops_azure.rules import check_asset_name
from mlops_azure.workspace import DataAsset, DataAssets


class LocalData(LocalPart, DataAssets):
    """Data asset versions in the ``data_assets`` table, content in the artifact store."""

    def upload(self, name: str, path: Path, *, description: str = "",
                    actor: str | None = None) -> DataAsset:
        """Store ``path`` as the next version of ``name``; unchanged content returns the latest."""
        check_asset_name(name, "data asset")
        path = Path(path)
        if not path.exists():
            raise UserInputError(f"data path {path} does not exist")
        digest = tree_hash(path)
        if path.is_dir() and digest.files == 0:
            raise UserInputError(f"data folder {path} is empty")
        with self._db() as conn:
            latest = db.fetch_version(conn, "data_assets", name, None)
        if latest is not None and latest["sha256"] == digest.sha256 and self.artifacts.verify(
            self.artifacts.relocate(Path(latest["path"]), digest.sha256), digest.sha256
        ):
            return db.data_from_row(latest)
        stored = self.artifacts.put(path)  # also repairs an altered copy of identical content
        who = resolve_actor(actor)  # before the transaction: it may ask git
        with self._db() as conn, db.write_transaction(conn):
            latest = db.fetch_version(conn, "data_assets", name, None)
            if latest is not None and latest["sha256"] == stored.sha256:
                return db.data_from_row(latest)  # the same content was uploaded meanwhile
            version = (int(latest["version"]) if latest is not None else 0) + 1
            conn.execute(
                "INSERT INTO data_assets (name, version, path, sha256, size_bytes, description, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, version, str(stored.path), stored.sha256, stored.size_bytes, description,
                 db.to_iso(db.utc_now())),
            )
            event = DataUploadEvent(subject=f"{name}:{version}", source=str(path.resolve()),
                                    sha256=stored.sha256, size_bytes=stored.size_bytes)
            db.insert_event(conn, event.ACTION, event.subject, event.details(), who)
            new = db.fetch_version(conn, "data_assets", name, version)
        assert new is not None  # inserted just above, in this transaction
        return db.data_from_row(new)

    def get(self, name: str, version: int | None = None) -> DataAsset:
        """One version of a data asset; the latest when ``version`` is None."""
        return db.data_from_row(self._row("data_assets", "data asset", name, version))

    def versions(self, name: str | None = None) -> list[DataAsset]:
        """Data asset versions, newest first."""
        with self._db() as conn:
            return [db.data_from_row(row) for row in db.fetch_versions(conn, "data_assets", name)]

    def local_path(self, asset: DataAsset) -> Path:
        """The stored file or folder of ``asset``, verified against its content hash."""
        return self._verified(self._row("data_assets", "data asset", asset.name, asset.version),
                              "data asset")

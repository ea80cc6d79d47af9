"""The simulator's workspace, datastores, computes and versioned assets.

Versioned assets (code, environments, components, data, models) share one behaviour: a container
with ``latestVersion`` / ``nextVersion``, versions PUT and GET by number, listed newest first
(``$top=1`` is how the SDK asks for ``latest``), archived ones hidden from active listings.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_azure.testing.simulator import Request, Response, arm_error, not_found, reply

if TYPE_CHECKING:
    from mlops_azure.testing.simulator import SimulatedAzureML

ASSET_KINDS = ("codes", "environments", "components", "data", "models")
#: The workspace's datastores and the container prefix of each (a simulator adds its own suffix,
#: so simulators sharing one Azurite never see each other's blobs).
DATASTORES = {"workspaceblobstore": "azureml-blobstore", "workspaceartifactstore": "azureml"}
#: The long datastore URI form the service writes into asset bodies.
DATASTORE_URI = re.compile(r"azureml://(?:subscriptions/[^/]+/resource[gG]roups/[^/]+/"
                           r"(?:providers/Microsoft\.MachineLearningServices/)?workspaces/[^/]+/)?"
                           r"datastores/(?P<ds>[^/]+)/paths/(?P<path>.*)")
JOB_OUTPUT = re.compile(r"azureml://jobs/(?P<job>[^/]+)/outputs/(?:artifacts/paths/)?(?P<out>[^/]+)/?")


#: What a version *is*, per kind: Azure ML asset versions are immutable ("Create and manage data
#: assets": once created, a version cannot be modified), so a PUT that changes any of these on an
#: existing version is a 409; description, tags, properties and ``isArchived`` may change.
CONTENT = {"codes": ("codeUri",), "data": ("dataUri", "dataType"),
           "models": ("modelUri", "modelType"),
           "environments": ("image", "condaFile", "build", "inferenceConfig"),
           "components": ("componentSpec",)}


def _version_key(doc: dict[str, Any]) -> tuple[int, str]:
    name = str(doc["name"])
    return (int(name), name) if name.isdigit() else (0, name)


class AssetHandlers:
    """Everything below the workspace that is not a job or an online endpoint."""

    def __init__(self, sim: SimulatedAzureML) -> None:
        self.sim = sim
        suffix = sim.new_id()[:12]
        self.containers = {name: f"{prefix}-{suffix}" for name, prefix in DATASTORES.items()}
        self._code_sas_container = f"code-uploads-{suffix}"

    # -- storage -------------------------------------------------------------------------------
    def create_storage(self) -> None:
        from azure.core.exceptions import ResourceExistsError

        for container in (*self.containers.values(), self._code_sas_container):
            with contextlib.suppress(ResourceExistsError):
                self.sim.blobs.create_container(container)

    def container_of(self, datastore: str) -> str:
        if datastore not in self.containers:
            raise KeyError(f"no datastore {datastore}")
        return self.containers[datastore]

    def long_uri(self, datastore: str, path: str) -> str:
        return (f"azureml://subscriptions/{self.sim.subscription}/resourcegroups/"
                f"{self.sim.resource_group}/workspaces/{self.sim.workspace}/datastores/"
                f"{datastore}/paths/{path}")

    def download_uri(self, uri: str, dest: Path) -> Path:
        """Download what an ``azureml://datastores/...`` URI names: a blob or a folder prefix."""
        found = DATASTORE_URI.fullmatch(uri)
        if not found:
            raise ValueError(f"not a datastore URI: {uri}")
        container = self.sim.container(found["ds"])
        prefix = found["path"].rstrip("/")
        names = [b for b in container.list_blob_names(name_starts_with=prefix)
                 if b == prefix or b.startswith(prefix + "/")]
        if names == [prefix]:
            file = dest / Path(prefix).name
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(container.download_blob(prefix).readall())
            return file
        if not names:
            raise FileNotFoundError(f"nothing stored at {uri}")
        for name in names:
            file = dest / name[len(prefix) + 1:]
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(container.download_blob(name).readall())
        return dest

    def model_dir(self, model_arm_id: str) -> Path:
        """A local copy of a model version's files (downloaded once)."""
        doc = self._by_id(model_arm_id, "models")
        target = self.sim.root / "models" / re.sub(r"[^A-Za-z0-9_.-]", "_", model_arm_id[-80:])
        if not target.exists():
            staging = target.with_name(target.name + ".partial")
            shutil.rmtree(staging, ignore_errors=True)
            self.download_uri(doc["properties"]["modelUri"], staging)
            staging.replace(target)
        return target

    def code_dir(self, code_arm_id: str) -> Path:
        """A local copy of a code asset version (what ``startPendingUpload`` received)."""
        doc = self._by_id(code_arm_id, "codes")
        target = self.sim.root / "code" / re.sub(r"[^A-Za-z0-9_.-]", "_", code_arm_id[-80:])
        if target.exists():
            return target
        uri = str(doc["properties"]["codeUri"])
        _container_url, _, prefix = uri.partition(f"/{self._code_sas_container}/")
        if not prefix:
            raise FileNotFoundError(f"code asset {code_arm_id} is not in simulated storage")
        container = self.sim.blobs.get_container_client(self._code_sas_container)
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        for name in container.list_blob_names(name_starts_with=prefix.rstrip("/") + "/"):
            file = staging / name[len(prefix.rstrip("/")) + 1:]
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(container.download_blob(name).readall())
        staging.mkdir(parents=True, exist_ok=True)
        staging.replace(target)
        return target

    def _by_id(self, arm_id: str, kind: str) -> dict[str, Any]:
        """An asset version by ARM id, ``azureml:name:version`` or ``name:version``."""
        text = arm_id.removeprefix("azureml:")
        found = re.search(rf"/{kind}/([^/]+)/versions/([^/]+)$", text)
        name, version = (found[1], found[2]) if found else text.rsplit(":", 1)
        doc = self.sim.resources.get(self.sim.arm_id(f"/{kind}/{name}/versions/{version}"))
        if doc is None:
            raise FileNotFoundError(f"{kind} {name}:{version} does not exist")
        return doc

    def resolve_input(self, value: str) -> str:
        """An input path as a datastore URI: ``azureml:name:version`` / ``name@latest`` data or
        model references are replaced by where their content is stored."""
        if value.startswith("azureml://") and "/datastores/" in value:
            return value
        job_output = JOB_OUTPUT.fullmatch(value)
        if job_output:
            return self.sim.jobs.output_uri(job_output["job"], job_output["out"])
        text = value.removeprefix("azureml:")
        found = re.search(r"/(data|models)/([^/]+)/versions/([^/]+)$", text)
        if found:
            kinds, name, version = [found[1]], found[2], found[3]
        else:
            name, _, version = text.partition(":")
            if "@" in name:
                name, _, version = name.partition("@")
            kinds = ["data", "models"]
        for kind in kinds:
            doc = self._version(kind, name, version)
            if doc is not None:
                props = doc["properties"]
                return str(props.get("dataUri") or props.get("modelUri"))
        raise FileNotFoundError(f"input {value}: no data asset or model of that name and version")

    def _version(self, kind: str, name: str, version: str) -> dict[str, Any] | None:
        if version in ("", "latest"):
            versions = self._versions(kind, name, active_only=True)
            return versions[0] if versions else None
        return self.sim.resources.get(self.sim.arm_id(f"/{kind}/{name}/versions/{version}"))

    # -- routing -------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response | None:
        rel = req.rel
        if req.host == self.sim.api_host and req.path.endswith("/discovery"):
            return reply(self._discovery())
        if rel is None or req.host != "management.azure.com":
            return None
        if rel in ("", "/") and req.method == "GET":
            return reply(self._workspace())
        if rel.startswith("/datastores"):
            return self._datastores(req, rel)
        if rel.startswith("/computes"):
            return self._computes(req, rel)
        kind = rel.split("/")[1] if rel.count("/") >= 1 else ""
        if kind in ASSET_KINDS:
            return self._assets(req, kind, rel)
        return None

    def _workspace(self) -> dict[str, Any]:
        return {"id": self.sim.ws_path, "name": self.sim.workspace, "location": self.sim.location,
                "type": "Microsoft.MachineLearningServices/workspaces",
                "identity": {"type": "SystemAssigned"},
                "properties": {"workspaceId": "00000000-1111-2222-3333-444444444444",
                               "discoveryUrl": f"https://{self.sim.api_host}/discovery",
                               "mlFlowTrackingUri": f"azureml://{self.sim.api_host}/mlflow/v1.0"
                                                    f"{self.sim.ws_path}",
                               "provisioningState": "Succeeded"},
                "systemData": self.sim.system_data()}

    def _discovery(self) -> dict[str, str]:
        base = f"https://{self.sim.api_host}"
        return {key: base for key in ("api", "catalog", "experimentation", "gallery", "history",
                                      "hyperdrive", "labeling", "modelmanagement", "pipelines")} \
            | {"studio": "https://ml.azure.com"}

    # -- datastores ------------------------------------------------------------------------------
    def _datastore(self, name: str) -> dict[str, Any]:
        return {"id": self.sim.arm_id(f"/datastores/{name}"), "name": name,
                "type": "Microsoft.MachineLearningServices/workspaces/datastores",
                "properties": {"datastoreType": "AzureBlob", "accountName": "devstoreaccount1",
                               "containerName": self.containers[name],
                               "endpoint": "core.windows.net",
                               "protocol": "https", "credentials": {"credentialsType": "None"},
                               "isDefault": name == "workspaceblobstore"},
                "systemData": self.sim.system_data()}

    def _datastores(self, req: Request, rel: str) -> Response | None:
        parts = rel.strip("/").split("/")
        if len(parts) == 1 and req.method == "GET":
            names = list(DATASTORES)
            if req.query.get("isDefault", "").lower() == "true":
                names = ["workspaceblobstore"]
            return reply({"value": [self._datastore(n) for n in names]})
        if len(parts) >= 2 and parts[1] not in DATASTORES:
            return not_found(f"datastore {parts[1]}")
        if len(parts) == 2 and req.method == "GET":
            return reply(self._datastore(parts[1]))
        if len(parts) == 3 and parts[2] == "listSecrets":
            return arm_error(400, "NoSecrets", "identity-based datastores have no secrets")
        return None

    # -- computes --------------------------------------------------------------------------------
    def add_kubernetes_compute(self, name: str, namespace: str) -> None:
        resource = (f"/subscriptions/{self.sim.subscription}/resourceGroups/"
                    f"{self.sim.resource_group}/providers/Microsoft.ContainerService/"
                    f"managedClusters/{name}")
        self.sim.resources[self.sim.arm_id(f"/computes/{name}")] = {
            "id": self.sim.arm_id(f"/computes/{name}"), "name": name,
            "location": self.sim.location,
            "properties": {"computeType": "Kubernetes", "resourceId": resource,
                           "provisioningState": "Succeeded",
                           "properties": {"namespace": namespace}},
            "systemData": self.sim.system_data()}

    def _computes(self, req: Request, rel: str) -> Response | None:
        parts = rel.strip("/").split("/")
        if len(parts) == 1 and req.method == "GET":
            prefix = self.sim.arm_id("/computes/")
            return reply({"value": [d for k, d in self.sim.resources.items()
                                    if k.startswith(prefix)]})
        if len(parts) != 2:
            return None
        key = self.sim.arm_id(rel)
        if req.method == "GET":
            found = self.sim.resources.get(key)
            return reply(found) if found else not_found(f"compute {parts[1]}")
        if req.method == "PUT":
            body = req.body if isinstance(req.body, dict) else {}
            props = dict(body.get("properties") or {})
            props["provisioningState"] = "Succeeded"
            doc = {"id": key, "name": parts[1], "location": body.get("location", self.sim.location),
                   "identity": body.get("identity"), "properties": props,
                   "systemData": self.sim.system_data()}
            self.sim.resources[key] = doc
            return reply(doc)
        if req.method == "DELETE":
            return reply({}, 200) if self.sim.resources.pop(key, None) else not_found(parts[1])
        return None

    # -- versioned assets ------------------------------------------------------------------------
    def _versions(self, kind: str, name: str, *, active_only: bool) -> list[dict[str, Any]]:
        prefix = self.sim.arm_id(f"/{kind}/{name}/versions/")
        found = [d for k, d in self.sim.resources.items() if k.startswith(prefix)]
        if active_only:
            found = [d for d in found if not d["properties"].get("isArchived")]
        return sorted(found, key=_version_key, reverse=True)

    def _container(self, kind: str, name: str) -> dict[str, Any] | None:
        versions = self._versions(kind, name, active_only=False)
        if not versions:
            return None
        numbers = [int(v["name"]) for v in versions if str(v["name"]).isdigit()]
        latest = max(numbers) if numbers else 0
        return {"id": self.sim.arm_id(f"/{kind}/{name}"), "name": name,
                "properties": {"latestVersion": str(versions[0]["name"]),
                               "nextVersion": str(latest + 1), "isArchived": False,
                               "description": None, "tags": {}, "properties": {}},
                "systemData": versions[-1]["systemData"]}

    def _assets(self, req: Request, kind: str, rel: str) -> Response | None:
        parts = rel.strip("/").split("/")
        if len(parts) == 1 and req.method == "GET":
            names = sorted({k.split("/")[-3] for k in self.sim.resources
                            if k.startswith(self.sim.arm_id(f"/{kind}/")) and "/versions/" in k})
            containers = [self._container(kind, n) for n in names]
            return reply({"value": [c for c in containers if c is not None]})
        name = parts[1]
        if len(parts) == 2:
            if req.method == "GET":
                found = self._container(kind, name)
                return reply(found) if found else not_found(f"{kind} {name}")
            if req.method == "PUT":  # containers exist implicitly with their versions
                body = req.body if isinstance(req.body, dict) else {}
                return reply({"id": self.sim.arm_id(rel), "name": name,
                              "properties": body.get("properties", {}),
                              "systemData": self.sim.system_data()})
            return None
        if len(parts) == 3 and parts[2] == "versions" and req.method == "GET":
            versions = self._versions(kind, name,
                                      active_only=req.query.get("listViewType") != "All")
            if kind == "codes" and "hash" in req.query:
                # the SDK names code assets with a fresh uuid and asks for any with this hash
                prefix = self.sim.arm_id("/codes/")
                versions = [d for k, d in self.sim.resources.items()
                            if k.startswith(prefix) and d.get("_hash") == req.query["hash"]]
            if "$top" in req.query:
                versions = versions[: int(req.query["$top"])]
            return reply({"value": [self._public(v) for v in versions]})
        if len(parts) == 4 and parts[2] == "versions":
            key = self.sim.arm_id(rel)
            if req.method == "GET":
                found = self.sim.resources.get(key)
                return reply(self._public(found)) if found else not_found(
                    f"{kind} {name} version {parts[3]}")
            if req.method == "PUT":
                return self._put_version(req, kind, name, parts[3], key)
            if req.method == "DELETE":
                return reply({}) if self.sim.resources.pop(key, None) else not_found(rel)
        if len(parts) == 5 and parts[4] == "startPendingUpload" and kind == "codes":
            return reply(self._pending_upload(name, parts[3]))
        return None

    @staticmethod
    def _public(doc: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in doc.items() if not k.startswith("_")}

    def _put_version(self, req: Request, kind: str, name: str, version: str,
                     key: str) -> Response:
        body = req.body if isinstance(req.body, dict) else {}
        props = dict(body.get("properties") or {})
        old = self.sim.resources.get(key)
        if kind == "models":
            props["flavors"] = props.get("flavors") or {}
            uri = str(props.get("modelUri") or "")
            job_output = JOB_OUTPUT.fullmatch(uri)
            if job_output:
                status = self.sim.jobs.status_of(job_output["job"])
                if status is None:
                    return arm_error(400, "UserError", f"job {job_output['job']} does not exist")
                if status != "Completed":
                    return arm_error(400, "UserError",
                                     f"job {job_output['job']} is {status}, not Completed")
                props["modelUri"] = self.sim.jobs.output_uri(job_output["job"], job_output["out"])
                props["jobName"] = job_output["job"]
        if kind == "data":
            uri = str(props.get("dataUri") or "")
            found = DATASTORE_URI.fullmatch(uri)
            if found:
                props["dataUri"] = self.long_uri(found["ds"], found["path"])
        if kind == "environments":
            props.setdefault("environmentType", "UserCreated")
            props.setdefault("osType", "Linux")
        if old is not None:
            changed = [field for field in CONTENT[kind]
                       if field in props and props.get(field) != old["properties"].get(field)]
            if changed:
                return arm_error(409, "Conflict", f"{kind} {name} version {version} already "
                                 f"exists and asset versions are immutable: its {changed[0]} "
                                 "cannot be changed (only description, tags, properties and "
                                 "isArchived can be updated); register a new version")
        doc = {"id": key, "name": version, "type": f"Microsoft.MachineLearningServices/"
               f"workspaces/{kind}/versions", "properties": props,
               "systemData": old["systemData"] if old else self.sim.system_data()}
        if kind == "codes":
            doc["_hash"] = (props.get("properties") or {}).get("hash_sha256")
        self.sim.resources[key] = doc
        return reply(self._public(doc), 200)

    def _pending_upload(self, name: str, version: str) -> dict[str, Any]:
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        from mlops_azure.testing.azurite import ACCOUNT, ACCOUNT_KEY

        sas = generate_container_sas(
            ACCOUNT, self._code_sas_container, account_key=ACCOUNT_KEY,
            permission=ContainerSasPermissions(read=True, write=True, create=True, add=True,
                                               list=True),
            expiry=datetime.now(UTC) + timedelta(hours=2))
        base = f"{self.sim.blobs.url.rstrip('/')}/{self._code_sas_container}"
        return {"pendingUploadId": self.sim.new_id(),
                "pendingUploadType": "TemporaryBlobReference",
                "blobReferenceForConsumption": {
                    "blobUri": base,
                    "credential": {"credentialType": "SAS", "sasUri": f"{base}?{sas}"}}}

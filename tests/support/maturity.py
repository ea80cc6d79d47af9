"""Checking ``mlops maturity``'s evidence against the workspace it names."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from mlops_azure.workspace import Workspace


def assert_evidence_exists(found: dict[str, Any], root: Path, ws: Workspace) -> None:
    """Each piece of evidence names something that is there: a file, an audit event, a model
    version, a job, a commit."""
    events = {e.id for e in ws.events.recent(5000)}
    for piece in found["evidence"]:
        kind, ref = piece["kind"], piece["ref"]
        if kind == "file":
            assert (root / ref).is_file(), (found["id"], ref)
        elif kind == "event":
            assert int(ref) in events, (found["id"], ref)
        elif kind == "model":
            name, version = ref.split(":")
            assert ws.models.get(name, int(version)).ref == ref
        elif kind == "job":
            assert ws.jobs.get(ref).id == ref
        elif kind == "junit":
            assert Path(ref).is_file()
        elif kind == "commit":
            subprocess.run(["git", "-C", str(root), "cat-file", "-e", ref.removesuffix("-dirty")],
                           check=True, timeout=30)
        else:
            raise AssertionError(f"{found['id']}: evidence of kind {kind}")

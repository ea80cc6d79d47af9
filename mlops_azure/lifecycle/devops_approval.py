"""Who approved this Azure DevOps run's Environment check, from Azure DevOps itself.

No predefined variable names the approver (``BUILD_REQUESTEDFOR`` is whoever queued the run), so
the approval is read back through the documented REST API with the job's own token
(``SYSTEM_ACCESSTOKEN``, mapped by the step): the run's timeline lists its
``Checkpoint.Approval`` records ("Timeline - Get"), and "Approvals - Query" with
``$expand=steps`` names each step's ``actualApprover``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from mlops_azure.errors import UserInputError

API_VERSION = "7.1"
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class DevOpsApproval:
    """One approved step of an Environment approval check."""

    approval_id: str
    approver: str
    approver_name: str
    comment: str
    approved_at: str

    def to_dict(self) -> dict[str, str]:
        return {"approval_id": self.approval_id, "approver": self.approver,
                "approver_name": self.approver_name, "comment": self.comment,
                "approved_at": self.approved_at}


def _get(url: str, token: str, params: dict[str, str]) -> Any:
    import requests

    try:
        answer = requests.get(url, params={**params, "api-version": API_VERSION},
                              headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        raise UserInputError(f"cannot read the run's approvals from Azure DevOps ({exc})") from None
    if answer.status_code in (401, 403):
        raise UserInputError("Azure DevOps refused to show the run's approvals: the job's "
                             "System.AccessToken needs read access to builds (HTTP "
                             f"{answer.status_code})")
    answer.raise_for_status()
    return answer.json()


def _stage_approvals(records: list[dict[str, Any]], stage: str | None) -> list[str]:
    """Ids of the completed approvals in ``stage`` (every stage when it is unknown): an approval
    record's parent is its checkpoint, whose parent is the stage."""
    by_id = {str(r.get("id")): r for r in records}
    found = []
    for record in records:
        if record.get("type") != "Checkpoint.Approval" or record.get("state") != "completed":
            continue
        checkpoint = by_id.get(str(record.get("parentId")), {})
        owner = by_id.get(str(checkpoint.get("parentId")), {})
        if stage is None or owner.get("identifier") == stage or owner.get("name") == stage:
            found.append(str(record["id"]))
    return found


def run_approvals(run: dict[str, str]) -> list[DevOpsApproval]:
    """The approved steps of the Environment approvals of run ``run`` (see ``devops_run``)."""
    token = os.environ.get("SYSTEM_ACCESSTOKEN", "")
    if not token:
        raise UserInputError("--devops-environment reads the approver from Azure DevOps: map "
                             "SYSTEM_ACCESSTOKEN: $(System.AccessToken) in the step's env")
    if "collection" not in run or "project" not in run:
        raise UserInputError("--devops-environment needs SYSTEM_COLLECTIONURI and "
                             "SYSTEM_TEAMPROJECT, which every Azure DevOps job sets")
    base = f"{run['collection'].rstrip('/')}/{run['project']}/_apis"
    timeline = _get(f"{base}/build/builds/{run['run_id']}/timeline", token, {})
    ids = _stage_approvals(list(timeline.get("records") or []), run.get("stage"))
    if not ids:
        return []
    found = _get(f"{base}/pipelines/approvals", token,
                 {"approvalIds": ",".join(ids), "$expand": "steps"})
    approved = []
    for approval in found.get("value") or []:
        for step in approval.get("steps") or []:
            who = step.get("actualApprover") or {}
            if str(step.get("status", "")).lower() == "approved" and who:
                approved.append(DevOpsApproval(
                    approval_id=str(approval.get("id")),
                    approver=str(who.get("uniqueName") or who.get("displayName")),
                    approver_name=str(who.get("displayName") or who.get("uniqueName")),
                    comment=str(step.get("comment") or ""),
                    approved_at=str(step.get("lastModifiedOn") or "")))
    return approved

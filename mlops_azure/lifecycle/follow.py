"""What follows the serving model once traffic has moved: the endpoint's drift monitor and, when
the production champion changed, the training schedules pinned to it.

Called by a release command (deploy, promote, rollback) at the end of its traffic move, holding
the endpoint's lock. The move has succeeded by then, so a failure here is reported, not raised:
the release stands, and the next release (or ``mlops monitor setup``) puts it right.
"""

from __future__ import annotations

from collections.abc import Callable

from mlops_azure.config import ProjectConfig
from mlops_azure.errors import MlopsError
from mlops_azure.lifecycle.monitor_setup import retarget_monitor
from mlops_azure.lifecycle.schedules import repin_schedules
from mlops_azure.workspace import Workspace


def follow_traffic(ws: Workspace, config: ProjectConfig, endpoint: str, *, actor: str,
                   say: Callable[[str], None]) -> None:
    """Re-target ``endpoint``'s monitor at the deployment now serving; re-pin the schedules
    when ``endpoint`` is production's (its model is the champion a candidate must beat)."""
    try:
        moved = retarget_monitor(ws, endpoint, actor=actor)
        if moved is not None:
            say(f"monitor {moved.name} now watches deployment {moved.deployment}")
        production = config.production_stage
        if production is not None and production.endpoint == endpoint:
            for name in repin_schedules(ws, config, f"production traffic of {endpoint} moved",
                                        actor=actor):
                say(f"schedule {name} re-created on the new champion")
    except MlopsError as exc:
        say(f"warning: the traffic moved, but its monitor and schedules could not follow: "
            f"{exc.message}")

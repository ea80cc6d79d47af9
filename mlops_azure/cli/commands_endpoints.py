"""``mlops endpoints list | delete | keys | logs``: online endpoints and their deployments."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from mlops_azure.cli import output
from mlops_azure.cli.state import STATE

app = typer.Typer(help="Online endpoints: list, delete, keys, logs.", no_args_is_help=True)

EndpointArgument = Annotated[str, typer.Argument(help="The endpoint name.")]


def endpoint_rows(ws: Any, endpoint: Any) -> list[tuple[str, ...]]:
    """One row per deployment (or one for an endpoint without any): for tables."""
    deployments = ws.endpoints.list_deployments(endpoint.name)
    if not deployments:
        return [(endpoint.name, endpoint.state, "", "", "", "", endpoint.scoring_uri)]
    rows: list[tuple[str, ...]] = []
    for d in deployments:
        share = endpoint.traffic.get(d.name, 0)
        mirror = endpoint.mirror_traffic.get(d.name, 0)
        state = d.state.value + (f": {d.error}" if d.error else "")
        rows.append((endpoint.name, endpoint.state, d.name, d.model_ref,
                     f"{share}%" + (f" (+{mirror}% mirror)" if mirror else ""), state,
                     endpoint.scoring_uri))
    return rows


def endpoint_dict(ws: Any, endpoint: Any) -> dict[str, Any]:
    found = asdict(endpoint)
    found["deployments"] = [asdict(d) | {"model": d.model_ref}
                            for d in ws.endpoints.list_deployments(endpoint.name)]
    return found


@app.command("list")
def endpoints_list() -> None:
    """Endpoints with their deployments, traffic and health."""
    ws = STATE.workspace()
    endpoints = ws.endpoints.all()
    if STATE.json:
        output.emit_json([endpoint_dict(ws, e) for e in endpoints])
        return
    output.table("Endpoints", ["endpoint", "state", "deployment", "model", "traffic", "deployment state",
                               "scoring URI"],
                 [row for e in endpoints for row in endpoint_rows(ws, e)],
                 optional=("scoring URI", "deployment state"))


@app.command("delete")
def endpoints_delete(
    name: EndpointArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete an endpoint with all its deployments (local: stops their processes). Waits for a
    deploy, promotion or rollback running on it to finish first."""
    from mlops_azure.lifecycle.endpoint_delete import delete_endpoint

    config = STATE.config()
    ws = STATE.workspace(config)
    endpoint = ws.endpoints.get(name)
    serving = ", ".join(f"{d}={s}%" for d, s in endpoint.traffic.items() if s) or "no traffic"
    if not yes and not typer.confirm(f"delete endpoint {name} ({serving})?"):
        raise typer.Exit(1)
    delete_endpoint(ws, name, wait_s=config.rollout.lock_wait_s, say=output.say)
    output.say(f"deleted endpoint {name}")


def _silent(_: str) -> None:
    pass


@app.command("recover")
def endpoints_recover(name: EndpointArgument) -> None:
    """Undo what a killed deploy, promote or rollback left on an endpoint: its traffic table back
    as the command found it, the deployment it started removed (waits for one still running)."""
    from mlops_azure.lifecycle.traffic_journal import recover_endpoint

    config = STATE.config()
    ws = STATE.workspace(config)
    found = recover_endpoint(ws, name, wait_s=config.rollout.lock_wait_s,
                             say=_silent if STATE.json else output.say)
    if STATE.json:
        output.emit_json({"endpoint": name, "recovered": found.describe() if found else None,
                          "traffic": dict(ws.endpoints.get(name).traffic)})
    elif found is None:
        output.say(f"endpoint {name}: nothing to recover")


@app.command("keys")
def endpoints_keys(
    name: EndpointArgument,
    show: Annotated[bool, typer.Option("--show", help="Print the keys themselves.")] = False,
) -> None:
    """The endpoint's auth keys: masked unless --show (they are secrets)."""
    keys = STATE.workspace().endpoints.keys(name)

    def shown(key: str) -> str:
        return key if show else "hidden (pass --show to print it)"

    if STATE.json:
        output.emit_json({"primary": shown(keys.primary), "secondary": shown(keys.secondary)})
        return
    output.fields(f"Keys of {name}", {"primary": shown(keys.primary),
                                      "secondary": shown(keys.secondary)})


@app.command("logs")
def endpoints_logs(
    name: EndpointArgument,
    deployment: Annotated[str, typer.Argument(help="The deployment name.")],
    lines: Annotated[int, typer.Option(min=1, help="How many lines from the end.")] = 100,
) -> None:
    """The tail of a deployment's server log."""
    text = STATE.workspace().endpoints.deployment_logs(name, deployment, lines)
    if STATE.json:
        output.emit_json({"endpoint": name, "deployment": deployment, "log": text})
    else:
        output.console.out(text, highlight=False)

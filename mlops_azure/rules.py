"""The naming and traffic rules of Azure ML that every backend enforces alike.

Checked before anything changes, with one sentence naming the rule broken, so what works on the
embedded workspace works on Azure ML and a bad name never reaches the service.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mlops_azure.errors import UserInputError

if TYPE_CHECKING:
    from mlops_azure.records import ScheduleTrigger

#: Azure ML asset names (models, data assets, environments); both backends enforce the same rule.
ASSET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")


#: A whole number as people type it: ASCII digits only (``str.isdigit`` also takes "²", which
#: ``int`` refuses), at most 18 of them (SQLite's integers are 64-bit).
_WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")


def whole_number(text: str) -> int | None:
    """``text`` as a whole number >= 0, None when it is not one."""
    return int(text) if _WHOLE_NUMBER.fullmatch(text) else None


def is_asset_name(name: object) -> bool:
    """Whether ``name`` is a valid Azure ML asset name."""
    return isinstance(name, str) and ASSET_NAME.fullmatch(name) is not None


#: Azure ML endpoint and deployment names (online and batch): 3-32 letters, digits and single
#: hyphens, from a letter ("Manage and increase quotas and limits for resources with Azure Machine
#: Learning": "single dashes like my-endpoint-name are accepted").
ENDPOINT_NAME = re.compile(r"[A-Za-z](?!.*--)[A-Za-z0-9-]{1,30}[A-Za-z0-9]")


def check_asset_name(name: str, kind: str) -> None:
    """``UserInputError`` unless ``name`` is a valid Azure ML asset name (``kind``: what it
    names, for the message)."""
    if not is_asset_name(name):
        raise UserInputError(
            f"{kind} name {name!r} is invalid: use 1-255 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )


#: A model document's file name: one path segment, so it cannot climb out of its folder.
DOCUMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def check_document_name(filename: str) -> None:
    """``UserInputError`` unless ``filename`` is a plain file name for a model document."""
    if not DOCUMENT_NAME.fullmatch(filename) or ".." in filename:
        raise UserInputError(f"model document name {filename!r} is invalid: use 1-100 letters, "
                             "digits, '_', '.' or '-', starting with a letter or digit")


def check_metrics(metrics: Mapping[str, object], model: str) -> dict[str, float]:
    """A model's metrics as floats; ``UserInputError`` naming the first one that is no number."""
    numbers: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UserInputError(f"metric '{key}' of model '{model}' is {value!r}, not a number")
        numbers[str(key)] = float(value)
    return numbers


def is_endpoint_name(name: object) -> bool:
    """Whether ``name`` is a valid Azure ML online endpoint or deployment name."""
    return isinstance(name, str) and ENDPOINT_NAME.fullmatch(name) is not None


def check_endpoint_name(name: str, kind: str = "endpoint") -> None:
    """``UserInputError`` unless ``name`` is a valid endpoint (or deployment) name."""
    if not is_endpoint_name(name):
        raise UserInputError(f"{kind} name {name!r} is invalid: use 3-32 letters, digits and "
                             "single hyphens, starting with a letter and not ending with a hyphen")


#: Instances one managed online deployment may have: Azure ML's default limit ("Manage and
#: increase quotas and limits for resources with Azure Machine Learning", raised on request).
MAX_MANAGED_INSTANCES = 50

#: A Kubernetes online endpoint's name plus a deployment's name, in characters (same page).
KUBERNETES_NAME_TOTAL = (6, 62)

#: VM sizes of the "Managed online endpoints SKU list" page (Azure compares them case-insensitively).
MANAGED_INSTANCE_TYPES = frozenset(
    [f"STANDARD_D{n}AS_V4" for n in (2, 4, 8, 16, 32, 48, 64, 96)]
    + [f"STANDARD_D{n}A_V4" for n in (2, 4, 8, 16, 32, 48, 64, 96)]
    + [f"STANDARD_DS{n}_V2" for n in (1, 2, 3, 4, 5)]
    + [f"STANDARD_E{n}S_V3" for n in (2, 4, 8, 16, 32, 48, 64)]
    + [f"STANDARD_F{n}S_V2" for n in (2, 4, 8, 16, 32, 48, 64, 72)]
    + [f"STANDARD_FX{n}MDS" for n in (4, 12, 24, 36, 48)]
    + [f"STANDARD_L{n}AS_V3" for n in (8, 16, 32, 48, 64, 80)]
    + [f"STANDARD_L{n}S_V2" for n in (8, 16, 32, 48, 64, 80)]
    + [f"STANDARD_L{n}S_V3" for n in (8, 16, 32, 48, 64, 80)]
    + ["STANDARD_NC24ADS_A100_V4", "STANDARD_NC48ADS_A100_V4", "STANDARD_NC96ADS_A100_V4",
       "STANDARD_NC4AS_T4_V3", "STANDARD_NC8AS_T4_V3", "STANDARD_NC16AS_T4_V3",
       "STANDARD_NC64AS_T4_V3", "STANDARD_NC6S_V2", "STANDARD_NC12S_V2", "STANDARD_NC24S_V2",
       "STANDARD_NC6S_V3", "STANDARD_NC12S_V3", "STANDARD_NC24S_V3", "STANDARD_NC40ADS_H100_V5",
       "STANDARD_NC80ADIS_H100_V5", "STANDARD_ND96AMSR_A100_V4", "STANDARD_ND96ASR_V4",
       "STANDARD_ND40RS_V2", "STANDARD_ND96IS_H100_V5", "STANDARD_ND96ISR_H100_V5",
       "STANDARD_NV6ADS_A10_V5", "STANDARD_NV12ADS_A10_V5", "STANDARD_NV18ADS_A10_V5",
       "STANDARD_NV36ADS_A10_V5", "STANDARD_NV36ADMS_A10_V5", "STANDARD_NV72ADS_A10_V5"])


def check_online_deployment(endpoint: str, deployment: str, *, kind: str,
                            instance_type: str | None, instance_count: int) -> None:
    """Azure ML's limits on an online deployment of a ``managed`` or ``kubernetes`` endpoint,
    checked before any request; ``UserInputError`` naming the first one broken."""
    where = f"deployment '{deployment}' of endpoint '{endpoint}'"
    if kind == "kubernetes":
        low, high = KUBERNETES_NAME_TOTAL
        total = len(endpoint) + len(deployment)
        if not low <= total <= high:
            raise UserInputError(f"{where}: on Kubernetes the endpoint and deployment names "
                                 f"must have {low}-{high} characters together, not {total}")
        return
    if instance_count > MAX_MANAGED_INSTANCES:
        raise UserInputError(f"{where}: a managed online deployment has at most "
                             f"{MAX_MANAGED_INSTANCES} instances (Azure ML's default limit), "
                             f"not {instance_count}")
    if instance_type and instance_type.upper() not in MANAGED_INSTANCE_TYPES:
        raise UserInputError(f"{where}: instance type '{instance_type}' is not in Azure ML's "
                             "managed online endpoints SKU list (for example Standard_DS3_v2)")


#: Most mirror traffic an endpoint may copy to a shadow deployment (%), as on Azure ML.
MAX_MIRROR = 50


def check_traffic(endpoint: str, states: Mapping[str, str], traffic: Mapping[str, int],
                  mirror: Mapping[str, int]) -> None:
    """Azure ML's traffic rules, checked before anything changes (``states``: deployment name to
    provisioning state). Raises ``UserInputError`` naming the first rule broken."""
    rows = states
    where = f"traffic of endpoint '{endpoint}'"
    for kind, shares in (("traffic", traffic), ("mirror traffic", mirror)):
        for dep, share in shares.items():
            if dep not in rows:
                known = ", ".join(sorted(rows)) or "none"
                raise UserInputError(f"{where}: no deployment '{dep}' (deployments: {known})")
            if isinstance(share, bool) or not isinstance(share, int) or not 0 <= share <= 100:
                raise UserInputError(f"{where}: {kind} of '{dep}' must be a whole number 0-100, "
                                     f"not {share!r}")
    total = sum(traffic.values())
    if rows and total not in (0, 100):
        raise UserInputError(f"{where}: shares add up to {total} %, not 100 %")
    for dep, share in traffic.items():
        if share > 0 and rows[dep] != "Succeeded":
            raise UserInputError(f"{where}: deployment '{dep}' is {rows[dep]}, it cannot "
                                 "take traffic")
    live_mirrors = {d: s for d, s in mirror.items() if s > 0}
    if len(live_mirrors) > 1:
        raise UserInputError(f"{where}: mirror traffic can go to one deployment only")
    for dep, share in live_mirrors.items():
        if share > MAX_MIRROR:
            raise UserInputError(f"{where}: mirror traffic is at most {MAX_MIRROR} %, not {share} %")
        if traffic.get(dep, 0) > 0:
            raise UserInputError(f"{where}: '{dep}' takes live traffic, so it cannot also be mirrored to")


#: Recurrence units, as Azure ML's ``RecurrenceTrigger`` names them.
FREQUENCIES = ("minute", "hour", "day", "week", "month")

#: The five cron fields in order, with the values each allows (Azure ML: day of week 0-6, 0 = Sunday).
CRON_FIELDS: tuple[tuple[str, int, int], ...] = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 6),
)

_FIELD_CHARS = re.compile(r"[0-9*,/-]+")
_PART = re.compile(r"(?P<range>\*|\d+|\d+-\d+)(?:/(?P<step>\d+))?")


def check_cron(expression: str) -> None:
    """``UserInputError`` naming the first bad field unless ``expression`` is a five-field cron
    expression of numbers, ``*``, ranges ``a-b``, steps ``/n`` and lists ``a,b``."""
    fields = expression.split()
    if len(fields) != len(CRON_FIELDS):
        raise UserInputError(f"cron '{expression}' has {len(fields)} fields, expected 5: "
                             "minute hour day-of-month month day-of-week")
    for text, (name, low, high) in zip(fields, CRON_FIELDS, strict=True):
        where = f"cron '{expression}': {name} field '{text}'"
        if not _FIELD_CHARS.fullmatch(text):
            raise UserInputError(f"{where} may only hold digits, '*', ',', '-' and '/'")
        for part in text.split(","):
            match = _PART.fullmatch(part)
            if match is None:
                raise UserInputError(f"{where}: '{part}' is not N, N-M, * or one of them with /STEP")
            if match["step"] is not None and int(match["step"]) < 1:
                raise UserInputError(f"{where}: a step must be at least 1")
            if match["range"] == "*":
                continue
            bounds = [int(n) for n in match["range"].split("-")]
            for number in bounds:
                if not low <= number <= high:
                    raise UserInputError(f"{where}: {number} is outside {low}-{high}")
            if len(bounds) == 2 and bounds[0] > bounds[1]:
                raise UserInputError(f"{where}: range {part} runs backwards")


def check_time_zone(name: str) -> None:
    """``UserInputError`` unless ``name`` is an IANA time zone (``UTC``, ``Europe/Berlin``)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserInputError(f"time zone '{name}' is unknown: use an IANA name such as "
                             "'UTC' or 'Europe/Berlin'") from None


def check_trigger(trigger: ScheduleTrigger) -> None:
    """``UserInputError`` unless the trigger is exactly one of a valid cron expression or a valid
    recurrence (frequency in :data:`FREQUENCIES`, whole interval >= 1), in a known time zone."""
    if trigger.cron and trigger.frequency:
        raise UserInputError("a schedule has either a cron expression or a frequency, not both")
    if trigger.cron:
        check_cron(trigger.cron)
    elif trigger.frequency:
        if trigger.frequency not in FREQUENCIES:
            raise UserInputError(f"frequency '{trigger.frequency}' is not one of "
                                 f"{', '.join(FREQUENCIES)}")
        interval = trigger.interval
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise UserInputError(f"interval {interval!r} must be a whole number of at least 1")
    else:
        raise UserInputError("a schedule needs a cron expression or a frequency")
    check_time_zone(trigger.time_zone)


def check_schedule_name(name: str) -> None:
    """Schedule names follow Azure ML's asset-name rule, so a local name works on Azure too."""
    check_asset_name(name, "schedule")


LOCK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_lock_name(name: str) -> None:
    """``UserInputError`` unless ``name`` can name a lock on every backend (a file, a blob)."""
    if not LOCK_NAME.match(name):
        raise UserInputError(f"lock name '{name}' is invalid: use up to 100 letters, digits, "
                             "'.', '_' and '-', starting with a letter or digit")

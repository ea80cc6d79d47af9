"""Explanations of the steel model: the template's ``tabular.explain`` (LightGBM's exact tree
SHAP, in the booster's raw output space: tonnes), with the served prediction clipped at 0 as
``LoadedModel.predict`` clips it. For the rare negative raw prediction the two differ; each
explained row states both."""

from __future__ import annotations

from typing import Any

import pandas as pd
from tabular import explain
from tabular.explain import contributions

from steel.model_io import LoadedModel, served

__all__ = ["contributions", "explanations"]


def explanations(model: LoadedModel, frame: pd.DataFrame, *, seed: int = 0) -> dict[str, Any]:
    """Importance, a SHAP summary sample and a few individual explanations over ``frame``: the
    ``explanations.json`` the evaluate step writes (see ``tabular.explain.explanations``)."""
    return explain.explanations(model, frame, seed=seed, serve=served)

"""Deterministic synthetic data for the example: monthly steel purchases per customer and material.

The structure is organisations → customers (segment, region, company size) → materials. Every
(customer, material) series gets a base volume from company size and segment/material affinity, a
trend, segment seasonality, a price response to a per-material steel price index, promotions,
multiplicative noise and some months without purchases. A few defects are injected on purpose so
the data check and the prep step have something real to catch: ~0.5 % missing prices and ~0.2 %
quantity spikes (x8-12).

Same arguments → byte-identical CSV: every random draw comes from a generator seeded by ``seed``
and a fixed stream number, and never from global state.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mlops_azure.errors import UserInputError

#: The CSV columns, in order. The project's data schema (mlops.yaml) relies on these names.
COLUMNS = (
    "period",
    "organisation_id",
    "customer_id",
    "material_id",
    "segment",
    "region",
    "company_size",
    "price_eur_per_tonne",
    "promotion",
    "quantity_tonnes",
)
KEY = ("period", "organisation_id", "customer_id", "material_id")

#: (id, name, base price in EUR per tonne)
MATERIALS = (
    ("MAT-HRC", "hot-rolled coil", 650.0),
    ("MAT-CRC", "cold-rolled coil", 780.0),
    ("MAT-REB", "rebar", 600.0),
    ("MAT-WRD", "wire rod", 620.0),
    ("MAT-HPL", "heavy plate", 850.0),
    ("MAT-GAL", "galvanised sheet", 900.0),
)
SEGMENTS = ("construction", "automotive", "machinery", "energy")
REGIONS = ("north", "south", "east", "west")
SIZES = ("small", "medium", "large")

_SEGMENT_WEIGHTS = np.array([0.35, 0.20, 0.25, 0.20])
#: New customers arriving with a shock lean towards energy (think of a wind-farm programme),
#: so the regime change shows up in the segment mix too.
_SHOCK_SEGMENT_WEIGHTS = np.array([0.15, 0.10, 0.25, 0.50])
_SIZE_WEIGHTS = np.array([0.45, 0.35, 0.20])
_SIZE_BASE_TONNES = np.array([40.0, 120.0, 400.0])
_SIZE_PRICE_FACTOR = np.array([1.03, 1.00, 0.96])  # large buyers negotiate discounts
_SIZE_ZERO_MONTH_RATE = np.array([0.07, 0.03, 0.01])

#: Segment x material affinity, materials in MATERIALS order.
_AFFINITY = np.array([
    [0.8, 0.3, 1.6, 1.2, 1.0, 0.6],  # construction: rebar and wire rod
    [1.0, 1.6, 0.1, 0.4, 0.3, 1.5],  # automotive: cold-rolled and galvanised
    [1.2, 0.9, 0.2, 0.7, 1.4, 0.5],  # machinery: plate and hot-rolled
    [1.0, 0.3, 0.6, 0.8, 1.6, 0.7],  # energy: heavy plate
])
#: Segment x calendar month (Jan..Dec); every segment dips in December.
_SEASONALITY = np.array([
    [0.72, 0.78, 0.95, 1.08, 1.18, 1.24, 1.22, 1.16, 1.06, 0.96, 0.86, 0.68],
    [0.98, 1.02, 1.06, 1.04, 1.02, 1.00, 0.90, 0.78, 1.04, 1.06, 1.04, 0.80],
    [0.94, 0.98, 1.06, 1.04, 1.02, 1.00, 0.96, 0.92, 1.04, 1.06, 1.04, 0.82],
    [1.02, 1.00, 1.02, 1.00, 1.00, 1.02, 0.98, 0.96, 1.02, 1.04, 1.06, 0.86],
])
_ELASTICITY = np.array([0.6, 0.9, 0.7, 0.5])

PROMOTION_RATE = 0.06
PROMOTION_UPLIFT = 1.3
_UPLIFT = np.full(len(SEGMENTS), PROMOTION_UPLIFT)
MISSING_PRICE_RATE = 0.005
OUTLIER_RATE = 0.002

# Independent random streams: adding a shock must not change the rows before it.
_STREAM_CUSTOMERS, _STREAM_PRICES, _STREAM_SERIES, _STREAM_SHOCK = 1, 2, 3, 4
_MONTH = re.compile(r"^(\d{4})-(\d{2})(?:-01)?$")


def _month_index(text: str, what: str) -> int:
    """Months since year 0 for ``YYYY-MM`` (or ``YYYY-MM-01``)."""
    match = _MONTH.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise UserInputError(f"{what} '{text}' is not a month written as YYYY-MM")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


@dataclass(frozen=True)
class Shock:
    """A regime change from month ``start`` on, for drift demonstrations.

    ``price_change`` multiplies every price by ``1 + price_change`` (demand answers through the
    price elasticity); ``new_customers`` start buying in ``start``, mostly in the energy segment.
    """

    start: str
    price_change: float = 0.0
    new_customers: int = 0

    def __post_init__(self) -> None:
        _month_index(self.start, "Shock.start")
        if not self.price_change > -0.9:
            raise UserInputError(f"Shock.price_change must be above -0.9 (got {self.price_change})")
        if self.new_customers < 0:
            raise UserInputError(f"Shock.new_customers must not be negative (got {self.new_customers})")


@dataclass(frozen=True)
class Bias:
    """An under-represented segment that behaves differently, for responsible-ML demonstrations.

    Customers of ``segment`` become rare (``share`` of the customers) and their demand follows
    its own pattern: seasonality turned upside down, a far stronger answer to prices and a
    stronger one to promotions. A model trained on everyone learns the majority's pattern and
    serves this segment worse.
    """

    segment: str = "energy"
    share: float = 0.05
    elasticity: float = 3.0
    promotion_uplift: float = 2.0
    promotion_rate: float = 0.35

    def __post_init__(self) -> None:
        if self.segment not in SEGMENTS:
            raise UserInputError(f"Bias.segment '{self.segment}' is not one of {', '.join(SEGMENTS)}")
        if not 0 < self.share < 1:
            raise UserInputError(f"Bias.share must be between 0 and 1 (got {self.share})")
        if self.elasticity < 0:
            raise UserInputError(f"Bias.elasticity must not be negative (got {self.elasticity})")
        if not 0 <= self.promotion_rate <= 1:
            raise UserInputError(f"Bias.promotion_rate must be between 0 and 1 (got {self.promotion_rate})")
        if self.promotion_uplift <= 0:
            raise UserInputError(f"Bias.promotion_uplift must be positive (got {self.promotion_uplift})")

    def segment_weights(self, weights: np.ndarray) -> np.ndarray:
        """``weights`` with the biased segment at ``share`` and the others scaled to fill up."""
        index = SEGMENTS.index(self.segment)
        others = np.delete(weights, index)
        return np.insert(others / others.sum() * (1 - self.share), index, self.share)

    def seasonality(self) -> np.ndarray:
        table = _SEASONALITY.copy()
        index = SEGMENTS.index(self.segment)
        table[index] = 2.0 - table[index]  # mirrored around 1: peaks become troughs
        return table

    def elasticities(self) -> np.ndarray:
        values = _ELASTICITY.copy()
        values[SEGMENTS.index(self.segment)] = self.elasticity
        return values

    def promotion_rates(self) -> np.ndarray:
        values = np.full(len(SEGMENTS), PROMOTION_RATE)
        values[SEGMENTS.index(self.segment)] = self.promotion_rate
        return values

    def uplift(self) -> np.ndarray:
        values = np.full(len(SEGMENTS), PROMOTION_UPLIFT)
        values[SEGMENTS.index(self.segment)] = self.promotion_uplift
        return values


@dataclass(frozen=True)
class _Customers:
    ids: np.ndarray
    organisation: np.ndarray
    segment: np.ndarray  # indices into SEGMENTS
    region: np.ndarray
    size: np.ndarray
    price_factor: np.ndarray


def _draw_customers(
    rng: np.random.Generator, count: int, first_number: int, organisations: int,
    segment_weights: np.ndarray,
) -> _Customers:
    numbers = np.arange(first_number, first_number + count)
    size = rng.choice(len(SIZES), size=count, p=_SIZE_WEIGHTS)
    return _Customers(
        ids=np.array([f"CUST-{n:04d}" for n in numbers]),
        organisation=(numbers - 1) % organisations,
        segment=rng.choice(len(SEGMENTS), size=count, p=segment_weights),
        region=rng.integers(0, len(REGIONS), size=count),
        size=size,
        price_factor=_SIZE_PRICE_FACTOR[size] * rng.normal(1.0, 0.01, size=count),
    )


def _price_index(rng: np.random.Generator, materials: int, months: int, start: int) -> np.ndarray:
    """Steel price index per material and month: trend + a ~30-month cycle + AR(1) noise."""
    t = np.arange(months)
    base = np.array([m[2] for m in MATERIALS[:materials]])[:, None]
    phase = rng.uniform(0, 2 * np.pi, size=(materials, 1))
    noise = np.zeros((materials, months))
    shocks = rng.normal(0.0, 0.02, size=(materials, months))
    for month in range(months):  # AR(1) is sequential in time, not per row
        noise[:, month] = (0.7 * noise[:, month - 1] if month else 0.0) + shocks[:, month]
    years = (start + t) / 12.0 - 2020.0
    return base * 1.02**years * (1 + 0.10 * np.sin(2 * np.pi * t / 30.0 + phase)) * np.exp(noise)


def _block(
    rng: np.random.Generator,
    customers: _Customers,
    materials: int,
    prices: np.ndarray,
    reference: np.ndarray,
    first_month: int,
    start: int,
    bias: Bias | None = None,
) -> pd.DataFrame:
    """Rows for ``customers`` x materials from month ``first_month`` on, defects included."""
    months = prices.shape[1]
    t = np.arange(first_month, months)
    n_cust, n_t = len(customers.ids), len(t)
    cust = np.repeat(np.arange(n_cust), materials)  # one entry per series
    mat = np.tile(np.arange(materials), n_cust)
    seg, size = customers.segment[cust], customers.size[cust]

    level = _SIZE_BASE_TONNES[size] * _AFFINITY[seg, mat] * rng.lognormal(0.0, 0.35, len(cust))
    growth = rng.normal(0.03, 0.04, len(cust))
    calendar = (start + t) % 12
    price = prices[mat][:, t] * customers.price_factor[cust][:, None]
    price = price * rng.normal(1.0, 0.01, size=price.shape)
    relative = prices[mat][:, t] / reference[mat][:, None]
    rate = (bias.promotion_rates()[seg][:, None] if bias else PROMOTION_RATE)
    promotion = (rng.random((len(cust), n_t)) < rate).astype(np.int64)
    quantity = (
        level[:, None]
        * (1 + growth[:, None]) ** (t / 12.0)
        * (bias.seasonality() if bias else _SEASONALITY)[seg][:, calendar]
        * relative ** -(bias.elasticities() if bias else _ELASTICITY)[seg][:, None]
        * np.where(promotion == 1, (bias.uplift() if bias else _UPLIFT)[seg][:, None], 1.0)
        * rng.lognormal(0.0, 0.22, size=(len(cust), n_t))
    )
    quantity[rng.random(quantity.shape) < _SIZE_ZERO_MONTH_RATE[size][:, None]] = 0.0
    quantity = np.round(quantity, 1).ravel()
    price = np.round(price, 2).ravel()

    rows = quantity.size
    spikes = rng.choice(np.flatnonzero(quantity > 0), size=round(OUTLIER_RATE * rows), replace=False)
    quantity[spikes] = np.round(quantity[spikes] * rng.uniform(8.0, 12.0, size=spikes.size), 1)
    price[rng.choice(rows, size=round(MISSING_PRICE_RATE * rows), replace=False)] = np.nan

    series_cust = np.repeat(cust, n_t)
    series_mat = np.repeat(mat, n_t)
    labels = pd.period_range(pd.Period(year=(start + first_month) // 12,
                                       month=(start + first_month) % 12 + 1, freq="M"),
                             periods=n_t, freq="M").strftime("%Y-%m-01")
    return pd.DataFrame({
        "period": np.tile(np.asarray(labels, dtype=object), len(cust)),
        "organisation_id": np.array([f"ORG-{o + 1:02d}" for o in customers.organisation])[series_cust],
        "customer_id": customers.ids[series_cust],
        "material_id": np.array([m[0] for m in MATERIALS])[series_mat],
        "segment": np.array(SEGMENTS)[customers.segment][series_cust],
        "region": np.array(REGIONS)[customers.region][series_cust],
        "company_size": np.array(SIZES)[customers.size][series_cust],
        "price_eur_per_tonne": price,
        "promotion": promotion.ravel(),
        "quantity_tonnes": quantity,
    })


def generate_purchases(
    *,
    seed: int = 7,
    start: str = "2021-01",
    months: int = 48,
    organisations: int = 4,
    customers_per_organisation: int = 5,
    materials: int = 6,
    shock: Shock | None = None,
    bias: Bias | None = None,
) -> pd.DataFrame:
    """Monthly purchases, one row per (period, organisation, customer, material), sorted by key.

    Columns are exactly ``COLUMNS``. Raises ``UserInputError`` on impossible arguments. ``bias``
    makes one segment rare and different (see :class:`Bias`); without it the output is unchanged.
    """
    first = _month_index(start, "start")
    if months < 1:
        raise UserInputError(f"months must be at least 1 (got {months})")
    if not 1 <= organisations <= 99:
        raise UserInputError(f"organisations must be between 1 and 99 (got {organisations})")
    if customers_per_organisation < 1:
        raise UserInputError(
            f"customers_per_organisation must be at least 1 (got {customers_per_organisation})"
        )
    if not 1 <= materials <= len(MATERIALS):
        raise UserInputError(f"materials must be between 1 and {len(MATERIALS)} (got {materials})")
    new_customers = shock.new_customers if shock else 0
    if organisations * customers_per_organisation + new_customers > 9999:
        raise UserInputError("at most 9999 customers fit the CUST-0001 numbering")

    base = _draw_customers(np.random.default_rng([seed, _STREAM_CUSTOMERS]),
                           organisations * customers_per_organisation, 1, organisations,
                           bias.segment_weights(_SEGMENT_WEIGHTS) if bias else _SEGMENT_WEIGHTS)
    prices = _price_index(np.random.default_rng([seed, _STREAM_PRICES]), materials, months, first)
    # Demand reacts to prices relative to the unshocked average, so a price shock cuts volumes.
    reference = prices.mean(axis=1)
    shock_month = months
    if shock is not None:
        shock_month = min(max(_month_index(shock.start, "Shock.start") - first, 0), months)
        prices[:, shock_month:] *= 1 + shock.price_change

    blocks = [_block(np.random.default_rng([seed, _STREAM_SERIES]), base, materials, prices,
                     reference, 0, first, bias)]
    if new_customers and shock_month < months:
        rng = np.random.default_rng([seed, _STREAM_SHOCK])
        arrivals = _draw_customers(rng, new_customers, len(base.ids) + 1, organisations,
                                   _SHOCK_SEGMENT_WEIGHTS)
        blocks.append(_block(rng, arrivals, materials, prices, reference, shock_month, first, bias))
    frame = pd.concat(blocks, ignore_index=True)
    return frame.sort_values(list(KEY), kind="stable", ignore_index=True)[list(COLUMNS)]


def write_purchases(
    path: Path,
    *,
    seed: int = 7,
    start: str = "2021-01",
    months: int = 48,
    organisations: int = 4,
    customers_per_organisation: int = 5,
    materials: int = 6,
    shock: Shock | None = None,
    bias: Bias | None = None,
) -> Path:
    """Generate purchases (same arguments as ``generate_purchases``) and write them as CSV.

    Written to a temporary file and renamed, so an interrupted write leaves no partial CSV.
    """
    frame = generate_purchases(
        seed=seed, start=start, months=months, organisations=organisations,
        customers_per_organisation=customers_per_organisation, materials=materials, shock=shock,
        bias=bias,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        frame.to_csv(tmp, index=False, lineterminator="\n")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserInputError(f"{path}: cannot write the purchases CSV ({exc.strerror})") from None
    return path


__all__ = ["COLUMNS", "KEY", "MATERIALS", "Bias", "Shock", "generate_purchases", "write_purchases"]

"""Distribution specifications as written in scenario files.

A distribution is written as a one-key mapping from the family name to its named
parameters, in natural units, for example::

    {lognormal: {mean_hours: 8, sd_hours: 6}}
    {poisson: {mean: 1.5}}
    {negative_binomial: {mean: 9, sd: 7, offset: 1}}

Durations carry their unit in every parameter name (``_minutes``, ``_hours``,
``_days``, ``_weeks``, ``_years``) and are stored in **hours**. Quantities (terabytes,
image counts, children) use plain names; the unit lives in the field that holds the
distribution (``data_tb``, ``images``). This module only parses and checks; sampling
lives in :mod:`sim.distributions`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

#: Hours in one unit, for duration parameter suffixes.
HOURS_PER_UNIT: dict[str, float] = {
    "minutes": 1.0 / 60.0,
    "hours": 1.0,
    "days": 24.0,
    "weeks": 24.0 * 7.0,
    "years": 24.0 * 365.25,
}

#: Continuous families: parameter names (without unit suffix).
CONTINUOUS_FAMILIES: dict[str, tuple[str, ...]] = {
    "fixed": ("value",),
    "exponential": ("mean",),
    "lognormal": ("mean", "sd"),
    "gamma": ("mean", "sd"),
    "uniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "empirical": ("values",),
}
#: Optional parameters of continuous families (unitless).
CONTINUOUS_OPTIONAL: dict[str, tuple[str, ...]] = {"empirical": ("weights",)}

#: Count families: parameter names. ``offset`` (a whole number added to every draw)
#: is optional for all of them.
COUNT_FAMILIES: dict[str, tuple[str, ...]] = {
    "fixed": ("value",),
    "poisson": ("mean",),
    "negative_binomial": ("mean", "sd"),
    "categorical": ("values", "weights"),
}


#: Every family name, continuous or count.
DISTRIBUTION_FAMILIES: frozenset[str] = frozenset(CONTINUOUS_FAMILIES) | frozenset(COUNT_FAMILIES)


@dataclass(frozen=True)
class DistSpec:
    """A parsed distribution: family, parameters in canonical units, and its kind.

    Attributes
    ----------
    family : str
        Family name, e.g. ``"lognormal"``.
    params : tuple of (str, float or tuple of float)
        Parameters in canonical units: hours for durations, natural units otherwise.
    kind : str
        ``"duration"`` (hours), ``"quantity"`` (non-negative reals) or ``"count"``.
    source : tuple
        The mapping as written, for dumping back to YAML.
    """

    family: str
    params: tuple[tuple[str, Any], ...]
    kind: str
    source: tuple[tuple[str, Any], ...] = ()

    def param(self, name: str, default: Any = None) -> Any:
        """Return parameter ``name`` (canonical units) or ``default``."""
        for key, value in self.params:
            if key == name:
                return value
        return default

    @property
    def mean(self) -> float:
        """Analytic mean in canonical units (hours for durations)."""
        return _analytic_mean(self)

    @property
    def variance(self) -> float:
        """Analytic variance in canonical units squared."""
        return _analytic_variance(self)

    def probability_of_zero(self) -> float:
        """P(X = 0) for a count distribution (0 for continuous ones)."""
        if self.kind != "count" or int(self.param("offset", 0)) > 0:
            return 0.0
        f = self.family
        if f == "fixed":
            return 1.0 if self.param("value") == 0 else 0.0
        if f == "poisson":
            return math.exp(-self.param("mean"))
        if f == "negative_binomial":
            mean, var = self.param("mean"), self.param("sd") ** 2
            r = mean * mean / (var - mean)
            return float((r / (r + mean)) ** r)
        values, probs = _weights(self)
        return sum(p for v, p in zip(values, probs, strict=True) if v == 0)

    def as_yaml(self) -> dict[str, Any]:
        """The specification as written in the scenario file."""
        return {self.family: {k: list(v) if isinstance(v, tuple) else v for k, v in self.source}}


def _nearest(word: str, options: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _as_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"parameter '{name}' must be a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"parameter '{name}' must be finite, got {value!r}")
    return float(value)


def _as_numbers(name: str, value: Any) -> tuple[float, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"parameter '{name}' must be a non-empty list of numbers, got {value!r}")
    return tuple(_as_number(f"{name}[{i}]", v) for i, v in enumerate(value))


def _split_family(raw: Any, families: Mapping[str, tuple[str, ...]]) -> tuple[str, Mapping[str, Any]]:
    expected = ", ".join(sorted(families))
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        raise ValueError(
            f"expected a distribution such as {{fixed: {{...}}}}, got the bare number {raw!r}; "
            f"families: {expected}"
        )
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise ValueError(f"expected a one-key mapping {{family: {{parameters}}}} with family one of: "
                         f"{expected}; got {raw!r}")
    family, params = next(iter(raw.items()))
    if family not in families:
        raise ValueError(f"unknown distribution family '{family}'{_nearest(str(family), list(families))}; "
                         f"expected one of: {expected}")
    if not isinstance(params, Mapping):
        raise ValueError(f"parameters of '{family}' must be a mapping, got {params!r}")
    return str(family), params


def _parse_duration(raw: Any) -> DistSpec:
    if isinstance(raw, DistSpec):
        return raw
    family, given = _split_family(raw, CONTINUOUS_FAMILIES)
    required = CONTINUOUS_FAMILIES[family]
    optional = CONTINUOUS_OPTIONAL.get(family, ())
    allowed = [f"{p}_{u}" for p in required for u in HOURS_PER_UNIT] + list(optional)
    values: dict[str, Any] = {}
    for key, value in given.items():
        key = str(key)
        if key in optional:
            values[key] = _as_numbers(key, value)
            continue
        base, _, unit = key.rpartition("_")
        if base not in required or unit not in HOURS_PER_UNIT:
            if key in required:
                raise ValueError(f"parameter '{key}' of '{family}' needs a unit suffix, e.g. "
                                 f"'{key}_hours' or '{key}_days'")
            hint = _nearest(key, allowed)
            raise ValueError(f"unknown parameter '{key}' for '{family}'{hint}; expected "
                             + ", ".join(f"{p}_<unit>" for p in required)
                             + " with unit one of " + ", ".join(HOURS_PER_UNIT))
        if base in values:
            raise ValueError(f"parameter '{base}' of '{family}' given twice (with different units)")
        factor = HOURS_PER_UNIT[unit]
        if base == "values":
            values[base] = tuple(v * factor for v in _as_numbers(key, value))
        else:
            values[base] = _as_number(key, value) * factor
    return _finish(family, required, values, "duration", tuple((str(k), v) for k, v in given.items()))


def _parse_plain(raw: Any, kind: str) -> DistSpec:
    if isinstance(raw, DistSpec):
        return raw
    families = COUNT_FAMILIES if kind == "count" else CONTINUOUS_FAMILIES
    family, given = _split_family(raw, families)
    required = families[family]
    optional: tuple[str, ...] = ("offset",) if kind == "count" else CONTINUOUS_OPTIONAL.get(family, ())
    values: dict[str, Any] = {}
    for key, value in given.items():
        key = str(key)
        if key not in required and key not in optional:
            base = key.rpartition("_")[0]
            if base in required and kind != "duration":
                raise ValueError(f"parameter '{key}' has a unit suffix, but this value is not a "
                                 f"duration; write '{base}' (the unit is in the field name)")
            extra = f" (optional: {', '.join(optional)})" if optional else ""
            raise ValueError(f"unknown parameter '{key}' for '{family}'"
                             f"{_nearest(key, list(required + optional))}; expected "
                             + ", ".join(required) + extra)
        if key in ("values", "weights"):
            values[key] = _as_numbers(key, value)
        else:
            values[key] = _as_number(key, value)
    return _finish(family, required, values, kind, tuple((str(k), v) for k, v in given.items()))


def _finish(family: str, required: tuple[str, ...], values: dict[str, Any], kind: str,
            source: tuple[tuple[str, Any], ...]) -> DistSpec:
    missing = [p for p in required if p not in values]
    if missing:
        unit_hint = "_<unit>" if kind == "duration" else ""
        raise ValueError(f"'{family}' needs parameter(s) " + ", ".join(m + unit_hint for m in missing))
    _check_ranges(family, values, kind)
    ordered = tuple((k, values[k]) for k in (*required, *sorted(set(values) - set(required))))
    return DistSpec(family=family, params=ordered, kind=kind, source=source)


#: Largest value a parameter may take, per kind (hours, natural units, counts): far beyond
#: anything real, small enough that sampling cannot overflow.
MAX_PARAMETER = {"duration": 24.0 * 365.25 * 1000, "quantity": 1e12, "count": 1e7}
#: Largest coefficient of variation (sd / mean) of lognormal and gamma.
MAX_CV = 100.0
#: Smallest one: below it a gamma's shape (mean / sd)^2 overflows, and the spread is
#: nothing a survey could measure; a time that does not vary is ``fixed``.
MIN_CV = 1e-6


def _check_ranges(family: str, v: dict[str, Any], kind: str) -> None:
    limit = MAX_PARAMETER[kind]
    unit = " hours (1,000 years)" if kind == "duration" else ""
    for name, value in v.items():
        values = value if isinstance(value, tuple) else (value,)
        if any(abs(x) > limit for x in values):
            raise ValueError(f"'{family}' parameter '{name}' is implausibly large (over "
                             f"{limit:,.0f}{unit}); check the unit")
    if family in ("lognormal", "gamma") and v["mean"] > 0 and v["sd"] / v["mean"] > MAX_CV:
        raise ValueError(f"'{family}' sd is {v['sd'] / v['mean']:,.0f} times the mean; at most "
                         f"{MAX_CV:g} is accepted (check the units of mean and sd)")
    if (family in ("lognormal", "gamma") and v["mean"] > 0 and v["sd"] > 0
            and v["sd"] / v["mean"] < MIN_CV):
        raise ValueError(f"'{family}' sd is {v['sd'] / v['mean']:.3g} of the mean; at least "
                         f"{MIN_CV:g} is accepted (use 'fixed' for a value that does not vary)")
    def nonneg(name: str) -> None:
        if v[name] < 0:
            raise ValueError(f"'{family}' parameter '{name}' must be >= 0, got {v[name]}")

    def pos(name: str) -> None:
        if v[name] <= 0:
            raise ValueError(f"'{family}' parameter '{name}' must be > 0, got {v[name]}")

    if family == "fixed":
        nonneg("value")
        if kind == "count" and v["value"] != int(v["value"]):
            raise ValueError(f"a count must be a whole number, got {v['value']}")
    elif family in ("exponential", "poisson"):
        (nonneg if family == "poisson" else pos)("mean")
    elif family in ("lognormal", "gamma"):
        pos("mean")
        pos("sd")
    elif family == "negative_binomial":
        pos("mean")
        pos("sd")
        if v["sd"] ** 2 <= v["mean"]:
            raise ValueError(f"negative_binomial needs sd^2 > mean (over-dispersion); got mean "
                             f"{v['mean']}, sd {v['sd']}; use poisson when sd^2 = mean")
    elif family == "uniform":
        nonneg("low")
        if v["high"] < v["low"]:
            raise ValueError(f"uniform needs low <= high, got low {v['low']}, high {v['high']}")
    elif family == "triangular":
        nonneg("low")
        if not v["low"] <= v["mode"] <= v["high"] or v["low"] == v["high"]:
            raise ValueError(f"triangular needs low <= mode <= high and low < high, got "
                             f"{v['low']}, {v['mode']}, {v['high']}")
    elif family in ("empirical", "categorical"):
        if any(x < 0 for x in v["values"]):
            raise ValueError(f"'{family}' values must be >= 0")
        if kind == "count" and any(x != int(x) for x in v["values"]):
            raise ValueError("categorical values must be whole numbers")
        weights = v.get("weights")
        if weights is not None:
            if len(weights) != len(v["values"]):
                raise ValueError(f"'{family}' needs as many weights ({len(weights)}) as values "
                                 f"({len(v['values'])})")
            if any(w < 0 for w in weights) or sum(weights) <= 0:
                raise ValueError(f"'{family}' weights must be >= 0 with a positive sum")
    if "offset" in v and (v["offset"] < 0 or v["offset"] != int(v["offset"])):
        raise ValueError(f"offset must be a whole number >= 0, got {v['offset']}")


def _weights(spec: DistSpec) -> tuple[tuple[float, ...], tuple[float, ...]]:
    values = spec.param("values")
    weights = spec.param("weights") or tuple(1.0 for _ in values)
    total = sum(weights)
    return values, tuple(w / total for w in weights)


def _analytic_mean(spec: DistSpec) -> float:
    f, p = spec.family, spec.param
    offset = p("offset", 0.0)
    if f == "fixed":
        return float(p("value")) + offset
    if f in ("exponential", "lognormal", "gamma", "poisson", "negative_binomial"):
        return float(p("mean")) + offset
    if f == "uniform":
        return (p("low") + p("high")) / 2.0
    if f == "triangular":
        return (p("low") + p("mode") + p("high")) / 3.0
    values, probs = _weights(spec)
    return sum(x * w for x, w in zip(values, probs, strict=True)) + offset


def _analytic_variance(spec: DistSpec) -> float:
    f, p = spec.family, spec.param
    if f == "fixed":
        return 0.0
    if f == "exponential":
        return float(p("mean")) ** 2
    if f in ("lognormal", "gamma", "negative_binomial"):
        return float(p("sd")) ** 2
    if f == "poisson":
        return float(p("mean"))
    if f == "uniform":
        return (p("high") - p("low")) ** 2 / 12.0
    if f == "triangular":
        a, c, b = p("low"), p("mode"), p("high")
        return (a * a + b * b + c * c - a * b - a * c - b * c) / 18.0
    values, probs = _weights(spec)
    mean = sum(x * w for x, w in zip(values, probs, strict=True))
    return sum(w * (x - mean) ** 2 for x, w in zip(values, probs, strict=True))


def _dump(spec: DistSpec) -> dict[str, Any]:
    return spec.as_yaml()


#: A duration distribution (stored in hours). Use for service and delay times.
Duration = Annotated[DistSpec, BeforeValidator(_parse_duration), PlainSerializer(_dump)]
#: A distribution of a non-negative real quantity (terabytes, images).
Quantity = Annotated[DistSpec, BeforeValidator(lambda raw: _parse_plain(raw, "quantity")),
                     PlainSerializer(_dump)]
#: A distribution of whole counts (devices, children).
Count = Annotated[DistSpec, BeforeValidator(lambda raw: _parse_plain(raw, "count")),
                  PlainSerializer(_dump)]

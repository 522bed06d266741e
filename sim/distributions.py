"""Sampling from parsed distribution specifications.

Two ways to draw: :func:`draw` returns a numpy array (used to generate all referrals
of a replication at once), :func:`sampler` returns a zero-argument callable giving one
float per call (used for service times). Samplers draw in blocks from their own
generator and hand the values out one by one, which keeps the per-event cost of a
service-time draw to a list lookup. Neither seeds itself: the generator is injected.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator
from typing import Any

import numpy as np

from sim.config.distspec import DistSpec

BLOCK = 2048


def _lognormal_params(mean: float, sd: float) -> tuple[float, float]:
    sigma2 = math.log1p((sd / mean) ** 2)
    return math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2)


def draw(spec: DistSpec, rng: np.random.Generator, size: int, scale: float = 1.0) -> np.ndarray:
    """Draw ``size`` values of ``spec`` times ``scale``.

    Parameters
    ----------
    spec : DistSpec
        Parsed distribution (durations in hours).
    rng : numpy.random.Generator
        The stream to draw from.
    size : int
        Number of values.
    scale : float, default 1.0
        Multiplier, e.g. days per hour to turn hours into days.

    Returns
    -------
    numpy.ndarray
        float64 values for continuous kinds, int64 for counts (``scale`` ignored).
    """
    f, p = spec.family, spec.param
    if f == "fixed":
        out = np.full(size, float(p("value")))
    elif f == "exponential":
        out = rng.exponential(p("mean"), size)
    elif f == "lognormal":
        mu, sigma = _lognormal_params(p("mean"), p("sd"))
        out = rng.lognormal(mu, sigma, size)
    elif f == "gamma":
        shape = (p("mean") / p("sd")) ** 2
        out = rng.gamma(shape, p("sd") ** 2 / p("mean"), size)
    elif f == "uniform":
        out = rng.uniform(p("low"), p("high"), size)
    elif f == "triangular":
        out = rng.triangular(p("low"), p("mode"), p("high"), size)
    elif f in ("empirical", "categorical"):
        values = np.asarray(p("values"), dtype=float)
        weights = p("weights")
        probs = None if weights is None else np.asarray(weights) / np.sum(weights)
        out = rng.choice(values, size=size, p=probs)
    elif f == "poisson":
        out = rng.poisson(p("mean"), size)
    elif f == "negative_binomial":
        mean, var = p("mean"), p("sd") ** 2
        r = mean * mean / (var - mean)
        out = rng.negative_binomial(r, r / (r + mean), size)
    else:  # pragma: no cover - the schema admits no other family
        raise ValueError(f"unknown family {f!r}")
    if spec.kind == "count":
        return np.asarray(out, dtype=np.int64) + int(p("offset", 0))
    return np.asarray(out, dtype=float) * scale


def sampler(spec: DistSpec, rng: np.random.Generator, scale: float = 1.0) -> Callable[[], float]:
    """A callable returning one draw of ``spec`` times ``scale`` per call.

    Fixed distributions return a constant without touching ``rng``.
    """
    if spec.family == "fixed":
        value = float(spec.param("value")) * scale
        return lambda: value

    def blocks() -> Iterator[float]:
        while True:
            yield from draw(spec, rng, BLOCK, scale).tolist()

    return blocks().__next__


def item_sampler(spec: DistSpec, rng: np.random.Generator, scale: float = 1.0
                 ) -> Callable[[Any], float]:
    """Like :func:`sampler`, as a one-argument callable that ignores its argument.

    A station asks for the work an item needs with ``work(item)``. Most stages'
    work does not depend on the item; this gives them the same values in the same
    order as :func:`sampler`, without a wrapper function around it (the generator's
    ``send`` takes the item and drops it).
    """
    if spec.family == "fixed":
        value = float(spec.param("value")) * scale
        return lambda _item: value

    def blocks() -> Generator[float | None, Any, None]:
        yield None  # primes the generator, so that send() can take an item
        while True:
            for value in draw(spec, rng, BLOCK, scale).tolist():  # noqa: UP028
                yield value  # not ``yield from``: a list iterator has no send()

    gen = blocks()
    next(gen)
    return gen.send  # type: ignore[return-value]

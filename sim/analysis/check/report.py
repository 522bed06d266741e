"""The result of ``fbsim check``: one row per station and class, and its text table."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

#: Relative gap between L and lambda W above which a stage is not in steady state.
STEADY_RTOL = 0.10


@dataclass(frozen=True)
class CheckRow:
    """One stage (``cls == "all"``), one priority class or one stream at a stage.

    Attributes
    ----------
    stage : str
        Station name (a pipeline stage or ``kiosk``).
    cls : str
        ``"all"``, a risk level (the priority class items queued in), or, at a stage
        with other work, ``"iioc"`` (the pipeline's own items) or ``"other_work"``.
    pool : str or None
        Staff pool; None for a delay stage.
    model : str
        Queue used: ``M/M/c``, ``M/G/c``, ``G/G/c`` (Allen–Cunneen), ``delay``.
    servers : int
        Head-count of the pool at the start (0 for a delay).
    arrivals_per_day : float
        Predicted arrival rate over the measured window.
    arrivals_per_day_sim : float
        Observed arrival rate (mean over replications).
    mean_service_days : float
        Mean service time of the pool (mixture over its stages, streams, types and
        tiers).
    scv_service, scv_arrival : float
        Squared coefficients of variation used by the approximation.
    rho : float
        Utilisation of the pool (its largest over the window).
    wait_model : float
        Predicted mean wait in days (``inf`` when unstable).
    wait_sim, wait_sim_half_width : float
        Simulated mean wait over replications and its confidence half-width.
    replications : int
        Replications with data.
    little_l : float
        Time-averaged number at the stage over the run (mean over replications).
    little_lambda_w : float
        Observed arrival rate times mean time at the stage of completed items.
    little_error : float
        ``(L - lambda W) / L``.
    little_exact_error : float
        Largest relative gap between the station's time integral and the visit log.
    flags : tuple of str
        Problems found (see :mod:`sim.analysis.check`).
    notes : tuple of str
        Caveats of the approximation for this stage.
    approximate : bool
        True for a pool on a shift calendar: no textbook queue, the predicted wait is
        a rough guide and ``WAIT`` is not judged.
    """

    stage: str
    cls: str
    pool: str | None
    model: str
    servers: int
    arrivals_per_day: float
    arrivals_per_day_sim: float
    mean_service_days: float
    scv_service: float
    scv_arrival: float
    rho: float
    wait_model: float
    wait_sim: float
    wait_sim_half_width: float
    replications: int
    little_l: float = math.nan
    little_lambda_w: float = math.nan
    little_error: float = math.nan
    little_exact_error: float = math.nan
    flags: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    approximate: bool = False

    @property
    def relative_difference(self) -> float:
        """``(simulated - predicted) / predicted`` mean wait."""
        if not math.isfinite(self.wait_model) or self.wait_model == 0:
            return math.nan
        return (self.wait_sim - self.wait_model) / self.wait_model


@dataclass
class CheckReport:
    """Result of :func:`sim.analysis.check.check_scenario`.

    Attributes
    ----------
    scenario : str
        Scenario name.
    replications : int
        Replications checked.
    window : tuple of float
        ``(warm-up day, end day)``; waits are of items arriving in it.
    confidence : float
        Level of the simulated intervals.
    tolerance : float
        Relative wait difference tolerated before ``WAIT`` is flagged.
    rows : list of CheckRow
        Stages in pipeline order, each followed by its priority classes and streams.
    notes : list of str
        Scenario-wide caveats.
    """

    scenario: str
    replications: int
    window: tuple[float, float]
    confidence: float
    tolerance: float
    rows: list[CheckRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> list[CheckRow]:
        """Rows with at least one flag."""
        return [r for r in self.rows if r.flags]

    @property
    def ok(self) -> bool:
        """True when no row is flagged."""
        return not self.flagged

    def to_text(self) -> str:
        """An aligned plain-text table with notes, for the terminal."""
        head = ("stage", "class", "model", "c", "lam/d", "E[S] d", "cs2", "ca2", "rho",
                "Wq model", "Wq sim", f"±{self.confidence:.0%}", "diff", "L", "lam W",
                "Little", "flags")
        body = []
        for r in self.rows:
            is_all = r.cls == "all"
            model = ("~" if r.approximate else "") + r.model
            body.append((
                r.stage if is_all else "", r.cls, model if is_all else "",
                str(r.servers) if is_all and r.pool is not None else ("inf" if is_all else ""),
                _num(r.arrivals_per_day), _num(r.mean_service_days) if is_all else "",
                _num(r.scv_service, 2) if is_all else "", _num(r.scv_arrival, 2) if is_all else "",
                _num(r.rho, 3) if is_all else "", _num(r.wait_model), _num(r.wait_sim),
                _num(r.wait_sim_half_width), _pct(r.relative_difference),
                _num(r.little_l) if is_all else "", _num(r.little_lambda_w) if is_all else "",
                _pct(r.little_error) if is_all else "", " ".join(r.flags)))
        widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h)
                  for i, h in enumerate(head)]
        left = {0, 1, 2, len(head) - 1}

        def fmt(cells: Sequence[str]) -> str:
            return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                             for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

        lo, hi = self.window
        lines = [f"fbsim check: {self.scenario}: {self.replications} replication(s), "
                 f"items arriving on days {lo:g} to {hi:g}; waits in days",
                 fmt(head), fmt(["-" * w for w in widths])]
        lines += [fmt(row) for row in body]
        lines.append("")
        n_flagged = len(self.flagged)
        lines.append("OK: no stage flagged" if self.ok else
                     f"{n_flagged} row(s) flagged (WAIT: differs by > {self.tolerance:.0%} and "
                     f"outside the interval; UNSTABLE: rho >= 1; LITTLE: bookkeeping broken; "
                     f"NOT-STEADY: L and lambda W differ by > {STEADY_RTOL:.0%})")
        if any(r.approximate for r in self.rows):
            lines.append("~: a pool on a shift calendar: rho on capacity averaged over the week, "
                         "the predicted wait only approximate and not judged (no WAIT flag)")
        row_notes = sorted({f"{r.stage}: {n}" for r in self.rows for n in r.notes})
        for note in [*self.notes, *row_notes]:
            lines.append(f"note: {note}")
        return "\n".join(lines)


def _num(x: float, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if math.isinf(x):
        return "inf"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


def _pct(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{x:+.1%}"

"""A scenario in plain words, for a reader who will not open the YAML file."""

from __future__ import annotations

from typing import Any

from sim.results.presentation import stage_label

_POLICY = {
    "immediate": "police refer each child to social care as soon as the child is known",
    "at_warrant": "police refer the children of a case to social care at the warrant",
    "after_examination": "police wait for the forensic results before referring children "
                         "to social care",
}
_DISCIPLINE = {"priority": "highest graded risk first, then oldest referral",
               "fifo": "first come, first served",
               "deadline": "earliest deadline (referral date plus the target for its risk)"}


def _horizon_years(run: dict[str, Any]) -> float:
    if run.get("horizon_years") is not None:
        return float(run["horizon_years"])
    return float(run.get("horizon_days") or 0.0) / 365.25


def scenario_sentences(scenario: dict[str, Any], replications: int, seed: int) -> list[str]:
    """Sentences describing the scenario (``scenario.yaml`` as a dict) and how it was run."""
    run = scenario.get("run", {})
    demand = scenario.get("demand", {})
    out: list[str] = []
    if scenario.get("description"):
        out.append(str(scenario["description"]).strip())
    warm = float(run.get("warmup_days") or 0.0)
    out.append(f"The simulation starts on {run.get('start_date', '?')} and looks "
               f"{_horizon_years(run):.1f} years ahead" + (
                   f" after a warm-up of {warm:g} days from empty queues." if warm else "."))
    growth = demand.get("annual_growth_rate") or 0.0
    profile = demand.get("referrals_per_year_profile")
    if profile:
        out.append(f"Referrals arrive at {', '.join(f'{x:,.0f}' for x in profile)} a year in "
                   f"successive years.")
    else:
        out.append(f"Referrals arrive at {float(demand.get('referrals_per_year', 0)):,.0f} a year"
                   + (f", growing {100 * growth:.0f}% a year." if growth else ", without growth."))
    staff = scenario.get("staff", {})
    if staff:
        pools = ", ".join(f"{int(p.get('headcount', 0)):,} {name.replace('_', ' ')}"
                          for name, p in staff.items())
        out.append(f"Staff at the start: {pools}.")
    stages = scenario.get("stages", {})
    lab = stages.get("lab_examination", {})
    if lab:
        out.append(f"The lab takes work {_DISCIPLINE.get(lab.get('discipline'), 'in its order')}.")
    disabled = [stage_label(n) for n, s in stages.items() if isinstance(s, dict)
                and s.get("enabled") is False]
    if disabled:
        out.append(f"Switched off (instantaneous): {', '.join(disabled)}.")
    policy = scenario.get("policies", {}).get("safeguarding_referral")
    if policy in _POLICY:
        out.append(f"Safeguarding: {_POLICY[policy]}.")
    backlog = {k: v for k, v in (scenario.get("initial_backlog") or {}).items()
               if isinstance(v, dict) and v.get("count")}
    if backlog:
        parts = ", ".join(f"{int(v['count']):,} at {stage_label(k)}" for k, v in backlog.items())
        out.append(f"Today's backlog: {parts}, with their ages.")
    if scenario.get("training"):
        out.append(f"Training programmes: {', '.join(scenario['training'])}.")
    if scenario.get("outsourcing"):
        out.append("Lab overflow can go to an outsourced provider.")
    out.append(f"Results are the mean over {replications} independent replications (seed "
               f"{seed}), with 95% confidence intervals.")
    return out

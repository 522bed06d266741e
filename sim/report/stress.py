"""The STRESS-DES checklist of a run, filled from its manifest and scenario.

STRESS-DES (Monks et al. 2019, *Journal of Simulation* 13(1):55–67) lists what a report of a
discrete-event simulation must state for it to be reproduced. Each item here is answered
from what the results folder records (``manifest.json``, ``scenario.yaml``) and from the
model's documentation; nothing is typed in by hand for a particular run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sim.results.presentation import stage_label

#: Citations of the shipped scenarios' comments ([S4], [S22] ...), listed in docs/sources.md.
SOURCE_ID = re.compile(r"\[(S\d+[a-z]?)\]")


def cited_sources(scenario_file: str | None, folder: Path) -> list[str]:
    """Source IDs cited in the comments of the scenario file that ran, where it can be read."""
    if not scenario_file:
        return []
    for path in (Path(scenario_file), folder / scenario_file):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        ids = dict.fromkeys(SOURCE_ID.findall(text))
        return sorted(ids, key=lambda s: (int(re.sub(r"\D", "", s)), s))
    return []


def checklist(manifest: dict[str, Any], scenario: dict[str, Any], folder: Path
              ) -> list[tuple[str, str, str]]:
    """Rows (STRESS-DES section, item, what this run did)."""
    run = scenario.get("run", {})
    stages = scenario.get("stages", {})
    active = [stage_label(n) for n, s in stages.items()
              if isinstance(s, dict) and s.get("enabled", True) is not False]
    pools = {n: s.get("pool") for n, s in stages.items() if isinstance(s, dict)}
    queues = [stage_label(n) for n, p in pools.items() if p]
    backlog = {k: v for k, v in (scenario.get("initial_backlog") or {}).items()
               if isinstance(v, dict) and v.get("count")}
    sources = cited_sources(manifest.get("scenario_file"), folder)
    warm = float(run.get("warmup_days") or 0.0)
    horizon = (f"{run['horizon_years']} years" if run.get("horizon_years") is not None
               else f"{run.get('horizon_days')} days" if run.get("horizon_days") is not None
               else "as in each scenario file (this folder keeps no scenario.yaml)")
    versions = ", ".join(f"{name} {manifest[k]}" for k, name in (
        ("package_version", "fbsim"), ("python", "Python"), ("simpy", "SimPy"),
        ("numpy", "numpy")) if manifest.get(k))
    return [
        ("1 Objectives", "Purpose of the model",
         "Estimate how staffing, training, triage and safeguarding policies change the time "
         "until children at risk are identified and safeguarded, and the device backlog on the "
         "way; compare options under stated assumptions, not forecast individual cases."),
        ("1 Objectives", "Model outputs",
         "Time to identification (Kaplan–Meier, children not yet identified are censored), "
         "shares identified within set days, child-days at risk, waits at every stage, backlog "
         "over time, staff utilisation, cost. See the headline table."),
        ("1 Objectives", "Experimentation aims",
         f"Scenario '{manifest.get('scenario')}' as specified in scenario.yaml; options are "
         "compared on common random numbers."),
        ("2 Logic", "Base model overview",
         "Referrals pass intake and research, enforcement (warrant), safeguarding referral, "
         "device triage (kiosk or hub), lab examination, image grading, database upload and "
         "victim identification; staff pools with skill tiers serve the stages. "
         f"Stages switched on: {', '.join(active) or 'none'}."),
        ("2 Logic", "Queues and resources",
         f"Stages with a queue and a staff pool: {', '.join(queues) or 'none'}; the others are "
         "delays. Queue order per stage is given in scenario.yaml (priority, fifo or deadline)."),
        ("2 Logic", "Simplifications", "Listed in the model description (docs/model.md)."),
        ("3 Data", "Data sources",
         ("Aggregate public figures and stated assumptions, cited in the scenario file's "
          "comments: " + ", ".join(sources) + " (titles and links in docs/sources.md).")
         if sources else "The scenario file's comments name the source or say 'assumption' "
         "for each number; the sources are listed in docs/sources.md. No case data is used."),
        ("3 Data", "Input parameters", "Every value is in scenario.yaml in this folder "
         f"(SHA-256 {str(manifest.get('scenario_sha256', '?'))[:16]}…)."),
        ("4 Experimentation", "Initial conditions",
         ("Today's backlog: " + ", ".join(f"{int(v['count']):,} at {stage_label(k)}"
                                          for k, v in backlog.items()) + ", with their ages.")
         if backlog else "Empty queues at the start."),
        ("4 Experimentation", "Warm-up period",
         f"{warm:g} days; statistics cover referrals after it." if warm
         else "None (a terminating run from today's state)."),
        ("4 Experimentation", "Run length",
         f"{horizon} from {run['start_date']}." if run.get("start_date") else f"{horizon}."),
        ("4 Experimentation", "Replications",
         f"{manifest.get('replications')} independent replications; 95% Student-t intervals "
         "across them."),
        ("4 Experimentation", "Random streams",
         f"Seed {manifest.get('seed')}: replication i draws every activity from its own named "
         "stream spawned from numpy SeedSequence(seed, i), so scenarios sharing a seed share "
         "random numbers activity by activity."),
        ("5 Implementation", "Software",
         f"fbsim, a Python discrete-event simulation on SimPy: {versions}."),
        ("5 Implementation", "Execution",
         f"{manifest.get('backend')} backend, {manifest.get('workers')} worker(s), "
         f"{manifest.get('wall_seconds')} s, on {manifest.get('platform')}; started "
         f"{manifest.get('started_utc')}; git commit {manifest.get('git_sha') or 'unknown'}."),
        ("6 Code access", "Code and model", "fbsim is open source; the model is described in "
         "docs/model.md and checked against queueing theory in docs/validation.md."),
    ]

"""docs/levers.md: each inspection concern, its lever scenarios and their paired effects.

  .venv/bin/python bench/levers.py [--reps 20] [--workers W] [--out docs/levers.md]

Runs ``scenarios/met-baseline.yaml`` and every lever scenario listed in :data:`CONCERNS`
for the same replications and seed (common random numbers), computes for each lever
the paired difference (lever - baseline) of the children metrics by route, child-days
at risk, the lab and upload waits and the cost, with Student-t 95% intervals, and
writes the Markdown document. The explanations in :data:`WHY` are the project's reading
of those numbers in the domain's terms; they were written from a run of this script and
must be re-read whenever it is re-run on a changed model.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim.analysis.paired import paired_difference  # noqa: E402
from sim.config import load_scenario  # noqa: E402
from sim.experiment import make_backend, run_experiment  # noqa: E402
from sim.experiment.backends import available_cpus  # noqa: E402

BASE = ROOT / "scenarios" / "met-baseline.yaml"

#: The inspection's concerns (the brief, [S1][S4]) and the lever files answering each.
CONCERNS: list[tuple[str, list[str]]] = [
    ("Investigations do not focus enough on identifying children quickly [S1][S4]",
     ["identification-focus.yaml"]),
    ("Officers held back telling social care so as not to jeopardise the investigation [S1]",
     ["safeguarding-immediate.yaml", "safeguarding-after-examination.yaml"]),
    ("Concerning delays uploading images to the national database [S1][S4]",
     ["more-graders.yaml"]),
    ("Significant delays in examining seized devices [S1][S5]",
     ["more-examiners.yaml", "outsourcing.yaml", "automation.yaml", "lab-ageing.yaml"]),
    ("Staff without the training for the work [S1][S4]",
     ["training-programme.yaml", "skills-audit.yaml"]),
    ("Lower-risk cases miss their enforcement targets [S4]", ["more-warrant-crews.yaml"]),
    ("A combined plan", ["best-plan.yaml"]),
]

#: (metric, label, format) of the effects table: children first, then queues and cost.
ROWS: list[tuple[str, str, str]] = [
    ("days_at_risk_first_year_mean", "days at risk in the first year per child, all children "
     "(found or not)", "d"),
    ("days_at_risk_first_year_contact_mean", "... children in contact with the suspect", "d"),
    ("days_at_risk_first_year_examination_mean", "... children known only from devices", "d"),
    ("days_at_risk_first_year_depicted_mean", "... depicted children", "d"),
    ("identified_contact_within_90d_share", "children in contact: identified within 90 days",
     "pts"),
    ("identified_examination_within_365d_share", "children known only from devices: "
     "identified within a year", "pts"),
    ("identified_depicted_within_365d_share", "depicted children: identified within a year",
     "pts"),
    ("children_not_identified_end", "children not identified by the end (all routes)", "n"),
    ("children_not_identified_end_examination", "... of them known only from devices", "n"),
    ("time_to_safeguard_median_days", "median days from referral to social care acting", "d"),
    ("child_days_at_risk", "child-days at risk of identified children (5 years)", "n"),
    ("lab_wait_p90_days", "IIOC lab wait, P90 (days)", "d"),
    ("upload_wait_p90_days", "wait for verification and upload, P90 (days)", "d"),
    ("backlog_devices_end", "exhibits waiting for triage or the lab at the end", "n"),
    ("cost_total_gbp", "cost over 5 years (GBP m)", "m"),
]

#: The reading of each lever's numbers (see the module docstring). Written from the run of
#: 4 Dec 2026 (20 replications); the figures quoted are rounded from its tables.
WHY: dict[str, str] = {
    "identification-focus.yaml": (
        "Uploading as soon as material is graded empties the upload queue (its P90 wait falls "
        "by ~160 days), yet only about one depicted child in 200 more is identified within a "
        "year. In the model a depicted child waits for *every* device of the case to be "
        "graded and uploaded, then for victim identification, whose chance (0.6) and the "
        "trail's one-year half-life limit what speed can add. The upload work now competes "
        "on equal terms with investigative grading, so a device's second look at grading "
        "comes later and a few more children known only from devices are missed (+4): a "
        "trade-off inside one team of graders. The extra VID officers cost ~GBP 1m and add "
        "little while three officers keep up (their queue is short)."),
    "lab-ageing.yaml": (
        "Ordering the lab by deadline shortens the longest waits (fewer exhibits wait over a "
        "year, P90 ~25 days less) but makes the high-risk exhibits wait behind old "
        "low-risk ones. Children known only from devices are mostly in those "
        "cases, so fewer are found within a year and more are never found. In this model "
        "ageing helps the queue's tail and costs children; a rule that ages only the lower "
        "grades, or expedites every case with a child, would be the thing to try next."),
    "safeguarding-immediate.yaml": (
        "Identification is unchanged (the same children are found at the same moments); what "
        "changes is when social care is told. Children found by research are referred at "
        "once instead of after the warrant, ~4 days less at risk per child over all children "
        "and ~45,000 child-days over five years, at no cost in the model."),
    "safeguarding-after-examination.yaml": (
        "The criticised practice, applied to every case (an upper bound): children found at "
        "research or at the warrant wait for the slowest exhibit of their case, so children "
        "in contact gain ~8 days at risk each and the five years ~130,000 child-days. Cases "
        "with no further action or no device are not held (nothing is examined)."),
    "more-graders.yaml": (
        "Eight more graders cut the wait for the extra votes and upload (P90 ~145 days less) "
        "and identify depicted children ~2 days sooner on average, about 0.6 points more "
        "within a year. The effect is small because the lab, not grading, holds most "
        "devices back over five years, and depicted identification depends on victim "
        "identification succeeding at all."),
    "more-examiners.yaml": (
        "The 27 examiners clear the lab backlog (~10,600 fewer exhibits waiting at the end, "
        "P90 wait ~180 days less) and reach the children known only from devices: ~7 days "
        "less at risk each in their first year, ~1.6 points more found within a year, about "
        "40 more children found over five years, for ~GBP 5.4m. It is not more because the "
        "lab already puts the higher-graded cases first, and because most such children are "
        "lost earlier: in cases closed with no further action, nothing is seized at all. "
        "Faster examination also moves devices on to grading sooner, so the upload queue "
        "grows (P90 +74 days): staffing one stage moves the bottleneck to the next. Where "
        "grading is the tighter constraint the effect can turn: in a small test pipeline "
        "with too few graders, 12 more examiners identified ~1 point *fewer* depicted "
        "children within a year, because more devices crowd the grading queue and a case "
        "waits for its last device (tests/test_causal_chain.py uses graders there instead)."),
    "outsourcing.yaml": (
        "The provider takes ~3,500 medium- and low-risk exhibits off the backlog, but its "
        "six-week turnaround is slower than the in-house examination of a device that would "
        "have been served soon, and it finds evidence as an accredited examiner does: a "
        "smaller gain for children (~15 more found) than the examiners, for ~GBP 2.5m. The "
        "child-days of identified children rise slightly because more children are found, "
        "later."),
    "automation.yaml": (
        "Unattended scanning halves the examiner time per terabyte and the larger hash set "
        "and the classifier cut grading and verification work: the lab backlog falls by "
        "~4,800 exhibits and the upload P90 by ~117 days; ~20 more children are found and "
        "depicted children are identified ~3 days sooner. Tool costs are not in the model "
        "(no cost key for automation), so the cost shown is zero."),
    "training-programme.yaml": (
        "The KIRAT refresher finds 70% instead of 50% of the children in contact at "
        "research and grades fewer suspects wrongly low: ~1,100 fewer children unidentified "
        "over five years (mostly children who would otherwise have been lost when no action "
        "followed research) and ~26 days less at risk per child over all children, the "
        "largest effect of any lever here, for ~GBP 0.2m. The victim-focused course lifts "
        "what accredited examiners find (0.85 -> 0.95): ~14 more children known only from "
        "devices are found, after a short-term cost: while cohorts are away the lab P90 "
        "grows by ~27 days. Note that the research route's population grows with research "
        "itself, so compare children in contact as one group (the contact rows)."),
    "skills-audit.yaml": (
        "Training the trainee graders to accreditation cuts rework (fewer gradings sent back) "
        "and with it the upload P90 by ~95 days; depicted children are identified ~2 days "
        "sooner. The kiosk course adds a few children found at the kiosk. Small, cheap "
        "(~GBP 10,000) and with no short-term cost worth measuring."),
    "best-plan.yaml": (
        "The cheap levers together: the refresher's children found at research are now "
        "referred at once, the courses find more children on devices and in images, and "
        "automation frees examiner and grader time. Most of the gain is the refresher's and "
        "immediate referral's; the queue levers add to it mainly for children known only "
        "from devices and depicted children."),
    "more-warrant-crews.yaml": (
        "Four more crews bring warrants forward for every level: children in contact are "
        "found and safeguarded ~7.5 days sooner each, ~100 fewer children are left "
        "unidentified, and devices are seized sooner, so the children only they hold are "
        "found sooner too (~5 days each). The crews cost ~GBP 5.8m and push more devices "
        "into the lab sooner (its backlog at the end +1,400): the lab is the next constraint."),
}


def _fmt(x: float, kind: str) -> str:
    if math.isnan(x):
        return "n/a"
    if kind == "pts":
        return f"{100 * x:+.1f} pts"
    if kind == "m":
        return f"{x / 1e6:+.2f}"
    if kind == "d":
        return f"{x:+.1f}"
    return f"{x:+,.0f}"


def _level(x: float, kind: str) -> str:
    if math.isnan(x):
        return "n/a"
    if kind == "pts":
        return f"{100 * x:.1f}%"
    if kind == "m":
        return f"{x / 1e6:.2f}"
    if kind == "d":
        return f"{x:.1f}"
    return f"{x:,.0f}"


def main(argv: list[str] | None = None) -> int:
    """Run the levers and write the document."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--out", default=str(ROOT / "docs" / "levers.md"))
    args = ap.parse_args(argv)
    base = load_scenario(BASE)
    seed = base.run.seed
    backend = make_backend("processes", args.workers or max(1, min(available_cpus(), args.reps)))
    t0 = time.perf_counter()
    results = {"met-baseline.yaml": run_experiment(base, args.reps, seed, backend)}
    for _, files in CONCERNS:
        for name in files:
            results[name] = run_experiment(load_scenario(ROOT / "scenarios" / name), args.reps,
                                           seed, backend)
            print(f"{name}: done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    wall = time.perf_counter() - t0

    def values(name: str, metric: str) -> list[float]:
        return [r.metrics[metric] for r in results[name].replications]

    lines = [
        "# What each lever does for the children",
        "",
        "Generated by `.venv/bin/python bench/levers.py --reps "
        f"{args.reps}` on {dt.date.today().isoformat()} ({platform.node() or 'unknown host'}, "
        f"{platform.machine()}, Python {platform.python_version()}; {wall:.0f} s wall, "
        f"{backend.workers} worker(s)). Each lever scenario `extends:` "
        "`scenarios/met-baseline.yaml` and was run for the same replications 0-"
        f"{args.reps - 1} and seed {seed} as the baseline (common random numbers), so each "
        "cell is the mean paired difference (lever - baseline) over the five-year horizon with "
        "its Student-t 95% interval; `*` marks an interval that excludes zero. Source IDs are "
        "in [sources.md](sources.md); the routes by which children are found are explained "
        "in [model.md](model.md).",
        "",
        "## Baseline",
        "",
        "| metric | baseline mean [95% CI] |",
        "|---|---|",
    ]
    from sim.analysis.stats import mean_ci

    for metric, label, kind in ROWS:
        est = mean_ci(values("met-baseline.yaml", metric))
        lines.append(f"| {label} | {_level(est.mean, kind)} [{_level(est.ci_low, kind)}, "
                     f"{_level(est.ci_high, kind)}] |")
    for concern, files in CONCERNS:
        lines += ["", f"## {concern}", ""]
        header = "| metric | " + " | ".join(f"`{f}`" for f in files) + " |"
        lines += [header, "|---|" + "---|" * len(files)]
        for metric, label, kind in ROWS:
            cells = []
            for name in files:
                d = paired_difference(values("met-baseline.yaml", metric), values(name, metric))
                diff = d.difference
                star = "*" if d.significant else ""
                cells.append(f"{_fmt(diff.mean, kind)} [{_fmt(diff.ci_low, kind)}, "
                             f"{_fmt(diff.ci_high, kind)}]{star}")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        for name in files:
            question = _question(ROOT / "scenarios" / name)
            lines += ["", f"**`{name}`** — {question}"]
            if name in WHY:
                lines += ["", WHY[name]]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({wall:.0f} s)", file=sys.stderr)
    return 0


def _question(path: Path) -> str:
    """The scenario file's opening question (its first comment paragraph)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        text = line.lstrip("#").strip()
        if not text:
            break
        out.append(text)
    return " ".join(out).removeprefix("Question: ")


if __name__ == "__main__":
    raise SystemExit(main())

"""``fbsim compare``: the results folder, Holm's adjustment, the run-settings check, the notes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.image import imread

from sim.analysis.paired import (
    holm_adjust,
    paired_p_value,
    replications_to_resolve,
)
from sim.analysis.stats import Estimate, mean_ci, t_quantile
from sim.cli import main
from sim.cli.compare import resolve_notes

from .test_cli import run_cli

ROOT = Path(__file__).resolve().parents[1]

# --- Holm, p-values, replications to resolve: known answers ----------------------------


def test_holm_adjusts_known_p_values_by_hand():
    # Sorted 0.005 < 0.01 < 0.03 < 0.04 (m = 4): 4*0.005, 3*0.01, 2*0.03, max(1*0.04, 0.06).
    got = holm_adjust([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(got, [0.03, 0.06, 0.06, 0.02])
    # Capped at 1, NaN left out of m and kept NaN, one p-value unchanged.
    got = holm_adjust([0.5, math.nan, 0.9])
    assert math.isnan(got[1])
    np.testing.assert_allclose(got[[0, 2]], [1.0, 1.0])
    assert holm_adjust([0.03])[0] == 0.03


def test_holm_is_never_below_the_raw_p_value_and_keeps_the_order():
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = rng.uniform(0, 0.2, size=rng.integers(1, 8))
        adj = holm_adjust(p)
        assert np.all(adj >= p - 1e-15) and np.all(adj <= 1.0)
        order = np.argsort(p)
        assert np.all(np.diff(adj[order]) >= 0)


def test_paired_p_value_is_the_one_sample_t_test():
    from scipy import stats

    rng = np.random.default_rng(3)
    for n in (2, 5, 30):
        x = rng.normal(0.4, 1.0, n)
        assert paired_p_value(mean_ci(x)) == pytest.approx(stats.ttest_1samp(x, 0).pvalue,
                                                           rel=1e-10)
    assert paired_p_value(mean_ci([2.0, 2.0, 2.0])) == 0.0
    assert paired_p_value(mean_ci([0.0, 0.0])) == 1.0
    assert math.isnan(paired_p_value(mean_ci([1.0])))


@pytest.mark.parametrize("mean, sd", [(1.0, 1.0), (0.1, 1.0), (-3.0, 10.0), (5.0, 0.5)])
def test_replications_to_resolve_is_the_smallest_that_excludes_zero(mean, sd):
    n = replications_to_resolve(Estimate(mean, 0, 0, 5, 5, sd))
    assert n is not None

    def half(k: int) -> float:
        return t_quantile(0.975, k - 1) * sd / math.sqrt(k)

    assert half(n) < abs(mean)
    assert n == 2 or half(n - 1) >= abs(mean)


def test_replications_to_resolve_without_a_difference_is_none():
    assert replications_to_resolve(Estimate(0.0, -1, 1, 5, 5, 1.0)) is None
    assert replications_to_resolve(Estimate(1e-9, -1, 1, 5, 5, 1.0)) is None  # beyond the limit


def _row(**kw):
    row = {"metric": "lab_wait_median_days", "option": "opt", "difference": 1.0,
           "sd_difference": 2.0, "replications": 3, "significant": False,
           "replications_to_resolve": 20}
    row.update(kw)
    return row


def test_resolve_note_only_where_the_interval_includes_zero_and_more_are_needed():
    [note] = resolve_notes([_row()], 3)
    assert "to resolve lab_wait_median_days for opt" in note and "about 20 replications" in note
    assert resolve_notes([_row(significant=True, replications_to_resolve=math.nan)], 3) == []
    assert resolve_notes([_row(replications_to_resolve=math.nan)], 3) == []  # no difference


# --- the command ---------------------------------------------------------------------


def _write(tmp_path, data, name, **changes):
    data = json.loads(json.dumps(data))
    data["name"] = name
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split(".")
        for p in parents:
            node = node[p]
        node[last] = value
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """base mini (120 days) against 60 and 31 examiners, 3 replications, into a folder."""
    from .conftest import MINI

    tmp = tmp_path_factory.mktemp("compare")
    data = json.loads(json.dumps(MINI))
    data["run"]["horizon_days"] = 120
    base = _write(tmp, data, "mini")
    more = _write(tmp, data, "more", **{"staff.examiners.headcount": 60})
    bit = _write(tmp, data, "bit", **{"staff.examiners.headcount": 31})
    out_dir = tmp / "res"
    code, out, err = run_cli("compare", str(base), str(more), str(bit), "--reps", "3",
                             "--workers", "1", "--out", str(out_dir), "--metrics",
                             "lab_wait_median_days", "backlog_devices_end",
                             "time_to_identify_median_days")
    assert code == 0, err
    return out_dir, out, err, tmp


def test_compare_folder_holds_differences_arms_and_plots(compared):
    out_dir = compared[0]
    files = {p.name for p in out_dir.iterdir()}
    assert files == {"summary.json", "manifest.json", "differences.csv", "replication_metrics.csv",
                     "identify_curve.csv", "waiting_timeseries.csv", "differences.png",
                     "time_to_identification.png", "backlog_devices.png"}
    diffs = pd.read_csv(out_dir / "differences.csv")
    reps = pd.read_csv(out_dir / "replication_metrics.csv")
    assert set(reps["scenario"]) == {"mini", "more", "bit"}
    assert len(reps) == 9
    # Every metric, for both options; each difference is option - base, replication by replication.
    assert set(diffs["option"]) == {"more", "bit"}
    assert len(diffs) == 2 * len(reps.columns.drop(["scenario", "replication", "events",
                                                    "seconds"]))
    for option in ("more", "bit"):
        a = reps[reps["scenario"] == "mini"].set_index("replication")["backlog_devices_end"]
        b = reps[reps["scenario"] == option].set_index("replication")["backlog_devices_end"]
        row = diffs[(diffs["option"] == option) & (diffs["metric"] == "backlog_devices_end")]
        assert row["difference"].item() == pytest.approx((b - a).mean(), rel=1e-12)
        assert row["base_mean"].item() == pytest.approx(a.mean(), rel=1e-12)
    # Holm across the two options, metric by metric: never below the raw p-value.
    tested = diffs.dropna(subset=["p_value"])
    assert len(tested) > 100 and (tested["p_holm"] >= tested["p_value"] - 1e-15).all()
    for _, part in diffs.dropna(subset=["p_value"]).groupby("metric"):
        np.testing.assert_allclose(part["p_holm"], holm_adjust(part["p_value"].to_numpy()))
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["multiple_comparisons"] == "holm"
    assert set(summary["arms"]) == {"mini", "more", "bit"}
    assert summary["arms"]["more"]["metrics"]["backlog_devices_end"]["mean"] == 0.0
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert [a["label"] for a in manifest["arms"]] == ["mini", "more", "bit"]
    assert all(len(a["scenario_sha256"]) == 64 for a in manifest["arms"])
    assert len({a["scenario_sha256"] for a in manifest["arms"]}) == 3
    assert manifest["written_by"] == "fbsim" and "differences.csv" in manifest["files"]
    for png in ("differences.png", "time_to_identification.png", "backlog_devices.png"):
        image = imread(out_dir / png)
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200


def test_compare_says_it_adjusts_for_several_options(compared):
    _, out, err, _ = compared
    header = next(line for line in out.splitlines() if line.startswith("metric"))
    assert header.rstrip().endswith("Holm")  # the table has a Holm column
    assert "Holm's adjustment" in out
    assert "replications done" in err  # progress, across all arms
    assert "9/9 replications" in err


def test_too_few_replications_note_appears_where_a_difference_is_unresolved(compared):
    out_dir, out, _, _ = compared
    diffs = pd.read_csv(out_dir / "differences.csv").set_index(["option", "metric"])
    unresolved = diffs.loc[("bit", "lab_wait_median_days")]
    assert not unresolved["significant"]  # measured: 95% CI [-12.5, 1.7] at 3 replications
    assert unresolved["replications_to_resolve"] > 3
    assert "to resolve lab_wait_median_days for bit" in out
    # Resolved (60 examiners empty the lab) and no difference at all: no note.
    assert diffs.loc[("more", "backlog_devices_end"), "significant"]
    assert "to resolve backlog_devices_end for more" not in out
    assert diffs.loc[("more", "time_to_identify_median_days"), "difference"] == 0.0
    assert "to resolve time_to_identify_median_days" not in out


def test_compare_refuses_a_different_horizon_unless_allowed(compared, tmp_path):
    from .conftest import MINI

    data = json.loads(json.dumps(MINI))
    data["run"]["horizon_days"] = 120
    base = _write(tmp_path, data, "mini")
    longer = _write(tmp_path, data, "longer", **{"run.horizon_days": 150})
    code, _, err = run_cli("compare", str(base), str(longer), "--reps", "2", "--workers", "1",
                           "--out", str(tmp_path / "res"))
    assert code == 2
    assert "run.horizon: 120.0 days (mini) against 150.0 days (longer)" in err
    assert "--allow-different-run-settings" in err and "Traceback" not in err
    assert not (tmp_path / "res").exists()
    later = _write(tmp_path, data, "later", **{"run.start_date": "2027-01-01"})
    code, _, err = run_cli("compare", str(base), str(later), "--reps", "2",
                           "--out", str(tmp_path / "res"))
    assert code == 2 and "run.start_date" in err
    code, _, err = run_cli("compare", str(base), str(longer), "--reps", "2", "--workers", "1",
                           "--out", str(tmp_path / "res"), "--allow-different-run-settings",
                           "--no-plots", "--quiet")
    assert code == 0, err
    assert "warning: comparing despite different run settings" in err
    summary = json.loads((tmp_path / "res" / "summary.json").read_text())
    assert summary["run_setting_differences"] and summary["multiple_comparisons"] == "none"
    assert not list((tmp_path / "res").glob("*.png"))


def test_compare_default_folder_is_named_after_the_arms(compared, monkeypatch):
    _, _, _, tmp = compared
    monkeypatch.chdir(tmp)
    code = main(["compare", "mini.yaml", "more.yaml", "--reps", "2", "--workers", "1",
                 "--no-plots", "--quiet", "--metrics", "backlog_devices_end"])
    assert code == 0
    assert (tmp / "results" / "mini-vs-more" / "differences.csv").is_file()


def test_compare_of_scenarios_without_children_writes_its_folder(tmp_path):
    """The teaching queues have no children: no identification plot, no crash."""
    base = tmp_path / "mm1.yaml"
    base.write_text(f"extends: {ROOT / 'scenarios/teaching/mm1.yaml'}\nname: mm1-short\n"
                    "run: {horizon_days: 300, warmup_days: 50}\n")
    option = tmp_path / "mm1-two.yaml"
    option.write_text(f"extends: {base}\nname: mm1-two\nstaff: {{examiners: {{headcount: 2}}}}\n")
    code, _, err = run_cli("compare", str(base), str(option), "--reps", "3", "--workers", "1",
                             "--out", str(tmp_path / "res"))
    assert code == 0, err
    files = {p.name for p in (tmp_path / "res").iterdir()}
    assert {"differences.png", "backlog_devices.png", "differences.csv"} <= files
    assert "time_to_identification.png" not in files

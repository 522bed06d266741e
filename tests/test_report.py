"""``fbsim report``: one self-contained HTML file that opens in a real browser.

The browser test drives Debian's Chromium (``/usr/bin/chromium``) through Playwright,
headless, and asserts what a reader would notice: the page loads without console errors
and every figure decodes. On a machine without Chromium or Playwright it skips and says
how to install them (``.ci/run`` installs Chromium).
"""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.results.folder import foreign_files
from tests.conftest import MINI

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
INSTALL_HINT = ("needs Debian's Chromium and Playwright's Python package: "
                "'apt-get install -y chromium' and pip install -e '.[dev]' (which has playwright)")


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[Path, Path]:
    """A base run and an option (more examiners) on the same seed."""
    root = tmp_path_factory.mktemp("report")
    runs = []
    for name, examiners in (("base", 30), ("more-examiners", 45)):
        data = copy.deepcopy(MINI)
        data["name"] = name
        data["run"]["horizon_days"] = 150
        data["staff"]["examiners"]["headcount"] = examiners
        path = root / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        out_dir = root / name
        code, _, err = run_cli("run", str(path), "--reps", "3", "--workers", "1", "--quiet",
                               "--out", str(out_dir))
        assert code == 0, err
        runs.append(out_dir)
    return runs[0], runs[1]


@pytest.fixture(scope="module")
def report(folders) -> Path:
    base, option = folders
    code, out, err = run_cli("report", str(base), "--compare", str(option))
    assert code == 0, err
    assert out.strip() == str(base / "report.html")
    return base / "report.html"


def test_report_is_self_contained_and_says_what_was_run(report, folders):
    text = report.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)=\"(https?:|//|file:)", text)  # loads nothing
    assert "<script" not in text
    srcs = re.findall(r'<img src="([^"]{0,30})', text)
    assert len(srcs) >= 6 and all(s.startswith("data:image/png;base64,") for s in srcs)
    for words in ("The scenario", "Referrals arrive at 1,500 a year", "Headline results",
                  "Time to identify a child, median", "95% CI", "Options against the base",
                  "more-examiners − base", "paired by replication", "STRESS-DES checklist",
                  "Random streams", "Warm-up period", "Initial conditions", "Replications",
                  "Software", "numpy"):
        assert words in text, words
    base, _ = folders
    assert "report.html" in json.loads((base / "manifest.json").read_text())["files"]
    assert foreign_files(base) == []


def test_report_elsewhere_never_overwrites(folders, tmp_path):
    base, _ = folders
    target = tmp_path / "for-the-chief.html"
    assert run_cli("report", str(base), "--out", str(target))[0] == 0
    assert target.stat().st_size > 50_000
    code, _, err = run_cli("report", str(base), "--out", str(target))
    assert code == 2 and "exists" in err


def test_report_refuses_what_is_not_a_results_folder(tmp_path):
    code, _, err = run_cli("report", str(tmp_path))
    assert code == 2 and "not a results folder written by fbsim" in err
    assert not (tmp_path / "report.html").exists()


def open_in_browser(report: Path) -> tuple[list[str], list[list], str | None]:
    """Console errors, images (complete, natural width, alt) and the h1 of a loaded report."""
    sync_api = pytest.importorskip("playwright.sync_api", reason=INSTALL_HINT)
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(f"{CHROMIUM} not found: the report's browser test {INSTALL_HINT}")
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report.as_uri(), wait_until="load")
            images = page.evaluate(
                "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
            heading = page.text_content("h1")
        finally:
            browser.close()
    return errors, images, heading


def test_report_opens_in_a_browser_without_errors(report):
    errors, images, heading = open_in_browser(report)
    assert errors == []
    assert heading == "base"
    assert len(images) >= 6
    assert all(done and width > 0 for done, width, _ in images), images


@pytest.fixture(scope="module")
def scenario_files(tmp_path_factory) -> tuple[Path, Path]:
    """The mini scenario over 150 days and an option with more examiners."""
    root = tmp_path_factory.mktemp("inputs")
    paths = []
    for name, examiners in (("base", 30), ("more-examiners", 45)):
        data = copy.deepcopy(MINI)
        data["name"] = name
        data["run"]["horizon_days"] = 150
        data["staff"]["examiners"]["headcount"] = examiners
        path = root / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        paths.append(path)
    return paths[0], paths[1]


def test_sweep_report_shows_the_points_with_units_and_the_curves(scenario_files, tmp_path):
    base, _ = scenario_files
    out_dir = tmp_path / "sweep"
    code, _, err = run_cli("sweep", str(base), "--vary", "staff.examiners.headcount=25,40",
                           "--reps", "2", "--workers", "1", "--quiet", "--metrics",
                           "backlog_devices_end", "identified_within_30d_share",
                           "--out", str(out_dir))
    assert code == 0, err
    code, _, err = run_cli("report", str(out_dir))
    assert code == 0, err
    text = (out_dir / "report.html").read_text(encoding="utf-8")
    summary = json.loads((out_dir / "summary.json").read_text())
    for words in ("Sweep", "2 points (grid design over examiners headcount)",
                  "Devices waiting at the end (triage and lab)", "devices, ↓ better",
                  "Children identified within 30 days", "%, ↑ better", "STRESS-DES checklist"):
        assert words in text, words
    # Each point's mean as the presentation formats it: devices whole, shares as %.
    for point in summary["points"]:
        devices = point["metrics"]["backlog_devices_end"]["mean"]
        share = point["metrics"]["identified_within_30d_share"]["mean"]
        assert f"{devices:,.0f} [" in text and f">{100 * share:.1f} [" in text
    assert "Headline results" not in text
    errors, images, heading = open_in_browser(out_dir / "report.html")
    assert errors == [] and heading == "base"
    assert [alt for _, _, alt in images] == ["The chosen metrics against the lever, with 95% "
                                             "bands."]
    assert all(done and width > 0 for done, width, _ in images), images


def test_compare_report_shows_differences_with_the_holm_flag_and_plots(scenario_files,
                                                                       tmp_path):
    base, option = scenario_files
    out_dir = tmp_path / "compare"
    code, _, err = run_cli("compare", str(base), str(option), "--reps", "3", "--workers", "1",
                           "--quiet", "--out", str(out_dir))
    assert code == 0, err
    code, _, err = run_cli("report", str(out_dir), "--compare", str(out_dir))
    assert code == 2 and "results of fbsim compare; --compare adds options" in err, err
    code, _, err = run_cli("report", str(out_dir))
    assert code == 0, err
    text = (out_dir / "report.html").read_text(encoding="utf-8")
    for words in ("Options against the base", "more-examiners − base", "holds after Holm",
                  "p (Holm)", "Wait for lab examination, median", "one option: no adjustment",
                  "base: base (", "option: more-examiners ("):
        assert words in text, words
    differences = json.loads((out_dir / "summary.json").read_text())["differences"]
    lab = differences["more-examiners"]["lab_wait_median_days"]
    assert f"{lab['difference']:+,.3g}" in text
    errors, images, heading = open_in_browser(out_dir / "report.html")
    assert errors == [] and heading == "base"
    assert len(images) == 3 and all(done and width > 0 for done, width, _ in images), images


def test_plan_and_sensitivity_reports(scenario_files, tmp_path):
    pytest.importorskip("SALib")
    base, _ = scenario_files
    data = yaml.safe_load(base.read_text())
    for pool, cost in {"examiners": 55000, "graders": 65000}.items():
        data["staff"][pool]["workforce"] = {"cost_per_fte_year_gbp": cost}
    costed = tmp_path / "costed.yaml"
    costed.write_text(yaml.safe_dump(data, sort_keys=False))
    levers = tmp_path / "levers.yaml"
    levers.write_text(yaml.safe_dump({"levers": {"examiners": {
        "path": "staff.examiners.headcount", "values": [25, 35]}}}))
    plan = tmp_path / "plan"
    code, _, err = run_cli("plan", str(costed), "--levers", str(levers), "--target",
                           "backlog_devices_end<=900", "--tolerance", "backlog_devices_end=60",
                           "--screen-reps", "3", "--first-stage", "5", "--max-reps", "30",
                           "--workers", "1", "--quiet", "--out", str(plan))
    assert code == 0, err
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"parameters": {
        "examiners": {"path": "staff.examiners.headcount", "range": [25, 35]},
        "lab_hours_per_tb": {"path": "stages.lab_examination.hours_per_tb",
                             "range": [1.0, 3.0]}}, "metrics": ["backlog_devices_end"]}))
    sens = tmp_path / "sens"
    code, _, err = run_cli("sensitivity", str(costed), "--params", str(params), "--method",
                           "morris", "--samples", "2", "--reps", "1", "--workers", "1",
                           "--quiet", "--out", str(sens))
    assert code == 0, err
    for folder, words in ((plan, ("The plan", "The guarantee", "probability at least 97.5%",
                                  "as given", "cost (£m)")),
                          (sens, ("Sensitivity", "ranked by mu_star", "examiners"))):
        assert run_cli("report", str(folder))[0] == 0
        text = (folder / "report.html").read_text(encoding="utf-8")
        for w in words:
            assert w in text, (folder.name, w)
        errors, images, _ = open_in_browser(folder / "report.html")
        assert errors == [] and len(images) == 1, (folder.name, images)
        assert all(done and width > 0 for done, width, _ in images), images
    chosen = json.loads((plan / "summary.json").read_text())["chosen"]
    assert f"Chosen plan: <b>{chosen['plan']}</b>" in (plan / "report.html").read_text()

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


def test_report_opens_in_a_browser_without_errors(report):
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
    assert errors == []
    assert heading == "base"
    assert len(images) >= 6
    assert all(done and width > 0 for done, width, _ in images), images

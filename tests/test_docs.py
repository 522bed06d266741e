"""The documentation is current and its examples run.

- ``docs/scenario-reference.md`` is what ``fbsim reference`` generates from the schema, and
  every schema key has a description: a new key forces both.
- Every source ID a scenario or a page cites is listed in ``docs/sources.md``, and no page
  points readers to a file outside the repository.
- Every example of the how-to pages runs: files marked ``<!-- file: PATH -->`` are written,
  ``fbsim`` lines of ``bash`` blocks are run as commands and ``python`` blocks executed, in
  order, in a scratch folder holding a copy of ``scenarios/``.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sim.config.reference import (
    REGENERATE,
    described_but_gone,
    models_without_section,
    scenario_reference,
    undescribed_keys,
)

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: Pages whose examples run: the how-tos and the experiments page.
HOWTOS = sorted([*DOCS.glob("how-to-*.md"), DOCS / "experiments.md"])
#: Pages the lead is rewriting, which still point outside the repository. Each must still
#: do so (so this list shrinks as they are fixed, and never hides a new pointer).
POINTING_OUT_UNTIL_REWRITTEN: set[str] = set()
OUTSIDE = re.compile(r"/work/|\.\./shared/|(?<![\w.])shared/(design|bench)/")
BLOCK = re.compile(r"(?:<!-- file: (?P<file>\S+) -->\n)?```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)
SOURCE = re.compile(r"\[(S\d+[a-z]?)\]")


def test_scenario_reference_is_generated_from_the_schema():
    assert undescribed_keys() == [], "describe them in sim/data/scenario_reference.yaml"
    assert described_but_gone() == []
    assert models_without_section() == [], "give each a section in the reference text"
    current = (DOCS / "scenario-reference.md").read_text(encoding="utf-8")
    assert current == scenario_reference(), f"out of date: run '{REGENERATE}'"


def test_reference_command_checks_and_refuses_to_overwrite(tmp_path):
    stale = tmp_path / "ref.md"
    stale.write_text("# Scenario reference\nold\n")
    sim = [sys.executable, "-m", "sim", "reference"]
    done = subprocess.run([*sim, "--check", str(stale)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 3 and "out of date" in done.stderr
    assert subprocess.run([*sim, "--out", str(stale)], check=False).returncode == 0
    assert subprocess.run([*sim, "--check", str(stale)], check=False,
                          capture_output=True).returncode == 0
    mine = tmp_path / "notes.md"
    mine.write_text("my notes\n")
    done = subprocess.run([*sim, "--out", str(mine)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 2 and "will not overwrite" in done.stderr
    assert mine.read_text() == "my notes\n"


def _pages() -> list[Path]:
    return [*DOCS.glob("*.md"), ROOT / "README.md", *ROOT.glob("*/README.md"),
            *(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "scenarios").rglob("*.yaml")]


def test_no_page_points_outside_the_repository():
    pointing = {p.relative_to(ROOT).as_posix() for p in _pages()
                if OUTSIDE.search(p.read_text(encoding="utf-8"))}
    assert pointing <= POINTING_OUT_UNTIL_REWRITTEN, pointing - POINTING_OUT_UNTIL_REWRITTEN
    assert pointing == POINTING_OUT_UNTIL_REWRITTEN, (
        f"fixed, take them off the list: {POINTING_OUT_UNTIL_REWRITTEN - pointing}")


def test_every_cited_source_is_listed():
    listed = set(SOURCE.findall((DOCS / "sources.md").read_text(encoding="utf-8")))
    assert {"S1", "S4", "S22", "S63"} <= listed
    for page in _pages():
        cited = set(SOURCE.findall(page.read_text(encoding="utf-8")))
        assert cited <= listed, (page.name, sorted(cited - listed))


@pytest.mark.parametrize("page", HOWTOS, ids=lambda p: p.name)
def test_how_to_examples_run(page, tmp_path, monkeypatch):
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__doc_example__"}
    ran = 0
    for block in BLOCK.finditer(page.read_text(encoding="utf-8")):
        body = block["body"]
        if block["file"]:
            (tmp_path / block["file"]).write_text(body, encoding="utf-8")
        elif block["lang"] == "bash":
            for line in body.splitlines():
                if not line.startswith("fbsim "):
                    continue
                done = subprocess.run([sys.executable, "-m", "sim", *shlex.split(line)[1:]],
                                      capture_output=True, text=True, cwd=tmp_path, check=False)
                assert done.returncode == 0, (line, done.stdout[-2000:], done.stderr[-2000:])
                ran += 1
        elif block["lang"] == "python":
            exec(compile(body, f"{page.name}", "exec"), namespace)
            ran += 1
    assert ran, f"{page.name} has no example"

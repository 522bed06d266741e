"""Property tests: scenario *files*, valid and broken, through the command line.

Hypothesis writes a set of files for each example: a base scenario, a chain of files
that ``extends:`` it (with their own edits, names and odd ``extends:`` targets), inline
backlog blocks or a backlog CSV, and sometimes damaged YAML text. Each leaf file goes
through ``fbsim validate`` (``sim.cli.main``, in this process) and, when it is valid,
through ``with_overrides`` and sometimes ``fbsim run`` from a working folder of its own.
Every example must end in exit 0 or in exit 2 with a message, never a traceback or an
internal error; and no file outside the run's results folder may change (the whole
temporary tree is compared before and after, content included).

The "ci" Hypothesis profile (tests/conftest.py) makes this deterministic and short;
``FBSIM_HYPOTHESIS=thorough`` searches far more widely (docs/robustness.md).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import event, given
from hypothesis import strategies as st

from sim.analysis.load import offered_load
from sim.cli import main
from sim.config import ScenarioError, load_scenario, with_overrides

from .conftest import MINI
from .test_hostile_input import _paths, _set

BASE = copy.deepcopy(MINI)
BASE["run"]["horizon_days"] = 20
PATHS = _paths(BASE)
DOTTED = [".".join(map(str, p)) for p in PATHS]

VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 200), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 0.5, 1e308, -1, "", "x", "examinerz", "1e9", "phone", "fifo",
                     [], [1, 2], {}, {"fixed": {"value_hours": 1}},
                     {"exponential": {"mean_days": 0}}, {"poisson": {"mean": 1e9}}]),
    st.text(max_size=6),
)


def mostly(valid: st.SearchStrategy[Any], broken: st.SearchStrategy[Any]
           ) -> st.SearchStrategy[Any]:
    """``valid`` nine times in ten, so that a chain of several draws is still often valid."""
    return st.integers(0, 9).flatmap(lambda k: valid if k else broken)


NAMES = mostly(st.sampled_from([None, "mini", "ok-name_1.2", "results"]),
               st.sampled_from([".", "..", "../escaped", "a/b", "", ".hidden", "x..y", "ünï",
                                "a" * 130, "ESCAPE_ABSOLUTE"]))
EXTENDS = mostly(st.sampled_from(["parent", "ABSOLUTE_PARENT"]),
                 st.sampled_from(["missing.yaml", "notes.txt", "folder.yaml", "self", 7, ""]))
STAGES = ["intake", "enforcement", "device_triage", "lab_examination", "image_grading",
          "database_upload", "safeguarding", "nope"]
CSV_ROW = mostly(
    st.tuples(st.sampled_from(["lab_examination", "enforcement", "device_triage"]),
              st.integers(0, 400).map(str), st.just(""), st.integers(1, 5).map(str)),
    st.tuples(st.sampled_from(STAGES),
              st.one_of(st.integers(-2, 400).map(str), st.sampled_from(["", "x"])),
              st.sampled_from(["", "very_high", "low", "bad"]),
              st.one_of(st.integers(-1, 5).map(str), st.just(""))))
BLOCK = st.fixed_dictionaries({
    "count": mostly(st.integers(0, 50), st.sampled_from([-1, 10**8, "x"])),
    "age_days": mostly(st.just({"uniform": {"low": 0, "high": 30}}),
                       st.sampled_from([{"fixed": {"value": -1}}, 3, {"uniform": {"low": 5}}]))})
BACKLOGS = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(STAGES), BLOCK, max_size=2),
    st.lists(CSV_ROW, max_size=6).map(lambda rows: {"csv": rows}),
)
EDITS = st.one_of(st.just([]), st.just([]),
                  st.lists(st.tuples(st.sampled_from(PATHS), VALUES, st.booleans()), max_size=3))
DAMAGE = mostly(st.none(), st.one_of(st.floats(0.05, 0.95), st.sampled_from(["tab", "alias",
                                                                              "dup"])))


def _edit(data: dict[str, Any], edits: list[tuple[tuple[Any, ...], Any, bool]]) -> None:
    for path, value, delete in edits:
        with contextlib.suppress(KeyError, IndexError, TypeError):  # parent removed earlier
            _set(data, path, value, delete)


def _partial(edits: list[tuple[tuple[Any, ...], Any, bool]]) -> dict[str, Any]:
    """A file that extends another: only its own edits, as nested mappings."""
    out: dict[str, Any] = {}
    for path, value, delete in edits:
        if any(isinstance(p, int) for p in path):
            continue
        node = out
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[path[-1]] = None if delete else value
    return out


def _damage(text: str, how: Any) -> str:
    if how is None:
        return text
    if isinstance(how, float):
        return text[: int(len(text) * how)]
    if how == "tab":
        return text.replace("\n  ", "\n\t", 1)
    if how == "alias":
        return "x: &x [1, 2]\ny: [*x, *x, *x]\n" + text
    return text + text.splitlines()[0] + "\n"  # a duplicate key


def _dump(data: Any) -> str:
    try:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    except yaml.representer.RepresenterError:  # pragma: no cover - strategies avoid this
        return "name: unrepresentable\n"


def snapshot(root: Path) -> dict[str, str]:
    """Every file, folder and link below ``root`` with a digest of its content."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = f"link:{path.readlink()}"
        elif path.is_dir():
            out[rel] = "dir"
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[rel] = "other"
    return out


def cli(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out=out, err=err)
    text = err.getvalue()
    assert code in (0, 2), (code, text)
    assert "Traceback" not in text and "internal error" not in text, text
    if code == 2:
        assert "error" in text, text
    return code, text


def write_files(root: Path, base_name: Any, base_edits: Any, backlog: Any, chain: Any,
                damage: Any) -> Path:
    """Write the example's files below ``root``; the leaf file to validate."""
    (root / "notes.txt").write_text("name: notes\n")
    (root / "folder.yaml").mkdir()
    data = copy.deepcopy(BASE)
    _edit(data, base_edits)
    if base_name is None:
        data.pop("name", None)
    else:
        data["name"] = str(root / "escaped") if base_name == "ESCAPE_ABSOLUTE" else base_name
    if backlog is not None and "csv" in backlog:
        lines = ["stage,age_days,risk_level,count", *(",".join(r) for r in backlog["csv"])]
        (root / "backlog.csv").write_text("\n".join(lines) + "\n")
        backlog = {"csv": "backlog.csv"}
    if backlog is not None:
        data["initial_backlog"] = backlog
    path = root / "base.yaml"
    path.write_text(_damage(_dump(data), damage if not chain else None))
    for i, (target, name, edits) in enumerate(chain):
        child = _partial(edits)
        child["extends"] = {"parent": path.name, "self": f"level{i}.yaml",
                            "ABSOLUTE_PARENT": str(path)}.get(target, target)
        if name is not None:
            child["name"] = str(root / "escaped") if name == "ESCAPE_ABSOLUTE" else name
        path = root / f"level{i}.yaml"
        text = _dump(child)
        path.write_text(_damage(text, damage) if i == len(chain) - 1 else text)
    return path


@given(base_name=NAMES, base_edits=EDITS, backlog=BACKLOGS,
       chain=st.lists(st.tuples(EXTENDS, NAMES, EDITS), max_size=3), damage=DAMAGE,
       overrides=st.lists(st.tuples(st.one_of(st.sampled_from(DOTTED), st.sampled_from(
           ["staff..headcount", "run.horizon_days.x", "", "stafff.examiners.headcount",
            "staff.examinerz.headcount", "staff.examiners.tiers.9.share", "nope"])), VALUES),
           max_size=3),
       also_run=st.booleans())
def test_scenario_files_load_or_are_refused_cleanly_and_touch_nothing_else(
        base_name, base_edits, backlog, chain, damage, overrides, also_run):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = root / "files"
        files.mkdir()
        leaf = write_files(files, base_name, base_edits, backlog, chain, damage)
        work = root / "work"
        work.mkdir()
        before = snapshot(root)
        with contextlib.chdir(work):
            code, _ = cli("validate", str(leaf))
            event("valid" if code == 0 else "refused")
            if code == 0:
                scenario = load_scenario(leaf)
                try:
                    with_overrides(scenario, dict(overrides))
                except ScenarioError as exc:
                    assert exc.problems and all(p.message for p in exc.problems)
                small = sum(r.arrivals_per_day for r in offered_load(scenario)) < 2_000
                if also_run and small and scenario.run.end_day <= 400:
                    code, text = cli("run", str(leaf), "--reps", "1", "--workers", "1",
                                     "--tables", "none", "--no-plots", "--quiet")
                    assert code == 0, text
                    event("ran")
        after = snapshot(root)
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        outside = sorted(k for k in changed if not k.startswith("work/results"))
        assert outside == [], outside
        results = work / "results"
        if results.exists():  # only results/<scenario name>[-k], nothing half written
            names = [p.name for p in results.iterdir()]
            assert len(names) == 1 and names[0] == load_scenario(leaf).name, names
            assert not [k for k in after if k.endswith((".partial", ".old", ".tmp"))]

"""Start-up cost: the model, the workers and a summary-only run import no heavy library.

scipy.stats, pandas and matplotlib cost about 0.7, 0.3 and 0.3 s to import, more than a
short replication. They are imported only where used (a t quantile, reading tables,
plots). Each check runs in a fresh interpreter, since this one has imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("scipy", "pandas", "matplotlib")
#: What ``fbsim run`` and its workers import, and the other commands' modules.
MODEL_PATH = ("sim", "sim.config", "sim.model.replication", "sim.experiment",
              "sim.experiment.runner", "sim.experiment.backends", "sim.experiment.compare",
              "sim.cli", "sim.results", "sim.results.summary", "sim.results.tables",
              "sim.results.provenance", "sim.results.folder", "sim.analysis.metrics",
              "sim.analysis.stats", "sim.analysis.paired", "sim.analysis.load",
              "sim.analysis.check", "sim.plots")


def run_python(code: str, cwd: Path = ROOT) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; it prints one JSON object as its last line."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def loaded(prefixes: tuple[str, ...] = HEAVY) -> str:
    """Python source of an expression: the loaded modules among ``prefixes`` (and below)."""
    return (f"sorted(m for m in sys.modules if m.split('.')[0] in {prefixes!r} "
            f"or m in {prefixes!r})")


def test_model_and_run_modules_import_no_heavy_library():
    result = run_python(f"""
        import importlib, json, sys
        for name in {MODEL_PATH!r}:
            importlib.import_module(name)
        print(json.dumps({{"heavy": {loaded()}}}))
    """)
    assert result["heavy"] == []


def test_validating_a_scenario_imports_neither_the_model_nor_numpy(mini_file):
    result = run_python(f"""
        import io, json, sys
        from sim.cli import main
        code = main(["validate", {str(mini_file)!r}], out=io.StringIO(), err=io.StringIO())
        print(json.dumps({{"code": code, "heavy": {loaded(("numpy", "simpy", *HEAVY))}}}))
    """)
    assert result == {"code": 0, "heavy": []}


def test_public_api_still_offers_run_replication():
    result = run_python("""
        import json, sys
        import sim
        lazy = "sim.model.replication" not in sys.modules
        from sim import load_scenario, run_replication
        from sim.model.replication import run_replication as direct
        print(json.dumps({"lazy": lazy, "same": run_replication is direct,
                          "listed": "run_replication" in sim.__all__}))
    """)
    assert result == {"lazy": True, "same": True, "listed": True}


@pytest.mark.parametrize("tables", ["none", "all"])
def test_summary_run_imports_no_pandas_or_matplotlib(mini_file, tmp_path, tables):
    out_dir = tmp_path / "res"
    result = run_python(f"""
        import io, json, sys
        from sim.cli import main
        err = io.StringIO()
        code = main(["run", {str(mini_file)!r}, "--reps", "2", "--workers", "1",
                     "--tables", {tables!r}, "--no-plots", "--out", {str(out_dir)!r}, "--quiet"],
                    out=io.StringIO(), err=err)
        print(json.dumps({{"code": code, "err": err.getvalue(), "heavy": {loaded()}}}))
    """)
    assert result["code"] == 0, result["err"]
    assert (out_dir / "summary.json").exists()
    assert (out_dir / "tables").exists() == (tables == "all")
    # Two replications need a t quantile: scipy.special only, never scipy.stats.
    heavy = result["heavy"]
    assert isinstance(heavy, list)
    assert not [m for m in heavy if not m.startswith("scipy")]
    assert "scipy.stats" not in heavy


def test_one_replication_run_imports_no_scipy(mini_file, tmp_path):
    result = run_python(f"""
        import io, json, sys
        from sim.cli import main
        code = main(["run", {str(mini_file)!r}, "--reps", "1", "--tables", "none", "--no-plots",
                     "--out", {str(tmp_path / "res")!r}, "--quiet"],
                    out=io.StringIO(), err=io.StringIO())
        print(json.dumps({{"code": code, "heavy": {loaded()}}}))
    """)
    assert result == {"code": 0, "heavy": []}


def test_process_workers_import_no_heavy_library(mini_file, tmp_path):
    # The probe runs a replication inside each worker, then reports that worker's modules.
    (tmp_path / "fbsim_import_probe.py").write_text(textwrap.dedent(f"""
        import sys

        from sim.experiment.runner import run_task


        def probe(task):
            run_task(task)
            return {loaded()}
    """))
    result = run_python(f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        from fbsim_import_probe import probe
        from sim.config import load_scenario
        from sim.experiment import ProcessBackend, Task

        if __name__ == "__main__":
            scenario = load_scenario({str(mini_file)!r})
            tasks = [Task(scenario, i, 3) for i in range(4)]
            heavy = sorted({{m for mods in ProcessBackend(2).map_unordered(probe, tasks)
                             for m in mods}})
            print(json.dumps({{"heavy": heavy, "parent": {loaded()}}}))
    """, cwd=tmp_path)
    assert result == {"heavy": [], "parent": []}

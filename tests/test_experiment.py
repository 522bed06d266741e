"""Experiments: identical results whatever the backend; results folders never half written."""

from __future__ import annotations

import filecmp
import multiprocessing
from pathlib import Path

import pytest

from sim.experiment import ProcessBackend, SerialBackend, run_experiment
from sim.experiment.backends import default_start_method
from sim.results import read_table
from sim.results.summary import summary_dict


def _tables_equal(a: Path, b: Path) -> None:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*.csv"))
    files_b = sorted(p.relative_to(b) for p in b.rglob("*.csv"))
    assert files_a == files_b and files_a
    _, mismatch, errors = filecmp.cmpfiles(a, b, [str(f) for f in files_a], shallow=False)
    assert not mismatch and not errors


@pytest.mark.parametrize("start_method", [
    None,
    "spawn",
    pytest.param("forkserver", marks=pytest.mark.skipif(
        "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver")),
])
def test_serial_equals_two_processes(make_mini, tmp_path, start_method):
    s = make_mini(**{"run.horizon_days": 150})
    serial = run_experiment(s, 3, 21, SerialBackend(), table_dir=tmp_path / "serial")
    backend = ProcessBackend(2, start_method)
    assert backend.start_method == (start_method or default_start_method())
    parallel = run_experiment(s, 3, 21, backend, table_dir=tmp_path / "parallel")
    _tables_equal(tmp_path / "serial", tmp_path / "parallel")
    assert summary_dict(serial) == summary_dict(parallel)
    assert [r.replication for r in parallel.replications] == [0, 1, 2]


@pytest.mark.dask
def test_dask_local_cluster_equals_serial(make_mini, tmp_path):
    pytest.importorskip("distributed")
    from sim.experiment import DaskBackend

    s = make_mini(**{"run.horizon_days": 100})
    serial = run_experiment(s, 2, 5, SerialBackend(), table_dir=tmp_path / "serial")
    dask = run_experiment(s, 2, 5, DaskBackend(None, workers=2), table_dir=tmp_path / "dask")
    _tables_equal(tmp_path / "serial", tmp_path / "dask")
    assert summary_dict(serial) == summary_dict(dask)


@pytest.mark.dask
def test_dask_keeps_a_bounded_number_of_tasks_in_flight():
    pytest.importorskip("distributed")
    import operator

    from sim.experiment import DaskBackend

    taken = [0]
    total = 40

    def tasks():
        for i in range(total):
            taken[0] += 1
            yield i

    backend = DaskBackend(None, workers=2)
    window = backend.window(2)
    assert window == 6
    seen = []
    ahead = []
    for result in backend.map_unordered(operator.neg, tasks()):
        seen.append(result)
        ahead.append(taken[0] - len(seen))  # read from the iterator, not yet returned
    assert sorted(seen) == sorted(-i for i in range(total))
    # The window is refilled before each result is handed on: exactly ``window`` tasks
    # in flight until the iterator runs dry, never more.
    assert ahead[:total - window] == [window] * (total - window)
    assert max(ahead) == window and ahead[-1] == 0


@pytest.mark.dask
def test_fbsim_run_gives_the_same_results_serial_processes_and_dask(mini_file, tmp_path):
    pytest.importorskip("distributed")
    from .test_cli import run_cli

    outs = {}
    for name, how in [("serial", ("--backend", "serial")),
                      ("processes", ("--backend", "processes", "--workers", "2")),
                      ("dask", ("--backend", "dask", "--workers", "2"))]:
        outs[name] = tmp_path / name
        code, _, err = run_cli("run", str(mini_file), "--reps", "3", "--quiet", "--no-plots",
                               "--out", str(outs[name]), *how)
        assert code == 0, err
    reference = outs["serial"]
    files = sorted(p.relative_to(reference) for p in reference.glob("tables/*/*"))
    assert len(files) > 3 * 3
    for name, out in outs.items():
        assert sorted(p.relative_to(out) for p in out.glob("tables/*/*")) == files, name
        for f in [*files, Path("summary.json"), Path("identify_curve.parquet"),
                  Path("wait_curves.parquet"), Path("waiting_timeseries.parquet")]:
            assert (out / f).read_bytes() == (reference / f).read_bytes(), (name, f)


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]) for k in a)


def test_replications_are_independent_of_how_many_run(make_mini):
    s = make_mini(**{"run.horizon_days": 100})
    two = run_experiment(s, 2, 8)
    three = run_experiment(s, 3, 8)
    assert _same(two.replications[1].metrics, three.replications[1].metrics)
    assert not _same(two.replications[0].metrics, two.replications[1].metrics)
    later = run_experiment(s, 1, 8, first_replication=2)
    assert _same(later.replications[0].metrics, three.replications[2].metrics)


def test_read_table_concatenates_replications(make_mini, tmp_path):
    s = make_mini(**{"run.horizon_days": 60})
    run_experiment(s, 2, 1, table_dir=tmp_path / "tables")
    children = read_table(tmp_path, "children")
    assert set(children.replication) == {0, 1}
    with pytest.raises(FileNotFoundError):
        read_table(tmp_path, "nope")

"""Memory that does not grow with the replications, and the same tables as before (issue 12).

An experiment keeps its replications in a
:class:`~sim.analysis.replication_store.ReplicationStore` (metrics as columns, curves
and series in temporary files once they pass a threshold) rather than a list of
summaries. What is checked:

- the store gives back every summary bit for bit, in replication order whatever order
  they came in, in memory or on disk, odd ones (a curve of another length, an integer
  metric) included;
- the run-level tables and ``summary.json`` are byte for byte those of the list-based
  code of main at 2436261, which is copied here (``_old_*``) and run on the rebuilt
  summaries, with the statistics read in blocks of a few points and the long table
  written in chunks of a few rows, in CSV and Parquet; the same for a comparison's
  folder; a Parquet table written in chunks is the file ``pyarrow.parquet.write_table``
  writes whole (past one row group);
- serial, two processes and a run resumed from its journal write the same tables;
- the memory a run keeps does not grow with its replications: 4N replications of a
  tiny M/M/1 (journaled, as ``fbsim run`` does) keep about what N keep, and a resumed
  run reads its journal's finished replications one at a time.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import math
import pickle
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.analysis import replication_store, spill, stats
from sim.analysis.metrics import IDENTIFY_GRID_DAYS, METRICS, ReplicationSummary
from sim.analysis.replication_store import ReplicationStore
from sim.analysis.stage_waits import WAIT_GRID_DAYS
from sim.analysis.stats import band, band_by_columns, mean_by_columns, mean_ci
from sim.analysis.warmup import replication_series
from sim.config import scenario_from_dict
from sim.experiment.backends import ProcessBackend
from sim.experiment.compare import compare_many
from sim.experiment.runner import ExperimentResult, Task, run_experiment, run_task
from sim.results import tables
from sim.results.atomic import write_json
from sim.results.compare_folder import write_compare_outputs
from sim.results.journal import Journal, Summaries
from sim.results.presentation import nan_reason
from sim.results.resume import recorder
from sim.results.summary import RUN_TABLES, unit_and_description, write_run_outputs

from .conftest import MINI

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- old code
# The list-based run-level outputs of main at 2436261 (sim/results/summary.py and
# ExperimentResult.estimates), as they were, on a list of summaries.

def _old_estimates(reps: list[ReplicationSummary], level: float = 0.95) -> dict[str, Any]:
    return {name: mean_ci([r.metrics[name] for r in reps], level, info.bounds)
            for name, info in METRICS.items()}


def _old_all_estimates(reps: list[ReplicationSummary], level: float = 0.95) -> dict[str, Any]:
    out = dict(_old_estimates(reps, level))
    extra: dict[str, None] = {}
    for r in reps:
        extra.update(dict.fromkeys(n for n in r.metrics if n not in out))
    for name in extra:
        unit = unit_and_description(name)[0]
        bounds = (0.0, 1.0) if unit == "share" else (0.0, math.inf)
        out[name] = mean_ci([r.metrics.get(name, math.nan) for r in reps], level, bounds)
    return out


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _old_summary_dict(result: ExperimentResult, reps: list[ReplicationSummary]
                      ) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    for name, est in _old_all_estimates(reps).items():
        unit, description = unit_and_description(name)
        metrics[name] = {
            "mean": _num(est.mean), "ci95_low": _num(est.ci_low), "ci95_high": _num(est.ci_high),
            "unit": unit, "sd": _num(est.sd),
            "replications_defined": est.n, "description": description,
        }
        reason = nan_reason(name, est.n, est.n_total)
        if reason is not None:
            metrics[name]["note"] = reason
    out = {"scenario": result.scenario.name, "replications": len(reps),
           "seed": result.seed, "metrics": metrics}
    if "replication_control" in result.extra:
        out["replication_control"] = result.extra["replication_control"]
    return out


def _old_metrics_columns(reps: list[ReplicationSummary]) -> dict[str, np.ndarray]:
    names: dict[str, None] = {}
    for r in reps:
        names.update(dict.fromkeys(r.metrics))
    nan = math.nan
    return {"replication": np.asarray([r.replication for r in reps]),
            **{name: np.asarray([r.metrics.get(name, nan) for r in reps]) for name in names},
            "events": np.asarray([r.events for r in reps]),
            "seconds": np.asarray([r.seconds for r in reps])}


def _old_banded(key: str, per_rep: list[np.ndarray | None], grid: np.ndarray) -> tuple:
    nan = np.full(grid.size, np.nan)
    mean, low, high = band(np.vstack([nan if c is None else c for c in per_rep]))
    return np.full(grid.size, key, dtype=object), mean, low, high


def _old_identify_curve_columns(reps: list[ReplicationSummary]) -> dict[str, np.ndarray]:
    routes = list(reps[0].identified_curves) if reps and reps[0].identified_curves else ["all"]
    parts: dict[str, list[np.ndarray]] = {k: [] for k in (
        "route", "days_since_referral", "identified_share_mean", "ci95_low", "ci95_high")}
    for route in routes:
        curves = np.vstack([r.identified_curves.get(route, r.identified_curve)
                            if route != "all" else r.identified_curve for r in reps])
        mean, low, high = band(curves)
        parts["route"].append(np.full(IDENTIFY_GRID_DAYS.size, route, dtype=object))
        parts["days_since_referral"].append(IDENTIFY_GRID_DAYS)
        parts["identified_share_mean"].append(mean)
        parts["ci95_low"].append(low)
        parts["ci95_high"].append(high)
    return {k: np.concatenate(v) for k, v in parts.items()}


def _old_wait_curves_columns(reps: list[ReplicationSummary]) -> dict[str, np.ndarray]:
    keys: dict[str, None] = {}
    for r in reps:
        keys.update(dict.fromkeys(r.wait_curves))
    parts = [_old_banded(key, [r.wait_curves.get(key) for r in reps], WAIT_GRID_DAYS)
             for key in keys]
    stage_group = [k.split(".", 1) for k in keys]
    n = WAIT_GRID_DAYS.size
    return {"stage": np.repeat(np.asarray([s for s, _ in stage_group], dtype=object), n),
            "group": np.repeat(np.asarray([g for _, g in stage_group], dtype=object), n),
            "wait_days": np.tile(WAIT_GRID_DAYS, len(parts)),
            "started_share_mean": (np.concatenate([p[1] for p in parts]) if parts
                                   else np.empty(0)),
            "ci95_low": np.concatenate([p[2] for p in parts]) if parts else np.empty(0),
            "ci95_high": np.concatenate([p[3] for p in parts]) if parts else np.empty(0)}


def _old_waiting_columns(reps: list[ReplicationSummary]) -> dict[str, np.ndarray]:
    parts = []
    for r in reps:
        days = np.asarray(r.timeseries_days)
        for stage, values in r.waiting.items():
            values = np.asarray(values)
            parts.append((np.full(values.size, r.replication, dtype=np.int64), days,
                          np.full(values.size, stage, dtype=object), values))
    return {name: np.concatenate([p[i] for p in parts])
            for i, name in enumerate(("replication", "day", "stage", "waiting"))}


OLD_TABLES = {"replication_metrics": _old_metrics_columns,
              "identify_curve": _old_identify_curve_columns,
              "wait_curves": _old_wait_curves_columns,
              "waiting_timeseries": _old_waiting_columns}


def _table_bytes(columns: dict[str, np.ndarray], fmt: str) -> bytes:
    if fmt == "parquet":
        buffer = io.BytesIO()
        tables.columns_parquet_writer(columns)(buffer)
        return buffer.getvalue()
    text = io.StringIO()
    tables.columns_csv_writer(columns)(text)
    return text.getvalue().encode()


def _json_bytes(tmp: Path, data: dict[str, Any]) -> bytes:
    write_json(tmp / "old-summary.json", data)
    return (tmp / "old-summary.json").read_bytes()


def assert_old_outputs(folder: Path, result: ExperimentResult, fmt: str) -> None:
    """``folder`` holds, byte for byte, what main's list-based code writes for ``result``."""
    reps = list(result.replications)
    for name in RUN_TABLES:
        expected = _table_bytes(OLD_TABLES[name](reps), fmt)
        assert (folder / f"{name}.{fmt}").read_bytes() == expected, name
    assert (folder / "summary.json").read_bytes() == _json_bytes(
        folder.parent, _old_summary_dict(result, reps))


# --------------------------------------------------------------------------- helpers

def _same(a: Any, b: Any) -> bool:
    """Equal bit for bit: types, dtypes, key order, NaN payloads."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return np.float64(a).tobytes() == np.float64(b).tobytes()
    return bool(a == b)


def assert_same_summary(got: ReplicationSummary, want: ReplicationSummary) -> None:
    for f in dataclasses.fields(ReplicationSummary):
        assert _same(getattr(got, f.name), getattr(want, f.name)), f.name


@pytest.fixture(scope="module")
def mini() -> Any:
    return scenario_from_dict(copy.deepcopy(MINI))


@pytest.fixture(scope="module")
def mini_summaries(mini) -> list[ReplicationSummary]:
    """Replications 0-3 of the mini scenario, as the workers return them."""
    return [run_task(Task(mini, i, 7)) for i in range(4)]


def tiny_mm1(horizon_days: float = 20.0) -> Any:
    """The teaching M/M/1 cut to a few days: about 5 ms a replication."""
    data = yaml.safe_load((ROOT / "scenarios" / "teaching" / "mm1.yaml").read_text())
    data["run"].update(horizon_days=horizon_days, warmup_days=0, timeseries_interval_days=5)
    return scenario_from_dict(data)


# --------------------------------------------------------------------------- the store

@pytest.mark.parametrize("spill_bytes", [None, 0], ids=["in-memory", "on-disk"])
def test_store_gives_back_every_summary_bit_for_bit_in_replication_order(
        mini_summaries, spill_bytes):
    store = ReplicationStore(0, spill_bytes)
    for i in (2, 0, 3, 1):  # as workers finish
        store.add(mini_summaries[i])
    assert len(store) == 4 and store.replication_indices().tolist() == [0, 1, 2, 3]
    for got, want in zip(store, mini_summaries, strict=True):
        assert_same_summary(got, want)
    assert_same_summary(store[-1], mini_summaries[3])
    assert [s.replication for s in store[1:3]] == [1, 2]
    for got, want in zip(pickle.loads(pickle.dumps(store)), mini_summaries, strict=True):
        assert_same_summary(got, want)
    with pytest.raises(ValueError, match="already"):
        store.add(mini_summaries[0])
    with pytest.raises(IndexError):
        store[4]


def test_store_keeps_what_does_not_fit_its_columns_as_given(mini_summaries):
    base = mini_summaries[0]
    odd = [
        dataclasses.replace(base, replication=10, metrics={**base.metrics, "extra_count": 3}),
        dataclasses.replace(base, replication=11, waiting={
            **base.waiting, "backlog_devices": np.arange(3.0)}),  # another length
        dataclasses.replace(base, replication=12, metrics={**base.metrics,
                                                           "extra_count": np.float32(2.5)}),
        dataclasses.replace(base, replication=13, identified_curve=np.zeros(366),
                            conservation={"lab": {"arrived": 1.5}}, events=np.int64(9)),
        dataclasses.replace(base, replication=14, wait_curves={}, waiting={}),
    ]
    store = ReplicationStore.of(odd, spill_bytes=0)
    for got, want in zip(store, odd, strict=True):
        assert_same_summary(got, want)
    extra = store.metric("extra_count")
    assert extra[0] == 3.0 and extra[2] == 2.5 and np.isnan(extra[[1, 3, 4]]).all()
    only_ints = ReplicationStore.of([odd[0], dataclasses.replace(odd[0], replication=11)])
    assert only_ints.metric_column("extra_count").dtype == np.int64  # as numpy.asarray did
    assert _same(only_ints.metric_column("extra_count"),
                 _old_metrics_columns(list(only_ints))["extra_count"])


def test_store_spills_to_files_with_no_name(mini_summaries, tmp_path, monkeypatch):
    import tempfile

    spill_dir = tmp_path / "tmp"
    spill_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill_dir))
    store = ReplicationStore.of(mini_summaries, spill_bytes=0)
    assert "on disk" in repr(store)
    # On POSIX the temporary files are unlinked from the start: nothing is left behind
    # however the process ends, even killed.
    assert list(spill_dir.iterdir()) == []
    assert_same_summary(store[2], mini_summaries[2])


@pytest.mark.parametrize("rows", [1, 2, 9, 130, 3000])
def test_band_and_mean_by_blocks_of_columns_are_those_of_the_whole_array(rows):
    rng = np.random.default_rng(rows)
    x = rng.random((rows, 41))
    x[rng.random(x.shape) < 0.2] = np.nan
    x[:, 3] = np.nan
    x[1:, 4] = np.nan  # one value only
    clean = rng.random((rows, 41))

    def reader(a: np.ndarray) -> Any:
        return lambda start, stop: np.ascontiguousarray(a[:, start:stop])

    for max_bytes in (8, rows * 8 * 3, rows * 8 * 7, 1 << 30):
        got = band_by_columns(reader(x), 41, rows, max_bytes=max_bytes)
        for g, w in zip(got, band(x), strict=True):
            assert g.tobytes() == w.tobytes()
        mean = mean_by_columns(reader(clean), 41, rows, max_bytes=max_bytes)
        assert mean.tobytes() == np.mean(clean, axis=0).tobytes()
        one = mean_by_columns(reader(clean[:, :1]), 1, rows, max_bytes=max_bytes)
        assert one.tobytes() == np.mean(clean[:, :1], axis=0).tobytes()


# --------------------------------------------------------------------------- tables

@pytest.fixture
def small_blocks(monkeypatch):
    """Curves transposed a row at a time and read three points at a time; the long table
    written seven rows at a time, in Parquet row groups of 50."""
    monkeypatch.setattr(stats, "BLOCK_BYTES", 3 * 4 * 8)
    monkeypatch.setattr(spill, "TRANSPOSE_BYTES", 1)
    monkeypatch.setattr(replication_store, "CHUNK_ROWS", 7)
    monkeypatch.setattr(tables, "ROW_GROUP_ROWS", 50)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("spill_bytes", [None, 0], ids=["in-memory", "on-disk"])
def test_run_outputs_are_those_of_the_list_based_code(mini, mini_summaries, fmt, spill_bytes,
                                                      small_blocks, tmp_path):
    shuffled = [mini_summaries[i] for i in (3, 1, 0, 2)]
    store = ReplicationStore.of(shuffled, spill_bytes=spill_bytes)
    result = ExperimentResult(mini, 7, store, 1.0, "serial", 1)
    folder = tmp_path / "out"
    folder.mkdir()
    write_run_outputs(folder, result, {}, plots=False, fmt=fmt)
    assert_old_outputs(folder, result, fmt)
    waiting = pd.read_csv(folder / "waiting_timeseries.csv") if fmt == "csv" else \
        pd.read_parquet(folder / "waiting_timeseries.parquet")
    assert waiting["replication"].is_monotonic_increasing and waiting["stage"].nunique() > 3


def test_auto_run_outputs_are_those_of_the_list_based_code(tmp_path):
    from sim.experiment.autoreps import PrecisionRule, run_experiment_auto

    scenario = tiny_mm1(60.0)
    result = run_experiment_auto(scenario, 3, PrecisionRule(0.01, initial=3, max_reps=8))
    assert len(result.replications) == 8
    folder = tmp_path / "auto"
    folder.mkdir()
    write_run_outputs(folder, result, {}, plots=False, fmt="csv")
    assert_old_outputs(folder, result, "csv")


def test_a_parquet_table_written_in_chunks_is_the_file_written_whole():
    import pyarrow.parquet as pq

    rows = tables.ROW_GROUP_ROWS + 1234  # past one row group
    rng = np.random.default_rng(0)
    columns = {"replication": np.repeat(np.arange(rows // 30 + 1), 30)[:rows],
               "day": np.tile(np.arange(30.0), rows // 30 + 1)[:rows],
               "stage": np.asarray(["lab", "triage", "backlog"] * (rows // 3 + 1),
                                   dtype=object)[:rows],
               "waiting": rng.poisson(4.0, rows).astype(float)}
    main = io.BytesIO()  # main's call: write_table with pyarrow's default row groups
    names, values = list(columns), list(columns.values())
    pq.write_table(tables._arrow_table(columns), main, **tables._parquet_options(names, values))
    whole, chunked = io.BytesIO(), io.BytesIO()
    tables.columns_parquet_writer(columns)(whole)
    step = 300_007
    tables.chunks_parquet_writer(
        {k: v[at:at + step] for k, v in columns.items()} for at in range(0, rows, step))(chunked)
    assert pq.ParquetFile(io.BytesIO(main.getvalue())).metadata.num_row_groups == 2
    assert whole.getvalue() == main.getvalue()
    assert chunked.getvalue() == main.getvalue()


def test_compare_outputs_are_those_of_the_list_based_code(mini, small_blocks, tmp_path):
    from sim.results.tables import csv_writer

    option = scenario_from_dict({**copy.deepcopy(MINI), "name": "mini-more"})
    comparison = compare_many(mini, [option], 3, 7)
    folder = tmp_path / "cmp"
    folder.mkdir()
    write_compare_outputs(folder, comparison, ["lab_wait_p90_days"], {}, plots=False)
    old = {"replication_metrics": _old_metrics_columns,
           "identify_curve": _old_identify_curve_columns,
           "waiting_timeseries": _old_waiting_columns}
    for name, columns in old.items():
        frames = []
        for label, arm in zip(comparison.labels, comparison.arms, strict=True):
            frame = pd.DataFrame(columns(list(arm.replications)))
            frame.insert(0, "scenario", label)
            frames.append(frame)
        text = io.StringIO()
        csv_writer(pd.concat(frames, ignore_index=True))(text)
        assert (folder / f"{name}.csv").read_bytes() == text.getvalue().encode(), name


def test_warmup_series_are_the_means_of_the_stacked_series(small_blocks):
    scenario = tiny_mm1(200.0)
    result = run_experiment(scenario, 5, 1)
    reps = list(result.replications)
    days, series = replication_series(result.replications)
    assert days.tolist() == reps[0].timeseries_days.tolist() and series
    for name, values in series.items():
        want = np.mean(np.vstack([r.waiting[name] for r in reps]), axis=0)
        assert values.tobytes() == want.tobytes()


def _files(folder: Path) -> dict[str, bytes]:
    """Run-level tables and summary.json; ``replication_metrics`` without ``seconds``."""
    out = {name: (folder / f"{name}.csv").read_bytes() for name in RUN_TABLES}
    lines = out["replication_metrics"].decode().splitlines()
    assert lines[0].endswith(",seconds")
    out["replication_metrics"] = "\n".join(line.rsplit(",", 1)[0] for line in lines).encode()
    out["summary.json"] = (folder / "summary.json").read_bytes()
    return out


def test_serial_processes_and_resumed_runs_write_the_same_tables(mini, tmp_path):
    def write(result: ExperimentResult, name: str) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        write_run_outputs(folder, result, {}, plots=False, fmt="csv")
        return folder

    journal_dir = tmp_path / "journal"
    journal_dir.mkdir()
    with Journal(journal_dir) as journal:
        serial = run_experiment(mini, 4, 7, record=recorder(journal, "k", None))
    serial_out = write(serial, "serial")
    assert_old_outputs(serial_out, serial, "csv")
    parallel = run_experiment(mini, 4, 7, ProcessBackend(2))
    assert _files(write(parallel, "parallel")) == _files(serial_out)
    with Journal(journal_dir) as journal:
        entries = journal.finished("k")
        every = run_experiment(mini, 4, 7, finished=Summaries(entries))
        part = run_experiment(mini, 4, 7, finished=Summaries(
            {i: e for i, e in entries.items() if i in (0, 2)}))
    every_out = write(every, "resumed-all")
    for name in (*RUN_TABLES, "summary.json"):  # every replication from the journal: seconds too
        suffix = "" if name.endswith(".json") else ".csv"
        assert (every_out / f"{name}{suffix}").read_bytes() == \
            (serial_out / f"{name}{suffix}").read_bytes()
    assert _files(write(part, "resumed-half")) == _files(serial_out)


# --------------------------------------------------------------------------- memory

def test_memory_a_run_keeps_does_not_grow_with_its_replications(tmp_path, monkeypatch):
    """4N journaled replications keep about what N keep; resuming reads them one at a time.

    Measured with tracemalloc (numpy's buffers included) in the process that keeps the
    results, on a tiny M/M/1 run on two worker processes (tracemalloc would slow a
    serial run's simulation ten times), traced from the N-th replication on: what is
    still allocated at the 4N-th is what 3N replications added (an upper bound). A
    summary as the workers return it is some 30 KB (curves on a 366-day grid, a hundred
    metrics, as measured here), and main's list of them and its journal kept about that
    much a replication (34 KB measured the same way); the store and the journal's index
    keep about 1 KB (a row of metric columns, the journal's place of the record), plus
    buffers that do not grow. Curves go to disk from the start here, so what stays in
    memory is all there is to see; the journal skips fsync (durability is not measured).
    """
    import os

    monkeypatch.setattr(replication_store, "SPILL_BYTES", 0)
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    scenario = tiny_mm1()
    n = 150
    grown: list[int] = []

    def sample(summary: ReplicationSummary, done: int, total: int) -> None:
        if done == n:
            tracemalloc.start()
        elif done == 4 * n:
            grown.append(tracemalloc.get_traced_memory()[0])
            tracemalloc.stop()

    template = pickle.dumps(run_task(Task(scenario, 0, 1)))
    tracemalloc.start()
    one = pickle.loads(template)  # what the main process gets from a worker
    summary_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del one
    try:
        with Journal(tmp_path) as journal:
            result = run_experiment(scenario, 4 * n, 1, ProcessBackend(2), on_result=sample,
                                    record=recorder(journal, "k", None))
        del result
        with Journal(tmp_path) as journal:
            finished = Summaries(journal.finished("k"))
            tracemalloc.start()
            resumed = run_experiment(scenario, 4 * n, 1, finished=finished)
            kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary_bytes > 10_000
    per_replication = grown[0] / (3 * n)
    assert per_replication < summary_bytes / 5, \
        f"{per_replication:.0f} bytes kept per replication (a summary is {summary_bytes})"
    # Resuming: the store's columns (and one summary at a time), not every summary.
    assert kept < 4 * n * summary_bytes / 5, f"resume keeps {kept} bytes"
    assert peak < 2 * 1024 * 1024 + 4 * n * summary_bytes / 5, f"resume peak {peak} bytes"
    assert len(resumed.replications) == 4 * n

"""CSV files written without pandas are byte for byte what pandas writes, in full precision."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.experiment import run_experiment
from sim.model.replication import run_replication
from sim.results import summary, tables
from sim.results.tables import write_columns_csv


def pandas_csv(columns: dict[str, object]) -> str:
    buffer = io.StringIO()
    pd.DataFrame(columns).to_csv(buffer, index=False)
    return buffer.getvalue()


def our_csv(columns: dict[str, object]) -> str:
    buffer = io.StringIO()
    write_columns_csv(buffer, columns)
    return buffer.getvalue()


def test_replication_tables_match_pandas(make_mini):
    records = run_replication(make_mini(**{"run.horizon_days": 120}), 2, 5)
    assert records.tables
    for name, table in records.tables.items():
        rows = len(next(iter(table.values())))
        columns = {"replication": np.full(rows, records.replication, dtype=np.int64), **table}
        expected = io.StringIO()
        records.frame(name).to_csv(expected, index=False)
        assert our_csv(columns) == expected.getvalue(), name


def test_run_level_tables_match_their_frames(make_mini):
    result = run_experiment(make_mini(**{"run.horizon_days": 90}), 2, 3)
    for columns, frame in ((summary.metrics_columns(result), summary.metrics_frame(result)),
                           (summary.identify_curve_columns(result),
                            summary.identify_curve_frame(result)),
                           (summary.waiting_columns(result), summary.waiting_frame(result))):
        expected = io.StringIO()
        frame.to_csv(expected, index=False)
        assert our_csv(columns) == expected.getvalue()


EDGE_FLOATS = np.array([0.0, -0.0, math.nan, math.inf, -math.inf, 1e-300, 5e-324, 1e300,
                        123456.5, 1234567.0, 0.1 + 0.2, -2.5e-7, 1 / 3])


@pytest.mark.parametrize("columns", [
    {"x": EDGE_FLOATS, "n": np.arange(EDGE_FLOATS.size)},
    {"x": np.array([0.1, -0.0, math.nan, 1 / 3, 3e38], dtype=np.float32), "flag": np.arange(5) % 2 == 0},
    {"big": np.array([2**62, -(2**62), 0]), "u": np.array([0, 1, 255], dtype=np.uint8)},
    {"text": np.array(["a", None, math.nan, "", "x,y", 'say "hi"', "two\nlines", "cr\r", " sp "],
                      dtype=object),
     "n": np.arange(9)},
    {"only": np.array(["", "a", None], dtype=object)},
    {"only": np.array([1.5, math.nan])},
    {"a,b": np.array([1, 2]), 'q"': np.array([0.5, 1.5])},
    {"empty": np.array([], dtype=float), "text": np.array([], dtype=object)},
    {"unicode": np.array(["Zoë", "día"]), "n": np.array([1, 2])},
    {"objfloat": np.array([1.5, 2.123456789, None], dtype=object), "n": np.arange(3)},
])
def test_edge_cases_match_pandas(columns):
    assert our_csv(columns) == pandas_csv(columns)


def test_chunks_mixing_plain_and_quoted_text_match_pandas(monkeypatch):
    monkeypatch.setattr(tables, "_CHUNK_ROWS", 3)
    text = np.array(["a", "b", "c", "d,e", "f", "g", "h"], dtype=object)
    columns = {"text": text, "x": np.linspace(0, 1, text.size)}
    assert our_csv(columns) == pandas_csv(columns)


def test_other_column_types_are_handed_to_pandas():
    columns = {"when": np.array(["2026-01-01", "NaT"], dtype="datetime64[D]"), "n": [1, 2]}
    assert our_csv(columns) == pandas_csv(columns)


def test_unequal_columns_are_refused():
    with pytest.raises(ValueError, match="equal length"):
        our_csv({"a": np.arange(3), "b": np.arange(4)})


text_cells = st.one_of(st.none(), st.text(alphabet=st.sampled_from('ab ,"\n\r.-é'), max_size=4))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 6).flatmap(lambda n: st.tuples(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n, max_size=n),
    st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n),
    st.lists(st.booleans(), min_size=n, max_size=n),
    st.lists(text_cells, min_size=n, max_size=n))))
def test_random_tables_match_pandas(data):
    floats, ints, bools, texts = data
    columns = {"f": np.array(floats, dtype=float), "i": np.array(ints, dtype=np.int64),
               "b": np.array(bools, dtype=bool), "t": np.array(texts, dtype=object)}
    assert our_csv(columns) == pandas_csv(columns)
    assert our_csv({"t": columns["t"]}) == pandas_csv({"t": columns["t"]})


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_long_runs_day_columns_read_back_exactly(mini_data, tmp_path, fmt):
    # A 55-year run with little demand: day columns reach 20,000, where six significant
    # digits kept only 0.1 day. Written by fbsim run, read back with read_table.
    import yaml

    from sim.config import load_scenario
    from sim.results import read_table

    from .test_cli import run_cli

    mini_data["run"].update(horizon_days=20_000, timeseries_interval_days=91.0)
    mini_data["demand"].update(referrals_per_year=15, annual_growth_rate=0.0)
    mini_data["initial_backlog"] = {}
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(mini_data, sort_keys=False))
    out = tmp_path / "res"
    code, _, err = run_cli("run", str(path), "--reps", "1", "--workers", "1", "--seed", "3",
                           "--quiet", "--no-plots", "--out", str(out), "--tables", "full",
                           "--format", fmt)
    assert code == 0, err
    records = run_replication(load_scenario(path), 0, 3)
    visits = records.tables["stage_visits"]
    assert np.nanmax(visits["end_day"]) > 15_000
    checked = 0
    for name, table in records.tables.items():
        back = read_table(out, name)
        for column, values in table.items():
            if np.asarray(values).dtype.kind == "f":
                assert np.array_equal(back[column].to_numpy(dtype=float), values,
                                      equal_nan=True), (name, column)
                checked += 1
    assert checked > 20
    waits = visits["start_day"] - visits["arrive_day"]
    back = read_table(out, "stage_visits")
    assert np.array_equal(back["start_day"] - back["arrive_day"], waits, equal_nan=True)


@pytest.mark.parametrize("cells", [
    ["lab", "kiosk", "lab", None, float("nan"), "lab", "é ü"],  # text, missing, non-ASCII
    [True, 1, 1.0, "1", None],   # equal as dictionary keys, different as text
    [],
    ["only"] * 5,
])
def test_parquet_text_columns_read_back_cell_for_cell(cells, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    column = np.asarray(cells, dtype=object)
    path = tmp_path / "t.parquet"
    with path.open("wb") as f:
        tables.columns_parquet_writer({"text": column})(f)
    back = pq.read_table(path).column("text").to_pylist()
    expected = [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                for v in cells]
    assert back == expected

"""The parameters file, the sensitivity run and ``fbsim sensitivity`` on the small scenario."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import yaml

from sim.analysis.metrics import METRICS
from sim.cli import main
from sim.config import load_scenario
from sim.decision.inputfile import InputFileError
from sim.decision.sensitivity import SensitivitySettings, effect_name, run_sensitivity
from sim.decision.uncertain import load_uncertain

pytest.importorskip("SALib")

PARAMS = {"parameters": {
    "lab_hours_per_tb": {"path": "stages.lab_examination.hours_per_tb", "range": [1.0, 3.0]},
    "examiners": {"path": "staff.examiners.headcount", "range": [25, 35]},
    "vid_probability": {"path": "stages.victim_identification.identification_probability",
                        "range": [0.4, 0.8]}},
    "metrics": ["backlog_devices_end"],
    "levers": {"plus_5_examiners": {"staff.examiners.headcount": {"add": 5}}}}


@pytest.fixture
def short(mini_data, tmp_path):
    mini_data["run"]["horizon_days"] = 90
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump(mini_data, sort_keys=False))
    return path


def write(tmp_path, data):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_morris_ranks_examiners_first_and_vid_last_for_the_backlog(short, tmp_path):
    scenario = load_scenario(short)
    spec = load_uncertain(write(tmp_path, PARAMS), scenario, METRICS)
    result = run_sensitivity(scenario, spec, SensitivitySettings(seed=3, method="morris",
                                                                 samples=4, replications=1))
    # 16 points, each with and without the lever; identical scenarios (a lever point that
    # equals another base point) share their replication.
    assert result.points.shape == (16, 3) and 16 < result.replications_run <= 32
    mu = result.indices["backlog_devices_end"]["mu_star"]
    # Victim identification happens after the lab: it cannot move the lab backlog at all.
    assert mu[2] == 0 and mu[1] > mu[0] > 0
    # Five more examiners cut the end backlog at every sampled assumption (paired).
    effects = result.lever_effects_frame().set_index("metric").loc["backlog_devices_end"]
    assert effects["same_sign_everywhere"] and effects["effect_max"] < 0
    samples = result.samples_frame()
    assert set(samples["examiners"]) <= set(range(25, 36))  # whole numbers, as run
    assert np.array_equal(samples[effect_name("plus_5_examiners", "backlog_devices_end")],
                          result.outputs[effect_name("plus_5_examiners", "backlog_devices_end")])


def test_sobol_indices_of_an_output_that_ignores_a_parameter(short, tmp_path):
    scenario = load_scenario(short)
    data = dict(PARAMS, levers={})
    data["parameters"] = {k: v for k, v in PARAMS["parameters"].items() if k != "lab_hours_per_tb"}
    spec = load_uncertain(write(tmp_path, data), scenario, METRICS)
    result = run_sensitivity(scenario, spec, SensitivitySettings(seed=3, method="sobol",
                                                                 samples=8, replications=1))
    st = result.indices["backlog_devices_end"]["ST"]
    assert result.points.shape == (32, 2)
    assert st[1] == pytest.approx(0.0, abs=1e-12) and st[0] > 0.5


@pytest.mark.parametrize(("data", "expected"), [
    ({"parameters": {"x": {"path": "stages.lab_examination.hours_per_tbb", "range": [1, 2]}}},
     "parameters.x.path (value: 'stages.lab_examination.hours_per_tbb'): not a numeric key"),
    ({"parameters": {"x": {"path": "staff.examiners.headcount", "range": [5, 2]}}},
     "parameters.x.range (value: [5, 2]): give the range as [low, high]"),
    ({"parameters": {"x": {"path": "staff.examiners.availability", "range": [0.5, 1.5]}}},
     "1.5 gives an invalid scenario: staff.examiners.availability"),
    ({"parameters": {"x": {"path": "staff.examiners.headcount", "range": [5, 9]}},
      "metrics": ["backlog"]}, "metrics[0] (value: 'backlog'): unknown metric"),
    ({"parameters": {"x": {"path": "staff.examiners.headcount", "range": [5, 9]}},
      "levers": {"y": {"staff.examiners.headcount": {"plus": 3}}}},
     "levers.y.staff.examiners.headcount: a change is a value"),
])
def test_bad_parameters_files_are_refused_with_location(short, tmp_path, data, expected):
    with pytest.raises(InputFileError) as info:
        load_uncertain(write(tmp_path, data), load_scenario(short), METRICS)
    assert expected in str(info.value), str(info.value)


def test_fbsim_sensitivity_writes_a_results_folder(short, tmp_path):
    out_dir = tmp_path / "sens"
    out, err = io.StringIO(), io.StringIO()
    code = main(["sensitivity", str(short), "--params", str(write(tmp_path, PARAMS)),
                 "--method", "morris", "--samples", "2", "--reps", "1", "--workers", "1",
                 "--out", str(out_dir), "--quiet"], out=out, err=err)
    assert code == 0, err.getvalue()
    text = out.getvalue()
    assert "plus_5_examiners on backlog_devices_end" in text and "same sign" in text
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["method"] == "morris" and summary["points"] == 8
    assert summary["ranking"]["backlog_devices_end"][0]["parameter"] == "examiners"
    assert (out_dir / "ranking_backlog_devices_end.png").stat().st_size > 5_000
    rows = (out_dir / "sensitivity_indices.csv").read_text().splitlines()
    assert rows[0].startswith("output,parameter,mu_star,") and len(rows) == 1 + 2 * 3
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert "lever_effects.csv" in manifest["files"]


def test_fbsim_sensitivity_bad_file_exit_2(short, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    code = main(["sensitivity", str(short), "--params", str(tmp_path / "none.yaml")],
                out=out, err=err)
    assert code == 2 and "file not found" in err.getvalue()
    assert "Traceback" not in err.getvalue()


@pytest.mark.dask
def test_sensitivity_is_the_same_serial_on_processes_and_on_dask(short, tmp_path):
    """Issue 14: the indices, samples and lever effects do not depend on the backend."""
    pytest.importorskip("distributed")
    from sim.decision.evaluate import Evaluator, backend_for_session
    from sim.experiment.backends import ProcessBackend

    scenario = load_scenario(short)
    spec = load_uncertain(write(tmp_path, PARAMS), scenario, METRICS)
    settings = SensitivitySettings(seed=3, method="morris", samples=2, replications=1)
    serial = run_sensitivity(scenario, spec, settings)
    runs = [run_sensitivity(scenario, spec, settings, Evaluator(ProcessBackend(2), seed=3))]
    with backend_for_session("dask", 2) as backend:
        runs.append(run_sensitivity(scenario, spec, settings, Evaluator(backend, seed=3)))
    for other in runs:
        assert other.samples_frame().equals(serial.samples_frame())
        assert other.lever_effects_frame().equals(serial.lever_effects_frame())
        for name, table in serial.indices.items():
            for key, values in table.items():
                assert np.array_equal(np.asarray(other.indices[name][key]), np.asarray(values),
                                      equal_nan=True), (name, key)

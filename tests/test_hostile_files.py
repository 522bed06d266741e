"""Hostile or careless scenario files and overrides, as the user meets them.

Each case of issue 11 (items 2, 5-8) through ``fbsim validate`` or ``with_overrides``:
refused with exit 2 and a message naming the file or key, never a traceback, never a
phantom setting, never minutes of work.
"""

from __future__ import annotations

import copy
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.config import ScenarioError, load_scenario, scenario_from_dict, with_overrides
from sim.config.limits import MAX_SCENARIO_FILE_BYTES

from .conftest import MINI
from .test_cli import run_cli

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "met-baseline.yaml"


def validate(path: Path) -> tuple[int, str]:
    code, _, err = run_cli("validate", str(path))
    assert "Traceback" not in err and "internal error" not in err, err
    return code, err


def write(path: Path, data: Any) -> Path:
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


# ------------------------------------------------------------------ 2. phantom pools
def test_a_misspelt_pool_in_a_file_extending_the_baseline_is_refused_with_a_hint(tmp_path):
    lever = write(tmp_path / "lever.yaml", f"extends: {BASELINE}\nname: lever\n"
                                           f"staff:\n  examinerz:\n    headcount: 120\n")
    code, err = validate(lever)
    assert code == 2
    assert f"{lever}:4: staff.examinerz" in err  # the file and line of the misspelt key
    assert "did you mean 'examiners'?" in err


def test_a_misspelt_pool_in_an_override_is_refused_with_a_hint():
    base = load_scenario(BASELINE)
    with pytest.raises(ScenarioError) as caught:
        with_overrides(base, {"staff.examinerz.headcount": 120})
    (problem,) = caught.value.problems
    assert problem.key_path == "staff.examinerz" and "did you mean 'examiners'?" in problem.message
    assert with_overrides(base, {"staff.examiners.headcount": 120}).staff["examiners"].headcount == 120


def test_a_pool_used_only_by_a_training_programme_or_a_disabled_stage_is_in_use(mini_data):
    mini_data["staff"]["trainers"] = {"headcount": 2}
    mini_data["training"] = {"course": {"pool": "trainers", "cohort_size": 1, "start_day": 0,
                                        "duration_days": 5}}
    scenario_from_dict(mini_data)
    del mini_data["training"]
    with pytest.raises(ScenarioError, match=r"staff\.trainers"):
        scenario_from_dict(mini_data)
    mini_data["stages"]["safeguarding"].update(pool="trainers", enabled=False)
    scenario_from_dict(mini_data)


# --------------------------------------------------------------- 5. bombs and giants
def _alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for k in range(1, levels):
        lines.append(f"l{k}: &l{k} [{', '.join([f'*l{k - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    bomb = write(tmp_path / "bomb.yaml", _alias_bomb())  # 9^9 = 387 million values
    assert bomb.stat().st_size < 1024
    # In a process of its own, with a deadline: a regression would otherwise take
    # minutes and gigabytes (issue 11), not fail.
    done = subprocess.run([sys.executable, "-m", "sim", "validate", str(bomb)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert "more than 250,000 values once YAML aliases" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("text", "expected"), [
    ("a: &a [1, *a]\n", "structure without end"),
    ("a: " + "[" * 80 + "]" * 80 + "\n", "nested more than 64 deep"),
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nesting depth"),
])
def test_recursive_and_deep_documents_are_refused(tmp_path, text, expected):
    code, err = validate(write(tmp_path / "odd.yaml", text))
    assert code == 2 and expected in err


def test_a_50_mb_profile_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "huge-profile.yaml"
    with big.open("w") as f:
        f.write("extends: x.yaml\ndemand:\n  referrals_per_year_profile:\n")
        line = "  - 1234.5\n"
        f.write(line * (50 * 1024 * 1024 // len(line)))
    code, err = validate(big)
    assert code == 2
    assert f"is {big.stat().st_size:,} bytes; at most {MAX_SCENARIO_FILE_BYTES:,}" in err


def test_a_long_profile_is_refused_with_its_key(mini_data, tmp_path):
    mini_data["demand"]["referrals_per_year_profile"] = [1500.0] * 5000
    mini_data["demand"]["annual_growth_rate"] = 0
    del mini_data["demand"]["referrals_per_year"]
    code, err = validate(write(tmp_path / "long.yaml", mini_data))
    assert code == 2 and "demand.referrals_per_year_profile" in err and "at most 1000" in err


# ------------------------------------------------------------------------ 6. extends
SECRET = "root:$6$very-secret-hash:19000:0:99999:7:::"


@pytest.fixture
def odd_files(tmp_path) -> dict[str, Path]:
    secret = tmp_path / "shadow"
    secret.write_text(SECRET + "\n")
    (tmp_path / "secret.yaml").write_text(f"{SECRET}\n")
    os.symlink("/dev/zero", tmp_path / "zero.yaml")
    os.mkfifo(tmp_path / "fifo.yaml")
    (tmp_path / "folder.yaml").mkdir()
    with (tmp_path / "big.yaml").open("wb") as f:
        f.truncate(MAX_SCENARIO_FILE_BYTES + 1)
    return {p.name: p for p in tmp_path.iterdir()}


@pytest.mark.parametrize(("target", "expected"), [
    ("shadow", "extends names a scenario file, ending in .yaml or .yml"),
    ("/etc/shadow", "extends names a scenario file, ending in .yaml or .yml"),
    ("/dev/zero", "extends names a scenario file, ending in .yaml or .yml"),
    ("zero.yaml", "is not a regular file"),
    ("fifo.yaml", "is not a regular file"),
    ("folder.yaml", "is a folder, not a file"),
    ("big.yaml", "at most 2,097,152 are read"),
    ("missing.yaml", "file not found"),
])
def test_extends_only_reads_regular_yaml_files_and_never_echoes_them(odd_files, tmp_path,
                                                                     target, expected):
    lever = write(tmp_path / "lever.yaml", f"name: lever\nextends: {target}\n")
    code, err = validate(lever)
    assert code == 2 and expected in err, err
    assert f"{lever}:2: extends" in err  # reported where the file was named
    assert "secret" not in err.replace(str(tmp_path), "")


def test_a_yaml_base_that_is_not_a_scenario_is_refused_without_its_content(odd_files, tmp_path):
    lever = write(tmp_path / "lever.yaml", "name: lever\nextends: secret.yaml\n")
    code, err = validate(lever)
    assert code == 2 and f"{lever}:2: extends" in err and "is not a scenario file" in err
    assert "very-secret-hash" not in err


@pytest.mark.parametrize("name", ["/dev/zero", "fifo.yaml", "folder.yaml", "big.yaml"])
def test_the_scenario_file_itself_must_be_a_regular_file_of_sane_size(odd_files, tmp_path, name):
    code, err = validate(odd_files.get(name, Path(name)))
    assert code == 2 and ("regular file" in err or "folder" in err or "at most" in err), err


@pytest.mark.parametrize(("csv_name", "expected"), [
    ("/dev/zero", "a backlog CSV file's name ends in .csv"),
    ("zero.csv", "backlog CSV is not a regular file"),
])
def test_the_backlog_csv_must_be_a_regular_csv_file(mini_data, tmp_path, csv_name, expected):
    os.symlink("/dev/zero", tmp_path / "zero.csv")
    mini_data["initial_backlog"] = {"csv": csv_name}
    code, err = validate(write(tmp_path / "s.yaml", mini_data))
    assert code == 2 and expected in err


# ------------------------------------------------------------------------ 7. numbers
@pytest.mark.parametrize(("key", "value", "expected"), [
    ("horizon_years", 100_000, "run.horizon_years (value: 100000): Input should be less than or "
                               "equal to 1000"),
    ("horizon_years", ".inf", "run.horizon_years (value: inf): Input should be a finite number"),
    ("horizon_days", ".nan", "run.horizon_days (value: nan): Input should be a finite number"),
    ("warmup_days", 1e9, "run.warmup_days"),
    ("timeseries_interval_days", "1.0e-06", "time-series points; at most 200,000"),
])
def test_unbounded_run_settings_are_refused(mini_data, tmp_path, key, value, expected):
    run = {k: v for k, v in mini_data["run"].items() if not k.startswith("horizon")}
    run["horizon_days" if key != "horizon_years" else "horizon_years"] = 300
    text = yaml.safe_dump({**mini_data, "run": run, "initial_backlog": {}}, sort_keys=False)
    text = text.replace(f"  {key}: 300\n", "").replace("run:\n", f"run:\n  {key}: {value}\n")
    code, err = validate(write(tmp_path / "s.yaml", text))
    assert code == 2 and expected in err, err


@pytest.mark.parametrize("edit", [
    {"demand": {"annual_growth_rate": 10.0}, "run": {"horizon_days": 36_500}},  # 11^100
    {"demand": {"referrals_per_year": 1e12}},
    {"cases": {"devices_per_case": {"poisson": {"mean": 1e6}}}},
])
def test_demand_that_would_exhaust_memory_is_refused(mini_data, tmp_path, edit):
    for block, values in edit.items():
        mini_data[block].update(values)
    code, err = validate(write(tmp_path / "s.yaml", mini_data))
    assert code == 2 and "demand.referrals_per_year" in err and "over the run" in err
    assert "entities per replication; at most 10,000,000 are simulated" in err


def _numbers(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _numbers(v, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _numbers(v, (*path, i))]
    return [path] if isinstance(node, int | float) and not isinstance(node, bool) else []


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_or_infinity_in_any_number_of_a_scenario_is_refused(bad):
    paths = _numbers(MINI)
    assert len(paths) > 60
    for path in paths:
        data = copy.deepcopy(MINI)
        node = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = bad
        with pytest.raises(ScenarioError) as caught:
            scenario_from_dict(data)
        assert caught.value.problems, path


@pytest.mark.parametrize("args", [["--reps", "100000000"], ["--reps", "100001"],
                                  ["--workers", "100000"], ["--seed", str(2**64)]])
def test_huge_counts_on_the_command_line_are_refused_before_anything_runs(mini_file, args):
    code, _, err = run_cli("run", str(mini_file), *args, "--out", str(mini_file.parent / "r"))
    assert code == 2 and "must be <=" in err
    assert not (mini_file.parent / "r").exists()


# ------------------------------------------------------------- 8. with_overrides paths
@pytest.mark.parametrize(("overrides", "key", "expected"), [
    ({"staff.examiners.tiers.5.share": 1.0}, "staff.examiners.tiers.5.share",
     "has 2 item(s); there is no index 5"),
    ({"staff.examiners.tiers.first.share": 1.0}, "staff.examiners.tiers.first.share",
     "is a list; 'first' is not an index"),
    ({"run.horizon_days.x": 1}, "run.horizon_days.x", "is a value (300.0), not a block"),
    ({"run.horizon_years.x": 1}, "run.horizon_years.x", "holds a single value, not a block"),
    ({"staff..headcount": 1}, "staff..headcount", "has an empty part"),
    ({"": 1}, "", "non-empty dotted string"),
    ({"nonsense": 1}, "nonsense", "unknown key"),
    ({"stafff.examiners.headcount": 1}, "stafff", "did you mean 'staff'?"),
    ({"staff.examiners.headcont": 1}, "staff.examiners.headcont", "did you mean 'headcount'?"),
    ({"staff.examiners.headcount": "many"}, "staff.examiners.headcount", "valid integer"),
    ({"staff.examiners.tiers.0.share": 0.5}, "staff.examiners", "must sum to 1"),
])
def test_every_override_mistake_is_a_scenario_error_naming_the_key(make_mini, overrides, key,
                                                                   expected):
    with pytest.raises(ScenarioError) as caught:
        with_overrides(make_mini(), overrides)
    assert any(p.key_path == key and expected in p.message for p in caught.value.problems), (
        [str(p) for p in caught.value.problems])


def test_overrides_reach_into_lists_and_unset_blocks(make_mini):
    base = make_mini(**{"stages.device_triage.kiosk": None, "policies.kiosk_share_of_phones": 0,
                        "staff.kiosks": None})
    more = with_overrides(base, {"staff.examiners.tiers.0.share": 0.5,
                                 "staff.examiners.tiers.1.share": 0.5,
                                 "stages.device_triage.kiosk.pool": "hub"})
    assert [t.share for t in more.staff["examiners"].tiers] == [0.5, 0.5]
    assert more.stages.device_triage.kiosk is not None
    assert more.stages.device_triage.kiosk.pool == "hub"
    with pytest.raises(ScenarioError):
        with_overrides(base, ["staff.examiners.headcount"])  # type: ignore[arg-type]


def test_backlog_csv_rows_of_count_zero_add_nothing(mini_data, tmp_path):
    # Found by tests/test_hostile_properties.py: a stage whose rows all had count 0
    # divided by zero ("internal error") when its risk mix was worked out.
    (tmp_path / "b.csv").write_text("stage,age_days,risk_level,count\nintake,0,very_high,0\n"
                                    "lab_examination,3,low,0\nlab_examination,5,high,2\n")
    mini_data["initial_backlog"] = {"csv": "b.csv"}
    scenario = load_scenario(write(tmp_path / "s.yaml", mini_data))
    assert [(stage, block.count) for stage, block in scenario.initial_backlog.blocks()] == [
        ("lab_examination", 2)]
    assert scenario.initial_backlog.lab_examination.risk_mix.high == 1.0

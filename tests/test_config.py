"""Scenario loading: good files load, bad ones are refused with file, line, key, value."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.config import (
    ScenarioError,
    load_scenario,
    scenario_from_dict,
    scenario_hash,
    with_overrides,
)

ROOT = Path(__file__).resolve().parents[1]


def write(path: Path, data: dict[str, Any] | str) -> Path:
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def problems(exc: pytest.ExceptionInfo[ScenarioError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def test_mini_loads_and_hash_is_stable(mini_data, tmp_path):
    a = load_scenario(write(tmp_path / "a.yaml", mini_data))
    b = scenario_from_dict(mini_data)
    assert a == b
    assert scenario_hash(a) == scenario_hash(b)
    c = with_overrides(a, {"staff.examiners.headcount": 31})
    assert scenario_hash(c) != scenario_hash(a)
    assert c.staff["examiners"].headcount == 31


def test_typo_names_file_line_and_nearest_key(mini_data, tmp_path):
    mini_data["staff"]["examiners"]["headcont"] = mini_data["staff"]["examiners"].pop("headcount")
    path = write(tmp_path / "typo.yaml", mini_data)
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    text = "\n".join(problems(exc))
    assert "staff.examiners.headcont" in text
    assert "did you mean 'headcount'" in text
    assert str(path) in text
    line = exc.value.problems[0].line
    assert line is not None
    assert "headcont" in path.read_text().splitlines()[line - 1]


def test_negative_rate_is_refused_with_value(mini_data):
    mini_data["demand"]["referrals_per_year"] = -5
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(mini_data)
    (p,) = exc.value.problems
    assert p.key_path == "demand.referrals_per_year"
    assert p.value == "-5"
    assert "greater than or equal to 0" in p.message


def test_shares_must_sum_to_one(mini_data):
    mini_data["demand"]["risk_mix"]["low"] = 0.5
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(mini_data)
    assert any("sum to 1" in m for m in problems(exc))


def test_wrong_unit_in_duration_is_explained(mini_data):
    mini_data["stages"]["intake"]["service"] = {"lognormal": {"mean": 6, "sd_hours": 3}}
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(mini_data)
    text = "\n".join(problems(exc))
    assert "stages.intake.service" in text
    assert "unit suffix" in text


@pytest.mark.parametrize("family", ["gamma", "lognormal"])
def test_a_spread_too_small_to_sample_is_refused(family, mini_data):
    # Found by tests/test_hostile_input.py: a gamma's shape (mean / sd)^2 overflowed.
    mini_data["stages"]["intake"]["service"] = {family: {"mean_hours": 14,
                                                         "sd_hours": 1e-164}}
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(mini_data)
    (p,) = exc.value.problems
    assert p.key_path.startswith("stages.intake.service")
    assert "use 'fixed'" in p.message
    mini_data["stages"]["intake"]["service"] = {family: {"mean_hours": 14, "sd_hours": 1e-4}}
    scenario_from_dict(mini_data)  # small but samplable: accepted


def test_unknown_distribution_family_suggests(mini_data):
    mini_data["stages"]["intake"]["service"] = {"lognormol": {"mean_hours": 6, "sd_hours": 3}}
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(mini_data)
    assert "did you mean 'lognormal'" in "\n".join(problems(exc))


def test_unknown_pool_is_an_impossible_combination(mini_data):
    mini_data["stages"]["lab_examination"]["pool"] = "examinerz"
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(mini_data)
    (p,) = exc.value.problems
    assert p.key_path == "stages.lab_examination.pool"
    assert "no staff pool named 'examinerz'" in p.message


def test_several_mistakes_reported_together(mini_data):
    mini_data["demand"]["referrals_per_year"] = "many"
    mini_data["staff"]["hub"]["headcount"] = -1
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(mini_data)
    paths = {p.key_path for p in exc.value.problems}
    assert {"demand.referrals_per_year", "staff.hub.headcount"} <= paths


def test_extends_merges_and_reports_missing_base(mini_data, tmp_path):
    write(tmp_path / "base.yaml", mini_data)
    child = write(tmp_path / "child.yaml", textwrap.dedent("""\
        extends: base.yaml
        name: more-examiners
        staff:
          examiners:
            headcount: 45
        """))
    s = load_scenario(child)
    assert s.name == "more-examiners"
    assert s.staff["examiners"].headcount == 45
    assert s.staff["examiners"].tiers[0].name == "trainee"  # kept from the base
    orphan = write(tmp_path / "orphan.yaml", "extends: nowhere.yaml\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(orphan)
    assert "file not found" in str(exc.value) and "nowhere.yaml" in str(exc.value)


def test_extends_cycle_is_refused(tmp_path):
    write(tmp_path / "a.yaml", "extends: b.yaml\n")
    write(tmp_path / "b.yaml", "extends: a.yaml\n")
    with pytest.raises(ScenarioError, match="circular extends"):
        load_scenario(tmp_path / "a.yaml")


def test_error_in_inherited_key_points_at_base_file(mini_data, tmp_path):
    mini_data["staff"]["hub"]["availability"] = 1.5
    base = write(tmp_path / "base.yaml", mini_data)
    child = write(tmp_path / "child.yaml", "extends: base.yaml\nname: c\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(child)
    (p,) = exc.value.problems
    assert p.file == str(base.resolve())
    assert p.key_path == "staff.hub.availability"


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "absent.yaml")
    bad = write(tmp_path / "bad.yaml", "name: x\nrun: [1, 2\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(bad)
    dup = write(tmp_path / "dup.yaml", "name: x\nname: y\n")
    with pytest.raises(ScenarioError, match="duplicate key"):
        load_scenario(dup)


def test_yaml_errors_keep_pyyaml_wording_and_line(tmp_path):
    # libyaml parses (fast); a file it refuses is parsed again for PyYAML's clearer words.
    tab = write(tmp_path / "tab.yaml", "name: x\nrun:\n\thorizon_days: 10\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(tab)
    (p,) = exc.value.problems
    assert p.line == 3
    assert "found character '\\t' that cannot start any token" in p.message


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").rglob("*.yaml")),
                         ids=lambda p: p.name)
def test_fast_and_pure_yaml_parsers_agree(path):
    from sim.config import loader

    text = path.read_text(encoding="utf-8")
    fast, fast_node = loader._parse(text, loader._FastLoader)
    pure, pure_node = loader._parse(text, loader._Loader)
    assert fast == pure
    assert loader._line_map(fast_node, "f") == loader._line_map(pure_node, "f")


def test_backlog_from_csv(mini_data, tmp_path):
    (tmp_path / "backlog.csv").write_text(
        "stage,age_days,risk_level,count\n"
        "lab_examination,10,high,5\nlab_examination,200,low,15\nintake,3,,2\n")
    del mini_data["initial_backlog"]
    mini_data["initial_backlog"] = {"csv": "backlog.csv"}
    s = load_scenario(write(tmp_path / "s.yaml", mini_data))
    lab = s.initial_backlog.lab_examination
    assert lab is not None and lab.count == 20
    assert lab.age_days.family == "empirical"
    assert lab.age_days.mean == pytest.approx((10 * 5 + 200 * 15) / 20)
    assert lab.risk_mix is not None and lab.risk_mix.low == pytest.approx(0.75)
    assert s.initial_backlog.intake is not None and s.initial_backlog.intake.count == 2
    (tmp_path / "bad.csv").write_text("stage,age_days\nlab_examination,-3\n")
    mini_data["initial_backlog"] = {"csv": "bad.csv"}
    with pytest.raises(ScenarioError, match="must be >= 0"):
        load_scenario(write(tmp_path / "t.yaml", mini_data))


def test_durations_convert_units(mini_data):
    mini_data["stages"]["intake"]["service"] = {"fixed": {"value_minutes": 90}}
    mini_data["stages"]["safeguarding"]["service"] = {"exponential": {"mean_days": 2}}
    s = scenario_from_dict(mini_data)
    assert s.stages.intake.service is not None and s.stages.intake.service.mean == 1.5
    assert s.stages.safeguarding.service is not None and s.stages.safeguarding.service.mean == 48


def test_tier_counts_sum_to_headcount(mini_data):
    s = scenario_from_dict(mini_data)
    for pool in s.staff.values():
        assert sum(pool.tier_counts()) == pool.headcount


def test_scenario_is_frozen(mini_data):
    s = scenario_from_dict(mini_data)
    with pytest.raises(Exception, match="frozen"):
        s.run.seed = 3  # type: ignore[misc]


def test_stages_sharing_a_pool_need_one_discipline(mini_data):
    mini_data["stages"]["database_upload"]["discipline"] = "fifo"  # shares 'graders'
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(mini_data)
    (p,) = exc.value.problems
    assert p.key_path == "stages.database_upload.discipline"
    assert "shares pool 'graders'" in p.message


def test_extends_replaces_a_distribution_whole(mini_data, tmp_path):
    write(tmp_path / "base.yaml", mini_data)
    child = write(tmp_path / "child.yaml", textwrap.dedent("""\
        extends: base.yaml
        stages:
          intake:
            service: {gamma: {mean_days: 1, sd_days: 0.5}}
        """))
    s = load_scenario(child)
    assert s.stages.intake.service is not None
    assert s.stages.intake.service.family == "gamma" and s.stages.intake.service.mean == 24


def test_inherited_csv_backlog_resolves_next_to_its_file(mini_data, tmp_path):
    (tmp_path / "backlog.csv").write_text("stage,age_days\nlab_examination,5\n")
    mini_data["initial_backlog"] = {"lab_examination": None, "csv": "backlog.csv"}
    write(tmp_path / "base.yaml", mini_data)
    (tmp_path / "sub").mkdir()
    child = write(tmp_path / "sub" / "child.yaml", "extends: ../base.yaml\nname: c\n")
    s = load_scenario(child)
    assert s.initial_backlog.lab_examination is not None
    assert s.initial_backlog.lab_examination.count == 1


def test_null_in_an_extending_file_removes_the_inherited_key(mini_data, tmp_path):
    mini_data["training"] = {"refresher": {
        "pool": "investigators", "cohort_size": 2, "start_day": 10, "duration_days": 5,
        "effects": {"grading_accuracy": 0.95}}}
    write(tmp_path / "base.yaml", mini_data)
    child = write(tmp_path / "child.yaml", "extends: base.yaml\nname: c\ntraining:\n  refresher: null\n")
    assert load_scenario(child).training == {}
    assert load_scenario(tmp_path / "base.yaml").training


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").rglob("*.yaml")),
                         ids=lambda p: p.name)
def test_resolved_scenario_reloads_to_the_same_scenario(path, tmp_path):
    # What `fbsim run` writes as results/<name>/scenario.yaml must reproduce the run.
    scenario = load_scenario(path)
    resolved = tmp_path / "scenario.yaml"
    resolved.write_text(yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False))
    assert scenario_hash(load_scenario(resolved)) == scenario_hash(scenario)


def test_overriding_one_horizon_key_replaces_the_other(mini_data):
    in_years = dict(mini_data, run={**mini_data["run"], "horizon_years": 2})
    in_years["run"].pop("horizon_days", None)
    base = scenario_from_dict(in_years)
    assert base.run.end_day == 2 * 365.25
    days = with_overrides(base, {"run.horizon_days": 400})
    assert days.run.end_day == 400 and days.run.horizon_years is None
    back = with_overrides(days, {"run.horizon_years": 1})
    assert back.run.end_day == 365.25 and back.run.horizon_days is None
    with pytest.raises(ScenarioError, match="exactly one of"):  # both given: still refused
        with_overrides(days, {"run.horizon_years": 1, "run.horizon_days": 30})

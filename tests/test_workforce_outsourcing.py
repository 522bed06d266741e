"""Outsourcing of lab examinations: conservation, capacity, rules, direction, cost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis.costs import replication_cost
from sim.model.replication import run_replication
from tests._workforce_scenarios import lab_only, lab_visits, scenario

OVERLOAD = {"servers": 10, "arrivals_per_day": 12, "horizon_days": 250}


def _provider(**kw):
    return {"queue_length_over": 20, "capacity_devices": 30,
            "turnaround": {"uniform": {"low_days": 5, "high_days": 15}},
            "cost_per_device_gbp": 500, **kw}


def _in_progress_max(records) -> int:
    dev = pd.DataFrame(records.tables["devices"])
    out = dev[dev["outsourced"]]
    end = records.window[1]
    starts = np.sort(out["outsourced_day"].to_numpy())
    ends = np.sort(out["examined_day"].fillna(end).to_numpy())
    events = sorted([(t, 1) for t in starts] + [(t, -1) for t in ends], key=lambda e: (e[0], e[1]))
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def test_conservation_and_capacity_with_outsourcing():
    sc = lab_only(**OVERLOAD, outsourcing=_provider())
    records = run_replication(sc, 0, 1)
    lab = records.conservation["lab_examination"]
    assert lab["outsourced"] > 0
    assert lab["arrived"] == lab["completed"] + lab["waiting"] + lab["in_service"] + lab["outsourced"]
    provider = records.conservation["outsourcing"]
    assert provider["arrived"] == lab["outsourced"]
    assert provider["arrived"] == provider["completed"] + provider["in_service"]
    dev = pd.DataFrame(records.tables["devices"])
    assert dev["outsourced"].sum() == lab["outsourced"]
    assert _in_progress_max(records) <= 30
    # Outsourced devices never visit the in-house lab, and come back examined.
    assert not set(dev.loc[dev["outsourced"], "device_id"]) & set(lab_visits(records)["entity_id"])
    back = dev[dev["outsourced"] & dev["examined_day"].notna()]
    assert ((back["examined_day"] - back["outsourced_day"]).between(5, 15)).all()
    assert len(back) == provider["completed"]


def test_outsourcing_shortens_lab_waits_and_costs_per_device():
    base = run_replication(lab_only(**OVERLOAD), 0, 1)
    out = run_replication(lab_only(**OVERLOAD, outsourcing=_provider()), 0, 1)

    def examined_by(records, day):
        return int((records.tables["devices"]["examined_day"] <= day).sum())

    assert examined_by(out, 250) > examined_by(base, 250)
    assert (lab_visits(out)["start_day"].isna().sum()
            < lab_visits(base)["start_day"].isna().sum())
    sc = lab_only(**OVERLOAD, outsourcing=_provider())
    cost = replication_cost(sc, out)
    assert cost["outsourced_devices"] == out.conservation["outsourcing"]["arrived"]
    assert cost["outsourcing_gbp"] == pytest.approx(500 * cost["outsourced_devices"])


def test_rules_risk_levels_and_contract_period():
    sc = lab_only(**OVERLOAD, outsourcing=_provider(risk_levels=["medium", "low"],
                                                    start_day=60, end_day=200))
    records = run_replication(sc, 0, 1)
    dev = pd.DataFrame(records.tables["devices"])
    cases = pd.DataFrame(records.tables["cases"]).set_index("case_id")
    out = dev[dev["outsourced"]]
    assert len(out) > 0
    assert set(cases.loc[out["case_id"], "graded_risk"]) <= {"medium", "low"}
    assert out["outsourced_day"].min() >= 60 and out["outsourced_day"].max() < 200


def test_expected_wait_rule():
    never = lab_only(**OVERLOAD, outsourcing=_provider(queue_length_over=None,
                                                       expected_wait_days_over=1e6))
    assert run_replication(never, 0, 1).conservation["lab_examination"]["outsourced"] == 0
    soon = lab_only(**OVERLOAD, outsourcing=_provider(queue_length_over=None,
                                                      expected_wait_days_over=5))
    records = run_replication(soon, 0, 1)
    dev = pd.DataFrame(records.tables["devices"])
    first = dev.loc[dev["outsourced"], "outsourced_day"].min()
    # 10 examiners at one device a day each: the wait passes 5 days with ~50 queued.
    lab = lab_visits(records)
    queued_then = ((lab["arrive_day"] < first)
                   & ~(lab["start_day"] < first)).sum()
    assert 45 <= queued_then <= 55


def test_full_pipeline_balances_and_grades_returned_devices():
    sc = scenario(outsourcing=_provider(queue_length_over=50, device_types=["computer"]))
    records = run_replication(sc, 0, 3)
    dev = pd.DataFrame(records.tables["devices"])
    out = dev[dev["outsourced"]]
    assert len(out) > 0 and set(out["device_type"]) == {"computer"}
    assert out["graded_day"].notna().any()
    for stage, c in records.conservation.items():
        assert c["arrived"] == (c["completed"] + c["waiting"] + c["in_service"]
                                + c.get("outsourced", 0)), stage

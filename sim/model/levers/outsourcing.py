"""Overflow of lab examinations to an external provider (``outsourcing``).

:class:`OutsourcingRoute` stands in front of the lab: every device leaving device
triage for the lab passes :meth:`OutsourcingRoute.arrive`, which either sends it to
the provider or hands it to the lab station as before. An outsourced device counts as
*arrived* at the lab and as *outsourced*, so the lab's counts balance as
``arrived = completed + waiting + in service + outsourced``; the provider's own counts
(``sent = returned + in progress``) are reported as the ``outsourcing`` stage. The
check costs a few comparisons per lab arrival and nothing when the block is absent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from sim.config.schema import RISK_LEVELS, Scenario
from sim.config.workforce import Outsourcing
from sim.distributions import sampler
from sim.model.levers.workforce import start_day

if TYPE_CHECKING:  # pragma: no cover
    from sim.model.entities import Device
    from sim.model.pipeline import Pipeline


def mean_lab_hours(scenario: Scenario) -> float:
    """Mean staff hours of one lab examination (all device types, kiosk route ignored)."""
    lab = scenario.stages.lab_examination
    types = scenario.cases.device_types
    base = lab.service.mean if lab.service is not None else 0.0
    total = 0.0
    for name, dtype in types.items():
        typed = lab.service_by_device_type.get(name) if lab.service_by_device_type else None
        work = (base + typed.mean) if typed is not None else base
        total += dtype.share * (work + lab.hours_per_tb * dtype.data_tb.mean)
    return total


class OutsourcingRoute:
    """The overflow rule, the provider's capacity and its turnaround.

    Parameters
    ----------
    cfg : Outsourcing
        The scenario's outsourcing block.
    """

    def __init__(self, cfg: Outsourcing):
        self.cfg = cfg
        self.in_progress = 0
        self.sent = 0
        self.returned = 0
        self.sent_day: dict[int, float] = {}

    def install(self, pipeline: Pipeline) -> None:
        """Stand in front of ``pipeline``'s lab."""
        sc = pipeline.scenario
        cfg = self.cfg
        self.pipeline = pipeline
        self.env = pipeline.env
        self.lab = pipeline.lab_examination
        self.start = start_day(sc, cfg.start_day, cfg.start_date)
        self.end = start_day(sc, cfg.end_day, cfg.end_date, default=float("inf"))
        self.capacity = cfg.capacity_devices
        self.turnaround_days: Callable[[], float] = sampler(
            cfg.turnaround, pipeline.streams.get("outsourcing"), 1.0 / 24.0)
        levels: list[str] = list(cfg.risk_levels or RISK_LEVELS)
        self.risk_ok = [level in levels for level in RISK_LEVELS]
        names = pipeline.device_type_names
        kinds = cfg.device_types or names
        self.type_ok = [name in kinds for name in names]
        self.queue_over = cfg.queue_length_over
        self.wait_over = cfg.expected_wait_days_over
        pool = self.lab.pool
        assert pool is not None
        self.pool = pool
        self.days_per_device = mean_lab_hours(sc) * pool.days_per_work_hour
        self.cost_per_device_gbp = cfg.cost_per_device_gbp
        self.find_probability = cfg.find_probability
        pipeline.set_lab_entry(self.arrive)

    def _over(self) -> bool:
        n = len(self.lab.queue)
        if self.queue_over is not None:
            return n > self.queue_over
        pool = self.pool
        speed = sum((a - b) * s for a, b, s in zip(pool.on_duty, pool.leaving, pool.tier_speeds,
                                                    strict=True))
        if speed <= 0:
            return True
        assert self.wait_over is not None
        return (n + 1) * self.days_per_device / speed > self.wait_over

    def arrive(self, device: Device) -> None:
        """Send ``device`` to the provider if the rule says so, else to the lab."""
        now = self.env._now
        if (self.in_progress < self.capacity and self.start <= now < self.end
                and self.type_ok[device.device_type] and self.risk_ok[device.case.priority]
                and self._over()):
            self.lab.arrived += 1
            self.sent += 1
            self.in_progress += 1
            self.sent_day[device.id] = now
            self.env.timeout(self.turnaround_days(), device).callbacks.append(self._back)
        else:
            self.lab.arrive(device)

    def _back(self, event: simpy.Event) -> None:
        self.in_progress -= 1
        self.returned += 1
        self.pipeline.examined_elsewhere(event._value, self.find_probability)

    def balance(self) -> dict[str, int]:
        """The provider's counts: sent (arrived), returned (completed), in progress."""
        return {"arrived": self.sent, "completed": self.returned, "waiting": 0,
                "in_service": self.in_progress}

    def device_columns(self, devices: list[Any]) -> dict[str, Any]:
        """``outsourced`` flag and ``outsourced_day`` for the devices table."""
        sent = self.sent_day
        day = np.fromiter((sent.get(d.id, np.nan) for d in devices), dtype=float,
                          count=len(devices))
        return {"outsourced": ~np.isnan(day), "outsourced_day": day}

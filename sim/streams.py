"""Named random streams for one replication, all from one ``SeedSequence``.

Every random activity in the model draws from its own stream, identified by a name in
the append-only :data:`STREAM_NAMES` registry. The stream for ``(seed, replication,
name)`` is the same in every scenario, so two scenarios run with the same seed see
the same referrals, the same devices and the same service-time sequences wherever
their settings agree: common random numbers. Add new names at the **end** of the
registry only; reordering it would change every result.
"""

from __future__ import annotations

import numpy as np

#: Append-only registry of stream names; the position is part of the seed.
STREAM_NAMES: tuple[str, ...] = (
    "arrivals",
    "case.risk",
    "case.grading",
    "case.children_in_contact",
    "case.children_found_at_research",
    "case.first_generation",
    "case.depicted_children",
    "case.devices",
    "case.escalation",
    "device.type",
    "device.data_tb",
    "device.images",
    "device.kiosk_route",
    "child.identification",
    "backlog.age",
    "backlog.case",
    "service.intake",
    "service.enforcement",
    "service.safeguarding",
    "service.device_triage",
    "service.kiosk",
    "service.lab_examination",
    "service.image_grading",
    "service.database_upload",
    "service.victim_identification",
    "delay.victim_identification",
    "workforce",
    "training",
    "outsourcing",
    "case.research",
    "case.enforcement_decision",
    "device.seized",
    "child.voluntary_attendance",
    "case.children_on_devices",
    "child.device",
    "child.find",
    "other_work.arrivals",
    "other_work.priority",
    "other_work.service",
    "grading.rework",
)
_INDEX = {name: i for i, name in enumerate(STREAM_NAMES)}


class Streams:
    """Factory of independent, reproducible ``numpy.random.Generator`` streams.

    Parameters
    ----------
    seed : int
        The experiment's base seed.
    replication : int
        Replication index (0-based). Different replications are independent.
    """

    def __init__(self, seed: int, replication: int):
        if seed < 0 or replication < 0:
            raise ValueError("seed and replication must be >= 0")
        self.seed = seed
        self.replication = replication

    def get(self, name: str, sub: int = 0) -> np.random.Generator:
        """A fresh generator for stream ``name`` (and optional sub-stream ``sub``).

        Calling ``get`` twice with the same arguments gives two generators producing the
        same numbers, so each activity should ask once and keep its generator.
        """
        try:
            index = _INDEX[name]
        except KeyError:
            raise KeyError(f"unknown random stream {name!r}; register it at the end of "
                           f"sim.streams.STREAM_NAMES") from None
        seq = np.random.SeedSequence(entropy=self.seed, spawn_key=(self.replication, index, sub))
        return np.random.Generator(np.random.PCG64(seq))

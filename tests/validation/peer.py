"""The same queueing networks in fbsim and in Ciw 3.2.7, reduced to comparable waits.

Ciw is an independent discrete-event library (its own event loop, queues and random
streams), so agreement in distribution is evidence that fbsim's stations, pools and
priority keys implement the queues they claim to. Each network is described once by a
:class:`PeerNetwork` and built twice: as a reduced fbsim scenario and as a Ciw
``Network``.

Ciw 3.2.7 applies priority classes at every node. To keep a FIFO second stage, jobs
change to class ``"stage2"`` after node 1 (``class_change_matrices``), and node 2
needs an identity class-change matrix too: without it ``prev_priority_class`` goes stale
and ``release()`` fails with ``list.remove(x): x not in list`` (see
``/work/shared/bench/sim_ciw.py``). The original class of a job at node 2 is read from
its record's ``original_customer_class``.

Both sides return, per replication, the mean wait of each ``stage/class`` key over
jobs that arrived at that stage in ``[warmup, end - drain)`` and a thinned sample of
those waits (every ``thin``-th job in arrival order) for distribution tests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import ciw
import numpy as np

from sim.config import RISK_LEVELS, Scenario
from sim.monitor.records import Records

from .builders import QueueSpec, exp_days, lognormal_days, queue_scenario, window_visits

Sample = dict[str, Any]  # {"means": {key: float}, "samples": {key: ndarray}}


@dataclass(frozen=True)
class Node:
    """One station: the fbsim stage it maps to, servers, service and discipline."""

    stage: str
    servers: int
    family: str            # "exponential" or "lognormal"
    mean_days: float
    sd_days: float = math.nan
    priority: bool = False


@dataclass(frozen=True)
class PeerNetwork:
    """A network of one or two nodes in series, fed by Poisson arrivals.

    Attributes
    ----------
    name, title : str
        Identifier and description.
    arrivals_per_day : float
        Total Poisson arrival rate.
    mix : mapping of risk level to share
        Priority classes (shares of the four risk levels).
    nodes : tuple of Node
        Stations in routing order.
    horizon_days, warmup_days, drain_days : float
        Per replication.
    reps, table_reps : int
        Replications per simulator in the tests and in the docs table.
    thin : int
        Keep every ``thin``-th wait for the KS test.
    """

    name: str
    title: str
    arrivals_per_day: float
    mix: Mapping[str, float]
    nodes: tuple[Node, ...]
    horizon_days: float
    warmup_days: float
    reps: int
    table_reps: int
    drain_days: float = 30.0
    thin: int = 25

    @property
    def classes(self) -> list[str]:
        """Risk levels with a positive share, highest priority first."""
        return [r for r in RISK_LEVELS if self.mix.get(r, 0.0) > 0]

    def metric_keys(self) -> list[str]:
        """Metric keys ``stage/class`` and ``stage/all``."""
        out = []
        for node in self.nodes:
            out += [f"{node.stage}/{c}" for c in self.classes] if len(self.classes) > 1 else []
            out.append(f"{node.stage}/all")
        return out

    def scenario(self) -> Scenario:
        """The network as a reduced fbsim scenario."""
        queues = {}
        for node in self.nodes:
            service = (exp_days(node.mean_days) if node.family == "exponential"
                       else lognormal_days(node.mean_days, node.sd_days))
            queues[node.stage] = QueueSpec(node.servers, service,
                                           "priority" if node.priority else "fifo")
        mix = {r: float(self.mix.get(r, 0.0)) for r in RISK_LEVELS}
        return queue_scenario(queues, arrivals_per_day=self.arrivals_per_day,
                              horizon_days=self.horizon_days, warmup_days=self.warmup_days,
                              risk_mix=mix, name=f"peer-{self.name}")


# ------------------------------------------------------------------ reductions
def _reduce(arrive: np.ndarray, wait: np.ndarray, cls: np.ndarray, stage: str,
            classes: list[str], thin: int, out: Sample) -> None:
    order = np.argsort(arrive, kind="stable")
    wait, cls = wait[order], cls[order]
    groups = [("all", np.ones(wait.size, dtype=bool))]
    if len(classes) > 1:
        groups += [(c, cls == c) for c in classes]
    for label, mask in groups:
        w = wait[mask]
        out["means"][f"{stage}/{label}"] = float(w.mean())
        out["samples"][f"{stage}/{label}"] = w[::thin].copy()


def fbsim_sample(net: PeerNetwork, records: Records) -> Sample:
    """Per-replication means and thinned waits from fbsim's stage visits."""
    out: Sample = {"means": {}, "samples": {}}
    names = np.asarray(RISK_LEVELS, dtype=object)
    for node in net.nodes:
        v = window_visits(records, node.stage, net.drain_days)
        _reduce(v["arrive_day"], v["wait_days"], names[v["priority"]], node.stage,
                net.classes, net.thin, out)
    return out


def _ciw_service(node: Node) -> ciw.dists.Distribution:
    if node.family == "exponential":
        return ciw.dists.Exponential(rate=1.0 / node.mean_days)
    sigma2 = math.log1p((node.sd_days / node.mean_days) ** 2)
    return ciw.dists.Lognormal(mean=math.log(node.mean_days) - sigma2 / 2.0,
                               sd=math.sqrt(sigma2))


def ciw_network(net: PeerNetwork) -> Any:
    """The network in Ciw: one arrival stream per class, priority classes, routing."""
    classes = net.classes
    n = len(net.nodes)
    names = [*classes, "stage2"] if n == 2 else list(classes)
    exp = ciw.dists.Exponential
    arrivals = {c: [exp(rate=net.arrivals_per_day * net.mix[c])] + [None] * (n - 1)
                for c in classes}
    services = {c: [_ciw_service(node) for node in net.nodes] for c in names}
    first = net.nodes[0]
    priorities = {c: (i if first.priority else 0) for i, c in enumerate(classes)}
    kwargs: dict[str, Any] = {}
    if n == 2:
        if net.nodes[1].priority:
            raise ValueError("the second node is FIFO in these networks")
        arrivals["stage2"] = [None, None]
        priorities["stage2"] = 0
        to_stage2 = {c: {d: float(d == "stage2") for d in names} for c in names}
        identity = {c: {d: float(d == c) for d in names} for c in names}
        kwargs["class_change_matrices"] = [to_stage2, identity]
        routing = {c: ciw.routing.NetworkRouting(
            routers=[ciw.routing.Direct(to=2), ciw.routing.Leave()]) for c in names}
        kwargs["routing"] = routing
    elif n != 1:
        raise ValueError("one or two nodes")
    return ciw.create_network(
        arrival_distributions=arrivals, service_distributions=services,
        number_of_servers=[node.servers for node in net.nodes],
        priority_classes=priorities, **kwargs)


def ciw_sample(net: PeerNetwork, seed: int) -> Sample:
    """One Ciw replication (seeded with ``seed``) reduced like :func:`fbsim_sample`."""
    ciw.seed(seed)
    sim = ciw.Simulation(ciw_network(net))
    end = net.warmup_days + net.horizon_days
    sim.simulate_until_max_time(end)
    out: Sample = {"means": {}, "samples": {}}
    records = [r for r in sim.get_all_records() if r.record_type == "service"]
    # The class a job arrived with (node 1); at node 2 every job is "stage2".
    first_class = {r.id_number: r.customer_class for r in records if r.node == 1}
    for k, node in enumerate(net.nodes, start=1):
        rs = [r for r in records if r.node == k
              and net.warmup_days <= r.arrival_date < end - net.drain_days]
        arrive = np.fromiter((r.arrival_date for r in rs), dtype=float, count=len(rs))
        wait = np.fromiter((r.waiting_time for r in rs), dtype=float, count=len(rs))
        cls = np.asarray([first_class[r.id_number] for r in rs], dtype=object)
        _reduce(arrive, wait, cls, node.stage, net.classes, net.thin, out)
    return out


def fbsim_reducer(net: PeerNetwork) -> partial[Sample]:
    """Picklable reducer for :func:`builders.replicate`."""
    return partial(fbsim_sample, net)


NETWORKS: dict[str, PeerNetwork] = {
    n.name: n for n in (
        PeerNetwork(
            "mg2-lognormal", "M/G/2 FIFO, lognormal service (mean 1 d, sd 0.5 d), rho = 0.5",
            arrivals_per_day=1.0, mix={"low": 1.0},
            nodes=(Node("intake", 2, "lognormal", 1.0, 0.5),),
            horizon_days=46_000, warmup_days=100, reps=24, table_reps=72),
        PeerNetwork(
            "tandem-priority",
            "M/M/1 with 2 priority classes (30/70 %, rho 0.5) -> M/M/1 FIFO (rho 0.5)",
            arrivals_per_day=1.0, mix={"very_high": 0.3, "low": 0.7},
            nodes=(Node("enforcement", 1, "exponential", 0.5, priority=True),
                   Node("device_triage", 1, "exponential", 0.5)),
            horizon_days=46_000, warmup_days=100, reps=24, table_reps=72),
    )
}

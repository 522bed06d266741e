"""The figures' imports start in a thread once a worker has no replication left."""

from __future__ import annotations

import sys

from sim.cli.run import on_result
from sim.cli.warm_up import END_OF_RUN_MODULES, warm_up
from sim.forkserver import FIGURE_MODULES


def test_warm_up_starts_once_when_the_last_replications_run():
    calls: list[tuple[int, int]] = []
    warmed: list[int] = []
    report = on_result(lambda _s, done, total: calls.append((done, total)),
                       lambda: warmed.append(1), workers=2)
    assert report is not None
    for done in range(1, 11):
        report(None, done, 10)
        # After 9 of 10, one of the two workers has nothing left to run.
        assert bool(warmed) == (done >= 9), done
    assert calls == [(d, 10) for d in range(1, 11)]


def test_without_figures_the_report_is_left_as_it_is():
    def report(_s: object, _d: int, _t: int) -> None:
        return None

    assert on_result(report, None, 2) is report
    assert on_result(None, None, 2) is None


def test_the_thread_imports_the_modules_and_survives_a_failed_import():
    start = warm_up(("fbsim_no_such_module", "colorsys"))
    sys.modules.pop("colorsys", None)
    thread = start()
    assert thread is not None and thread.daemon
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert "colorsys" in sys.modules  # imported after the failed one
    assert start() is None  # only once


def test_the_preloaded_modules_exist():
    import importlib.util

    for name in (*END_OF_RUN_MODULES, *FIGURE_MODULES):
        assert importlib.util.find_spec(name) is not None, name

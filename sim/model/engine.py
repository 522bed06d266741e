"""The event loop: a SimPy environment stepped with less overhead per event.

:class:`Engine` extends :class:`simpy.Environment` the way SimPy extends itself
(``simpy.rt.RealtimeEnvironment`` overrides ``step``): the model's frequent events
(referral arrivals, service completions, shift changes) are small :class:`Call`
records pushed on the environment's own event queue exactly as
:meth:`simpy.Environment.schedule` would push a ``Timeout`` (same time, priority and
sequence number, so the order of events is SimPy's). Everything else (staff changes,
training, sampling) is ordinary SimPy events and processes on the same queue.

:meth:`Engine.run_until` processes the queue like ``env.run(until=end)``: a
:class:`Call` is dispatched straight to its function, any other event through its
callbacks as :meth:`simpy.Environment.step` does. ``env.run`` still works on the same
environment (a :class:`Call` has the ``callbacks`` and ``_ok`` that ``step`` reads),
only slower.

This is the only module that touches SimPy's internals ``Environment._queue`` and
``_eid``; simpy is pinned ``<5`` in ``pyproject.toml`` and every model test would fail
at once if either changed. (Other modules read the clock as ``env._now``, which SimPy's
own ``now`` property returns.)
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from functools import partial
from typing import Any

import simpy
from simpy.events import NORMAL, URGENT

_heappush = heapq.heappush
_heappop = heapq.heappop


class Call:
    """``fn(call)`` at a scheduled time, as an event on SimPy's queue.

    Parameters
    ----------
    callbacks : list of callable
        One-element list ``[fn]``; it may be shared by every call of the same kind
        (SimPy only reads it, and :meth:`Engine.run_until` does not touch it).
    item : object
        The entity the call is about.
    tier : int
        Skill tier of the staff member serving ``item`` (-1: none).
    row : int
        Where the station's log records the service's end (an index into its
        buffer), or the index of a referral.

    Notes
    -----
    Never yielded by a process: nothing can wait on it.
    """

    __slots__ = ("callbacks", "item", "row", "tier")
    _ok = True
    _value = None

    def __init__(self, callbacks: list[Callable[[Any], None]], item: Any, tier: int, row: int):
        self.callbacks = callbacks
        self.item = item
        self.tier = tier
        self.row = row


class Engine(simpy.Environment):
    """A SimPy environment that also schedules :class:`Call` records and runs them fast.

    Parameters
    ----------
    initial_time : float
        Clock at the start, in days.
    """

    def __init__(self, initial_time: float = 0.0):
        super().__init__(initial_time)
        queue: list[Any] = self._queue
        eid = self._eid

        #: ``push_entry((time, priority, event_id, event))``: push one entry in SimPy's
        #: own layout (the hot path builds it itself: two C calls, no Python frame).
        self.push_entry: Callable[[tuple[float, int, int, Any]], None] = partial(_heappush, queue)
        #: The next event id (SimPy's sequence number, which orders equal times).
        self.next_event_id: Callable[[], int] = eid.__next__

        def call_at(time: float, call: Call) -> None:
            _heappush(queue, (time, NORMAL, next(eid), call))

        def urgent_call_at(time: float, call: Call) -> None:
            _heappush(queue, (time, URGENT, next(eid), call))

        #: ``call_at(time, call)``: put ``call`` on the queue at clock ``time`` (not
        #: before now). A closure over the queue, so the hot path pays one call for it.
        self.call_at: Callable[[float, Call], None] = call_at
        #: ``urgent_call_at(time, call)``: as :attr:`call_at`, but ahead of every ordinary
        #: event at the same time (SimPy's ``URGENT`` priority), e.g. a shift's start or
        #: end, which must come before any work that happens at that instant.
        self.urgent_call_at: Callable[[float, Call], None] = urgent_call_at

    def schedule_call(self, delay_days: float, call: Call) -> None:
        """Put ``call`` on the queue ``delay_days`` from now (as ``env.timeout`` would)."""
        self.call_at(self._now + delay_days, call)

    def run_until(self, end_day: float) -> None:
        """Process every event scheduled before ``end_day``, then set the clock to it.

        The same events in the same order as ``env.run(until=end_day)``: SimPy stops at
        an urgent event at ``end_day``, which comes before any ordinary event then.

        Parameters
        ----------
        end_day : float
            Stop time.

        Raises
        ------
        ValueError
            If ``end_day`` is not after the current time.
        """
        if not end_day > self._now:
            raise ValueError(f"end_day ({end_day}) must be after the current time ({self._now})")
        queue: list[Any] = self._queue
        pop = _heappop
        event: Any
        call_cls = Call
        while queue and queue[0][0] < end_day:
            self._now, _, _, event = pop(queue)
            if event.__class__ is call_cls:
                event.callbacks[0](event)
                continue
            # simpy.Environment.step, for ordinary events.
            callbacks, event.callbacks = event.callbacks, None
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc
        self._now = end_day

    def drop_events(self) -> None:
        """Forget every scheduled event (after a run, so what they hold is freed)."""
        self._queue.clear()

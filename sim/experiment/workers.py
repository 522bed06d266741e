"""Local worker processes that never outlive the process that started them.

:class:`WorkerPool` runs a function over tasks in a few worker processes and yields
the results as they come. It exists because the standard pools keep working after
their parent is gone: a worker of ``concurrent.futures.ProcessPoolExecutor`` started
by a fork server has the fork server, not the main process, as its parent, so when
the main process is killed (SIGKILL, SIGTERM) its workers, the fork server and the
resource tracker run on and finish their queued replications; and a second Ctrl-C
can leave the executor's threads joining forever at exit. Here:

- each worker has a pipe of its own to the main process (no queue, lock or thread
  shared between workers, none in the main process), so killing a worker can never
  leave another in a dirty state;
- each worker watches a *lifeline*, a pipe whose only writing end the main process
  holds: when the main process ends, however it ends, the kernel closes that end and
  a thread in every worker sees end-of-file and exits the worker at once;
- workers ignore SIGINT and SIGTERM (a Ctrl-C in a terminal reaches every process of
  the group): stopping them is the main process's job. When the caller stops
  iterating, or an exception (a ``KeyboardInterrupt``, a failed replication) ends the
  iteration, every worker is killed and waited for before the exception goes on, so
  nothing writes into a results folder after the caller has started cleaning it up.

A worker that dies (the system's out-of-memory killer, a crash) ends the run with
:class:`WorkerDiedError`; an exception raised by the function in a worker is raised again
in the main process, with the worker's traceback as its cause.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import traceback
from collections.abc import Callable, Generator, Iterable
from typing import TYPE_CHECKING, Any

from sim.forkserver import main_module_not_inherited

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import BaseContext
    from multiprocessing.process import BaseProcess

#: What ``map_unordered`` returns: a generator, so a caller can close it early.
Results = Generator[Any, None, None]

#: Exit status of a worker whose main process has gone.
ORPHAN_EXIT_STATUS = 70
#: Seconds a worker is given to leave after being told to; then it is killed.
STOP_GRACE_SECONDS = 5.0


class WorkerDiedError(RuntimeError):
    """A worker process ended without returning its task's result."""


class RemoteTracebackError(Exception):
    """The traceback of an exception raised in a worker (shown as its cause)."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f"\n(in the worker process)\n{self.text}"


def _exit_when_orphaned(lifeline: Connection) -> None:
    """Block until the main process's end of ``lifeline`` closes, then exit at once."""
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv_bytes()
    os._exit(ORPHAN_EXIT_STATUS)


def _worker_main(tasks: Connection, lifeline: Connection) -> None:
    """A worker: run ``fn(task)`` for each ``(fn, task)`` received; None ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_when_orphaned, args=(lifeline,), daemon=True,
                     name="fbsim-lifeline").start()
    while True:
        try:
            job = tasks.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        fn, task = job
        try:
            reply: tuple[Any, ...] = (True, fn(task))
        except BaseException as exc:  # reported to the main process, which decides
            reply = (False, exc, traceback.format_exc())
        try:
            tasks.send(reply)
        except (EOFError, OSError):
            return
        except Exception as exc:  # the result or exception does not pickle
            tasks.send((False, RuntimeError(f"a worker's reply could not be sent back: "
                                            f"{type(exc).__name__}: {exc}"),
                        traceback.format_exc()))


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (the system may have run out of memory)" if -code == signal.SIGKILL else ""
        return f"was killed by {name}{hint}"
    return f"exited with status {code}"


class _Worker:
    """One worker process and the main process's end of its pipe."""

    def __init__(self, ctx: BaseContext, lifeline: Connection, index: int):
        self.conn, child = ctx.Pipe(duplex=True)
        self.process: BaseProcess = ctx.Process(  # type: ignore[attr-defined]
            target=_worker_main, args=(child, lifeline), daemon=True,
            name=f"fbsim-worker-{index}")
        with main_module_not_inherited():
            self.process.start()
        child.close()  # only the worker holds it now: its death reads as end-of-file

    def send(self, job: object) -> None:
        try:
            self.conn.send(job)
        except (BrokenPipeError, ConnectionResetError):
            self.process.join(STOP_GRACE_SECONDS)
            raise WorkerDiedError(f"worker process {self.process.pid} "
                                  f"{_describe_exit(self.process.exitcode)}") from None

    def receive(self) -> Any:
        try:
            reply = self.conn.recv()
        except (EOFError, OSError):
            self.process.join(STOP_GRACE_SECONDS)
            raise WorkerDiedError(f"worker process {self.process.pid} "
                                  f"{_describe_exit(self.process.exitcode)} before returning "
                                  f"its result") from None
        if reply[0]:
            return reply[1]
        _, exc, text = reply
        raise exc from RemoteTracebackError(text)


class WorkerPool:
    """Up to ``workers`` processes of context ``ctx``; use as a context manager.

    Parameters
    ----------
    ctx : multiprocessing context
        Usually ``forkserver`` or ``spawn`` (never ``fork``: workers must inherit no
        file descriptors, or they would keep each other's pipes open).
    workers : int
        Most processes started; they start as tasks arrive.
    """

    def __init__(self, ctx: BaseContext, workers: int):
        self.ctx = ctx
        self.max_workers = workers
        self._lifeline_r, self._lifeline_w = ctx.Pipe(duplex=False)
        self._workers: list[_Worker] = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self.close(kill=exc_type is not None)

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Results:
        """Yield ``fn(task)`` for every task as workers finish; one task per worker at a time.

        Tasks are taken from ``tasks`` only as workers become free, so an iterator of
        any length is never read ahead by more than the number of workers. ``fn`` and
        the tasks must be importable from a module other than ``__main__``: workers do
        not import the main script (:func:`main_module_not_inherited`).
        """
        if getattr(fn, "__module__", None) == "__main__":
            raise ValueError(f"{getattr(fn, '__qualname__', fn)!r} is defined in the main "
                             f"script; worker processes do not import it, so define it in a "
                             f"module of its own and import it from there")
        from multiprocessing.connection import wait

        idle: list[_Worker] = []
        busy: dict[Connection, _Worker] = {}
        it = iter(tasks)
        more = True

        def hand_out() -> None:
            nonlocal more
            while more and (idle or len(self._workers) < self.max_workers):
                try:
                    task = next(it)
                except StopIteration:
                    more = False
                    return
                worker = idle.pop() if idle else self._start()
                worker.send((fn, task))
                busy[worker.conn] = worker

        hand_out()
        while busy:
            ready = set(wait([*busy, *(w.process.sentinel for w in busy.values())]))
            results = []
            for conn, worker in list(busy.items()):
                if conn in ready or worker.process.sentinel in ready:
                    del busy[conn]
                    results.append(worker.receive())  # WorkerDiedError if it died instead
                    idle.append(worker)
            hand_out()  # the next tasks go out before the caller sees these results
            yield from results

    def _start(self) -> _Worker:
        worker = _Worker(self.ctx, self._lifeline_r, len(self._workers))
        self._workers.append(worker)
        return worker

    def close(self, kill: bool = False) -> None:
        """Stop every worker and wait for it: asked to leave, or killed at once if ``kill``.

        Returns only when no worker is running any more.
        """
        for worker in self._workers:
            if kill:
                _kill(worker.process)
            else:
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
        for worker in self._workers:
            worker.process.join(0 if kill else STOP_GRACE_SECONDS)
            if worker.process.exitcode is None:
                _kill(worker.process)
                worker.process.join()
            worker.conn.close()
        self._workers.clear()
        self._lifeline_r.close()
        self._lifeline_w.close()


def _kill(process: BaseProcess) -> None:
    with contextlib.suppress(OSError, ValueError):  # already gone, or already closed
        process.kill()

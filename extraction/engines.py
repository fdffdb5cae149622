"""Engines: where a build's per-chunk functions run.

An engine maps a pure function over a stream of tasks and yields ``(task, outcome)`` in
task order, with a bounded number of tasks in flight: the collecting process writes the
parts in input order (so 1 or N workers, local or Ray, give the same records) and
its memory does not grow with the dump.  ``outcome`` is the function's result, or a
:class:`Failure` if the call raised (or its worker died twice), which the build records
in ``errors.jsonl`` before going on.  Tasks carry everything they need (a batch of pages,
or a file's byte ranges and the paths to write to): no worker holds state of the wiki.

``wikikg build --engine`` picks one: :class:`LocalEngine` (this process or a
multiprocessing pool) or :class:`RayEngine` (Ray tasks on a local instance or a
cluster).  ``ray`` is imported only by the latter: it is an optional extra.
"""

from __future__ import annotations

import errno
import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

from common.errors import InputError
from extraction.dump import DumpFormatError

log = logging.getLogger(__name__)

Function = Callable[[Any], Any]


class EngineError(InputError):
    """The engine could not start (Ray missing or unreachable, unknown engine)."""


@dataclass(frozen=True)
class Failure:
    """A call that raised (on Ray: on its last try); ``reason`` says why.  ``fatal``: the
    machine's fault, not the chunk's (the disk is full), so the build must stop."""

    reason: str
    fatal: bool = False

    @classmethod
    def of(cls, exc: BaseException) -> Failure:
        if isinstance(exc, DumpFormatError):
            return cls(exc.reason)
        fatal = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
        return cls(f"{type(exc).__name__}: {exc}", fatal)


class Engine(Protocol):
    parallel: bool  # whether splitting a file into byte ranges pays off

    def __enter__(self) -> Engine: ...
    def __exit__(self, *exc) -> None: ...
    def idle(self) -> None: ...
    def map(self, function: Function, tasks: Iterable, cpus: int = 1,
            memory: int | None = None, width: int | None = None) -> Iterator[tuple[Any, Any]]: ...


def make_engine(name: str, workers: int | None = None, address: str | None = None) -> Engine:
    """``local`` (default 1 worker) or ``ray`` (default: every CPU of the cluster)."""
    if name == "local":
        return LocalEngine(workers or 1)
    if name == "ray":
        return RayEngine(workers, address)
    raise EngineError(f"unknown engine {name!r} (local or ray)")


def _attempt(function: Function, task: Any) -> Any:
    """One call, run where the task runs; an exception comes back as a :class:`Failure`
    (a pool would have to pickle the exception, and not every exception pickles)."""
    try:
        return function(task)
    except Exception as exc:
        return Failure.of(exc)


class LocalEngine:
    """This process (1 worker) or a pool of ``workers`` processes, 3 tasks each in flight.

    A call that raises is not retried: the functions are pure and read local files, so a
    second try on the same bytes fails the same way (Ray retries because there a failure
    may be the node's, not the chunk's).  A worker that *dies* (killed, out of memory)
    breaks the pool: a new pool is started and every task that was in flight runs once
    more; one caught in a second break comes back as a :class:`Failure`.
    """

    def __init__(self, workers: int = 1):
        self.workers = workers
        self.parallel = workers > 1
        self.pool: ProcessPoolExecutor | None = None
        self.size = workers  # processes of the pool

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.idle()

    def idle(self) -> None:
        """Stop the workers until the next :meth:`map` (their memory is given back while the
        build's reduce step runs in this process)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def map(self, function: Function, tasks: Iterable, cpus: int = 1,
            memory: int | None = None, width: int | None = None) -> Iterator[tuple[Any, Any]]:
        """``cpus`` and ``memory`` (bytes) are what one task uses: Ray schedules by them; the
        caller of a pool shares the machine among its workers.  ``width``: at most this many
        tasks can run at once (a stage of fewer tasks than workers), so the pool has no
        more processes than that: an idle process costs memory too."""
        if self.workers == 1:
            yield from ((task, _attempt(function, task)) for task in tasks)
            return
        size = min(self.workers, width or self.workers)
        if self.pool is not None and self.size != size:
            self.idle()
        if self.pool is None:
            self.size = size
            self._start_pool()
        pending: deque[list] = deque()  # [task, future or outcome, tries]
        for task in tasks:
            pending.append([task, self.pool.submit(_attempt, function, task), 1])
            if len(pending) >= 3 * self.size:
                yield self._first(pending, function)
        while pending:
            yield self._first(pending, function)

    def _first(self, pending: deque, function: Function) -> tuple[Any, Any]:
        while True:
            task, future, _tries = pending[0]
            if not isinstance(future, Future):
                pending.popleft()
                return task, future
            try:
                outcome = future.result()
            except BrokenProcessPool:
                self._restart(pending, function)
                continue
            pending.popleft()
            return task, outcome

    def _restart(self, pending: deque, function: Function) -> None:
        log.warning("a worker process died: restarting the pool, %d task(s) in flight run again",
                    sum(isinstance(entry[1], Future) for entry in pending))
        self.pool.shutdown(wait=False, cancel_futures=True)
        self._start_pool()
        for entry in pending:
            task, future, tries = entry
            if not isinstance(future, Future):
                continue
            if future.done() and future.exception() is None:
                continue  # it finished before the break
            if tries >= 2:
                entry[1] = Failure("its worker process died (twice)")
            else:
                entry[1], entry[2] = self.pool.submit(_attempt, function, task), tries + 1

    def _start_pool(self) -> None:
        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        self.pool = ProcessPoolExecutor(self.size, mp_context=context)


class RayEngine:
    """One Ray task per chunk, on the cluster at ``address`` or a new local Ray instance.

    Tasks rather than an actor pool: Ray retries a task that raised or whose worker died
    (``max_retries=1, retry_exceptions=True``: one retry, then the build records the
    chunk) and runs it on any free CPU, so one slow chunk never holds others queued behind
    it in an actor.

    ``workers`` bounds the tasks running at once (default: the cluster's CPUs, one per
    task); up to 3× that many finished results wait for their turn, in task order.  The
    driver reads no chunk data for byte-range tasks: each worker opens the file by its
    path, which must exist on every node (shared storage or a copy at the same path).
    """

    parallel = True

    def __init__(self, workers: int | None = None, address: str | None = None):
        self.workers = workers
        self.address = address
        self.started = False

    def __enter__(self) -> RayEngine:
        try:
            import ray
        except ImportError as exc:
            raise EngineError("--engine ray needs Ray: pip install 'wikikg[ray]'") from exc
        self.ray = ray
        if not ray.is_initialized():
            self._init()
        self.workers = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.call = ray.remote(num_cpus=1, max_retries=1, retry_exceptions=True)(_call)
        log.info("Ray at %s: %d CPUs, %d tasks at a time", ray.get_runtime_context().gcs_address,
                 int(ray.cluster_resources().get("CPU", 0)), self.workers)
        return self

    def _init(self) -> None:
        """Connect to ``address`` (or $RAY_ADDRESS), else start a local instance of ``workers`` CPUs."""
        local = self.address is None and not os.environ.get("RAY_ADDRESS")
        try:
            self.ray.init(address=self.address, num_cpus=self.workers if local else None,
                          include_dashboard=False if local else None)
        except Exception as exc:  # ray raises ConnectionError, ValueError, RuntimeError...
            where = self.address or os.environ.get("RAY_ADDRESS") or "a new local instance"
            raise EngineError(f"Ray at {where}: {exc}") from exc
        self.started = True

    def __exit__(self, *exc) -> None:
        if self.started:
            self.ray.shutdown()

    def idle(self) -> None:
        """Nothing to do: Ray's idle workers are the cluster's to keep or stop."""

    def map(self, function: Function, tasks: Iterable, cpus: int = 1,
            memory: int | None = None, width: int | None = None) -> Iterator[tuple[Any, Any]]:
        """``cpus`` and ``memory`` (bytes) are one task's resources: Ray places each task on
        a node that has them free (``width`` is the pool's concern: Ray keeps no idle
        process of ours)."""
        call = self.call if (cpus, memory) == (1, None) else self.call.options(
            num_cpus=cpus, memory=memory)
        window: deque = deque()  # (task, ref) in task order, not yet yielded
        running: set = set()
        tasks = iter(tasks)
        more = True
        try:
            while more or window:
                while more and len(running) < self.workers and len(window) < 3 * self.workers:
                    task = next(tasks, _END)
                    if task is _END:
                        more = False
                        break
                    ref = call.remote(function, task)
                    window.append((task, ref))
                    running.add(ref)
                if window and window[0][1] not in running:
                    task, ref = window.popleft()
                    yield task, self._outcome(ref)
                elif running:
                    done, _ = self.ray.wait(list(running), num_returns=1)
                    running.difference_update(done)
        finally:
            for ref in running:
                self.ray.cancel(ref)

    def _outcome(self, ref) -> Any:
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            return Failure.of(getattr(exc, "cause", None) or exc)  # a RayTaskError's own


def _call(function: Function, task: Any) -> Any:
    return function(task)


_END = object()

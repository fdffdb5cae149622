"""Engines: where a build's per-chunk functions run.

An engine maps a pure function over a stream of tasks and yields ``(task, outcome)`` in
task order, with a bounded number of tasks in flight: the collecting process writes the
chunks in input order (so 1 or N workers, local or Ray, give the same records) and
its memory does not grow with the dump.  ``outcome`` is the function's result, or a
:class:`Failure` if the call raised, which the build records in ``errors.jsonl`` before
going on.  ``share(obj)`` hands one read-only object (the redirect resolver) to every
later call as its second argument; each worker receives it once, not with every task.

``wikikg build --engine`` picks one: :class:`LocalEngine` (this process or a
multiprocessing pool) or :class:`RayEngine` (Ray tasks on a local instance or a
cluster).  ``ray`` is imported only by the latter: it is an optional extra.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from extraction.dump import DumpFormatError

log = logging.getLogger(__name__)

Function = Callable[[Any, Any], Any]


class EngineError(Exception):
    """The engine could not start (Ray missing or unreachable, unknown engine)."""


@dataclass(frozen=True)
class Failure:
    """A call that raised (on Ray: on its last try); ``reason`` says why."""

    reason: str

    @classmethod
    def of(cls, exc: BaseException) -> Failure:
        if isinstance(exc, DumpFormatError):
            return cls(exc.reason)
        return cls(f"{type(exc).__name__}: {exc}")


class Engine(Protocol):
    parallel: bool  # whether splitting a file into byte ranges pays off

    def __enter__(self) -> Engine: ...
    def __exit__(self, *exc) -> None: ...
    def share(self, shared: Any) -> None: ...
    def map(self, function: Function, tasks: Iterable) -> Iterator[tuple[Any, Any]]: ...


def make_engine(name: str, workers: int | None = None, address: str | None = None) -> Engine:
    """``local`` (default 1 worker) or ``ray`` (default: every CPU of the cluster)."""
    if name == "local":
        return LocalEngine(workers or 1)
    if name == "ray":
        return RayEngine(workers, address)
    raise EngineError(f"unknown engine {name!r} (local or ray)")


_SHARED: Any = None  # what share() gave, in this process and in every pool worker


def _set_shared(shared: Any) -> None:
    global _SHARED
    _SHARED = shared


def _attempt(function: Function, task: Any) -> Any:
    """One call, run where the task runs; an exception comes back as a :class:`Failure`
    (a pool would have to pickle the exception, and not every exception pickles)."""
    try:
        return function(task, _SHARED)
    except Exception as exc:
        return Failure.of(exc)


class LocalEngine:
    """This process (1 worker) or a pool of ``workers`` processes, 3 tasks each in flight.

    A call that raises is not retried: the functions are pure and read local files, so a
    second try on the same bytes fails the same way (Ray retries because there a failure
    may be the node's, not the chunk's).
    """

    def __init__(self, workers: int = 1):
        self.workers = workers
        self.parallel = workers > 1
        self.pool = None

    def __enter__(self) -> LocalEngine:
        self._start_pool()
        return self

    def __exit__(self, *exc) -> None:
        self._stop_pool()

    def share(self, shared: Any) -> None:
        """Hand ``shared`` to fresh workers (inherited by fork, pickled once by spawn)."""
        _set_shared(shared)
        self._stop_pool()
        self._start_pool()

    def map(self, function: Function, tasks: Iterable) -> Iterator[tuple[Any, Any]]:
        if self.pool is None:
            yield from ((task, _attempt(function, task)) for task in tasks)
            return
        pending: deque = deque()
        for task in tasks:
            pending.append((task, self.pool.apply_async(_attempt, (function, task))))
            if len(pending) >= 3 * self.workers:
                task, result = pending.popleft()
                yield task, result.get()
        for task, result in pending:
            yield task, result.get()

    def _start_pool(self) -> None:
        if self.workers > 1:
            context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
            self.pool = context.Pool(self.workers, _set_shared, (_SHARED,))

    def _stop_pool(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None


_WORKER_SHARED: dict[str, Any] = {}  # object id -> the shared object, in a Ray worker


def _call_in_worker(function: Function, task: Any, box: list) -> Any:
    return function(task, _shared_in_worker(box))


def _shared_in_worker(box: list) -> Any:
    """The object behind ``box = [ref]``, fetched once per worker process and kept."""
    if not box:
        return None
    ref = box[0]
    if ref.hex() not in _WORKER_SHARED:
        import ray

        _WORKER_SHARED.clear()
        _WORKER_SHARED[ref.hex()] = ray.get(ref)
    return _WORKER_SHARED[ref.hex()]


class RayEngine:
    """One Ray task per chunk, on the cluster at ``address`` or a new local Ray instance.

    Tasks rather than an actor pool: Ray retries a task that raised or whose worker died
    (``max_retries=1, retry_exceptions=True``: one retry, then the build records the
    chunk) and runs it on any free CPU, so one slow chunk never holds others queued behind
    it in an actor.  The shared resolver goes into the object store once (``ray.put``);
    tasks get its reference wrapped in a list, which Ray passes through unresolved, and
    each worker process fetches it the first time only: a top-level reference would be
    deserialized for every task, and an English redirect map (~10 M entries) takes
    seconds to unpickle.

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
        self.shared: list = []

    def __enter__(self) -> RayEngine:
        try:
            import ray
        except ImportError as exc:
            raise EngineError("--engine ray needs Ray: pip install 'wikikg[ray]'") from exc
        self.ray = ray
        if not ray.is_initialized():
            self._init()
        self.workers = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.call = ray.remote(num_cpus=1, max_retries=1, retry_exceptions=True)(_call_in_worker)
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

    def share(self, shared: Any) -> None:
        self.shared = [self.ray.put(shared)]

    def map(self, function: Function, tasks: Iterable) -> Iterator[tuple[Any, Any]]:
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
                    ref = self.call.remote(function, task, self.shared)
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


_END = object()

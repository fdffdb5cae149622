"""Query worker processes, and the rules that share them fairly between clients.

pyoxigraph has no query timeout and a running query cannot be interrupted from Python,
so every query runs in a worker *process* (:mod:`kg.server.worker`) that can be killed.
The pool decides who runs next and when a query must stop:

- **Fair queue.**  Each client (an IP address, or a token) has its own FIFO; a free
  worker goes to the next client in rotation, so a client with many queued queries
  delays its own, not others'.  One client runs at most ``client_workers`` queries at
  once (default: all workers but one), so a single client never holds every worker.
- **Bounded waiting.**  Past ``client_queue`` waiting queries a client gets 429, past
  ``max_queue`` in all everyone gets 503, both at once and with ``Retry-After``; a query
  that waited ``queue_timeout`` for a worker gets 503.
- **A slow lane.**  A query still running after ``slow_after`` seconds is slow.  At most
  ``slow_slots`` slow queries run at once, ``client_slow_slots`` of them per client; a
  query that would pass either is stopped (503, ``Retry-After``).  So there are always
  workers for queries that finish quickly, whatever else is running.
- **Stopping.**  Past ``timeout`` a query is stopped (503).  When its client goes away
  the request task is cancelled and the query is stopped too.  Stopping kills the
  worker; a replacement is forked from a process that has pyoxigraph loaded already
  (``forkserver``), so it is ready in milliseconds (plus the store copy with ``memory``).
- **One snapshot per generation.**  A worker's read-only store is the store as it was
  when the worker opened it.  The pool watches ``store/``: once it has changed and no
  writer holds its lock, a full set of new workers is started, and only when all are
  ready do new queries go to them (old ones finish their query and leave).  Answers
  never alternate between the old and the new store.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import logging
import multiprocessing
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from kg.server.options import PoolLimits
from kg.server.protocol import HttpError
from kg.server.worker import COUNT, worker_main
from kg.store import META, STORE_DIR

log = logging.getLogger(__name__)

WORKER_START_TIMEOUT = 120.0
INTERNAL = "wikikg-internal"   # the client name of the pool's own jobs


class QueryTimeout(Exception):
    """No answer from the worker within the timeout (the worker has been killed)."""


@dataclass(eq=False)
class _Worker:
    """A worker process and its end of the pipe, read by the event loop whenever the
    worker writes (one reader for the worker's life, not one per query)."""

    process: multiprocessing.process.BaseProcess
    conn: object
    generation: int
    loop: asyncio.AbstractEventLoop | None = None
    reply: asyncio.Future | None = None

    def listen(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(self.conn.fileno(), self._on_readable)
        # uvloop makes a watched descriptor non-blocking; ``Connection.recv`` of a reply
        # that arrives in pieces would then fail with EAGAIN.
        os.set_blocking(self.conn.fileno(), True)

    def _on_readable(self) -> None:
        try:
            message = self.conn.recv()
        except (EOFError, OSError) as exc:   # the worker is gone: stop watching its pipe
            self._unlisten()
            message = exc
        if self.reply is not None and not self.reply.done():
            self.reply.set_result(message)

    async def receive(self, timeout: float):
        """The worker's next message, or ``None`` if none came within ``timeout``."""
        if self.reply is None or self.reply.done():
            self.reply = asyncio.get_running_loop().create_future()
        done, _ = await asyncio.wait({self.reply}, timeout=timeout)
        if not done:
            return None
        message, self.reply = self.reply.result(), None
        if isinstance(message, BaseException):
            raise message
        return message

    def _unlisten(self) -> None:
        if self.loop is not None and not self.conn.closed:
            self.loop.remove_reader(self.conn.fileno())
            self.loop = None

    def kill(self) -> None:
        self._unlisten()
        if self.process.is_alive():
            self.process.kill()
        self.conn.close()


@dataclass
class _Client:
    waiting: collections.deque = field(default_factory=collections.deque)
    running: int = 0
    slow: int = 0
    in_flight: int = 0


def store_version(directory: Path) -> tuple:
    """What changes when anyone writes the store: its files, their sizes and times."""
    with contextlib.suppress(OSError):
        entries = sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns)
                         for e in os.scandir(directory / STORE_DIR) if e.is_file())
        meta = directory / META
        return tuple(entries) + ((meta.stat().st_mtime_ns,) if meta.exists() else ())
    return ()


def writer_active(directory: Path) -> bool:
    """Whether a process holds the store's write lock (RocksDB's ``LOCK``, an fcntl lock),
    tested with ``F_GETLK``, which never takes the lock."""
    try:
        fd = os.open(directory / STORE_DIR / "LOCK", os.O_RDONLY)
    except OSError:
        return False
    try:
        probe = struct.pack("hhxxxxqqixxxx", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, probe)
        return struct.unpack("hhxxxxqqixxxx", answer)[0] != fcntl.F_UNLCK
    except OSError:
        return False
    finally:
        os.close(fd)


def _context():
    """``forkserver`` (workers forked from a clean process with pyoxigraph imported),
    ``spawn`` where there is none.  Never plain ``fork`` of the threaded server."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["kg.server.worker"])
        return context
    return multiprocessing.get_context("spawn")


class WorkerPool:
    """Worker processes over the store of ``directory``; :meth:`run` answers a job."""

    def __init__(self, directory: str, limits: PoolLimits | None = None, memory: bool = False):
        self.directory = Path(directory)
        self.memory = memory
        self.limits = limits or PoolLimits()
        self.generation = 0
        self.triples: int | None = None
        self.sandbox_problem: str | None = None
        self._ctx = _context()
        self._idle: collections.deque[_Worker] = collections.deque()
        self._workers: set[_Worker] = set()
        self._clients: dict[str, _Client] = collections.defaultdict(_Client)
        self._rotation: collections.deque[str] = collections.deque()
        self._queued = 0
        self._slow = 0
        self._tasks: set[asyncio.Task] = set()
        self._closed = False

    # --- state ----------------------------------------------------------------------------

    @property
    def alive(self) -> int:
        return sum(w.process.is_alive() and w.generation == self.generation for w in self._workers)

    def status(self) -> dict:
        return {"workers": self.alive, "busy": self.alive - len(self._idle), "queued": self._queued,
                "slow": self._slow, "generation": self.generation, "triples": self.triples,
                "sandboxed": self.sandbox_problem is None}

    # --- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self._version = store_version(self.directory)
        workers = await self._start_generation(0)
        for worker in workers:
            self._release(worker)
        log.info("%d query workers ready on %s%s", len(workers), self.directory,
                 " (in memory)" if self.memory else "")
        if self.sandbox_problem:
            log.warning("query workers can open network connections (%s); only the SERVICE "
                        "check stands between a query and the network", self.sandbox_problem)
        self._spawn_task(self._count())
        if self.limits.reload_interval:
            self._spawn_task(self._watch_store())

    async def _start_generation(self, generation: int) -> list[_Worker]:
        started = await asyncio.gather(*(self._start_worker(generation)
                                         for _ in range(self.limits.workers)),
                                       return_exceptions=True)
        workers = [w for w in started if isinstance(w, _Worker)]
        failures = [e for e in started if isinstance(e, BaseException)]
        if failures:
            for worker in workers:
                self._discard(worker)
            raise failures[0]
        return workers

    async def _start_worker(self, generation: int) -> _Worker:
        """Start a worker and wait until it has opened the store."""
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=worker_main, args=(str(self.directory), self.memory, child),
                                    name="wikikg-sparql-worker", daemon=True)
        await asyncio.to_thread(process.start)
        child.close()
        worker = _Worker(process, parent, generation)
        self._workers.add(worker)
        try:
            worker.listen()
            with contextlib.suppress(EOFError, OSError):
                message = await worker.receive(WORKER_START_TIMEOUT)
            if not message or message[0] != "ready":
                raise RuntimeError("query worker did not start: "
                                   + (message[2] if message else "no answer"))
        except BaseException:
            self._discard(worker)
            raise
        self.sandbox_problem = message[2]
        return worker

    def _spawn_task(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        self._workers.discard(worker)
        with contextlib.suppress(ValueError):
            self._idle.remove(worker)
        self._spawn_task(asyncio.to_thread(worker.process.join, 5))

    def _replace(self, worker: _Worker) -> None:
        """Kill a worker; start another if it belonged to the current generation."""
        self._discard(worker)
        if not self._closed and worker.generation == self.generation:
            self._spawn_task(self._respawn(worker.generation))

    async def _respawn(self, generation: int) -> None:
        delay = 0.5
        while not self._closed and generation == self.generation:
            try:
                self._release(await self._start_worker(generation))
                return
            except Exception:  # noqa: BLE001 - keep trying; the error is logged
                log.exception("restarting a query worker failed; retrying in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)

    async def _watch_store(self) -> None:
        """Start a new generation of workers when the store has changed, has not changed
        since the last look, and no writer holds it; the old generation serves until the
        new one is ready, and on if opening fails."""
        previous = self._version
        while not self._closed:
            await asyncio.sleep(self.limits.reload_interval)
            version = store_version(self.directory)
            settled, previous = version == previous, version   # unchanged since the last look
            if version == self._version or not settled or writer_active(self.directory):
                continue
            try:
                workers = await self._start_generation(self.generation + 1)
            except Exception as exc:  # noqa: BLE001 - the old generation keeps serving
                log.warning("the store changed but new workers could not open it (%s); "
                            "still serving the previous state", exc)
                continue
            self._version, self.generation = version, self.generation + 1
            for old in [w for w in self._idle if w.generation != self.generation]:
                self._discard(old)
            for worker in workers:
                self._release(worker)
            log.info("store changed: generation %d of workers serves it", self.generation)
            self._spawn_task(self._count())

    async def _count(self) -> None:
        """The triple count of the store the current generation serves (for /health)."""
        generation = self.generation
        with contextlib.suppress(HttpError, QueryTimeout):
            reply = await self.run(COUNT, INTERNAL)
            if reply[0] == "count" and generation == self.generation:
                self.triples = reply[1]

    async def close(self) -> None:
        """Stop idle workers politely, kill busy ones."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        idle = list(self._idle)
        self._idle.clear()
        for worker in idle:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        for worker in list(self._workers):
            if worker in idle:
                await asyncio.to_thread(worker.process.join, 2)
            worker.kill()
        self._workers.clear()

    # --- scheduling -----------------------------------------------------------------------

    async def run(self, job, client: str) -> tuple:
        """The worker's reply to ``job``; raises :class:`QueryTimeout` or :class:`HttpError`."""
        state = self._clients[client]
        if state.in_flight - state.running >= self.limits.client_queue:
            raise HttpError(429, f"more than {self.limits.client_queue} of your queries are "
                                 "waiting; wait for their answers", retry_after=1)
        state.in_flight += 1
        try:
            worker = await self._acquire(client, state)   # counts the query as running
            try:
                return await self._run_on(worker, job, state)
            finally:
                state.running -= 1
                self._dispatch()
        finally:
            state.in_flight -= 1
            if not state.in_flight:
                del self._clients[client]

    async def _acquire(self, client: str, state: _Client) -> _Worker:
        if not self._rotation and state.running < self.limits.client_workers:
            worker = self._take_idle()
            if worker is not None:
                state.running += 1
                return worker
        if self._queued >= self.limits.max_queue:
            raise HttpError(503, f"{self._queued} queries are waiting for a worker; try again "
                                 "later", retry_after=2)
        ticket = asyncio.get_running_loop().create_future()
        state.waiting.append(ticket)
        if client not in self._rotation:
            self._rotation.append(client)
        self._queued += 1
        self._dispatch()             # an idle worker that clients at their limit left over
        try:
            done, _ = await asyncio.wait({ticket}, timeout=self.limits.queue_timeout)
        except asyncio.CancelledError:
            self._abandon(client, state, ticket)
            raise
        if not done:
            self._abandon(client, state, ticket)
            raise HttpError(503, f"no query worker was free for {self.limits.queue_timeout:g}s; "
                                 "try again later", retry_after=5)
        return ticket.result()

    def _abandon(self, client: str, state: _Client, ticket: asyncio.Future) -> None:
        if ticket.done() and not ticket.cancelled():   # a worker came just as we gave up
            state.running -= 1
            self._release(ticket.result())
            return
        ticket.cancel()
        with contextlib.suppress(ValueError):
            state.waiting.remove(ticket)
            self._queued -= 1
        if not state.waiting:
            with contextlib.suppress(ValueError):
                self._rotation.remove(client)

    def _take_idle(self) -> _Worker | None:
        while self._idle:
            worker = self._idle.popleft()
            if worker.generation == self.generation:   # a dead one fails its send: replaced
                return worker
            self._replace(worker)
        return None

    def _release(self, worker: _Worker) -> None:
        """Give a healthy worker back: to the next waiting client, or to the idle list."""
        if worker.generation != self.generation:
            self._replace(worker)
            return
        self._idle.append(worker)
        self._dispatch()

    def _dispatch(self) -> None:
        """Hand idle workers to waiting clients, one client after another."""
        for _ in range(len(self._rotation)):
            if not self._idle:
                return
            client = self._rotation.popleft()
            state = self._clients.get(client)
            if state is None or not state.waiting:
                continue
            if state.running >= self.limits.client_workers:
                self._rotation.append(client)           # at its limit: its turn comes later
                continue
            worker = self._take_idle()
            if worker is None:
                self._rotation.appendleft(client)
                return
            ticket = state.waiting.popleft()
            self._queued -= 1
            state.running += 1
            ticket.set_result(worker)
            if state.waiting:
                self._rotation.append(client)

    async def _run_on(self, worker: _Worker, job, state: _Client) -> tuple:
        healthy = slow = False
        try:
            worker.conn.send(job)
            reply = await worker.receive(self.limits.slow_after)
            if reply is None:
                self._enter_slow_lane(state)
                slow = True
                reply = await worker.receive(self.limits.timeout - self.limits.slow_after)
                if reply is None:
                    log.warning("query timed out after %gs; killing worker pid %s",
                                self.limits.timeout, worker.process.pid)
                    raise QueryTimeout()
            healthy = True
            return reply
        except (EOFError, OSError) as exc:
            log.error("query worker pid %s died: %s", worker.process.pid, exc)
            raise HttpError(500, "the query worker died while running this query") from None
        finally:  # also on cancellation (client gone): a busy worker is never reused
            if slow:
                self._slow -= 1
                state.slow -= 1
            if healthy:
                self._release(worker)
            else:
                self._replace(worker)

    def _enter_slow_lane(self, state: _Client) -> None:
        limits = self.limits
        if self._slow >= limits.slow_slots or state.slow >= limits.client_slow_slots:
            yours = f", {state.slow} of them yours" if state.slow else ""
            raise HttpError(503, f"query stopped after {limits.slow_after:g}s: {self._slow} slow "
                                 f"queries are running already{yours} (at most "
                                 f"{limits.slow_slots}, {limits.client_slow_slots} per client, "
                                 "so that quick queries always find a worker); try again later "
                                 "or narrow it down", retry_after=max(1, round(limits.timeout)))
        self._slow += 1
        state.slow += 1

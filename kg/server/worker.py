"""The query worker: a process that opens the store once, loses its network, answers jobs.

A worker is started by :class:`kg.server.pool.WorkerPool` and talks to it over a pipe:
it sends ``("ready", pid, sandbox_problem)`` once the store is open, then answers each job
with ``("ok", format, body, rows, truncated)``, ``("count", triples)`` or
``("error", status, message)``.  Before the first job it calls
:func:`kg.sandbox.deny_network`, so nothing it runs can open a socket; and it runs jobs on
a thread with a large stack, so the depth limit of :mod:`kg.sparql` has a wide margin.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

import pyoxigraph as ox

from kg.sandbox import deny_network
from kg.sparql import QuerySyntaxError, UnsupportedFormat, on_large_stack, write_result
from kg.sparql.results import kind_of
from kg.store import open_store


@dataclass(frozen=True)
class QueryJob:
    """One query as the endpoint hands it to a worker."""

    query: str
    formats: dict            # result kind -> format key (from content negotiation)
    max_rows: int
    default_graphs: tuple = ()
    named_graphs: tuple = ()
    base_iri: str | None = None


COUNT = "count"              # the job that asks for the number of triples in the store


def worker_main(directory: str, memory: bool, conn) -> None:
    """Open the store (``memory``: an in-memory copy), drop the network, answer jobs."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the server decides when workers stop
    try:
        store = open_store(directory, memory=memory)
    except OSError as exc:
        conn.send(("error", 500, f"cannot open the store of {directory}: {exc}"))
        return
    conn.send(("ready", os.getpid(), deny_network()))
    on_large_stack(_serve, store, conn)


def _serve(store: ox.Store, conn) -> None:
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            reply = ("count", len(store)) if job == COUNT else execute(store, job)
        except Exception as exc:  # noqa: BLE001 - any failure is reported to the request
            reply = ("error", 500, f"query failed: {type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return


def execute(store: ox.Store, job: QueryJob) -> tuple:
    """Run one query and serialise it in the negotiated format.  The endpoint has checked
    the query (:func:`kg.sparql.check_query`) before sending it; checking again here would
    run the same code on the same text, so the worker's own guard is the sandbox."""
    options = {"base_iri": job.base_iri}
    if job.default_graphs:
        options["default_graph"] = [ox.NamedNode(g) for g in job.default_graphs]
    if job.named_graphs:
        options["named_graphs"] = [ox.NamedNode(g) for g in job.named_graphs]
    try:
        result = store.query(job.query, **options)
        written = write_result(result, job.formats.get(kind_of(result), ""), job.max_rows)
    except SyntaxError as exc:
        return ("error", 400, f"SPARQL syntax error: {QuerySyntaxError(str(exc))}")
    except UnsupportedFormat as exc:
        return ("error", 406, f"not acceptable: {exc}")
    return ("ok", written.format.key, written.body, written.rows, written.truncated)

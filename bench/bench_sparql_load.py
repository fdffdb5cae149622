"""Load test of the SPARQL endpoint (``kg.server``) on FB15k-237 (~310k triples).

Imports FB15k-237 into a graph directory, starts the server in a subprocess (uvicorn,
query workers as processes) and runs:

1. **mixed load**: ``--clients`` concurrent clients x ``--queries`` queries each, a random
   mix of subject lookups, 2-hop neighbourhoods, a COUNT ... GROUP BY predicate over the
   whole graph and a ``<relation>+`` property path, all over HTTP (httpx, asyncio);
2. **a slow query does not block fast ones**: subject lookups one after another, alone,
   then while one deliberately slow query runs until the server's timeout stops it.

Results go to ``docs/benchmarks.md`` (section ``sparql-load``).

    .venv/bin/python bench/bench_sparql_load.py [--clients 16] [--queries 200]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import os
import random
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SHARED, machine, table, write_section  # noqa: E402

sys.path.insert(0, str(ROOT))
from kg.iri import IriScheme  # noqa: E402

log = logging.getLogger("bench.sparql_load")

FB15K = SHARED / "kg" / "FB15k-237"
SPLITS = ("train", "valid", "test")
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
KINDS = ("subject lookup", "2-hop", "COUNT GROUP BY predicate", "property path +")


# --- the graph --------------------------------------------------------------------------

def read_triples() -> list[tuple[str, str, str]]:
    triples = []
    for split in SPLITS:
        with open(FB15K / f"{split}.txt", encoding="utf-8") as handle:
            triples += [tuple(line.rstrip("\n").split("\t")) for line in handle if line.strip()]
    return triples


def import_fb15k(out: Path) -> float:
    """Import with ``kg.io.import_graph`` (or, without it, N-Triples built here)."""
    started = time.perf_counter()
    files = [FB15K / f"{split}.txt" for split in SPLITS]
    try:
        from kg.io import import_graph
    except ImportError:
        from kg.rdf import iri, triple
        from kg.store import write_graph

        scheme = IriScheme()
        write_graph(out, (triple(iri(scheme.resource(h)), iri(scheme.property(r)), iri(scheme.resource(t)))
                          for h, r, t in read_triples()), scheme.base, source="import")
    else:
        import_graph(files, out)
    return time.perf_counter() - started


# --- the server -------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(graph: Path, port: int, timeout: float, workers: int, log_path: Path):
    code = (f"from kg.server.app import serve; serve({str(graph)!r}, port={port}, timeout={timeout}, "
            f"workers={workers})")
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=log_file,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/health", trust_env=False).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"server did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)


def stop_server(process) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- queries ----------------------------------------------------------------------------

class Queries:
    def __init__(self, triples: list[tuple[str, str, str]], seed: int):
        self.scheme = IriScheme()
        self.random = random.Random(seed)
        self.triples = triples
        self.entities = sorted({h for h, _, _ in triples} | {t for _, _, t in triples})

    def entity(self) -> str:
        return self.scheme.resource(self.random.choice(self.entities))

    def make(self, kind: str) -> str:
        if kind == "subject lookup":
            return f"SELECT ?p ?o WHERE {{ <{self.entity()}> ?p ?o }}"
        if kind == "2-hop":
            return f"SELECT ?m ?o WHERE {{ <{self.entity()}> ?p1 ?m . ?m ?p2 ?o }} LIMIT 100"
        if kind == "COUNT GROUP BY predicate":
            return "SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p ORDER BY DESC(?n)"
        head, relation, _ = self.random.choice(self.triples)
        return (f"SELECT ?x WHERE {{ <{self.scheme.resource(head)}> "
                f"<{self.scheme.property(relation)}>+ ?x }} LIMIT 100")


async def timed(client: httpx.AsyncClient, query: str) -> tuple[float, int | str]:
    started = time.perf_counter()
    try:
        response = await client.get("/sparql", params={"query": query})
        outcome: int | str = response.status_code
    except httpx.HTTPError as exc:
        outcome = type(exc).__name__
    return time.perf_counter() - started, outcome


async def mixed_load(url: str, queries: Queries, clients: int, per_client: int):
    plans = [[queries.random.choice(KINDS) for _ in range(per_client)] for _ in range(clients)]
    texts = [[(kind, queries.make(kind)) for kind in plan] for plan in plans]
    latencies: dict[str, list[float]] = collections.defaultdict(list)
    errors: collections.Counter = collections.Counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=120, limits=limits) as client:
        async def one_client(plan):
            for kind, query in plan:
                seconds, outcome = await timed(client, query)
                if outcome == 200:
                    latencies[kind].append(seconds)
                else:
                    errors[(kind, outcome)] += 1

        started = time.perf_counter()
        await asyncio.gather(*(one_client(plan) for plan in texts))
        wall = time.perf_counter() - started
    return latencies, errors, wall


async def one_at_a_time(url: str, queries: Queries, kind: str, count: int) -> list[float]:
    """Latencies of ``count`` queries of one kind sent one after another (no concurrency)."""
    async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=60) as client:
        out = []
        for _ in range(count):
            seconds, outcome = await timed(client, queries.make(kind))
            if outcome != 200:
                raise RuntimeError(f"{kind} failed: {outcome}")
            out.append(seconds)
        return out


async def fast_during_slow(url: str, queries: Queries) -> tuple[list[float], float, int, float]:
    """Subject lookups while one slow query runs; (latencies, slow seconds, slow status, after)."""
    async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=120) as client:
        slow = asyncio.create_task(timed(client, SLOW))
        await asyncio.sleep(0.2)
        out = []
        while not slow.done():
            seconds, outcome = await timed(client, queries.make("subject lookup"))
            if outcome != 200:
                raise RuntimeError(f"subject lookup during the slow query failed: {outcome}")
            out.append(seconds)
        slow_seconds, slow_status = await slow
        after, status = await timed(client, queries.make("subject lookup"))
        if status != 200:
            raise RuntimeError(f"subject lookup right after the timeout failed: {status}")
    return out, slow_seconds, slow_status, after


# --- report -----------------------------------------------------------------------------

def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def ms(value: float) -> str:
    return f"{1000 * value:.1f}"


def report(command: str, args, n_triples: int, import_s: float, single, latencies, errors, wall,
           alone, during, alone_after, slow_s, slow_status, after) -> str:
    total = sum(len(v) for v in latencies.values()) + sum(errors.values())
    every = [x for v in latencies.values() for x in v]
    rows = [[kind, ms(statistics.median(single[kind])), len(latencies[kind]),
             ms(statistics.median(latencies[kind])), ms(pct(latencies[kind], 99)),
             ms(max(latencies[kind]))] for kind in KINDS if latencies[kind]]
    rows.append(["**all**", "", len(every), ms(statistics.median(every)), ms(pct(every, 99)),
                 ms(max(every))])
    service = {kind: statistics.median(single[kind]) * len(latencies[kind]) for kind in KINDS}
    share = service["COUNT GROUP BY predicate"] / sum(service.values())
    error_text = ("none" if not errors else
                  ", ".join(f"{kind}: {outcome} x{n}" for (kind, outcome), n in errors.items()))
    p50_alone, p50_during = statistics.median(alone), statistics.median(during)
    imported = f"{import_s:.1f} s" if import_s else "reused from an earlier run"
    return f"""## SPARQL endpoint under load

Machine: {machine()}. Command: `{command}`.
Graph: FB15k-237 train+valid+test, {n_triples:,} triples, imported with `kg.io.import_graph`
({imported}). Server: `kg.server.serve(..., timeout={args.timeout:g}, workers={args.workers})`
(uvicorn, {args.workers} query worker processes, default max_rows 10000) in a subprocess; clients
(httpx, asyncio, one process) on the same {os.cpu_count()}-core machine, so client, server
and workers share the CPUs. 1-minute load average when the run started: {args.load:.2f}
(anything above 0 is other work on the machine competing for the same cores).

### Mixed load: {args.clients} concurrent clients x {args.queries} queries

Query mix drawn at random (seed {args.seed}) from: subject lookup `SELECT ?p ?o WHERE {{ <e> ?p ?o }}`
of a random entity; 2-hop `SELECT ?m ?o WHERE {{ <e> ?p1 ?m . ?m ?p2 ?o }} LIMIT 100`;
`SELECT ?p (COUNT(*) AS ?n) WHERE {{ ?s ?p ?o }} GROUP BY ?p ORDER BY DESC(?n)` over the whole
graph; property path `SELECT ?x WHERE {{ <h> <r>+ ?x }} LIMIT 100` from a random triple's
head and relation. Latency = request sent to response read, including waiting for a free
worker. "alone" = p50 of {args.single} queries of that kind sent one at a time to the idle server.

{table(["query", "alone p50 ms", "n", "p50 ms", "p99 ms", "max ms"], rows)}

{total} requests in {wall:.1f} s: **{total / wall:.1f} queries/s**; errors: **{error_text}**.

With {args.clients} closed-loop clients and {args.workers} workers the server is saturated, so
latency under load is mostly waiting for a free worker (FIFO): the whole-graph GROUP BY, a quarter
of the mix at ~{ms(statistics.median(single["COUNT GROUP BY predicate"]))} ms each, accounts for
about {share:.0%} of the work (one-at-a-time medians x counts), and every query waits
behind the ones ahead of it.

### A slow query does not block fast ones

Subject lookups of random entities, one at a time: alone, then while one
`{SLOW}` runs (it is stopped by the {args.timeout:g} s timeout).

{table(["subject lookups", "n", "p50 ms", "p99 ms"], [
    ["alone, before", len(alone), ms(p50_alone), ms(pct(alone, 99))],
    ["while the slow query runs", len(during), ms(p50_during), ms(pct(during, 99))],
    ["alone, after", len(alone_after), ms(statistics.median(alone_after)), ms(pct(alone_after, 99))]])}

The slow query got HTTP {slow_status} after {slow_s:.2f} s (timeout {args.timeout:g} s; its worker
process was killed and replaced); a subject lookup right after it took {ms(after)} ms.
p50 while the slow query runs / alone before: **{p50_during / p50_alone:.2f}x** (one of the
{args.workers} workers, i.e. one of the {os.cpu_count()} cores, is busy with the slow query meanwhile).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--queries", type=int, default=200, help="queries per client")
    parser.add_argument("--timeout", type=float, default=5.0, help="the server's query timeout")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--single", type=int, default=20,
                        help="queries of each kind sent one at a time, for the 'alone' column")
    parser.add_argument("--graph", type=Path, help="graph directory to reuse (imported if missing)")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch docs/")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args.load = os.getloadavg()[0]
    command = shlex.join([".venv/bin/python", "bench/bench_sparql_load.py", *sys.argv[1:]])

    tmp = Path(tempfile.mkdtemp(prefix="bench-sparql-"))
    try:
        graph = args.graph or tmp / "fb15k-237"
        import_s = 0.0
        if not (graph / "kg.json").exists():
            log.info("importing FB15k-237 into %s", graph)
            import_s = import_fb15k(graph)
        triples = read_triples()
        queries = Queries(triples, args.seed)
        process, url = start_server(graph, free_port(), args.timeout, args.workers, tmp / "server.log")
        try:
            n_triples = httpx.get(url + "/health", trust_env=False).json()["triples"]
            single = {kind: asyncio.run(one_at_a_time(url, queries, kind, args.single)) for kind in KINDS}
            log.info("mixed load: %d clients x %d queries", args.clients, args.queries)
            latencies, errors, wall = asyncio.run(mixed_load(url, queries, args.clients, args.queries))
            log.info("%d queries in %.1fs, errors %s", args.clients * args.queries, wall, dict(errors))
            alone = asyncio.run(one_at_a_time(url, queries, "subject lookup", 300))
            during, slow_s, slow_status, after = asyncio.run(fast_during_slow(url, queries))
            log.info("slow query: %s after %.2fs; %d lookups meanwhile", slow_status, slow_s, len(during))
            alone_after = asyncio.run(one_at_a_time(url, queries, "subject lookup", 300))
        finally:
            stop_server(process)
        text = report(command, args, n_triples, import_s, single, latencies, errors, wall, alone,
                      during, alone_after, slow_s, slow_status, after)
        print(text)
        if not args.no_write:
            write_section("sparql-load", text)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The SPARQL endpoint (``kg.server``) under load and under attack, on FB15k-237 (~310k
triples), side by side with Oxigraph's own server and with in-process pyoxigraph.

1. **Peer**: wikikg's endpoint and ``oxigraph serve-read-only`` (the ``oxigraph`` PyPI
   wheel) on the same store; subject lookups, 2-hops and a GROUP BY sent to each in turn
   (interleaved, p50), then 8 clients' throughput on lookups and 2-hops.
2. **Mixed load**: ``--clients`` clients (each from its own loopback address, as separate
   machines would be) x ``--queries`` queries of a random mix; p50/p99, errors, and the same
   queries run in-process with pyoxigraph (same number of threads, JSON written).
3. **Abandoned cartesian products**: 8 cartesian-product queries in flight, their clients
   gone (disconnected) or still waiting (another address); a cheap query's p50/p95 meanwhile.
4. **Deep nesting**: a 10,000-deep query: status and time to answer; the server still serves.

Results go to ``docs/benchmarks.md`` (section ``sparql-load``).

    .venv/bin/python bench/bench_sparql_load.py [--clients 16] [--queries 200]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
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
import pyoxigraph as ox

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, SHARED, machine, table, write_section  # noqa: E402

sys.path.insert(0, str(ROOT))
from kg.io import import_graph  # noqa: E402
from kg.iri import IriScheme  # noqa: E402

log = logging.getLogger("bench.sparql_load")

FB15K = SHARED / "kg" / "FB15k-237"
SPLITS = ("train", "valid", "test")
CARTESIAN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
KINDS = ("subject lookup", "2-hop", "COUNT GROUP BY predicate", "property path +")
JSON = {"Accept": "application/sparql-results+json", "Accept-Encoding": "identity"}


# --- graph, servers, queries ---------------------------------------------------------------

def read_triples() -> list[tuple[str, str, str]]:
    triples = []
    for split in SPLITS:
        with open(FB15K / f"{split}.txt", encoding="utf-8") as handle:
            triples += [tuple(line.rstrip("\n").split("\t")) for line in handle if line.strip()]
    return triples


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], url: str, health: str, log_path: Path) -> subprocess.Popen:
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{command[0]} exited:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(url + health, trust_env=False).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{command[0]} did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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


def client(url: str, address: str = "127.0.0.1", **options) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, trust_env=False, timeout=120, headers=JSON,
                             transport=httpx.AsyncHTTPTransport(local_address=address), **options)


async def timed(http: httpx.AsyncClient, path: str, query: str) -> tuple[float, int | str]:
    started = time.perf_counter()
    try:
        outcome: int | str = (await http.get(path, params={"query": query})).status_code
    except httpx.HTTPError as exc:
        outcome = type(exc).__name__
    return time.perf_counter() - started, outcome


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def ms(value: float) -> str:
    return f"{1000 * value:.2f}"


# --- 1. side by side with Oxigraph's server ------------------------------------------------

async def interleaved(servers: dict[str, tuple[str, str]], queries: Queries, kind: str,
                      rounds: int) -> dict[str, list[float]]:
    """The same query to each server in turn, ``rounds`` times: latencies per server."""
    out = {name: [] for name in servers}
    clients = {name: client(url) for name, (url, _) in servers.items()}
    try:
        for _ in range(rounds):
            query = queries.make(kind)
            for name, (_, path) in servers.items():
                seconds, outcome = await timed(clients[name], path, query)
                if outcome != 200:
                    raise RuntimeError(f"{name} {kind}: {outcome}")
                out[name].append(seconds)
    finally:
        for http in clients.values():
            await http.aclose()
    return out


async def throughput(url: str, path: str, texts: list[list[str]]) -> tuple[float, int]:
    """Queries per second of closed-loop clients, each from its own loopback address."""
    errors = 0

    async def one(index: int, plan: list[str]):
        nonlocal errors
        async with client(url, f"127.0.0.{index + 2}") as http:
            for query in plan:
                _, outcome = await timed(http, path, query)
                errors += outcome != 200

    started = time.perf_counter()
    await asyncio.gather(*(one(i, plan) for i, plan in enumerate(texts)))
    return sum(map(len, texts)) / (time.perf_counter() - started), errors


# --- 2. mixed load, and the same queries in-process ------------------------------------------

async def mixed_load(url: str, texts: list[list[tuple[str, str]]]):
    latencies: dict[str, list[float]] = collections.defaultdict(list)
    errors: collections.Counter = collections.Counter()

    async def one(index: int, plan):
        async with client(url, f"127.0.0.{index + 2}") as http:
            for kind, query in plan:
                seconds, outcome = await timed(http, "/sparql", query)
                if outcome == 200:
                    latencies[kind].append(seconds)
                else:
                    errors[(kind, outcome)] += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(i, plan) for i, plan in enumerate(texts)))
    return latencies, errors, time.perf_counter() - started


def in_process(store_path: Path, texts: list[list[tuple[str, str]]]):
    """The same plans on threads over one read-only store, each result written as JSON."""
    store = ox.Store.read_only(str(store_path))
    latencies: dict[str, list[float]] = collections.defaultdict(list)

    def one(plan):
        for kind, query in plan:
            started = time.perf_counter()
            store.query(query).serialize(format=ox.QueryResultsFormat.JSON)
            latencies[kind].append(time.perf_counter() - started)

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(len(texts)) as pool:
        list(pool.map(one, texts))
    return latencies, time.perf_counter() - started


# --- 3. abandoned cartesian products ------------------------------------------------------------

def abandon(url: str, count: int) -> None:
    """Send ``count`` cartesian products and hang up on each at once."""
    host, port = url.rsplit("/", 1)[1].split(":")
    query = httpx.QueryParams({"query": CARTESIAN})
    for _ in range(count):
        with socket.create_connection((host, int(port))) as conn:
            conn.sendall(f"GET /sparql?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            time.sleep(0.01)


async def cheap_while_cartesian(url: str, queries: Queries, mode: str, n: int) -> dict:
    """Subject lookups from 127.0.0.1 while 8 cartesian products are in flight from 127.0.0.99,
    their clients gone (``abandoned``) or waiting (``waiting``)."""
    flood = []
    if mode == "abandoned":
        await asyncio.to_thread(abandon, url, 8)
    else:
        attacker = client(url, "127.0.0.99")
        flood = [asyncio.create_task(timed(attacker, "/sparql", CARTESIAN)) for _ in range(8)]
        await asyncio.sleep(0.1)
    async with client(url) as http:
        latencies = []
        for _ in range(n):
            seconds, outcome = await timed(http, "/sparql", queries.make("subject lookup"))
            if outcome != 200:
                raise RuntimeError(f"cheap query during {mode} cartesians: {outcome}")
            latencies.append(seconds)
    outcomes = collections.Counter(o for _, o in await asyncio.gather(*flood))
    if flood:
        await attacker.aclose()
    return {"latencies": latencies, "flood": dict(outcomes)}


# --- 4. deep nesting ---------------------------------------------------------------------------

async def deep_nesting(url: str, reps: int) -> tuple[list[float], set, int]:
    deep = "SELECT * WHERE " + "{" * 10_000 + "?s ?p ?o" + "}" * 10_000
    async with client(url) as http:
        seconds, statuses = [], set()
        for _ in range(reps):
            started = time.perf_counter()
            r = await http.post("/sparql", content=deep.encode(),
                                headers={"Content-Type": "application/sparql-query"})
            seconds.append(time.perf_counter() - started)
            statuses.add(r.status_code)
        workers = (await http.get("/health")).json()["workers"]
    return seconds, statuses, workers


# --- report ------------------------------------------------------------------------------------

def _runs(got: list[tuple[float, int]]) -> str:
    return ", ".join(f"{rate:.0f}" for rate, _ in got)


def report(command: str, args, n_triples: int, peer: dict, peer_tp: dict, latencies, errors, wall,
           local, local_wall, cheap: dict, deep) -> str:
    total = sum(len(v) for v in latencies.values()) + sum(errors.values())
    every = [x for v in latencies.values() for x in v]
    local_every = [x for v in local.values() for x in v]
    peer_rows = []
    for kind, by_server in peer.items():
        ours, theirs = statistics.median(by_server["wikikg"]), statistics.median(by_server["oxigraph"])
        peer_rows.append([kind, ms(theirs), ms(ours), f"**{ours / theirs:.2f}×**",
                          ms(pct(by_server["oxigraph"], 95)), ms(pct(by_server["wikikg"], 95))])
    load_rows = [[kind, len(latencies[kind]), ms(statistics.median(latencies[kind])),
                  ms(pct(latencies[kind], 99)), ms(statistics.median(local[kind])),
                  ms(pct(local[kind], 99))] for kind in KINDS if latencies[kind]]
    load_rows.append(["**all**", len(every), ms(statistics.median(every)), ms(pct(every, 99)),
                      ms(statistics.median(local_every)), ms(pct(local_every, 99))])
    error_text = ("none" if not errors else
                  ", ".join(f"{kind}: {outcome} x{n}" for (kind, outcome), n in errors.items()))
    cheap_rows = [[mode, len(r["latencies"]), ms(statistics.median(r["latencies"])),
                   ms(pct(r["latencies"], 95)), ms(max(r["latencies"])),
                   ", ".join(f"{k}: {v}" for k, v in sorted(r["flood"].items())) or "hung up"]
                  for mode, r in cheap.items()]
    deep_seconds, deep_statuses, deep_workers = deep
    served, oxigraph_tp = total / wall, peer_tp["oxigraph"][0]
    return f"""## SPARQL endpoint under load and under attack

Machine: {machine()}. Command: `{command}`. 1-minute load average at the start: {args.load:.2f}.
Graph: FB15k-237 train+valid+test, {n_triples:,} triples (`wikikg import`). wikikg:
`wikikg serve` defaults ({args.workers} worker processes, timeout {args.timeout:g} s, slow after
1 s, max 10,000 rows, access log on) in a subprocess. Oxigraph: `oxigraph serve-read-only` 0.5.13
on the same RocksDB store. Clients: httpx (asyncio) in this process, each simulated client from its
own loopback address (127.0.0.2, …), `Accept-Encoding: identity` for both servers. Client, servers
and query workers share the same {os.cpu_count()} cores.

### Side by side with Oxigraph's own server

Each query sent to one server, then the other, {args.rounds} rounds per kind (random entities).

{table(["query", "Oxigraph p50 ms", "wikikg p50 ms", "wikikg / Oxigraph", "Oxigraph p95", "wikikg p95"],
       peer_rows)}

Throughput, {args.peer_clients} clients x {args.peer_queries} queries (subject lookups and 2-hops,
half each, same list for both), {args.peer_repeats} runs per server alternated, median: Oxigraph
**{oxigraph_tp:.0f}** queries/s (runs {_runs(peer_tp["oxigraph"][2])}; {peer_tp["oxigraph"][1]} errors),
wikikg **{peer_tp["wikikg"][0]:.0f}** queries/s (runs {_runs(peer_tp["wikikg"][2])};
{peer_tp["wikikg"][1]} errors): **{peer_tp["wikikg"][0] / oxigraph_tp:.2f}×**.
Goal: p50 ≤ 1.3×, throughput ≥ 0.8×. What the gap is made of, measured in isolation on this machine:
uvicorn + Starlette answering a fixed body cost about as much as Oxigraph's whole answer; the hop to
a worker process and back (pipe, pickle, wake-up) adds ~0.35 ms; checking the query with the
tokenizer ~25 µs; the JSON writer ~70 µs over pyoxigraph's own. The worker processes are what makes
a query killable, sandboxed, and fairly scheduled; Oxigraph has none of that (it fetches `SERVICE`
URLs even read-only).

### Mixed load: {args.clients} clients x {args.queries} queries

Random mix (seed {args.seed}) of subject lookups, 2-hops (`LIMIT 100`), a whole-graph
`COUNT … GROUP BY ?p`, and `<r>+` property paths. In-process: the same {args.clients} plans on
{args.clients} threads over one read-only store, pyoxigraph writing each result as JSON.

{table(["query", "n", "HTTP p50 ms", "HTTP p99 ms", "in-process p50 ms", "in-process p99 ms"],
       load_rows)}

{total} requests in {wall:.1f} s: **{served:.1f} queries/s** over HTTP, errors: **{error_text}**;
in-process {len(local_every) / local_wall:.1f} queries/s: HTTP throughput is
**{(len(local_every) / local_wall) / served:.2f}× below** in-process (goal ≤ 2×).

### Cheap queries while 8 cartesian products are in flight

`{CARTESIAN}` x 8 from one address, then subject lookups one after another from another address.
*abandoned*: each cartesian client hangs up right after sending (the endpoint stops the query);
*waiting*: the 8 clients wait for their answers (at most {max(1, args.workers - 1)} run; those
that run past 1 s beyond the slow lane's share are stopped with 503 + Retry-After; the rest wait
their turn in their client's queue).

{table(["cartesian clients", "lookups", "p50 ms", "p95 ms", "max ms", "what the 8 got"], cheap_rows)}

Goal: p95 < 1 s.

### 10,000-deep nesting

`SELECT * WHERE {{{{…{{ ?s ?p ?o }}…}}}}` with 10,000 braces, POSTed {len(deep_seconds)} times: HTTP
{", ".join(map(str, sorted(deep_statuses)))} in p50 **{ms(statistics.median(deep_seconds))} ms** (max
{ms(max(deep_seconds))} ms; goal < 100 ms); the server still had {deep_workers} of {args.workers}
workers alive afterwards (the query never reaches a worker).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--queries", type=int, default=200, help="queries per client")
    parser.add_argument("--rounds", type=int, default=300, help="interleaved rounds per kind")
    parser.add_argument("--peer-clients", type=int, default=8)
    parser.add_argument("--peer-queries", type=int, default=150)
    parser.add_argument("--peer-repeats", type=int, default=5, help="throughput runs per server")
    parser.add_argument("--timeout", type=float, default=10.0, help="the server's query timeout")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--graph", type=Path, help="graph directory to reuse (imported if missing)")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch docs/")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args.load = os.getloadavg()[0]
    command = shlex.join([".venv/bin/python", "bench/bench_sparql_load.py", *sys.argv[1:]])
    oxigraph = shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or shutil.which("oxigraph")
    if oxigraph is None:
        raise SystemExit("the `oxigraph` server is needed: pip install -e '.[bench]'")

    tmp = Path(tempfile.mkdtemp(prefix="bench-sparql-"))
    try:
        graph = args.graph or tmp / "fb15k-237"
        if not (graph / "kg.json").exists():
            log.info("importing FB15k-237 into %s", graph)
            import_graph([FB15K / f"{s}.txt" for s in SPLITS], graph)
        queries = Queries(read_triples(), args.seed)
        ours_url, theirs_url = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
        ours = start([sys.executable, "-m", "wikikg.cli", "serve", str(graph), "--port",
                      ours_url.rsplit(":", 1)[1], "--workers", str(args.workers), "--timeout",
                      str(args.timeout)], ours_url, "/health", tmp / "wikikg.log")
        theirs = start([oxigraph, "serve-read-only", "--location", str(graph / "store"), "--bind",
                        theirs_url.split("//")[1]], theirs_url, "/", tmp / "oxigraph.log")
        try:
            n_triples = len(ox.Store.read_only(str(graph / "store")))
            servers = {"oxigraph": (theirs_url, "/query"), "wikikg": (ours_url, "/sparql")}
            peer = {kind: asyncio.run(interleaved(servers, queries, kind, rounds))
                    for kind, rounds in (("subject lookup", args.rounds), ("2-hop", args.rounds),
                                         ("COUNT GROUP BY predicate", max(10, args.rounds // 15)))}
            plans = [[queries.make(("subject lookup", "2-hop")[i % 2]) for i in range(args.peer_queries)]
                     for _ in range(args.peer_clients)]
            runs = {name: [] for name in servers}
            for _ in range(args.peer_repeats):                 # alternated: the machine drifts
                for name, (url, path) in servers.items():
                    runs[name].append(asyncio.run(throughput(url, path, plans)))
            peer_tp = {name: (statistics.median(r for r, _ in got), sum(e for _, e in got), got)
                       for name, got in runs.items()}
            stop(theirs)
            log.info("peer: %s", {k: {s: round(statistics.median(v) * 1000, 2) for s, v in d.items()}
                                  for k, d in peer.items()})
            texts = [[(kind, queries.make(kind)) for kind in
                      (queries.random.choice(KINDS) for _ in range(args.queries))]
                     for _ in range(args.clients)]
            latencies, errors, wall = asyncio.run(mixed_load(ours_url, texts))
            log.info("mixed: %d queries in %.1fs, errors %s", args.clients * args.queries, wall, dict(errors))
            local, local_wall = in_process(graph / "store", texts)
            cheap = {mode: asyncio.run(cheap_while_cartesian(ours_url, queries, mode, 200))
                     for mode in ("abandoned", "waiting")}
            deep = asyncio.run(deep_nesting(ours_url, 20))
        finally:
            stop(ours)
            if theirs.poll() is None:
                stop(theirs)
        text = report(command, args, n_triples, peer, peer_tp, latencies, errors, wall, local,
                      local_wall, cheap, deep)
        print(text)
        if not args.no_write:
            write_section("sparql-load", text)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

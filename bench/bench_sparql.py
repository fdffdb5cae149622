"""SPARQL latency on FB15k-237 imported: KnowledgeGraph.query vs raw pyoxigraph vs HTTP vs
rdflib in memory, in one run.

    .venv/bin/python bench/bench_sparql.py [--reps 7]

Each query: one cold run, then ``--reps`` warm runs; cells are median (min–max) ms with
results fully iterated (Python values for KnowledgeGraph.query, terms for raw pyoxigraph,
the JSON body for HTTP, rdflib terms).
"""

from __future__ import annotations

import argparse
import gzip
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import SHARED, machine, table, write_section  # noqa: E402

from kg import IriScheme, KnowledgeGraph  # noqa: E402
from kg.io import import_graph  # noqa: E402

S = IriScheme()
HUB, MEDIAN = S.resource("/m/09c7w0"), S.resource("/m/02t901")
CONTAINS = S.property("/location/location/contains")
QUERIES = {
    "subject_median": f"SELECT ?p ?o WHERE {{ <{MEDIAN}> ?p ?o }}",
    "subject_hub": f"SELECT ?p ?o WHERE {{ <{HUB}> ?p ?o }}",
    "twohop_median": f"SELECT ?p1 ?o1 ?p2 ?o2 WHERE {{ <{MEDIAN}> ?p1 ?o1 . ?o1 ?p2 ?o2 }}",
    "twohop_hub": f"SELECT ?p1 ?o1 ?p2 ?o2 WHERE {{ <{HUB}> ?p1 ?o1 . ?o1 ?p2 ?o2 }}",
    "count_group_by_p": "SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p",
    "path_plus_from_hub": f"SELECT ?o WHERE {{ <{HUB}> <{CONTAINS}>+ ?o }}",
}


def timed(function, reps: int) -> tuple[float, list[float], int]:
    started = time.perf_counter()
    rows = function()
    cold = (time.perf_counter() - started) * 1000
    warm = []
    for _ in range(reps):
        started = time.perf_counter()
        function()
        warm.append((time.perf_counter() - started) * 1000)
    return cold, warm, rows


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(directory: Path, memory: bool = False):
    import httpx

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", f"from kg.server.app import serve; serve({str(directory)!r}, "
         f"port={port}, timeout=60, max_rows=1_000_000, workers=2, memory={memory})"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


def main() -> None:
    import httpx
    import rdflib

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    kg_dir = SHARED / "kg" / "FB15k-237"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fb"
        started = time.perf_counter()
        meta = import_graph([kg_dir / f"{s}.txt" for s in ("train", "valid", "test")], out)
        load_oxigraph = time.perf_counter() - started
        graph = KnowledgeGraph.open(out)
        store = graph.store
        started = time.perf_counter()
        in_ram = KnowledgeGraph.open(out, memory=True)
        load_memory = time.perf_counter() - started
        started = time.perf_counter()
        memory = rdflib.Graph()
        with gzip.open(out / "graph.nt.gz", "rb") as handle:
            memory.parse(handle, format="nt")
        load_rdflib = time.perf_counter() - started
        servers = {memory: start_server(out, memory) for memory in (False, True)}
        client = httpx.Client(timeout=120)
        try:
            results = {}
            for name, query in QUERIES.items():
                def raw(q=query):
                    return sum(1 for s in store.query(q) for _ in [tuple(s)])

                def ours(q=query):
                    return len(graph.query(q))

                def ours_memory(q=query):
                    return len(in_ram.query(q))

                def http(q=query, memory=False):
                    response = client.get(servers[memory][1] + "/sparql", params={"query": q})
                    response.raise_for_status()
                    return len(response.json()["results"]["bindings"])

                def in_memory(q=query):
                    return sum(1 for row in memory.query(q) for _ in [list(row)])

                results[name] = {label: timed(fn, args.reps) for label, fn in (
                    ("pyoxigraph raw", raw), ("KnowledgeGraph.query", ours),
                    ("KnowledgeGraph.query, memory=True", ours_memory), ("HTTP /sparql", http),
                    ("HTTP /sparql, serve --memory", lambda q=query: http(q, memory=True)),
                    ("rdflib in memory", in_memory))}
        finally:
            client.close()
            for process, _ in servers.values():
                process.terminate()
                process.wait()
    labels = ["pyoxigraph raw", "KnowledgeGraph.query", "KnowledgeGraph.query, memory=True",
              "HTTP /sparql", "HTTP /sparql, serve --memory", "rdflib in memory"]
    rows = []
    for name, by_label in results.items():
        counts = {by_label[label][2] for label in labels}
        row = [name, "/".join(map(str, sorted(counts)))]
        for label in labels:
            cold, warm, _ = by_label[label]
            row.append(f"{statistics.median(warm):.2f} ({min(warm):.2f}–{max(warm):.2f}) "
                       f"[{cold:.1f}]")
        raw = statistics.median(by_label["pyoxigraph raw"][1])
        row.append(f"{statistics.median(by_label['KnowledgeGraph.query'][1]) / raw:.2f}×")
        row.append(f"{statistics.median(by_label['rdflib in memory'][1]) / raw:.1f}×")
        in_ram_ms = statistics.median(by_label["KnowledgeGraph.query, memory=True"][1])
        row.append(f"{statistics.median(by_label['rdflib in memory'][1]) / in_ram_ms:.1f}×")
        rows.append(row)
    http_p50 = statistics.median(results["subject_median"]["HTTP /sparql"][1])
    twohop = {label: statistics.median(timings[1]) for label, timings in
              results["twohop_median"].items()}
    join = twohop["rdflib in memory"] / twohop["KnowledgeGraph.query"]
    join_memory = twohop["rdflib in memory"] / twohop["KnowledgeGraph.query, memory=True"]
    join_http = twohop["rdflib in memory"] / twohop["HTTP /sparql, serve --memory"]
    body = "\n\n".join([
        "## SPARQL latency (FB15k-237 imported)",
        f"Machine: {machine()}. Command: `.venv/bin/python bench/bench_sparql.py --reps "
        f"{args.reps}`. {meta['triples']:,} triples. Load: `wikikg import` (N-Triples written "
        f"+ Oxigraph bulk load into RocksDB) **{load_oxigraph:.1f} s**; rdflib in-memory parse "
        f"of the same N-Triples **{load_rdflib:.1f} s**.",
        "Warm latency in ms, median (min–max) over "
        f"{args.reps} runs [cold first run]; rows = result rows (identical across engines).",
        table(["query", "rows", *labels, "ours / raw", "rdflib / raw", "rdflib / ours (memory)"],
              rows),
        f"Targets: KnowledgeGraph.query within 1.5× of raw pyoxigraph (see the `ours / raw` "
        f"column); HTTP p50 for a subject lookup < 5 ms: **{http_p50:.2f} ms**; ≥ 10× faster "
        f"than rdflib in memory on the 2-hop join (median entity): **{join:.1f}×** with the "
        f"on-disk store, **{join_memory:.1f}×** with `memory=True` (loaded in {load_memory:.1f} s), "
        f"**{join_http:.1f}×** over HTTP from `wikikg serve --memory`.",
        "Queries: " + "; ".join(f"`{n}`: `{q}`" for n, q in QUERIES.items()),
    ])
    write_section("sparql-latency", body)
    print(body)


if __name__ == "__main__":
    main()

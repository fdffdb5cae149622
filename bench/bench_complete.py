"""Knowledge-graph completion written back (``wikikg complete``): how many held-out facts
the completions recover, and how fast a whole benchmark graph is completed.

Each graph is imported from its ``train.txt`` and ``valid.txt`` only (the test triples
left out of the graph and of training), embedded with ``wikikg embed``, then completed
for every (head, relation) pair it states with ``--top-k 10 --eval test.txt``.  Every
command runs in a fresh process; wall time and peak RSS are that process's.  Results go
into the ``complete`` section of docs/benchmarks.md.

    .venv/bin/python bench/bench_complete.py [--only umls] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, SHARED, machine, run_measured, table, write_section  # noqa: E402

CLI = [sys.executable, "-m", "wikikg.cli", "-q"]
WORK = ROOT / "data" / "cache" / "bench-complete"
# (graph, embed options): UMLS at the encoder's defaults for each model; FB15k-237 with a
# fixed, short CPU budget (completion speed, not the best MRR, is what is measured there)
RUNS = {
    "umls": [["--model", "distmult"], ["--model", "compgcn"]],
    "FB15k-237": [["--model", "distmult", "--epochs", "10", "--eval-every", "5"]],
}


def prepare(name: str) -> Path:
    graph = WORK / name
    if not (graph / "kg.json").exists():
        source = SHARED / "kg" / name
        run_measured([*CLI, "import", str(source / "train.txt"), str(source / "valid.txt"),
                      "--out", str(graph)])
    return graph


def embed(graph: Path, options: list[str]) -> tuple[str, dict]:
    name = options[1] + ("-budget" if "--epochs" in options else "")
    out = graph / "embeddings" / name
    if not (out / "decoder.safetensors").exists():
        run_measured([*CLI, "embed", str(graph), *options, "--out", name])
    return name, json.loads((out / "metrics.json").read_text())


def working_copy(graph: Path) -> Path:
    """A fresh copy of the imported graph and its embeddings: the first completion run
    meets no earlier completions, the second replaces the first's."""
    copy = graph.with_name(graph.name + ".completing")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(graph, copy)
    return copy


def complete(graph: Path, name: str, test: Path, attempt: str) -> dict:
    command = [*CLI, "complete", str(graph), "--embeddings", name, "--top-k", "10",
               "--eval", str(test)]
    log = WORK / f"{graph.name}-{name}-{attempt}.log"
    seconds, peak = run_measured(command, log=log)
    text = log.read_text()
    made, queries, rate, scoring, writing = map(float, re.search(
        r"(\d+) completions of (\d+) queries \((\d+) triples/s: scoring ([\d.]+) s, "
        r"writing ([\d.]+) s\)", text).groups())
    recovered, expected = map(int, re.search(r"(\d+) of (\d+) triples among", text).groups())
    return {"seconds": seconds, "peak": peak, "completions": int(made), "queries": int(queries),
            "rate": rate, "scoring": scoring, "writing": writing, "recovered": recovered,
            "expected": expected}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="Comma-separated graph names.")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(RUNS)
    rows = []
    for name in names:
        graph = prepare(name)
        for options in RUNS[name]:
            embedding, metrics = embed(graph, options)
            copy = working_copy(graph)
            for attempt in ("first", "again"):   # again: the graph it replaces is there
                done = complete(copy, embedding, SHARED / "kg" / name / "test.txt", attempt)
                print(name, embedding, attempt, done, flush=True)
                rows.append([name, " ".join(options), f"{metrics['best_valid']['mrr']:.3f}",
                             attempt, f"{done['queries']:,}", f"{done['completions']:,}",
                             f"{done['recovered']} / {done['expected']} "
                             f"({done['recovered'] / done['expected']:.1%})",
                             f"{done['seconds']:.0f}", f"{done['scoring']:.1f}",
                             f"{done['writing']:.1f}", f"{done['rate']:,.0f}",
                             f"{done['peak']:.0f}"])
    body = (f"Machine: {machine()}.  Command: `.venv/bin/python bench/bench_complete.py"
            f"{' --only ' + args.only if args.only else ''}`.\n\n"
            "Each graph imported from train.txt + valid.txt (its test triples in neither the "
            "graph nor training), `wikikg embed` with the options shown, then `wikikg complete "
            "--top-k 10 --eval test.txt` over every (head, relation) pair the graph states. "
            "*Recovered*: test triples among the completions (a test triple whose head and "
            "relation the graph never states is not asked for). Each completion is run twice: "
            "*again* replaces the graph the first run wrote (its quads removed from the store "
            "first). *Wall* and *peak RSS*: the `complete` process (loading the vectors and "
            "the stated triples, scoring, writing the N-Triples file, swapping it into the "
            "store); *scoring* and *writing* the two parts of it; *triples/s*: completions "
            "per second of scoring and writing.\n\n"
            + table(["graph", "embed options", "valid MRR", "run", "queries", "completions",
                     "test triples recovered", "wall s", "scoring s", "writing s", "triples/s",
                     "peak RSS MiB"], rows))
    write_section("complete", body)


if __name__ == "__main__":
    main()

"""Graph encoders and KGE baselines on the standard link-prediction benchmarks.

Each run is ``wikikg embed DIR --config CONFIG --out NAME`` in a fresh process on a graph
imported with its train/valid/test split (filtered MRR and Hits@k over head and tail
prediction, test metrics of the best valid epoch); peak RSS is that process's.  Results
go beside the published numbers into the ``embedding`` section of docs/benchmarks.md.

    .venv/bin/python bench/bench_embedding.py [--only umls,kinship] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, SHARED, machine, run_measured, table, write_section  # noqa: E402

PY = sys.executable
WORK = ROOT / "data" / "cache" / "bench-embedding"

# (MRR, Hits@10) as published: ConvE (Dettmers et al., 2018, Tables 3-5), CompGCN
# (Vashishth et al., 2020, Table 3), R-GCN as reached by PyG's examples/rgcn_link_pred.py.
PUBLISHED = {
    "umls": {"ConvE": (0.94, 0.99)},
    "kinship": {"ConvE": (0.83, 0.98)},
    "nations": {"ConvE": (0.82, 1.00)},
    "WN18RR": {"ConvE": (0.43, 0.51), "CompGCN": (0.479, 0.546)},
    "FB15k-237": {"ConvE": (0.32, 0.49), "CompGCN": (0.355, 0.535), "R-GCN (PyG example)": (0.24, 0.39)},
}
# The CPU target: UMLS and Kinship within 0.05 MRR of ConvE.
TARGET_GAP = 0.05

# Small sets: 1-N scoring on the whole graph.  Large sets on CPU: neighbour-sampled
# mini-batches (many cheap steps beat few whole-graph ones) and a fixed epoch budget.
SMALL = dict(dim=100, lr=0.01, batch_size=128, dropout=0.0, decoder_dropout=0.2, eval_every=10,
             patience=3)
CONVE = dict(SMALL, model="compgcn", decoder="conve", layers=1)
SAMPLED = dict(dim=100, lr=0.01, batch_size=256, layers=1, fanout=10, sampled_negatives=256,
               eval_every=1, eval_batch_size=512)
RUNS = [
    # dataset, output name, EmbedConfig fields
    ("nations", "rgcn", dict(SMALL, model="rgcn", epochs=100)),
    ("nations", "compgcn-conve", dict(CONVE, epochs=100)),
    ("nations", "distmult", dict(model="distmult", dim=100, lr=0.01, batch_size=128, epochs=200,
                                 eval_every=20, patience=3)),
    ("umls", "rgcn", dict(SMALL, model="rgcn", epochs=100)),
    ("umls", "compgcn-conve", dict(CONVE, epochs=120)),
    ("kinship", "rgcn", dict(SMALL, model="rgcn", epochs=100)),
    ("kinship", "compgcn-conve", dict(CONVE, epochs=100)),
    ("WN18RR", "rotate", dict(model="rotate", dim=100, lr=0.01, batch_size=1024, epochs=10,
                              eval_every=5, margin=6.0, eval_batch_size=512)),
    ("WN18RR", "compgcn-sampled", dict(SAMPLED, model="compgcn", composition="mult", epochs=3)),
    ("FB15k-237", "rgcn-sampled", dict(SAMPLED, model="rgcn", num_bases=30, epochs=3)),
    ("FB15k-237", "compgcn-sampled", dict(SAMPLED, model="compgcn", composition="mult", epochs=5)),
]


def import_benchmark(name: str) -> Path:
    from kg import import_graph

    out = WORK / name
    if not (out / "kg.json").is_file():
        source = SHARED / "kg" / name
        import_graph([source / f"{split}.txt" for split in ("train", "valid", "test")], out)
    return out


def run(dataset: str, name: str, config: dict, threads: int) -> dict:
    graph = import_benchmark(dataset)
    config_file = WORK / f"{dataset}-{name}.json"
    config_file.write_text(json.dumps(config, indent=2) + "\n")
    command = [PY, "-m", "wikikg.cli", "-q", "embed", str(graph), "--config", str(config_file),
               "--out", name]
    wall, rss = run_measured(command, env={"OMP_NUM_THREADS": str(threads)})
    metrics = json.loads((graph / "embeddings" / name / "metrics.json").read_text())
    test = metrics["test"]
    print(f"{dataset} {name}: MRR {test['mrr']:.3f} Hits@10 {test['hits@10']:.3f} "
          f"{metrics['seconds_per_epoch']:.1f} s/epoch, {rss:.0f} MiB, {wall:.0f} s", flush=True)
    return {"dataset": dataset, "name": name, "config": config, "metrics": metrics, "wall": wall,
            "rss": rss}


def model_label(config: dict) -> str:
    label = {"rgcn": "R-GCN", "compgcn": "CompGCN", "transe": "TransE (PyG kge)",
             "distmult": "DistMult (PyG kge)", "rotate": "RotatE (PyG kge)"}[config["model"]]
    if config["model"] in ("rgcn", "compgcn"):
        label += f" + {config.get('decoder', 'distmult')}"
        if config["model"] == "compgcn":
            label += f" ({config.get('composition', 'corr')})"
        if config.get("fanout"):
            label += f", sampled (fan-out {config['fanout']})"
    return label


def report(results: list[dict], threads: int, command: str, minutes: float) -> str:
    lines = [
        "## Graph encoder (link prediction)",
        "",
        f"Machine: {machine()}; torch intra-op threads {threads} (`OMP_NUM_THREADS`), no GPU. "
        f"Command: `{command}` ({minutes:.0f} min wall in all). Each row is one "
        "`wikikg embed` process on the imported benchmark with its own split: filtered MRR "
        "and Hits@k over head and tail prediction of every test triple (ties as the mean "
        "of optimistic and pessimistic rank), at the epoch of best valid MRR. s/epoch is "
        "training only (evaluation excluded); peak RSS is the whole process's.",
    ]
    for dataset in dict.fromkeys(r["dataset"] for r in results):
        rows = []
        for r in (r for r in results if r["dataset"] == dataset):
            m, test = r["metrics"], r["metrics"]["test"]
            rows.append([model_label(r["config"]), r["config"]["dim"],
                         f"{m['epochs_run']} / {r['config']['epochs']}", m["best_epoch"],
                         f"**{test['mrr']:.3f}**", f"{test['hits@1']:.3f}", f"{test['hits@10']:.3f}",
                         f"{m['seconds_per_epoch']:.1f}", f"{r['rss']:.0f}", f"{r['wall']:.0f}"])
        for paper, (mrr, hits10) in PUBLISHED[dataset].items():
            rows.append([f"*{paper}, published*", "", "", "", f"{mrr:.3f}", "", f"{hits10:.2f}",
                         "", "", ""])
        lines += ["", f"### {dataset}", "", table(
            ["model", "dim", "epochs run / budget", "best epoch", "test MRR", "Hits@1",
             "Hits@10", "s/epoch", "peak RSS MiB", "wall s"], rows)]
    lines += ["", "### Targets", ""] + targets(results)
    return "\n".join(lines)


def targets(results: list[dict]) -> list[str]:
    def best(dataset: str, model: str | None = None) -> float | None:
        scores = [r["metrics"]["test"]["mrr"] for r in results
                  if r["dataset"] == dataset and (model is None or r["config"]["model"] == model)]
        return max(scores) if scores else None

    lines = []
    for dataset in ("umls", "kinship"):
        score, goal = best(dataset), PUBLISHED[dataset]["ConvE"][0] - TARGET_GAP
        if score is not None:
            lines.append(f"- {dataset}: best test MRR {score:.3f} vs ConvE {goal + TARGET_GAP:.2f} "
                         f"- {TARGET_GAP} = {goal:.2f}: **{'met' if score >= goal else 'not met'}**")
    on_gpu = any(r["metrics"].get("device", "cpu").startswith("cuda") for r in results
                 if r["dataset"] == "FB15k-237")
    for model, goal in (("rgcn", 0.24), ("compgcn", 0.33)):
        score = best("FB15k-237", model)
        if score is None:
            continue
        if on_gpu:
            verdict = "met" if score >= goal else "not met"
        else:  # the issue asks a CPU run for what a bounded budget reaches, not the GPU target
            verdict = "bounded CPU run, reported; the target applies to a GPU run"
        lines.append(f"- FB15k-237 {model}: test MRR {score:.3f} (target ≥ {goal} on a GPU): "
                     f"**{verdict}**")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated datasets to run again (the others' "
                        "rows are kept from the last results.json)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    chosen = set(args.only.split(",")) if args.only else None
    started = time.perf_counter()
    fresh = {(d, n): run(d, n, config, args.threads) for d, n, config in RUNS
             if chosen is None or d in chosen}
    saved = WORK / "results.json"
    earlier = ({(r["dataset"], r["name"]): r for r in json.loads(saved.read_text())}
               if chosen and saved.is_file() else {})
    results = [fresh.get(key) or earlier[key] for key in ((d, n) for d, n, _ in RUNS)
               if key in fresh or key in earlier]
    saved.write_text(json.dumps(results, indent=2) + "\n")
    command = ".venv/bin/python bench/bench_embedding.py" + "".join(
        f" --{k} {v}" for k, v in (("only", args.only), ("threads", args.threads)) if v)
    write_section("embedding", report(results, args.threads, command,
                                      (time.perf_counter() - started) / 60))


if __name__ == "__main__":
    main()

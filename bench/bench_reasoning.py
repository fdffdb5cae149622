"""Text and graph together (issue #18): on held-out facts of a built graph, does combining
the link predictor with the fused RE model recover more than either alone?

Protocol, on the bundled sample build:

1. ``wikikg dataset re`` makes the distant RE set; its ``heldout_pairs.tsv`` (the pairs of
   every split) is held out of ``wikikg embed``, so the graph encoder never sees an edge
   between any RE pair: the facts between test pairs are unknown to both experts.
2. Per seed: the encoder (``--holdout``) and the fused RE model (``--fusion layer``,
   trained on the train split) with that seed.
3. Candidates: every ordered pair of a split's examples x every relation of the set;
   true where the graph states the triple.  *Graph*: the encoder's score; *text*: the RE
   model's best probability of the relation over the pair's sentences; *combined*: a
   logistic regression over both (:mod:`fusion.reasoning`), fitted on the **dev** split,
   applied once to test.
4. Average precision (AP) and R-precision on test per seed; the mean over seeds, a paired
   t-test over seeds and a bootstrap over test pairs (seeds averaged in each resample)
   for combined - best single expert.

    .venv/bin/python bench/bench_reasoning.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import ROOT, machine, run_measured, table, write_section  # noqa: E402

from common.jsonl import read_jsonl  # noqa: E402
from fusion.metrics import paired_seeds  # noqa: E402
from fusion.predict import NO_RELATION, RelationPredictor  # noqa: E402
from fusion.reasoning import (  # noqa: E402
    Combination,
    candidates,
    features,
    graph_logits,
    text_probabilities,
)
from kg import KnowledgeGraph  # noqa: E402
from kg.embedding.scorer import LinkScorer  # noqa: E402

CLI = [sys.executable, "-m", "wikikg.cli", "-q"]
WORK = ROOT / "data" / "cache" / "bench-reasoning"
EMBED = ["--model", "compgcn", "--dim", "64", "--epochs", "40", "--batch-size", "2048",
         "--eval-every", "4", "--patience", "3"]
TRAIN = ["--fusion", "layer", "--epochs", "6", "--lr", "1e-4", "--max-length", "64"]
METHODS = ("graph", "text", "combined")
BOOTSTRAP = 2000


def prepare() -> tuple[Path, Path]:
    graph, data = WORK / "graph", WORK / "re"
    if not (graph / "kg.json").exists():
        run_measured([*CLI, "build", "--out", str(graph)])
    if not (data / "heldout_pairs.tsv").exists():
        run_measured([*CLI, "dataset", "re", str(graph), "--out", str(data)])
    return graph, data


def models(graph: Path, data: Path, seed: int) -> tuple[LinkScorer, RelationPredictor]:
    name, run = f"held-out-{seed}", WORK / "runs" / f"layer-{seed}"
    if not (graph / "embeddings" / name / "decoder.safetensors").exists():
        run_measured([*CLI, "embed", str(graph), *EMBED, "--seed", str(seed), "--holdout",
                      str(data / "heldout_pairs.tsv"), "--out", name])
    if not (run / "metrics.json").exists():
        run_measured([*CLI, "train", str(data), "--kg", str(graph), "--embeddings", name,
                      *TRAIN, "--seed", str(seed), "--out", str(run)])
    return LinkScorer.from_pretrained(graph / "embeddings" / name), RelationPredictor.from_pretrained(run)


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(labels, scores)) if labels.any() else 0.0


def r_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Share of true triples among the top-R candidates, R = the number of true ones."""
    top = np.argsort(-scores, kind="stable")[:labels.sum()]
    return float(labels[top].mean()) if labels.any() else 0.0


def scores_of(scorer, predictor, found, scheme, combination=None) -> dict[str, np.ndarray]:
    graph = graph_logits(scorer, found.triples)
    text = text_probabilities(predictor, found, scheme)
    x = features(graph, text)
    out = {"graph": np.nan_to_num(graph, nan=-np.inf), "text": np.nan_to_num(text, nan=0.0), "x": x}
    if combination is not None:
        out["combined"] = combination.predict(x)
    return out


def bootstrap(test, runs: list[dict], best_single: str, rng: np.random.Generator) -> dict:
    """Resample test pairs; AP of combined - best single, averaged over seeds."""
    pairs = list(test.examples)
    index = {pair: [] for pair in pairs}
    for i, (s, _, o) in enumerate(test.triples):
        index[(s, o)].append(i)
    deltas = []
    for _ in range(BOOTSTRAP):
        chosen = rng.integers(len(pairs), size=len(pairs))
        rows = np.concatenate([index[pairs[c]] for c in chosen])
        labels = test.labels[rows]
        deltas.append(np.mean([average_precision(labels, run["combined"][rows])
                               - average_precision(labels, run[best_single][rows])
                               for run in runs]))
    deltas = np.array(deltas)
    return {"interval": (float(np.quantile(deltas, 0.025)), float(np.quantile(deltas, 0.975))),
            "p": float(min(1.0, 2 * min((deltas <= 0).mean(), (deltas >= 0).mean())))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    graph_dir, data = prepare()
    kg = KnowledgeGraph.open(graph_dir)
    labels = [r["name"] for r in json.loads((data / "relations.json").read_text())["relations"]]
    relations = [kg.scheme.property(label) for label in labels if label != NO_RELATION]
    scheme = kg.scheme
    stated = {triple for p in relations for triple in kg.triples(predicate=p)}
    del kg
    dev = candidates(list(read_jsonl(data / "dev.jsonl")), relations, stated)
    test = candidates(list(read_jsonl(data / "test.jsonl")), relations, stated)
    runs, rows = [], []
    for seed in range(args.seeds):
        scorer, predictor = models(graph_dir, data, seed)
        fitted = Combination.fit(scores_of(scorer, predictor, dev, scheme)["x"], dev.labels)
        run = scores_of(scorer, predictor, test, scheme, fitted)
        run["metrics"] = {m: (average_precision(test.labels, run[m]), r_precision(test.labels, run[m]))
                          for m in METHODS}
        runs.append(run)
        print(seed, run["metrics"], fitted, flush=True)
    ap = {m: [run["metrics"][m][0] for run in runs] for m in METHODS}
    rp = {m: [run["metrics"][m][1] for run in runs] for m in METHODS}
    best_single = max(("graph", "text"), key=lambda m: np.mean(ap[m]))
    test_seeds = paired_seeds(ap["combined"], ap[best_single])
    boot = bootstrap(test, runs, best_single, np.random.default_rng(0))
    for m in METHODS:
        rows.append([m, f"{np.mean(ap[m]):.3f} ± {np.std(ap[m]):.3f}",
                     f"{np.mean(rp[m]):.3f} ± {np.std(rp[m]):.3f}"])
    low, high = boot["interval"]
    body = (f"Machine: {machine()}.  Command: `.venv/bin/python bench/bench_reasoning.py "
            f"--seeds {args.seeds}`.\n\n"
            f"Sample build's distant RE set: dev {len(dev.examples)} pairs "
            f"({dev.labels.sum()} true of {len(dev.labels)} candidates), test "
            f"{len(test.examples)} pairs ({test.labels.sum()} true of {len(test.labels)} "
            f"candidates), {len(relations)} relations.  Encoder `wikikg embed {' '.join(EMBED)} "
            f"--holdout heldout_pairs.tsv`; RE model `wikikg train {' '.join(TRAIN)}`; seeds "
            f"0–{args.seeds - 1}, mean ± sd over seeds.\n\n"
            + table(["ranking of test candidates by", "average precision", "R-precision"], rows)
            + f"\n\nCombined − {best_single} (the better single expert on test AP): "
            f"ΔAP {test_seeds['delta']:+.3f}, paired t over seeds p = {test_seeds['p']:.3f}; "
            f"bootstrap over test pairs 95 % CI {low:+.3f} … {high:+.3f} (p = {boot['p']:.3f}).")
    write_section("reasoning", body)
    print(body)


if __name__ == "__main__":
    main()

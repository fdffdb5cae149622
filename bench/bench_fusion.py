"""The experiment that matters, under the protocol a careful reviewer asks for.

Data: (1) FewRel-16 (imported, 70/10/20, typed markers from spaCy) with entity embeddings
trained on FB15k-237 with every edge between a FewRel pair held out (``wikikg embed
--holdout heldout_pairs.tsv``: no label can be read off an edge, in any split); (2) the
sample dump's distant set with its own graph, held out the same way.

1. **Selection on dev only.** Each candidate fused setting (``--candidates``: a mode and
   its options) trains with the first ``--select-seeds`` seeds; the one with the best mean
   best-dev micro-F1 is chosen.  Test scores of the candidates are never looked at.
2. **Test, once, for the chosen setting**, ``--seeds`` seeds each of ``none``, the chosen
   setting and, in the same run, its two controls: random vectors of the same norm per
   entity and a shuffled entity→vector map (``--entity-control``).
3. **Significance**: a paired bootstrap over test examples (seed *i* of one arm paired
   with seed *i* of the other) and a paired t-test across seeds, overall and on the
   linked subset; the share of ``none``'s linked-subset errors that each arm removes.
4. **Budget**: ``none``'s best dev micro-F1 (seed 0) at half, the chosen and one and a
   half times the chosen number of epochs: whether more training would still move it.
   Plus the step-time overhead, the modes interleaved in one process.

Training runs through the real CLI, under ``--work`` (checkpoints; resumed).  Each finished
run's metrics and test predictions are also kept in ``bench/results/fusion/`` (committed:
the protocol takes longer than one session on a 2-core machine, and a later session resumes
from them), tagged with a hash of its inputs so that a run on other data or embeddings is
never mixed in; the entity table they were trained with is kept there too.

    .venv/bin/python bench/bench_fusion.py [--only fewrel] [--seeds 5] [--epochs 2]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, SHARED, machine, table, write_section  # noqa: E402

from common.jsonl import gzip_member, read_jsonl  # noqa: E402
from fusion.config import PREDICTIONS_FILE  # noqa: E402
from fusion.metrics import (  # noqa: E402
    f1_interval,
    paired_bootstrap,
    paired_seeds,
    rows_counts,
    verdict,
)

CLI = [sys.executable, "-m", "wikikg.cli", "-q"]
MODES = ("none", "late", "layer", "marker")  # the step-time table
CONTROLS = ("random", "shuffled")
RESULTS = ROOT / "bench" / "results" / "fusion"
KEPT_EMBEDDING_FILES = ("entities.safetensors", "entities.tsv", "metrics.json", "config.json")
CANDIDATES = ("late --standardize-entities",
              "layer --standardize-entities --gate-lr 0.03",
              "marker --standardize-entities --gate-lr 0.03")


def run(args: list[str]) -> None:
    """A `wikikg` command; a training run's report (its test score) is not shown: the
    selection must not see the candidates' test scores, and the tables read them from the
    kept predictions once the protocol is complete."""
    started = time.perf_counter()
    subprocess.run(CLI + args, check=True,
                   stdout=subprocess.DEVNULL if args[0] == "train" else None)
    print(f"[{time.perf_counter() - started:7.1f}s] wikikg {' '.join(args[:3])}", flush=True)


def options_words(options: list[str]) -> list[str]:
    """Command-line options as words for a cache name (a config file by its stem)."""
    return [Path(a).stem if a.endswith(".json") else a.lstrip("-") for a in options]


def embeddings_name(embed_args: list[str]) -> str:
    """The cache name of one ``--embed`` setting (held out against the dataset's pairs), so
    that runs with other embeddings never reuse these."""
    return "-".join(["fusion", *options_words(embed_args), "pairs-held-out"])


def prepare_fewrel(work: Path, embed_args: list[str]) -> tuple[Path, Path]:
    fb = work / "fb15k-237"
    if not (fb / "kg.json").exists():
        kg = SHARED / "kg" / "FB15k-237"
        run(["import", str(kg / "train.txt"), str(kg / "valid.txt"), str(kg / "test.txt"),
             "--out", str(fb)])
    data = work / "fewrel-typed"
    if not (data / "train.jsonl").exists():
        run(["dataset", "fewrel", str(SHARED / "re" / "fewrel" / "val_wiki.json"), "--out",
             str(data), "--entity-map", str(SHARED / "kg" / "FB15k-237" / "entity2wikidata.json")])
    embed(fb, data, embed_args)
    return fb, data


def prepare_sample(work: Path, embed_args: list[str]) -> tuple[Path, Path]:
    graph = work / "sample"
    if not (graph / "kg.json").exists():
        run(["build", str(SHARED / "dumps" / "enwiki-sample.xml.bz2"), "--out", str(graph)])
    data = work / "sample-re-typed"
    if not (data / "train.jsonl").exists():
        run(["dataset", "re", str(graph), "--out", str(data)])
    embed(graph, data, embed_args, keep=False)
    return graph, data


def prepare_wikiann(work: Path, embed_args: list[str], evaluated: int) -> tuple[Path, Path]:
    """WikiANN-en linked to FB15k-237 by its entities' names (the alias linker: never the
    tags), with the FewRel experiment's FB15k-237 embeddings; dev and test cut to their
    first ``evaluated`` sentences (each run evaluates dev every epoch, and 10,000 sentences
    take minutes on a CPU)."""
    fb, _ = prepare_fewrel(work, embed_args)
    data = work / f"wikiann-en-fb15k-eval-{evaluated}"
    if not (data / "train.jsonl").exists():
        files = work / f"wikiann-en-files-{evaluated}"
        files.mkdir(exist_ok=True)
        for split in ("train", "dev", "test"):
            sentences = (SHARED / "ner" / "wikiann-en" / split).read_text().split("\n\n")
            kept = sentences if split == "train" else sentences[:evaluated]
            (files / split).write_text("\n\n".join(kept).strip("\n") + "\n")
        run(["dataset", "conll", *(str(files / s) for s in ("train", "dev", "test")), "--out",
             str(data), "--link-aliases",
             str(SHARED / "kg" / "FB15k-237" / "entity2wikidata.json")])
    return fb, data


def embed(graph: Path, data: Path, embed_args: list[str], keep: bool = True) -> None:
    """The entity table, trained once and kept beside the runs' results: training it again
    gives another table (CPU float sums in another order drift apart over the epochs: max
    |Δ| 0.07 on vectors of mean |x| 0.23, test MRR 0.2306 vs 0.2305), and runs trained on
    different tables must never be compared as arms of one experiment.  A kept table is
    restored only for the same graph, held-out pairs and options (``source.txt``).  Not
    kept (``keep=False``) for a graph the extraction builds: it changes with the code."""
    name = embeddings_name(embed_args)
    table, kept = graph / "embeddings" / name, RESULTS / "embeddings" / f"{graph.name}-{name}"
    source = table_source(graph, data, embed_args)
    restorable = keep and (kept / "source.txt").exists() and (kept / "source.txt").read_text() == source
    if not (table / "config.json").exists():
        if restorable:
            shutil.copytree(kept, table, dirs_exist_ok=True)
        else:
            run(["embed", str(graph), *embed_args, "--holdout",
                 str(data / "heldout_pairs.tsv"), "--out", name])
    if keep and not restorable:
        shutil.rmtree(kept, ignore_errors=True)
        kept.mkdir(parents=True)
        for file in KEPT_EMBEDDING_FILES:
            shutil.copy2(table / file, kept / file)
        (kept / "source.txt").write_text(source)


def table_source(graph: Path, data: Path, embed_args: list[str]) -> str:
    """What an entity table is trained from: the graph's triples, the held-out pairs, the
    options (a hash)."""
    digest = hashlib.sha256(" ".join(embed_args).encode())
    with gzip.open(graph / "graph.nt.gz", "rb") as triples:
        for block in iter(lambda: triples.read(1 << 20), b""):
            digest.update(block)
    digest.update((data / "heldout_pairs.tsv").read_bytes())
    return digest.hexdigest()[:16] + "\n"


def inputs_hash(graph: Path, data: Path, embeddings: str) -> str:
    """What a run's result depends on besides its command: the dataset's files and the
    entity table (vectors and names)."""
    digest = hashlib.sha256()
    files = [data / f for f in ("train.jsonl", "dev.jsonl", "test.jsonl", "relations.json")]
    files += [graph / "embeddings" / embeddings / f
              for f in ("entities.safetensors", "entities.tsv")]
    for path in files:
        if path.exists():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


@dataclass
class Runs:
    """One experiment's runs: trained under ``work``, kept under ``kept`` (metrics and test
    predictions of each finished run, reused only for the same command on the same
    inputs)."""

    work: Path
    kept: Path
    graph: Path
    data: Path
    embeddings: str
    budget: list[str]

    def __post_init__(self) -> None:
        self.inputs = inputs_hash(self.graph, self.data, self.embeddings)

    def train(self, name: str, mode: str, seed: int, options: list[str]) -> dict:
        """One run's metrics and test predictions, from the kept results when they were made
        by the same command on the same inputs.  ``none`` gets the entity table too, only
        to score the same linked subset: it has no entity layer."""
        command = ["train", "--fusion", mode, "--seed", str(seed), *self.budget, *options]
        kept = self.kept / f"{name}.json.gz"
        record = same_run(kept, command, self.inputs)
        if record is None:  # the same run kept under another name (a budget-curve point)
            record = next(filter(None, (same_run(other, command, self.inputs) for other in
                                        sorted(self.kept.parent.glob("*/*.json.gz")))), None)
        if record is not None:
            return result(record)
        out = self.work / name
        commit = git_commit()  # before training: the code the run was trained with
        if not (out / "metrics.json").exists():
            if out.exists():
                subprocess.run(["rm", "-rf", str(out)], check=True)
            run(["train", str(self.data), "--out", str(out), "--fusion", mode, "--seed",
                 str(seed), "--kg", str(self.graph), "--embeddings", self.embeddings,
                 *self.budget, *options])
        record = {"command": command, "inputs": self.inputs, "commit": commit,
                  "metrics": json.loads((out / "metrics.json").read_text()),
                  "predictions": list(read_jsonl(out / PREDICTIONS_FILE.format(split="test")))}
        self.kept.mkdir(parents=True, exist_ok=True)
        partial = kept.with_suffix(".partial")
        partial.write_bytes(gzip_member(orjson.dumps(record)))
        partial.replace(kept)
        return result(record)


def same_run(path: Path, command: list[str], inputs: str) -> dict | None:
    """The kept record at ``path`` if it is a run of ``command`` on these inputs."""
    if not path.exists():
        return None
    record = orjson.loads(gzip.decompress(path.read_bytes()))
    return record if record["command"] == command and record["inputs"] == inputs else None


def result(record: dict) -> dict:
    """A kept record as the tables read it: the metrics, the predictions, the commit."""
    return {**record["metrics"], "predictions": record["predictions"], "commit": record["commit"]}


def slug(words: list[str]) -> str:
    return "-".join(options_words(words))


def select(runs: Runs, seeds: int, candidates: list[str]) -> tuple[str, dict[str, list[dict]]]:
    """Every candidate's runs on the first ``seeds`` seeds; the chosen one by mean best-dev
    micro-F1 (dev only)."""
    tried = {}
    for candidate in candidates:
        mode, *options = candidate.split()
        tried[candidate] = [runs.train(f"{slug(candidate.split())}-{seed}", mode, seed, options)
                            for seed in range(seeds)]
    chosen = max(candidates, key=lambda c: statistics.mean(r["best_dev_micro_f1"] for r in tried[c]))
    return chosen, tried


def evaluate_arms(runs: Runs, seeds: int, chosen: str) -> dict[str, list[dict]]:
    """``none``, the chosen setting and its controls, seeds 0..seeds-1 (runs of the
    selection are reused: the chosen setting's first seeds are the same runs)."""
    mode, *options = chosen.split()
    name = slug(chosen.split())
    arms = {"none": [runs.train(f"none-{seed}", "none", seed, []) for seed in range(seeds)],
            chosen: [runs.train(f"{name}-{seed}", mode, seed, options) for seed in range(seeds)]}
    for control in CONTROLS:
        arms[f"{chosen} + {control} vectors"] = [
            runs.train(f"{name}-{control}-{seed}", mode, seed,
                       options + ["--entity-control", control]) for seed in range(seeds)]
    return arms


def test_counts(arm: list[dict], mask: np.ndarray | None = None) -> np.ndarray:
    """``[seeds, n, 3]`` micro-F1 counts of an arm's test predictions (``mask``: a subset)."""
    stacked = [rows_counts(metrics["predictions"]) for metrics in arm]
    return np.stack([counts if mask is None else counts[mask] for counts in stacked])


def linked_mask(data: Path, graph: Path, embeddings: str) -> np.ndarray:
    """Test examples with an entity in the entity table: RE, the head or the tail; NER,
    any of the sentence's links."""
    with open(graph / "embeddings" / embeddings / "entities.tsv", encoding="utf-8") as handle:
        known = {line.rstrip("\n").split("\t")[-1] for line in handle}
    known.discard("")

    def iris(record: dict) -> set:
        if "tokens" in record:
            return {iri for _, _, iri in record.get("links", [])}
        return {record["head"].get("iri"), record["tail"].get("iri")}

    return np.array([bool(iris(r) & known) for r in read_jsonl(data / "test.jsonl")])


def embeddings_file(graph: Path, name: str, file: str) -> dict:
    """``config.json`` or ``metrics.json`` of the graph's embeddings ``name``."""
    return json.loads((graph / "embeddings" / name / file).read_text())


def describe_embeddings(graph: Path, name: str) -> str:
    """What the embeddings are, in the figures that matter (model, size, test MRR)."""
    config = embeddings_file(graph, name, "config.json")
    metrics = embeddings_file(graph, name, "metrics.json")
    return (f"{config['model']} dim {config['dim']}, {metrics['epochs_run']} epochs (batch "
            f"{config['batch_size']}, lr {config['lr']}), test filtered MRR "
            f"{metrics['test']['mrr']:.3f}, Hits@10 {metrics['test']['hits@10']:.3f}")


def step_times(graph: Path, data: Path, embeddings: str, steps: int, batch_size: int = 16
               ) -> dict[str, list[float]]:
    """Seconds per training step (forward, backward, AdamW) of each fusion mode on the same
    batches, the modes interleaved step by step in one process, so that a busy shared
    machine slows them alike: the honest measure of what fusion costs."""
    import torch

    from fusion.config import FusionConfig
    from fusion.features import collate, encode_re
    from fusion.model import build_model
    from kg.embedding import EntityEmbeddings

    entities = EntityEmbeddings.from_pretrained(graph / "embeddings" / embeddings)
    labels = [r["name"] for r in json.loads((data / "relations.json").read_text())["relations"]]
    label_ids = {label: i for i, label in enumerate(labels)}
    examples = list(read_jsonl(data / "train.jsonl"))
    setups = {}
    for mode in MODES:
        torch.manual_seed(0)
        model, tokenizer = build_model(FusionConfig(task="re", fusion=mode, labels=labels,
                                                    max_length=96), entities)
        batches = [collate([encode_re(e, tokenizer, model.config, entities, label_ids)
                            for e in examples[i:i + batch_size]], tokenizer.pad_token_id)
                   for i in range(0, batch_size * (steps + 2), batch_size)]
        setups[mode] = (model.train(), torch.optim.AdamW(model.parameters(), lr=5e-5), batches)
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    for step in range(steps + 2):
        for mode, (model, optimizer, batches) in setups.items():
            started = time.perf_counter()
            model(**batches[step])["loss"].backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if step >= 2:  # the first two are warm-up
                times[mode].append(time.perf_counter() - started)
    return times


def overhead_table(times: dict[str, list[float]]) -> str:
    base = statistics.median(times["none"])
    rows = [[mode, f"{statistics.median(t):.3f} ({min(t):.3f}–{max(t):.3f})",
             f"{(statistics.median(t) / base - 1) * 100:+.1f} %"] for mode, t in times.items()]
    return (f"Step time, modes interleaved step by step in one process, {len(times['none'])} "
            "steps of 16 FewRel examples each after 2 warm-up steps:\n\n"
            + table(["fusion", "s/step median (min–max)", "vs none"], rows))


def mean_std(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0] * 100:.2f}"
    return f"{statistics.mean(values) * 100:.2f} ± {statistics.stdev(values) * 100:.2f}"


def f1_of(counts: np.ndarray) -> float:
    """Mean over seeds of micro-F1 from ``[seeds, n, 3]`` counts."""
    sums = counts.sum(axis=1)
    return float(np.mean(2 * sums[:, 0] / np.maximum(sums[:, 1] + sums[:, 2], 1)))


def selection_table(tried: dict[str, list[dict]], chosen: str) -> str:
    rows = [[f"**{c}**" if c == chosen else c, mean_std([r["best_dev_micro_f1"] for r in runs]),
             str(len(runs))] for c, runs in tried.items()]
    return ("Selection on dev (test scores of the candidates not looked at):\n\n"
            + table(["candidate (mode and options)", "best dev micro-F1 (%)", "seeds"], rows))


def budget_curve(work: Path, kept: Path, prepared: tuple[Path, Path], embeddings: str,
                 budget_of, epochs: int, protocol: Runs) -> tuple[str, dict]:
    """``none``'s best dev micro-F1 (seed 0) at half, the chosen and one and a half times
    the chosen number of epochs (the learning rate decays to zero over each budget, so a
    curve of budgets, not of one run's epochs, shows whether more training would move
    it).  Dev only: choosing the budget from it is part of the selection."""
    graph, data = prepared
    budgets = sorted({max(1, epochs // 2), epochs, epochs + max(1, epochs // 2)})
    scores = {}
    for budget in budgets:
        runs = protocol if budget == epochs else Runs(work, kept, graph, data, embeddings,
                                                      budget_of(budget))
        name = "none-0" if budget == epochs else f"none-{budget}-epochs-0"
        scores[budget] = runs.train(name, "none", 0, [])
    curve = ", ".join(f"{b} epoch{'s' if b > 1 else ''}: {r['best_dev_micro_f1'] * 100:.2f}"
                      for b, r in scores.items())
    gain = (scores[budgets[-1]]["best_dev_micro_f1"] - scores[epochs]["best_dev_micro_f1"]) * 100
    verdict = ("a plateau: under half a point" if gain < 0.5 else
               "**not** a plateau: a larger budget would move it")
    return (f"Budget: `none`'s best dev micro-F1 (seed 0) by training budget: {curve}. "
            f"From the chosen {epochs} to {budgets[-1]} epochs {gain:+.2f} points ({verdict})."
            ), scores


def arms_section(arms: dict[str, list[dict]], mask: np.ndarray) -> str:
    """Test scores of every arm, their intervals, the linked subset, the errors removed,
    and each arm against ``none`` (paired bootstrap over examples, t-test over seeds)."""
    counts = {arm: test_counts(runs) for arm, runs in arms.items()}
    linked = {arm: c[:, mask] for arm, c in counts.items()}
    base_linked = f1_of(linked["none"])
    rows, lines = [], []
    for arm, runs in arms.items():
        low, high = f1_interval(counts[arm])
        removed = ((f1_of(linked[arm]) - base_linked) / (1 - base_linked)
                   if arm != "none" and base_linked < 1 else 0.0)
        rows.append([arm, mean_std([r["test"]["micro_f1"] for r in runs]),
                     f"{low * 100:.2f} – {high * 100:.2f}", f"{f1_of(linked[arm]) * 100:.2f}",
                     f"{removed:+.1%}" if arm != "none" else "–"])
        if arm == "none":
            continue
        overall = paired_bootstrap(counts[arm], counts["none"])
        subset = paired_bootstrap(linked[arm], linked["none"])
        seeds = paired_seeds([r["test"]["micro_f1"] for r in runs],
                             [r["test"]["micro_f1"] for r in arms["none"]])
        lines.append(f"- {verdict(arm, 'none', overall)}; linked subset ΔF1 "
                     f"{subset['delta']:+.4f} (p = {subset['p']:.3f}); across "
                     f"{seeds['seeds']} seeds paired t-test p = {seeds['p']:.3f}.")
    return (table(["arm", "test micro-F1 (%) mean ± std over seeds",
                   "95 % bootstrap CI (examples, seeds pooled)", "linked-subset micro-F1 (%)",
                   "share of none's linked errors removed"], rows)
            + f"\n\nLinked subset: {mask.sum()} of {len(mask)} test examples "
            f"({mask.mean():.1%}) have an entity in the entity table (RE: the head or the "
            "tail; NER: a linked span).\n\n"
            + "\n".join(lines))


def per_relation(none: list[dict], fused: list[dict], name: str, data: Path) -> str:
    """Where the entity vectors help: each relation's share of test examples with a linked
    head or tail, and its F1 under ``none`` and the chosen setting (means over seeds)."""
    labels = {r["name"]: r["label"] for r in
              json.loads((data / "relations.json").read_text())["relations"]}
    linked: dict[str, list[bool]] = {}
    for record in read_jsonl(data / "test.jsonl"):
        linked.setdefault(record["relation"], []).append(
            bool(record["head"].get("iri") or record["tail"].get("iri")))

    def f1(runs: list[dict], relation: str) -> float:
        return statistics.mean(r["test"]["per_relation"][relation]["f1"] for r in runs)

    rows = sorted(([relation, labels.get(relation, relation), statistics.mean(flags),
                    f1(none, relation), f1(fused, relation)]
                   for relation, flags in linked.items() if relation != "no_relation"),
                  key=lambda row: -row[2])
    return (f"Per relation (test, mean over seeds), `none` vs `{name}`:\n\n"
            + table(["relation", "label", "head or tail linked", "none F1", "fused F1", "gain"],
                    [[r, label, f"{s:.0%}", f"{a * 100:.1f}", f"{b * 100:.1f}",
                      f"{(b - a) * 100:+.1f}"] for r, label, s, a, b in rows]))


def experiment(title: str, work: Path, name: str, prepared: tuple[Path, Path],
               embeddings: str, budget_of, epochs: int, args) -> tuple[str, str]:
    """The protocol on one dataset: the budget curve, the selection, the arms; returns the
    section's name and text.  ``budget_of(epochs)``: the `wikikg train` options of a
    budget."""
    graph, data = prepared
    cap = f"-capped-{args.max_steps}" if args.max_steps else ""  # never reused as results
    setting = f"protocol-{name}-{epochs}-epochs{cap}"
    kept = work / "kept" if args.max_steps else RESULTS  # smoke runs stay local
    runs = Runs(work / "runs" / setting, kept / setting, graph, data, embeddings,
                budget_of(epochs))
    curve, budgets = budget_curve(work / "runs" / f"budgets-{name}{cap}",
                                  kept / f"budgets-{name}{cap}", prepared, embeddings,
                                  budget_of, epochs, runs)
    chosen, tried = select(runs, args.select_seeds, args.candidates)
    arms = evaluate_arms(runs, args.seeds, chosen)
    mask = linked_mask(data, graph, embeddings)
    return f"fusion-{setting}", (
            f"### {title}\n\nEach run: `wikikg train DATA --fusion MODE --seed S "
            f"{' '.join(runs.budget)}` plus the candidate's options.  Chosen on dev: "
            f"**{chosen}**.\n\n" + curve + "\n\n" + selection_table(tried, chosen) + "\n\n"
            + provenance(tried, arms, {"budgets": list(budgets.values())}) + "\n\n"
            + f"Test, {args.seeds} seeds per arm (the chosen setting and its controls in the "
            "same run):\n\n" + arms_section(arms, mask)
            + (f"\n\n{per_relation(arms['none'], arms[chosen], chosen, data)}"
               if (data / "relations.json").exists() else ""))


def provenance(*groups: dict[str, list[dict]]) -> str:
    """Which commits the runs were trained at (the protocol spans sessions)."""
    commits = sorted({r["commit"] for group in groups for runs in group.values() for r in runs})
    return (f"Runs trained at commit{'s' if len(commits) > 1 else ''} {', '.join(commits)} "
            "(kept in `bench/results/fusion/`, each with a hash of its data and entity table).")


def publish(name: str, body: str, args) -> None:
    """Print the section; write it to docs/benchmarks.md unless the run was a smoke run."""
    print(body, flush=True)
    if not args.max_steps:
        write_section(name, body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--select-seeds", type=int, default=2,
                        help="Seeds per candidate for the selection on dev.")
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES),
                        help="Fused settings to choose from on dev: a mode and its "
                             "`wikikg train` options, one quoted string each.")
    parser.add_argument("--epochs", type=int, default=2, help="FewRel budget (epochs of 16).")
    parser.add_argument("--sample-epochs", type=int, default=6)
    parser.add_argument("--max-steps", type=int, help="A smoke run's step cap (not a result).")
    parser.add_argument("--overhead-steps", type=int, default=20,
                        help="Timed steps per mode for the step-time overhead.")
    parser.add_argument("--work", type=Path, default=ROOT / "data" / "cache" / "bench-fusion")
    parser.add_argument("--wikiann-epochs", type=int, default=1)
    parser.add_argument("--wikiann-train", type=int, default=5000,
                        help="WikiANN training sentences (a bounded CPU budget).")
    parser.add_argument("--wikiann-eval", type=int, default=2000,
                        help="WikiANN dev and test sentences (the first ones).")
    parser.add_argument("--only", choices=["fewrel", "sample", "wikiann"],
                        help="Run one experiment (the other's section is left as it was).")
    parser.add_argument("--embed", default="--config bench/fusion_embed_compgcn.json",
                        help="Options for `wikikg embed` (both experiments).")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    embed_args = args.embed.split()
    embeddings = embeddings_name(embed_args)
    steps = ["--max-steps", str(args.max_steps)] if args.max_steps else []
    command = " ".join(["python bench/bench_fusion.py", f"--seeds {args.seeds}",
                        f"--select-seeds {args.select_seeds}", f"--epochs {args.epochs}",
                        f"--sample-epochs {args.sample_epochs}",
                        f"--wikiann-epochs {args.wikiann_epochs}",
                        f"--wikiann-train {args.wikiann_train}",
                        f"--wikiann-eval {args.wikiann_eval}",
                        f"--only {args.only}" if args.only else "",
                        f"--max-steps {args.max_steps}" if args.max_steps else "",
                        f"--embed '{args.embed}'", "--candidates",
                        *(f"'{c}'" for c in args.candidates)])

    def header(graph: Path) -> str:
        return (f"Machine: {machine()}, CPU only, all-MiniLM-L6-v2. Command: `{command}`. "
                f"Entity embeddings: {describe_embeddings(graph, embeddings)}, trained with "
                "every edge between an entity pair of the RE set (FewRel's, or the sample's "
                "own) held out, whatever the split.  RE micro-F1 excludes `no_relation` "
                "(TACRED), NER's is seqeval's entity F1; each run is scored by its "
                "best-dev checkpoint.")
    if args.only in (None, "fewrel"):
        fb, fewrel = prepare_fewrel(args.work, embed_args)

        def fewrel_budget(epochs: int) -> list[str]:
            return ["--epochs", str(epochs), "--patience", str(epochs), "--batch-size", "16",
                    "--max-length", "96", *steps]
        name, body = experiment(f"1. FewRel-16, FB15k-237 embeddings, {args.epochs} epochs",
                                args.work, "fewrel", (fb, fewrel), embeddings, fewrel_budget,
                                args.epochs, args)
        body += "\n\n" + overhead_table(step_times(fb, fewrel, embeddings, args.overhead_steps))
        publish(name, f"{body}\n\n{header(fb)}", args)
    if args.only in (None, "wikiann"):
        fb, wikiann = prepare_wikiann(args.work, embed_args, args.wikiann_eval)

        def wikiann_budget(epochs: int) -> list[str]:
            return ["--task", "ner", "--epochs", str(epochs), "--patience", str(epochs),
                    "--batch-size", "16", "--max-length", "96", "--max-train-examples",
                    str(args.wikiann_train), *steps]
        name, body = experiment(
            f"3. WikiANN-en NER, FB15k-237 embeddings, entities linked by name, "
            f"{args.wikiann_train} training sentences, {args.wikiann_epochs} epochs (seqeval "
            "entity micro-F1)", args.work,
            f"wikiann-{args.wikiann_train}-sentences-{args.wikiann_eval}-eval", (fb, wikiann),
            embeddings, wikiann_budget, args.wikiann_epochs, args)
        publish(name, f"{body}\n\n{header(fb)}", args)
    if args.only in (None, "sample"):
        sample, sample_re = prepare_sample(args.work, embed_args)

        def sample_budget(epochs: int) -> list[str]:
            return ["--epochs", str(epochs), "--batch-size", "16", "--max-length", "64", "--lr",
                    "1e-4", "--patience", str(epochs), *steps]
        name, body = experiment(f"2. Distant set of the sample dump, {args.sample_epochs} epochs",
                                args.work, "sample", (sample, sample_re), embeddings,
                                sample_budget, args.sample_epochs, args)
        publish(name, f"{body}\n\n{header(sample)}", args)


if __name__ == "__main__":
    main()

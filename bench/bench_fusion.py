"""The experiment that matters: fusion none vs late vs layer, same data, same budget, seeds.

1. FewRel-16 (imported, 70/10/20) with entity embeddings trained on FB15k-237 (imported),
   linked through entity2wikidata.json.
2. The sample dump's distantly supervised set, with its held-out triples removed from the
   encoder's training graph (``wikikg embed --holdout``).

Training runs through the real CLI; results (mean ± std over seeds of test micro-F1, F1
on the linked subset) go to docs/benchmarks.md, with the step-time overhead of fusion
measured in one process, the modes interleaved step by step.

    .venv/bin/python bench/bench_fusion.py [--seeds 3] [--fewrel-steps 150] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SHARED, machine, table, write_section  # noqa: E402
from common.jsonl import read_jsonl  # noqa: E402

CLI = [sys.executable, "-m", "wikikg.cli", "-q"]
MODES = ("none", "late", "layer")


def run(args: list[str]) -> None:
    started = time.perf_counter()
    subprocess.run(CLI + args, check=True)
    print(f"[{time.perf_counter() - started:7.1f}s] wikikg {' '.join(args[:3])}", flush=True)


def options_words(options: list[str]) -> list[str]:
    """Command-line options as words for a cache name (a config file by its stem)."""
    return [Path(a).stem if a.endswith(".json") else a.lstrip("-") for a in options]


def embeddings_name(embed_args: list[str]) -> str:
    """The cache name of one ``--embed`` setting, so that runs with other embeddings never
    reuse these."""
    return "-".join(["fusion", *options_words(embed_args)])


def prepare_fewrel(work: Path, embed_args: list[str]) -> tuple[Path, Path]:
    fb = work / "fb15k-237"
    if not (fb / "kg.json").exists():
        kg = SHARED / "kg" / "FB15k-237"
        run(["import", str(kg / "train.txt"), str(kg / "valid.txt"), str(kg / "test.txt"),
             "--out", str(fb)])
    name = embeddings_name(embed_args)
    if not (fb / "embeddings" / name / "config.json").exists():
        run(["embed", str(fb), *embed_args, "--out", name])
    data = work / "fewrel"
    if not (data / "train.jsonl").exists():
        run(["dataset", "fewrel", str(SHARED / "re" / "fewrel" / "val_wiki.json"), "--out",
             str(data), "--entity-map", str(SHARED / "kg" / "FB15k-237" / "entity2wikidata.json")])
    return fb, data


def prepare_sample(work: Path, embed_args: list[str]) -> tuple[Path, Path]:
    graph = work / "sample"
    if not (graph / "kg.json").exists():
        run(["build", str(SHARED / "dumps" / "enwiki-sample.xml.bz2"), "--out", str(graph)])
    data = work / "sample-re"
    if not (data / "train.jsonl").exists():
        run(["dataset", "re", str(graph), "--out", str(data)])
    name = embeddings_name(embed_args)
    if not (graph / "embeddings" / name / "config.json").exists():
        run(["embed", str(graph), *embed_args, "--holdout", str(data / "heldout_triples.tsv"),
             "--out", name])
    return graph, data


def experiment(runs: Path, graph: Path, data: Path, embeddings: str, seeds: int,
               budget: list[str], fused_options: list[str]) -> dict[str, list[dict]]:
    """``runs`` names the setting (experiment, budget, embeddings): its runs are resumed.

    ``fused_options`` go to the fused modes only; their runs sit in a folder named after
    them, while ``none``, which they cannot change, keeps the setting's runs."""
    results: dict[str, list[dict]] = {mode: [] for mode in MODES}
    fused_runs = runs.with_name("-".join([runs.name, *options_words(fused_options)]))
    for seed in range(seeds):
        for mode in MODES:
            options = budget if mode == "none" else budget + fused_options
            out = (runs if mode == "none" else fused_runs) / f"{mode}-{seed}"
            if not (out / "metrics.json").exists():
                if out.exists():
                    subprocess.run(["rm", "-rf", str(out)], check=True)
                # `none` gets the entity table too, only to score the same linked subset:
                # its model has no entity layer and trains exactly as without it
                run(["train", str(data), "--out", str(out), "--fusion", mode, "--seed", str(seed),
                     "--kg", str(graph), "--embeddings", embeddings, *options])
            results[mode].append(json.loads((out / "metrics.json").read_text()))
    return results


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


def summarize(title: str, results: dict[str, list[dict]], command: str) -> str:
    rows = []
    for mode, runs in results.items():
        linked = [m["test"].get("linked", {}).get("micro_f1") for m in runs]
        share = runs[0]["test"].get("linked", {}).get("share")
        rows.append([mode, mean_std([m["test"]["micro_f1"] for m in runs]),
                     mean_std([m["test"]["macro_f1"] for m in runs]),
                     mean_std(linked) if all(v is not None for v in linked) else "–",
                     f"{share:.1%}" if share is not None else "–",
                     str(runs[0]["steps"])])
    best = best_fusion(results)
    gain = (mean_micro_f1(results[best]) - mean_micro_f1(results["none"])) * 100
    spread = max(statistics.stdev([r["test"]["micro_f1"] for r in results[m]]) * 100
                 if len(results[m]) > 1 else 0.0 for m in (best, "none"))
    return (f"### {title}\n\n`{command}`\n\n"
            + table(["fusion", "test micro-F1 (%)", "test macro-F1 (%)",
                     "micro-F1 on linked subset", "linked share", "steps"], rows)
            + f"\n\nBest fusion: **{best}**, {gain:+.2f} micro-F1 points over `none` "
            f"(largest seed std {spread:.2f}; {len(results['none'])} seeds).")


def mean_micro_f1(runs: list[dict]) -> float:
    return statistics.mean(r["test"]["micro_f1"] for r in runs)


def best_fusion(results: dict[str, list[dict]]) -> str:
    return max(MODES[1:], key=lambda m: mean_micro_f1(results[m]))


def per_relation(results: dict[str, list[dict]], data: Path) -> str:
    """Where the entity vectors help: each relation's share of test examples with a linked
    head or tail, and its F1 under ``none`` and the best fusion (means over seeds)."""
    best = best_fusion(results)
    labels = {r["name"]: r["label"] for r in
              json.loads((data / "relations.json").read_text())["relations"]}
    linked: dict[str, list[bool]] = {}
    for record in read_jsonl(data / "test.jsonl"):
        linked.setdefault(record["relation"], []).append(
            bool(record["head"].get("iri") or record["tail"].get("iri")))

    def f1(mode: str, relation: str) -> float:
        return statistics.mean(r["test"]["per_relation"][relation]["f1"] for r in results[mode])

    rows = sorted(([relation, labels.get(relation, relation), statistics.mean(flags),
                    f1("none", relation), f1(best, relation)]
                   for relation, flags in linked.items()), key=lambda row: -row[2])
    share = results["none"][0]["test"]["linked"]["share"]
    linked_f1 = statistics.mean(r["test"]["linked"]["micro_f1"] for r in results["none"])
    return (f"Per relation (test, mean over seeds), `none` vs `{best}`:\n\n"
            + table(["relation", "label", "head or tail linked", "none F1", f"{best} F1", "gain"],
                    [[r, label, f"{s:.0%}", f"{a * 100:.1f}", f"{b * 100:.1f}",
                      f"{(b - a) * 100:+.1f}"] for r, label, s, a, b in rows])
            + f"\n\nHeadroom: {share:.1%} of the test examples have a linked end and `none` "
            f"scores {linked_f1 * 100:.1f} micro-F1 on them, so a fusion that fixed every "
            f"error there would add at most ≈ {share * (1 - linked_f1) * 100:.1f} points overall "
            "(every FewRel example has a relation, so micro-F1 is close to accuracy).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--fewrel-steps", type=int, default=150)
    parser.add_argument("--sample-epochs", type=int, default=6)
    parser.add_argument("--overhead-steps", type=int, default=20,
                        help="Timed steps per mode for the step-time overhead.")
    parser.add_argument("--work", type=Path, default=ROOT / "data" / "cache" / "bench-fusion")
    parser.add_argument("--only", choices=["fewrel", "sample"],
                        help="Run one experiment (the other's section is left as it was).")
    parser.add_argument("--embed", default="--config bench/fusion_embed_compgcn.json",
                        help="Options for `wikikg embed` (both experiments).")
    parser.add_argument("--fused", default="",
                        help="Extra `wikikg train` options for the fused modes only, as "
                        "--fused='--standardize-entities'.")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    embed_args = args.embed.split()
    embeddings = embeddings_name(embed_args)
    command = " ".join(["python bench/bench_fusion.py", f"--seeds {args.seeds}",
                        f"--only {args.only}" if args.only else "",
                        f"--fewrel-steps {args.fewrel_steps}", f"--sample-epochs {args.sample_epochs}",
                        f"--embed '{args.embed}'",
                        f"--fused='{args.fused}'" if args.fused else ""])
    fused_options = args.fused.split()
    section_suffix = "".join(f"-{word}" for word in options_words(fused_options))
    train_command = "wikikg train DATA --fusion MODE {budget}" + (
        f"; fused modes also {args.fused}" if args.fused else "")
    title_suffix = f", fused modes with `{args.fused}`" if args.fused else ""

    def header(graph: Path) -> str:
        return (f"Machine: {machine()}, CPU only, all-MiniLM-L6-v2. Command: `{command}`. "
                f"Entity embeddings: {describe_embeddings(graph, embeddings)}. Each cell: mean ± std "
                "over seeds of the best-dev checkpoint's test score; micro-F1 excludes "
                "`no_relation` (TACRED).")
    if args.only != "sample":
        fb, fewrel = prepare_fewrel(args.work, embed_args)
        budget = ["--epochs", "1", "--max-steps", str(args.fewrel_steps), "--batch-size", "16",
                  "--max-length", "96"]
        setting = f"fewrel-{args.fewrel_steps}-steps-{embeddings}"
        results = experiment(args.work / "runs" / setting, fb, fewrel, embeddings, args.seeds,
                             budget, fused_options)
        model = embeddings_file(fb, embeddings, "config.json")["model"]
        body = summarize(f"1. FewRel-16, FB15k-237 {model} embeddings "
                         f"({args.fewrel_steps} steps of 16 examples per run){title_suffix}", results,
                         train_command.format(budget=" ".join(budget)))
        body += "\n\n" + per_relation(results, fewrel)
        body += "\n\n" + overhead_table(step_times(fb, fewrel, embeddings, args.overhead_steps))
        write_section(setting + section_suffix, f"{body}\n\n{header(fb)}")
        print(body)
    if args.only != "fewrel":
        sample, sample_re = prepare_sample(args.work, embed_args)
        budget = ["--epochs", str(args.sample_epochs), "--batch-size", "16", "--max-length", "64",
                  "--lr", "1e-4", "--patience", str(args.sample_epochs)]
        setting = f"sample-{args.sample_epochs}-epochs-{embeddings}"
        results = experiment(args.work / "runs" / setting, sample, sample_re, embeddings,
                             args.seeds, budget, fused_options)
        model = embeddings_file(sample, embeddings, "config.json")["model"]
        body = summarize(f"2. Distant set of the sample dump, {model} "
                         "embeddings, held-out triples removed from the encoder's graph "
                         f"({args.sample_epochs} epochs){title_suffix}", results,
                         train_command.format(budget=" ".join(budget)))
        write_section(setting + section_suffix, f"{body}\n\n{header(sample)}")
        print(body)


if __name__ == "__main__":
    main()

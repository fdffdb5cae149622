"""``wikikg build`` and ``wikikg repack``: a dump in, a build (and its graph) out."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from extraction.build import BuildOptions
from kg.iri import DEFAULT_BASE
from wikikg.options import SIZE

DEFAULTS = BuildOptions()  # the options' defaults are the library's

log = logging.getLogger("wikikg")

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


@click.command(epilog=EXAMPLES)
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
@click.option("--spacy-model", default=DEFAULTS.spacy_model, show_default=True,
              help="spaCy model for --ner and --splitter spacy.")
@click.option("--splitter", type=click.Choice(["rules", "spacy"]), default=DEFAULTS.splitter,
              show_default=True, help="Sentence splitter.")
@click.option("--strict", is_flag=True, help="Fail (exit 1) on any malformed page or file.")
@click.option("--max-page-bytes", default=DEFAULTS.max_page_bytes, show_default=True, type=click.IntRange(1),
              help="Skip (and log) pages larger than this.")
@click.option("--page-timeout", default=DEFAULTS.page_timeout, show_default=True, type=click.FloatRange(0),
              help="Skip (and log) pages whose extraction takes longer (seconds; 0 = none).")
@click.option("--no-index", is_flag=True,
              help="Read a multistream dump sequentially: ignore its index and do not "
                   "scan it for stream ranges.")
@click.option("--memory-limit", default=DEFAULTS.memory_limit, show_default=True, type=SIZE,
              help="Memory budget of the reduce step (redirects, aliases: DuckDB's "
                   "memory_limit, e.g. 512MB, 8GB), shared by its tasks running at once; "
                   "past it, they spill to --tmp-dir.")
@click.option("--reduce-buckets", type=click.IntRange(1),
              help="Hash buckets of the reduce step (its tasks per stage); default: one per "
                   "250,000 pages read.  The same input and buckets give the same files.")
@click.option("--tmp-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the reduce step's tasks spill (default: inside the temporary build "
                   "directory; on a cluster, a disk of each node will do); removed at the end.")
@click.option("--tmp-dir-limit", type=SIZE,
              help="The most disk the reduce step may spill (e.g. 50GB; default: the free "
                   "space of --tmp-dir); past it the build stops with a one-line error.")
@click.option("--base-iri", default=DEFAULT_BASE, show_default=True,
              help="Base of the graph's IRIs (resource/, property/, class/, ontology/).")
@click.pass_context
def build(ctx, dumps, out, workers, engine, ray_address, limit_pages, ner, spacy_model, splitter,
          strict, max_page_bytes, page_timeout, no_index, memory_limit, reduce_buckets, tmp_dir,
          tmp_dir_limit, base_iri):
    """Extract entities, infobox facts, links and linked sentences from DUMPS.

    DUMPS are MediaWiki XML exports (.xml, .xml.bz2, multistream .xml.bz2 with its
    index beside it, .xml.gz).  Without DUMPS the bundled sample dump is used.
    With --engine ray every worker reads the dumps by path: on a cluster, they must be
    on shared storage (or copied to the same path on every node).
    """
    from wikikg.defaults import default_dump
    from wikikg.stages import build as run_build

    if ray_address and engine != "ray":
        raise click.UsageError("--ray-address needs --engine ray")
    inputs = list(dumps) or [default_dump()]
    options = BuildOptions(workers=workers, limit_pages=limit_pages, strict=strict,
                           splitter=splitter, spacy_model=spacy_model, ner=ner,
                           max_page_bytes=max_page_bytes, page_timeout=page_timeout,
                           progress=not ctx.obj["quiet"], use_index=not no_index,
                           engine=engine, ray_address=ray_address, memory_limit=memory_limit,
                           reduce_buckets=reduce_buckets,
                           tmp_dir=str(tmp_dir) if tmp_dir else None, spill_limit=tmp_dir_limit)
    stats = run_build(inputs, out, options, base_iri)
    log.info("built %s: %d articles, %d facts, %d sentences, %d triples, %d errors", out,
             stats["articles"], stats["facts"], stats["sentences"], stats["graph"]["triples"],
             stats["errors"])
    click.echo(str(out))


@click.command("repack", epilog="""
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
    from extraction.multistream import repack_multistream

    index = repack_multistream(dump, out, pages_per_stream)
    click.echo(f"{out}\n{index}")

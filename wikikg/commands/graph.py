"""``wikikg import``, ``export``, ``query`` and ``serve``: graphs in and out, SPARQL."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kg.iri import DEFAULT_BASE
from kg.server.options import ServeOptions
from kg.sparql.results import FORMATS as RESULT_FORMATS

SERVE = ServeOptions()


@click.command("import", epilog="""
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
    from kg import import_graph

    meta = import_graph(files, out, fmt, base_iri)
    for entry in meta["inputs"]:
        click.echo(f"{entry['path']}: read {entry['read']}, kept {entry['kept']}, "
                   f"skipped {entry['skipped']}", err=True)
    click.echo(str(out))


@click.command(epilog="""
\b
Examples:
  wikikg export out/sample --format ttl --out sample.ttl
  wikikg export out/sample --format graphml --out sample.graphml
  wikikg export out/umls --format nq --out all-graphs.nq       # completions included
  wikikg export out/umls --graph completions/distmult --format ttl
\b
nt, ttl, graphml and gexf hold the default graph (what the dump states); nq and trig
hold every graph; --graph one named graph (predictions, completions).
""")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["nt", "ttl", "nq", "trig", "graphml", "gexf"]),
              default="nt", show_default=True)
@click.option("--graph", "named", metavar="NAME",
              help="One named graph: its IRI or its name under <base>graph/.")
@click.option("--out", "-o", default="-", help="Output file ('-' for stdout).")
def export(directory, fmt, named, out):
    """Write the graph of DIRECTORY as N-Triples, Turtle, N-Quads, TriG, GraphML or GEXF."""
    from kg import export_graph

    export_graph(directory, fmt, sys.stdout.buffer if out == "-" else out, named)


@click.command(epilog="""
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
    from kg import KnowledgeGraph, QueryRefused, QuerySyntaxError
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
    sys.stdout.buffer.write(output)
    sys.stdout.flush()


@click.command(epilog="""
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
    from kg.server.app import serve as run_server

    origins = () if cors_origins == ("none",) else (cors_origins or SERVE.cors_origins)
    options = ServeOptions(host=host, port=port, timeout=timeout, max_rows=max_rows,
                           workers=workers, slow_after=slow_after, memory=memory,
                           cors_origins=tuple(origins), token=token or None)
    run_server(directory, options)

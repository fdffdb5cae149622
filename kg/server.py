"""A read-only SPARQL 1.1 Protocol endpoint (``/sparql``) with an HTML query page (``/``).

Queries run in a small pool of worker *processes*, each with its own read-only handle on
``DIR/store``.  pyoxigraph has no query timeout and a running query cannot be interrupted
from Python, so the request handler waits for the worker's answer at most ``timeout``
seconds; past that it kills the worker (the query really stops), starts a fresh one in the
background and answers 503.  The other workers keep serving meanwhile.  A request first
waits for an idle worker (FIFO); under overload it gets 503 after ``max(30, 3 * timeout)``
seconds of waiting, so the queue cannot grow without bound.

Workers serialise results themselves (SPARQL JSON/XML/CSV/TSV, Turtle, N-Triples) and send
back bytes plus the row count and whether rows were cut at ``max_rows``.  Every query is
checked by :func:`kg.sparql.check_query` in the server *and* in the worker: updates and
``SERVICE`` (which would make pyoxigraph fetch a remote endpoint) never reach the store.

Content negotiation: SELECT -> ``application/sparql-results+json`` (default),
``application/sparql-results+xml``, ``text/csv``, ``text/tab-separated-values``; ASK ->
JSON or XML only (CSV/TSV define no boolean form, so an ASK asking only for them gets 406);
CONSTRUCT/DESCRIBE -> ``text/turtle`` (default) or ``application/n-triples``.
``application/json`` and ``application/xml`` are accepted as aliases of the results formats.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import logging
import multiprocessing
import os
import signal
import time
from urllib.parse import unquote_to_bytes, urlencode

import pyoxigraph as ox
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from kg.iri import IriScheme
from kg.sparql import (
    QueryRefused,
    QuerySyntaxError,
    boolean_json,
    boolean_xml,
    check_query,
    json_term,
    results_csv,
    results_json,
    results_tsv,
    results_xml,
    run_query,
    serialize_triples,
    solution_rows,
)
from kg.store import KnowledgeGraph, open_store

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20          # bytes of request body accepted
HTML_MAX_ROWS = 1000        # rows shown on the HTML pages (they also respect max_rows)
WORKER_START_TIMEOUT = 120.0
READ_ONLY = "read-only endpoint: SPARQL updates are not allowed"

# (media type offered, format key) in the server's order of preference, per result kind.
OFFERS = {
    "solutions": [("application/sparql-results+json", "json"),
                  ("application/sparql-results+xml", "xml"),
                  ("text/csv", "csv"), ("text/tab-separated-values", "tsv"),
                  ("application/json", "json"), ("application/xml", "xml")],
    "boolean": [("application/sparql-results+json", "json"),
                ("application/sparql-results+xml", "xml"),
                ("application/json", "json"), ("application/xml", "xml")],
    "graph": [("text/turtle", "ttl"), ("application/n-triples", "nt")],
}
CONTENT_TYPES = {"json": "application/sparql-results+json", "xml": "application/sparql-results+xml",
                 "csv": "text/csv; charset=utf-8", "tsv": "text/tab-separated-values; charset=utf-8",
                 "ttl": "text/turtle; charset=utf-8", "nt": "application/n-triples"}
KIND_OF_FORM = {"SELECT": "solutions", "ASK": "boolean", "CONSTRUCT": "graph", "DESCRIBE": "graph"}


class HttpError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# --- the worker process -----------------------------------------------------------------

def _worker_main(directory: str, memory: bool, conn) -> None:
    """Open the store once (``memory``: an in-memory copy), then answer
    ``(query, formats, max_rows, dataset)`` jobs."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the server decides when workers stop
    try:
        store = open_store(directory, memory=memory)
    except OSError as exc:
        conn.send(("error", 500, f"cannot open the store of {directory}: {exc}"))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            reply = _execute(store, *job)
        except Exception as exc:  # noqa: BLE001 - any failure is reported to the request
            reply = ("error", 500, f"query failed: {type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return


def _execute(store: ox.Store, query: str, formats: dict, max_rows: int, dataset: tuple) -> tuple:
    """Run one query; ``("ok", format, body bytes, rows, truncated)`` or ``("error", status, msg)``."""
    default_graphs, named_graphs = dataset
    options = {}
    if default_graphs:
        options["default_graph"] = [ox.NamedNode(g) for g in default_graphs]
    if named_graphs:
        options["named_graphs"] = [ox.NamedNode(g) for g in named_graphs]
    try:
        result = run_query(store, query, **options)
    except QueryRefused as exc:
        return ("error", 403, str(exc))
    except QuerySyntaxError as exc:
        return ("error", 400, f"SPARQL syntax error: {exc}")
    if isinstance(result, ox.QueryBoolean):
        kind = "boolean"
    elif isinstance(result, ox.QuerySolutions):
        kind = "solutions"
    else:
        kind = "graph"
    fmt = formats.get(kind)
    if fmt is None:
        return ("error", 406, _not_acceptable(kind))
    if kind == "boolean":
        body = (boolean_json if fmt == "json" else boolean_xml)(bool(result))
        return ("ok", fmt, body.encode(), 1, False)
    if kind == "solutions":
        variables, rows, truncated = solution_rows(result, max_rows)
        if fmt == "json":
            body = results_json(variables, rows, truncated)
        elif fmt == "xml":
            body = results_xml(variables, rows, truncated)
        else:
            body = (results_csv if fmt == "csv" else results_tsv)(variables, rows)
        return ("ok", fmt, body.encode(), len(rows), truncated)
    triples = list(itertools.islice(result, max_rows + 1))
    truncated = len(triples) > max_rows
    del triples[max_rows:]
    return ("ok", fmt, serialize_triples(triples, fmt), len(triples), truncated)


# --- the pool ---------------------------------------------------------------------------

async def _readable(conn, timeout: float) -> bool:
    """Wait until ``conn`` has data (or EOF) without blocking the event loop."""
    if conn.poll():
        return True
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    fd = conn.fileno()
    loop.add_reader(fd, lambda: ready.done() or ready.set_result(True))
    try:
        await asyncio.wait_for(ready, timeout)
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(fd)


class _Worker:
    def __init__(self, process, conn):
        self.process = process
        self.conn = conn

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.conn.close()


class QueryTimeout(Exception):
    """No answer from the worker within the timeout (the worker has been killed)."""


class WorkerPool:
    """``size`` worker processes; :meth:`run` sends a job to an idle one and awaits the reply."""

    def __init__(self, directory: str, size: int, timeout: float, queue_timeout: float | None = None,
                 memory: bool = False):
        self.directory = directory
        self.memory = memory
        self.size = size
        self.timeout = timeout
        self.queue_timeout = max(30.0, 3 * timeout) if queue_timeout is None else queue_timeout
        self._ctx = multiprocessing.get_context("spawn")  # no fork of a threaded server
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._workers: set[_Worker] = set()
        self._tasks: set[asyncio.Task] = set()
        self._closed = False

    @property
    def alive(self) -> int:
        return sum(w.process.is_alive() for w in self._workers)

    async def start(self) -> None:
        for _ in range(self.size):
            self._idle.put_nowait(await self._start_worker())
        log.info("%d query workers ready on %s%s", self.size, self.directory,
                 " (in memory)" if self.memory else "")

    async def _start_worker(self) -> _Worker:
        """Start a worker and wait until it has opened the store."""
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker_main, args=(self.directory, self.memory, child),
                                    name="wikikg-sparql-worker", daemon=True)
        await asyncio.to_thread(process.start)
        child.close()
        worker = _Worker(process, parent)
        try:
            message = None
            if await _readable(parent, WORKER_START_TIMEOUT):
                with contextlib.suppress(EOFError, OSError):
                    message = parent.recv()
            if not message or message[0] != "ready":
                raise RuntimeError("query worker did not start: "
                                   + (message[2] if message else "no answer"))
        except BaseException:
            self._discard(worker)
            raise
        self._workers.add(worker)
        return worker

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        self._workers.discard(worker)
        task = asyncio.get_running_loop().run_in_executor(None, worker.process.join, 5)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _replace(self, worker: _Worker) -> None:
        self._discard(worker)
        if not self._closed:
            task = asyncio.create_task(self._respawn())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _respawn(self) -> None:
        delay = 0.5
        while not self._closed:
            try:
                self._idle.put_nowait(await self._start_worker())
                return
            except Exception:  # noqa: BLE001 - keep trying; the error is logged
                log.exception("restarting a query worker failed; retrying in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)

    async def run(self, job: tuple) -> tuple:
        """The worker's reply; raises :class:`QueryTimeout` when no answer came in time."""
        try:
            worker = await asyncio.wait_for(self._idle.get(), self.queue_timeout)
        except TimeoutError:
            raise HttpError(503, f"all {self.size} query workers stayed busy for "
                                 f"{self.queue_timeout:g}s; try again later") from None
        healthy = False
        try:
            worker.conn.send(job)
            if not await _readable(worker.conn, self.timeout):
                log.warning("query timed out after %gs; killing worker pid %s",
                            self.timeout, worker.process.pid)
                raise QueryTimeout()
            reply = worker.conn.recv()
            healthy = True
            return reply
        except (EOFError, OSError) as exc:
            log.error("query worker pid %s died: %s", worker.process.pid, exc)
            raise HttpError(500, "the query worker died while running this query") from None
        finally:  # also on cancellation (client gone): a busy worker is never reused
            if healthy:
                self._idle.put_nowait(worker)
            else:
                self._replace(worker)

    async def close(self) -> None:
        """Stop idle workers politely, kill busy ones."""
        self._closed = True
        for task in list(self._tasks):
            if isinstance(task, asyncio.Task):
                task.cancel()
        idle = []
        while not self._idle.empty():
            idle.append(self._idle.get_nowait())
            with contextlib.suppress(OSError):
                idle[-1].conn.send(None)
        for worker in list(self._workers):
            if worker in idle:
                await asyncio.to_thread(worker.process.join, 2)
            worker.kill()
        self._workers.clear()


# --- HTTP helpers -----------------------------------------------------------------------

def _parse_form(raw: bytes) -> list[tuple[str, str]]:
    """``application/x-www-form-urlencoded`` (or a query string), strictly UTF-8."""
    pairs = []
    for part in raw.split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        try:
            pairs.append(tuple(unquote_to_bytes(x.replace(b"+", b" ")).decode("utf-8")
                               for x in (name, value)))
        except UnicodeDecodeError:
            raise HttpError(400, "request parameters are not valid UTF-8") from None
    return pairs


def _media_type(header: str) -> tuple[str, dict]:
    main, *params = header.split(";")
    parsed = {}
    for param in params:
        key, _, value = param.partition("=")
        parsed[key.strip().lower()] = value.strip().strip('"')
    return main.strip().lower(), parsed


def _accept_ranges(header: str) -> list[tuple[str, float]]:
    ranges = []
    for part in header.split(","):
        media, params = _media_type(part)
        if "/" not in media:
            continue
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 0.0
        ranges.append((media, min(max(q, 0.0), 1.0)))
    return ranges


def _quality(media: str, ranges: list[tuple[str, float]]) -> float:
    """q of the most specific range matching ``media`` (RFC 9110 §12.5.1); 0 if none."""
    major = media.split("/")[0]
    best, q = -1, 0.0
    for candidate, cq in ranges:
        if candidate == media:
            specificity = 2
        elif candidate == f"{major}/*":
            specificity = 1
        elif candidate == "*/*":
            specificity = 0
        else:
            continue
        if specificity > best:
            best, q = specificity, cq
    return q


def negotiate(accept: str | None, kind: str) -> str | None:
    """The format key to answer a ``kind`` result with, or ``None`` (-> 406)."""
    offers = OFFERS[kind]
    if not accept or not accept.strip():
        return offers[0][1]
    ranges = _accept_ranges(accept)
    chosen, best = None, 0.0
    for media, key in offers:
        q = _quality(media, ranges)
        if q > best:
            chosen, best = key, q
    return chosen


def _not_acceptable(kind: str) -> str:
    types = ", ".join(dict.fromkeys(m for m, _ in OFFERS[kind]))
    what = {"solutions": "SELECT", "boolean": "ASK", "graph": "CONSTRUCT/DESCRIBE"}[kind]
    return f"not acceptable: a {what} result can be sent as {types}"


def _single(pairs: list[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in pairs if k == name]
    if len(values) > 1:
        raise HttpError(400, f"more than one {name!r} parameter")
    return values[0] if values else None


async def _read_body(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise HttpError(413, f"request body larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _protocol_params(request: Request) -> list[tuple[str, str]]:
    """All parameters of a SPARQL protocol request (URL + body), validated."""
    pairs = _parse_form(request.scope.get("query_string", b""))
    if request.method == "POST":
        header = request.headers.get("content-type")
        if not header:
            raise HttpError(400, "a POST needs Content-Type application/x-www-form-urlencoded "
                                 "or application/sparql-query")
        media, params = _media_type(header)
        body = await _read_body(request)
        if media == "application/x-www-form-urlencoded":
            pairs += _parse_form(body)
        elif media == "application/sparql-query":
            if params.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
                raise HttpError(400, "application/sparql-query bodies must be UTF-8")
            try:
                pairs.append(("query", body.decode("utf-8")))
            except UnicodeDecodeError:
                raise HttpError(400, "the query body is not valid UTF-8") from None
        elif media == "application/sparql-update":
            raise HttpError(403, READ_ONLY)
        else:
            raise HttpError(400, f"unsupported Content-Type {media!r}: use "
                                 "application/x-www-form-urlencoded or application/sparql-query")
    if any(k in ("update", "using-graph-uri", "using-named-graph-uri") for k, _ in pairs):
        raise HttpError(403, READ_ONLY)
    return pairs


# --- HTML -------------------------------------------------------------------------------

CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232a;
background:#f6f7f9}
header{background:#243447;color:#fff;padding:.7em 1.5em}header a{color:#fff;text-decoration:none}
header h1{font-size:1.2em;margin:0}header small{opacity:.75}
main{padding:1em 1.5em;max-width:1300px}
textarea{width:100%;box-sizing:border-box;font:13px/1.4 ui-monospace,Menlo,Consolas,monospace;
padding:.6em;border:1px solid #b8c0cc;border-radius:4px;min-height:9em}
button{margin-top:.5em;padding:.45em 1.4em;font-size:1em;background:#2f6fb3;color:#fff;border:0;
border-radius:4px;cursor:pointer}
.examples{margin:.6em 0 1em}.examples a{display:inline-block;margin:.15em .3em .15em 0;padding:.15em .6em;
background:#e3eaf3;border-radius:3px;color:#1f4e80;text-decoration:none;font-size:.9em}
table{border-collapse:collapse;background:#fff;margin:.6em 0;font-size:.92em;max-width:100%}
th,td{border:1px solid #d5dbe3;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#edf1f6}td{word-break:break-word}
a{color:#1f5fa6}.lit{color:#1d232a}.meta{color:#6b7684;font-size:.85em}
.error{background:#fdecec;border:1px solid #e3a1a1;padding:.6em 1em;border-radius:4px;white-space:pre-wrap}
.note{color:#8a5a00}.prefixes{color:#6b7684;font-size:.8em;margin-top:2em}
"""

SCRIPT = """
document.querySelectorAll('a.example').forEach(function(a){a.addEventListener('click',function(e){
e.preventDefault();var t=document.getElementById('query');t.value=a.dataset.query;t.focus();});});
"""

CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "form-action 'self'; base-uri 'none'")

STANDARD_PREFIXES = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dct": "http://purl.org/dc/terms/",
}
RDFS_LABEL = STANDARD_PREFIXES["rdfs"] + "label"


class _Html:
    """Server-side rendering of results and entity pages (everything escaped)."""

    def __init__(self, scheme: IriScheme, examples: list[tuple[str, str]]):
        self.scheme = scheme
        self.examples = examples
        self.prefixes = {**{name: scheme.base + name + "/" for name in
                            ("resource", "property", "class", "ontology", "unit")},
                         **STANDARD_PREFIXES}
        self._ordered = sorted(self.prefixes.items(), key=lambda kv: -len(kv[1]))

    def short(self, iri: str) -> str:
        for name, namespace in self._ordered:
            if iri.startswith(namespace) and len(iri) > len(namespace):
                return f"{name}:{iri[len(namespace):]}"
        return iri

    def iri_link(self, iri: str) -> str:
        return (f'<a href="/entity?{urlencode({"iri": iri})}" title="{html.escape(iri)}">'
                f"{html.escape(self.short(iri))}</a>")

    def cell(self, term: dict | None) -> str:
        if term is None:
            return ""
        value = term["value"]
        if term["type"] == "uri":
            return self.iri_link(value)
        if term["type"] == "bnode":
            return html.escape(f"_:{value}")
        shown = value if len(value) <= 400 else value[:399] + "…"
        out = f'<span class="lit">{html.escape(shown)}</span>'
        if "xml:lang" in term:
            out += f' <span class="meta">@{html.escape(term["xml:lang"])}</span>'
        elif "datatype" in term:
            out += f' <span class="meta">^^{html.escape(self.short(term["datatype"]))}</span>'
        return out

    def table(self, variables: list[str], rows: list[dict]) -> str:
        head = "".join(f"<th>{html.escape(v)}</th>" for v in variables)
        body = "".join("<tr>" + "".join(f"<td>{self.cell(row.get(v))}</td>" for v in variables)
                       + "</tr>" for row in rows)
        return f'<table class="results"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

    def page(self, title: str, body: str) -> str:
        prefixes = " · ".join(f"{html.escape(k)}: &lt;{html.escape(v)}&gt;" for k, v in self.prefixes.items())
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width,initial-scale=1">'
                f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
                f'<header><h1><a href="/">wikikg SPARQL</a></h1>'
                f"<small>read-only endpoint at /sparql</small></header><main>{body}"
                f'<p class="prefixes">Prefixes: {prefixes}</p></main>'
                f"<script>{SCRIPT}</script></body></html>")

    def form(self, query: str) -> str:
        examples = "".join(
            f'<a class="example" href="/?{urlencode({"query": q})}" data-query="{html.escape(q)}">'
            f"{html.escape(label)}</a>" for label, q in self.examples)
        return (f'<form method="get" action="/"><textarea id="query" name="query" spellcheck="false">'
                f'{html.escape(query)}</textarea><br><button type="submit">Run query</button></form>'
                f'<div class="examples">Examples: {examples}</div>')


def _examples(scheme: IriScheme, entity: str | None) -> list[tuple[str, str]]:
    base = scheme.base
    out = [
        ("Predicates by use", "SELECT ?predicate (COUNT(*) AS ?triples)\nWHERE { ?s ?predicate ?o }\n"
                              "GROUP BY ?predicate\nORDER BY DESC(?triples)"),
        ("Classes", "SELECT ?class (COUNT(?s) AS ?members)\nWHERE { ?s a ?class }\n"
                    "GROUP BY ?class\nORDER BY DESC(?members)\nLIMIT 50"),
        ("Entity labels", f"PREFIX rdfs: <{STANDARD_PREFIXES['rdfs']}>\nSELECT ?entity ?label\n"
                          f"WHERE {{\n  ?entity rdfs:label ?label .\n"
                          f'  FILTER(STRSTARTS(STR(?entity), "{base}resource/"))\n}}\nLIMIT 50'),
        ("Infobox facts", f"SELECT ?s ?p ?o\nWHERE {{\n  ?s ?p ?o .\n"
                          f'  FILTER(STRSTARTS(STR(?p), "{base}property/"))\n}}\nLIMIT 50'),
    ]
    if entity:
        name = scheme.title_of(entity) or entity
        out += [(f"Triples of {name}", f"SELECT ?p ?o\nWHERE {{ <{entity}> ?p ?o }}"),
                (f"What points to {name}", f"SELECT ?s ?p\nWHERE {{ ?s ?p <{entity}> }}\nLIMIT 100"),
                (f"DESCRIBE {name}", f"DESCRIBE <{entity}>")]
    return out


def _sample_entity(graph: KnowledgeGraph) -> str | None:
    article = graph.scheme.ontology("Article")
    for query in (f"SELECT ?s WHERE {{ ?s a <{article}> }} LIMIT 1",
                  "SELECT ?s WHERE { ?s ?p ?o FILTER(isIRI(?s)) } LIMIT 1"):
        rows = graph.query(query)
        if rows:
            return rows[0]["s"]
    return None


# --- the application --------------------------------------------------------------------

def create_app(directory, timeout: float = 10.0, max_rows: int = 10_000, workers: int = 2,
               memory: bool = False) -> Starlette:
    """The ASGI app for the graph in ``directory`` (raises :class:`kg.store.GraphError`);
    ``memory``: each worker queries an in-memory copy of the store (faster joins)."""
    if timeout <= 0 or max_rows < 1 or workers < 1:
        raise ValueError("timeout must be > 0, max_rows and workers >= 1")
    graph = KnowledgeGraph.open(directory)
    meta, scheme = graph.meta, graph.scheme
    entity = _sample_entity(graph)
    del graph
    pool = WorkerPool(str(directory), workers, timeout, memory=memory)
    pages = _Html(scheme, _examples(scheme, entity))

    async def execute(query: str, formats: dict, limit: int, dataset=((), ())) -> tuple:
        """Run through the pool; ``(format, body, rows, truncated)`` or raise :class:`HttpError`."""
        form = check_query(query)  # QueryRefused before anything reaches a worker
        started = time.perf_counter()
        try:
            reply = await pool.run((query, formats, limit, dataset))
        except QueryTimeout:
            log.info("query 503 %s timeout %.0fms", form, 1000 * (time.perf_counter() - started))
            raise HttpError(503, f"query timed out after {timeout:g}s and was stopped; "
                                 "narrow it down or add a LIMIT") from None
        elapsed = 1000 * (time.perf_counter() - started)
        if reply[0] == "error":
            log.info("query %d %s %.0fms: %s", reply[1], form, elapsed, reply[2])
            raise HttpError(reply[1], reply[2])
        _, fmt, body, rows, truncated = reply
        log.info("query 200 %s %s rows=%d%s %.0fms", form, fmt, rows,
                 " truncated" if truncated else "", elapsed)
        return fmt, body, rows, truncated

    async def sparql(request: Request) -> Response:
        try:
            pairs = await _protocol_params(request)
            query = _single(pairs, "query")
            if query is None or not query.strip():
                raise HttpError(400, "missing 'query' parameter (this endpoint answers SPARQL "
                                     "queries; the HTML query page is at /)")
            try:
                form = check_query(query)
            except QueryRefused as exc:
                raise HttpError(403, str(exc)) from None
            accept = request.headers.get("accept")
            formats = {kind: negotiate(accept, kind) for kind in OFFERS}
            if formats[KIND_OF_FORM[form]] is None:
                raise HttpError(406, _not_acceptable(KIND_OF_FORM[form]))
            dataset = (tuple(v for k, v in pairs if k == "default-graph-uri"),
                       tuple(v for k, v in pairs if k == "named-graph-uri"))
            for iri in dataset[0] + dataset[1]:
                try:
                    ox.NamedNode(iri)
                except ValueError:
                    raise HttpError(400, f"not an IRI: {iri!r}") from None
            fmt, body, rows, truncated = await execute(query, formats, max_rows, dataset)
        except HttpError as exc:
            return PlainTextResponse(exc.message + "\n", status_code=exc.status)
        headers = {"X-Result-Rows": str(rows), "X-Result-Truncated": "true" if truncated else "false",
                   "Vary": "Accept"}
        return Response(body, media_type=CONTENT_TYPES[fmt], headers=headers)

    async def health(request: Request) -> Response:
        alive = pool.alive
        return JSONResponse({"status": "ok" if alive else "down", "triples": meta.get("triples"),
                             "workers": alive}, status_code=200 if alive else 503)

    async def html_results(query: str) -> tuple[str, int]:
        """The result section of the query page, and the HTTP status to send it with."""
        limit = min(max_rows, HTML_MAX_ROWS)
        try:
            fmt, body, rows, truncated = await execute(
                query, {"solutions": "json", "boolean": "json", "graph": "nt"}, limit)
        except QueryRefused as exc:
            return f'<div class="error">{html.escape(str(exc))}</div>', 403
        except HttpError as exc:
            return f'<div class="error">{html.escape(exc.message)}</div>', exc.status
        if fmt == "nt":
            triples = ox.parse(body, format=ox.RdfFormat.N_TRIPLES)
            variables = ["subject", "predicate", "object"]
            table_rows = [dict(zip(variables, map(json_term, (t.subject, t.predicate, t.object))))
                          for t in triples]
        else:
            document = json.loads(body)
            if "boolean" in document:
                return f"<p>ASK: <strong>{'true' if document['boolean'] else 'false'}</strong></p>", 200
            variables, table_rows = document["head"]["vars"], document["results"]["bindings"]
        note = (f' <span class="note">(cut at {limit} rows; add a LIMIT or use /sparql for up to '
                f"{max_rows})</span>" if truncated else "")
        return f'<p class="meta">{rows} result{"s" * (rows != 1)}{note}</p>' + pages.table(
            variables, table_rows), 200

    async def index(request: Request) -> Response:
        query = request.query_params.get("query")
        status, results = 200, ""
        if query and query.strip():
            results, status = await html_results(query)
        shown = query or (pages.examples[0][1] if pages.examples else "")
        return HTMLResponse(pages.page("wikikg SPARQL", pages.form(shown) + results),
                            status_code=status, headers={"Content-Security-Policy": CSP})

    async def entity_page(request: Request) -> Response:
        iri = request.query_params.get("iri", "")
        try:
            node = ox.NamedNode(iri)
        except ValueError:
            body = f'<div class="error">not an IRI: {html.escape(iri)}</div>'
            return HTMLResponse(pages.page("Not an IRI", body), status_code=400,
                                headers={"Content-Security-Policy": CSP})
        limit = min(max_rows, HTML_MAX_ROWS)
        sections, label, total = [], None, 0
        with contextlib.suppress(HttpError):
            _, body, rows, _ = await execute(f"SELECT ?label WHERE {{ {node} <{RDFS_LABEL}> ?label }} "
                                             "LIMIT 1", {"solutions": "json"}, 1)
            if rows:
                label = json.loads(body)["results"]["bindings"][0]["label"]["value"]
        for title, query, variables in (
                ("As subject", f"SELECT ?predicate ?object WHERE {{ {node} ?predicate ?object }} "
                               "ORDER BY ?predicate ?object", ["predicate", "object"]),
                ("As object", f"SELECT ?subject ?predicate WHERE {{ ?subject ?predicate {node} }} "
                              "ORDER BY ?predicate ?subject", ["subject", "predicate"])):
            try:
                _, body, rows, truncated = await execute(query, {"solutions": "json"}, limit)
            except HttpError as exc:
                sections.append(f'<h2>{title}</h2><div class="error">{html.escape(exc.message)}</div>')
                continue
            bindings = json.loads(body)["results"]["bindings"]
            total += rows
            more = f' <span class="note">(first {limit})</span>' if truncated else ""
            sections.append(f'<h2>{title} <span class="meta">{rows} triple{"s" * (rows != 1)}'
                            f"</span>{more}</h2>" + (pages.table(variables, bindings) if rows else ""))
        heading = label or pages.short(iri)
        describe = urlencode({"query": f"DESCRIBE {node}"})
        body = (f"<h1>{html.escape(heading)}</h1><p class=\"meta\">{html.escape(iri)} · "
                f'<a href="/?{describe}">DESCRIBE</a></p>' + "".join(sections))
        return HTMLResponse(pages.page(heading, body), status_code=200 if total else 404,
                            headers={"Content-Security-Policy": CSP})

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await pool.start()
        try:
            yield
        finally:
            await pool.close()

    app = Starlette(routes=[Route("/sparql", sparql, methods=["GET", "POST"]),
                            Route("/health", health, methods=["GET"]),
                            Route("/entity", entity_page, methods=["GET"]),
                            Route("/", index, methods=["GET"])],
                    lifespan=lifespan)
    app.state.pool = pool
    return app


def serve(directory, host: str = "127.0.0.1", port: int = 7878, timeout: float = 10.0,
          max_rows: int = 10_000, workers: int = 2, memory: bool = False) -> None:
    """Serve the graph in ``directory`` with uvicorn until interrupted (127.0.0.1 by default)."""
    import uvicorn

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(directory, timeout=timeout, max_rows=max_rows, workers=workers, memory=memory)
    log.info("SPARQL endpoint: http://%s:%d/sparql (query page http://%s:%d/), timeout %gs, "
             "max %d rows, %d workers", host, port, host, port, timeout, max_rows, workers)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)


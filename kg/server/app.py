"""The ASGI application: routes, and the middleware every request passes through.

Outermost first: one access-log line per request (refused ones included), CORS, gzip,
bearer-token auth (with ``token``), then the routes ``/sparql`` (the SPARQL 1.1 Protocol,
its service description on a bare ``GET``), ``/health``, ``/`` and ``/entity`` (HTML).
Every query is checked by :func:`kg.sparql.check_query` here, then again in the worker,
which runs it without network access (:mod:`kg.sandbox`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import itertools
import json
import logging
import time
from dataclasses import fields

import pyoxigraph as ox
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from kg.server.options import ServeOptions
from kg.server.pages import CSP, Pages, examples, sample_entity
from kg.server.pool import QueryTimeout, WorkerPool
from kg.server.protocol import (
    CONTENT_TYPES,
    OFFERS,
    HttpError,
    dataset,
    negotiate,
    not_acceptable,
    protocol_params,
    service_description,
    single,
)
from kg.server.worker import QueryJob
from kg.sparql import QueryRefused, QuerySyntaxError, check_query
from kg.sparql.results import BY_KEY, GRAPH, KIND_OF_FORM, SOLUTIONS, serialize_triples
from kg.store import KnowledgeGraph

log = logging.getLogger(__name__)
access_log = logging.getLogger("wikikg.access")

HTML_MAX_ROWS = 1000        # rows shown on the HTML pages (they also respect max_rows)
GONE = 499                  # logged status of a request whose client went away (nginx's)
# Smaller answers fit a packet or two as they are; level 1 keeps SPARQL JSON at ~1/20 of its
# size (it repeats itself) at a fraction of level 9's time.
GZIP_MIN_BYTES = 1400
WATCH_AFTER = 0.05          # seconds before a running query starts watching for a disconnect


class ClientGone(Exception):
    """The client closed the connection before its answer was ready."""


async def _until_disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


class Endpoint:
    """The route handlers over one graph directory and its worker pool."""

    def __init__(self, directory, options: ServeOptions):
        graph = KnowledgeGraph.open(directory)       # GraphError for what is not a graph
        entity = sample_entity(graph)
        self.pages = Pages(graph.scheme, examples(graph.scheme, entity))
        del graph
        self.options = options
        self.pool = WorkerPool(str(directory), options.limits(), memory=options.memory)

    # --- running a query ---------------------------------------------------------------

    async def execute(self, request: Request, query: str, formats: dict, limit: int,
                      graphs=((), ()), base_iri: str | None = None) -> tuple:
        """``(format, body, rows, truncated)``; raises :class:`HttpError` or :class:`ClientGone`."""
        try:
            shape = check_query(query)              # refused before anything reaches a worker
        except QueryRefused as exc:
            raise HttpError(403, str(exc)) from None
        except QuerySyntaxError as exc:
            raise HttpError(400, f"SPARQL syntax error: {exc}") from None
        request.state.form = shape.form
        kind = KIND_OF_FORM.get(shape.form)
        if kind and formats.get(kind) is None:
            raise HttpError(406, not_acceptable(kind))
        job = QueryJob(query, formats, limit, *graphs, base_iri=base_iri)
        reply = await self._run_unless_gone(request, job)
        if reply[0] == "error":
            raise HttpError(reply[1], reply[2])
        _, fmt, body, rows, truncated = reply
        request.state.rows = rows
        return fmt, body, rows, truncated

    async def _run_unless_gone(self, request: Request, job: QueryJob) -> tuple:
        """The pool's answer, or :class:`ClientGone` as soon as the client disconnects (the
        query is cancelled, which kills its worker).  Most queries answer before
        :data:`WATCH_AFTER`; only the others pay for watching the connection."""
        run = asyncio.ensure_future(self.pool.run(job, request.client.host if request.client else "-"))
        gone = None
        try:
            done, _ = await asyncio.wait({run}, timeout=WATCH_AFTER)
            if not done:
                gone = asyncio.ensure_future(_until_disconnected(request))
                await asyncio.wait({run, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if gone is not None:
                gone.cancel()
            if not run.done():
                run.cancel()
                with contextlib.suppress(asyncio.CancelledError, HttpError, QueryTimeout):
                    await run
        if run.cancelled():
            raise ClientGone()
        try:
            return run.result()
        except QueryTimeout:
            raise HttpError(503, f"query timed out after {self.pool.limits.timeout:g}s and was "
                                 "stopped; narrow it down or add a LIMIT") from None

    # --- routes ------------------------------------------------------------------------

    async def sparql(self, request: Request) -> Response:
        try:
            pairs = await protocol_params(request, self.options.body_timeout)
            query = single(pairs, "query")
            if query is None and not pairs and request.method == "GET":
                return self.description(request)
            if query is None or not query.strip():
                raise HttpError(400, "missing 'query' parameter (this endpoint answers SPARQL "
                                     "queries; the HTML query page is at /)")
            accept = request.headers.get("accept")
            formats = {kind: negotiate(accept, kind) for kind in OFFERS}
            graphs = dataset(pairs)
            fmt, body, rows, truncated = await self.execute(
                request, query, formats, self.options.max_rows, graphs, _base_iri(request))
        except HttpError as exc:
            return PlainTextResponse(exc.message + "\n", status_code=exc.status, headers=exc.headers)
        except (ClientGone, ClientDisconnect):
            return _gone(request)
        headers = {"X-Result-Rows": str(rows), "X-Result-Truncated": "true" if truncated else "false",
                   "Vary": "Accept"}
        return Response(body, media_type=CONTENT_TYPES[fmt], headers=headers)

    def description(self, request: Request) -> Response:
        """SPARQL 1.1 Service Description, in the RDF format the client accepts."""
        key = negotiate(request.headers.get("accept"), GRAPH)
        if key is None:
            return PlainTextResponse(not_acceptable(GRAPH) + "\n", status_code=406)
        triples = service_description(_base_iri(request), self.pool.triples)
        body = serialize_triples(triples, BY_KEY[key].rdf)
        return Response(body, media_type=CONTENT_TYPES[key], headers={"Vary": "Accept"})

    async def health(self, request: Request) -> Response:
        status = self.pool.status()
        status["status"] = "ok" if status["workers"] else "down"
        return JSONResponse(status, status_code=200 if status["workers"] else 503)

    async def index(self, request: Request) -> Response:
        query = request.query_params.get("query")
        status, results = 200, ""
        if query and query.strip():
            limit = min(self.options.max_rows, HTML_MAX_ROWS)
            try:
                answer = await self.execute(request, query, {SOLUTIONS: "json", "boolean": "json",
                                                             GRAPH: "nt"}, limit,
                                            base_iri=_base_iri(request))
                results = self.pages.results(*answer, limit, self.options.max_rows)
            except HttpError as exc:
                results, status = self.pages.error(exc.message), exc.status
            except ClientGone:
                return _gone(request)
        shown = query or (self.pages.examples[0][1] if self.pages.examples else "")
        return self._html("wikikg SPARQL", self.pages.form(shown) + results, status)

    async def entity(self, request: Request) -> Response:
        iri = request.query_params.get("iri", "")
        try:
            node = ox.NamedNode(iri)
        except ValueError:
            return self._html("Not an IRI", self.pages.error(f"not an IRI: {iri}"), 400)
        limit = min(self.options.max_rows, HTML_MAX_ROWS)
        label_query, queries = self.pages.entity_queries(node)
        sections, label, total = [], None, 0
        try:
            with contextlib.suppress(HttpError):
                _, body, rows, _ = await self.execute(request, label_query, {SOLUTIONS: "json"}, 1)
                if rows:
                    label = json.loads(body)["results"]["bindings"][0]["label"]["value"]
            for title, query, variables in queries:
                try:
                    _, body, rows, truncated = await self.execute(request, query, {SOLUTIONS: "json"},
                                                                  limit)
                except HttpError as exc:
                    sections.append(f"<h2>{title}</h2>" + self.pages.error(exc.message))
                    continue
                total += rows
                sections.append(self.pages.section(title, variables, body, rows, truncated, limit))
        except ClientGone:
            return _gone(request)
        heading, body = self.pages.entity(iri, label, sections)
        return self._html(heading, body, 200 if total else 404)

    def _html(self, title: str, body: str, status: int) -> HTMLResponse:
        return HTMLResponse(self.pages.page(title, body), status_code=status,
                            headers={"Content-Security-Policy": CSP})

    @contextlib.asynccontextmanager
    async def lifespan(self, app):
        await self.pool.start()
        try:
            yield
        finally:
            await self.pool.close()


def _base_iri(request: Request) -> str:
    """Relative IRIs in a query resolve against the URL it was sent to (as Oxigraph's own
    server does), without its query string."""
    scope = request.scope
    host = request.headers.get("host") or "{}:{}".format(*scope.get("server") or ("localhost", 80))
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}{scope['path']}"


def _gone(request: Request) -> Response:
    request.state.gone = True
    log.info("client %s went away; its query was stopped",
             request.client.host if request.client else "-")
    return Response(status_code=GONE)


# --- middleware (plain ASGI: Starlette's BaseHTTPMiddleware would hide disconnects) -------

class AccessLog:
    """One line per request: client, method, path, status, bytes, milliseconds, query id,
    and for queries their form and row count.  Every response carries ``X-Query-Id``."""

    _ids = itertools.count(1)

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        query_id = f"{next(self._ids):x}"
        state = scope.setdefault("state", {})
        started = time.perf_counter()
        answer = {"status": GONE, "bytes": 0}

        async def send_logged(message):
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"x-query-id", query_id.encode())]}
            elif message["type"] == "http.response.body":
                answer["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            client = scope.get("client") or ("-", 0)
            status = GONE if state.get("gone") else answer["status"]
            extra = "".join(f" {k}={state[k]}" for k in ("form", "rows") if k in state)
            access_log.info('%s "%s %s" %s %d %.1fms id=%s%s', client[0], scope["method"],
                            scope["path"], status, answer["bytes"],
                            1000 * (time.perf_counter() - started), query_id, extra)


class BearerAuth:
    """With a token, every route but ``/health`` needs ``Authorization: Bearer <token>``."""

    def __init__(self, app, token: str):
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] != "/health":
            given = dict(scope.get("headers", [])).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                response = PlainTextResponse("a bearer token is needed (Authorization: Bearer …)\n",
                                             status_code=401,
                                             headers={"WWW-Authenticate": 'Bearer realm="wikikg"'})
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)


async def _options(request: Request) -> Response:
    return Response(status_code=204, headers={"Allow": "GET, POST, OPTIONS"})


def create_app(directory, options: ServeOptions | None = None, **settings) -> Starlette:
    """The ASGI app for the graph in ``directory`` (raises :class:`kg.store.GraphError`);
    ``settings`` override fields of :class:`ServeOptions`."""
    options = options or ServeOptions(**{k: v for k, v in settings.items()
                                         if k in {f.name for f in fields(ServeOptions)}})
    if options.max_rows < 1:
        raise ValueError("max_rows must be >= 1")
    endpoint = Endpoint(directory, options)
    middleware = [Middleware(AccessLog)]
    if options.cors_origins:
        middleware.append(Middleware(
            CORSMiddleware, allow_origins=list(options.cors_origins), allow_methods=["GET", "POST"],
            allow_headers=["Accept", "Content-Type", "Authorization"], max_age=600,
            expose_headers=["X-Result-Rows", "X-Result-Truncated", "X-Query-Id", "Retry-After"]))
    middleware.append(Middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=1))
    if options.token:
        middleware.append(Middleware(BearerAuth, token=options.token))
    app = Starlette(routes=[Route("/sparql", endpoint.sparql, methods=["GET", "POST"]),
                            Route("/sparql", _options, methods=["OPTIONS"]),
                            Route("/health", endpoint.health, methods=["GET"]),
                            Route("/entity", endpoint.entity, methods=["GET"]),
                            Route("/", endpoint.index, methods=["GET"])],
                    middleware=middleware, lifespan=endpoint.lifespan)
    app.state.pool = endpoint.pool
    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(directory, options: ServeOptions | None = None, **settings) -> None:
    """Serve the graph in ``directory`` with uvicorn until interrupted (127.0.0.1 by default)."""
    import uvicorn

    options = options or ServeOptions(**settings)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(directory, options)
    if not is_loopback(options.host):
        log.warning("binding %s: the endpoint is reachable from the network%s", options.host,
                    "" if options.token else "; anyone who reaches it can query the graph "
                    "(set a token with --token or WIKIKG_TOKEN)")
    log.info("SPARQL endpoint: http://%s:%d/sparql (query page http://%s:%d/), timeout %gs, "
             "max %d rows, %d workers", options.host, options.port, options.host, options.port,
             options.timeout, options.max_rows, options.workers)
    uvicorn.run(app, host=options.host, port=options.port, log_level="info", access_log=False,
                timeout_keep_alive=5, limit_concurrency=max(256, 64 * options.workers))

"""The SPARQL 1.1 Protocol: request parameters, content negotiation, the service description.

Negotiation offers the formats of :data:`kg.sparql.results.FORMATS`: SELECT as SPARQL
JSON (default), XML, CSV, TSV; ASK as JSON or XML (CSV/TSV have no boolean form, so an
ASK asking only for them gets 406); CONSTRUCT/DESCRIBE as Turtle (default), N-Triples,
RDF/XML, JSON-LD, N-Quads, TriG.  ``application/json`` and ``application/xml`` are aliases
of the results formats.
"""

from __future__ import annotations

import asyncio
import functools
from urllib.parse import unquote_to_bytes

import pyoxigraph as ox
from starlette.requests import Request

from common.vocab import RDF_TYPE, SD, VOID, XSD_INTEGER
from kg.sparql.results import BOOLEAN, FORMATS, GRAPH, SOLUTIONS, WHAT, formats_for

MAX_BODY = 1 << 20          # bytes of request body accepted
READ_ONLY = "read-only endpoint: SPARQL updates are not allowed"


class HttpError(Exception):
    """An answer other than 200: status, a one-line message, and ``Retry-After`` if busy."""

    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = {"Retry-After": str(retry_after)} if retry_after else {}


def offers(kind: str) -> list[tuple[str, str]]:
    """(media type, format key) in the server's order of preference; aliases last."""
    found = formats_for(kind)
    return [(f.media_type, f.key) for f in found] + [(a, f.key) for f in found for a in f.aliases]


OFFERS = {kind: offers(kind) for kind in (SOLUTIONS, BOOLEAN, GRAPH)}
CONTENT_TYPES = {f.key: f.header for f in FORMATS}


def parse_form(raw: bytes) -> list[tuple[str, str]]:
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


def media_type(header: str) -> tuple[str, dict]:
    main, *params = header.split(";")
    parsed = {}
    for param in params:
        key, _, value = param.partition("=")
        parsed[key.strip().lower()] = value.strip().strip('"')
    return main.strip().lower(), parsed


def _accept_ranges(header: str) -> list[tuple[str, float]]:
    ranges = []
    for part in header.split(","):
        media, params = media_type(part)
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


@functools.lru_cache(maxsize=512)
def negotiate(accept: str | None, kind: str) -> str | None:
    """The format key to answer a ``kind`` result with, or ``None`` (-> 406)."""
    if not accept or not accept.strip():
        return OFFERS[kind][0][1]
    ranges = _accept_ranges(accept)
    chosen, best = None, 0.0
    for media, key in OFFERS[kind]:
        q = _quality(media, ranges)
        if q > best:
            chosen, best = key, q
    return chosen


def not_acceptable(kind: str) -> str:
    types = ", ".join(dict.fromkeys(m for m, _ in OFFERS[kind]))
    return f"not acceptable: a {WHAT[kind]} result can be sent as {types}"


def single(pairs: list[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in pairs if k == name]
    if len(values) > 1:
        raise HttpError(400, f"more than one {name!r} parameter")
    return values[0] if values else None


async def read_body(request: Request, timeout: float) -> bytes:
    """The whole body, at most :data:`MAX_BODY` bytes, within ``timeout`` seconds (a client
    announcing a large ``Content-Length`` and sending little holds no connection for long)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise HttpError(413, f"request body larger than {MAX_BODY} bytes")

    async def collect() -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise HttpError(413, f"request body larger than {MAX_BODY} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        return await asyncio.wait_for(collect(), timeout)
    except TimeoutError:
        raise HttpError(408, f"the request body did not arrive within {timeout:g}s") from None


async def protocol_params(request: Request, body_timeout: float) -> list[tuple[str, str]]:
    """All parameters of a SPARQL protocol request (URL + body), validated."""
    pairs = parse_form(request.scope.get("query_string", b""))
    if request.method == "POST":
        header = request.headers.get("content-type")
        if not header:
            raise HttpError(400, "a POST needs Content-Type application/x-www-form-urlencoded "
                                 "or application/sparql-query")
        media, params = media_type(header)
        if media == "application/sparql-update":
            raise HttpError(403, READ_ONLY)
        if media not in ("application/x-www-form-urlencoded", "application/sparql-query"):
            raise HttpError(400, f"unsupported Content-Type {media!r}: use "
                                 "application/x-www-form-urlencoded or application/sparql-query")
        body = await read_body(request, body_timeout)
        if media == "application/x-www-form-urlencoded":
            pairs += parse_form(body)
        else:
            if params.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
                raise HttpError(400, "application/sparql-query bodies must be UTF-8")
            try:
                pairs.append(("query", body.decode("utf-8")))
            except UnicodeDecodeError:
                raise HttpError(400, "the query body is not valid UTF-8") from None
    if any(k in ("update", "using-graph-uri", "using-named-graph-uri") for k, _ in pairs):
        raise HttpError(403, READ_ONLY)
    return pairs


def dataset(pairs: list[tuple[str, str]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``default-graph-uri`` and ``named-graph-uri`` values, each checked to be an IRI."""
    default = tuple(v for k, v in pairs if k == "default-graph-uri")
    named = tuple(v for k, v in pairs if k == "named-graph-uri")
    for iri in default + named:
        try:
            ox.NamedNode(iri)
        except ValueError:
            raise HttpError(400, f"not an IRI: {iri!r}") from None
    return default, named


def service_description(endpoint: str, triples: int | None) -> list[ox.Triple]:
    """SPARQL 1.1 Service Description of this endpoint (what ``GET /sparql`` answers)."""
    service, data, graph = ox.BlankNode("service"), ox.BlankNode("dataset"), ox.BlankNode("graph")

    def iri(value: str) -> ox.NamedNode:
        return ox.NamedNode(value)

    out = [ox.Triple(service, iri(RDF_TYPE), iri(SD + "Service")),
           ox.Triple(service, iri(SD + "endpoint"), iri(endpoint)),
           ox.Triple(service, iri(SD + "supportedLanguage"), iri(SD + "SPARQL11Query")),
           ox.Triple(service, iri(SD + "defaultDataset"), data),
           ox.Triple(data, iri(RDF_TYPE), iri(SD + "Dataset")),
           ox.Triple(data, iri(SD + "defaultGraph"), graph),
           ox.Triple(graph, iri(RDF_TYPE), iri(SD + "Graph"))]
    out += [ox.Triple(service, iri(SD + "resultFormat"), iri((f.rdf or f.results).iri))
            for f in FORMATS if (f.rdf or f.results) is not None]
    if triples is not None:
        count = ox.Literal(str(triples), datatype=iri(XSD_INTEGER))
        out.append(ox.Triple(graph, iri(VOID + "triples"), count))
    return out

"""``kg.server``: a real uvicorn server over a real graph of the sample dump, real clients."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pyoxigraph as ox
import pytest
import rdflib

from kg.iri import IriScheme
from kg.rdf import build_triples
from kg.server import ServeOptions
from kg.server.app import create_app
from kg.server.protocol import negotiate
from kg.store import GraphError, write_graph

from .conftest import ROOT

TIMEOUT = 2
MAX_ROWS = 50
BASE = IriScheme().base
APOLLO = IriScheme().resource("Apollo 11")
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
FAST = f"SELECT ?p ?o WHERE {{ <{APOLLO}> ?p ?o }} LIMIT 5"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
JSON_RESULTS = "application/sparql-results+json"


# --- fixtures ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def graph_dir(sample_build, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("server") / "graph"
    shutil.copytree(sample_build, out)
    write_graph(out, build_triples(out, IriScheme()))
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _descendants(pid: int, depth: int = 99) -> list[int]:
    """Children, grandchildren, … (``depth`` generations): query workers are forked by a
    forkserver child."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [], [pid]
    for _ in range(depth):
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextlib.contextmanager
def _running(command: list[str], url: str, log_path: Path):
    """Run a server command until the block ends; check it shuts down with its workers."""
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"server exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(url + "/health", trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server did not come up:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        workers = _descendants(process.pid)
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        deadline = time.monotonic() + 5
        while any(map(_alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert not [pid for pid in workers if _alive(pid)], "query workers outlived the server"
    # uvicorn shuts down cleanly on SIGTERM, then re-raises it
    assert process.returncode in (0, -15), log_path.read_text()
    assert "Application shutdown complete" in log_path.read_text()


@pytest.fixture(scope="module")
def server(graph_dir, tmp_path_factory):
    port = _free_port()
    code = (f"from kg.server.app import serve; serve({str(graph_dir)!r}, port={port}, "
            f"timeout={TIMEOUT}, max_rows={MAX_ROWS})")
    with _running([sys.executable, "-c", code], f"http://127.0.0.1:{port}",
                  tmp_path_factory.mktemp("server-log") / "server.log") as url:
        yield url


@pytest.fixture()
def client(server):
    with httpx.Client(base_url=server, trust_env=False, timeout=30) as c:
        yield c


def _health(client, ready, seconds: float = 15) -> dict:
    """/health once ``ready(health)`` holds (the pool counts triples and respawns in the
    background)."""
    deadline = time.monotonic() + seconds
    while True:
        health = client.get("/health").json()
        if ready(health):
            return health
        assert time.monotonic() < deadline, health
        time.sleep(0.05)


def count(client) -> int:
    r = client.get("/sparql", params={"query": COUNT})
    assert r.status_code == 200, r.text
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


def bindings(response) -> list[dict]:
    return [{k: v["value"] for k, v in b.items()} for b in response.json()["results"]["bindings"]]


# --- protocol ---------------------------------------------------------------------------

def test_health_reports_the_live_store(client, graph_dir):
    health = _health(client, lambda h: h["triples"] is not None)
    assert health["status"] == "ok" and health["workers"] == ServeOptions().workers
    assert health["sandboxed"] is True and health["generation"] == 0
    assert health["triples"] == count(client) == json.loads((graph_dir / "kg.json").read_text())["triples"]


@pytest.mark.parametrize("how", ["get", "post-form", "post-direct"])
def test_query_by_get_and_both_posts(client, how):
    query = f"SELECT ?label WHERE {{ <{APOLLO}> <{RDFS_LABEL}> ?label }}"
    if how == "get":
        r = client.get("/sparql", params={"query": query})
    elif how == "post-form":
        r = client.post("/sparql", data={"query": query})
    else:
        r = client.post("/sparql", content=query.encode(),
                        headers={"Content-Type": "application/sparql-query"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == JSON_RESULTS
    assert r.json()["head"]["vars"] == ["label"]
    assert r.json()["results"]["bindings"] == [
        {"label": {"type": "literal", "value": "Apollo 11", "xml:lang": "en"}}]
    assert r.headers["x-result-rows"] == "1" and r.headers["x-result-truncated"] == "false"


@pytest.mark.parametrize("accept, expected", [
    (None, JSON_RESULTS),
    ("*/*", JSON_RESULTS),
    ("application/sparql-results+xml", "application/sparql-results+xml"),
    ("text/csv", "text/csv; charset=utf-8"),
    ("text/tab-separated-values", "text/tab-separated-values; charset=utf-8"),
    ("text/*", "text/csv; charset=utf-8"),
    ("text/csv;q=0.5, application/sparql-results+xml", "application/sparql-results+xml"),
    ("application/sparql-results+json;q=0, */*;q=0.1", "application/sparql-results+xml"),
    ("text/html, application/json;q=0.9", JSON_RESULTS),
    ("image/png", None),
    ("text/turtle", None),
    ("application/sparql-results+json;q=0", None),
])
def test_select_content_negotiation(client, accept, expected):
    query = f"SELECT ?p ?o WHERE {{ <{APOLLO}> ?p ?o }} ORDER BY ?p ?o LIMIT 3"
    headers = {"Accept": accept} if accept else {}
    r = client.get("/sparql", params={"query": query}, headers=headers)
    if expected is None:
        assert r.status_code == 406, r.text
        assert "application/sparql-results+json" in r.text
        return
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == expected
    reference = client.get("/sparql", params={"query": query})
    rows = bindings(reference)
    assert len(rows) == 3
    if expected.startswith("text/csv"):
        lines = r.text.split("\r\n")
        assert lines[0] == "p,o" and lines[1].startswith(rows[0]["p"] + ",")
    elif expected.startswith("text/tab"):
        lines = r.text.splitlines()
        assert lines[0] == "?p\t?o" and lines[1].startswith(f"<{rows[0]['p']}>\t")
    elif "xml" in expected:
        assert r.text.count("<result>") == 3 and f"<uri>{rows[0]['p']}</uri>" in r.text


def test_ask(client):
    query = f"ASK {{ <{APOLLO}> <{RDFS_LABEL}> ?l }}"
    r = client.get("/sparql", params={"query": query})
    assert r.status_code == 200 and r.json() == {"head": {}, "boolean": True}
    r = client.get("/sparql", params={"query": "ASK { <urn:x> <urn:y> <urn:z> }"},
                   headers={"Accept": "application/sparql-results+xml"})
    assert r.status_code == 200 and "<boolean>false</boolean>" in r.text
    # CSV/TSV have no boolean form: documented as 406
    r = client.get("/sparql", params={"query": query}, headers={"Accept": "text/csv"})
    assert r.status_code == 406


@pytest.mark.parametrize("accept, expected, rdf_format", [
    (None, "text/turtle; charset=utf-8", "turtle"),
    ("application/n-triples", "application/n-triples", "nt"),
    ("application/n-triples;q=0.9, text/turtle", "text/turtle; charset=utf-8", "turtle"),
    ("*/*", "text/turtle; charset=utf-8", "turtle"),
    ("application/rdf+xml", "application/rdf+xml", "xml"),
    ("application/ld+json", "application/ld+json", "json-ld"),
    ("application/n-quads", "application/n-quads", "nquads"),
    ("application/trig", "application/trig; charset=utf-8", "trig"),
    ("application/sparql-results+json", None, None),
])
def test_construct_and_describe(client, accept, expected, rdf_format):
    headers = {"Accept": accept} if accept else {}
    query = (f"CONSTRUCT {{ ?s <{RDFS_LABEL}> ?l }} "
             f"WHERE {{ VALUES ?s {{ <{APOLLO}> }} ?s <{RDFS_LABEL}> ?l }}")
    r = client.get("/sparql", params={"query": query}, headers=headers)
    if expected is None:
        assert r.status_code == 406 and "text/turtle" in r.text
        return
    assert r.status_code == 200 and r.headers["content-type"] == expected
    graph = rdflib.Graph().parse(data=r.text, format=rdf_format)
    assert set(graph) == {(rdflib.URIRef(APOLLO), rdflib.RDFS.label, rdflib.Literal("Apollo 11", lang="en"))}
    r = client.get("/sparql", params={"query": f"DESCRIBE <{APOLLO}>"}, headers=headers)
    assert r.status_code == 200 and r.headers["x-result-truncated"] == "true"
    graph = rdflib.Graph().parse(data=r.text, format=rdf_format)
    assert len(graph) == MAX_ROWS and set(graph.subjects()) == {rdflib.URIRef(APOLLO)}


def test_default_graph_uri_selects_the_dataset(client):
    r = client.get("/sparql", params={"query": COUNT, "default-graph-uri": "urn:no-such-graph"})
    assert r.status_code == 200 and bindings(r) == [{"n": "0"}]
    r = client.get("/sparql", params={"query": COUNT, "default-graph-uri": "not an iri"})
    assert r.status_code == 400


def test_bad_requests(client):
    r = client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p }"})
    assert r.status_code == 400 and "error at 1:" in r.text
    r = client.get("/sparql", params=[("query", FAST), ("query", FAST)])
    assert r.status_code == 400 and "more than one" in r.text
    r = client.post("/sparql?query=" + httpx.QueryParams({"q": FAST})["q"], content=FAST.encode(),
                    headers={"Content-Type": "application/sparql-query"})
    assert r.status_code == 400 and "more than one" in r.text
    assert client.get("/sparql", params={"default-graph-uri": "urn:x"}).status_code == 400
    assert client.get("/sparql", params={"query": "  "}).status_code == 400
    assert client.post("/sparql", data={"other": "x"}).status_code == 400
    r = client.post("/sparql", content=FAST.encode())          # no Content-Type
    assert r.status_code == 400 and "Content-Type" in r.text
    r = client.post("/sparql", content=FAST.encode(), headers={"Content-Type": "text/plain"})
    assert r.status_code == 400 and "text/plain" in r.text
    latin1 = 'SELECT * WHERE { ?s ?p "café" }'.encode("latin-1")
    r = client.post("/sparql", content=latin1, headers={"Content-Type": "application/sparql-query"})
    assert r.status_code == 400 and "UTF-8" in r.text
    r = client.post("/sparql", content=b"query=SELECT%20%FF",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and "UTF-8" in r.text
    assert client.get("/sparql?query=SELECT%20%FF").status_code == 400
    for method in ("PUT", "DELETE", "PATCH"):
        assert client.request(method, "/sparql", content=FAST.encode()).status_code == 405
    # UTF-8 outside ASCII is fine, in every way of sending it
    query = 'SELECT ?x WHERE { BIND("café ☕" AS ?x) }'
    r = client.post("/sparql", content=query.encode(),
                    headers={"Content-Type": "application/sparql-query; charset=UTF-8"})
    assert bindings(r) == [{"x": "café ☕"}]
    assert bindings(client.post("/sparql", data={"query": query})) == [{"x": "café ☕"}]


def test_updates_are_refused_and_change_nothing(client):
    before = count(client)
    insert = "INSERT DATA { <urn:a> <urn:b> <urn:c> }"
    delete_all = "DELETE WHERE { ?s ?p ?o }"
    attempts = [
        client.get("/sparql", params={"update": insert}),
        client.post("/sparql", data={"update": delete_all}),
        client.post("/sparql", content=insert.encode(),
                    headers={"Content-Type": "application/sparql-update"}),
        client.get("/sparql", params={"query": insert}),
        client.post("/sparql", data={"query": f"PREFIX ex: <urn:>\n{delete_all}"}),
        client.post("/sparql", content=b"CLEAR ALL", headers={"Content-Type": "application/sparql-query"}),
        client.post("/sparql", content=b"LOAD <http://127.0.0.1:1/x.nt>",
                    headers={"Content-Type": "application/sparql-query"}),
    ]
    for r in attempts:
        assert r.status_code == 403, (r.request.url, r.text)
        assert "read-only" in r.text
    assert count(client) == before
    r = client.get("/sparql", params={"query": "ASK { <urn:a> <urn:b> <urn:c> }"})
    assert r.json()["boolean"] is False


def test_service_is_refused_before_anything_is_fetched(client):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.3)
        remote = f"http://127.0.0.1:{listener.getsockname()[1]}/sparql"
        for query in (f"SELECT * WHERE {{ SERVICE <{remote}> {{ ?s ?p ?o }} }}",
                      f"SELECT * WHERE {{ ?x ?y ?z . service silent <{remote}> {{ ?s ?p ?o }} }}"):
            for r in (client.get("/sparql", params={"query": query}),
                      client.post("/sparql", content=query.encode(),
                                  headers={"Content-Type": "application/sparql-query"}),
                      client.get("/", params={"query": query})):
                assert r.status_code == 403 and "SERVICE" in r.text
        with pytest.raises(TimeoutError):
            listener.accept()
    # the word inside a literal is harmless
    r = client.get("/sparql", params={"query": 'SELECT ?x WHERE { BIND("SERVICE" AS ?x) }'})
    assert bindings(r) == [{"x": "SERVICE"}]


def test_results_past_max_rows_are_cut_and_say_so(client):
    query = "SELECT ?s ?o WHERE { ?s ?p ?o }"
    r = client.get("/sparql", params={"query": query})
    assert r.status_code == 200
    assert r.headers["x-result-truncated"] == "true" and r.headers["x-result-rows"] == str(MAX_ROWS)
    assert r.json()["truncated"] is True and len(r.json()["results"]["bindings"]) == MAX_ROWS
    r = client.get("/sparql", params={"query": query}, headers={"Accept": "text/csv"})
    assert r.headers["x-result-truncated"] == "true" and len(r.text.split("\r\n")) == MAX_ROWS + 2
    r = client.get("/sparql", params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"},
                   headers={"Accept": "application/n-triples"})
    assert r.headers["x-result-truncated"] == "true" and len(r.text.splitlines()) == MAX_ROWS
    r = client.get("/sparql", params={"query": query + f" LIMIT {MAX_ROWS}"})
    assert r.headers["x-result-truncated"] == "false" and "truncated" not in r.json()


def test_a_slow_query_times_out_and_does_not_block_fast_ones(server, client):
    slow: dict = {}

    def run_slow():
        with httpx.Client(base_url=server, trust_env=False, timeout=30) as c:
            started = time.perf_counter()
            slow["response"] = c.get("/sparql", params={"query": SLOW})
            slow["seconds"] = time.perf_counter() - started

    thread = threading.Thread(target=run_slow)
    thread.start()
    time.sleep(0.3)
    fast = []
    for _ in range(5):
        started = time.perf_counter()
        r = client.get("/sparql", params={"query": FAST})
        fast.append(time.perf_counter() - started)
        assert r.status_code == 200 and len(r.json()["results"]["bindings"]) == 5
    assert thread.is_alive(), "the slow query should still be running"
    assert max(fast) < 1.0
    thread.join(TIMEOUT + 10)
    assert slow["response"].status_code == 503 and "timed out" in slow["response"].text
    assert TIMEOUT - 0.1 < slow["seconds"] < TIMEOUT + 1.5
    r = client.get("/sparql", params={"query": FAST})        # right after: still served
    assert r.status_code == 200
    _health(client, lambda h: h["workers"] == ServeOptions().workers)  # the killed worker is replaced
    assert count(client) > 0


# --- other clients ----------------------------------------------------------------------

def test_sparqlwrapper(server):
    from SPARQLWrapper import JSON, JSONLD, POST, TURTLE, XML, SPARQLWrapper

    endpoint = SPARQLWrapper(server + "/sparql")
    endpoint.setQuery(f"SELECT ?label WHERE {{ <{APOLLO}> <{RDFS_LABEL}> ?label }}")
    endpoint.setReturnFormat(JSON)
    result = endpoint.query().convert()
    assert [b["label"]["value"] for b in result["results"]["bindings"]] == ["Apollo 11"]
    endpoint.setMethod(POST)
    assert endpoint.query().convert() == result
    endpoint.setReturnFormat(XML)
    document = endpoint.query().convert()
    assert [n.firstChild.data for n in document.getElementsByTagName("literal")] == ["Apollo 11"]
    endpoint.setReturnFormat(JSON)
    endpoint.setQuery(f"ASK {{ <{APOLLO}> ?p ?o }}")
    assert endpoint.query().convert()["boolean"] is True
    endpoint.setQuery(f"CONSTRUCT WHERE {{ <{APOLLO}> <{RDFS_LABEL}> ?label }}")
    endpoint.setReturnFormat(TURTLE)
    graph = rdflib.Graph().parse(data=endpoint.query().convert(), format="turtle")
    assert (rdflib.URIRef(APOLLO), rdflib.RDFS.label, rdflib.Literal("Apollo 11", lang="en")) in graph
    endpoint.setReturnFormat(XML)                      # its default for graphs: RDF/XML
    graph = endpoint.query().convert()
    assert (rdflib.URIRef(APOLLO), rdflib.RDFS.label, rdflib.Literal("Apollo 11", lang="en")) in graph
    endpoint.setReturnFormat(JSONLD)
    graph = endpoint.query().convert()
    assert (rdflib.URIRef(APOLLO), rdflib.RDFS.label, rdflib.Literal("Apollo 11", lang="en")) in graph
    endpoint.setQuery("SELECT ?x WHERE { BIND(<relative> AS ?x) }")
    endpoint.setReturnFormat(JSON)
    assert endpoint.query().convert()["results"]["bindings"][0]["x"]["value"] == server + "/relative"
    endpoint.setQuery("INSERT DATA { <urn:a> <urn:b> <urn:c> }")  # sent as update=
    with pytest.raises(Exception, match="403"):
        endpoint.query()


def test_rdflib_sparqlstore(server, client):
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    graph = rdflib.Graph(store=SPARQLStore(server + "/sparql"))
    rows = list(graph.query(f"SELECT ?label WHERE {{ <{APOLLO}> <{RDFS_LABEL}> ?label }}"))
    assert [str(row[0]) for row in rows] == ["Apollo 11"]
    assert graph.query(f"ASK {{ <{APOLLO}> ?p ?o }}").askAnswer is True
    labels = list(graph.triples((rdflib.URIRef(APOLLO), rdflib.RDFS.label, None)))
    assert labels == [(rdflib.URIRef(APOLLO), rdflib.RDFS.label, rdflib.Literal("Apollo 11", lang="en"))]
    json_graph = rdflib.Graph(store=SPARQLStore(server + "/sparql", returnFormat="json", method="POST"))
    query = f"SELECT ?p (COUNT(*) AS ?n) WHERE {{ <{APOLLO}> ?p ?o }} GROUP BY ?p ORDER BY ?p"
    rows = [(str(p), int(n)) for p, n in json_graph.query(query)]
    described = graph.query(f"DESCRIBE <{APOLLO}>").graph           # SPARQLStore asks for RDF/XML
    assert len(described) == MAX_ROWS and set(described.subjects()) == {rdflib.URIRef(APOLLO)}
    expected = [(b["p"], int(b["n"])) for b in bindings(client.get("/sparql", params={"query": query}))]
    assert rows == expected and len(rows) > 5


# --- HTML -------------------------------------------------------------------------------

class Page(HTMLParser):
    """Tables (rows of cell texts and of cell links), links, textareas of an HTML page."""

    def __init__(self, text: str):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.cell_links: list[list[list[str]]] = []
        self.links: list[str] = []
        self.textareas: list[str] = []
        self.headings: list[str] = []
        self.external: list[str] = []
        self._cell = self._textarea = self._heading = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("src", "href"):
            if attrs.get(key, "").startswith(("http:", "https:", "//")):
                self.external.append(attrs[key])
        if tag == "table":
            self.tables.append([])
            self.cell_links.append([])
        elif tag == "tr":
            self.tables[-1].append([])
            self.cell_links[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "a":
            self.links.append(attrs.get("href", ""))
            if self._cell is not None:
                self.cell_links[-1][-1].append(attrs.get("href", ""))
        elif tag == "textarea":
            self._textarea = []
        elif tag == "h1":
            self._heading = []
        elif tag == "link":
            self.external.append(attrs.get("href", ""))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "textarea":
            self.textareas.append("".join(self._textarea))
            self._textarea = None
        elif tag == "h1" and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._textarea is not None:
            self._textarea.append(data)
        if self._heading is not None:
            self._heading.append(data)


CHROMIUM = Path("/usr/bin/chromium")


def rendered(client, url: str, tmp_path) -> str:
    """The page's DOM as a browser builds it (headless Chromium when there is one)."""
    if not CHROMIUM.exists():
        return client.get(url).text
    out = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={tmp_path / 'chromium'}", "--dump-dom", str(client.base_url.join(url))],
        capture_output=True, text=True, timeout=60, check=True)
    return out.stdout


def entity_links(links: list[str]) -> list[str]:
    return [parse_qs(urlsplit(h).query)["iri"][0] for h in links if h.startswith("/entity?iri=")]


def test_query_page_renders_results_as_a_table(client, tmp_path):
    home = client.get("/")
    assert home.status_code == 200 and home.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in home.headers["content-security-policy"]
    page = Page(home.text)
    assert page.textareas and "SELECT" in page.textareas[0] and not page.external
    examples = [h for h in page.links if h.startswith("/?query=")]
    assert len(examples) >= 5 and any(APOLLO in parse_qs(urlsplit(h).query)["query"][0] for h in examples)
    for href in examples:                     # every example runs
        assert client.get(href).status_code == 200, href

    query = (f"SELECT ?entity ?label WHERE {{ ?entity <{RDFS_LABEL}> ?label "
             f'FILTER(STRSTARTS(STR(?entity), "{BASE}resource/")) }} ORDER BY ?label LIMIT 5')
    url = "/?" + str(httpx.QueryParams({"query": query}))
    page = Page(rendered(client, url, tmp_path))
    assert page.textareas == [query]
    (table,) = page.tables
    expected = bindings(client.get("/sparql", params={"query": query}))
    assert table[0] == ["entity", "label"] and len(table) == 1 + len(expected) == 6
    for row, links, want in zip(table[1:], page.cell_links[0][1:], expected):
        assert row[1] == f"{want['label']} @en"
        assert entity_links(links) == [want["entity"]]
        assert row[0] == "resource:" + want["entity"][len(BASE + "resource/"):]


def test_entity_page_lists_triples_both_ways(client):
    page = Page(client.get("/entity", params={"iri": APOLLO}).text)
    as_subject, as_object = page.tables
    assert as_subject[0] == ["predicate", "object"] and as_object[0] == ["subject", "predicate"]
    assert page.headings[-1] == "Apollo 11"             # its rdfs:label
    outgoing = bindings(client.get("/sparql", params={
        "query": f"SELECT ?p ?o WHERE {{ <{APOLLO}> ?p ?o }} ORDER BY ?p ?o"}))
    assert [row[0].split(":", 1)[1] for row in as_subject[1:]] == [
        b["p"].rsplit("/", 1)[1].rsplit("#", 1)[-1] for b in outgoing[:MAX_ROWS]]
    incoming = bindings(client.get("/sparql", params={"query": f"SELECT ?s WHERE {{ ?s ?p <{APOLLO}> }}"}))
    assert len(as_subject) - 1 == min(len(outgoing), MAX_ROWS)
    assert len(as_object) - 1 == min(len(incoming), MAX_ROWS) > 0
    linked = set(entity_links(sum(page.cell_links[1], [])))
    assert {b["s"] for b in incoming} & linked
    # the links lead on to the pages of those entities, which link back
    other = next(iri for iri in entity_links(sum(page.cell_links[1], [])) if "/resource/" in iri)
    back = client.get("/entity", params={"iri": other})
    assert back.status_code == 200 and APOLLO in entity_links(Page(back.text).links)
    assert client.get("/entity", params={"iri": "urn:nothing:here"}).status_code == 404
    assert client.get("/entity", params={"iri": "not an iri>"}).status_code == 400


def test_query_page_escapes_and_reports_errors(client):
    r = client.get("/", params={"query": 'SELECT ?x WHERE { BIND("<script>alert(1)</script>" AS ?x) }'})
    assert r.status_code == 200
    assert "<script>alert" not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    r = client.get("/", params={"query": "SELECT * WHERE { ?s ?p }"})
    assert r.status_code == 400 and "error at 1:" in r.text
    r = client.get("/", params={"query": f"ASK {{ <{APOLLO}> ?p ?o }}"})
    assert r.status_code == 200 and "<strong>true</strong>" in r.text
    r = client.get("/", params={"query": f"DESCRIBE <{APOLLO}>"})
    assert Page(r.text).tables[0][0] == ["subject", "predicate", "object"]


# --- without a server -------------------------------------------------------------------

def test_create_app_refuses_what_is_not_a_graph(sample_build, tmp_path):
    with pytest.raises(GraphError, match="no such graph directory"):
        create_app(tmp_path / "missing")
    with pytest.raises(GraphError, match="kg.json"):
        create_app(sample_build)                      # an extraction build, no graph yet
    other = tmp_path / "other"
    other.mkdir()
    (other / "kg.json").write_text(json.dumps({"format": "something-else/9"}))
    with pytest.raises(GraphError, match="format"):
        create_app(other)


def test_negotiation_rules():
    assert negotiate(None, "solutions") == "json" and negotiate("", "graph") == "ttl"
    assert negotiate("text/*;q=0.3, application/*;q=0.2", "solutions") == "csv"
    assert negotiate("text/tab-separated-values, text/csv;q=0.99", "solutions") == "tsv"
    assert negotiate("*/*;q=0.1, text/turtle;q=0", "graph") == "nt"
    assert negotiate("application/sparql-results+xml;q=0.5, application/json", "boolean") == "json"
    assert negotiate("text/csv", "boolean") is None
    assert negotiate("text/plain; q=bogus", "solutions") is None


def test_server_binds_loopback_by_default():
    import inspect

    from kg.server.app import serve

    assert inspect.signature(serve) and ServeOptions().host == "127.0.0.1"


def test_memory_workers_answer_like_the_on_disk_store(graph_dir, server, tmp_path):
    """``wikikg serve --memory``: same answers as the RocksDB store, named graphs included."""
    copy = tmp_path / "graph"
    shutil.copytree(graph_dir, copy)
    named = BASE + "graph/extra"
    store = ox.Store(str(copy / "store"))
    store.add(ox.Quad(ox.NamedNode(APOLLO), ox.NamedNode(RDFS_LABEL), ox.Literal("extra"),
                      ox.NamedNode(named)))
    del store
    join = (f"SELECT ?p ?o ?q WHERE {{ <{APOLLO}> ?p ?o . ?o <{RDFS_LABEL}> ?q }} "
            "ORDER BY ?p ?o ?q")
    port = _free_port()
    command = [sys.executable, "-m", "wikikg.cli", "serve", str(copy), "--memory", "--port",
               str(port), "--workers", "1"]
    with _running(command, f"http://127.0.0.1:{port}", tmp_path / "memory.log") as url, \
            httpx.Client(base_url=url, trust_env=False, timeout=30) as memory:
        disk = httpx.Client(base_url=server, trust_env=False, timeout=30)
        in_memory, on_disk = memory.get("/sparql", params={"query": join}), disk.get(
            "/sparql", params={"query": join})
        assert in_memory.status_code == on_disk.status_code == 200
        assert bindings(in_memory) == bindings(on_disk) and len(bindings(on_disk)) >= 2
        assert count(memory) == count(disk)
        joins = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s ?p ?o . ?o <{RDFS_LABEL}> ?q }}"
        answers = [c.get("/sparql", params={"query": joins}) for c in (memory, disk)]
        assert bindings(answers[0]) == bindings(answers[1])
        assert int(bindings(answers[0])[0]["n"]) > 100
        extra = memory.get("/sparql", params={
            "query": f"SELECT ?o WHERE {{ GRAPH <{named}> {{ ?s ?p ?o }} }}"})
        assert bindings(extra) == [{"o": "extra"}]
    assert "(in memory)" in (tmp_path / "memory.log").read_text()

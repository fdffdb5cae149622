"""What a query can do to the machine: SERVICE in any spelling, deep nesting, the sandbox.

A real listener on 127.0.0.1 stands in for the URL an attacker would make the store
fetch; every test that says "no connection" also shows, with the same listener, that the
unguarded store *does* connect, so the test can fail.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pyoxigraph as ox
import pytest

from kg import KnowledgeGraph, QueryRefused, QuerySyntaxError
from kg.sparql import MAX_DEPTH, check_query

from .conftest import ROOT


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/sparql"
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.socket.accept()
                self.connections += 1
                connection.close()

    def connected_during(self, action) -> bool:
        before = self.connections
        with contextlib.suppress(Exception):
            action()
        time.sleep(0.05)
        return self.connections > before


@pytest.fixture()
def listener():
    server = Listener()
    yield server
    server.socket.close()


def _run_unchecked(store: ox.Store, query: str):
    result = store.query(query)
    return bool(result) if isinstance(result, ox.QueryBoolean) else list(result)


def spellings(url: str) -> list[str]:
    """SERVICE clauses after the tokens that fooled the old regular expression, and other
    ways a URL can appear in a query."""
    before = ["", "?s ex:a\\# ?o .", "?s ex:a\\' ?o .", "?s ex:a\\#b ?o . ?s ex:\\'c ?o .",
              "?s ex:a%23 ?o .", "?s <urn:a#b> ?o .", '?s ?p "a#\\"" .', "?s ?p '''a'#''' .",
              "FILTER(1<2)", "FILTER(?a<?b&&?c>?d)", "# comment\n"]
    clauses = [f"SERVICE <{url}> {{ ?a ?b ?c }}", f"service SILENT <{url}>{{}}",
               f"SeRvIcE<{url}>{{?a ?b ?c}}"]
    queries = [f"PREFIX ex: <urn:> SELECT * WHERE {{ {b} {c} }} #'\"" for b in before for c in clauses]
    queries += [f"PREFIX ex: <urn:> ASK {{ {b} {c} }}" for b in before[:4] for c in clauses[:1]]
    queries += [f"SELECT * FROM <{url}> WHERE {{ ?s ?p ?o }}",
                f"SELECT * FROM NAMED <{url}> WHERE {{ GRAPH <{url}> {{ ?s ?p ?o }} }}",
                f"DESCRIBE <{url}>", f"SELECT * WHERE {{ \\u0053ERVICE <{url}> {{ ?s ?p ?o }} }}"]
    return queries


def test_service_in_any_spelling_is_refused_before_it_can_connect(listener):
    store = ox.Store()
    queries = spellings(listener.url)
    fetching = [q for q in queries if listener.connected_during(lambda q=q: _run_unchecked(store, q))]
    assert len(fetching) >= 15, "the unguarded store should fetch many of these"
    for query in fetching:                                   # each one that would connect ...
        with pytest.raises(QueryRefused, match="SERVICE"):   # ... is refused by the check
            check_query(query)
    escaped = [q for q in fetching if "\\#" in q or "\\'" in q]
    assert escaped, "the PN_LOCAL_ESC bypass of the old check is among the fetching queries"
    graph_check_passed = [q for q in queries if q not in fetching]
    for query in graph_check_passed:                         # FROM / DESCRIBE of a URL fetch nothing
        assert not listener.connected_during(lambda q=query: _run_unchecked(store, q)), query


def test_harmless_uses_of_the_word_are_not_refused():
    for query in ('SELECT ?x WHERE { BIND("SERVICE" AS ?x) }',
                  "SELECT ?x WHERE { BIND('''it's a SERVICE''' AS ?x) }",
                  "SELECT ?x WHERE { <http://a.example/SERVICE> ?p ?x }",
                  "SELECT ?service WHERE { ?service ?p ?x }",
                  "PREFIX service: <urn:> SELECT ?x WHERE { service:a service:SERVICE ?x }",
                  "SELECT ?x WHERE { ?s ?p ?x } # SERVICE <http://a.example/>",
                  "PREFIX ex: <urn:> SELECT ?x WHERE { ?s ex:SERVICE\\#x ?x }"):
        assert check_query(query).form == "SELECT", query
        assert not check_query(query).service


@pytest.mark.parametrize("query", [
    "SELECT * WHERE " + "{" * 10_000 + "?s ?p ?o" + "}" * 10_000,
    "SELECT * WHERE { FILTER(" + "(" * 10_000 + "1" + ")" * 10_000 + ") }",
    "SELECT * WHERE { FILTER(" + "!" * 10_000 + "true) }",
    "SELECT * WHERE { FILTER(" + "+".join(["1"] * 10_000) + ") }",
    "SELECT * WHERE { " + " ".join(f"BIND({i} AS ?b{i})" for i in range(5_000)) + " }",
    "SELECT * WHERE { " + " UNION ".join(["{ ?s ?p ?o }"] * 10_000) + " }",
    "SELECT * WHERE { " + "{ SELECT * WHERE " * 5_000 + "{ ?s ?p ?o }" + "}" * 5_000 + " }",
])
def test_deep_nesting_is_refused_before_the_parser_recurses(query):
    started = time.perf_counter()
    with pytest.raises(QuerySyntaxError, match=f"more than {MAX_DEPTH} levels"):
        check_query(query)
    assert time.perf_counter() - started < 0.1


def test_what_stays_under_the_depth_limit_runs(graph):
    """The limit leaves room for real queries: wide VALUES, long IN lists, 200-deep groups."""
    store = ox.Store()
    for query in ("SELECT * WHERE { VALUES ?x { " + " ".join(f"<urn:x{i}>" for i in range(20_000)) + " } }",
                  "SELECT * WHERE { ?s ?p ?o FILTER(?o IN (" + ", ".join(map(str, range(5_000))) + ")) }",
                  "SELECT * WHERE " + "{" * 200 + "?s ?p ?o" + "}" * 200,
                  "SELECT * WHERE { FILTER(" + "+".join(["1"] * 400) + " > 0) }"):
        check_query(query)
        _run_unchecked(store, query)
    values = "SELECT * WHERE { VALUES ?x { " + " ".join(map(str, range(5_000))) + " } }"
    assert len(graph.query(values)) == 5_000


@pytest.fixture(scope="module")
def graph(sample_graph):
    return KnowledgeGraph.open(sample_graph)


def test_the_python_api_refuses_what_the_endpoint_refuses(graph, listener):
    for query in spellings(listener.url)[:12]:
        with pytest.raises(QueryRefused):
            graph.query(query)
    with pytest.raises(QuerySyntaxError, match="nested too deeply"):
        graph.query("ASK " + "{" * 10_000 + "}" * 10_000)
    # relative IRIs resolve against base_iri
    (row,) = graph.query("SELECT ?x WHERE { BIND(<resource/Apollo_11> AS ?x) }",
                         base_iri=graph.scheme.base)
    assert row["x"] == graph.scheme.resource("Apollo 11")


SANDBOX_PROBE = textwrap.dedent("""
    import sys
    import pyoxigraph as ox
    from kg.sandbox import deny_network, network_denied
    sandboxed = sys.argv[2] == "sandboxed"
    if sandboxed:
        assert deny_network() is None and network_denied()
    store = ox.Store()
    try:  # deliberately unchecked: straight to the store
        list(store.query("SELECT * WHERE { SERVICE <" + sys.argv[1] + "> { ?s ?p ?o } }"))
    except OSError as exc:
        print("refused:", exc)
""")


def test_a_sandboxed_process_cannot_connect_even_without_the_check(listener):
    def probe(mode: str) -> str:
        return subprocess.run([sys.executable, "-c", SANDBOX_PROBE, listener.url, mode], cwd=ROOT,
                              capture_output=True, text=True, timeout=60, check=True).stdout

    assert listener.connected_during(lambda: probe("open"))           # control: it does fetch
    output = []
    assert not listener.connected_during(lambda: output.append(probe("sandboxed")))
    assert "Permission denied" in output[0]


CLI_PROBE = textwrap.dedent("""
    import sys
    import kg.store
    from kg import KnowledgeGraph
    from wikikg.query import run_sandboxed
    kg.store.run_query = lambda store, query, **options: store.query(query, **options)  # no check
    graph = KnowledgeGraph.open(sys.argv[1])
    try:
        run_sandboxed(graph, "SELECT * WHERE { SERVICE <" + sys.argv[2] + "> { ?s ?p ?o } }", "json", None)
    except OSError as exc:
        print("refused:", exc)
""")


def test_wikikg_query_runs_without_network(sample_graph, listener):
    """The CLI's query path loses the network before it runs anything, so a SERVICE query
    that got past the check (here: with the check removed) still cannot connect."""
    out = []
    assert not listener.connected_during(lambda: out.append(subprocess.run(
        [sys.executable, "-c", CLI_PROBE, str(sample_graph), listener.url], cwd=ROOT,
        capture_output=True, text=True, timeout=120, check=True).stdout))
    assert "Permission denied" in out[0]


def test_wikikg_query_refusals_exit_2_and_relative_iris_use_the_graph_base(sample_graph, listener):
    cli = [sys.executable, "-m", "wikikg.cli", "-q", "query", str(sample_graph)]
    deep = "SELECT * WHERE " + "{" * 10_000 + "}" * 10_000
    for query, message in ((deep, f"more than {MAX_DEPTH} levels"),
                           (spellings(listener.url)[1], "SERVICE")):
        out = subprocess.run(cli + ["-"], input=query, capture_output=True, text=True, cwd=ROOT)
        assert out.returncode == 2 and message in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
    assert listener.connections == 0
    out = subprocess.run(cli + ["SELECT ?l WHERE { <resource/Apollo_11> rdfs:label ?l }".replace(
        "rdfs:label", "<http://www.w3.org/2000/01/rdf-schema#label>"), "--format", "csv"],
        capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.splitlines() == ["l", "Apollo 11"], out.stderr

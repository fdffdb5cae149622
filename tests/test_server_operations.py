"""``kg.server`` as an operator and an attacker see it: the sandboxed workers, fair
scheduling, cancellation, body timeouts, gzip, CORS, auth, the access log, reloads.

Real servers (uvicorn in a subprocess) over a real graph of the sample dump; clients on
other loopback addresses (127.0.0.2, …) are other clients to the server's per-client rules.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import shutil
import socket
import sys
import time
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
import rdflib

from kg.sandbox import network_denied
from kg.server import ServeOptions
from kg.server.worker import QueryJob, worker_main
from kg.sparql import MAX_DEPTH

from .test_server import APOLLO, COUNT, FAST, RDFS_LABEL, SLOW, _descendants, _free_port, _health, _running
from .test_sparql_safety import Listener

pytestmark = pytest.mark.slow  # starts several servers

ROWS = "SELECT ?s ?p ?o WHERE { ?s ?p ?o }"


def _client(url: str, address: str = "127.0.0.1", **options) -> httpx.Client:
    return httpx.Client(base_url=url, trust_env=False, timeout=30,
                        transport=httpx.HTTPTransport(local_address=address), **options)


def _count(client) -> int:
    r = client.get("/sparql", params={"query": COUNT})
    assert r.status_code == 200, r.text
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


@pytest.fixture(scope="module")
def graph_dir(sample_build, tmp_path_factory) -> Path:
    from kg.iri import IriScheme
    from kg.rdf import build_triples
    from kg.store import write_graph

    out = tmp_path_factory.mktemp("ops") / "graph"
    shutil.copytree(sample_build, out)
    write_graph(out, build_triples(out, IriScheme()))
    return out


def _serve(graph_dir: Path, log: Path, **settings):
    """``_running`` over ``kg.server.app.serve(graph_dir, **settings)`` in a subprocess."""
    port = _free_port()
    arguments = ", ".join(f"{k}={v!r}" for k, v in settings.items())
    code = ("from kg.server.app import serve; from kg.server.options import PoolLimits; "
            f"serve({str(graph_dir)!r}, port={port}, {arguments})")
    return _running([sys.executable, "-c", code], f"http://127.0.0.1:{port}", log)


# --- the workers cannot reach the network ------------------------------------------------

def _worker_without_sandbox(directory: str, conn) -> None:
    """The control: a query worker whose sandbox is switched off."""
    import kg.server.worker as worker

    worker.deny_network = lambda: None
    worker.worker_main(directory, False, conn)


def _ask_worker_for_service(graph_dir: Path, url: str, sandbox: bool) -> tuple:
    """Start a query worker (spawned, as the pool would) and send it a SERVICE query."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = (context.Process(target=worker_main, args=(str(graph_dir), False, child)) if sandbox
               else context.Process(target=_worker_without_sandbox, args=(str(graph_dir), child)))
    process.start()
    try:
        assert parent.recv()[0] == "ready"
        parent.send(QueryJob(f"SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
                             {"solutions": "json"}, 10))
        return parent.recv()
    finally:
        parent.send(None)
        process.join(10)


def test_a_worker_cannot_connect_even_when_sent_a_service_query(graph_dir):
    """Workers run what the endpoint sends (it checks first): a SERVICE query sent to one
    straight down its pipe still cannot connect, while the same worker without its
    sandbox does."""
    listener = Listener()
    replies = []
    assert listener.connected_during(lambda: replies.append(
        _ask_worker_for_service(graph_dir, listener.url, sandbox=False)))        # control
    assert not listener.connected_during(lambda: replies.append(
        _ask_worker_for_service(graph_dir, listener.url, sandbox=True)))
    assert replies[-1][0] == "error" and "Permission denied" in replies[-1][2]


@pytest.fixture(scope="module")
def server(graph_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("ops-log") / "server.log"
    with _serve(graph_dir, log, timeout=20.0, max_rows=50, body_timeout=1.0) as url:
        yield url, log
    text = log.read_text()
    assert "Traceback" not in text, text


def test_every_query_worker_is_sandboxed(server):
    url, _ = server
    with _client(url) as client:
        assert _health(client, lambda h: h["workers"] == 4)["sandboxed"] is True
    server_pid = next(int(p.parent.name) for p in Path("/proc").glob("[0-9]*/cmdline")
                      if f"port={url.rsplit(':', 1)[1]}" in p.read_text(errors="replace"))
    helpers = set(_descendants(server_pid, depth=1))        # the forkserver, a resource tracker
    workers = [pid for pid in _descendants(server_pid) if pid not in helpers]
    assert len(workers) == 4 and all(network_denied(pid) for pid in workers)
    assert not network_denied(server_pid)


# --- depth, protocol details ----------------------------------------------------------------

def test_deep_nesting_gets_400_fast_and_the_server_lives(server):
    url, _ = server
    deep = "SELECT * WHERE " + "{" * 10_000 + "?s ?p ?o" + "}" * 10_000
    with _client(url) as client:
        for send in (lambda: client.post("/sparql", content=deep.encode(),
                                         headers={"Content-Type": "application/sparql-query"}),
                     lambda: client.post("/sparql", data={"query": deep})):
            started = time.perf_counter()
            r = send()
            assert time.perf_counter() - started < 0.1
            assert r.status_code == 400 and f"more than {MAX_DEPTH} levels" in r.text
        assert _health(client, lambda h: h["workers"] == 4)["status"] == "ok"
        assert _count(client) > 0


def test_relative_iris_resolve_against_the_request_url(server):
    url, _ = server
    with _client(url) as client:
        r = client.get("/sparql", params={"query": "SELECT ?x WHERE { BIND(<other/page> AS ?x) }"})
        assert r.json()["results"]["bindings"] == [{"x": {"type": "uri", "value": url + "/other/page"}}]


def test_service_description_on_a_bare_get(server):
    url, _ = server
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    with _client(url) as client:
        for accept, fmt in ((None, "turtle"), ("application/ld+json", "json-ld"),
                            ("application/rdf+xml", "xml")):
            r = client.get("/sparql", headers={"Accept": accept} if accept else {})
            assert r.status_code == 200, r.text
            graph = rdflib.Graph().parse(data=r.text, format=fmt)
            (service,) = graph.subjects(rdflib.RDF.type, sd.Service)
            assert graph.value(service, sd.endpoint) == rdflib.URIRef(url + "/sparql")
            formats = set(graph.objects(service, sd.resultFormat))
            assert rdflib.URIRef("http://www.w3.org/ns/formats/SPARQL_Results_JSON") in formats
            assert rdflib.URIRef("http://www.w3.org/ns/formats/RDF_XML") in formats
            assert (None, sd.supportedLanguage, sd.SPARQL11Query) in graph
            assert sd.BasicFederatedQuery not in set(graph.objects(service, sd.feature))


def test_gzip_when_asked(server):
    url, _ = server
    with _client(url) as client:
        zipped = client.get("/sparql", params={"query": ROWS}, headers={"Accept-Encoding": "gzip"})
        plain = client.get("/sparql", params={"query": ROWS}, headers={"Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert zipped.json() == plain.json() and len(zipped.json()["results"]["bindings"]) == 50
    assert int(zipped.headers["content-length"]) < len(plain.content) / 3


def test_cors_for_browser_clients(server):
    url, _ = server
    origin = "https://yasgui.example"
    with _client(url) as client:
        r = client.get("/sparql", params={"query": FAST}, headers={"Origin": origin})
        assert r.headers["access-control-allow-origin"] == "*"
        assert "x-result-rows" in r.headers["access-control-expose-headers"].lower()
        preflight = client.options("/sparql", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization"})
        assert preflight.status_code == 200
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert client.options("/sparql").status_code == 204


def test_one_access_log_line_per_request_refusals_included(server):
    url, log = server
    with _client(url) as client:
        answers = [client.get("/sparql", params={"query": FAST}),
                   client.get("/sparql", params={"query": "SELECT * WHERE { SERVICE <http://x/> {} }"}),
                   client.get("/sparql", params={"query": "SELECT * WHERE { ?s }"}),
                   client.get("/nowhere")]
    ids = [r.headers["x-query-id"] for r in answers]
    time.sleep(0.2)
    lines = [line for line in log.read_text().splitlines() if "wikikg.access" in line]
    for answer, query_id in zip(answers, ids):
        (line,) = [line for line in lines if line.endswith(f"id={query_id}") or f"id={query_id} " in line]
        assert f'"GET {answer.request.url.path}" {answer.status_code} ' in line and "127.0.0.1" in line
    assert [r.status_code for r in answers] == [200, 403, 400, 404]
    assert "form=SELECT rows=5" in next(line for line in lines if f"id={ids[0]}" in line)


# --- slow, stuck and vanishing clients --------------------------------------------------------

def _raw_request(url: str, head: str, body: bytes = b"") -> socket.socket:
    host, port = url.rsplit("/", 1)[1].split(":")
    conn = socket.create_connection((host, int(port)))
    conn.sendall(head.encode() + b"\r\n" + body)
    return conn


def test_a_body_that_never_arrives_times_out_and_a_huge_one_is_refused(server):
    url, _ = server
    head = ("POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
            "Content-Length: {}\r\n")
    started = time.perf_counter()
    with _raw_request(url, head.format(1000), b"ASK {}") as conn:
        conn.settimeout(10)
        answer = conn.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 408") and 0.9 < time.perf_counter() - started < 3
    with _raw_request(url, head.format(10**9), b"ASK {}") as conn:
        conn.settimeout(10)
        assert conn.recv(4096).decode().startswith("HTTP/1.1 413")


def test_a_query_whose_client_goes_away_is_stopped(server):
    url, log = server
    query = httpx.QueryParams({"query": SLOW})
    with _client(url) as client:
        _health(client, lambda h: h["workers"] == 4 and h["busy"] == 0)
        conn = _raw_request(url, f"GET /sparql?{query} HTTP/1.1\r\nHost: x\r\n")
        _health(client, lambda h: h["busy"] == 1, seconds=5)
        conn.close()
        started = time.perf_counter()
        _health(client, lambda h: h["busy"] == 0, seconds=5)  # long before the 20 s timeout
        assert time.perf_counter() - started < 1.5
        _health(client, lambda h: h["workers"] == 4)
    time.sleep(0.2)
    text = log.read_text()
    assert "went away; its query was stopped" in text and '"GET /sparql" 499' in text


def test_slow_queries_cannot_starve_quick_ones(graph_dir, tmp_path):
    """Client 127.0.0.2 sends 8 cartesian products at once; client 127.0.0.1's quick
    queries are answered meanwhile.  The 8: at most 2 run, 2 wait, 4 get 429 at once; of
    the running ones all but one are stopped when they turn slow (503, Retry-After)."""
    from kg.server.options import PoolLimits

    limits = PoolLimits(workers=3, timeout=4.0, slow_after=0.3, client_queue=2)
    with _serve(graph_dir, tmp_path / "fair.log", pool=limits) as url:
        with _client(url) as quick:
            _health(quick, lambda h: h["workers"] == 3)

            def slow(_):
                with _client(url, "127.0.0.2") as attacker:
                    started = time.perf_counter()
                    r = attacker.get("/sparql", params={"query": SLOW})
                    return r, time.perf_counter() - started

            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                flood = [pool.submit(slow, i) for i in range(8)]
                time.sleep(0.5)
                latencies = []
                for _ in range(20):
                    started = time.perf_counter()
                    assert quick.get("/sparql", params={"query": FAST}).status_code == 200
                    latencies.append(time.perf_counter() - started)
                answers = [f.result() for f in flood]
        statuses = sorted(r.status_code for r, _ in answers)
        assert max(latencies) < 1.0, latencies
        assert statuses.count(429) == 4 and statuses.count(503) == 4, statuses
        for r, seconds in answers:
            if r.status_code == 429:
                assert seconds < 0.5 and r.headers["retry-after"] == "1"
            elif "slow queries are running" in r.text:
                assert seconds < 2.5 and int(r.headers["retry-after"]) >= 1
        reasons = [r.text for r, _ in answers if r.status_code == 503]
        assert sum("slow queries are running" in text for text in reasons) == 3
        assert sum("timed out" in text for text in reasons) == 1


# --- a store that changes under the server -------------------------------------------------

def test_a_changed_store_is_served_whole_by_a_new_generation(graph_dir, tmp_path):
    copy = tmp_path / "graph"
    shutil.copytree(graph_dir, copy)
    limits = {"reload_interval": 0.2}
    from kg.server.options import PoolLimits

    with _serve(copy, tmp_path / "reload.log", pool=PoolLimits(workers=2, **limits)) as url, \
            _client(url) as client:
        before = _count(client)
        assert _health(client, lambda h: h["triples"] is not None)["triples"] == before
        writer = ox.Store(str(copy / "store"))
        writer.add(ox.Quad(ox.NamedNode(APOLLO), ox.NamedNode(RDFS_LABEL), ox.Literal("Apollo XI")))
        writer.flush()
        time.sleep(1.0)                                   # a writer holds the lock: no switch
        assert _health(client, lambda h: True)["generation"] == 0 and _count(client) == before
        del writer
        health = _health(client, lambda h: h["triples"] == before + 1)
        assert health["workers"] == 2 and health["generation"] == 1
        assert {_count(client) for _ in range(20)} == {before + 1}    # never the old answer
    assert "generation 1 of workers" in (tmp_path / "reload.log").read_text()


# --- binding beyond loopback ---------------------------------------------------------------

def _listening(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on ``port`` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_default_bind_is_loopback_and_public_binds_warn_and_take_a_token(graph_dir, tmp_path):
    port = _free_port()
    cli = [sys.executable, "-m", "wikikg.cli", "serve", str(graph_dir), "--port", str(port),
           "--workers", "1"]
    with _running(cli, f"http://127.0.0.1:{port}", tmp_path / "local.log"):
        assert _listening(port) == {"127.0.0.1"}
    assert "reachable from the network" not in (tmp_path / "local.log").read_text()

    port = _free_port()
    env_token = "s3cret-token"
    os.environ["WIKIKG_TOKEN"] = env_token
    try:
        with _running(cli[:-4] + ["--port", str(port), "--workers", "1", "--host", "0.0.0.0"],
                      f"http://127.0.0.1:{port}", tmp_path / "public.log") as url, _client(url) as client:
            assert _listening(port) == {"0.0.0.0"}
            denied = client.get("/sparql", params={"query": FAST})
            assert denied.status_code == 401 and denied.headers["www-authenticate"].startswith("Bearer")
            assert client.get("/", params={"query": FAST}).status_code == 401
            wrong = client.get("/sparql", params={"query": FAST}, headers={"Authorization": "Bearer x"})
            assert wrong.status_code == 401
            ok = client.get("/sparql", params={"query": FAST},
                            headers={"Authorization": f"Bearer {env_token}"})
            assert ok.status_code == 200 and client.get("/health").status_code == 200
    finally:
        del os.environ["WIKIKG_TOKEN"]
    text = (tmp_path / "public.log").read_text()
    assert "binding 0.0.0.0: the endpoint is reachable from the network" in text
    assert env_token not in text


def test_serve_options_are_the_cli_defaults():
    from wikikg.commands.graph import serve

    defaults = {p.name: p.default for p in serve.params}
    options = ServeOptions()
    assert (defaults["host"], defaults["timeout"], defaults["workers"]) == \
        (options.host, options.timeout, options.workers) == ("127.0.0.1", 10.0, 4)

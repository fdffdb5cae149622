"""Knowledge-graph completion written back (``wikikg complete``) on UMLS imported without
its test triples: what it recovers, what the named graph holds, replacement, export and
the HTTP endpoint over it."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import httpx
import pyoxigraph as ox
import pytest

from kg import KnowledgeGraph, import_graph
from kg.graphs import clear_graph, replace_graph

from .conftest import ROOT
from .test_server import _free_port, _running

CLI = [sys.executable, "-m", "wikikg.cli", "-q"]
COMPLETIONS = "http://example.org/wikikg/graph/completions/distmult"
PREFIX = ("PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> "
          "PREFIX ont: <http://example.org/wikikg/ontology/> ")
CLAIMS = PREFIX + f"""SELECT ?s ?p ?o ?score ?rank WHERE {{ GRAPH <{COMPLETIONS}> {{
    ?st rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ; ont:score ?score ; ont:rank ?rank }} }}"""


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def umls(tmp_path_factory, shared):
    """UMLS from train.txt and valid.txt (its 661 test triples left out), DistMult trained."""
    out = tmp_path_factory.mktemp("complete") / "umls"
    import_graph([shared / "kg" / "umls" / f"{name}.txt" for name in ("train", "valid")], out)
    embed = cli("embed", str(out), "--model", "distmult", "--epochs", "15", "--out", "distmult")
    assert embed.returncode == 0, embed.stderr
    return out


@pytest.fixture(scope="module")
def completed(umls, shared):
    run = cli("complete", str(umls), "--embeddings", "distmult", "--top-k", "10",
              "--eval", str(shared / "kg" / "umls" / "test.txt"))
    assert run.returncode == 0, run.stderr
    return run


def test_completions_recover_the_held_out_test_triples(umls, completed):
    recovered, expected = map(int, re.search(r"(\d+) of (\d+) triples among", completed.stderr).groups())
    assert expected == 661 and recovered >= 0.8 * expected, completed.stderr
    assert completed.stdout.strip() == COMPLETIONS


def test_completions_are_unstated_ranked_and_described(umls, completed):
    graph = KnowledgeGraph.open(umls)
    claims = graph.query(CLAIMS)
    queries = {(c["s"], c["p"]) for c in claims}
    assert len(claims) == 10 * len(queries) and len(queries) > 800
    stated = set(graph.triples())
    assert not [c for c in claims if (c["s"], c["p"], c["o"]) in stated]
    by_query: dict = {}
    for c in claims:
        by_query.setdefault((c["s"], c["p"]), []).append((c["rank"], c["score"]))
    for ranked in by_query.values():
        ranks, scores = zip(*sorted(ranked))
        assert ranks == tuple(range(1, 11)) and list(scores) == sorted(scores, reverse=True)
    asserted = graph.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{COMPLETIONS}> {{ ?s ?p ?o "
                           "FILTER(STRSTARTS(STR(?p), 'http://example.org/wikikg/property/')) } }")
    assert asserted[0]["n"] == len(claims)
    about = graph.query(f"SELECT ?p ?v WHERE {{ GRAPH <{COMPLETIONS}> {{ <{COMPLETIONS}> ?p ?v }} }}")
    assert {row["p"].rsplit("/", 1)[-1].split("#")[-1] for row in about} == {
        "generatedAtTime", "model", "embeddings"}
    meta = json.loads((umls / "kg.json").read_text())["graphs"][COMPLETIONS]
    assert meta["loaded"] and meta["completions"] == len(claims) and meta["top_k"] == 10
    assert meta["triples"] == len(list(graph.store.quads_for_pattern(
        None, None, None, ox.NamedNode(COMPLETIONS))))
    assert json.loads((umls / "kg.json").read_text())["triples"] == len(graph.store)


def test_a_rerun_replaces_the_graph_and_a_failed_one_keeps_it(umls, completed, caplog):
    before = KnowledgeGraph.open(umls).query(CLAIMS)
    rerun = cli("complete", str(umls), "--embeddings", "distmult", "--top-k", "2",
                "--relations", "isa")
    assert rerun.returncode == 0, rerun.stderr
    after = KnowledgeGraph.open(umls).query(CLAIMS)
    assert after and {c["p"].rsplit("/", 1)[-1] for c in after} == {"isa"}
    assert {c["rank"] for c in after} == {1, 2}
    assert {(c["s"], c["o"]) for c in after} <= {(c["s"], c["o"]) for c in before
                                                 if c["p"].endswith("/isa") and c["rank"] <= 2}

    def failing():
        yield "<http://x/a> <http://x/b> <http://x/c> .\n"
        raise RuntimeError("scoring stopped")

    meta = (umls / "kg.json").read_text()
    with pytest.raises(RuntimeError):
        replace_graph(umls, COMPLETIONS, failing(), {"kind": "completions"})
    assert KnowledgeGraph.open(umls).query(CLAIMS) == after
    assert (umls / "kg.json").read_text() == meta
    swapping = json.loads(meta)       # a writer killed between removing the graph and loading it
    swapping["graphs"][COMPLETIONS]["loaded"] = False
    (umls / "kg.json").write_text(json.dumps(swapping))
    with caplog.at_level("WARNING"):
        KnowledgeGraph.open(umls)
    assert f"<{COMPLETIONS}> was being replaced" in caplog.text
    (umls / "kg.json").write_text(meta)
    unknown = cli("complete", str(umls), "--embeddings", "distmult", "--relations", "nope")
    assert unknown.returncode == 1 and "not in the embeddings" in unknown.stderr


def test_every_graph_round_trips_through_export(umls, completed, tmp_path):
    graph = KnowledgeGraph.open(umls)
    stored = set(graph.store.quads_for_pattern(None, None, None))
    del graph
    for fmt, rdf_format in (("nq", ox.RdfFormat.N_QUADS), ("trig", ox.RdfFormat.TRIG)):
        out = tmp_path / f"all.{fmt}"
        assert cli("export", str(umls), "--format", fmt, "--out", str(out)).returncode == 0
        assert set(ox.parse(path=out, format=rdf_format)) == stored
    named = cli("export", str(umls), "--graph", "completions/distmult", "--format", "nt")
    triples = set(ox.parse(input=named.stdout.encode(), format=ox.RdfFormat.N_TRIPLES))
    assert {(q.subject, q.predicate, q.object) for q in stored
            if q.graph_name == ox.NamedNode(COMPLETIONS)} == {
        (t.subject, t.predicate, t.object) for t in triples}


def test_the_endpoint_serves_predicted_but_not_stated(umls, completed, tmp_path):
    port = _free_port()
    code = f"from kg.server.app import serve; serve({str(umls)!r}, port={port})"
    query = PREFIX + f"""SELECT ?s ?p ?o ?score WHERE {{
        GRAPH <{COMPLETIONS}> {{ ?st rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ;
                                     ont:score ?score }}
        FILTER NOT EXISTS {{ ?s ?p ?o }} FILTER(?score > 0.5) }} ORDER BY DESC(?score)"""
    expected = [c for c in KnowledgeGraph.open(umls).query(CLAIMS) if c["score"] > 0.5]
    with _running([sys.executable, "-c", code], f"http://127.0.0.1:{port}",
                  tmp_path / "server.log") as url:
        response = httpx.get(url + "/sparql", params={"query": query}, trust_env=False,
                             headers={"accept": "application/sparql-results+json"}, timeout=30)
    assert response.status_code == 200, response.text
    rows = response.json()["results"]["bindings"]
    assert len(rows) == len(expected) > 0
    scores = [float(row["score"]["value"]) for row in rows]
    assert scores == sorted(scores, reverse=True)


def test_clearing_a_graph_in_chunks_touches_nothing_else():
    store = ox.Store()
    target, other = ox.NamedNode("http://x/completions"), ox.NamedNode("http://x/predictions")
    for i in range(25):
        triple = (ox.NamedNode(f"http://x/s{i}"), ox.NamedNode("http://x/p"), ox.Literal(str(i)))
        store.extend([ox.Quad(*triple, target), ox.Quad(*triple, other), ox.Quad(*triple)])
    clear_graph(store, target, chunk=10)
    assert not list(store.quads_for_pattern(None, None, None, target))
    assert len(list(store.quads_for_pattern(None, None, None, other))) == 25
    assert len(list(store.quads_for_pattern(None, None, None, ox.DefaultGraph()))) == 25

"""The knowledge graph on the real sample build and real benchmark graphs."""

from __future__ import annotations

import datetime
import gzip
import io
import json
import subprocess
import sys
from decimal import Decimal

import networkx as nx
import pytest

from kg import GraphError, IriScheme, KnowledgeGraph, QueryRefused, QuerySyntaxError
from kg.io import export_graph, import_graph

from .conftest import load

S = IriScheme()
R = S.base + "resource/"
P = S.base + "property/"
ONT = S.base + "ontology/"


@pytest.fixture(scope="module")
def graph(sample_graph):
    return KnowledgeGraph.open(sample_graph)


def test_iri_scheme_round_trips_and_encodes():
    for title in ("Abraham Lincoln", "AC/DC", "What is Property?", "Köln", "100% Pure", 'a"b'):
        assert S.title_of(S.resource(title)) == title
    assert S.resource("What is Property?") == R + "What_is_Property%3F"
    assert IriScheme("https://kg.example/").property("birth date") == \
        "https://kg.example/property/birth_date"
    with pytest.raises(ValueError):
        IriScheme("not-absolute")


def test_hand_checked_facts_are_typed_triples(graph):
    lincoln = f"<{R}Abraham_Lincoln>"
    (row,) = graph.query(f"SELECT ?d WHERE {{ {lincoln} <{P}birth_date> ?d }}")
    assert row["d"] == datetime.date(1809, 2, 12)
    children = graph.query(f"SELECT ?c WHERE {{ {lincoln} <{P}children> ?c }}")
    assert {r["c"] for r in children} == {R + t for t in (
        "Robert_Todd_Lincoln", "Edward_Baker_Lincoln", "William_Wallace_Lincoln", "Tad_Lincoln")}
    (height,) = graph.query_terms(
        f"SELECT ?h WHERE {{ <{R}Andre_Agassi> <{P}height> ?h }}")
    assert height["h"].value == "1.8034" and height["h"].datatype.value == S.unit("m")
    (lang,) = graph.query_terms(f"SELECT ?l WHERE {{ <{R}Animal_Farm> <{P}language> ?l }}")
    assert (lang["l"].value, lang["l"].language) == ("English", "en")
    (pages,) = graph.query(f"SELECT ?n WHERE {{ <{R}Animal_Farm> <{P}pages> ?n }}")
    assert pages["n"] == 112
    assert graph.query(f"ASK {{ <{R}Animal_Farm> a <{S.base}class/Book> }}")
    assert graph.query(f'ASK {{ {lincoln} <http://www.w3.org/2000/01/rdf-schema#label> '
                       f'"Abraham Lincoln"@en }}')
    # `North Pacific Ocean<br/>{{Coord|13|19|N|169|9|W|…}}`: a string and a WKT point
    sites = graph.query_terms(f"SELECT ?g WHERE {{ <{R}Apollo_11> <{P}landing_site> ?g }}")
    assert {(s["g"].value, getattr(s["g"].datatype, "value", None)) for s in sites} >= {
        ("POINT(-169.15 13.316667)", "http://www.opengis.net/ont/geosparql#wktLiteral")}


def test_links_redirects_categories_and_provenance(graph, sample_build):
    assert graph.query(f"ASK {{ <{R}AccessibleComputing> <{ONT}wikiPageRedirects> "
                       f"<{R}Computer_accessibility> }}")
    assert graph.query(f"ASK {{ <{R}Animal_Farm> <{ONT}wikiPageWikiLink> <{R}George_Orwell> }}")
    assert graph.query(f"ASK {{ <{R}Animal_Farm> <http://purl.org/dc/terms/subject> "
                       f"<{R}Category:Dystopian_novels> }}")
    entity = next(e for e in load(sample_build, "entities") if e["title"] == "Animal Farm")
    (row,) = graph.query(f"SELECT ?id ?rev WHERE {{ <{R}Animal_Farm> <{ONT}wikiPageID> ?id ; "
                         f"<{ONT}wikiPageRevisionID> ?rev }}")
    assert (row["id"], row["rev"]) == (entity["id"], entity["revision_id"])


def test_graph_directory_errors_are_clear(tmp_path, sample_build):
    with pytest.raises(GraphError, match="no such graph directory"):
        KnowledgeGraph.open(tmp_path / "missing")
    with pytest.raises(GraphError, match="without a graph"):
        KnowledgeGraph.open(sample_build)
    (tmp_path / "half").mkdir()
    with pytest.raises(GraphError, match="interrupted"):
        KnowledgeGraph.open(tmp_path / "half")
    old = tmp_path / "old"
    old.mkdir()
    (old / "kg.json").write_text('{"format": "wikikg-kg/0"}')
    with pytest.raises(GraphError, match="rebuild"):
        KnowledgeGraph.open(old)


def test_bad_queries_are_refused_before_the_store(graph):
    with pytest.raises(QuerySyntaxError, match=r"1:\d+"):
        graph.query("SELECT ?x WHERE { ?x ?y }")
    with pytest.raises(QueryRefused, match="SERVICE"):
        graph.query("SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }")
    with pytest.raises(QueryRefused, match="update"):
        graph.query(f"INSERT DATA {{ <{R}x> <{R}y> <{R}z> }}")
    # the word inside a literal or an IRI is not a SERVICE clause
    assert graph.query('SELECT ?s WHERE { ?s ?p "SERVICE" }') == []


def test_triples_networkx_rdflib_and_stats(graph):
    links = list(graph.triples(R + "Animal_Farm", ONT + "wikiPageWikiLink"))
    assert (R + "Animal_Farm", ONT + "wikiPageWikiLink", R + "George_Orwell") in links
    view = graph.to_networkx()
    assert isinstance(view, nx.MultiDiGraph)
    relations = {d["relation"] for _, _, d in view.edges(R + "Animal_Farm", data=True)}
    assert ONT + "wikiPageWikiLink" in relations and P + "author" in relations
    assert view.nodes[R + "Animal_Farm"][P + "pages"] == [112]
    assert len(graph.to_rdflib()) == len(graph)
    stats = graph.stats()
    assert stats["triples"] == len(graph) > 20_000
    assert stats["top_predicates"][ONT + "wikiPageWikiLink"] > 10_000


def test_tsv_import_keeps_splits_and_reports_bad_lines(shared, tmp_path):
    nations = shared / "kg" / "nations"
    bad = tmp_path / "extra.tsv"
    bad.write_text("usa\tally\tuk\nonly two\tfields\n\nx\ty\tz\n")
    meta = import_graph([nations / "train.txt", nations / "valid.txt", nations / "test.txt", bad],
                        tmp_path / "nations")
    assert [f["kept"] for f in meta["inputs"]] == [1592, 199, 201, 2]
    assert meta["inputs"][-1]["skipped"] == 1
    graph = KnowledgeGraph.open(tmp_path / "nations")
    assert len(graph) == 1992 + 2
    train = (tmp_path / "nations" / "splits" / "train.tsv").read_text().splitlines()
    assert len(train) == 1592 and all(line.count("\t") == 2 for line in train)
    assert graph.query(f"ASK {{ <{R}usa> <{P}ally> <{R}uk> }}")


@pytest.mark.slow
def test_export_and_reimport_round_trip(sample_graph, tmp_path):
    graph = KnowledgeGraph.open(sample_graph)
    for fmt in ("nt", "ttl"):
        path = tmp_path / f"graph.{fmt}"
        export_graph(sample_graph, fmt, path)
        meta = import_graph([path], tmp_path / f"re-{fmt}")
        assert meta["triples"] == len(graph), fmt
    for fmt, reader in (("graphml", nx.read_graphml), ("gexf", nx.read_gexf)):
        buffer = io.BytesIO()
        export_graph(sample_graph, fmt, buffer)
        buffer.seek(0)
        assert reader(buffer).number_of_edges() > 18_000


def test_query_cli_formats_and_exit_codes(sample_graph):
    cli = [sys.executable, "-m", "wikikg.cli", "-q", "query", str(sample_graph)]
    q = f"SELECT ?c WHERE {{ <{R}Abraham_Lincoln> <{P}children> ?c }} ORDER BY ?c"
    out = subprocess.run(cli + [q, "--format", "json"], capture_output=True, text=True)
    assert out.returncode == 0
    bindings = json.loads(out.stdout)["results"]["bindings"]
    assert bindings[0]["c"] == {"type": "uri", "value": R + "Edward_Baker_Lincoln"}
    out = subprocess.run(cli + ["-", "--format", "csv"], input=q, capture_output=True, text=True)
    assert out.stdout.splitlines()[0] == "c" and len(out.stdout.splitlines()) == 5
    # the table: predeclared prefixes, prefixed names, language tags and datatypes, cut values said
    out = subprocess.run(cli + ["SELECT ?l ?d ?c ?a WHERE { resource:Animal_Farm property:language ?l ; "
                                "ontology:abstract ?a . resource:Abraham_Lincoln property:birth_date ?d ; "
                                "rdf:type ?c }"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "English@en" in out.stdout and "1809-02-12^^xsd:date" in out.stdout
    assert "class:" in out.stdout and "cut at 60 characters" in out.stdout
    out = subprocess.run(cli + ["SELECT ?x WHERE { ?x ?y }"], capture_output=True, text=True)
    assert out.returncode == 2 and "1:" in out.stderr
    out = subprocess.run([sys.executable, "-m", "wikikg.cli", "query", "/nonexistent", "ASK {}"],
                         capture_output=True, text=True)
    assert out.returncode == 1 and "no such graph directory" in out.stderr


def test_typed_values_convert_to_python(graph):
    (row,) = graph.query(f"SELECT ?v WHERE {{ <{R}Alabama> <{P}2010density> ?v }}")
    assert row["v"] == Decimal("36.5")


def test_sliced_bulk_load_keeps_every_triple(sample_graph, tmp_path):
    """The store is bulk-loaded in slices (bounded memory): slice edges lose nothing."""
    from kg.store import write_graph

    with gzip.open(sample_graph / "graph.nt.gz", "rt", encoding="utf-8") as handle:
        lines = handle.readlines()
    for batch in (0, 5_000):
        meta = write_graph(tmp_path / str(batch), lines, load_batch=batch)
        assert meta["triples"] == len(KnowledgeGraph.open(sample_graph)) > 5_000 * 4
    last_subject = lines[-1].split(" ", 1)[0].strip("<>")  # from the last, short slice
    assert list(KnowledgeGraph.open(tmp_path / "5000").triples(subject=last_subject))

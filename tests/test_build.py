"""``wikikg build`` end to end on real dumps."""

from __future__ import annotations

import bz2
import json
import re
import subprocess
import sys

import duckdb
import pytest

from common.jsonl import output_files
from extraction.build import BuildError, BuildOptions, build
from extraction.multistream import find_index, repack_multistream, stream_ranges

from .conftest import SAMPLE, load, tree_bytes

OUTPUTS = ("entities", "facts", "links", "sentences", "redirects", "aliases")


def facts_of(build_dir, subject, prop):
    return [f for f in load(build_dir, "facts") if f["subject"] == subject and f["property"] == prop]


def test_stats_match_the_dump(sample_build):
    stats = json.loads((sample_build / "stats.json").read_text())
    raw = bz2.open(SAMPLE).read().decode()
    pages = re.findall(r"<page>.*?</page>", raw, re.S)
    ns0 = [p for p in pages if "<ns>0</ns>" in p]
    assert stats["pages"] == len(pages) == 206
    assert stats["articles"] == sum("<redirect" not in p for p in ns0) == 106
    assert stats["redirects"] == sum("<redirect" in p for p in ns0) == 99
    assert stats["infobox_pages"] >= 40
    for key in ("facts", "links", "sentences", "linked_mentions", "errors"):
        assert isinstance(stats[key], int)
    assert stats["errors"] == 0 and (sample_build / "errors.jsonl").read_text() == ""
    assert len(load(sample_build, "entities")) == stats["articles"]


def test_facts_checked_by_hand_against_the_dump(sample_build):
    # | children = [[Robert Todd Lincoln|Robert]], [[Edward Baker Lincoln|Edward]], ...
    children = facts_of(sample_build, "Abraham Lincoln", "children")
    assert [f["value"] for f in children] == [
        "Robert Todd Lincoln", "Edward Baker Lincoln", "William Wallace Lincoln", "Tad Lincoln"]
    assert {f["kind"] for f in children} == {"entity"}
    # | birth_date = {{birth date|1809|2|12}}
    (birth,) = facts_of(sample_build, "Abraham Lincoln", "birth_date")
    assert (birth["kind"], birth["value"], birth["datatype"]) == ("date", "1809-02-12", "xsd:date")
    # | predecessor1 = [[James Buchanan]]  (numbered key, digits dropped, raw key kept)
    (pred,) = [f for f in facts_of(sample_build, "Abraham Lincoln", "predecessor")
               if f["raw_property"] == "predecessor1"]
    assert pred["value"] == "James Buchanan"
    # | height = {{height|ft=5|in=11}}
    (height,) = facts_of(sample_build, "Andre Agassi", "height")
    assert (height["kind"], height["value"], height["unit"]) == ("quantity", "1.8034", "m")
    # |MedianHouseholdIncome = $40,489 (2009)
    (income,) = facts_of(sample_build, "Alabama", "medianhouseholdincome")
    assert (income["value"], income["unit"]) == ("40489", "USD")
    # | language = English   /  | pages = 112 (UK paperback edition)
    (language,) = facts_of(sample_build, "Animal Farm", "language")
    assert (language["kind"], language["value"], language["lang"]) == ("string", "English", "en")
    (pages,) = facts_of(sample_build, "Animal Farm", "pages")
    assert (pages["kind"], pages["value"]) == ("integer", "112")
    (author,) = facts_of(sample_build, "Animal Farm", "author")
    assert (author["kind"], author["value"]) == ("entity", "George Orwell")
    (infobox,) = {f["infobox"] for f in facts_of(sample_build, "Animal Farm", "author")}
    assert infobox == "infobox book"


def test_no_value_is_empty_or_template_debris(sample_build):
    for fact in load(sample_build, "facts"):
        assert fact["value"].strip()
        assert not any(d in fact["value"] for d in ("{{", "}}", "[[", "]]", "|")), fact


def test_sentences_have_linked_mentions_with_exact_offsets(sample_build):
    sentences = load(sample_build, "sentences")
    rich = [s for s in sentences if sum(m["title"] is not None for m in s["mentions"]) >= 2]
    assert len(rich) > 1000
    for sentence in sentences:
        for mention in sentence["mentions"]:
            assert sentence["text"][mention["start"]:mention["end"]] == mention["surface"]
    first = next(s for s in sentences if s["page"] == "Animal Farm")
    assert first["text"].startswith("Animal Farm is an allegorical and dystopian novella by George")
    titles = {(m["surface"], m["title"], m["source"]) for m in first["mentions"]}
    assert ("George Orwell", "George Orwell", "wikilink") in titles
    assert ("Animal Farm", "Animal Farm", "title") in titles


def test_redirects_are_recorded_and_resolved(sample_build):
    redirects = {r["source"]: r["target"] for r in load(sample_build, "redirects")}
    assert redirects["AccessibleComputing"] == "Computer accessibility"
    targets = {link["target"] for link in load(sample_build, "links")}
    assert not targets & set(redirects), "link targets must be resolved through redirects"
    entities = {e["title"]: e for e in load(sample_build, "entities")}
    assert "AynRand" in entities["Ayn Rand"]["redirects"]
    assert entities["Austin (disambiguation)"]["disambiguation"] is True


def test_one_and_two_workers_write_identical_files(sample_build, tmp_path):
    out = tmp_path / "two"
    build([SAMPLE], out, BuildOptions(workers=2, progress=False))
    for name in OUTPUTS:
        assert load(out, name) == load(sample_build, name), name


@pytest.mark.slow
def test_multistream_with_index_gives_the_same_build(sample_build, tmp_path):
    target = tmp_path / "sample-multistream.xml.bz2"
    index = repack_multistream(SAMPLE, target, pages_per_stream=100)
    assert find_index(target) == index
    ranges = list(stream_ranges(target, index))
    assert [pages for _, _, pages in ranges] == [100, 100, 6]
    out = tmp_path / "ms"
    build([target], out, BuildOptions(workers=2, progress=False))
    for name in OUTPUTS:
        assert load(out, name) == load(sample_build, name), name


def test_repack_cuts_between_pages_that_share_a_line(sample_build, tmp_path):
    """``</page><page>`` on one line is valid XML (concatenated dumps have it): every stream
    boundary of the re-packed dump must still fall between whole pages."""
    xml = bz2.open(SAMPLE).read()
    joined = tmp_path / "joined.xml.bz2"
    joined.write_bytes(bz2.compress(re.sub(rb"</page>\s*<page>", b"</page><page>", xml)))
    target = tmp_path / "joined-multistream.xml.bz2"
    repack_multistream(joined, target, pages_per_stream=7)
    stats = build([target], tmp_path / "out", BuildOptions(workers=2, progress=False))
    assert stats["errors"] == 0 and stats["pages"] == 206
    for name in OUTPUTS:
        assert load(tmp_path / "out", name) == load(sample_build, name), name


def test_repack_streams_utf16_into_a_new_folder(shared, tmp_path):
    """A UTF-16 dump re-packs (as UTF-8, as Wikimedia's are) into a folder that does not
    exist yet, and the multistream copy builds the same records as the original."""
    bg = shared / "dumps" / "bgwiki-sample.xml.bz2"
    target = tmp_path / "new" / "folder" / "bg-multistream.xml.bz2"
    index = repack_multistream(bg, target, pages_per_stream=2)
    assert index.parent == target.parent and not list(target.parent.glob("*.tmp"))
    assert bz2.open(target).read(5) == b"<medi"
    original = build([bg], tmp_path / "plain", BuildOptions(progress=False))
    repacked = build([target], tmp_path / "ms", BuildOptions(workers=2, progress=False))
    assert repacked["pages"] == original["pages"] > 0 and repacked["errors"] == 0
    assert [i["pages"] for i in repacked["inputs"]] == [original["pages"]]  # per input too
    for name in OUTPUTS:
        assert load(tmp_path / "ms", name) == load(tmp_path / "plain", name), name


def test_malformed_dump_keeps_pages_and_reports_the_fault(shared, tmp_path):
    bad = shared / "bad" / "malformed-trailing-junk.xml.bz2"
    stats = build([bad], tmp_path / "bad", BuildOptions(progress=False))
    assert stats["articles"] == 2 and stats["errors"] == 1
    (error,) = load_errors(tmp_path / "bad")
    assert error["line"] == 1034 and error["file"].endswith("malformed-trailing-junk.xml.bz2")
    with pytest.raises(BuildError, match="1034"):
        build([bad], tmp_path / "strict", BuildOptions(progress=False, strict=True))


def load_errors(build_dir):
    return [json.loads(line) for line in (build_dir / "errors.jsonl").read_text().splitlines()]


def test_interrupted_build_leaves_previous_output_intact(shared, tmp_path):
    out = tmp_path / "kept"
    build([SAMPLE], out, BuildOptions(progress=False, limit_pages=20))
    before = tree_bytes(out)
    with pytest.raises(BuildError):
        build([shared / "bad" / "malformed-trailing-junk.xml.bz2"], out,
              BuildOptions(progress=False, strict=True))
    assert tree_bytes(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["kept"], "no temporary directory left behind"


def test_oversized_pages_are_skipped_and_logged(tmp_path):
    stats = build([SAMPLE], tmp_path / "small", BuildOptions(progress=False,
                                                             max_page_bytes=100_000))
    errors = load_errors(tmp_path / "small")
    assert stats["errors"] == len(errors) > 0
    assert all(e["page_id"] and e["title"] and "byte bound" in e["reason"] for e in errors)
    assert stats["articles"] == 106 - len(errors)


@pytest.mark.slow
def test_every_dbpedia_minidump_builds(shared, tmp_path):
    dumps = sorted((shared / "dumps" / "dbpedia-minidumps").glob("*.xml.bz2"))
    assert len(dumps) >= 120
    stats = build(dumps, tmp_path / "dbp", BuildOptions(progress=False))
    assert stats["errors"] == 0 and stats["articles"] > 100
    assert len(stats["inputs"]) == len(dumps) and not any("fault" in f for f in stats["inputs"])
    texts = " ".join(s["text"] for s in load(tmp_path / "dbp", "sentences"))
    assert "Berlin" in texts and "Берлин" in texts and "ベルリン" in texts


@pytest.mark.slow
def test_ner_mentions_are_added_and_linked_through_the_alias_table(tmp_path):
    stats = build([SAMPLE], tmp_path / "ner", BuildOptions(progress=False, ner=True,
                                                           limit_pages=12))
    from extraction.sentences import target_fits

    sentences = load(tmp_path / "ner", "sentences")
    texts = {id(m): s["text"] for s in sentences for m in s["mentions"]}
    mentions = [m for s in sentences for m in s["mentions"]]
    ner = [m for m in mentions if m["source"] == "ner"]
    assert stats["sentences"] > 500 and len(ner) > 100
    assert {m["label"] for m in ner} >= {"PERSON", "ORG", "GPE", "NORP"}
    links = {row["alias"]: row["link"] for row in load(tmp_path / "ner", "aliases")}
    for mention in ner:
        surface = " ".join(mention["surface"].split())
        expected = links.get(surface) or (links.get(surface[4:]) if surface[:4] == "the " else None)
        if mention["title"] is None and expected is not None:  # a list page, a nationality
            assert not target_fits(expected, texts[id(mention)], mention["start"],
                                   mention["end"], mention["label"]), mention
            continue
        assert mention["title"] == expected, mention
    assert any(m["title"] for m in ner)


def test_cli_build_and_exit_codes(tmp_path):
    cli = [sys.executable, "-m", "wikikg.cli"]
    done = subprocess.run(cli + ["-q", "build", str(SAMPLE), "--limit-pages", "10", "--out",
                                 str(tmp_path / "cli")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "cli" / "stats.json").read_text())["pages"] == 10
    missing = subprocess.run(cli + ["build", "nope.xml", "--out", str(tmp_path / "x")],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "nope.xml" in missing.stderr
    usage = subprocess.run(cli + ["build", "--workers", "0", "--out", "x"],
                           capture_output=True, text=True)
    assert usage.returncode == 2


def test_pages_over_the_time_bound_are_skipped_and_logged(tmp_path):
    stats = build([SAMPLE], tmp_path / "slow", BuildOptions(progress=False, limit_pages=12,
                                                            page_timeout=0.0005))
    errors = load_errors(tmp_path / "slow")
    assert stats["errors"] == len(errors) > 0
    assert all("longer than the" in e["reason"] and e["title"] for e in errors)
    assert stats["pages"] == 12


def test_outputs_are_folders_of_gzip_parts_that_any_reader_reads(sample_build, shared, tmp_path):
    """Workers write their own parts into the build and nothing joins them: the system's
    gzip and DuckDB read the folder, line for line what Python reads, part after part."""
    parts = output_files(sample_build, "sentences")
    assert len(parts) > 5 and parts == sorted(parts)
    assert all(p.parent == sample_build / "sentences" for p in parts)
    unzipped = subprocess.run(["gzip", "-dc", *map(str, parts)], capture_output=True, check=True)
    assert [json.loads(line) for line in unzipped.stdout.splitlines()] == load(sample_build,
                                                                               "sentences")
    count = json.loads((sample_build / "stats.json").read_text())["sentences"]
    assert len(unzipped.stdout.splitlines()) == count == duckdb.connect().execute(
        f"SELECT count(*) FROM read_json('{sample_build}/sentences/*.jsonl.gz')").fetchone()[0]
    assert not list(sample_build.glob("*.jsonl.gz")), "no output is joined into one file"
    stats = build([shared / "dumps" / "bgwiki-sample.xml.bz2"], tmp_path / "bg",
                  BuildOptions(progress=False))
    assert stats["redirects"] == 0  # no part had such records: an empty folder, an empty output
    assert (tmp_path / "bg" / "redirects").is_dir() and load(tmp_path / "bg", "redirects") == []


def test_the_build_stage_is_the_extraction_and_its_graph(tmp_path):
    """``wikikg.stages.build``, what the CLI and the pipeline both run: one stats.json with
    the graph's counts, the graph under the base IRI asked for, every file the next stages
    read."""
    from kg import KnowledgeGraph
    from wikikg import stages

    out = tmp_path / "staged"
    stats = stages.build([SAMPLE], out, BuildOptions(progress=False, limit_pages=20),
                         base_iri="http://example.com/kb/")
    assert json.loads((out / "stats.json").read_text()) == stats
    assert stats["graph"]["triples"] > 0 and stats["graph"]["base_iri"] == "http://example.com/kb/"
    assert all(path.exists() for path in stages.build_files(out))
    graph = KnowledgeGraph.open(out)
    assert graph.query("ASK { ?s a <http://example.com/kb/ontology/Article> }") is True


def test_infoboxes_of_other_languages_are_found(shared):
    """Infoboxes by structure, not by English name: a lead template with named parameters
    that is no maintenance, citation or media template (DBpedia's raw extractor's rule).
    The Berlin article of each DBpedia minidump language; English pages gain no junk."""
    from extraction.dump import DumpReader
    from extraction.infobox import INFOBOX_NAME, find_infoboxes, infobox_facts
    from extraction.titles import TitleNormalizer

    with_facts, languages, boxes = 0, 0, {}
    for path in sorted((shared / "dumps" / "dbpedia-minidumps").glob("*.xml.bz2")):
        reader, found = DumpReader(path), None
        for page in reader:
            if page.ns == 0 and not page.redirect:
                names, facts = infobox_facts(page.title, page.id, page.text,
                                             TitleNormalizer(reader.siteinfo), "xx")
                found = (found or 0) + len(facts)
                boxes.setdefault(path.name.split(".")[0], names)
        languages += found is not None
        with_facts += bool(found)
    # 39 when infoboxes were found by name, 91 by structure, 101 with infobox tables, 103
    # with cv's positional infobox and pnb's left-floated table (the other 19 have no
    # infobox values in their wikitext: docs/benchmarks.md, quality)
    assert languages >= 120 and with_facts >= 103
    assert boxes["es"][0].startswith("ficha de") and boxes["ru"][0] == "нп"
    assert boxes["pt"][0] == "info/assentamento" and boxes["ko"][0] == "도시 정보"
    others = {name for page in DumpReader(shared / "dumps" / "enwiki-sample.xml.bz2")
              if page.ns == 0 for name, _ in find_infoboxes(page.text)
              if not INFOBOX_NAME.match(name)}
    assert others == {"paraphyletic group"}  # a taxobox of its own name


@pytest.mark.parametrize("lang, stop", [("zh", "。"), ("ja", "。"), ("hi", "।")])
def test_sentences_of_scripts_without_spaces_or_with_dandas(shared, lang, stop):
    """The Berlin article of the zh, ja and hi minidumps: sentences end at 。 / । (the
    zh page gave 11 "sentences", 9 of them holding two or more, before)."""
    from extraction.dump import DumpReader
    from extraction.page import ExtractionConfig, extract_page

    reader = DumpReader(shared / "dumps" / "dbpedia-minidumps" / f"{lang}.xml.bz2")
    config = ExtractionConfig(lang=lang)
    sentences = [s.text for page in reader if page.ns == 0 and not page.redirect
                 for s in extract_page(page, config).sentences]
    assert len(sentences) >= 5
    assert not [s for s in sentences if stop in s.rstrip(stop + "」』”’）) ")], sentences[:3]

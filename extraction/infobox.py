"""Infoboxes -> facts.

Infobox templates are located with a cheap balanced-brace scan and only their text is
handed to mwparserfromhell, so the expensive parse covers a small share of each page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import mwparserfromhell
from mwparserfromhell.nodes import Template
from mwparserfromhell.wikicode import Wikicode

from extraction.records import Fact
from extraction.titles import NS_FILE, TitleNormalizer
from extraction.values import normalize_key, parse_value, sibling_keys
from extraction.wikitext import strip_noise, template_name

_TEMPLATE_OPEN = re.compile(r"\{\{")
_BRACES = re.compile(r"\{\{|\}\}")
INFOBOX_NAME = re.compile(
    r"^(?:infobox\b.*|.*\binfobox$|taxobox|automatic taxobox|speciesbox|subspeciesbox|"
    r"infraspeciesbox|chembox|drugbox|geobox|planetbox.*|starbox begin|ship begin|"
    r"football club infobox|chess opening infobox)$")


def normalize_infobox_name(name: str) -> str:
    """``Template:Infobox_U.S._state`` and ``infobox U.S. state`` -> ``infobox u.s. state``."""
    return template_name(name)


def _template_end(text: str, start: int) -> int:
    depth = 0
    for match in _BRACES.finditer(text, start):
        depth += 1 if match.group(0) == "{{" else -1
        if depth == 0:
            return match.end()
    return -1


# Lead templates with named parameters that are not infoboxes, in any language: maintenance,
# citation, navigation, layout and media templates (DBpedia keeps a list of the same kind)
NOT_INFOBOX = re.compile(
    r"cite|citation|quote|issues|clean ?up|refimprove|unreferenced|orphan|^use |description|"
    r"^coord|convert|^lang|navbox|sidebar|portal|commons|^wiki|authority control|taxonbar|"
    r"image|gallery|audio|listen|clade|chart|graph|redirect|hatnote|^about|other uses|^main|"
    r"see also|further|distinguish|dablink|^featured|good article|protect|^pp-|engvar|notice|"
    r"^sfn|^efn|^ref|location map|mapframe|^for$|^more|^update|^expand|^copy ?edit|^merge|"
    r"^split|^dated|^weasel|^pov|^tone|^advert|^notability|^primary|^disputed|^close|^stub|"
    r"^toc|^clear|^anchor|^flagicon|^nobots|^bots|^italic title|^displaytitle|^dmy|^mdy|"
    r"^as of|^reflist|^notelist|^multiple|^rfc|^spoken|^noteta|^shortcut|wayback|web ?archiv|"
    r"archive|dead ?link|^article$|^ouvrage|^lien web|^chapitre|internetquelle|^literatur|"
    r"^cita |^cita$|^citar|^citeer|^cytuj|^kilde|^lähde|^навод|^книга|^статья|viite$|"
    r"erreferentzia|citiranje|^navedi|webbref|citácia|קישור|ссылка|^брэ$|palabra estranxeira",
    re.I)
MIN_NAMED = 3  # named parameters with a value, for a lead template of another name
# Infoboxes of other wikis whose parameters are positional, by normalised name: the key of
# each position (``None``: no fact, or a meaning the articles do not show).  Read from the
# template's use: cv `{{Хула çинчен|Берлин|[[Ӳкерчĕк:…]]|[[Германи]]|Берлин|||3 440|2010|
# 891.85|52°31′ ç.ш.|13°24′ х. т. д.}}`, whose prose gives 3 440 441 people in 2010.
POSITIONAL_INFOBOXES = {
    "хула çинчен": ("name", None, "country", "region", None, None, "population_thousands",
                    "population_year", "area_km2"),
}
# "Infobox" in other languages' template names: one named parameter is then enough
# (`{{hiri infotaula | izena = Berlin}}`, `{{Gwybodlen lle | gwlad = …}}`)
INFOBOX_WORD = re.compile(r"infobox|infotaula|gwybodlen|bosca|ficha|capsa|info/|infoboks|"
                          r"tietolaatikko|infocaseta|infokutija|инфокутија|карточка|"
                          r"صندوق معلومات|جعبه اطلاعات|תבנית מידע", re.I)


def find_infoboxes(wikitext: str) -> Iterator[tuple[str, str]]:
    """``(normalised name, template text)`` for each top-level infobox-like template: one
    named like an infobox (English names and the taxobox family), or, in any language, a
    template of the lead (before the first heading) with at least :data:`MIN_NAMED` named
    parameters that is not a maintenance, citation, navigation or media template, as
    DBpedia's raw infobox extractor takes them (``{{Ficha de ciudad}}``, ``{{НП}}``,
    ``{{Info/Município do Brasil}}`` …).

    Only the article's own infoboxes are taken: those of the lead, or, in an article whose
    lead has none, the first one of the body.  An infobox further down the body of an
    article that already has one is about something else (``{{Infobox person}}`` of the
    subject's husband in a section about their work together) and is skipped: merging it
    gave the subject a second birth date, and attaching it to another entity would need
    the name of an article that such boxes seldom link.  Infoboxes embedded *inside* the
    article's (a politician's earlier offices) are the subject's: see ``_with_embedded``."""
    heading = re.search(r"^==[^=]", wikitext, re.M)
    lead_end = heading.start() if heading else len(wikitext)
    pos, found, enclosed = 0, False, None
    for match in _TEMPLATE_OPEN.finditer(wikitext):
        if found and match.start() >= lead_end:
            return  # the rest of the body: other subjects' infoboxes
        if match.start() < pos:
            continue
        head = wikitext[match.end():match.end() + 200]
        name = normalize_infobox_name(re.split(r"[|}]", head, maxsplit=1)[0])
        named = bool(INFOBOX_NAME.match(name)) or name in POSITIONAL_INFOBOXES
        if not named and (match.start() >= lead_end or not name or NOT_INFOBOX.search(name)):
            continue
        if not named:
            enclosed = _enclosed(wikitext, lead_end) if enclosed is None else enclosed
            if any(start < match.start() < end for start, end in enclosed):
                continue
        end = _template_end(wikitext, match.start())
        if end < 0:
            continue
        text = wikitext[match.start():end]
        least = 1 if INFOBOX_WORD.search(name) else MIN_NAMED
        if named or _named_parameters(text) >= least:
            pos, found = end, True
            yield name, text


_REF_SPAN = re.compile(r"<ref\b[^>/]*>.*?(?:</ref\s*>|$)", re.I | re.S)


def _enclosed(wikitext: str, lead_end: int) -> list[tuple[int, int]]:
    """Spans of the lead where a template is part of something else, never an infobox of
    its own: a reference (every wiki's citation templates: `{{наведена мрежна страница}}`,
    `{{یادکرد وب}}`, `{{LuiseBMS}}` have named parameters) and a table (`{{Sitzverteilung}}`
    in a row of de's infobox table, which then gives the rows)."""
    lead = wikitext[:lead_end]
    spans = [m.span() for m in _REF_SPAN.finditer(lead)] if "<ref" in lead else []
    for opening in _TABLE_OPEN.finditer(lead) if "{|" in lead else ():
        spans.append((opening.start(), _table_end(wikitext, opening.start())))
    return spans


def _named_parameters(text: str) -> int:
    """Named parameters with a value at the template's own level."""
    templates = mwparserfromhell.parse(text).filter_templates(recursive=False)
    return sum(1 for p in templates[0].params if p.showkey and str(p.value).strip()) \
        if templates else 0


def infobox_facts(subject: str, page_id: int, wikitext: str, titles: TitleNormalizer,
                  lang: str) -> tuple[list[str], list[Fact]]:
    """Names of the page's infoboxes and one fact per typed value of each named parameter."""
    names, facts = [], []
    for outer_name, text in find_infoboxes(wikitext):
        templates = mwparserfromhell.parse(strip_noise(text)).filter_templates(recursive=False)
        for name, template in _with_embedded(outer_name, templates[:1]):
            if name not in names:
                names.append(name)
            facts.extend(_template_facts(subject, page_id, name, template, titles, lang))
    if not names:  # a table is no class: its facts only say where they come from
        for label, value in table_infobox_rows(wikitext, titles):
            key = normalize_key(label)
            facts.extend(Fact(subject, page_id, TABLE_INFOBOX, key, label, v)
                         for v in parse_value(value, key, titles, lang))
    return names, facts


TABLE_INFOBOX = "table"  # the `infobox` of facts from an infobox drawn as a wikitable
_TABLE_OPEN = re.compile(r"^[ \t]*\{\|(?P<attrs>.*)$", re.M)
_TABLE_LINE = re.compile(r"^[ \t]*(\{\||\|\})", re.M)
_LINK = re.compile(r"\[\[[^\[\]\n]*\]\]")
_PIPE = "\x1f"
# right-floated, or left in right-to-left wikis (pnb, ur, fa …), or classed as an infobox
_FLOATS = re.compile(r"infobox|float[:-]\s*(?:right|left)|align=\"?(?:right|left)", re.I)
_TAGS = re.compile(r"<[^<>]*>")


def table_infobox_rows(wikitext: str, titles: TitleNormalizer) -> Iterator[tuple[str, Wikicode]]:
    """``(label, value)`` of each two-cell row of an infobox drawn as a wikitable: the lead's
    first table, floated right or classed ``infobox`` (many wikis' city articles predate
    their infobox templates: fo, jv, qu, sl, is, br …).  Header rows (all ``!`` cells or a
    bold value), rows whose label is a file and rows without text are left out."""
    heading = re.search(r"^==[^=]", wikitext, re.M)
    opening = _TABLE_OPEN.search(wikitext, 0, heading.start() if heading else len(wikitext))
    if not opening or not _FLOATS.search(opening["attrs"]):
        return
    end = _table_end(wikitext, opening.start())
    # a link's `|` would read as the cell's attribute separator: hidden while cells are cut
    table = _LINK.sub(lambda m: m.group(0).replace("|", _PIPE), wikitext[opening.start():end])
    tables = mwparserfromhell.parse(strip_noise(table)).filter_tags(
        recursive=False, matches=lambda node: str(node.tag) == "table")
    for row in tables[0].contents.filter_tags(recursive=False, matches=_is_tag("tr")) \
            if tables else ():
        cells = row.contents.filter_tags(recursive=False, matches=_is_tag("td", "th"))
        if len(cells) != 2 or str(cells[1].tag) != "td":
            continue
        label, value = (mwparserfromhell.parse(str(c.contents).replace(_PIPE, "|")) for c in cells)
        if _holds_file(str(label), titles):
            continue
        label = label.strip_code().strip().strip(":-–• ").strip()
        if label and len(label) <= 40 and not _TAGS.sub("", str(value)).strip().startswith("'''"):
            yield label, value


def _holds_file(text: str, titles: TitleNormalizer) -> bool:
    """Whether a label cell shows a file: its link, whole or cut by the cell syntax, names the
    wiki's file namespace under any of its names (from the dump's siteinfo)."""
    return any((titles.parse(target) or (None,))[0] == NS_FILE
               for target in re.findall(r"\[\[([^|\]\n]+)", text))


def _is_tag(*names: str):
    return lambda node: str(node.tag).lower() in names


def _table_end(text: str, start: int) -> int:
    """The end of the wikitable opened at ``start`` (nested tables counted)."""
    depth = 0
    for match in _TABLE_LINE.finditer(text, start):
        depth += 1 if match.group(1) == "{|" else -1
        if depth == 0:
            return match.end()
    return len(text)


def _with_embedded(name: str, templates: list) -> Iterator[tuple[str, Template]]:
    """The infobox and the infoboxes embedded in its parameters (``{{Infobox officeholder
    |embed=yes …}}`` inside a parameter of another, as in a politician's earlier offices),
    each taken out of the parameter that holds it."""
    for template in templates:
        embedded = []
        for param in template.params:
            for inner in param.value.filter_templates(recursive=False):
                raw_name = str(inner.name).lower()
                if "box" not in raw_name and "begin" not in raw_name:
                    continue  # the common case, without normalising the name
                inner_name = normalize_infobox_name(raw_name)
                if INFOBOX_NAME.match(inner_name):
                    param.value.remove(inner)
                    embedded.append((inner_name, inner))
        yield name, template
        for inner_name, inner in embedded:
            yield from _with_embedded(inner_name, [inner])


def _template_facts(subject: str, page_id: int, name: str, template: Template,
                    titles: TitleNormalizer, lang: str) -> Iterator[Fact]:
    siblings = sibling_keys([str(p.name) for p in template.params if p.showkey])
    positions = POSITIONAL_INFOBOXES.get(name, ())
    for param in template.params:
        raw_key = str(param.name).strip()
        key = normalize_key(raw_key, siblings) if param.showkey else _position_key(positions,
                                                                                  raw_key)
        if not key or key in HEADING_KEYS.get(name, ()):
            continue
        for value in parse_value(_referred(template, key, param.value), key, titles, lang,
                                 siblings):
            yield Fact(subject, page_id, name, key, raw_key, value)


# Keys that are a box's heading in one infobox, though a fact in others of its family:
# {{Infobox animanga/Other}}'s `title = Related media` (its /Video's `title` is the film's)
HEADING_KEYS = {"infobox animanga/other": frozenset({"title"})}
# Values that stand for another parameter's, by (key, value): {{Infobox country}}'s
# `largest_city = capital` says the capital is the largest city
SAME_AS = {("largest_city", "capital"): "capital"}


def _referred(template: Template, key: str, value: Wikicode) -> Wikicode:
    """The value a placeholder refers to (a copy: parsing a value changes it), else ``value``."""
    target = SAME_AS.get((key, str(value).strip().lower()))
    if target and template.has(target):
        return mwparserfromhell.parse(str(template.get(target).value))
    return value


def _position_key(positions: tuple, raw_key: str) -> str | None:
    """The key of a positional parameter (``raw_key`` is its 1-based position) from the
    infobox's row of :data:`POSITIONAL_INFOBOXES`; other templates' positions give none."""
    index = int(raw_key) - 1 if raw_key.isdigit() else -1
    return positions[index] if 0 <= index < len(positions) else None

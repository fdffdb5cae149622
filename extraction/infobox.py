"""Infoboxes -> facts.

Infobox templates are located with a cheap balanced-brace scan and only their text is
handed to mwparserfromhell, so the expensive parse covers a small share of each page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import mwparserfromhell

from extraction.records import Fact
from extraction.titles import TitleNormalizer
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


def find_infoboxes(wikitext: str) -> Iterator[tuple[str, str]]:
    """``(normalised name, template text)`` for each top-level infobox-like template."""
    pos = 0
    for match in _TEMPLATE_OPEN.finditer(wikitext):
        if match.start() < pos:
            continue
        head = wikitext[match.end():match.end() + 200]
        name = normalize_infobox_name(re.split(r"[|}]", head, maxsplit=1)[0])
        if not INFOBOX_NAME.match(name):
            continue
        end = _template_end(wikitext, match.start())
        if end < 0:
            continue
        pos = end
        yield name, wikitext[match.start():end]


def infobox_facts(subject: str, page_id: int, wikitext: str, titles: TitleNormalizer,
                  lang: str) -> tuple[list[str], list[Fact]]:
    """Names of the page's infoboxes and one fact per typed value of each named parameter."""
    names, facts = [], []
    for name, text in find_infoboxes(wikitext):
        templates = mwparserfromhell.parse(strip_noise(text)).filter_templates(recursive=False)
        if not templates:
            continue
        if name not in names:
            names.append(name)
        siblings = sibling_keys([str(p.name) for p in templates[0].params if p.showkey])
        for param in templates[0].params:
            if not param.showkey:
                continue
            raw_key = str(param.name).strip()
            key = normalize_key(raw_key, siblings)
            if not key:
                continue
            for value in parse_value(param.value, key, titles, lang):
                facts.append(Fact(subject, page_id, name, key, raw_key, value))
    return names, facts

"""Wikitext -> clean prose with the character offsets of every wikilink anchor.

The article body is cleaned with a handful of linear-time regular expressions rather
than a full ``mwparserfromhell`` parse: a full parse of every page costs about three
times what WikiExtractor spends on the whole job (``../shared/ANCHORS.md``), while the
body only needs markup removed and links kept.  Structured parts (infoboxes) are parsed
with mwparserfromhell in :mod:`extraction.infobox`, where the tree matters.

Order matters: noise (comments, refs, math) goes first, then templates innermost-first,
then tables, then file/category/interwiki links, then lines (headings, lists), and last
one left-to-right pass renders links, quotes and entities while recording offsets.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from extraction.titles import NS_CATEGORY, NS_MAIN, TitleNormalizer, strip_disambiguator

_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)
_REF_SELF = re.compile(r"<ref\b[^>]*/>", re.I)
_REF = re.compile(r"<ref\b[^>]*>.*?(?:</ref\s*>|$)", re.I | re.S)
_DROP_TAGS = ("math", "chem", "ce", "gallery", "timeline", "imagemap", "score", "syntaxhighlight",
              "source", "pre", "hiero", "references", "mapframe", "maplink", "graph",
              "templatedata", "inputbox", "categorytree", "table", "noinclude", "code")
_DROP_BLOCK = re.compile(r"<(%s)\b[^>]*?(?:/>|>.*?</\1\s*>)" % "|".join(_DROP_TAGS), re.I | re.S)
_INNER_TEMPLATE = re.compile(r"\{\{((?:[^{}]|\{(?!\{)|\}(?!\}))*)\}\}")
_EMPTY_PARENS = re.compile(r" ?\(\s*[;,]?\s*\)")
_OPEN_PAREN_PUNCT = re.compile(r"\(\s*[;,]\s*")
_MAGIC_WORD = re.compile(r"__[A-Z]+__")
_HEADING = re.compile(r"^(=+)\s*(.*?)\s*\1\s*$")
_LIST_MARK = re.compile(r"^[*#:;]+\s*")
_LINK_START = re.compile(r"\[\[")
_BRACKETS = re.compile(r"\[\[|\]\]")
_LINK_TARGET = re.compile(r"[^\[\]|]*")
_RENDER = re.compile(
    r"\[\[(?P<target>[^\[\]|]*)(?:\|(?P<anchor>[^\[\]]*))?\]\](?P<trail>[a-z]+)?"
    r"|\[(?:https?:|ftp:|//)[^\s\]]*(?:[ \t]+(?P<label>[^\]]*))?\]"
    r"|'{2,5}"
    r"|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);"
    r"|<br\s*/?>"
    r"|</?[a-zA-Z][^<>]*>"
    r"|[\t\u00a0][ \t\u00a0]*| [ \t\u00a0]+"
    r"|\[\[|\]\]"
)
_MARKUP_CHARS = re.compile(r"['<&]")
_BOLD = re.compile(r"'''(?!')(.+?)'''")
_TRAILING_SECTIONS = {"see also", "references", "external links", "further reading", "notes",
                      "bibliography", "sources", "footnotes", "citations", "notes and references",
                      "references and notes", "works cited", "other", "gallery", "links"}

HEADING_LINE = "\x01"
LIST_LINE = "\x02"

# Templates whose expansion is prose: name -> index of the positional argument to keep.
_KEEP_ARG = {
    "nowrap": 0, "nobr": 0, "small": 0, "big": 0, "sic": 0, "not a typo": 0, "em": 0,
    "strong": 0, "smallcaps": 0, "sc": 0, "abbr": 0, "ill": 0, "interlanguage link": 0,
    "nihongo": 0, "transl": -1, "lang": 1, "visible anchor": 0, "vanchor": 0, "quote": 0,
    "blockquote": 0, "linktext": 0, "lang-en": 0, "noitalic": 0, "italic title": None,
    "keypress": 0, "mvar": 0, "math": 0, "var": 0, "sub": 0, "sup": 0, "bcn": 0, "w": 0,
    "plainlist": 0, "flatlist": 0, "center": 0, "centre": 0, "nastaliq": 0, "script": 1,
}
_LITERAL = {"ndash": "–", "snd": " – ", "spaced ndash": " – ", "mdash": "—", "spaced en dash": " – ",
            "nbsp": " ", "'": "'", "\"": "\"", "=": "=", "dash": " – ", "en dash": "–",
            "·": " · ", "middot": "·", "pi": "π", "!": "|"}


@dataclass
class Anchor:
    """A wikilink as it appears in the clean text: ``text[start:end]`` is its anchor."""

    start: int
    end: int
    target: str


@dataclass
class CleanPage:
    text: str
    anchors: list[Anchor] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    bold_names: list[str] = field(default_factory=list)


def template_name(body: str) -> str:
    """Normalised name of a template from its body: case, underscores, ``Template:`` prefix."""
    name = body.split("|", 1)[0]
    name = _COMMENT.sub("", name).replace("_", " ")
    name = " ".join(name.split()).lower()
    if name.startswith("template:"):
        name = name[len("template:"):].strip()
    return name


def split_args(body: str) -> list[str]:
    """Split a template body on top-level ``|`` (not inside ``[[...]]``); drops the name."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(body):
        two = body[i:i + 2]
        if two == "[[":
            depth += 1
            i += 2
            continue
        if two == "]]" and depth:
            depth -= 1
            i += 2
            continue
        if body[i] == "|" and depth == 0:
            parts.append(body[start:i])
            start = i + 1
        i += 1
    parts.append(body[start:])
    return parts[1:]


def positional(args: list[str]) -> list[str]:
    return [a for a in args if not re.match(r"^\s*[\w -]+\s*=", a)]


def _expand_template(match: re.Match) -> str:
    """Replace an innermost template with the prose it would show, or nothing."""
    body = match.group(1)
    name = template_name(body)
    if name in _LITERAL:
        return _LITERAL[name]
    if name.startswith("lang-"):
        args = positional(split_args(body))
        return args[0].strip() if args else ""
    if name in ("convert", "cvt"):
        return _convert_text(positional(split_args(body)))
    if name in ("circa", "c."):
        args = positional(split_args(body))
        return "c. " + args[0].strip() if args else "c."
    if name == "as of":
        args = positional(split_args(body))
        return "As of " + " ".join(a.strip() for a in args[:1])
    if name in _KEEP_ARG and _KEEP_ARG[name] is not None:
        args = positional(split_args(body))
        index = _KEEP_ARG[name]
        if args and -len(args) <= index < len(args):
            return args[index].strip()
    return ""


def _convert_text(args: list[str]) -> str:
    """``{{convert|5|km|mi}}`` -> ``5 km``; ranges ``{{convert|5|-|10|km}}`` -> ``5–10 km``."""
    if not args:
        return ""
    if len(args) >= 4 and args[1].strip() in ("-", "to", "–", "and", "or"):
        sep = "–" if args[1].strip() in ("-", "–") else f" {args[1].strip()} "
        return f"{args[0].strip()}{sep}{args[2].strip()} {args[3].strip()}"
    unit = args[1].strip() if len(args) > 1 else ""
    return f"{args[0].strip()} {unit}".strip()


def strip_noise(text: str) -> str:
    """Remove comments, references and blocks that hold no prose (math, galleries, code)."""
    text = _COMMENT.sub("", text)
    text = _REF_SELF.sub("", text)
    text = _REF.sub("", text)
    return _DROP_BLOCK.sub("", text)


def remove_templates(text: str) -> str:
    """Expand or drop templates innermost-first; each round removes one nesting level."""
    while "{{" in text:
        text, count = _INNER_TEMPLATE.subn(_expand_template, text)
        if not count:
            return text.replace("{{", "").replace("}}", "")
    return text


def remove_tables(text: str) -> str:
    """Drop ``{| ... |}`` tables, nested ones included, line by line."""
    if "{|" not in text:
        return text
    kept, depth = [], 0
    for line in text.split("\n"):
        stripped = line.lstrip()
        if stripped.startswith("{|"):
            depth += 1
        elif depth and stripped.startswith("|}"):
            depth -= 1
            continue
        if depth == 0:
            kept.append(line)
    return "\n".join(kept)


def _link_end(text: str, start: int) -> int:
    """Index just past the ``]]`` that closes the ``[[`` at ``start`` (nesting aware)."""
    depth = 0
    for match in _BRACKETS.finditer(text, start):
        depth += 1 if match.group(0) == "[[" else -1
        if depth == 0:
            return match.end()
    return len(text)


def remove_special_links(text: str, titles: TitleNormalizer) -> tuple[str, list[str]]:
    """Drop file, category and interwiki links (keeping category names); keep the rest."""
    out, categories, pos = [], [], 0
    for match in _LINK_START.finditer(text):
        start = match.start()
        if start < pos:
            continue
        target = _LINK_TARGET.match(text, start + 2).group(0)
        if ":" not in target:
            continue
        if target.lstrip().startswith(":"):
            continue
        parsed = titles.parse(target)
        if parsed is not None and parsed[0] == NS_MAIN:
            continue
        end = _link_end(text, start)
        out.append(text[pos:start])
        pos = end
        if parsed is not None and parsed[0] == NS_CATEGORY:
            categories.append(parsed[1].split(":", 1)[1])
    out.append(text[pos:])
    return "".join(out), categories


def mark_lines(text: str) -> str:
    """Headings become a marker line, list items get a marker; trailing sections are cut.

    Consecutive prose lines are one paragraph: a single newline is a space in MediaWiki,
    so it must not end a sentence.  Paragraphs stay separated by a blank line."""
    lines = []
    for line in text.split("\n"):
        heading = _HEADING.match(line)
        if heading:
            if len(heading.group(1)) == 2 and heading.group(2).strip().lower() in _TRAILING_SECTIONS:
                break
            lines.append(HEADING_LINE)
            continue
        stripped = line.strip()
        if not stripped or stripped[0] in "|!":
            lines.append("")
            continue
        if stripped[0] in "*#:;":
            lines.append(LIST_LINE + _LIST_MARK.sub("", stripped))
            continue
        if lines and lines[-1] and lines[-1][0] not in (HEADING_LINE, LIST_LINE):
            lines[-1] += " " + stripped
            continue
        lines.append(stripped)
    return "\n".join(lines)


def _plain(text: str) -> str:
    """Anchor text without quotes, tags or entities (anchors are short: no offsets needed)."""
    if not _MARKUP_CHARS.search(text):
        return " ".join(text.split())
    text = re.sub(r"'{2,5}", "", text)
    text = re.sub(r"<[^<>]*>", "", text)
    return " ".join(html.unescape(text).split())


def render(text: str, titles: TitleNormalizer) -> tuple[str, list[Anchor]]:
    """One left-to-right pass: links -> anchor text (offsets recorded), markup removed."""
    out: list[str] = []
    anchors: list[Anchor] = []
    length = 0
    pos = 0
    for match in _RENDER.finditer(text):
        if match.start() > pos:
            piece = text[pos:match.start()]
            out.append(piece)
            length += len(piece)
        pos = match.end()
        token = match.group(0)
        if match.group("target") is not None:
            target = match.group("target")
            anchor = match.group("anchor")
            if anchor is None:
                anchor = target.lstrip(":")
            elif not anchor.strip():
                anchor = strip_disambiguator(target)
            anchor = _plain(anchor + (match.group("trail") or ""))
            if not anchor:
                continue
            title = titles.article(target)
            if title is not None:
                anchors.append(Anchor(length, length + len(anchor), title))
            piece = anchor
        elif token.startswith("["):
            piece = _plain(match.group("label") or "") if token[1:2] != "[" else ""
        elif token.startswith("'"):
            continue
        elif token.startswith("&"):
            piece = html.unescape(token)
            piece = " " if piece.isspace() else piece
        elif token.startswith("<"):
            piece = " " if token[1:3].lower() == "br" else ""
        else:
            piece = " "
        out.append(piece)
        length += len(piece)
    tail = text[pos:]
    out.append(tail)
    return "".join(out), anchors


def bold_names(lead: str) -> list[str]:
    """Bold spans of the lead paragraph: the names the article gives its own subject."""
    names = []
    for match in _BOLD.finditer(lead):
        name = _plain(re.sub(r"\[\[(?:[^\]|]*\|)?([^\]]*)\]\]", r"\1", match.group(1)))
        if name and len(name) < 120 and name not in names:
            names.append(name)
    return names[:8]


def clean_page(wikitext: str, titles: TitleNormalizer) -> CleanPage:
    """Clean an article's wikitext into prose lines with anchors and categories."""
    text = strip_noise(wikitext)
    text = _MAGIC_WORD.sub("", text)
    text = remove_templates(text)
    text = remove_tables(text)
    text = _EMPTY_PARENS.sub("", _OPEN_PAREN_PUNCT.sub("(", text))
    text, categories = remove_special_links(text, titles)
    first_heading = _HEADING_ANYWHERE.search(text)
    lead = text[:first_heading.start()] if first_heading else text
    text = mark_lines(text)
    rendered, anchors = render(text, titles)
    return CleanPage(rendered, anchors, categories, bold_names(lead))


_HEADING_ANYWHERE = re.compile(r"^=+[^=\n].*=+\s*$", re.M)
_DISAMBIG = re.compile(
    r"\{\{\s*(?:template:)?\s*(?:disambiguation|disambig|dab|disamb|hndis|geodis|"
    r"set index article|sia|surname|given name|letter-number combination disambiguation|"
    r"[\w ]+ disambiguation)\s*(?:\||\}\})", re.I)


def is_disambiguation(title: str, wikitext: str) -> bool:
    """A disambiguation page by its title suffix or a disambiguation template."""
    return title.endswith("(disambiguation)") or bool(_DISAMBIG.search(wikitext))

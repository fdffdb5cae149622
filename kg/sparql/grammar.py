"""A SPARQL 1.1 tokenizer that follows the grammar's terminals (§19.8), and what the
safety checks read off its tokens: the query form, ``SERVICE`` clauses, the nesting depth.

Why a tokenizer and not regular expressions over the text: whether ``#``, ``'`` or ``"``
opens a comment or a string depends on the token it sits in.  ``ex:a\\#b`` is one
prefixed name (``PN_LOCAL_ESC``), ``<urn:a#b>`` one IRI, ``"a#b"`` one string; a check
that blanks "comments" without knowing that can be made to blank a real ``SERVICE``
clause.  Tokens are matched where the grammar would match them, longest first, so a
keyword token is a keyword wherever the parser could read one.

``<`` is read as an IRI whenever ``IRIREF`` matches (as a lexer-first parser such as
Jena's does); where Oxigraph reads it as *less than* instead, the keyword cannot hide
in the IRI: ``IRIREF`` admits no space, ``<``, ``>``, ``{`` or ``}``, and ``SERVICE``
needs its target and a ``{`` after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# --- terminals (names as in the SPARQL 1.1 grammar) --------------------------------------

_PN_CHARS_BASE = ("A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF"
                  "\u200C-\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF"
                  "\uFDF0-\uFFFD\U00010000-\U000EFFFF")
_PN_CHARS_U = _PN_CHARS_BASE + "_"
_PN_CHARS = _PN_CHARS_U + r"\-0-9\u00B7\u0300-\u036F\u203F-\u2040"
_PLX = r"(?:%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%])"
_PN_PREFIX = f"[{_PN_CHARS_BASE}](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"
_PN_LOCAL = (f"(?:[{_PN_CHARS_U}:0-9]|{_PLX})"
             f"(?:(?:[{_PN_CHARS}.:]|{_PLX})*(?:[{_PN_CHARS}:]|{_PLX}))?")
_VARNAME = f"[{_PN_CHARS_U}0-9][{_PN_CHARS_U}0-9\u00B7\u0300-\u036F\u203F-\u2040]*"
_ECHAR = r"\\[tbnrf\\\"']"
_EXPONENT = r"[eE][+-]?[0-9]+"

# One alternative per token kind; order matters only where two could match at the same
# place (long strings before short ones, prefixed names before bare names).
_TOKEN = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in (
    ("ws", r"[\x20\t\r\n]+"),
    ("comment", r"#[^\r\n]*"),
    ("iri", r"<[^<>\"{}|^`\\\x00-\x20]*>"),
    ("string", f"'''(?:(?:'|'')?(?:[^'\\\\]|{_ECHAR}))*'''"
               f'|"""(?:(?:"|"")?(?:[^"\\\\]|{_ECHAR}))*"""'
               f"|'(?:[^'\\\\\\n\\r]|{_ECHAR})*'"
               f'|"(?:[^"\\\\\\n\\r]|{_ECHAR})*"'),
    ("pname", f"(?:{_PN_PREFIX})?:(?:{_PN_LOCAL})?"),
    ("bnode", f"_:[{_PN_CHARS_U}0-9](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"),
    ("var", f"[?$]{_VARNAME}"),
    ("langtag", r"@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*(?:--[a-zA-Z]+)?"),
    ("number", f"[0-9]+\\.[0-9]*{_EXPONENT}|\\.[0-9]+{_EXPONENT}|[0-9]+{_EXPONENT}"
               r"|[0-9]*\.[0-9]+|[0-9]+"),
    ("name", r"[A-Za-z_][A-Za-z0-9_]*"),
    ("punct", r"<<\(|\)>>|<<|>>|\{\||\|\}|\^\^|&&|\|\||!=|<=|>=|[{}()\[\].,;*+\-/|^!=<>?~]"),
    ("other", r"[\s\S]"),
)))

_OPEN, _CLOSE = "{([", "})]"
# Tokens that add a level to the tree Oxigraph builds and walks recursively: operators,
# and the graph-pattern keywords that wrap what precedes them (a chain of n BINDs or
# UNIONs is n levels deep, not one).
_CHAINING_PUNCT = frozenset("! = != < > <= >= && || + - * / | ^ . ;".split())
_CHAINING_WORDS = frozenset(("BIND", "OPTIONAL", "MINUS", "UNION", "FILTER", "GRAPH",
                             "SERVICE", "VALUES", "IN", "NOT", "EXISTS"))
UPDATE_WORDS = frozenset(("INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY",
                          "MOVE", "ADD", "WITH"))
QUERY_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
MAX_DEPTH = 1000


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int


@dataclass(frozen=True)
class QueryShape:
    """What the checks need to know of a query, read off its tokens."""

    form: str            # SELECT, ASK, CONSTRUCT, DESCRIBE, or the update keyword
    update: bool         # the first keyword after the prologue is an update operation
    service: bool        # a SERVICE keyword token anywhere
    depth: int           # deepest nesting, each operator and pattern keyword one level


class QueryTooDeep(ValueError):
    """Nesting past the limit: refused before the parser recurses into it."""


def tokens(query: str):
    """The significant tokens of ``query`` (whitespace and comments dropped)."""
    for match in _TOKEN.finditer(query):
        kind = match.lastgroup
        if kind not in ("ws", "comment"):
            yield Token(kind, match.group(), match.start())


def shape(query: str, max_depth: int = MAX_DEPTH) -> QueryShape:
    """Read the form, ``SERVICE`` use and depth; raise :class:`QueryTooDeep` as soon as
    the depth passes ``max_depth`` (so a 10,000-deep query costs microseconds)."""
    form, update, service = None, False, False
    # One frame per open bracket: the chain of operators seen at that level, and the
    # deepest weight of its closed children.
    frames = [[0, 0]]
    deepest = 0
    for token in tokens(query):
        text = token.text
        word = text.upper() if token.kind == "name" else None
        if form is None and word and word not in ("PREFIX", "BASE"):
            form, update = word, word in UPDATE_WORDS
        if word == "SERVICE":
            service = True
        if token.kind == "punct" and text in _OPEN:
            frames.append([0, 0])
        elif token.kind == "punct" and text in _CLOSE and len(frames) > 1:
            chain, child = frames.pop()
            frames[-1][1] = max(frames[-1][1], chain + child + 1)
        elif (token.kind == "punct" and text in _CHAINING_PUNCT) or word in _CHAINING_WORDS:
            frames[-1][0] += 1
        else:
            continue
        depth = len(frames) - 1 + sum(chain for chain, _ in frames) + frames[-1][1]
        deepest = max(deepest, depth)
        if deepest > max_depth:
            line, column = _position(query, token.start)
            raise QueryTooDeep(f"query nested too deeply at {line}:{column}: more than "
                               f"{max_depth} levels of brackets, operators and pattern "
                               "keywords (the limit keeps the parser's recursion bounded)")
    return QueryShape(form or "", update, service, deepest)


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1

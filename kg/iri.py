"""The IRI scheme: where entities, properties, classes and the project's own terms live.

Under a configurable base (default :data:`DEFAULT_BASE`):

- entities ``<base>resource/<Title_with_underscores>``
- infobox properties ``<base>property/<key>``
- classes from infobox names ``<base>class/<Name>``
- the project's own terms ``<base>ontology/<term>``
- quantity units, as literal datatypes, ``<base>unit/<code>``

Titles keep their Unicode and ``/``; characters an IRI may not hold (space is ``_``,
``<>"{}|\\^`%`` and controls) and ``?``/``#`` are percent-encoded, so every title maps to
exactly one IRI and back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from common.vocab import PREFIXES

DEFAULT_BASE = "http://example.org/wikikg/"
NAMESPACES = ("resource", "property", "class", "ontology", "unit")
# ASCII outside the IRI-safe set; non-ASCII characters stay as they are
_UNSAFE = re.compile(r"[^0-9A-Za-z/:@!$&'()*+,;=\-._~\x80-\U0010ffff]")


def _iri_quote(text: str) -> str:
    """Percent-encode what an IRI forbids, keeping non-ASCII characters as they are.

    Most titles need nothing: one regex search answers that (this runs for every link)."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(lambda match: quote(match.group(), safe=""), text)


@dataclass(frozen=True)
class IriScheme:
    base: str = DEFAULT_BASE

    def __post_init__(self):
        if not self.base.startswith(("http://", "https://", "urn:")):
            raise ValueError(f"base IRI must be absolute (http://, https:// or urn:): {self.base!r}")
        if not self.base.endswith(("/", "#", ":")):
            object.__setattr__(self, "base", self.base + "/")

    def resource(self, title: str) -> str:
        return f"{self.base}resource/{_iri_quote(title.replace(' ', '_'))}"

    def property(self, key: str) -> str:
        return f"{self.base}property/{_iri_quote(key.replace(' ', '_'))}"

    def klass(self, name: str) -> str:
        return f"{self.base}class/{_iri_quote(name.replace(' ', '_'))}"

    def ontology(self, term: str) -> str:
        return f"{self.base}ontology/{term}"

    def unit(self, code: str) -> str:
        return f"{self.base}unit/{_iri_quote(code)}"

    def title_of(self, iri: str) -> str | None:
        """The title behind an entity IRI, or ``None`` if the IRI is not an entity of ours."""
        prefix = f"{self.base}resource/"
        if not iri.startswith(prefix):
            return None
        return unquote(iri[len(prefix):]).replace("_", " ")

    def is_entity(self, iri: str) -> bool:
        return iri.startswith(f"{self.base}resource/")

    def prefixes(self) -> dict[str, str]:
        """Prefix -> namespace: the graph's own (``resource:``, ``property:``, …) and the
        standard vocabularies (``rdf:``, ``rdfs:``, ``owl:``, ``xsd:``, ``dct:``)."""
        return {**{name: f"{self.base}{name}/" for name in NAMESPACES}, **PREFIXES}

    def short(self, iri: str) -> str:
        """``resource:Apollo_11``, ``rdfs:label``: an IRI as a prefixed name where one fits."""
        for name, namespace in sorted(self.prefixes().items(), key=lambda kv: -len(kv[1])):
            if iri.startswith(namespace) and len(iri) > len(namespace):
                return f"{name}:{iri[len(namespace):]}"
        return iri


def class_name(infobox: str) -> str:
    """``infobox u.s. state`` -> ``U.s. state``; ``taxobox`` -> ``Taxobox``."""
    name = infobox.strip()
    for prefix in ("infobox ", "infobox_"):
        if name.lower().startswith(prefix):
            name = name[len(prefix):]
    name = name.strip() or infobox
    return name[:1].upper() + name[1:]

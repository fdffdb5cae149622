"""Plain record types that flow out of extraction and into every later stage.

They are dataclasses with ``to_json``/``from_json`` so that the on-disk JSONL schema
(documented in ``docs/formats.md``) is defined in exactly one place.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class SiteInfo:
    """What ``<siteinfo>`` says about the wiki: language, title case rule and namespaces."""

    dbname: str = ""
    lang: str = "en"
    base: str = ""
    case: str = "first-letter"
    namespaces: dict[int, str] = field(default_factory=dict)


@dataclass
class Page:
    """One ``<page>`` of a dump: the latest revision's wikitext and its identifiers."""

    id: int
    title: str
    ns: int
    text: str
    revision_id: int | None = None
    timestamp: str = ""
    redirect: str | None = None
    model: str = "wikitext"
    line: int = 0
    source: str = ""


@dataclass
class Mention:
    """A span of a sentence that names an entity.

    ``source`` says how it was found: ``wikilink`` (an anchor), ``title`` (the page's own
    title, bold lead name or a redirect to it), ``alias`` (text linked elsewhere on the same
    page) or ``ner`` (spaCy NER, linked through the alias table when it has a clear winner).
    """

    start: int
    end: int
    surface: str
    title: str | None
    source: str
    label: str | None = None

    def to_json(self) -> dict:
        data = {"start": self.start, "end": self.end, "surface": self.surface,
                "title": self.title, "source": self.source}
        if self.label is not None:
            data["label"] = self.label
        return data

    @classmethod
    def from_json(cls, data: dict) -> Mention:
        return cls(**data)


@dataclass
class Sentence:
    id: str
    page: str
    page_id: int
    text: str
    mentions: list[Mention]

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "page": self.page,
            "page_id": self.page_id,
            "text": self.text,
            "mentions": [m.to_json() for m in self.mentions],
        }

    @classmethod
    def from_json(cls, data: dict) -> Sentence:
        mentions = [Mention.from_json(m) for m in data["mentions"]]
        return cls(data["id"], data["page"], data["page_id"], data["text"], mentions)


@dataclass
class Value:
    """A typed infobox value.

    ``kind`` is one of ``entity`` (``value`` is a page title), ``date``, ``integer``,
    ``decimal``, ``quantity`` (a number with ``unit``) or ``string`` (with ``lang``).
    ``datatype`` is the XSD datatype of the lexical form (``xsd:date``, ``xsd:gYear`` ...).
    """

    kind: str
    value: str
    datatype: str | None = None
    unit: str | None = None
    lang: str | None = None


@dataclass
class Fact:
    subject: str
    page_id: int
    infobox: str
    property: str
    raw_property: str
    value: Value

    def to_json(self) -> dict:
        data = {
            "subject": self.subject,
            "page_id": self.page_id,
            "infobox": self.infobox,
            "property": self.property,
            "raw_property": self.raw_property,
        }
        value = self.value
        data.update(kind=value.kind, value=value.value)
        for name in ("datatype", "unit", "lang"):
            if getattr(value, name) is not None:
                data[name] = getattr(value, name)
        return data

    @classmethod
    def from_json(cls, data: dict) -> Fact:
        value = Value(
            kind=data["kind"],
            value=data["value"],
            datatype=data.get("datatype"),
            unit=data.get("unit"),
            lang=data.get("lang"),
        )
        return cls(
            data["subject"], data["page_id"], data["infobox"], data["property"],
            data["raw_property"], value,
        )


@dataclass
class Article:
    """An article (namespace 0, not a redirect) and what the page says about itself."""

    id: int
    title: str
    revision_id: int | None
    timestamp: str
    lang: str
    abstract: str
    categories: list[str]
    infoboxes: list[str]
    bold_names: list[str]
    disambiguation: bool
    redirects: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        data = asdict(self)
        data["label"] = self.title
        return data

    @classmethod
    def from_json(cls, data: dict) -> Article:
        data = dict(data)
        data.pop("label", None)
        return cls(**data)


@dataclass
class PageError:
    """A page or file that could not be extracted, as written to ``errors.jsonl``."""

    file: str
    reason: str
    page_id: int | None = None
    title: str | None = None
    line: int | None = None
    kind: str = "page"

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

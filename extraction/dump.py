"""Stream pages out of MediaWiki XML export files with bounded memory.

Reads ``.xml``, ``.xml.bz2`` (single or multistream: Python's bz2 reader follows
concatenated streams), ``.xml.gz``, detected by their magic bytes rather than their name.
Parsing is done with expat directly: it is the fastest parser in the standard library,
gives line numbers for error reports, and lets us forbid DTDs and entity declarations,
so no external entity is ever resolved and no entity expansion bomb can be declared.
"""

from __future__ import annotations

import bz2
import gzip
import logging
import os
import re
import xml.parsers.expat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from common.errors import InputError
from extraction.records import Page, SiteInfo

log = logging.getLogger(__name__)

READ_SIZE = 1 << 20

_PAGE_FIELDS = {("page", "title"), ("page", "ns"), ("page", "id"),
                ("revision", "id"), ("revision", "timestamp"), ("revision", "text"),
                ("revision", "model")}
_SITE_FIELDS = {("siteinfo", "dbname"), ("siteinfo", "base"), ("siteinfo", "case"),
                ("namespaces", "namespace")}


class DumpFormatError(InputError):
    """The dump is not well-formed XML (or its compressed stream is cut) at ``file:line``."""

    def __init__(self, file: str, line: int, reason: str):
        super().__init__(f"{file}:{line}: {reason}")
        self.file = file
        self.line = line
        self.reason = reason

    def __reduce__(self):
        """Picklable with its fields, so it crosses process and Ray task boundaries intact."""
        return type(self), (self.file, self.line, self.reason)


class ForbiddenXMLError(Exception):
    """The document declares a DTD or entities, which a MediaWiki export never does."""


def open_binary(path: str | os.PathLike) -> BinaryIO:
    """Open a dump for reading, decompressing by magic bytes (bz2, gzip) or as plain XML."""
    with open(path, "rb") as probe:
        magic = probe.read(3)
    if magic == b"BZh":
        return bz2.open(path, "rb")
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return open(path, "rb")


def _lang_from_dbname(dbname: str) -> str | None:
    match = re.fullmatch(r"([a-z_]+?)(wiki|wiktionary|wikisource|wikibooks|wikinews|wikiquote|"
                         r"wikivoyage|wikiversity)", dbname)
    return match.group(1).replace("_", "-") if match else None


class _Handler:
    """Expat callbacks that turn the element stream into :class:`Page` records.

    Only the fields a page needs are buffered; a page's text is joined once at ``</page>``.
    """

    def __init__(self, parser, source: str):
        self.parser = parser
        self.source = source
        self.stack: list[str] = []
        self.buffer: list[str] | None = None
        self.fields: dict[str, str] = {}
        self.page_line = 0
        self.redirect: str | None = None
        self.ready: list[Page] = []
        self.root_lang: str | None = None
        self.site: dict = {"namespaces": {}}
        self.siteinfo_done = False
        self.ns_key = 0

    def start(self, name: str, attrs: dict) -> None:
        parent = self.stack[-1] if self.stack else ""
        self.stack.append(name)
        if name == "mediawiki":
            self.root_lang = attrs.get("xml:lang")
        elif name == "page":
            self.fields = {}
            self.redirect = None
            self.page_line = self.parser.CurrentLineNumber
        elif name == "redirect" and parent == "page":
            self.redirect = attrs.get("title", "")
        elif name == "namespace" and parent == "namespaces":
            self.ns_key = int(attrs.get("key", "0"))
        if (parent, name) in _PAGE_FIELDS or (parent, name) in _SITE_FIELDS:
            self.buffer = []

    def data(self, text: str) -> None:
        if self.buffer is not None:
            self.buffer.append(text)

    def end(self, name: str) -> None:
        self.stack.pop()
        parent = self.stack[-1] if self.stack else ""
        if self.buffer is not None:
            value = "".join(self.buffer)
            self.buffer = None
            if parent == "namespaces":
                self.site["namespaces"][self.ns_key] = value.strip()
            elif parent == "siteinfo":
                self.site[name] = value.strip()
            elif (parent, name) == ("revision", "id"):
                self.fields.setdefault("revision_id", value)
            elif (parent, name) == ("revision", "text"):
                self.fields["text"] = value
            else:
                self.fields.setdefault(name, value)
        if name == "siteinfo":
            self.siteinfo_done = True
        elif name == "page":
            self.ready.append(self._page())

    def _page(self) -> Page:
        f = self.fields
        revision = f.get("revision_id", "").strip()
        return Page(
            id=int(f.get("id", "0").strip() or 0),
            title=f.get("title", "").strip(),
            ns=int(f.get("ns", "0").strip() or 0),
            text=f.get("text", ""),
            revision_id=int(revision) if revision.isdigit() else None,
            timestamp=f.get("timestamp", "").strip(),
            redirect=self.redirect,
            model=f.get("model", "wikitext").strip() or "wikitext",
            line=self.page_line,
            source=self.source,
        )

    def siteinfo(self) -> SiteInfo:
        dbname = self.site.get("dbname", "")
        lang = _lang_from_dbname(dbname) or self.root_lang or "en"
        return SiteInfo(
            dbname=dbname,
            lang=lang,
            base=self.site.get("base", ""),
            case=self.site.get("case", "first-letter"),
            namespaces=dict(self.site["namespaces"]),
        )


def _forbid(*_args) -> None:
    raise ForbiddenXMLError("DTD and entity declarations are not allowed in a dump")


def _make_parser(source: str) -> tuple[xml.parsers.expat.XMLParserType, _Handler]:
    parser = xml.parsers.expat.ParserCreate()
    parser.buffer_text = True
    parser.buffer_size = 1 << 16
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    handler = _Handler(parser, source)
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.data
    parser.StartDoctypeDeclHandler = _forbid
    parser.EntityDeclHandler = _forbid
    parser.ExternalEntityRefHandler = _forbid
    return parser, handler


class DumpReader:
    """Iterate the pages of one dump file; ``siteinfo`` is filled once it has been read.

    A fault in the XML (or a truncated compressed stream) raises :class:`DumpFormatError`
    *after* every page completed before the fault has been yielded, so callers keep them.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.siteinfo = SiteInfo()
        self.bytes_read = 0

    def __iter__(self) -> Iterator[Page]:
        parser, handler = _make_parser(str(self.path))
        with open_binary(self.path) as stream:
            for chunk in _chunks(stream):
                if isinstance(chunk, Exception):
                    yield from self._drain(handler)
                    raise DumpFormatError(str(self.path), parser.CurrentLineNumber,
                                          f"compressed stream is damaged or cut: {chunk}") from chunk
                self.bytes_read += len(chunk)
                try:
                    parser.Parse(chunk, not chunk)
                except xml.parsers.expat.ExpatError as exc:
                    yield from self._drain(handler)
                    raise DumpFormatError(str(self.path), exc.lineno,
                                          xml.parsers.expat.ErrorString(exc.code)) from exc
                except ForbiddenXMLError as exc:
                    raise DumpFormatError(str(self.path), parser.CurrentLineNumber,
                                          str(exc)) from exc
                yield from self._drain(handler)
                if not chunk:
                    return

    def _drain(self, handler: _Handler) -> Iterator[Page]:
        if handler.siteinfo_done:
            self.siteinfo = handler.siteinfo()
        ready, handler.ready = handler.ready, []
        yield from ready


def _chunks(stream: BinaryIO) -> Iterator[bytes | Exception]:
    """Decompressed chunks, ending with ``b""``, or with the exception a damaged stream raised."""
    while True:
        try:
            chunk = stream.read(READ_SIZE)
        except (EOFError, OSError) as exc:
            yield exc
            return
        yield chunk
        if not chunk:
            return


def read_siteinfo(path: str | os.PathLike) -> SiteInfo:
    """Read only the ``<siteinfo>`` header of a dump (stops at the first page)."""
    parser, handler = _make_parser(str(path))
    with open_binary(path) as stream:
        while not handler.siteinfo_done and not handler.ready:
            chunk = stream.read(1 << 16)
            try:
                parser.Parse(chunk, not chunk)
            except xml.parsers.expat.ExpatError as exc:
                raise DumpFormatError(str(path), exc.lineno,
                                      xml.parsers.expat.ErrorString(exc.code)) from exc
            if not chunk:
                break
    return handler.siteinfo()


def parse_page_fragment(xml_bytes: bytes, source: str) -> list[Page]:
    """Parse a run of ``<page>`` elements cut out of a dump (one or more bz2 streams).

    Anything before the first ``<page>`` (the header stream) and after the last
    ``</page>`` (the footer stream) is dropped; the rest is wrapped in a root element.
    Anything else there means the bytes were not cut at page boundaries, and dropping it
    would lose pages silently, so that raises :class:`DumpFormatError`.
    """
    first = xml_bytes.find(b"<page>")
    last = xml_bytes.rfind(b"</page>")
    head = xml_bytes if first < 0 else xml_bytes[:first]
    tail = b"" if last < 0 else xml_bytes[last + len(b"</page>"):]
    if not (_outside_pages(head) and _outside_pages(tail)) or last < first:
        raise DumpFormatError(source, 1, "bytes do not start and end at page boundaries "
                                         "(a stream that splits a page?)")
    if first < 0:
        return []
    body = b"<pages>" + xml_bytes[first:last + len(b"</page>")] + b"</pages>"
    parser, handler = _make_parser(source)
    try:
        parser.Parse(body, True)
    except xml.parsers.expat.ExpatError as exc:
        raise DumpFormatError(source, exc.lineno, xml.parsers.expat.ErrorString(exc.code)) from exc
    except ForbiddenXMLError as exc:
        raise DumpFormatError(source, parser.CurrentLineNumber, str(exc)) from exc
    return handler.ready


def _outside_pages(xml_bytes: bytes) -> bool:
    """Whether bytes beside the pages are only whitespace, the dump header or its footer."""
    rest = xml_bytes.strip()
    return (rest in (b"", b"</mediawiki>")
            or (rest.startswith((b"<mediawiki", b"<?xml")) and b"</page>" not in rest))

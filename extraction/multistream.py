"""Multistream dumps: the index, byte ranges of whole bz2 streams, and a re-packer.

Wikimedia's ``*-multistream.xml.bz2`` is a concatenation of bz2 streams (the header, then
100 pages per stream, then the footer) and ``*-multistream-index.txt.bz2`` lists
``offset:page_id:title`` for every page.  A byte range that starts and ends on stream
boundaries decompresses on its own, so extraction of a range is a pure function of
(file, start, end): the unit of work for a process pool here or Ray/Spark elsewhere.
"""

from __future__ import annotations

import bz2
import html
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

from extraction.dump import DumpFormatError, open_binary

log = logging.getLogger(__name__)

_PAGE_ID = re.compile(rb"<id>(\d+)</id>")
_TITLE = re.compile(rb"<title>(.*?)</title>", re.S)


def find_index(path: str | os.PathLike) -> Path | None:
    """The index file beside a multistream dump, by Wikimedia's naming, if present."""
    path = Path(path)
    name = path.name
    for suffix in (".xml.bz2", ".bz2"):
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            for candidate in (f"{stem}-index.txt.bz2", f"{stem}-index.txt"):
                if (path.parent / candidate).is_file():
                    return path.parent / candidate
    return None


def read_index(index: str | os.PathLike) -> Iterator[tuple[int, int, str]]:
    """``(offset, page_id, title)`` for each line of an index (``.txt`` or ``.txt.bz2``)."""
    index = Path(index)
    opener = bz2.open if index.suffix == ".bz2" else open
    with opener(index, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            offset, page_id, title = (line.split(":", 2) + ["", ""])[:3]
            if not offset.isdigit() or not page_id.isdigit():
                raise DumpFormatError(str(index), number, f"not an index line: {line[:80]!r}")
            yield int(offset), int(page_id), title


def stream_ranges(path: str | os.PathLike, index: str | os.PathLike
                  ) -> Iterator[tuple[int, int, int]]:
    """``(start, end, pages)``: one range per stream of pages, in file order."""
    offsets: list[int] = []
    pages: dict[int, int] = {}
    for offset, _page_id, _title in read_index(index):
        if offset not in pages:
            offsets.append(offset)
            pages[offset] = 0
        pages[offset] += 1
    offsets.sort()
    size = os.path.getsize(path)
    for i, start in enumerate(offsets):
        end = offsets[i + 1] if i + 1 < len(offsets) else size
        yield start, end, pages[start]


def decompress_range(path: str | os.PathLike, start: int, end: int) -> bytes:
    """Decompress the complete bz2 streams that lie in ``[start, end)`` of a file."""
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read(end - start)
    out = []
    while data:
        decompressor = bz2.BZ2Decompressor()
        try:
            out.append(decompressor.decompress(data))
        except OSError as exc:
            raise DumpFormatError(str(path), 0, f"bytes {start}-{end}: bad bz2 data: {exc}") from exc
        if not decompressor.eof:
            raise DumpFormatError(str(path), 0, f"bytes {start}-{end}: bz2 stream is cut short")
        data = decompressor.unused_data
    return b"".join(out)


def repack_multistream(source: str | os.PathLike, target: str | os.PathLike,
                       pages_per_stream: int = 100) -> Path:
    """Re-pack any dump as Wikimedia multistream (+ index): header, N pages a stream, footer.

    Returns the index path (``<target stem>-index.txt.bz2``).
    """
    target = Path(target)
    if not target.name.endswith(".xml.bz2"):
        raise ValueError(f"{target}: a multistream dump must be named *.xml.bz2")
    index_path = target.parent / (target.name[: -len(".xml.bz2")] + "-index.txt.bz2")
    with open_binary(source) as stream:
        xml = stream.read()
    first = xml.find(b"<page>")
    if first < 0:
        raise DumpFormatError(str(source), 0, "no <page> element")
    header_end = xml.rfind(b"\n", 0, first) + 1
    footer_start = xml.rfind(b"</page>") + len(b"</page>\n")
    tmp_target = target.with_name(target.name + ".tmp")
    tmp_index = index_path.with_name(index_path.name + ".tmp")
    with open(tmp_target, "wb") as out, bz2.open(tmp_index, "wt", encoding="utf-8") as index:
        out.write(bz2.compress(xml[:header_end]))
        pages = _split_pages(xml, header_end, footer_start)
        for i in range(0, len(pages), pages_per_stream):
            group = pages[i:i + pages_per_stream]
            offset = out.tell()
            for raw in group:
                page_id = _PAGE_ID.search(raw)
                title = _TITLE.search(raw)
                index.write(f"{offset}:{int(page_id.group(1)) if page_id else 0}:"
                            f"{html.unescape(title.group(1).decode()) if title else ''}\n")
            out.write(bz2.compress(b"".join(group)))
        out.write(bz2.compress(xml[footer_start:]))
    tmp_target.replace(target)
    tmp_index.replace(index_path)
    return index_path


def _split_pages(xml: bytes, start: int, end: int) -> list[bytes]:
    pages, pos = [], start
    while pos < end:
        close = xml.find(b"</page>", pos, end)
        if close < 0:
            break
        stop = xml.find(b"\n", close) + 1 or close + len(b"</page>")
        pages.append(xml[pos:stop])
        pos = stop
    return pages

"""Multistream dumps: the index, byte ranges of whole bz2 streams, and a re-packer.

Wikimedia's ``*-multistream.xml.bz2`` is a concatenation of bz2 streams (the header, then
100 pages per stream, then the footer) and ``*-multistream-index.txt.bz2`` lists
``offset:page_id:title`` for every page.  A byte range that starts and ends on stream
boundaries decompresses on its own, so extraction of a range is a pure function of
(file, start, end): the unit of work for a process pool or a Ray cluster
(:mod:`extraction.engines`).  Without the index, :func:`scan_stream_ranges` finds the
stream boundaries from the compressed bytes alone.
"""

from __future__ import annotations

import bz2
import codecs
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


# A stream starts with "BZh" + level, then a block header (pi) or, if empty, the end-of-stream
# marker (sqrt pi); it ends with that marker and a 32-bit CRC, padded to a whole byte.
_STREAM_START = re.compile(rb"BZh[1-9](?:1AY&SY|\x17rE8P\x90)")
_END_MARKER = 0x177245385090
_MAX_HEADER_STREAM = 4 << 20


def stream_starts(path: str | os.PathLike, block: int = 16 << 20) -> Iterator[int]:
    """Offsets of the bz2 streams of a file, found by scanning the compressed bytes.

    A candidate is the 10-byte stream-start magic *directly after* the previous stream's
    end-of-stream marker, so a chance occurrence inside compressed data (about 2**-80 a
    byte for the start magic alone) would also have to fake that 80-bit trailer.  Reading
    is I/O bound (~1 GB/s), unlike decompressing stream by stream to follow
    ``unused_data``, which costs one full bz2 decompression (~2 MB/s of input a core
    here: hours for a 22 GB dump) in the one process that plans the work.
    """
    carry, base = b"", 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(block)
            data = carry + chunk
            for match in _STREAM_START.finditer(data):
                at = match.start()
                if match.end() > len(carry) and (base + at == 0 or _ends_stream(data[at - 11:at])):
                    yield base + at
            if not chunk:
                return
            keep = min(len(data), 20)
            carry, base = data[-keep:], base + len(data) - keep


def _ends_stream(trailer: bytes) -> bool:
    """Whether 11 bytes end with a bz2 end-of-stream marker + CRC + 0-7 zero padding bits."""
    if len(trailer) < 11:
        return False
    bits = int.from_bytes(trailer, "big")
    return any(bits & ((1 << pad) - 1) == 0
               and (bits >> (pad + 32)) & ((1 << 48) - 1) == _END_MARKER for pad in range(8))


def scan_stream_ranges(path: str | os.PathLike) -> list[tuple[int, int, None]] | None:
    """``(start, end, None)`` per stream after the header, for a multistream dump without index.

    ``None`` when the file is not cut at pages the way Wikimedia cuts it: a single stream,
    or streams that split pages (``pbzip2``/``lbzip2`` output cuts every 900 kB), which
    must be read by one reader.  Only the first two streams are decompressed to decide.
    Page counts are unknown until the ranges are mapped.
    """
    header_end = _header_stream_end(path)
    if header_end is None or not _starts_with_page(path, header_end):
        return None
    starts = [start for start in stream_starts(path) if start >= header_end]
    ends = starts[1:] + [os.path.getsize(path)]
    return [(start, end, None) for start, end in zip(starts, ends)]


def _header_stream_end(path: str | os.PathLike) -> int | None:
    """Where the first stream ends, if it is a short stream holding only the dump header."""
    decompressor = bz2.BZ2Decompressor()
    out = bytearray()
    with open(path, "rb") as handle:
        while not decompressor.eof:
            data = handle.read(1 << 16)
            if not data or handle.tell() > _MAX_HEADER_STREAM:
                return None
            try:
                out += decompressor.decompress(data)
            except OSError:
                return None
        end = handle.tell() - len(decompressor.unused_data)
    return None if b"<page>" in out or b"<siteinfo>" not in out else end


def _starts_with_page(path: str | os.PathLike, offset: int) -> bool:
    """Whether the stream at ``offset`` decompresses to text that opens with ``<page>``."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read(2 << 20)
    try:
        head = bz2.BZ2Decompressor().decompress(data, max_length=4096)
    except OSError:
        return False
    return head.lstrip().startswith(b"<page>")


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

    Streamed (a whole English dump never sits in memory), written to temporary names and
    renamed; a UTF-16 dump is re-encoded as UTF-8, as Wikimedia's dumps are; the target's
    folder is created.  Returns the index path (``<target stem>-index.txt.bz2``).
    """
    target = Path(target)
    if not target.name.endswith(".xml.bz2"):
        raise ValueError(f"{target}: a multistream dump must be named *.xml.bz2")
    target.parent.mkdir(parents=True, exist_ok=True)
    index_path = target.parent / (target.name[: -len(".xml.bz2")] + "-index.txt.bz2")
    tmp_target = target.with_name(target.name + ".tmp")
    tmp_index = index_path.with_name(index_path.name + ".tmp")
    with open_binary(source) as stream, open(tmp_target, "wb") as out, \
            bz2.open(tmp_index, "wt", encoding="utf-8") as index:
        parts = _dump_parts(_utf8_chunks(stream), str(source))
        out.write(bz2.compress(next(parts)))  # the header
        group: list[bytes] = []
        for kind, raw in parts:
            if kind == "page":
                group.append(raw)
            if group and (kind == "footer" or len(group) == pages_per_stream):
                _write_stream(out, index, group)
                group = []
            if kind == "footer":
                out.write(bz2.compress(raw))
    tmp_target.replace(target)
    tmp_index.replace(index_path)
    return index_path


def _write_stream(out, index, pages: list[bytes]) -> None:
    offset = out.tell()
    for raw in pages:
        page_id = _PAGE_ID.search(raw)
        title = _TITLE.search(raw)
        index.write(f"{offset}:{int(page_id.group(1)) if page_id else 0}:"
                    f"{html.unescape(title.group(1).decode()) if title else ''}\n")
    out.write(bz2.compress(b"".join(pages)))


def _utf8_chunks(stream, size: int = 1 << 20) -> Iterator[bytes]:
    """The dump's bytes in UTF-8: a UTF-16 dump (a byte-order mark) is decoded as it is
    read, and its XML declaration made to say so."""
    first = stream.read(size)
    if not first.startswith((b"\xff\xfe", b"\xfe\xff")):
        yield first
        yield from iter(lambda: stream.read(size), b"")
        return
    decoder = codecs.getincrementaldecoder("utf-16")()
    head = decoder.decode(first).encode("utf-8")
    yield re.sub(rb"(<\?xml[^>]*encoding=[\"'])utf-16([\"'])", rb"\1utf-8\2", head, count=1,
                 flags=re.I)
    for chunk in iter(lambda: stream.read(size), b""):
        yield decoder.decode(chunk).encode("utf-8")
    yield decoder.decode(b"", final=True).encode("utf-8")


def _dump_parts(chunks: Iterator[bytes], source: str) -> Iterator:
    """The header (bytes up to the line of the first ``<page>``), then ``("page", bytes)``
    for each page (with the newline after ``</page>``; the next page may follow on the same
    line), then ``("footer", bytes)``."""
    buffer = b""
    while (first := buffer.find(b"<page>")) < 0:
        chunk = next(chunks, None)
        if chunk is None:
            raise DumpFormatError(source, 0, "no <page> element")
        buffer += chunk
    header_end = buffer.rfind(b"\n", 0, first) + 1
    yield buffer[:header_end]
    buffer, done = buffer[header_end:], False
    while True:
        close = buffer.find(b"</page>")
        stop = close + len(b"</page>")
        if close < 0 or (stop == len(buffer) and not done):  # more bytes (or the newline)
            chunk = next(chunks, None)
            if chunk is None:
                if done or close < 0:
                    break
                done = True
                continue
            buffer += chunk
            continue
        if buffer[stop:stop + 1] == b"\n":
            stop += 1
        yield "page", buffer[:stop]
        buffer = buffer[stop:]
    yield "footer", buffer

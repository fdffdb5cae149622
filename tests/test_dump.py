"""The dump reader on real dumps: counts, siteinfo, faults, compression, security."""

from __future__ import annotations

import bz2
import gzip
import re

import pytest

from extraction.dump import DumpFormatError, DumpReader, read_siteinfo

from .conftest import SAMPLE


def raw_xml() -> str:
    return bz2.open(SAMPLE).read().decode("utf-8")


def test_sample_pages_match_the_raw_xml():
    pages = list(DumpReader(SAMPLE))
    raw = raw_xml()
    assert len(pages) == raw.count("<page>") == 206
    assert sum(p.redirect is not None for p in pages) == raw.count("<redirect ") == 100
    titles = re.findall(r"<title>(.*?)</title>", raw)
    assert [p.title for p in pages][:5] == titles[:5]
    lincoln = next(p for p in pages if p.title == "Abraham Lincoln")
    assert lincoln.ns == 0 and lincoln.revision_id and lincoln.text.startswith("{{")
    assert "{{Infobox officeholder" in lincoln.text


def test_siteinfo_gives_language_and_namespaces(shared):
    site = read_siteinfo(SAMPLE)
    assert site.lang == "en" and site.dbname == "enwiki"
    assert site.namespaces[14] == "Category" and site.namespaces[10] == "Template"
    bg = read_siteinfo(shared / "dumps" / "bgwiki-sample.xml.bz2")
    assert bg.lang == "bg"


def test_plain_and_gzip_inputs_read_the_same_pages(tmp_path):
    raw = bz2.open(SAMPLE).read()
    (tmp_path / "s.xml").write_bytes(raw)
    with gzip.open(tmp_path / "s.xml.gz", "wb") as handle:
        handle.write(raw)
    ids = [p.id for p in DumpReader(SAMPLE)]
    assert [p.id for p in DumpReader(tmp_path / "s.xml")] == ids
    assert [p.id for p in DumpReader(tmp_path / "s.xml.gz")] == ids


def test_malformed_dump_keeps_pages_before_the_fault(shared):
    reader = DumpReader(shared / "bad" / "malformed-trailing-junk.xml.bz2")
    pages = []
    with pytest.raises(DumpFormatError) as fault:
        for page in reader:
            pages.append(page)
    assert len(pages) == 2 and pages[0].title
    assert fault.value.line == 1034
    assert "malformed-trailing-junk.xml.bz2:1034" in str(fault.value)


def test_truncated_bz2_reports_the_fault(tmp_path):
    data = SAMPLE.read_bytes()
    cut = tmp_path / "cut.xml.bz2"
    cut.write_bytes(data[: len(data) // 2])
    pages = []
    with pytest.raises(DumpFormatError, match="cut.xml.bz2"):
        for page in DumpReader(cut):
            pages.append(page)
    assert 50 < len(pages) < 206


def test_external_entities_and_dtds_are_refused(tmp_path, monkeypatch):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    evil = tmp_path / "evil.xml"
    evil.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE mediawiki [<!ENTITY x SYSTEM "file://{secret}">]>\n'
        "<mediawiki><page><title>X</title><ns>0</ns><id>1</id>"
        "<revision><id>2</id><text>&x;</text></revision></page></mediawiki>")
    with pytest.raises(DumpFormatError, match="not allowed"):
        list(DumpReader(evil))

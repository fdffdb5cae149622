"""``common``: the plumbing every stage shares, on real files."""

from __future__ import annotations

import gzip

import pytest

from common.atomic import atomic_directory, atomic_file
from common.jsonl import JsonlWriter, read_jsonl


def test_an_interrupted_directory_write_keeps_the_previous_output(tmp_path):
    with atomic_directory(tmp_path / "run") as work:
        (work / "a.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_directory(tmp_path / "run") as work:
        (work / "a.txt").write_text("new")
        raise KeyboardInterrupt
    assert (tmp_path / "run" / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    with atomic_directory(tmp_path / "run") as work:
        (work / "b.txt").write_text("replaced")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["b.txt"]


def test_an_interrupted_file_write_keeps_the_previous_file_and_its_suffix(tmp_path):
    path = tmp_path / "records.jsonl.gz"
    with atomic_file(path) as tmp, JsonlWriter(tmp) as out:
        out.write({"n": 1})
    with pytest.raises(RuntimeError), atomic_file(path) as tmp, JsonlWriter(tmp) as out:
        out.write({"n": 2})
        raise RuntimeError("interrupted")
    assert list(read_jsonl(path)) == [{"n": 1}]
    assert gzip.open(path).read() == b'{"n":1}\n'             # compressed: the suffix was kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["records.jsonl.gz"]


def test_a_bad_jsonl_line_names_its_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"ok": 1}\n\n{"broken": \n')
    with pytest.raises(ValueError, match=r"bad.jsonl:3: not valid JSON"):
        list(read_jsonl(path))

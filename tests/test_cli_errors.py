"""The command line's one error path, through the real ``wikikg`` on real files: every
expected failure is one line naming the file and what is wrong (exit 1, 2 for usage),
``-v`` adds the traceback, Ctrl-C is "interrupted" with exit 130."""

from __future__ import annotations

import bz2
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from kg.embedding import EmbedConfig, pipeline

from .conftest import SAMPLE

CLI = [sys.executable, "-m", "wikikg.cli"]

DTD_DUMP = """<?xml version="1.0"?>
<!DOCTYPE mediawiki [<!ENTITY x "expanded">]>
<mediawiki><page><title>A</title><ns>0</ns><id>1</id>
<revision><id>2</id><text>&x;</text></revision></page></mediawiki>
"""

# (file name, content, what the one line must say)
BAD_DUMPS = [
    ("text.xml.bz2", "just some text, not compressed\n", "text.xml.bz2:1: syntax error"),
    ("empty.xml", "", "empty.xml:1: no element found"),
    ("dtd.xml", DTD_DUMP, "dtd.xml:2: DTD and entity declarations are not allowed"),
]


def wikikg(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True)


def assert_one_line(done: subprocess.CompletedProcess, code: int, *names: str) -> str:
    """The process failed with ``code`` and said why in one line that names ``names``."""
    lines = done.stderr.strip().splitlines()
    assert done.returncode == code and len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: ") and all(n in lines[0] for n in names), lines
    return lines[0]


@pytest.mark.parametrize("name, content, says", BAD_DUMPS, ids=[b[0] for b in BAD_DUMPS])
def test_a_dump_with_no_readable_page_is_one_line(name, content, says, tmp_path):
    dump = tmp_path / name
    dump.write_text(content)
    line = assert_one_line(wikikg("build", str(dump), "--out", str(tmp_path / "out")), 1, says)
    assert "no page could be read" in line
    assert [p.name for p in tmp_path.iterdir()] == [name], "no output, no temporary left"
    verbose = wikikg("-v", "build", str(dump), "--out", str(tmp_path / "out"))
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr
    assert verbose.stderr.strip().splitlines()[-1] == line


def test_a_corrupt_entity_table_is_named(sample_graph, tmp_path):
    graph = tmp_path / "graph"
    shutil.copytree(sample_graph, graph)
    pipeline(graph, EmbedConfig(model="distmult", dim=8, epochs=1), name="tiny", progress=False)
    table = graph / "embeddings" / "tiny" / "entities.safetensors"
    table.write_bytes(table.read_bytes()[:1000])
    done = wikikg("complete", str(graph), "--embeddings", "tiny")
    assert_one_line(done, 1, str(table), "not a readable safetensors file")


def test_fusion_without_a_graph_is_a_usage_error(tmp_path):
    done = wikikg("train", str(tmp_path), "--out", str(tmp_path / "run"), "--fusion", "late")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == \
        "Error: --fusion late needs --kg DIR and --embeddings NAME"


def test_repack_creates_the_missing_folder(shared, tmp_path):
    target = tmp_path / "new" / "deeper" / "bg.xml.bz2"
    done = wikikg("repack", str(shared / "dumps" / "bgwiki-sample.xml.bz2"), "--out", str(target))
    assert done.returncode == 0, done.stderr
    assert bz2.open(target).read(10) == b"<mediawiki" and (target.parent / "bg-index.txt.bz2").exists()


def interrupt(args: list[str], ready) -> subprocess.CompletedProcess:
    """Run ``wikikg args`` in a session of its own, and once ``ready()`` send SIGINT to its
    whole process group, as a terminal's Ctrl-C does (workers included)."""
    process = subprocess.Popen(CLI + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    deadline = time.time() + 300
    while not ready() and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "finished before it could be interrupted"
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(args, process.returncode, out, err)


def assert_interrupted(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "interrupted", done.stderr
    assert "Traceback" not in done.stderr and "Fatal Python error" not in done.stderr


def test_ctrl_c_stops_a_build_cleanly(tmp_path):
    """Interrupted while its two workers extract: exit 130, no output, no temporary left."""
    out = tmp_path / "out"
    done = interrupt(["-q", "build", str(SAMPLE), "--workers", "2", "--out", str(out)],
                     lambda: any(tmp_path.glob(".out.tmp-*/_parts/*")))
    assert_interrupted(done)
    assert list(tmp_path.iterdir()) == []

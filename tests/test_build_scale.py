"""The build at scale: parts written by workers, the DuckDB reduce, and its faults.

Real dumps throughout: the sample, and the sample with real-shaped redirect pages added
(chains, a cycle) to exercise what the reduce step resolves across parts.
"""

from __future__ import annotations

import bz2
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from extraction.build import BuildOptions, build

from .conftest import SAMPLE, load, tree_bytes

OUTPUTS = ("entities", "facts", "links", "sentences", "redirects", "aliases")

REDIRECT = ('<page><title>{source}</title><ns>0</ns><id>{id}</id><redirect title="{target}" />'
            '<revision><id>{id}</id><timestamp>2016-05-01T00:00:00Z</timestamp>'
            '<model>wikitext</model><format>text/x-wiki</format>'
            '<text xml:space="preserve">#REDIRECT [[{target}]]</text></revision></page>\n')
ARTICLE = ('<page><title>Redirect study</title><ns>0</ns><id>990000</id><revision><id>990000</id>'
           '<timestamp>2016-05-01T00:00:00Z</timestamp><model>wikitext</model>'
           '<format>text/x-wiki</format><text xml:space="preserve">'
           "'''Redirect study''' is an article about [[Lincoln chain one|the sixteenth president]]"
           ", about [[Loop B]] and about [[Into loop]]. It links each of them once in this "
           "sentence of its lead.</text></revision></page>\n")


@pytest.fixture(scope="module")
def chained_dump(tmp_path_factory):
    """The sample with a two-hop chain to Abraham Lincoln, a two-page cycle, a redirect
    into that cycle, and an article linking all three; the new pages come first, so the
    chains cross parts."""
    xml = bz2.open(SAMPLE).read().decode()
    first = xml.index("<page>")
    pages = [("Lincoln chain one", "Lincoln chain two"), ("Lincoln chain two", "Abraham Lincoln"),
             ("Loop A", "Loop B"), ("Loop B", "Loop A"), ("Into loop", "Loop A")]
    extra = "".join(REDIRECT.format(source=s, target=t, id=990001 + i)
                    for i, (s, t) in enumerate(pages))
    path = tmp_path_factory.mktemp("dumps") / "chained.xml.bz2"
    path.write_bytes(bz2.compress((xml[:first] + ARTICLE + extra + xml[first:]).encode()))
    return path


def test_redirect_chains_and_cycles_resolve_across_parts(chained_dump, tmp_path):
    stats = build([chained_dump], tmp_path / "one", BuildOptions(progress=False))
    assert stats["redirect_cycles"] == 3, "Loop A, Loop B, and Into loop which leads into them"
    links = {link["target"] for link in load(tmp_path / "one", "links")
             if link["source"] == "Redirect study"}
    assert links == {"Abraham Lincoln", "Loop B", "Into loop"}
    redirects = {r["source"]: r["target"] for r in load(tmp_path / "one", "redirects")}
    assert redirects["Lincoln chain one"] == redirects["Lincoln chain two"] == "Abraham Lincoln"
    # a title in (or into) a cycle resolves to itself: such a redirect keeps its own target
    assert redirects["Loop A"] == "Loop B" and redirects["Into loop"] == "Loop A"
    lincoln = next(e for e in load(tmp_path / "one", "entities") if e["title"] == "Abraham Lincoln")
    assert {"Lincoln chain one", "Lincoln chain two"} <= set(lincoln["redirects"])
    assert lincoln["redirects"] == sorted(lincoln["redirects"])
    aliases = {row["alias"]: row for row in load(tmp_path / "one", "aliases")}
    assert aliases["the sixteenth president"]["link"] == "Abraham Lincoln"
    assert aliases["Lincoln chain one"]["targets"] == {"Abraham Lincoln": 1}
    # the same records from 2 workers, parts of 64 KiB (the chain is cut across parts) and
    # 5 hash buckets (the chain's titles, its hops and its votes in different buckets)
    small = build([chained_dump], tmp_path / "two", BuildOptions(
        progress=False, workers=2, batch_bytes=64 << 10, reduce_buckets=5))
    assert small["parts"] > 20 > stats["parts"]
    assert (small["reduce_buckets"], stats["reduce_buckets"]) == (5, 1)
    assert small["redirect_cycles"] == 3 and small["aliases"] == stats["aliases"]
    for name in OUTPUTS[:-1]:
        assert load(tmp_path / "two", name) == load(tmp_path / "one", name), name
    # aliases: sorted by surface within each bucket, the buckets one after another
    by_alias = sorted(load(tmp_path / "two", "aliases"), key=lambda row: row["alias"])
    assert by_alias == load(tmp_path / "one", "aliases")


@pytest.fixture(scope="module")
def distinct_dump(tmp_path_factory, shared):
    """Four copies of the sample whose titles never repeat (the shared measuring tool)."""
    path = tmp_path_factory.mktemp("dumps") / "d4.xml.bz2"
    tool = shared.parent / "tools" / "make_distinct_dump.py"
    if not tool.is_file():
        pytest.skip(f"{tool} (the shared measuring tools) is not here")
    subprocess.run([sys.executable, str(tool), str(SAMPLE), "4", str(path)], check=True)
    return path


@pytest.mark.slow
def test_a_small_budget_spills_and_gives_the_same_build(distinct_dump, tmp_path):
    """24 MB is below what sorting four samples' aliases takes: DuckDB spills to --tmp-dir
    (outside the build), and the records are those of the default budget."""
    spill = tmp_path / "spill"
    small = build([distinct_dump], tmp_path / "small", BuildOptions(
        progress=False, workers=2, memory_limit="24MB", tmp_dir=str(spill)))
    ample = build([distinct_dump], tmp_path / "ample", BuildOptions(progress=False, workers=2))
    assert small["spilled_bytes"] > 0 and ample["spilled_bytes"] == 0
    assert small["articles"] == ample["articles"] == 4 * 106
    for name in OUTPUTS:
        assert load(tmp_path / "small", name) == load(tmp_path / "ample", name), name
    assert spill.is_dir() and not any(spill.iterdir()), "the spill files are removed"


@pytest.mark.slow
def test_a_full_spill_disk_is_one_line_and_keeps_the_previous_build(distinct_dump, tmp_path):
    out = tmp_path / "kept"
    build([SAMPLE], out, BuildOptions(progress=False, limit_pages=20))
    before = tree_bytes(out)
    cli = [sys.executable, "-m", "wikikg.cli", "-q", "build", str(distinct_dump), "--out",
           str(out), "--workers", "2", "--memory-limit", "24MB", "--tmp-dir-limit", "64KB"]
    done = subprocess.run(cli, capture_output=True, text=True)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert "out of spill space" in line and "reduce step" in line
    assert tree_bytes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"], "nothing left behind"


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _start_build(out, *extra) -> subprocess.Popen:
    code = ("import sys, logging; logging.basicConfig(level=logging.WARNING)\n"
            "from extraction.build import build, BuildOptions\n"
            f"build([{str(SAMPLE)!r}], {str(out)!r}, BuildOptions(progress=False, "
            f"batch_bytes=128 << 10, {', '.join(extra)}))\n")
    return subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)


def _wait_for_parts(out, count: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(out.parent.glob(f".{out.name}.tmp-*/_parts/entities-*.jsonl.gz"))) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"no {count} parts appeared: {proc.poll()}")


@pytest.mark.slow
def test_a_killed_worker_has_its_part_redone_not_duplicated(sample_build, tmp_path):
    out = tmp_path / "killed-worker"
    proc = _start_build(out, "workers=2")
    _wait_for_parts(out, 2, proc)
    victim = max(_children(proc.pid))
    os.kill(victim, signal.SIGKILL)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert "worker process died" in stderr
    for name in OUTPUTS:
        assert load(out, name) == load(sample_build, name), name


class _EveryTaskTwice:
    """The real local engine, but every task runs a second time after its first try ran to
    the end: what Ray does when a task's worker dies after writing some of its files."""

    def __init__(self, engine):
        self.engine = engine
        self.workers, self.parallel = engine.workers, engine.parallel

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.engine.idle()

    def idle(self):
        self.engine.idle()

    def map(self, function, tasks, **resources):
        tasks = list(tasks)
        list(self.engine.map(function, tasks, **resources))
        yield from self.engine.map(function, tasks, **resources)


def test_reduce_tasks_run_twice_replace_their_files_never_add(sample_build, tmp_path,
                                                              monkeypatch):
    """Shuffle and bucket files written by a first try are replaced by the second try's,
    in every stage: the records are those of a build whose tasks ran once."""
    from extraction.engines import LocalEngine

    monkeypatch.setattr(sys.modules["extraction.build"], "make_engine",
                        lambda name, workers, address: _EveryTaskTwice(LocalEngine(workers)))
    stats = build([SAMPLE], tmp_path / "twice", BuildOptions(
        progress=False, workers=2, batch_bytes=256 << 10, reduce_buckets=3))
    assert stats["parts"] > 3 and stats["reduce_buckets"] == 3
    for name in OUTPUTS[:-1]:
        assert load(tmp_path / "twice", name) == load(sample_build, name), name
    assert (sorted(load(tmp_path / "twice", "aliases"), key=lambda row: row["alias"])
            == load(sample_build, "aliases"))


@pytest.mark.slow
def test_a_killed_build_keeps_the_previous_output_and_the_next_starts_clean(sample_build,
                                                                           tmp_path):
    out = tmp_path / "b"
    build([SAMPLE], out, BuildOptions(progress=False, limit_pages=20))
    before = tree_bytes(out)
    proc = _start_build(out, "workers=1")
    _wait_for_parts(out, 2, proc)
    proc.kill()
    proc.communicate()
    (abandoned,) = tmp_path.glob(".b.tmp-*")
    assert tree_bytes(out) == before
    stats = build([SAMPLE], out, BuildOptions(progress=False))
    assert not abandoned.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["b"]
    assert stats["pages"] == 206
    for name in OUTPUTS:
        assert load(out, name) == load(sample_build, name), name
    assert json.loads((out / "stats.json").read_text())["errors"] == 0


def test_a_full_disk_is_the_machines_fault_not_the_chunks():
    """A worker that cannot write its part for lack of space must stop the build (recording
    the chunk as bad and going on would lose every later part the same way)."""
    import errno

    from extraction.dump import DumpFormatError
    from extraction.engines import Failure

    assert Failure.of(OSError(errno.ENOSPC, "No space left on device")).fatal
    assert Failure.of(OSError(errno.EDQUOT, "Disk quota exceeded")).fatal
    assert not Failure.of(DumpFormatError("x.xml.bz2", 3, "bad bz2 data")).fatal
    assert not Failure.of(ValueError("a bad page")).fatal

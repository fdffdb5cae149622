"""``wikikg build --engine ray`` on a local Ray instance: same files as ``--engine local``."""

from __future__ import annotations

import bz2
import gzip
import json
import shutil
import subprocess
import sys

import pytest

from common.jsonl import output_files
from extraction.build import BuildError, BuildOptions, build
from extraction.dump import DumpFormatError, parse_page_fragment
from extraction.multistream import read_index, repack_multistream, scan_stream_ranges, stream_starts

from .conftest import SAMPLE, load

pytestmark = pytest.mark.slow  # starts Ray

OUTPUTS = ("entities", "facts", "links", "sentences", "redirects", "aliases")


@pytest.fixture(scope="module")
def ray_cluster():
    """A 2-CPU Ray instance for this module; yields its address for other processes."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def multistream(tmp_path_factory, shared):
    """The sample re-packed as Wikimedia multistream (100 pages a stream) with its index."""
    target = tmp_path_factory.mktemp("multistream") / "sample-multistream.xml.bz2"
    repack_multistream(SAMPLE, target, pages_per_stream=100)
    return target


def contents(build_dir):
    """Every output's bytes, its parts decompressed and joined in order (the parts may be
    cut elsewhere: the records may not differ), and errors.jsonl."""
    joined = {name: b"".join(gzip.decompress(p.read_bytes()) for p in output_files(build_dir, name))
              for name in OUTPUTS}
    return {**joined, "errors.jsonl": (build_dir / "errors.jsonl").read_bytes()}


def ray_options(**options):
    return BuildOptions(engine="ray", workers=2, progress=False, **options)


def test_ray_with_index_writes_the_same_files_as_local(ray_cluster, multistream, sample_build,
                                                       tmp_path):
    stats = build([multistream], tmp_path / "ray", ray_options())
    assert contents(tmp_path / "ray") == contents(sample_build)
    (entry,) = stats["inputs"]
    assert entry["index"].endswith("-index.txt.bz2") and entry["streams"] == 3
    assert stats["pages"] == 206 and stats["errors"] == 0


def test_ray_runs_the_reduce_in_buckets_as_tasks(ray_cluster, multistream, sample_build,
                                                  tmp_path):
    """Three buckets: stages of three tasks (1 CPU and a third of the budget each, asked of
    Ray) and the chain stage's one task; the records of the one-bucket local build."""
    stats = build([multistream], tmp_path / "ray", ray_options(reduce_buckets=3,
                                                               memory_limit="600MB"))
    assert stats["reduce_buckets"] == 3
    got, want = contents(tmp_path / "ray"), contents(sample_build)
    for name, data in want.items():
        if name == "aliases":
            assert sorted(got[name].splitlines()) == sorted(data.splitlines())
        else:
            assert got[name] == data, name


def test_stream_ranges_found_by_a_scan_are_the_index_ones(multistream, tmp_path):
    offsets = sorted({offset for offset, _, _ in read_index(multistream.with_name(
        "sample-multistream-index.txt.bz2"))})
    starts = list(stream_starts(multistream))
    assert starts[0] == 0 and starts[2:-1] == offsets[1:] and starts[1] == offsets[0]
    ranges = scan_stream_ranges(multistream)
    assert [start for start, _, _ in ranges] == starts[1:]  # the header stream is left out
    assert scan_stream_ranges(SAMPLE) is None, "one stream: read by one reader"


def test_streams_that_split_pages_are_not_taken_for_ranges(tmp_path):
    xml = bz2.decompress(SAMPLE.read_bytes())
    cut = tmp_path / "pbzip2-like.xml.bz2"  # what pbzip2/lbzip2 write: streams cut anywhere
    cut.write_bytes(b"".join(bz2.compress(xml[i:i + 900_000]) for i in range(0, len(xml), 900_000)))
    assert len(list(stream_starts(cut))) > 3
    assert scan_stream_ranges(cut) is None
    with pytest.raises(DumpFormatError, match="page boundaries"):  # not a silently shorter chunk
        parse_page_fragment(xml[900_000:1_800_000], f"{cut}@1-2")


def test_ray_maps_page_batches_of_a_single_stream_dump(ray_cluster, tmp_path):
    options = {"limit_pages": 60, "batch_bytes": 64 << 10}
    ray_stats = build([SAMPLE], tmp_path / "ray", ray_options(**options))
    build([SAMPLE], tmp_path / "local", BuildOptions(progress=False, **options))
    assert contents(tmp_path / "ray") == contents(tmp_path / "local")
    assert ray_stats["pages"] == 60 and "streams" not in ray_stats["inputs"][0]


def test_ray_without_index_scans_for_streams_and_writes_the_same_files(ray_cluster, multistream,
                                                                       sample_build, tmp_path):
    alone = tmp_path / "no-index" / multistream.name
    alone.parent.mkdir()
    shutil.copy(multistream, alone)
    stats = build([alone], tmp_path / "ray", ray_options())
    assert contents(tmp_path / "ray") == contents(sample_build)
    (entry,) = stats["inputs"]
    assert entry["index"] is None and entry["streams"] == 4  # 3 of pages, the footer


def corrupt_second_stream(multistream, directory):
    """A copy of the dump (and index) with 64 zero bytes in the middle of its 2nd page stream."""
    directory.mkdir()
    index = multistream.with_name("sample-multistream-index.txt.bz2")
    shutil.copy(index, directory / index.name)
    bad = directory / multistream.name
    shutil.copy(multistream, bad)
    start, end = sorted({offset for offset, _, _ in read_index(index)})[1:3]
    with open(bad, "r+b") as handle:
        handle.seek((start + end) // 2)
        handle.write(bytes(64))
    return bad, start, end


def test_a_bad_chunk_is_recorded_and_both_engines_agree(ray_cluster, multistream, sample_build,
                                                        tmp_path):
    bad, start, end = corrupt_second_stream(multistream, tmp_path / "bad")
    ray_stats = build([bad], tmp_path / "ray", ray_options())
    # the local engine in its own process (a pool forked from one running Ray is not safe)
    local = subprocess.run([sys.executable, "-m", "wikikg.cli", "-q", "build", str(bad),
                            "--workers", "2", "--out", str(tmp_path / "local")],
                           capture_output=True, text=True)
    assert local.returncode == 0 and "chunk skipped" in local.stderr, local.stderr
    local_stats = json.loads((tmp_path / "local" / "stats.json").read_text())
    assert contents(tmp_path / "ray") == contents(tmp_path / "local")
    (error,) = [json.loads(line) for line in (tmp_path / "ray" / "errors.jsonl").open()]
    assert error["kind"] == "chunk" and error["file"] == f"{bad.resolve()}@{start}-{end}"
    assert "bad bz2 data" in error["reason"]
    assert ray_stats["errors"] == local_stats["errors"] == 1
    assert ray_stats["pages"] == 106, "the two good streams are kept"
    lost = {page_id for offset, page_id, _ in read_index(bad.with_name(
        "sample-multistream-index.txt.bz2")) if offset == start}
    assert {e["id"] for e in load(tmp_path / "ray", "entities")} == {
        e["id"] for e in load(sample_build, "entities") if e["id"] not in lost}
    with pytest.raises(BuildError, match="bad bz2 data"):
        build([bad], tmp_path / "strict", ray_options(strict=True))


def test_cli_engine_ray_joins_the_running_cluster(ray_cluster, multistream, tmp_path):
    cli = [sys.executable, "-m", "wikikg.cli", "-q", "build", str(multistream), "--limit-pages",
           "120", "--engine", "ray", "--ray-address", ray_cluster, "--workers", "2"]
    done = subprocess.run(cli + ["--out", str(tmp_path / "cli")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    stats = json.loads((tmp_path / "cli" / "stats.json").read_text())
    assert stats["pages"] == 120 and stats["options"]["engine"] == "ray"
    assert stats["graph"]["triples"] > 0
    usage = subprocess.run(cli[:-6] + ["--ray-address", "auto", "--out", str(tmp_path / "x")],
                           capture_output=True, text=True)
    assert usage.returncode == 2 and "--engine ray" in usage.stderr


def test_a_failing_task_is_retried_once_then_reported(ray_cluster, tmp_path):
    """Real Ray retries: a task that fails once succeeds on its second try; one that keeps
    failing runs exactly twice and comes back as a Failure naming its last error."""
    from extraction.engines import Failure, RayEngine

    def attempt(task):  # nested, so Ray ships it by value to its workers
        marker, failures = task
        tries = len(marker.read_text()) if marker.exists() else 0
        marker.write_text("x" * (tries + 1))
        if tries < failures:
            raise RuntimeError(f"try {tries + 1} failed")
        return tries + 1

    tasks = [(tmp_path / "once", 1), (tmp_path / "always", 5)]
    with RayEngine(workers=2) as engine:
        outcomes = {task[0].name: outcome for task, outcome in engine.map(attempt, tasks)}
    assert outcomes["once"] == 2
    assert isinstance(outcomes["always"], Failure) and "try 2 failed" in outcomes["always"].reason
    assert (tmp_path / "always").read_text() == "xx", "one retry, not more"

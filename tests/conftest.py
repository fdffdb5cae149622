"""Shared fixtures: the real data in ../shared/data and one build of the sample dump."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from common.jsonl import read_output
from extraction.build import BuildOptions, build

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SAMPLE = SHARED / "dumps" / "enwiki-sample.xml.bz2"


@pytest.fixture(scope="session", autouse=True)
def interruptible():
    """A suite started as a background job (``make test &``, some CI runners) inherits
    SIGINT ignored, and an ignored signal stays ignored across ``exec``: the commands the
    Ctrl-C tests start would never see it.  A handler here is reset to the default in
    every child, so they get Python's KeyboardInterrupt as from a terminal."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def shared() -> Path:
    assert SHARED.is_dir(), f"real test data missing: {SHARED}"
    return SHARED


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory, shared) -> Path:
    out = tmp_path_factory.mktemp("builds") / "sample"
    build([SAMPLE], out, BuildOptions(workers=1, progress=False))
    return out


def load(build_dir: Path, name: str) -> list[dict]:
    return list(read_output(build_dir, name))


def tree_bytes(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` by its relative path: a build, byte for byte."""
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def sample_graph(tmp_path_factory, sample_build) -> Path:
    """The sample build with its RDF store (what `wikikg build` writes)."""
    import shutil

    from kg import assemble

    out = tmp_path_factory.mktemp("graphs") / "sample"
    shutil.copytree(sample_build, out)
    assemble(out)
    return out


def assert_same_run(resumed: dict, whole: dict) -> None:
    """A resumed run's metrics equal those of the uninterrupted run of the same seed."""
    assert [h["dev_micro_f1"] for h in resumed["history"]] == \
        [h["dev_micro_f1"] for h in whole["history"]]
    assert resumed["history"][-1]["train_loss"] == pytest.approx(
        whole["history"][-1]["train_loss"], rel=1e-4)
    assert resumed["test"]["micro_f1"] == pytest.approx(whole["test"]["micro_f1"], abs=1e-6)

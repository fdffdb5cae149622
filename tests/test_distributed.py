"""`wikikg train` and `wikikg embed` under torchrun: two CPU processes (gloo) on real data
(FewRel sentences, the nations graph).  Both processes must end with the same weights (the
checksum each logs), only rank 0 may write (each process's file operations are audited by
tests/ddp_audit.py), and a killed run resumed under torchrun ends as an uninterrupted one."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from fusion.datasets import FewRelConfig, import_fewrel, write_re_dataset
from kg import import_graph
from kg.embedding import EmbedConfig, pipeline

from .conftest import ROOT, assert_same_run

pytestmark = pytest.mark.slow  # starts torchrun

DIGEST = re.compile(r"rank (\d) of 2: .* sha256 ([0-9a-f]{64})")


def torchrun(args: list, watch: Path, audit: Path, *, background: bool = False):
    """``wikikg ARGS`` in 2 gloo processes, each auditing its writes under ``watch``."""
    audit.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", "2", "-m", "tests.ddp_audit", *map(str, args)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "AUDIT_WATCH": str(watch),
           "AUDIT_OUT": str(audit)}
    if background:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def check_processes(done: subprocess.CompletedProcess, audit: Path) -> None:
    """Equal final weights on both ranks; rank 0 wrote, rank 1 nothing; one summary."""
    digests = dict(DIGEST.findall(done.stderr))
    assert set(digests) == {"0", "1"}, done.stderr[-4000:]
    assert digests["0"] == digests["1"]
    writes = {rank: json.loads((audit / f"rank{rank}.json").read_text()) for rank in (0, 1)}
    assert writes[0] and writes[1] == []
    assert len(done.stdout.splitlines()) == 1


@pytest.fixture(scope="module")
def nations(tmp_path_factory, shared):
    """The nations graph with a small DistMult embedding to fuse (trained in one process)."""
    source = shared / "kg" / "nations"
    out = tmp_path_factory.mktemp("ddp") / "nations"
    import_graph([source / f"{name}.txt" for name in ("train", "valid", "test")], out)
    pipeline(out, EmbedConfig(model="distmult", dim=16, epochs=2), name="tiny", progress=False)
    return out


@pytest.fixture(scope="module")
def fewrel(tmp_path_factory, shared):
    """32/12/12 FewRel examples spread over its relations."""
    examples, _ = import_fewrel(shared / "re" / "fewrel" / "val_wiki.json", config=FewRelConfig(types=False))
    small = {split: items[::len(items) // size][:size]
             for (split, items), size in zip(examples.items(), (32, 12, 12))}
    out = tmp_path_factory.mktemp("ddp") / "fewrel"
    write_re_dataset(out, small, {"kind": "re", "source": "fewrel"})
    return out


def train_args(data: Path, kg: Path, out: Path) -> list:
    """Layer fusion (a forward hook, a frozen entity table, an unused pooler), 2 epochs of 2
    optimizer steps, each of 2 accumulated micro-batches of 4 examples per process; the
    lower encoder layers frozen to keep checkpoints small, and kept at the end."""
    return ["train", data, "--out", out, "--fusion", "layer", "--kg", kg, "--embeddings", "tiny",
            "--epochs", 2, "--batch-size", 4, "--grad-accum", 2, "--max-length", 32,
            "--freeze", "bottom-4", "--patience", 5, "--seed", 7, "--keep-checkpoints"]


@pytest.fixture(scope="module")
def ddp_run(fewrel, nations, tmp_path_factory):
    base = tmp_path_factory.mktemp("ddp-train")
    run = base / "run"
    done = torchrun(train_args(fewrel, nations, run), run, base / "audit")
    return run, done, base / "audit"


def test_train_two_processes_same_weights_rank0_writes(ddp_run):
    run, done, audit = ddp_run
    check_processes(done, audit)
    assert done.stdout.strip() == str(run)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["train_examples"] == 32
    assert metrics["steps"] == 4 and [h["step"] for h in metrics["history"]] == [2, 4]
    assert all(0 <= metrics[split]["micro_f1"] <= 1 for split in ("dev", "test"))
    assert all(h["train_loss"] > 0 for h in metrics["history"])
    for name in ("model.safetensors", "report.txt", "curves.png", "train_config.json"):
        assert (run / name).is_file(), name
    state = torch.load(run / "checkpoints" / "last" / "trainer_state.pt", weights_only=True)
    assert len(state["process_rng"]) == 2


def test_resume_under_torchrun_matches_an_uninterrupted_run(ddp_run, fewrel, nations, tmp_path):
    whole = json.loads((ddp_run[0] / "metrics.json").read_text())
    run = tmp_path / "run"
    args = train_args(fewrel, nations, run)
    process = torchrun(args, run, tmp_path / "audit-killed", background=True)
    state_file = run / "checkpoints" / "last" / "trainer_state.pt"
    deadline = time.time() + 300
    while not state_file.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)  # torchrun passes it on to its workers
    process.wait(timeout=60)
    assert torch.load(state_file, weights_only=True)["epoch"] == 1
    assert not (run / "metrics.json").exists()
    done = torchrun([*args, "--resume"], run, tmp_path / "audit")
    check_processes(done, tmp_path / "audit")
    assert_same_run(json.loads((run / "metrics.json").read_text()), whole)


@pytest.mark.parametrize("options", [
    ["--model", "rgcn", "--dim", "16"],                                   # 1-N, whole graph
    ["--model", "compgcn", "--dim", "40", "--decoder", "conve", "--fanout", "3"],  # sampled
    ["--model", "distmult", "--dim", "16"],                               # negative sampling
], ids=["rgcn-1-N", "compgcn-sampled", "distmult-negatives"])
def test_embed_two_processes_same_weights_rank0_writes(options, nations, tmp_path):
    graph = tmp_path / "nations"
    shutil.copytree(nations, graph)
    args = ["embed", graph, *options, "--epochs", 3, "--batch-size", 128, "--out", "ddp"]
    done = torchrun(args, graph / "embeddings", tmp_path / "audit")
    check_processes(done, tmp_path / "audit")
    metrics = json.loads((graph / "embeddings" / "ddp" / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["epochs_run"] == 3
    assert len(metrics["loss"]) == 3 and all(loss > 0 for loss in metrics["loss"])
    assert 0 < metrics["test"]["mrr"] <= 1 and metrics["test"]["queries"] == 2 * 201

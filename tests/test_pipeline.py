"""`wikikg pipeline` end to end on a slice of the sample dump: run, skip, redo after damage."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow  # runs every stage

CLI = [sys.executable, "-m", "wikikg.cli", "-q", "pipeline"]
SLICE = ["--limit-pages", "100", "--embed-epochs", "2", "--epochs", "1", "--max-steps", "2"]


def run(out, *extra):
    done = subprocess.run(CLI + ["--out", str(out), *SLICE, *extra], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    states = dict(line.split(None, 1) for line in done.stderr.splitlines()
                  if line.split() and line.split()[0] in STAGES)
    return states, done


STAGES = ("build", "dataset", "embed", "train-none", "train-layer", "report")


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("pipeline") / "run"
    states, done = run(out)
    return out, states, done


def test_runs_every_stage_and_writes_the_report(first_run):
    out, states, done = first_run
    assert all(states[s].startswith("ran") for s in STAGES), states
    report = (out / "report.md").read_text()
    for section in ("Knowledge graph", "Graph encoder", "Relation extraction data",
                    "Knowledge-enhanced fine-tuning"):
        assert f"## {section}" in report
    assert "<table>" in (out / "report.html").read_text()
    # honest comparison: the interval of each F1, the test positives, a paired verdict
    assert "95 % bootstrap CI" in report and "of them with a relation" in report
    verdict = re.search(r"(No significant difference between layer and none|Layer (better|worse) "
                        r"than none): ΔF1 [-+]\d\.\d{4} \(95 % CI .*paired bootstrap p = ", report)
    assert verdict and verdict.group(0).split(":")[0] in done.stderr
    for figure in ("degree_distribution", "relation_frequencies", "training_curves"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 3000
    assert f"wikikg serve {out / 'graph'}" in done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["build"]["details"]["pages"] == 100


def test_second_run_skips_every_stage(first_run):
    out, _, _ = first_run
    states, _ = run(out)
    assert states == {s: "skipped" for s in STAGES}


def test_damaged_stage_output_redoes_that_stage_and_dependants_only(first_run):
    out, _, _ = first_run
    train = out / "dataset-re" / "train.jsonl"
    train.write_text(train.read_text()[: len(train.read_text()) // 2])
    states, _ = run(out)
    assert states["build"] == "skipped"
    assert states["dataset"].startswith("ran: outputs changed")
    for stage in ("embed", "train-none", "train-layer", "report"):
        assert states[stage].startswith("ran"), (stage, states[stage])


def test_changed_option_reruns_from_that_stage(first_run):
    out, _, _ = first_run
    states, _ = run(out, "--embed-epochs", "3")
    assert states["build"] == states["dataset"] == "skipped"
    assert states["embed"].startswith("ran: options changed")
    assert states["train-none"] == "skipped" and states["train-layer"].startswith("ran")


def test_config_file_sections_and_their_errors(tmp_path):
    """wikikg.toml (the one `make run` uses) loads; [embed] takes any encoder option; a typo
    in a key or section is an error naming the file."""
    from kg.embedding import EmbedConfig
    from wikikg.pipeline import load_config

    config = load_config(ROOT / "wikikg.toml", {"embed": {"epochs": 3, "dim": None}})
    assert config["embed"]["epochs"] == 3 and config["embed"]["dim"] == 64
    assert EmbedConfig(**config["embed"]).batch_size == config["embed"]["batch_size"]
    custom = tmp_path / "custom.toml"
    custom.write_text('[embed]\nfanout = 10\nlayers = 1\n[train]\nfreeze = "bottom-3"\n')
    assert load_config(custom, {})["embed"]["fanout"] == 10
    assert load_config(custom, {})["train"]["freeze"] == "bottom-3"
    for text, message in (('[embed]\nfan_out = 3\n', "unknown key(s) in [embed]: ['fan_out']"),
                          ('[trian]\nepochs = 1\n', "unknown section [trian]"),
                          ('[train]\nkg = "x"\n', "unknown key(s) in [train]: ['kg']")):
        custom.write_text(text)
        with pytest.raises(ValueError, match=re.escape(f"{custom}: {message}")):
            load_config(custom, {})

"""One settings dataclass per stage: its fields are the CLI's options, a --config file's
keys, --set's keys and the pipeline's TOML keys; precedence is defaults < file < --set <
options."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from common.settings import defaults, parse_assignment, resolve
from fusion.config import FusionConfig, TrainConfig
from kg import import_graph
from kg.embedding.config import EmbedConfig

from .conftest import ROOT

CLI = [sys.executable, "-m", "wikikg.cli", "-q"]


def test_precedence_and_types(tmp_path):
    file = tmp_path / "run.json"
    file.write_text(json.dumps({"dim": 32, "epochs": 7, "lr": 0.5, "model": "distmult"}))
    config = resolve(EmbedConfig, file, ["epochs=3", "categories=false", "num_bases=none"],
                     {"lr": 0.1, "dim": None})
    assert (config.dim, config.epochs, config.lr, config.model) == (32, 3, 0.1, "distmult")
    assert config.categories is False and config.num_bases is None
    with pytest.raises(ValueError, match="not a int"):
        parse_assignment(EmbedConfig, "dim=big")
    with pytest.raises(ValueError, match="key one of"):
        parse_assignment(EmbedConfig, "dimension=3")
    with pytest.raises(ValueError, match="--lr 0.0: must be more than 0"):
        EmbedConfig(lr=0.0)


def test_training_defaults_of_the_model_come_from_the_model_config():
    train, model = defaults(TrainConfig), defaults(FusionConfig)
    assert train["link_dropout"] == model["link_dropout"] and train["max_length"] == model["max_length"]
    assert train["dropout"] == model["classifier_dropout"]


@pytest.mark.slow
def test_embed_cli_config_file_set_and_options(shared, tmp_path):
    graph = tmp_path / "nations"
    import_graph([shared / "kg" / "nations" / f"{s}.txt" for s in ("train", "valid", "test")], graph)
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({**defaults(EmbedConfig), "model": "distmult", "dim": 16,
                                   "epochs": 50, "seed": 3}))
    out = subprocess.run(CLI + ["embed", str(graph), "--config", str(earlier), "--set", "epochs=1",
                                "--set", "eval_every=1", "--seed", "5", "--out", "x"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    written = json.loads((graph / "embeddings" / "x" / "config.json").read_text())
    assert (written["model"], written["dim"], written["epochs"], written["seed"]) == ("distmult", 16, 1, 5)
    for bad in (["--set", "epochs=many"], ["--set", "lr=0"], ["--lr", "0"]):
        out = subprocess.run(CLI + ["embed", str(graph), *bad], capture_output=True, text=True, cwd=ROOT)
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr


@pytest.mark.slow
def test_train_cli_takes_the_same_settings(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for bad, message in ((["--set", "gate_lr=0"], "must be more than 0"),
                         (["--set", "fusion=sideways"], "expected one of none, late, layer"),
                         (["--gate-lr", "0"], "--gate-lr")):
        out = subprocess.run(CLI + ["train", str(data), "--out", str(tmp_path / "run"), *bad],
                             capture_output=True, text=True, cwd=ROOT)
        assert out.returncode == 2 and message in out.stderr, out.stderr

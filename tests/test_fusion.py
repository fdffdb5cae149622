"""Knowledge-enhanced fine-tuning on CPU: every fusion mode, step-0 equality, persistence,
resume after a kill, predictions into the graph.  Real MiniLM, real embeddings from
`wikikg embed` on the sample graph, real distantly supervised data."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from common.jsonl import read_jsonl
from fusion.config import FusionConfig
from fusion.datasets import DistantConfig, build_ner_dataset, build_re_dataset
from fusion.features import collate, encode_re
from fusion.model import KnowledgeEnhancedModel, build_model, standardized
from fusion.predict import RelationPredictor
from fusion.reasoning import Combination, candidates, features, graph_logits, text_probabilities
from fusion.train import TrainConfig, Trainer, optimizer_for, train
from kg import KnowledgeGraph
from kg.embedding import EmbedConfig, EntityEmbeddings, LinkScorer, pipeline

from .conftest import assert_same_run

pytestmark = pytest.mark.slow  # fine-tunes MiniLM

CLI = [sys.executable, "-m", "wikikg.cli", "-q"]


@pytest.fixture(scope="module")
def embedded(sample_graph, tmp_path_factory):
    """The sample graph with a small real embedding (DistMult, 2 epochs)."""
    graph = tmp_path_factory.mktemp("fusion") / "graph"
    shutil.copytree(sample_graph, graph)
    pipeline(graph, EmbedConfig(model="distmult", dim=32, epochs=2), name="tiny", progress=False)
    return graph


@pytest.fixture(scope="module")
def tiny_re(embedded, tmp_path_factory):
    """A small slice of the sample's distant RE set (positives first, so several labels)."""
    full = tmp_path_factory.mktemp("fusion") / "re-full"
    build_re_dataset(embedded, full, DistantConfig())
    out = tmp_path_factory.mktemp("fusion") / "re"
    out.mkdir(exist_ok=True)
    for split, size in (("train", 32), ("dev", 12), ("test", 12)):
        items = sorted(read_jsonl(full / f"{split}.jsonl"), key=lambda e: e["relation"] == "no_relation")
        (out / f"{split}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in items[:size]))
    shutil.copy(full / "relations.json", out / "relations.json")
    return out


def config_for(data, out, fusion, kg, task="re", **extra):
    options = dict(epochs=1, batch_size=8, max_length=48, progress=False, seed=7)
    options.update(extra)
    return TrainConfig(data=str(data), out=str(out), task=task, fusion=fusion,
                       kg=str(kg) if fusion != "none" else None,
                       embeddings="tiny" if fusion != "none" else None, **options)


def test_none_given_the_entity_table_trains_the_same_and_scores_the_linked_subset(
        embedded, tiny_re, tmp_path):
    """The benchmark gives `none` the entity table to score the linked subset on the same
    examples as the fused models; the baseline itself must not change."""
    plain = Trainer(config_for(tiny_re, tmp_path / "plain", "none", embedded, max_steps=3)).train()
    config = dataclasses.replace(config_for(tiny_re, tmp_path / "kg", "none", embedded, max_steps=3),
                                 kg=str(embedded), embeddings="tiny")
    scored = Trainer(config).train()
    assert [h["train_loss"] for h in scored["history"]] == [h["train_loss"] for h in plain["history"]]
    assert scored["test"]["micro_f1"] == plain["test"]["micro_f1"]
    assert "linked" not in plain["test"] and scored["test"]["linked"]["share"] > 0.5


def test_standardized_entity_vectors_keep_no_entity_at_zero(embedded):
    matrix = EntityEmbeddings.from_pretrained(embedded / "embeddings" / "tiny").matrix.float()
    scaled = standardized(matrix)
    assert torch.equal(scaled[0], torch.zeros(matrix.shape[1]))
    assert torch.allclose(scaled[1:].mean(dim=0), torch.zeros(matrix.shape[1]), atol=1e-4)
    assert torch.allclose(scaled[1:].std(dim=0), torch.ones(matrix.shape[1]), atol=1e-4)


@pytest.mark.parametrize("fused, standardize", [("layer", False), ("layer", True),
                                                 ("marker", False)])
def test_gated_fusion_equals_none_at_step_zero(embedded, tiny_re, fused, standardize):
    entities = EntityEmbeddings.from_pretrained(embedded / "embeddings" / "tiny")
    labels = [r["name"] for r in json.loads((tiny_re / "relations.json").read_text())["relations"]]
    examples = list(read_jsonl(tiny_re / "train.jsonl"))[:8]
    logits = {}
    for fusion in ("none", fused):
        torch.manual_seed(0)
        model, tokenizer = build_model(FusionConfig(task="re", fusion=fusion, labels=labels,
                                                    standardize_entities=standardize), entities)
        model.eval()
        label_ids = {label: i for i, label in enumerate(labels)}
        batch = collate([encode_re(e, tokenizer, model.config, entities, label_ids)
                         for e in examples], tokenizer.pad_token_id)
        assert fusion == "none" or batch["entity_ids"].any(), "examples carry entity links"
        with torch.no_grad():
            logits[fusion] = model(**batch)["logits"]
    assert torch.equal(logits["none"], logits[fused])


def test_marker_fusion_feeds_the_entity_vectors_to_the_marker_tokens(embedded, tiny_re):
    """With the gate open, the input embeddings change at the [H:…] and [T:…] tokens of
    linked entities, by the projection of that entity's vector, and nowhere else."""
    entities = EntityEmbeddings.from_pretrained(embedded / "embeddings" / "tiny")
    labels = [r["name"] for r in json.loads((tiny_re / "relations.json").read_text())["relations"]]
    model, tokenizer = build_model(FusionConfig(task="re", fusion="marker", labels=labels), entities)
    model.eval()
    label_ids = {label: i for i, label in enumerate(labels)}
    batch = collate([encode_re(e, tokenizer, model.config, entities, label_ids)
                     for e in list(read_jsonl(tiny_re / "train.jsonl"))[:8]], tokenizer.pad_token_id)
    seen = []
    model.encoder.embeddings.register_forward_hook(lambda _m, _i, output: seen.append(output))
    with torch.no_grad():
        model.injection.gate.fill_(1.0)
        model(**batch)
        plain = model.encoder.embeddings(input_ids=batch["input_ids"])
    changed = (seen[0] - plain).abs().sum(-1) > 1e-6
    rows = torch.arange(len(changed))
    expected = torch.zeros_like(changed)
    for index in (batch["head_index"], batch["tail_index"]):
        expected[rows, index] = batch["entity_ids"][rows, index + 1] != 0
    assert expected.any() and torch.equal(changed, expected)
    head_vector = model.entities(batch["entity_ids"][0, batch["head_index"][0] + 1])
    assert torch.allclose(seen[0][0, batch["head_index"][0]] - plain[0, batch["head_index"][0]],
                          torch.tanh(torch.tensor(1.0)) * model.injection.project(head_vector),
                          atol=1e-5)


def test_the_layer_gate_gets_its_own_learning_rate(embedded, tiny_re, tmp_path):
    entities = EntityEmbeddings.from_pretrained(embedded / "embeddings" / "tiny")
    labels = [r["name"] for r in json.loads((tiny_re / "relations.json").read_text())["relations"]]
    model, _ = build_model(FusionConfig(task="re", fusion="layer", labels=labels), entities)
    config = config_for(tiny_re, tmp_path, "layer", embedded, gate_lr=0.03)
    rates = {id(p): group["lr"] for group in optimizer_for(model, config).param_groups
             for p in group["params"]}
    assert rates[id(model.injection.gate)] == 0.03
    assert rates[id(model.injection.project.weight)] == rates[id(model.classifier.weight)] == 1e-3
    assert rates[id(next(model.encoder.parameters()))] == config.lr
    default = optimizer_for(model, dataclasses.replace(config, gate_lr=None))
    assert {g["lr"] for g in default.param_groups} == {config.lr, config.head_lr}
    usage = subprocess.run([sys.executable, "-m", "wikikg.cli", "train", str(tiny_re), "--gate-lr",
                            "0", "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert usage.returncode == 2 and "--gate-lr" in usage.stderr


def test_a_new_fusion_mode_is_one_registered_class(embedded, tiny_re, tmp_path):
    """A mode written here, registered, is picked up by the config, the model (its module
    and features), the optimizer (its own learning rate) and a training run."""
    from torch import nn

    from fusion.modes import MODES, FusionMode, register

    @register
    class MeanEntity(FusionMode):
        name = "test-mean"
        needs_entities = True

        def extra_features(self, hidden, task):
            return hidden

        def attach(self, model, entity_dim):
            model.mean_entity = nn.Linear(entity_dim, model.encoder.config.hidden_size)

        def features(self, model, vectors, rows, head_index, tail_index):
            return [model.mean_entity(vectors.mean(dim=1))]

        def learning_rates(self, config):
            return {"mean_entity.weight": 0.5}

    try:
        metrics = Trainer(config_for(tiny_re, tmp_path / "mean", "test-mean", embedded,
                                     max_steps=2)).train()
        assert metrics["fusion"] == "test-mean" and metrics["steps"] == 2
        model = KnowledgeEnhancedModel.from_pretrained(tmp_path / "mean")
        assert model.classifier.in_features == 3 * model.encoder.config.hidden_size
        config = config_for(tiny_re, tmp_path, "test-mean", embedded)
        rates = {id(p): g["lr"] for g in optimizer_for(model, config).param_groups for p in g["params"]}
        assert rates[id(model.mean_entity.weight)] == 0.5
        assert rates[id(model.mean_entity.bias)] == config.head_lr
    finally:
        del MODES["test-mean"]
    with pytest.raises(ValueError, match="fusion must be one of"):
        FusionConfig(fusion="test-mean")


@pytest.mark.parametrize("fusion, standardize, control", [
    ("none", False, "none"), ("late", False, "none"), ("layer", False, "none"),
    ("late", True, "none"), ("marker", False, "none"), ("late", False, "random")])
def test_every_fusion_mode_trains_and_reloads(fusion, standardize, control, embedded, tiny_re,
                                              tmp_path):
    run = tmp_path / fusion
    trainer = Trainer(config_for(tiny_re, run, fusion, embedded, max_steps=3,
                                 standardize_entities=standardize, entity_control=control))
    real = EntityEmbeddings.from_pretrained(embedded / "embeddings" / "tiny")
    if fusion != "none":
        assert torch.equal(trainer.entities.matrix, real.control(control, seed=7).matrix)
    metrics = trainer.train()
    assert metrics["steps"] == 3 and metrics["fusion"] == fusion
    test = metrics["test"]
    assert {"micro_f1", "macro_f1", "per_relation"} <= set(test)
    assert test["f1_interval"][0] <= test["micro_f1"] <= test["f1_interval"][1]
    predictions = list(read_jsonl(run / "test_predictions.jsonl"))
    assert [p["gold"] for p in predictions] == [r["relation"] for r in trainer.splits["test"][1]]
    assert test["examples"] == len(predictions) and test["positives"] == sum(
        p["gold"] != "no_relation" for p in predictions)
    assert all((run / name).exists() for name in ("metrics.json", "report.txt", "curves.png",
                                                  "model.safetensors", "fusion_config.json",
                                                  "dev_predictions.jsonl"))
    if fusion != "none":
        assert metrics["test"]["linked"]["share"] > 0.5
    loaded = KnowledgeEnhancedModel.from_pretrained(run)
    tokenizer = AutoTokenizer.from_pretrained(run)
    trainer.model.eval()
    batch = collate(trainer.splits["test"][0][:8], tokenizer.pad_token_id)
    with torch.no_grad():
        assert torch.allclose(trainer.model(**batch)["logits"], loaded(**batch)["logits"],
                              atol=1e-5)


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill", "ctrl-c"])
def test_resume_after_a_kill_matches_an_uninterrupted_run(stop, embedded, tiny_re, tmp_path):
    """Killed (no chance to clean up) or interrupted by Ctrl-C (sent to the process group,
    as a terminal does: exit 130, one line) once epoch 1's checkpoint is written."""
    whole = train(config_for(tiny_re, tmp_path / "whole", "layer", embedded, epochs=2,
                             patience=5))
    run = tmp_path / "killed"
    args = CLI + ["train", str(tiny_re), "--out", str(run), "--fusion", "layer", "--kg",
                  str(embedded), "--embeddings", "tiny", "--epochs", "2", "--batch-size", "8",
                  "--max-length", "48", "--seed", "7", "--patience", "5"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    checkpoint = run / "checkpoints" / "last" / "trainer_state.pt"
    deadline = time.time() + 300
    while not checkpoint.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, stop)
    stderr = process.communicate(timeout=120)[1]
    assert not (run / "metrics.json").exists(), "stopped before the end of epoch 2"
    if stop == signal.SIGINT:
        assert process.returncode == 130 and stderr.strip().splitlines() == ["interrupted"], stderr
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 1
    done = subprocess.run(args + ["--resume"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Loading weights" not in done.stderr and "transformers" not in done.stderr, \
        "-q silences transformers' progress bars and notes"
    assert_same_run(json.loads((run / "metrics.json").read_text()), whole)


@pytest.fixture(scope="module")
def late_run(embedded, tiny_re, tmp_path_factory):
    run = tmp_path_factory.mktemp("fusion") / "late"
    train(config_for(tiny_re, run, "late", embedded, max_steps=2))
    return run


def test_predict_into_the_graph_is_queryable(embedded, late_run, tmp_path):
    """Wikipedia's link syntax, pairs within a sentence, IRIs in the output, the threshold
    on what is shown and written, two calls never merging statements, kg.json kept."""
    run = late_run
    graph = tmp_path / "graph"
    shutil.copytree(embedded, graph)
    text = ("The capital of [[Alabama]] is [[Montgomery, Alabama|Montgomery]]. "
            "[[Mobile, Alabama|Mobile]] lies on the coast.")

    def predict(*options):
        done = subprocess.run(CLI + ["predict", str(run), "--text", text, *options],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()], done.stderr

    shown, _ = predict("--all")
    assert {(x["head"], x["tail"]) for x in shown} == {("Alabama", "Montgomery"),
                                                      ("Montgomery", "Alabama")}
    montgomery = "http://example.org/wikikg/resource/Montgomery,_Alabama"
    assert {x["head_iri"] for x in shown} == {montgomery,
                                              "http://example.org/wikikg/resource/Alabama"}
    for x in shown:
        assert x["text"] == "The capital of Alabama is Montgomery." and 0 <= x["score"] <= 1
        assert (x["relation"] == "no_relation") == (x["relation_iri"] is None)
    cut = max(x["score"] for x in shown) + 1e-4  # above the true score: shown ones are rounded to 4 places
    assert predict("--threshold", f"{min(cut, 1.0)}")[0] == []          # nothing reaches it
    for _ in range(2):                                                   # the same claims twice
        _, said = predict("--into", str(graph), "--threshold", "0")
    claimed = [x for x in shown if x["best"] != "no_relation"]
    assert claimed, "the tiny model claims a relation for at least one pair"
    assert f"added {len(claimed)} predicted triples" in said
    other = tmp_path / "elsewhere" / "late"                              # same folder name
    shutil.copytree(run, other)
    subprocess.run(CLI + ["predict", str(other), "--text", text, "--into", str(graph),
                          "--threshold", "0"], check=True, capture_output=True)
    rows = KnowledgeGraph.open(graph).query(
        "PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> "
        "SELECT ?g ?st ?s ?o ?score ?sentence WHERE { GRAPH ?g { ?st rdf:subject ?s ; "
        "rdf:object ?o ; <http://example.org/wikikg/ontology/score> ?score ; "
        "<http://example.org/wikikg/ontology/sentence> ?sentence } }")
    assert len(rows) == 2 * len(claimed) == len({row["st"] for row in rows})
    assert len({row["g"] for row in rows}) == 2
    per_statement = KnowledgeGraph.open(graph).query(
        "PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> "
        "SELECT ?st (COUNT(?s) AS ?n) WHERE { GRAPH ?g { ?st rdf:subject ?s } } GROUP BY ?st")
    assert all(row["n"] == 1 for row in per_statement)
    meta = json.loads((graph / "kg.json").read_text())
    assert sorted(meta["graphs"]) == sorted({row["g"] for row in rows})
    assert meta["triples"] == len(KnowledgeGraph.open(graph))
    predictor = RelationPredictor.from_pretrained(run)
    again = predictor.predict([{"text": "The capital of Alabama is Montgomery.",
                                "head": {"start": 15, "end": 22, "iri": None, "surface": "Alabama"},
                                "tail": {"start": 26, "end": 36, "iri": None,
                                         "surface": "Montgomery"}}])
    assert again[0]["prediction"] in predictor.labels
    not_a_run = subprocess.run(CLI + ["predict", str(graph), "--text", text],
                               capture_output=True, text=True)
    assert not_a_run.returncode == 1 and len(not_a_run.stderr.strip().splitlines()) == 1
    assert "not a model saved by `wikikg train`" in not_a_run.stderr


def test_a_finished_run_drops_its_checkpoint_unless_kept_and_says_so_on_resume(
        embedded, tiny_re, tmp_path):
    """Per logged step losses in metrics.json; the 270 MB optimizer state gone at the end by
    default (best model and config kept); --resume of a finished run says what it can do."""
    def run(out, *options):
        return subprocess.run(CLI + ["train", str(tiny_re), "--out", str(out), "--fusion", "late",
                                     "--kg", str(embedded), "--embeddings", "tiny", "--max-steps",
                                     "3", "--log-every", "1", "--batch-size", "8",
                                     "--max-length", "48", *options],
                              capture_output=True, text=True)

    done = run(tmp_path / "dropped")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "dropped" / "checkpoints").exists()
    assert all((tmp_path / "dropped" / name).is_file() for name in
               ("model.safetensors", "train_config.json", "fusion_config.json"))
    metrics = json.loads((tmp_path / "dropped" / "metrics.json").read_text())
    assert [s["step"] for s in metrics["losses"]] == [1, 2, 3] and metrics["steps"] == 3
    again = run(tmp_path / "dropped", "--resume")
    assert again.returncode == 1 and len(again.stderr.strip().splitlines()) == 1, again.stderr
    assert "cannot be resumed" in again.stderr and "--keep-checkpoints" in again.stderr
    kept = tmp_path / "kept"
    assert run(kept, "--keep-checkpoints").returncode == 0
    assert (kept / "checkpoints" / "last" / "trainer_state.pt").is_file()
    resumed = run(kept, "--keep-checkpoints", "--resume")
    assert resumed.returncode == 0 and "nothing to train" in resumed.stderr, resumed.stderr
    assert (kept / "checkpoints" / "last" / "trainer_state.pt").is_file()


def on_a_terminal(args: list[str]) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal of 120 columns (tqdm draws bars only
    on a terminal, and none on one of width 0); the exit code and everything drawn."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(args, stdout=slave, stderr=slave)
    os.close(slave)
    drawn = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    return process.wait(), drawn.decode(errors="replace").replace("\r", "\n")


def test_the_training_bar_counts_to_max_steps_and_evaluation_has_one(embedded, tiny_re,
                                                                      tmp_path):
    code, drawn = on_a_terminal([sys.executable, "-m", "wikikg.cli", "train", str(tiny_re),
                                 "--out", str(tmp_path / "run"), "--epochs", "3",
                                 "--batch-size", "8", "--max-length", "48", "--max-steps", "5"])
    assert code == 0, drawn
    totals = {line.split(":")[0].strip(): line.split("|")[2].split("[")[0].strip()
              for line in drawn.splitlines() if "%|" in line and "Loading" not in line}
    assert totals["train"] == "5/5", totals  # 3 epochs of 4 steps would be 12
    assert totals["evaluate dev"].endswith("/1") and totals["evaluate test"].endswith("/1")


def test_predict_input_is_checked_like_a_dataset(late_run, tiny_re, tmp_path):
    """--input records follow the RE format (relation optional): a good one is classified,
    a bad one is named by file, line and field in one line."""
    record = json.loads((tiny_re / "test.jsonl").read_text().splitlines()[0])
    record.pop("relation")
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(record) + "\n")
    done = subprocess.run(CLI + ["predict", str(late_run), "--input", str(good), "--all"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 1, done.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(record) + "\n" + json.dumps({**record, "tail": None}) + "\n")
    done = subprocess.run(CLI + ["predict", str(late_run), "--input", str(bad)],
                          capture_output=True, text=True)
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"{bad}:2: tail" in done.stderr


def test_text_and_graph_evidence_of_candidate_triples(embedded, tiny_re, late_run):
    """fusion.reasoning on real parts: each triple's graph score is the scorer's, its text
    probability the best over the pair's sentences, and the combination fitted on dev
    gives probabilities that rank test candidates."""
    kg = KnowledgeGraph.open(embedded)
    labels = [r["name"] for r in json.loads((tiny_re / "relations.json").read_text())["relations"]]
    relations = [kg.scheme.property(label) for label in labels if label != "no_relation"]
    stated = {triple for p in relations for triple in kg.triples(predicate=p)}
    scorer = LinkScorer.from_pretrained(embedded / "embeddings" / "tiny")
    predictor = RelationPredictor.from_pretrained(late_run)
    dev = candidates(list(read_jsonl(tiny_re / "dev.jsonl")), relations, stated)
    assert len(dev.triples) == len(dev.examples) * len(relations) and dev.labels.any()
    graph = graph_logits(scorer, dev.triples)
    s, p, o = dev.triples[0]
    if not np.isnan(graph[0]):
        direct = scorer.score(torch.tensor([scorer.ids[s]]),
                              torch.tensor([scorer.relations.index(p)]))[0, scorer.ids[o]]
        assert graph[0] == pytest.approx(float(direct), abs=1e-5)
    text = text_probabilities(predictor, dev, kg.scheme)
    sentences = predictor.predict(dev.examples[(s, o)])
    label = labels[[kg.scheme.property(name) for name in labels].index(p)]
    assert text[0] == pytest.approx(max(item["scores"][label] for item in sentences))
    x = features(graph, text)
    assert x.shape == (len(dev.triples), 4) and np.isfinite(x).all()
    combination = Combination.fit(x, dev.labels)
    test = candidates(list(read_jsonl(tiny_re / "test.jsonl")), relations, stated)
    probability = combination.predict(features(graph_logits(scorer, test.triples),
                                               text_probabilities(predictor, test, kg.scheme)))
    assert ((0 < probability) & (probability < 1)).all() and len(probability) == len(test.triples)


def test_ner_with_late_fusion_reports_entity_level_scores(embedded, tmp_path):
    data = tmp_path / "ner"
    build_ner_dataset(embedded, data)
    metrics = train(config_for(data, tmp_path / "ner-run", "late", embedded, task="ner",
                               max_steps=2, max_train_examples=32))
    assert {"micro_f1", "per_type"} <= set(metrics["test"])
    assert "PER" in metrics["test"]["per_type"] or "LOC" in metrics["test"]["per_type"]

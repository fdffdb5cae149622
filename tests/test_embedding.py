"""The graph encoder stage on real data: layers against PyG and direct computations, the
filtered ranking against brute force, nations training, outputs, holdout and the CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn import RGCNConv as PyGRGCNConv

from common.vocab import DCT_SUBJECT, RDF_TYPE, RDFS_LABEL
from kg import KnowledgeGraph, import_graph
from kg.embedding import (
    AnswerIndex,
    EmbedConfig,
    EntityEmbeddings,
    RelGraph,
    TripleSet,
    build_model,
    evaluate,
    filtered_ranks,
    fit,
    load_relations,
    load_triples,
    ranking_metrics,
    save_result,
)
from kg.embedding.evaluate import queries_of
from kg.embedding.layers import CompGCNConv, RelationAdjacency, RGCNConv, compose
from kg.embedding.scorer import LinkScorer
from kg.embedding.train import smoothed_bce

FAST = dict(dim=64, epochs=40, eval_every=10, patience=2, lr=0.01, batch_size=256)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These runs are many small ops: on a 2-core machine shared with other work, two torch
    threads waiting on each other made them 5-10x slower than one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def nations(tmp_path_factory, shared):
    source = shared / "kg" / "nations"
    out = tmp_path_factory.mktemp("kg") / "nations"
    import_graph([source / f"{name}.txt" for name in ("train", "valid", "test")], out)
    return out


def test_filtered_ranking_matches_brute_force():
    """Hand-made graph; entities 3 and 4 share a vector, so their scores tie exactly."""
    triples = torch.tensor([[0, 0, 1], [0, 0, 2], [1, 1, 3], [2, 0, 3], [4, 1, 0], [3, 0, 4]])
    data = TripleSet([f"e{i}" for i in range(5)], ["r0", "r1"], triples[:3], triples[3:5],
                     triples[5:])
    model = build_model(EmbedConfig(model="distmult", dim=4), 5, 2)
    with torch.no_grad():
        model.kge.node_emb.weight.copy_(torch.tensor(
            [[1., 0, 1, 0], [0, 1, 1, 0], [1, 1, 0, 0], [0, 1, 0, 1], [0, 1, 0, 1]]))
        model.kge.rel_emb.weight.copy_(torch.tensor([[1., 1, 1, 1], [1., 0.5, 0, 1]]))
    known = {tuple(t) for t in data.known().tolist()}
    ranks = []
    for h, r, t in torch.cat([data.valid, data.test]).tolist():
        for target, candidates in ((t, [(h, r, c) for c in range(5)]),
                                   (h, [(c, r, t) for c in range(5)])):
            score = [model.kge(*torch.tensor([triple]).t()).item() for triple in candidates]
            others = [c for c in range(5) if c != target and candidates[c] not in known]
            higher = sum(score[c] > score[target] for c in others)
            tied = sum(score[c] == score[target] for c in others)
            ranks.append(1 + higher + tied / 2)
    assert any(r % 1 for r in ranks), "the example should contain a tie"
    index = AnswerIndex(data.known(), 5, 2)
    graph = RelGraph.from_triples(data.train, 5, 2)
    metrics = evaluate(model, graph, torch.cat([data.valid, data.test]), index, 2, batch_size=3)
    assert metrics["mrr"] == pytest.approx(sum(1 / r for r in ranks) / len(ranks))
    assert metrics["mr"] == pytest.approx(sum(ranks) / len(ranks))
    for k in (1, 3, 10):
        assert metrics[f"hits@{k}"] == pytest.approx(sum(r <= k for r in ranks) / len(ranks))


def test_smoothed_bce_equals_dense_target_bce():
    torch.manual_seed(0)
    logits = torch.randn(4, 9, requires_grad=True)
    rows, answers = torch.tensor([0, 0, 2, 3]), torch.tensor([1, 5, 0, 8])
    target = torch.zeros(4, 9)
    target[rows, answers] = 1.0
    dense = F.binary_cross_entropy_with_logits(logits, 0.9 * target + 1 / 9)
    (expected,) = torch.autograd.grad(dense, logits)
    ours = smoothed_bce(logits, rows, answers, 0.1)
    (gradient,) = torch.autograd.grad(ours, logits)
    assert ours.item() == pytest.approx(dense.item(), abs=1e-6)
    assert torch.allclose(gradient, expected, atol=1e-7)


@pytest.mark.parametrize("model_name", ["transe", "distmult", "rotate"])
def test_kge_one_to_n_scores_equal_pyg_forward(model_name):
    torch.manual_seed(0)
    model = build_model(EmbedConfig(model=model_name, dim=8), 7, 3)
    encoded = model.encode()
    h, r, t = torch.tensor([0, 5, 2]), torch.tensor([2, 0, 1]), torch.tensor([3, 3, 6])
    all_scores = model.score(encoded, h, r)
    head_scores = model.score(encoded, t, r + 3)
    for i in range(3):
        pyg_score = model.kge(h[i:i + 1], r[i:i + 1], t[i:i + 1]).item()
        assert all_scores[i, t[i]].item() == pytest.approx(pyg_score, abs=1e-5)
        assert head_scores[i, h[i]].item() == pytest.approx(all_scores[i, t[i]].item(), abs=1e-5)


@pytest.mark.parametrize("decomposition", [{"num_bases": 3}, {"num_blocks": 4}])
def test_rgcn_layer_equals_pyg_rgcnconv(decomposition):
    torch.manual_seed(0)
    num_nodes, sizes = 60, [1, 3, 7, 40, 150, 2]   # skewed: several size classes
    num_relations = len(sizes)
    edge_type = torch.cat([torch.full((n,), r) for r, n in enumerate(sizes)])
    edge_index = torch.randint(num_nodes, (2, len(edge_type)))
    x = torch.randn(num_nodes, 16)
    reference = PyGRGCNConv(16, 16, num_relations, aggr="mean", **decomposition)
    layer = RGCNConv(16, 16, num_relations, **decomposition)
    layer.load_state_dict(reference.state_dict())
    adjacency = RelationAdjacency.from_edges(edge_index, edge_type, num_nodes, num_relations)
    ours, theirs = layer(x, adjacency), reference(x, edge_index, edge_type)
    assert (ours - theirs).abs().max().item() < 1e-5
    ours.square().sum().backward()
    theirs.square().sum().backward()
    assert (layer.weight.grad - reference.weight.grad).abs().max().item() < 1e-4


def test_compgcn_compositions_and_layer_against_direct_computation():
    torch.manual_seed(0)
    a, b = torch.randn(5), torch.randn(5)
    correlation = torch.tensor([sum(a[i] * b[(i + k) % 5] for i in range(5)) for k in range(5)])
    assert torch.allclose(compose(a, b, "corr"), correlation, atol=1e-5)
    assert torch.equal(compose(a, b, "sub"), a - b)
    assert torch.equal(compose(a, b, "mult"), a * b)

    triples = torch.tensor([[0, 0, 1], [1, 1, 2], [2, 0, 0], [3, 1, 1]])
    graph = RelGraph.from_triples(triples, 4, 2)
    x, rel = torch.randn(4, 6), torch.randn(4, 6)
    for composition in ("sub", "mult", "corr"):
        layer = CompGCNConv(6, 5, 2, composition)
        with torch.no_grad():
            layer.bias.normal_()
        out, rel_out = layer(x, rel, graph.edge_index, graph.edge_type)
        assert out.shape == (4, 5) and rel_out.shape == (4, 5)
        degree = torch.bincount(graph.edge_index[1], minlength=4).float()
        expected = layer.w_loop(compose(x, layer.loop_rel[0], composition))
        for (u, v), r in zip(graph.edge_index.t().tolist(), graph.edge_type.tolist()):
            weight = layer.w_out if r >= 2 else layer.w_in
            message = compose(x[u], rel[r], composition) / (degree[u] * degree[v]).sqrt()
            expected[v] = expected[v] + weight(message)
        assert torch.allclose(out, expected / 3 + layer.bias, atol=1e-5)
        assert torch.allclose(rel_out, layer.w_rel(rel))


def test_nations_beats_random_ranking(nations):
    data = load_triples(nations)
    assert (data.num_entities, data.num_relations, len(data.test)) == (14, 55, 201)
    for model in ("rgcn", "distmult"):
        result = fit(data, EmbedConfig(model=model, **FAST), progress=False)
        assert result.metrics["test"]["mrr"] > 0.5, (model, result.metrics["test"])


def test_same_seed_same_metrics_with_neighbour_sampling(nations):
    data = load_triples(nations)
    config = EmbedConfig(model="compgcn", fanout=3, sampled_negatives=4, **{**FAST, "epochs": 10})
    first, second = (fit(data, config, progress=False).metrics for _ in range(2))
    assert first["valid"] == second["valid"] and first["test"] == second["test"]
    assert first["test"]["mrr"] > 0.3


def test_embeddings_round_trip(nations, tmp_path):
    data = load_triples(nations)
    result = fit(data, EmbedConfig(model="rgcn", **{**FAST, "epochs": 5}), progress=False)
    out = save_result(result, tmp_path / "run")
    loaded = EntityEmbeddings.from_pretrained(out)
    assert torch.equal(loaded.matrix, result.entities.matrix)
    assert loaded.iris == ["", *data.entities] and not loaded.matrix[0].any()
    usa = next(iri for iri in data.entities if iri.endswith("/usa"))
    assert loaded.nearest(usa, 5) == result.entities.nearest(usa, 5)
    assert torch.equal(loaded.vector(usa), loaded.matrix[loaded.index(usa)])
    assert loaded.index("http://nowhere/x") == 0 and not loaded.vector("http://nowhere/x").any()
    rows, relations = load_relations(out)
    assert len(rows) == len(relations) == 2 * data.num_relations
    assert EmbedConfig.from_pretrained(out) == result.config
    assert json.loads((out / "metrics.json").read_text())["test"] == result.metrics["test"]


def test_the_loss_is_logged_per_step_and_evaluations_at_theirs(nations, tmp_path):
    """The curve has a point per --log-every steps (and at each epoch's end), not per epoch."""
    config = EmbedConfig(model="distmult", **{**FAST, "epochs": 2, "eval_every": 1, "log_every": 3})
    result = fit(load_triples(nations), config, progress=False)
    steps = [s["step"] for s in result.metrics["steps"]]
    per_epoch = steps[-1] // 2
    assert per_epoch > 3 and steps == sorted({*range(3, 2 * per_epoch + 1, 3), per_epoch,
                                               2 * per_epoch})
    assert [v["step"] for v in result.metrics["valid"]] == [per_epoch, 2 * per_epoch]
    save_result(result, tmp_path / "run")
    assert (tmp_path / "run" / "valid_mrr.png").stat().st_size > 0


@pytest.mark.parametrize("settings", [dict(model="rgcn", decoder="conve", dim=64, conve_height=8),
                                      dict(model="compgcn"), dict(model="transe"),
                                      dict(model="rotate")])
def test_saved_scorer_reproduces_the_test_metrics(nations, tmp_path, settings):
    """Scores recomputed from the files alone (vectors, decoder, config) rank the test
    triples exactly as the run did: ConvE's batch-norm statistics and the bias included."""
    data = load_triples(nations)
    result = fit(data, EmbedConfig(**{**FAST, "epochs": 4, "eval_every": 2, **settings}),
                 progress=False)
    scorer = LinkScorer.from_pretrained(save_result(result, tmp_path / "run"))
    assert scorer.iris == data.entities and scorer.relations == data.relations
    known = AnswerIndex(data.known(), data.num_entities, data.num_relations)
    entity, relation, answer = queries_of(data.test, data.num_relations)
    ranks = filtered_ranks(scorer.score(entity, relation), answer, known.mask(entity, relation))
    assert ranking_metrics(ranks)["mrr"] == pytest.approx(result.metrics["test"]["mrr"], abs=1e-6)


def test_control_tables_keep_norms_or_vectors_but_not_the_entity(nations):
    data = load_triples(nations)
    table = fit(data, EmbedConfig(model="distmult", **{**FAST, "epochs": 5}), progress=False).entities
    random = table.control("random", seed=1)
    shuffled = table.control("shuffled", seed=1)
    assert table.control("none") is table
    for control in (random, shuffled):
        assert control.iris == table.iris and not control.matrix[0].any()
        assert not torch.allclose(control.matrix[1:], table.matrix[1:])
    assert torch.allclose(random.matrix.norm(dim=1), table.matrix.norm(dim=1), atol=1e-5)
    assert sorted(map(tuple, shuffled.matrix.tolist())) == sorted(map(tuple, table.matrix.tolist()))
    assert torch.equal(shuffled.matrix, table.control("shuffled", seed=1).matrix)  # seeded
    with pytest.raises(ValueError, match="none, random or shuffled"):
        table.control("zeros")


def test_wikipedia_edges_and_holdout_absent_from_training(sample_graph, tmp_path):
    graph = KnowledgeGraph.open(sample_graph)
    data = load_triples(sample_graph)
    assert all(graph.scheme.is_entity(e) for e in data.entities)
    excluded = {RDF_TYPE, RDFS_LABEL, graph.scheme.ontology("wikiPageRedirects")}
    assert not excluded & set(data.relations)
    subject = data.relations.index(DCT_SUBJECT)
    assert (data.train[:, 1] == subject).any()
    assert not (torch.cat([data.valid, data.test])[:, 1] == subject).any()
    assert torch.equal(load_triples(sample_graph).test, data.test)   # deterministic split

    chosen = data.train[data.train[:, 1] != subject][::50][:30]
    holdout = tmp_path / "holdout.tsv"
    holdout.write_text("".join(f"{data.entities[h]}\t{data.relations[r]}\t{data.entities[t]}\n"
                               for h, r, t in chosen.tolist()))
    held = load_triples(sample_graph, holdout)
    assert held.entities == data.entities and len(held.holdout) == len(chosen)
    edges = RelGraph.from_triples(held.train, held.num_entities, held.num_relations)
    edge_keys = set(zip(edges.edge_index[0].tolist(), edges.edge_type.tolist(),
                        edges.edge_index[1].tolist()))
    for h, r, t in chosen.tolist():
        assert (h, r, t) not in edge_keys and (t, r + held.num_relations, h) not in edge_keys
    assert not {tuple(t) for t in chosen.tolist()} & {tuple(t) for t in held.train.tolist()}


def dict_split(graph, holdout, fraction, seed):
    """The split as the plain in-memory algorithm makes it (IRI tuples, a degree dict):
    the reference the out-of-core loader must reproduce exactly."""
    from kg.embedding.data import graph_triples, read_tsv

    held = set(read_tsv(holdout))
    rows = [t for t in graph_triples(graph) if t[:3] not in held]
    facts = sorted({t[:3] for t in rows if t[3] == "fact"})
    context = sorted({t[:3] for t in rows if t[3] == "context"})
    degree = {}
    for s, p, o in facts + context:
        for key in (s, o, "\0" + p):
            degree[key] = degree.get(key, 0) + 1
    wanted, chosen = int(len(facts) * fraction), {"valid": [], "test": []}
    for index in torch.randperm(len(facts), generator=torch.Generator().manual_seed(seed)).tolist():
        if len(chosen["test"]) >= wanted:
            break
        keys = (facts[index][0], facts[index][2], "\0" + facts[index][1])
        if all(degree[k] > keys.count(k) for k in keys):
            for key in keys:
                degree[key] -= 1
            chosen["valid" if len(chosen["valid"]) < wanted else "test"].append(facts[index])
    taken = set(chosen["valid"]) | set(chosen["test"])
    return {"train": [t for t in facts if t not in taken] + context, **chosen}


def test_out_of_core_loading_splits_as_the_dict_algorithm(sample_graph, tmp_path):
    """IRIs numbered by DuckDB under a small budget, the split run on id arrays: the same
    triples, in the same order, as the dict version, holdout and self-loops included."""
    first = load_triples(sample_graph)
    holdout = tmp_path / "holdout.tsv"
    holdout.write_text("".join(f"{first.entities[h]}\t{first.relations[r]}\t<{first.entities[t]}>\n"
                               for h, r, t in first.train[::9][:150].tolist()))
    data = load_triples(sample_graph, holdout, fraction=0.1, seed=3, memory_limit="64MB",
                        tmp_dir=tmp_path)
    expected = dict_split(KnowledgeGraph.open(sample_graph), holdout, 0.1, 3)
    for name in ("train", "valid", "test"):
        got = [(data.entities[s], data.relations[p], data.entities[o])
               for s, p, o in getattr(data, name).tolist()]
        assert got == expected[name], name
    assert len(data.holdout) == 150 and len(data.valid) == len(expected["valid"]) > 1000
    assert data.entities == sorted(data.entities) and list(tmp_path.iterdir()) == [holdout]


@pytest.mark.slow
def test_cli_embed_sample_graph(sample_graph, tmp_path):
    data = load_triples(sample_graph)
    h, r, t = data.train[0].tolist()
    holdout = tmp_path / "holdout.tsv"
    holdout.write_text(f"{data.entities[h]}\t{data.relations[r]}\t{data.entities[t]}\n")
    command = [sys.executable, "-m", "wikikg.cli", "-q", "embed", str(sample_graph), "--model",
               "compgcn", "--dim", "16", "--epochs", "1", "--batch-size", "4096", "--layers", "1",
               "--fanout", "3", "--holdout", str(holdout), "--out", "cli"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    out = sample_graph / "embeddings" / "cli"
    assert done.stdout.strip() == str(out)
    for name in ("entities.safetensors", "entities.tsv", "relations.safetensors", "relations.tsv",
                 "config.json", "metrics.json", "valid_mrr.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["triples"]["holdout"] == 1 and metrics["test"]["queries"] > 0
    assert len(EntityEmbeddings.from_pretrained(out)) == data.num_entities

    not_a_graph = subprocess.run([*command[:5], str(tmp_path)], capture_output=True, text=True)
    assert not_a_graph.returncode == 1 and "kg.json" in not_a_graph.stderr


def test_unusable_data_and_diverging_training_are_clear_errors(nations):
    data = load_triples(nations)
    empty_valid = dataclasses.replace(data, valid=data.valid[:0])
    with pytest.raises(ValueError, match=r"too few triples to train and validate on \(train 1592, valid 0\)"):
        fit(empty_valid, EmbedConfig(model="distmult", **FAST), progress=False)
    with pytest.raises(FloatingPointError, match="training loss is .* at epoch 1; try a lower learning rate"):
        fit(data, EmbedConfig(model="rgcn", **{**FAST, "lr": 1e30}), progress=False)

"""Training sets: distant supervision on the real sample build, FewRel and WikiANN imports."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from common.jsonl import read_jsonl, read_output
from fusion.datasets import (
    DistantConfig,
    build_ner_dataset,
    build_re_dataset,
    dataset_stats,
    import_fewrel,
    load_entity_map,
    read_conll,
)
from fusion.datasets.ner import ClassTable
from kg import IriScheme

R = IriScheme().base + "resource/"


@pytest.fixture(scope="module")
def re_set(sample_graph, tmp_path_factory):
    out = tmp_path_factory.mktemp("re") / "sample-re"
    stats = build_re_dataset(sample_graph, out, DistantConfig())
    return out, stats


def spans_of(tags):
    """(start, end, type) entity spans of IOB2 tags."""
    from seqeval.metrics.sequence_labeling import get_entities

    return [(start, end + 1, kind) for kind, start, end in get_entities(tags)]


def examples(directory, *splits):
    return [e for s in splits or ("train", "dev", "test") for e in read_jsonl(directory / f"{s}.jsonl")]


def find(items, relation, head, tail, text_start):
    return [e for e in items if e["relation"] == relation and e["head"]["iri"] == R + head
            and e["tail"]["iri"] == R + tail and e["text"].startswith(text_start)]


def test_sample_build_yields_several_relations(re_set):
    out, stats = re_set
    relations = json.loads((out / "relations.json").read_text())["relations"]
    assert relations[0] == {"id": 0, "name": "no_relation", "label": "no_relation",
                            "examples": stats["relations"]["no_relation"]}
    positive = {r["name"] for r in relations[1:]}
    assert len(positive) >= 8 and {"capital", "birth_place", "influences"} <= positive
    assert all(n >= 5 for r, n in stats["relations"].items())


def test_examples_checked_by_hand_against_the_dump(re_set):
    items = examples(re_set[0])
    # Alabama: "The capital of Alabama is Montgomery." / infobox |Capital = [[Montgomery, Alabama|...]]
    (capital,) = find(items, "capital", "Alabama", "Montgomery,_Alabama", "The capital of Alabama")
    assert capital["direction"] == "forward" and capital["page"] == "Alabama"
    assert capital["text"][capital["tail"]["start"]:capital["tail"]["end"]] == "Montgomery"
    # Albert Einstein: "Albert Einstein was born in Ulm, ..." / | birth_place = [[Ulm]], ...
    (born,) = find(items, "birth_place", "Albert_Einstein", "Ulm", "Albert Einstein was born in Ulm")
    assert born["head"]["surface"] == "Albert Einstein"
    assert born["head"]["type"] == "PER"  # typed markers: his infobox (scientist) is PER
    # Alberta: "Alberta's capital city, Edmonton, ..." / |capital = [[Edmonton]]
    assert find(items, "capital", "Alberta", "Edmonton", "Alberta's capital city, Edmonton")
    for example in items:
        for side in ("head", "tail"):
            span = example[side]
            assert example["text"][span["start"]:span["end"]] == span["surface"]


def test_no_pair_crosses_splits_and_every_pair_is_held_out(re_set):
    out, _ = re_set
    pairs = {}
    for split in ("train", "dev", "test"):
        for example in read_jsonl(out / f"{split}.jsonl"):
            pair = frozenset((example["head"]["iri"], example["tail"]["iri"]))
            assert pairs.setdefault(pair, split) == split, pair
    lines = (out / "heldout_pairs.tsv").read_text().splitlines()
    assert lines == sorted(set(lines))
    assert {frozenset(line.split("\t")) for line in lines} == set(pairs)


def test_encoder_graph_without_the_edges_of_any_labelled_pair(re_set, sample_graph):
    """The leak this file guards against: a train pair's labelled triple left as an encoder
    edge lets a fused model read the relation off the entity vectors.  With the set's
    ``heldout_pairs.tsv``, no pair of any split keeps an edge, whatever its predicate."""
    from kg.embedding import load_triples

    out, _ = re_set
    pairs = {frozenset((e["head"]["iri"], e["tail"]["iri"])) for e in examples(out)}
    before = load_triples(sample_graph)
    data = load_triples(sample_graph, out / "heldout_pairs.tsv")

    def linked(triples, entities):
        return sum(frozenset((entities[s], entities[o])) in pairs for s, _, o in triples.tolist())

    train_positives = [e for e in examples(out, "train") if e["relation"] != "no_relation"]
    assert linked(before.train, before.entities) >= len({frozenset((e["head"]["iri"], e["tail"]["iri"]))
                                                         for e in train_positives}) > 40
    for split in ("train", "valid", "test"):
        assert linked(getattr(data, split), data.entities) == 0, split
    assert linked(data.holdout, data.entities) == len(data.holdout) > 0


def test_negative_ratio_and_determinism(sample_graph, tmp_path, re_set):
    _, stats = re_set
    positives = sum(n for r, n in stats["relations"].items() if r != "no_relation")
    assert 0.7 * positives <= stats["relations"]["no_relation"] <= 1.3 * positives
    build_re_dataset(sample_graph, tmp_path / "again", DistantConfig())
    assert (tmp_path / "again" / "train.jsonl").read_bytes() == (re_set[0] / "train.jsonl").read_bytes()
    none = build_re_dataset(sample_graph, tmp_path / "none", DistantConfig(negative_ratio=0))
    assert "no_relation" not in none["relations"]


def test_ner_from_linked_mentions(sample_graph, tmp_path):
    assert ClassTable().classify("infobox officeholder") == "PER"
    assert ClassTable().classify("infobox province or territory of canada") == "LOC"
    stats = build_ner_dataset(sample_graph, tmp_path / "ner")
    assert stats["sentences_kept"] > 100 and {"PER", "LOC", "MISC"} <= set(stats["entities"])
    conll = (tmp_path / "ner" / "train.conll").read_text()
    assert "Alabama\tB-LOC" in conll
    for example in examples(tmp_path / "ner"):
        assert len(example["tokens"]) == len(example["tags"])
        assert not any(t.startswith("I-") and (i == 0 or example["tags"][i - 1] == "O")
                       for i, t in enumerate(example["tags"]))


def test_ner_links_come_from_other_pages_anchors_never_from_the_tags(sample_graph, tmp_path):
    """The NER leak guarded against: links equal to the gold spans.  Every link must be the
    majority entity of its surface among the anchors of train pages outside the sentence's
    own fold (any train page for dev/test), recomputed here from the build's sentences."""
    from collections import Counter

    from fusion.datasets.linking import ALL, match_key
    from fusion.datasets.ner import NERConfig, link_fold

    stats = build_ner_dataset(sample_graph, tmp_path / "ner")
    config = NERConfig()
    anchors: dict[int, Counter] = {}
    folds = {}
    for sentence in read_output(sample_graph, "sentences"):
        fold = folds[sentence["id"]] = link_fold(sentence["page"], config)
        for m in sentence["mentions"]:
            if m["title"] is not None and fold != ALL:
                iri = IriScheme().resource(m["title"])
                anchors.setdefault(fold, Counter())[(match_key(m["surface"]), iri)] += 1
    checked = 0
    for example in examples(tmp_path / "ner"):
        others = sum((c for f, c in anchors.items() if f != folds[example["id"]]), Counter())
        for start, end, iri in example["links"]:
            key = match_key("".join(example["tokens"][start:end]))
            named = {i: n for (k, i), n in others.items() if k == key}
            assert named.get(iri, 0) > 0.5 * sum(named.values()), (example["id"], key, iri)
            checked += 1
    agreement = stats["links"]["agreement_with_gold_mentions"]["train"]
    assert checked > 100 and agreement["same"] < agreement["gold"]


def test_fewrel_import_keeps_everything_with_exact_offsets(shared):
    fewrel = shared / "re" / "fewrel" / "val_wiki.json"
    entity_map = load_entity_map(shared / "kg" / "FB15k-237" / "entity2wikidata.json")
    splits, counts = import_fewrel(fewrel, entity_map)
    assert counts["read"] == counts["kept"] == 11200
    assert {k: len(v) for k, v in splits.items()} == {"train": 7840, "dev": 1120, "test": 2240}
    raw = json.loads(fewrel.read_text())
    for _relation, items in splits.items():
        for example in items:
            for side in ("head", "tail"):
                span = example[side]
                assert example["text"][span["start"]:span["end"]] == span["surface"]
    first = json.loads(fewrel.read_text())["P177"][0]
    converted = next(e for s in splits.values() for e in s if e["sentence_id"] == "fewrel:P177:0")
    name, qid, _ = first["h"]
    assert converted["head"]["surface"].lower() == name and converted["head"]["wikidata"] == qid
    # independent count: instances whose head or tail Wikidata id is in entity2wikidata.json
    known = {v["wikidata_id"] for v in json.loads(
        (shared / "kg" / "FB15k-237" / "entity2wikidata.json").read_text()).values()
        if v.get("wikidata_id")}
    expected = sum(i["h"][1] in known or i["t"][1] in known for v in raw.values() for i in v)
    assert counts["linked_head_or_tail"] == expected == 4235
    per_relation = {r: sum(e["relation"] == r for e in splits["test"]) for r in raw}
    assert set(per_relation.values()) == {140}, "stratified: 20% of each relation's 700"
    # typed markers' types from spaCy: most spans typed; spouses (P26) are people
    assert counts["typed_spans"] > 0.6 * 2 * 11200
    spouses = [e[side]["type"] for s in splits.values() for e in s if e["relation"] == "P26"
               for side in ("head", "tail")]
    assert spouses.count("PER") > 0.6 * len(spouses)


def test_wikiann_import_and_bad_lines(shared, tmp_path):
    train, counts = read_conll(shared / "ner" / "wikiann-en" / "train")
    assert len(train) == counts["sentences"] == 20000 and counts["lines_skipped"] == 0
    assert train[0].tokens[:2] == ["R.H.", "Saunders"] and train[0].tags[:2] == ["B-ORG", "I-ORG"]
    bad = tmp_path / "train"
    bad.write_text("en:Paris\tB-LOC\nen:is\nen:nice\tO\n\nen:Ada\tI-PER\n")
    items, counts = read_conll(bad)
    assert counts == {"lines_read": 4, "tokens_kept": 3, "lines_skipped": 1, "sentences": 2}
    assert items[1].tags == ["B-PER"], "I- after O repaired to B-"


@pytest.mark.slow
def test_dataset_cli_and_stats(shared, sample_graph, tmp_path):
    cli = [sys.executable, "-m", "wikikg.cli", "-q", "dataset"]
    names = shared / "kg" / "FB15k-237" / "entity2wikidata.json"
    done = subprocess.run(cli + ["conll", str(shared / "ner" / "wikiann-en" / "dev"), "--out",
                                 str(tmp_path / "wikiann"), "--link-aliases", str(names)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "read 80536 lines, kept 80536, skipped 0" in done.stderr
    # links by FB15k-237 names, longest match, without the tags: each link's words are a
    # name of its entity, and they do not simply copy the gold spans
    known = {IriScheme().resource(fb): {"".join(n.split()) for n in
                                        {v.get("label"), *v.get("alternatives", [])} if n}
             for fb, v in json.loads(names.read_text()).items()}
    linked = gold_spans = same = 0
    for example in examples(tmp_path / "wikiann", "dev"):
        gold = {(i, j) for i, j, _ in spans_of(example["tags"])}
        for start, end, iri in example["links"]:
            assert "".join(example["tokens"][start:end]) in known[iri]
            linked += 1
            same += (start, end) in gold
        gold_spans += len(gold)
    assert linked > 1000 and same < 0.9 * linked and same < 0.5 * gold_spans
    done = subprocess.run(cli + ["re", str(sample_graph), "--out", str(tmp_path / "re")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    stats = dataset_stats(tmp_path / "re")
    assert stats["entity_in_graph"]["head_or_tail"] == 1.0
    assert (tmp_path / "re" / "relation_frequencies.png").stat().st_size > 5000
    done = subprocess.run(cli + ["stats", str(tmp_path / "wikiann")], capture_output=True,
                          text=True)
    assert json.loads(done.stdout)["entities"]["LOC"] > 1000


def test_distant_sets_are_joined_out_of_core_under_a_budget(sample_graph, re_set, tmp_path):
    """A small budget and a spill directory of one's own give the same sets; a budget too
    small for the join is one line and exit 1, and leaves nothing behind."""
    spill = tmp_path / "spill"
    spill.mkdir()
    build_re_dataset(sample_graph, tmp_path / "re", DistantConfig(), memory_limit="64MB",
                     tmp_dir=spill)
    for name in ("train.jsonl", "dev.jsonl", "test.jsonl", "heldout_pairs.tsv", "relations.json"):
        assert (tmp_path / "re" / name).read_bytes() == (re_set[0] / name).read_bytes(), name
    build_ner_dataset(sample_graph, tmp_path / "ner", memory_limit="64MB", tmp_dir=spill)
    build_ner_dataset(sample_graph, tmp_path / "ner-ample")
    for name in ("train.jsonl", "dev.conll", "stats.json"):
        assert (tmp_path / "ner" / name).read_bytes() == (tmp_path / "ner-ample" / name).read_bytes()
    assert not any(spill.iterdir()), "the intermediate tables are removed"
    for kind in ("re", "ner"):
        done = subprocess.run([sys.executable, "-m", "wikikg.cli", "-q", "dataset", kind,
                               str(sample_graph), "--out", str(tmp_path / f"tiny-{kind}"),
                               "--memory-limit", "1MB", "--tmp-dir", str(spill)],
                              capture_output=True, text=True)
        assert done.returncode == 1, done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert "memory budget is too small" in line
        assert not (tmp_path / f"tiny-{kind}").exists() and not any(spill.iterdir())


# --- the schema: `wikikg dataset validate` and `wikikg train` on corrupted copies -------

RE_CORRUPTIONS = [  # what is done to one record, the field named, words of the message
    (lambda r: r.pop("tail"), "tail", "missing (required)"),
    (lambda r: r["head"].update(end=len(r["text"]) + 5), "head.end", "beyond the text"),
    (lambda r: r["tail"].update(start=r["tail"]["end"]), "tail.end", "not after start"),
    (lambda r: r["head"].update(start=-1), "head.start", "is negative"),
    (lambda r: r["head"].update(surface=r["head"]["surface"] + "x"), "head.surface", "is not text["),
    (lambda r: r["tail"].update(start=str(r["tail"]["start"])), "tail.start",
     "must be an integer, not a string"),
    (lambda r: r.update(relation="ceo_of"), "relation", "'ceo_of' is not in relations.json"),
    (lambda r: r.update(text=None), "text", "must be a string, not null"),
    (lambda r: r["head"].update(type="PERSON"), "head.type", "'PERSON' is not one of"),
    (lambda r: r.update(direction="up"), "direction", "not forward or backward"),
]
NER_CORRUPTIONS = [
    (lambda r: r.pop("tags"), "tags", "missing (required)"),
    (lambda r: r["tags"].__setitem__(1, "B-DATE"), "tags[1]", "'B-DATE' is not in labels.json"),
    (lambda r: r["tags"].pop(), "tags", "tags for"),
    (lambda r: r["tokens"].__setitem__(0, ""), "tokens[0]", "non-empty string"),
    (lambda r: r.update(links=[[0, len(r["tokens"]) + 1, R + "X"]]), "links[0]", "not inside"),
]


def corrupted_copy(source, out, split, corruptions, extra_lines=()):
    """A copy of a dataset whose ``split`` has corruption *k* applied to its line *k* + 1
    and ``extra_lines`` appended; returns the line number of each appended line."""
    shutil.copytree(source, out)
    path = out / f"{split}.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, (corrupt, _, _) in enumerate(corruptions):
        record = json.loads(lines[number])
        corrupt(record)
        lines[number] = json.dumps(record, ensure_ascii=False)
    path.write_text("\n".join([*lines, *extra_lines]) + "\n", encoding="utf-8")
    return list(range(len(lines) + 1, len(lines) + 1 + len(extra_lines)))


def wikikg(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "wikikg.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def lines_of(corruptions):
    """``(line, field, words)`` of the problems that ``corrupted_copy`` made."""
    return [(n, field, words) for n, (_, field, words) in enumerate(corruptions, 1)]


def assert_reported(done, path, expected, records):
    """Exactly one stdout line per ``(line, field, words)`` expected, naming file:line and
    field; exit 1 with a one-line summary."""
    found = done.stdout.splitlines()
    assert len(found) == len(expected), done.stdout
    for line, (number, field, words) in zip(found, expected):
        assert line.startswith(f"{path}:{number}: {field}: ") and words in line, (line, number)
    assert done.returncode == 1
    (summary,) = done.stderr.strip().splitlines()
    assert f"{len(expected)} problems in {len(expected)} of {records} records" in summary


def test_validate_names_file_line_and_field_of_every_problem(re_set, sample_graph, tmp_path):
    source, stats = re_set
    done = wikikg("dataset", "validate", source)
    records = sum(stats["splits"].values())
    assert done.returncode == 0 and done.stdout == "", done.stderr
    assert f"{records} records, all valid" in done.stderr
    bad = tmp_path / "bad-re"
    appended = corrupted_copy(source, bad, "dev", RE_CORRUPTIONS, ['{"text": "cut', "[1, 2]"])
    done = wikikg("dataset", "validate", bad)
    expected = [*lines_of(RE_CORRUPTIONS), (appended[0], "record", "not valid JSON"),
                (appended[1], "record", "must be a JSON object, not an array")]
    assert_reported(done, bad / "dev.jsonl", expected, records + len(appended))

    build_ner_dataset(sample_graph, tmp_path / "ner")
    ner_records = sum(1 for _ in examples(tmp_path / "ner"))
    assert wikikg("dataset", "validate", tmp_path / "ner").returncode == 0
    corrupted_copy(tmp_path / "ner", tmp_path / "bad-ner", "train", NER_CORRUPTIONS)
    assert_reported(wikikg("dataset", "validate", tmp_path / "bad-ner"),
                    tmp_path / "bad-ner" / "train.jsonl", lines_of(NER_CORRUPTIONS), ner_records)

    (tmp_path / "bad-re" / "relations.json").write_text('{"relations": [{"id": 0}]}')
    done = wikikg("dataset", "validate", tmp_path / "bad-re")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"Error: {tmp_path / 'bad-re' / 'relations.json'}: relations[].name: not as "
        "docs/formats.md describes (KeyError('name'))"]
    done = wikikg("dataset", "validate", sample_graph)
    assert done.returncode == 1 and "not a dataset" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.parametrize("split, corruption", [("train", 0), ("test", 1)],
                         ids=["missing-field", "offset-beyond-text"])
def test_train_refuses_a_bad_dataset_in_one_line(re_set, tmp_path, split, corruption):
    """A missing field was a 51-line ``KeyError`` traceback; an offset beyond the sentence
    trained silently.  Both now stop before training: file:line and field, exit 1."""
    bad = tmp_path / "bad"
    corrupted_copy(re_set[0], bad, split, [RE_CORRUPTIONS[corruption]])
    done = wikikg("train", bad, "--out", tmp_path / "run", "--max-steps", "1", "--device", "cpu")
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    field = RE_CORRUPTIONS[corruption][1]
    assert line.startswith(f"Error: {bad / f'{split}.jsonl'}:1: {field}: "), line
    assert not (tmp_path / "run").exists()

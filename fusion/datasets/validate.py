"""Dataset records checked against the schema in docs/formats.md, line by line.

A set converted by hand (KnowledgeNet, a company's own data) fails in the middle of
training with a ``KeyError`` or, worse, trains on garbage: an offset beyond the sentence
marks nothing, an unknown NER tag is read as ``O``.  These checks say which file, line and
field are wrong before anything is trained: ``wikikg dataset validate`` lists every
problem, ``wikikg train`` stops at the first (:func:`load_split`).

The rules are what the writers guarantee and the trainer relies on: offsets are
characters (code points) of ``text``, end exclusive, so ``text[start:end] == surface``
(every writer guarantees it: a mention's offsets in a build, FewRel's tokens joined by
spaces); relations are those of ``relations.json``, tags those of ``labels.json``.
Fields the trainer does not read (``page``, ``sentence_id``, ``direction``, ``id``)
are optional, unknown fields are ignored.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from fusion.datasets.schema import CLASSES, SPLITS

LABEL_FILES = {"re": "relations.json", "ner": "labels.json"}
SPAN_TYPES = (*CLASSES, "ENT")  # the typed markers' types ([H:PER] …); ENT: untyped


@dataclass(frozen=True)
class Problem:
    """One thing wrong: where (``line`` 0: the file as a whole), which field, what."""

    path: Path
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.field}: {self.message}"


class DatasetError(ValueError):
    """A dataset that does not follow the schema; the message is one :class:`Problem`."""


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_NAMES = {dict: "an object", list: "an array", str: "a string", int: "an integer",
          bool: "a boolean", float: "a number", type(None): "null"}


def _kind(value) -> str:
    return _NAMES.get(type(value), type(value).__name__)


def _typed(record: dict, key: str, kinds: tuple, name: str, required: bool = True
           ) -> Iterator[tuple[str, str]]:
    """A missing or mistyped field: ``(field, message)``."""
    if key not in record:
        if required:
            yield name, "missing (required)"
    elif not isinstance(record[key], kinds) or (int in kinds and isinstance(record[key], bool)):
        wanted = " or ".join(_NAMES[k] for k in kinds)
        yield name, f"must be {wanted}, not {_kind(record[key])}"


def span_problems(span, side: str, text) -> Iterator[tuple[str, str]]:
    """A ``head`` or ``tail``: integer offsets inside ``text``, start < end, the surface
    (if given) equal to the text it covers, a known marker type."""
    if not isinstance(span, dict):
        yield side, f"must be an object, not {_kind(span)}"
        return
    for key in ("start", "end"):
        yield from _typed(span, key, (int,), f"{side}.{key}")
    yield from _typed(span, "surface", (str,), f"{side}.surface", required=False)
    yield from _typed(span, "iri", (str, type(None)), f"{side}.iri", required=False)
    if span.get("type") is not None and span["type"] not in SPAN_TYPES:
        yield f"{side}.type", f"{span['type']!r} is not one of {', '.join(SPAN_TYPES)} or null"
    start, end = span.get("start"), span.get("end")
    if not (_is_int(start) and _is_int(end) and isinstance(text, str)):
        return
    if start < 0:
        yield f"{side}.start", f"{start} is negative"
    elif end <= start:
        yield f"{side}.end", f"{end} is not after start {start} (end is exclusive)"
    elif end > len(text):
        yield f"{side}.end", f"{end} is beyond the text ({len(text)} characters)"
    elif isinstance(span.get("surface"), str) and text[start:end] != span["surface"]:
        yield f"{side}.surface", (f"{span['surface']!r} is not text[{start}:{end}] = "
                                  f"{text[start:end]!r}")


def re_problems(record: dict, relations: set[str]) -> Iterator[tuple[str, str]]:
    """Every problem of one RE record: ``(field, message)``."""
    yield from _typed(record, "text", (str,), "text")
    yield from _typed(record, "relation", (str,), "relation")
    if isinstance(record.get("relation"), str) and record["relation"] not in relations:
        yield "relation", f"{record['relation']!r} is not in relations.json"
    for side in ("head", "tail"):
        if side not in record:
            yield side, "missing (required)"
        else:
            yield from span_problems(record[side], side, record.get("text"))
    if record.get("direction") not in (None, "forward", "backward"):
        yield "direction", f"{record['direction']!r} is not forward or backward"
    yield from _typed(record, "page", (str, type(None)), "page", required=False)
    yield from _typed(record, "sentence_id", (str,), "sentence_id", required=False)


def ner_problems(record: dict, labels: set[str]) -> Iterator[tuple[str, str]]:
    """Every problem of one NER record: ``(field, message)``."""
    yield from _typed(record, "id", (str,), "id", required=False)
    yield from _typed(record, "text", (str,), "text", required=False)
    tokens, tags = record.get("tokens"), record.get("tags")
    yield from _typed(record, "tokens", (list,), "tokens")
    yield from _typed(record, "tags", (list,), "tags")
    if not (isinstance(tokens, list) and isinstance(tags, list)):
        return
    if not tokens:
        yield "tokens", "empty"
    for i, token in enumerate(tokens):
        if not isinstance(token, str) or not token:
            yield f"tokens[{i}]", "must be a non-empty string"
    if len(tags) != len(tokens):
        yield "tags", f"{len(tags)} tags for {len(tokens)} tokens"
    for i, tag in enumerate(tags):
        if tag not in labels:
            yield f"tags[{i}]", f"{tag!r} is not in labels.json"
    yield from _links_problems(record, len(tokens))


def _links_problems(record: dict, length: int) -> Iterator[tuple[str, str]]:
    yield from _typed(record, "links", (list,), "links", required=False)
    for i, link in enumerate(record.get("links") or []):
        if not (isinstance(link, list) and len(link) == 3 and _is_int(link[0])
                and _is_int(link[1]) and isinstance(link[2], str)):
            yield f"links[{i}]", "must be [start token, end token, IRI]"
        elif not 0 <= link[0] < link[1] <= length:
            yield f"links[{i}]", f"tokens [{link[0]}, {link[1]}) are not inside the {length} tokens"


CHECKS = {"re": re_problems, "ner": ner_problems}


def dataset_task(directory: str | os.PathLike) -> str:
    """``re`` or ``ner``, by the label file the directory holds."""
    for task, name in LABEL_FILES.items():
        if (Path(directory) / name).is_file():
            return task
    raise DatasetError(f"{directory}: no relations.json (RE) or labels.json (NER): not a dataset")


def read_labels(directory: str | os.PathLike, task: str) -> list[str]:
    """The label names of ``relations.json`` (ids in order) or ``labels.json``."""
    path = Path(directory) / LABEL_FILES[task]
    if not path.is_file():
        raise DatasetError(f"{path}: missing (a {task} dataset needs it)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        labels = ([r["name"] for r in data["relations"]] if task == "re" else data["labels"])
    except (ValueError, KeyError, TypeError) as exc:
        key = "relations[].name" if task == "re" else "labels"
        raise DatasetError(f"{path}: {key}: not as docs/formats.md describes ({exc!r})") from exc
    if not labels or not all(isinstance(label, str) for label in labels):
        raise DatasetError(f"{path}: needs a non-empty list of label names")
    return labels


def record_problems(path: Path, task: str, labels: set[str]
                    ) -> Iterator[tuple[dict | None, list[Problem]]]:
    """``(record or None, problems)`` for every non-blank line of a split file."""
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield None, [Problem(path, number, "record", f"not valid JSON: {exc}")]
                continue
            if not isinstance(record, dict):
                found = [("record", f"must be a JSON object, not {_kind(record)}")]
            else:
                found = CHECKS[task](record, labels)
            yield record, [Problem(path, number, f, m) for f, m in found]


def load_split(directory: str | os.PathLike, split: str, task: str, labels: list[str]) -> list[dict]:
    """A split's records (none if its file is absent); :class:`DatasetError` at the first
    bad one, so that nothing trains on a dataset the trainer would misread."""
    path = Path(directory) / f"{split}.jsonl"
    if not path.exists():
        return []
    records = []
    for record, problems in record_problems(path, task, set(labels)):
        if problems:
            raise DatasetError(f"{problems[0]} (`wikikg dataset validate {directory}` lists "
                               "every problem)")
        records.append(record)
    return records


def validate_dataset(directory: str | os.PathLike) -> Iterator[list[Problem]]:
    """The problems of each record of a dataset directory (an empty list: a good one), in
    file and line order.  Raises :class:`DatasetError` if the label file is unusable."""
    directory = Path(directory)
    task = dataset_task(directory)
    labels = set(read_labels(directory, task))
    files = [directory / f"{split}.jsonl" for split in SPLITS if (directory / f"{split}.jsonl").exists()]
    if not files:
        raise DatasetError(f"{directory}: no train.jsonl, dev.jsonl or test.jsonl")
    for path in files:
        for _, problems in record_problems(path, task, labels):
            yield problems

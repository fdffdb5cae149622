"""Examples -> model inputs: entity markers, subword alignment, token-level entity ids."""

from __future__ import annotations

import torch

from fusion.config import FusionConfig
from kg.embedding import EntityEmbeddings


def mark(text: str, head: dict, tail: dict, head_type: str, tail_type: str
         ) -> tuple[str, tuple[int, int], tuple[int, int], str, str]:
    """Insert ``[H:TYPE] … [/H]`` and ``[T:TYPE] … [/T]`` around the spans.

    Returns the marked text, the head and tail mention spans in it, and the two openers.
    Markers are inserted at sorted positions, so nested or touching spans work too.
    """
    open_h, open_t = f"[H:{head_type}]", f"[T:{tail_type}]"
    inserts = sorted([(head["start"], 1, "h", f"{open_h} "), (head["end"], 0, "/h", " [/H]"),
                      (tail["start"], 1, "t", f"{open_t} "), (tail["end"], 0, "/t", " [/T]")])
    pieces, position, where = [], 0, {}
    length = 0
    for offset, _, name, marker in inserts:
        pieces.append(text[position:offset])
        length += offset - position
        position = offset
        where[name] = length if name.startswith("/") else length + len(marker)
        pieces.append(marker)
        length += len(marker)
    pieces.append(text[position:])
    return "".join(pieces), (where["h"], where["/h"]), (where["t"], where["/t"]), open_h, open_t


def _window(length: int, anchors: list[int], size: int) -> tuple[int, int]:
    """A ``size``-token window of ``[0, length)`` holding the anchors if they fit."""
    if length <= size:
        return 0, length
    low, high = min(anchors), max(anchors)
    start = max(0, min(low - (size - (high - low)) // 2, length - size))
    if high >= start + size:
        start = max(0, low - 2)
    return start, start + size


def encode_re(example: dict, tokenizer, config: FusionConfig, entities: EntityEmbeddings | None,
              label_ids: dict[str, int]) -> dict:
    types = [example[side].get("type") or "ENT" for side in ("head", "tail")]
    if not config.typed_markers:
        types = ["ENT", "ENT"]
    marked, head_span, tail_span, open_h, open_t = mark(example["text"], example["head"],
                                                         example["tail"], *types)
    encoding = tokenizer(marked, return_offsets_mapping=True, add_special_tokens=False)
    ids, offsets = encoding["input_ids"], encoding["offset_mapping"]
    head_row = entities.index(example["head"].get("iri")) if entities else 0
    tail_row = entities.index(example["tail"].get("iri")) if entities else 0
    entity_ids = [head_row if head_span[0] <= s and e <= head_span[1] and e > s else
                  tail_row if tail_span[0] <= s and e <= tail_span[1] and e > s else 0
                  for s, e in offsets]
    head_index = ids.index(tokenizer.convert_tokens_to_ids(open_h))
    tail_index = ids.index(tokenizer.convert_tokens_to_ids(open_t))
    start, end = _window(len(ids), [head_index, head_index + 1, tail_index, tail_index + 1],
                         config.max_length - 2)
    ids = [tokenizer.cls_token_id] + ids[start:end] + [tokenizer.sep_token_id]
    entity_ids = [0] + entity_ids[start:end] + [0]
    return {"input_ids": ids, "entity_ids": entity_ids,
            "head_index": min(head_index - start + 1, len(ids) - 2),
            "tail_index": min(tail_index - start + 1, len(ids) - 2),
            "labels": label_ids[example["relation"]]}


def encode_ner(example: dict, tokenizer, config: FusionConfig, entities: EntityEmbeddings | None,
               label_ids: dict[str, int]) -> dict:
    """First subword of each word gets the word's tag; the others -100 (ignored)."""
    encoding = tokenizer(example["tokens"], is_split_into_words=True, truncation=True,
                         max_length=config.max_length)
    word_rows = [0] * len(example["tokens"])
    for start, end, iri in example.get("links", []):
        row = entities.index(iri) if entities else 0
        for i in range(start, end):
            word_rows[i] = row
    labels, entity_ids, previous = [], [], None
    for word in encoding.word_ids():
        if word is None:
            labels.append(-100)
            entity_ids.append(0)
        else:
            labels.append(label_ids.get(example["tags"][word], 0) if word != previous else -100)
            entity_ids.append(word_rows[word])
        previous = word
    return {"input_ids": encoding["input_ids"], "entity_ids": entity_ids, "labels": labels}


def collate(features: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad a batch to its longest sequence."""
    length = max(len(f["input_ids"]) for f in features)
    batch = {
        "input_ids": torch.full((len(features), length), pad_id, dtype=torch.long),
        "attention_mask": torch.zeros((len(features), length), dtype=torch.long),
        "entity_ids": torch.zeros((len(features), length), dtype=torch.long),
    }
    token_labels = isinstance(features[0]["labels"], list)
    batch["labels"] = (torch.full((len(features), length), -100, dtype=torch.long) if token_labels
                       else torch.tensor([f["labels"] for f in features], dtype=torch.long))
    for i, feature in enumerate(features):
        n = len(feature["input_ids"])
        batch["input_ids"][i, :n] = torch.tensor(feature["input_ids"])
        batch["attention_mask"][i, :n] = 1
        batch["entity_ids"][i, :n] = torch.tensor(feature["entity_ids"])
        if token_labels:
            batch["labels"][i, :n] = torch.tensor(feature["labels"])
    if "head_index" in features[0]:
        batch["head_index"] = torch.tensor([f["head_index"] for f in features])
        batch["tail_index"] = torch.tensor([f["tail_index"] for f in features])
    return batch

"""Entity types for typed entity markers (``[H:PER] … [/H]``; Zhou & Chen 2021): a strong RE
baseline only when the types are real.  A build's RE set takes them from the linked
articles' infoboxes (``infobox_classes.tsv``, see :mod:`fusion.datasets.ner`); text
without such links (FewRel) from spaCy's NER over the sentence, mapped to the same four
CoNLL classes.  A span with no overlapping named entity stays untyped (``[H:ENT]``).
"""

from __future__ import annotations

from extraction.page import ner_pipeline
from extraction.sentences import SPACY_MODEL

SPACY_CLASSES = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC",
                 "NORP": "MISC", "EVENT": "MISC", "WORK_OF_ART": "MISC", "LAW": "MISC",
                 "LANGUAGE": "MISC", "PRODUCT": "MISC"}


def type_spans(records: list[dict], model: str = SPACY_MODEL, batch_size: int = 64) -> int:
    """Give the untyped ``head``/``tail`` of RE records the class of the spaCy entity that
    overlaps the span the most (numbers, dates and no entity: left untyped); returns how
    many spans got a type."""
    nlp = ner_pipeline(model)
    typed = 0
    for record, doc in zip(records, nlp.pipe((r["text"] for r in records), batch_size=batch_size)):
        entities = [(e.start_char, e.end_char, SPACY_CLASSES[e.label_]) for e in doc.ents
                    if e.label_ in SPACY_CLASSES]
        for side in ("head", "tail"):
            span = record[side]
            if span.get("type"):
                continue
            overlaps = [(min(end, span["end"]) - max(start, span["start"]), label)
                        for start, end, label in entities]
            best = max(overlaps, key=lambda pair: pair[0], default=(0, None))
            if best[0] > 0:
                span["type"] = best[1]
                typed += 1
    return typed

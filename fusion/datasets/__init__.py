"""Training data from the graph: distant supervision (RE, NER) and FewRel / CoNLL importers."""

from fusion.datasets.conll import read_conll
from fusion.datasets.distant import DistantConfig, build_re_dataset
from fusion.datasets.fewrel import FewRelConfig, import_fewrel, load_entity_map
from fusion.datasets.ner import NERConfig, build_ner_dataset
from fusion.datasets.schema import NO_RELATION, REExample, Span, write_ner_dataset, write_re_dataset
from fusion.datasets.stats import dataset_stats

__all__ = [
    "NO_RELATION", "DistantConfig", "FewRelConfig", "NERConfig", "REExample", "Span",
    "build_ner_dataset", "build_re_dataset", "dataset_stats", "import_fewrel", "load_entity_map",
    "read_conll", "write_ner_dataset", "write_re_dataset",
]

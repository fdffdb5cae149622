"""Stage 3: graph encoders (R-GCN, CompGCN) and KGE baselines over a graph directory's
entity-to-entity triples; entity vectors by IRI for the fusion stage.

    from kg.embedding import EmbedConfig, EntityEmbeddings, pipeline
    pipeline("out/sample", EmbedConfig(model="compgcn", epochs=50), name="compgcn")
    vectors = EntityEmbeddings.from_pretrained("out/sample/embeddings/compgcn")
    vectors.nearest("http://example.org/wikikg/resource/Paris", k=5)
    scorer = LinkScorer.from_pretrained("out/sample/embeddings/compgcn")  # scores as trained
"""

from kg.embedding.config import MODELS, EmbedConfig
from kg.embedding.data import AnswerIndex, RelGraph, TripleSet, load_triples
from kg.embedding.evaluate import evaluate, filtered_ranks, ranking_metrics
from kg.embedding.models import build_model
from kg.embedding.scorer import LinkScorer
from kg.embedding.store import EntityEmbeddings, load_relations
from kg.embedding.train import Result, fit, pipeline, save_result

__all__ = [
    "MODELS", "AnswerIndex", "EmbedConfig", "EntityEmbeddings", "LinkScorer", "RelGraph", "Result",
    "TripleSet", "build_model", "evaluate", "filtered_ranks", "fit", "load_relations",
    "load_triples", "pipeline", "ranking_metrics", "save_result",
]

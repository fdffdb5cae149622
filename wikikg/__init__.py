"""wikikg: Wikipedia dump -> knowledge graph -> graph embeddings -> knowledge-enhanced BERT."""

__version__ = "0.1.0"

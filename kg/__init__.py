"""Stage 2: the knowledge graph (RDF store, SPARQL, NetworkX view). Not built yet."""

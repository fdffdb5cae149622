"""Plumbing every stage uses and none owns: JSONL files, atomic output directories, RDF
vocabulary, figures, data-parallel training.

Imports no stage (``extraction``, ``kg``, ``fusion``, ``wikikg``); every stage may import it.
"""

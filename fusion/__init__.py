"""Stage 4: a BERT-family model fine-tuned with entity embeddings injected (``fusion.modes``),
for relation extraction and NER, always against the same model without fusion.

Imports ``kg`` (entity embeddings, the IRI scheme) and ``common``; nothing of ``wikikg``.
"""

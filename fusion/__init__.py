"""Stage 4: knowledge-enhanced fine-tuning of a BERT-family model. Not built yet."""

"""Retrieval-augmented generation around the decision: passages and BM25, the controller, hook and guard."""

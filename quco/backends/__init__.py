"""Count backends. Importing this package loads nothing heavy."""

from .base import DEFAULT_WINDOW, Cooccurrence, Corpus, Count, CountBackend

__all__ = ["DEFAULT_WINDOW", "Cooccurrence", "Corpus", "Count", "CountBackend"]

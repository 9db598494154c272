"""Count backends. Importing this package loads nothing heavy."""

from quco.backends.base import DEFAULT_WINDOW, Cooccurrence, Corpus, Count, CountBackend

__all__ = ["DEFAULT_WINDOW", "Cooccurrence", "Corpus", "Count", "CountBackend"]

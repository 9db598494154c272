"""Co-occurrence from word positions, shared by every backend that can list a phrase's positions.

A backend gives ``positions(phrase)`` (sorted global word positions) and the document layout
(``_doc_start``, ``_doc_end``: each document's first position and one past its last). From those,
``cooccur`` counts occurrences of ``a`` with an occurrence of ``b`` at most ``window`` words away in
the same document, and ``cooccur_docs`` counts documents containing both.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

from quco.backends.base import DEFAULT_WINDOW, Cooccurrence, CountBackend, check_window


class PositionalBackend(CountBackend):
    _doc_start: Any = None  # NumPy int64 arrays, set by the subclass
    _doc_end: Any = None

    @abc.abstractmethod
    def positions(self, phrase: str):
        """Sorted global word positions of ``phrase`` (NumPy int64 array)."""

    def cooccur_many(self, pairs: Sequence[tuple[str, str]], window: int = DEFAULT_WINDOW) -> list[Cooccurrence]:
        window = check_window(window)
        return [Cooccurrence(a, b, self.near(self.positions(a), self.positions(b), window), window, False)
                for a, b in pairs]

    def cooccur_docs_many(self, pairs: Sequence[tuple[str, str]]) -> list[Cooccurrence]:
        import numpy as np

        out = []
        for a, b in pairs:
            da, db = self.documents(a), self.documents(b)
            out.append(Cooccurrence(a, b, int(len(np.intersect1d(da, db, assume_unique=True))), None, False))
        return out

    def documents(self, phrase: str):
        """Sorted numbers of the documents that hold ``phrase`` (NumPy array)."""
        import numpy as np

        return np.unique(self.doc_of(self.positions(phrase)))

    def doc_of(self, positions):
        import numpy as np

        return np.searchsorted(self._doc_start, positions, side="right") - 1

    def near(self, pa, pb, window: int) -> int:
        """Occurrences p of a with some occurrence q of b, |q - p| <= window, same document."""
        import numpy as np

        if not len(pa) or not len(pb):
            return 0
        doc = self.doc_of(pa)
        lo = np.maximum(pa - window, self._doc_start[doc])
        hi = np.minimum(pa + window, self._doc_end[doc] - 1)
        idx: Any = np.searchsorted(pb, lo, side="left")
        found = idx < len(pb)
        idx[~found] = 0
        return int(np.count_nonzero(found & (pb[idx] <= hi)))

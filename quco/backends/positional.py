"""Co-occurrence from word positions, shared by every backend that can list a phrase's positions.

A backend gives ``positions(phrase)`` (sorted global word positions) and the document layout
(``_doc_start``, ``_doc_end``: each document's first position and one past its last). From those,
``cooccur`` counts occurrences of ``a`` with an occurrence of ``b`` at most ``window`` words away in
the same document, and ``cooccur_docs`` counts documents containing both. An index that keeps
its documents' titles and text (``document_titles``, ``document_texts``) also lists where a
phrase occurs: provenance, titles and passages (multi-hop bridges and reading).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from itertools import islice
from typing import Any

from quco.backends.base import DEFAULT_WINDOW, Cooccurrence, CountBackend, InArticle, Provenance, Source, check_window
from quco.errors import QueryError

PROVENANCE_POSITIONS = 200_000  # a phrase listed in more places is too common to search for provenance
PLACES_LIMIT = 50_000  # a phrase with more occurrences is too common to list its documents (titles, passages)


class PositionalBackend(CountBackend):
    _doc_start: Any = None  # NumPy int64 arrays, set by the subclass
    _doc_end: Any = None
    normalizer: Any = None  # quco.normalize.Normalizer: the words a phrase has, as the index counts them

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

    def provenance_many(self, pairs: Sequence[tuple[str, str]], window: int = DEFAULT_WINDOW,
                        limit: int = 2) -> list[Provenance]:
        """Places where ``b`` is within ``window`` tokens of ``a``: the first in each of up to
        ``limit`` documents; text and titles from ``document_texts`` where the index keeps them."""
        window = check_window(window)
        found: list[tuple[str, str, list[tuple[int, int, int]], str | None]] = []
        phrases = sorted({p for pair in pairs for p in pair})
        counts = dict(zip(phrases, self.count_many(phrases)))
        for a, b in pairs:
            common = max((counts[a], counts[b]), key=lambda c: (c.approx, c.count))
            if common.approx or common.count > PROVENANCE_POSITIONS:
                found.append((a, b, [], f"too common to list: {common.count:,}{' (estimated)' if common.approx else ''} places"))
                continue
            found.append((a, b, self.near_places(self.positions(a), self.positions(b), window, limit), None))
        docs = sorted({d for _, _, places, _ in found for d, _, _ in places})
        texts = self.document_texts(docs) if docs else {}
        return [Provenance(a, b, tuple(_source(d, ta, tb, texts.get(d)) for d, ta, tb in places), why)
                for a, b, places, why in found]

    def near_places(self, pa, pb, window: int, limit: int) -> list[tuple[int, int, int]]:
        """(document, position of a, position of b) in it — both from the document's start — for
        the first occurrence of ``a`` with ``b`` nearby in each of up to ``limit`` documents."""
        import numpy as np

        if not len(pa) or not len(pb):
            return []
        doc, idx, near = self._nearest(pa, pb, window)
        hits = np.flatnonzero(near)
        out: list[tuple[int, int, int]] = []
        for k in hits:
            d = int(doc[k])
            if out and out[-1][0] == d:
                continue
            start = int(self._doc_start[d])
            out.append((d, int(pa[k]) - start, int(pb[idx[k]]) - start))
            if len(out) == limit:
                break
        return out

    def document_texts(self, docs: Sequence[int]) -> dict:
        """doc -> (doc_id, title, text) for the given documents, where the index keeps them
        (``None`` fields otherwise). Indexes that store documents override it."""
        return {}

    def document_titles(self, docs: Sequence[int]) -> dict:
        """doc -> title (None where it has none). ``QueryError`` when the index keeps no titles."""
        raise QueryError(f"backend {self.name!r} keeps no document titles")

    def titled_documents(self, titles: Sequence[str]) -> list[list[int]]:
        """The documents titled each of ``titles`` (compared as normalised words), by number.
        ``QueryError`` when the index keeps no titles."""
        raise QueryError(f"backend {self.name!r} keeps no document titles")

    def document_tokens(self, docs: Sequence[int]) -> list[int]:
        """Each document's length in tokens."""
        return [int(self._doc_end[d] - self._doc_start[d]) for d in docs]

    def occurrences_in(self, docs: Sequence[int], phrase: str) -> int:
        """How often ``phrase`` occurs in the documents ``docs`` in all (from its positions; an
        index with a forward stream reads the documents' words instead)."""
        import numpy as np

        pos = self.positions(phrase)
        if not len(pos) or not len(docs):
            return 0
        if len(docs) == 1:  # an article is mostly one document: scalar searches
            d0 = docs[0]
            return int(pos.searchsorted(self._doc_end[d0])) - int(pos.searchsorted(self._doc_start[d0]))
        d = np.asarray(docs, dtype=np.int64)
        return int((pos.searchsorted(self._doc_end[d]) - pos.searchsorted(self._doc_start[d])).sum())

    def in_articles_many(self, pairs: Sequence[tuple[str, str]]) -> list[InArticle | None]:
        titles = sorted({t for t, _ in pairs})
        docs_of = dict(zip(titles, self.titled_documents(titles)))
        size = {t: sum(self.document_tokens(docs)) for t, docs in docs_of.items() if docs}
        return [InArticle(title, phrase, self.occurrences_in(docs_of[title], phrase), size[title], len(docs_of[title]))
                if docs_of[title] else None for title, phrase in pairs]

    def article_places_many(self, pairs: Sequence[tuple[str, str]], limit: int = 2) -> list[Provenance]:
        titles = sorted({t for t, _ in pairs})
        try:
            docs_of = dict(zip(titles, self.titled_documents(titles)))
        except QueryError as exc:
            return [Provenance(t, p, why=str(exc)) for t, p in pairs]
        texts = self.document_texts(sorted({d for ds in docs_of.values() for d in ds}))
        out = []
        for title, phrase in pairs:
            held = [(d, texts[d]) for d in docs_of[title] if texts.get(d, (None, None, None))[2]]
            places = list(islice((src for d, stored in held for src in self._places_in(d, stored, phrase)), limit))
            why = None if places else (f"no document titled {title!r}" if not docs_of[title] else
                                       f"the article {title!r} keeps no text to show" if not held else
                                       f"{phrase!r} is not in the article {title!r}")
            out.append(Provenance(title, phrase, tuple(places), why))
        return out

    def _places_in(self, doc: int, stored: tuple, phrase: str):
        """Each place of ``phrase`` in one document's text (``stored``: its id, title and text), as
        a ``Source`` with the sentence holding it; lazily, so a caller taking the first few stops."""
        doc_id, title, text = stored
        want, words = self.normalizer.tokens(phrase), self.normalizer.tokens(text)
        for i in range(len(words) - len(want) + 1):
            if words[i: i + len(want)] == want:
                span = sentence_around(text, i, i + len(want) - 1)
                yield Source(doc, doc_id, title, (i, i)) if span is None else \
                    Source(doc, doc_id, title, (i, i), span[0], span[1], text[span[0]: span[1]])

    # -- documents holding a phrase: titles and passages (multi-hop bridges, reading) -----------------
    def places_many(self, phrases: Sequence[str], limit: int) -> list:
        """Each phrase's (positions, document of each position), or None for a phrase in more than
        ``limit`` documents, with more than ``PLACES_LIMIT`` occurrences, or whose count is an
        estimate (``count_many`` says approx: past the work budget)."""
        import numpy as np

        out: list = []
        for count, phrase in zip(self.count_many(phrases), phrases):
            if count.approx or count.count > PLACES_LIMIT:
                out.append(None)
                continue
            pos = self.positions(phrase) if count.count else np.empty(0, dtype=np.int64)
            docs = self.doc_of(pos)
            out.append(None if len(np.unique(docs)) > limit else (pos, docs))
        return out

    def titles_many(self, phrases: Sequence[str], limit: int = 20) -> list[tuple[str, ...] | None]:
        """Titles of the documents holding each phrase, in corpus order; None for a phrase in more
        than ``limit`` documents (too common to bridge anything: none rather than an arbitrary few)."""
        import numpy as np

        found = self.places_many(phrases, limit)
        docs = sorted({d for f in found if f is not None for d in f[1].tolist()})
        titles = self.document_titles(docs) if docs else {}
        return [None if f is None else tuple(dict.fromkeys(t for d in np.unique(f[1]).tolist() if (t := titles.get(d))))
                for f in found]

    def passages_many(self, phrases: Sequence[str], window: int = DEFAULT_WINDOW,
                      limit: int = 20) -> list[tuple[str, ...] | None]:
        """The text within ``window`` words of each phrase's occurrences (from ``window`` words before
        its start to ``window`` words after its end), one passage per document (from the first
        occurrence's window to the last's); None for a phrase in more than ``limit`` documents or
        past the work budget. ``QueryError`` for an index that keeps no text."""
        window = check_window(window)
        places: list[dict[int, tuple[int, int]] | None] = []
        for phrase, found in zip(phrases, self.places_many(phrases, limit)):
            if found is None:
                places.append(None)
                continue
            spans: dict[int, tuple[int, int]] = {}
            length = len(self.normalizer.tokens(phrase)) - 1
            for p, d in zip(found[0].tolist(), found[1].tolist()):
                at = p - int(self._doc_start[d])
                lo, hi = spans.get(d, (at, at + length))
                spans[d] = (min(lo, at), max(hi, at + length))
            places.append(spans)
        wanted = sorted({d for spans in places if spans for d in spans})
        texts = self.document_texts(wanted) if wanted else {}
        if any(texts.get(d, (None, None, None))[2] is None for d in wanted):
            raise QueryError(f"{self.identity}: the index keeps no document text (built without it)")
        return [None if spans is None else tuple(
            passage(texts[d][2], lo - window, hi + window) for d, (lo, hi) in sorted(spans.items()))
            for spans in places]

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
        return int(np.count_nonzero(self._nearest(pa, pb, window)[2]))

    def _nearest(self, pa, pb, window: int):
        """For each occurrence of a: its document, the index of the first occurrence of b at or
        after ``window`` words before it (within the document), and whether that one is within
        ``window`` words after it."""
        import numpy as np

        doc = self.doc_of(pa)
        lo = np.maximum(pa - window, self._doc_start[doc])
        hi = np.minimum(pa + window, self._doc_end[doc] - 1)
        idx: Any = np.searchsorted(pb, lo, side="left")
        found = idx < len(pb)
        idx[~found] = 0
        return doc, idx, found & (pb[idx] <= hi)


def _source(doc: int, ta: int, tb: int, stored) -> Source:
    doc_id, title, text = stored if stored is not None else (None, None, None)
    if not text:
        return Source(doc, doc_id, title, (ta, tb))
    span = sentence_around(text, min(ta, tb), max(ta, tb))
    if span is None:
        return Source(doc, doc_id, title, (ta, tb))
    return Source(doc, doc_id, title, (ta, tb), span[0], span[1], text[span[0] : span[1]])


def passage(text: str, first: int, last: int) -> str:
    """Words ``first`` to ``last`` of ``text`` (clipped to the text; words as the index counts
    them, ``\\w+``) with the characters between them."""
    spans = _word_spans(text)
    if not spans:
        return ""
    first, last = max(0, first), min(len(spans) - 1, last)
    return text[spans[first][0] : spans[last][1]] if first <= last else ""


def _word_spans(text: str) -> list[tuple[int, int]]:
    """The character span of each word of ``text``, words as the index counts them (``\\w+``)."""
    import re

    return [m.span() for m in re.finditer(r"\w+", text)]


_SENTENCE_TEXT = 600  # characters of evidence shown at most


def sentence_around(text: str, first: int, last: int) -> tuple[int, int] | None:
    """The characters of the sentence(s) holding words ``first`` to ``last`` of ``text`` (words as
    the index counts them, ``\\w+``), at most ``_SENTENCE_TEXT`` long; None if the text has fewer words."""
    import re

    words = _word_spans(text)
    if last >= len(words):
        return None
    start, end = words[first][0], words[last][1]
    ends = [m.end() for m in re.finditer(r"(?<!\b[A-Z])[.!?](?=\s|$)", text)]  # not after an initial ("T.")
    s = max((e for e in ends if e <= start), default=0)
    e = min((x for x in ends if x >= end), default=len(text))
    s = len(text) - len(text[s:].lstrip())
    if e - s > _SENTENCE_TEXT:  # a long stretch between the two: the words around them
        s, e = max(s, start - 100), min(e, end + 100)
    return s, e

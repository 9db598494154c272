"""The ``CountBackend`` interface and its result types.

A backend answers two questions about a corpus, always in batches: how often does a phrase occur,
and how often do two phrases occur near each other. Single-item calls are thin wrappers. A backend
that cannot answer raises ``BackendError``: an unknown count is never reported as 0.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

from quco.errors import BackendError, BackendUnavailable, IndexSettingsError, QueryError

DEFAULT_WINDOW = 1000  # QuCo-RAG's max_diff_tokens


@dataclass(frozen=True)
class Corpus:
    tokens: int
    documents: int


@dataclass(frozen=True)
class Count:
    phrase: str
    count: int
    approx: bool = False


@dataclass(frozen=True)
class Cooccurrence:
    a: str
    b: str
    count: int
    window: int | None  # None: per-document co-occurrence (documents containing both)
    approx: bool = False


@dataclass(frozen=True)
class Source:
    """Where two phrases occur together: one place in the corpus that backs a co-occurrence.

    ``doc`` is the document's number in the index, ``doc_id`` and ``title`` what the corpus called
    it; ``start``/``end`` the characters of ``text`` (the sentence or sentences holding both) in the
    document, or ``None`` when the index keeps no text; ``tokens`` the two phrases' positions in
    the document (words from its start)."""

    doc: int
    doc_id: str | None
    title: str | None
    tokens: tuple[int, int]
    start: int | None = None
    end: int | None = None
    text: str | None = None


@dataclass(frozen=True)
class Provenance:
    """The places backing one (a, b) pair, or why none can be shown (``why``: the backend keeps no
    positions, the pair is too common to list within the work budget...)."""

    a: str
    b: str
    sources: tuple[Source, ...] = ()
    why: str | None = None


@dataclass(frozen=True)
class InArticle:
    """A phrase in the article on a subject: the documents titled ``title`` (``documents`` of them,
    ``tokens`` long in all) hold ``phrase`` ``count`` times."""

    title: str
    phrase: str
    count: int
    tokens: int
    documents: int


class CountBackend(abc.ABC):
    """Counts phrases and co-occurrences in one corpus."""

    name: str = "abstract"

    @property
    @abc.abstractmethod
    def corpus(self) -> Corpus:
        """Size of the indexed corpus, used to scale thresholds."""

    @property
    def identity(self) -> str:
        """A human-readable name of the exact index answering (path, index name...)."""
        return self.name

    @abc.abstractmethod
    def count_many(self, phrases: Sequence[str]) -> list[Count]:
        """Occurrences of each phrase, in order."""

    @abc.abstractmethod
    def cooccur_many(self, pairs: Sequence[tuple[str, str]], window: int = DEFAULT_WINDOW) -> list[Cooccurrence]:
        """For each (a, b): occurrences of ``a`` with an occurrence of ``b`` within ``window`` tokens."""

    def cooccur_docs_many(self, pairs: Sequence[tuple[str, str]]) -> list[Cooccurrence]:
        """For each (a, b): number of documents containing both. Optional."""
        raise QueryError(f"backend {self.name!r} has no per-document co-occurrence")

    def titles_many(self, phrases: Sequence[str], limit: int = 20) -> list[tuple[str, ...] | None]:
        """For each phrase: the titles of the documents holding it, in corpus order; None for a
        phrase in more than ``limit`` documents (too common to bridge anything) or past the work
        budget. Optional: a backend whose documents have no titles raises ``QueryError``
        (multi-hop support is then not looked for)."""
        raise QueryError(f"backend {self.name!r} has no document titles")

    def passages_many(self, phrases: Sequence[str], window: int = DEFAULT_WINDOW,
                      limit: int = 20) -> list[tuple[str, ...] | None]:
        """For each phrase: the text within ``window`` words of its occurrences, one passage per
        document, in corpus order; None for a phrase in more than ``limit`` documents (too common to
        read) or past the work budget. Optional: a backend that keeps no text raises ``QueryError``
        (multi-hop support through named entities is then not looked for)."""
        raise QueryError(f"backend {self.name!r} keeps no document text")

    def provenance_many(self, pairs: Sequence[tuple[str, str]], window: int = DEFAULT_WINDOW,
                        limit: int = 2) -> list[Provenance]:
        """For each (a, b): up to ``limit`` places (documents, first occurrences) where ``b`` occurs
        within ``window`` tokens of ``a``. Optional: a backend that cannot list places says why."""
        return [Provenance(a, b, why=f"the {self.name} backend cannot list where phrases occur") for a, b in pairs]

    def in_articles_many(self, pairs: Sequence[tuple[str, str]]) -> list[InArticle | None]:
        """For each (title, phrase): how often ``phrase`` occurs in the documents titled ``title``
        (the corpus's article on that subject), or None when no document has that title. Optional:
        a backend whose documents have no titles raises ``QueryError``."""
        raise QueryError(f"backend {self.name!r} has no document titles")

    def article_places_many(self, pairs: Sequence[tuple[str, str]], limit: int = 2) -> list[Provenance]:
        """For each (title, phrase): up to ``limit`` places of ``phrase`` in the documents titled
        ``title`` (the sentence holding it), or why none can be shown."""
        return [Provenance(t, p, why=f"the {self.name} backend cannot list places in an article") for t, p in pairs]

    def count(self, phrase: str) -> Count:
        return self.count_many([phrase])[0]

    def cooccur(self, a: str, b: str, window: int = DEFAULT_WINDOW) -> Cooccurrence:
        return self.cooccur_many([(a, b)], window)[0]

    def cooccur_docs(self, a: str, b: str) -> Cooccurrence:
        return self.cooccur_docs_many([(a, b)])[0]

    def clear_caches(self) -> None:
        """Forget cached answers (benchmarks time cold queries with it). Optional."""

    def warm(self) -> float:
        """Load what queries will touch (e.g. map an index's pages) before serving; seconds taken. Optional."""
        return 0.0

    def close(self) -> None:
        """Release files and connections. Idempotent."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def answer_each(batch_call, items: list, passthrough: tuple = ()) -> list:
    """``batch_call(items)``; if that fails, each item alone, so that only the items the backend
    cannot answer fail: their place in the result holds the ``BackendError``. Errors of the
    ``passthrough`` types are not isolated: they fail the whole call. Nor is an unavailable
    backend (``BackendUnavailable``: down, or past its deadline): asking it item by item would
    only multiply the wait, so every item holds that error."""
    try:
        return list(batch_call(items))
    except passthrough:
        raise
    except BackendUnavailable as exc:
        return [exc] * len(items)
    except BackendError:
        pass
    out: list = []
    for item in items:
        try:
            out.append(batch_call([item])[0])
        except passthrough:
            raise
        except BackendError as exc:
            out.append(exc)
    return out


def check_window(window: int | None) -> int:
    if isinstance(window, bool) or not isinstance(window, int) or window < 0:
        raise QueryError(f"window must be a non-negative integer number of tokens, not {window!r}")
    return window


def require_normalizer(path, built, require) -> None:
    """Refuse an index whose normalisation differs from the one the configuration requires."""
    if require is not None and require != built:
        raise IndexSettingsError(
            f"{path}: index was built with {built.to_dict()}, "
            f"but {require.to_dict()} was requested; rebuild the index or change the setting"
        )

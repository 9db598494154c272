"""A count cache in front of any backend: repeated phrases and pairs are answered from memory.

An RL trainer asks about the same prompts' entities for every sampled completion, step after step;
the cache makes those repeats free. Only answers are cached — a failure (``BackendError``) is never
remembered, so an unknown count is asked again next time, never turned into a stale value. Entries
keep their ``approx`` flag; the cache is bounded (least recently used entries go first).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence

from quco.backends.base import DEFAULT_WINDOW, Cooccurrence, Corpus, Count, CountBackend
from quco.errors import InvalidValue


class CachedBackend(CountBackend):
    """``backend`` with an LRU cache of at most ``size`` counts and ``size`` co-occurrences."""

    def __init__(self, backend: CountBackend, size: int = 200_000):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise InvalidValue(f"cache size must be a positive number of entries, not {size!r}")
        self.backend = backend
        self.size = size
        self.name = backend.name
        self._counts: OrderedDict = OrderedDict()
        self._pairs: OrderedDict = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __reduce__(self):
        return CachedBackend, (self.backend, self.size)  # a new process starts with an empty cache

    @property
    def corpus(self) -> Corpus:
        return self.backend.corpus

    @property
    def identity(self) -> str:
        return self.backend.identity

    @property
    def normalizer(self):
        """The wrapped index's phrase normaliser (None when it has none)."""
        return getattr(self.backend, "normalizer", None)

    def count_many(self, phrases: Sequence[str]) -> list[Count]:
        return self._cached(self._counts, list(phrases), lambda p: p, self.backend.count_many)

    def cooccur_many(self, pairs: Sequence[tuple[str, str]], window: int = DEFAULT_WINDOW) -> list[Cooccurrence]:
        return self._cached(self._pairs, [tuple(p) for p in pairs], lambda p: (p, window),
                            lambda missing: self.backend.cooccur_many(missing, window))

    def cooccur_docs_many(self, pairs: Sequence[tuple[str, str]]) -> list[Cooccurrence]:
        return self._cached(self._pairs, [tuple(p) for p in pairs], lambda p: (p, None), self.backend.cooccur_docs_many)

    def titles_many(self, phrases: Sequence[str], limit: int = 20) -> list[tuple[str, ...] | None]:
        return self.backend.titles_many(phrases, limit)

    def passages_many(self, phrases: Sequence[str], window: int = DEFAULT_WINDOW,
                      limit: int = 20) -> list[tuple[str, ...] | None]:
        return self.backend.passages_many(phrases, window, limit)

    def provenance_many(self, pairs, window: int = DEFAULT_WINDOW, limit: int = 2):
        return self.backend.provenance_many(pairs, window, limit)  # places are not cached: they are read on demand

    def in_articles_many(self, pairs):
        return self.backend.in_articles_many(pairs)

    def article_places_many(self, pairs, limit: int = 2):
        return self.backend.article_places_many(pairs, limit)

    def forget_pairs(self) -> None:
        """Drop the cached co-occurrences, keeping the counts: a batch timed after it pays for its
        claims' pairs as a training step's new completions do, while their prompts' entities hit."""
        self._pairs.clear()

    def clear_caches(self) -> None:
        self._counts.clear()
        self._pairs.clear()
        self.backend.clear_caches()

    def close(self) -> None:
        self.backend.close()

    def _cached(self, store: OrderedDict, items: list, key: Callable[..., Hashable], ask: Callable) -> list:
        out: list = [None] * len(items)
        missing: dict = {}
        for i, item in enumerate(items):
            k = key(item)
            found = store.get(k)
            if found is not None:
                store.move_to_end(k)
                out[i] = found
                self.hits += 1
            else:
                missing.setdefault(item, []).append(i)
        if missing:
            self.misses += len(missing)
            answers = ask(list(missing))  # raises as the backend does: nothing is stored then
            for item, answer in zip(missing, answers):
                store[key(item)] = answer
                for i in missing[item]:
                    out[i] = answer
            while len(store) > self.size:
                store.popitem(last=False)
        return out

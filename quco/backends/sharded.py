"""One backend over document-partitioned shards.

Documents never span shards, so a phrase's count and a pair's window co-occurrence over the whole
corpus are exact sums of the shards' answers; the corpus size is the sum of theirs and ``approx``
is the OR. Shards are any ``CountBackend``: local indexes, a remote ``quco serve``
(``quco.backends.remote``), a Ray actor (``quco.index.sharded.ray``), an infini-gram index.

**No partial sums.** If any shard cannot answer, the batch raises ``ShardFailed`` naming the shard:
the answer is *unknown*, never the sum of the shards that did answer presented as exact.

**Fan-out.** Shards that live elsewhere (``remote = True``) are asked in parallel threads, each
attempt bounded by ``timeout`` and retried up to ``retries`` times while the shard is
unreachable; in-process shards are asked inline (they cannot hang on a network, and a thread
hand-off would cost more than their answer). A shard that failed for lack of reachability is
skipped for ``cooldown`` seconds — every call fails fast with the same named error — so a batch
that is retried item by item does not wait for a dead shard once per item.

**Documents.** Titles, passages and provenance (``titles_many``, ``passages_many``,
``provenance_many``) are each shard's answers in shard order, a phrase in a subject's article
(``in_articles_many``) their sum; a shard that cannot list them
(``QueryError``: no text, no positions) makes the whole answer so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace

from quco.backends.base import (
    DEFAULT_WINDOW,
    Cooccurrence,
    Corpus,
    Count,
    CountBackend,
    InArticle,
    Provenance,
    check_window,
)
from quco.errors import BackendError, BackendUnavailable, ConfigError, IndexSettingsError, QueryError

__all__ = ["ShardFailed", "ShardUnavailable", "ShardedBackend"]


class ShardFailed(BackendError):
    """A shard could not answer: the whole answer is unknown. ``shard`` names it."""

    def __init__(self, shard: str, reason: str):
        super().__init__(f"shard {shard!r}: {reason}")
        self.shard = shard


class ShardUnavailable(ShardFailed, BackendUnavailable):
    """A shard is unreachable or slower than its timeout (``quco serve`` answers 503)."""

    def __init__(self, shard: str, reason: str, retry_after: float | None = None):
        ShardFailed.__init__(self, shard, reason)
        self.retry_after = retry_after


class ShardedBackend(CountBackend):
    """Counts summed exactly over document-partitioned ``shards`` (see the module docstring)."""

    name = "sharded"

    def __init__(self, shards: Sequence[CountBackend], *, names: Sequence[str] | None = None,
                 timeout: float = 30.0, retries: int = 1, cooldown: float = 5.0, open_timeout: float = 120.0,
                 clock=time.monotonic):
        """``timeout``: seconds per attempt of one batch on one shard; ``open_timeout``: for the first
        contact, which includes a shard's start-up (an actor being placed and opening its index)."""
        shards = list(shards)
        if not shards:
            raise ConfigError("a sharded backend needs at least one shard")
        if timeout <= 0 or retries < 0 or cooldown < 0:
            raise ConfigError("timeout must be positive, retries and cooldown non-negative")
        self.shards = shards
        self.names = list(names) if names is not None else [s.identity for s in shards]
        if len(self.names) != len(shards) or len(set(self.names)) != len(self.names):
            raise ConfigError("each shard needs its own name")
        self.timeout, self.retries, self.cooldown = timeout, retries, cooldown
        self._clock = clock
        self._down: dict[int, tuple[float, ShardUnavailable]] = {}
        self._lock = threading.Lock()
        remote = [i for i, s in enumerate(shards) if getattr(s, "remote", False)]
        # Threads only for shards elsewhere; extra threads so an abandoned slow call cannot starve the next.
        self._pool = ThreadPoolExecutor(max_workers=4 * len(remote), thread_name_prefix="quco-shard") if remote else None
        self._remote = set(remote)
        corpora = self._fan_out(lambda s: s.corpus, timeout=max(timeout, open_timeout))
        self._corpus = Corpus(sum(c.tokens for c in corpora), sum(c.documents for c in corpora))
        norms = {repr(n.to_dict()) for n in (getattr(s, "normalizer", None) for s in shards) if n is not None}
        if len(norms) > 1:
            raise IndexSettingsError("the shards were built with different normalisation (case folding): "
                                     "their counts cannot be added; rebuild them with the same settings")

    @property
    def corpus(self) -> Corpus:
        return self._corpus

    @property
    def identity(self) -> str:
        return f"sharded[{', '.join(self.names)}]"

    def count_many(self, phrases: Sequence[str]) -> list[Count]:
        phrases = list(phrases)
        if not phrases:
            return []
        answers = self._fan_out(lambda s: s.count_many(phrases))
        return [Count(p, sum(a[i].count for a in answers), any(a[i].approx for a in answers))
                for i, p in enumerate(phrases)]

    def cooccur_many(self, pairs: Sequence[tuple[str, str]], window: int = DEFAULT_WINDOW) -> list[Cooccurrence]:
        window = check_window(window)
        pairs = list(pairs)
        if not pairs:
            return []
        answers = self._fan_out(lambda s: s.cooccur_many(pairs, window))
        return [Cooccurrence(a, b, sum(r[i].count for r in answers), window, any(r[i].approx for r in answers))
                for i, (a, b) in enumerate(pairs)]

    # -- where phrases occur: every shard's documents, combined ---------------------------------------
    def titles_many(self, phrases: Sequence[str], limit: int = 20) -> list[tuple[str, ...] | None]:
        """Titles in shard order; None where a shard has the phrase in more than ``limit`` documents
        or the shards' titles together are more than ``limit``."""
        phrases = list(phrases)
        answers = self._fan_out(lambda s: s.titles_many(phrases, limit)) if phrases else []
        return _joined(answers, len(phrases), limit, lambda parts: tuple(dict.fromkeys(t for p in parts for t in p)))

    def passages_many(self, phrases: Sequence[str], window: int = DEFAULT_WINDOW,
                      limit: int = 20) -> list[tuple[str, ...] | None]:
        """Passages in shard order (one per document, so ``limit`` holds across the shards exactly)."""
        phrases = list(phrases)
        answers = self._fan_out(lambda s: s.passages_many(phrases, window, limit)) if phrases else []
        return _joined(answers, len(phrases), limit, lambda parts: tuple(x for p in parts for x in p))

    def provenance_many(self, pairs: Sequence[tuple[str, str]], window: int = DEFAULT_WINDOW,
                        limit: int = 2) -> list[Provenance]:
        """The first ``limit`` places in shard order; a document's number counts the documents of
        the shards before its own, so numbers are unique across the index."""
        pairs = [(a, b) for a, b in pairs]
        answers = self._fan_out(lambda s: s.provenance_many(pairs, window, limit)) if pairs else []
        return self._combined(pairs, answers, limit)

    def _combined(self, pairs: list, answers: list, limit: int) -> list[Provenance]:
        """The shards' places in shard order, the first ``limit``, numbered across the index."""
        bases = [0]
        for shard in self.shards[:-1]:
            bases.append(bases[-1] + shard.corpus.documents)
        out = []
        for i, (a, b) in enumerate(pairs):
            sources = [replace(src, doc=src.doc + base) for ans, base in zip(answers, bases) for src in ans[i].sources]
            whys = list(dict.fromkeys(ans[i].why for ans in answers if ans[i].why))
            out.append(Provenance(a, b, tuple(sources[:limit]), None if sources else "; ".join(whys) or None))
        return out

    def article_places_many(self, pairs: Sequence[tuple[str, str]], limit: int = 2) -> list[Provenance]:
        pairs = [(t, p) for t, p in pairs]
        answers = self._fan_out(lambda s: s.article_places_many(pairs, limit)) if pairs else []
        return self._combined(pairs, answers, limit)

    def in_articles_many(self, pairs: Sequence[tuple[str, str]]) -> list[InArticle | None]:
        """Summed over the shards' documents titled so (an article may be split across shards)."""
        pairs = [(t, p) for t, p in pairs]
        answers = self._fan_out(lambda s: s.in_articles_many(pairs)) if pairs else []
        out: list[InArticle | None] = []
        for i, (title, phrase) in enumerate(pairs):
            parts = [a[i] for a in answers if a[i] is not None]
            out.append(InArticle(title, phrase, sum(p.count for p in parts), sum(p.tokens for p in parts),
                                 sum(p.documents for p in parts)) if parts else None)
        return out

    # -- fan-out ------------------------------------------------------------------------------------
    def _fan_out(self, call, timeout: float | None = None) -> list:
        timeout = timeout or self.timeout
        now = self._clock()
        with self._lock:
            for i, (until, exc) in list(self._down.items()):
                if now < until:
                    raise exc
                del self._down[i]
        futures = {i: self._pool.submit(call, self.shards[i]) for i in self._remote} if self._pool else {}
        results: list = [None] * len(self.shards)
        try:
            for i in range(len(self.shards)):
                if i not in self._remote:
                    results[i] = self._local(i, call)
            for i in sorted(futures):
                results[i] = self._remote_answer(i, call, futures[i], timeout)
        finally:
            for f in futures.values():
                f.cancel()
        return results

    def _local(self, i: int, call):
        try:
            return call(self.shards[i])
        except QueryError:
            raise  # the caller's input: every shard would say the same
        except BackendError as exc:  # e.g. over the work budget in this shard: unknown, and say where
            raise ShardFailed(self.names[i], str(exc)) from exc

    def _remote_answer(self, i: int, call, future, timeout: float):
        pool = self._pool
        assert pool is not None  # there are remote shards, so there is a pool
        attempt = 0
        while True:
            try:
                return future.result(timeout=timeout)
            except FutureTimeout:
                reason, retry_after = f"no answer within {timeout:g} s", None
            except QueryError:
                raise
            except BackendUnavailable as exc:
                reason, retry_after = str(exc), exc.retry_after
            except BackendError as exc:  # the shard answered, but with an error: not a reachability problem
                raise ShardFailed(self.names[i], str(exc)) from exc
            except Exception as exc:
                reason, retry_after = f"{type(exc).__name__}: {exc}", None
            if attempt >= self.retries:
                failed = ShardUnavailable(self.names[i], reason, retry_after)
                with self._lock:
                    self._down[i] = (self._clock() + self.cooldown, failed)
                raise failed
            attempt += 1
            future = pool.submit(call, self.shards[i])

    def clear_caches(self) -> None:
        for s in self.shards:
            s.clear_caches()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        for s in self.shards:
            s.close()


def _joined(answers: list, n: int, limit: int, join) -> list[tuple[str, ...] | None]:
    """The shards' lists for each of ``n`` phrases, joined in shard order; None where a shard said
    None (too common there) or the joined list is longer than ``limit``."""
    out: list[tuple[str, ...] | None] = []
    for i in range(n):
        parts = [a[i] for a in answers]
        found = None if any(p is None for p in parts) else join(parts)
        out.append(None if found is None or len(found) > limit else found)
    return out


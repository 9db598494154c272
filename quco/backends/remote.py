"""A shard served by another ``quco serve`` (for users without Ray): ``/v1/info``, ``/v1/count``
and ``/v1/cooccur`` over HTTP — and where phrases occur, ``/v1/titles``, ``/v1/passages`` and
``/v1/provenance`` — each request with a timeout and bounded retries (``http_retry``).

A phrase the remote index cannot answer within its work budget comes back as ``count: null``
with the reason; this client raises ``ShardFailed`` for it (unknown, the shard named), never 0.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from quco.backends.base import (
    DEFAULT_WINDOW,
    Cooccurrence,
    Corpus,
    Count,
    CountBackend,
    InArticle,
    Provenance,
    Source,
    check_window,
)
from quco.backends.http_retry import HttpClient, RetryPolicy
from quco.backends.sharded import ShardFailed
from quco.errors import ConfigError, UpstreamError
from quco.normalize import Normalizer

__all__ = ["RemoteShard"]


class RemoteShard(CountBackend):
    """Counts from the index behind a ``quco serve`` at ``url`` (``http://host:port``)."""

    name = "remote"
    remote = True  # asked in parallel, with a timeout, by ShardedBackend

    def __init__(self, url: str, *, token: str | None = None, session=None, timeout: tuple[float, float] = (2.0, 10.0),
                 retry: RetryPolicy | None = None, max_items: int = 256, clock=time.monotonic, sleep=time.sleep):
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"a remote shard is an http(s) URL, not {url!r}")
        self.url = url.rstrip("/")
        self.http = HttpClient(session, timeout, retry or RetryPolicy(attempts=3, backoff=0.2, max_backoff=2.0, deadline=30.0),
                               clock, sleep)
        self.max_items = max_items
        self._headers = {"Authorization": f"Bearer {token}"} if token else None
        self._info: dict | None = None

    def _call(self, path: str, payload: dict | None, describe: str):
        return self.http.post_json(self.url + path, payload, what=f"quco serve at {self.url}", describe=describe,
                                   headers=self._headers)

    @property
    def info(self) -> dict:
        if self._info is None:
            body = self._call("/v1/info", None, "its index description")
            try:
                self._corpus = Corpus(int(body["corpus_tokens"]), int(body["corpus_documents"]))
                self._norm = Normalizer.from_dict(body["normalizer"]) if body.get("normalizer") else None
            except (KeyError, TypeError, ValueError):
                raise UpstreamError(f"quco serve at {self.url}: /v1/info is not a quco index description") from None
            self._info = body
        return self._info

    @property
    def corpus(self) -> Corpus:
        self.info  # noqa: B018 - fetched once
        return self._corpus

    @property
    def normalizer(self) -> Normalizer | None:
        self.info  # noqa: B018
        return self._norm

    @property
    def identity(self) -> str:
        return f"remote:{self.url}"

    def count_many(self, phrases: Sequence[str]) -> list[Count]:
        out = []
        for part in _chunks(list(phrases), self.max_items):
            body = self._call("/v1/count", {"phrases": part}, f"{len(part)} phrase(s)")
            items = self._items(body, "counts", len(part))
            out += [Count(p, self._value(it, p), bool(it.get("approx"))) for p, it in zip(part, items)]
        return out

    def cooccur_many(self, pairs: Sequence[tuple[str, str]], window: int = DEFAULT_WINDOW) -> list[Cooccurrence]:
        window = check_window(window)
        out = []
        for part in _chunks(list(pairs), self.max_items):
            body = self._call("/v1/cooccur", {"pairs": [{"a": a, "b": b} for a, b in part], "window": window},
                              f"{len(part)} pair(s)")
            items = self._items(body, "results", len(part))
            out += [Cooccurrence(a, b, self._value(it, f"{a!r} near {b!r}"), window, bool(it.get("approx")))
                    for (a, b), it in zip(part, items)]
        return out

    # -- where phrases occur (/v1/titles, /v1/passages, /v1/provenance) ---------------------------------
    def titles_many(self, phrases: Sequence[str], limit: int = 20) -> list[tuple[str, ...] | None]:
        return [None if t is None else tuple(t) for t in self._documents("/v1/titles", "titles", list(phrases), {"limit": limit})]

    def passages_many(self, phrases: Sequence[str], window: int = DEFAULT_WINDOW,
                      limit: int = 20) -> list[tuple[str, ...] | None]:
        return [None if p is None else tuple(p)
                for p in self._documents("/v1/passages", "passages", list(phrases), {"limit": limit, "window": window})]

    def provenance_many(self, pairs: Sequence[tuple[str, str]], window: int = DEFAULT_WINDOW,
                        limit: int = 2) -> list[Provenance]:
        return self._places("/v1/provenance", pairs, {"window": check_window(window), "limit": limit})

    def article_places_many(self, pairs: Sequence[tuple[str, str]], limit: int = 2) -> list[Provenance]:
        return self._places("/v1/article_places", pairs, {"limit": limit})

    def _places(self, path: str, pairs: Sequence[tuple[str, str]], extra: dict) -> list[Provenance]:
        out = []
        for part in _chunks([(a, b) for a, b in pairs], self.max_items):
            body = self._call(path, {"pairs": [{"a": a, "b": b} for a, b in part], **extra}, f"{len(part)} pair(s)")
            items = self._items(body, "provenance", len(part))
            try:
                out += [Provenance(a, b, tuple(_source(s) for s in it.get("sources") or []), it.get("why"))
                        for (a, b), it in zip(part, items)]
            except (KeyError, TypeError, ValueError):
                raise UpstreamError(f"quco serve at {self.url}: {path} is not a list of places") from None
        return out

    def in_articles_many(self, pairs: Sequence[tuple[str, str]]) -> list[InArticle | None]:
        out: list[InArticle | None] = []
        for part in _chunks([(t, p) for t, p in pairs], self.max_items):
            body = self._call("/v1/articles", {"pairs": [{"a": t, "b": p} for t, p in part]}, f"{len(part)} pair(s)")
            found = body.get("articles") if isinstance(body, dict) else None
            if not isinstance(found, list) or len(found) != len(part):
                raise UpstreamError(f"quco serve at {self.url}: expected {len(part)} answers under 'articles'")
            self._same_index(body)
            try:
                out += [None if f is None else InArticle(t, p, int(f["count"]), int(f["tokens"]), int(f["documents"]))
                        for (t, p), f in zip(part, found)]
            except (KeyError, TypeError, ValueError):
                raise UpstreamError(f"quco serve at {self.url}: /v1/articles is not a list of counts") from None
        return out

    def _documents(self, path: str, key: str, phrases: list[str], extra: dict) -> list:
        out: list = []
        for part in _chunks(phrases, self.max_items):
            body = self._call(path, {"phrases": part, **extra}, f"{len(part)} phrase(s)")
            found = body.get(key) if isinstance(body, dict) else None
            if not isinstance(found, list) or len(found) != len(part) or \
                    not all(f is None or isinstance(f, list) and all(isinstance(x, str) for x in f) for f in found):
                raise UpstreamError(f"quco serve at {self.url}: expected {len(part)} lists under {key!r}")
            self._same_index(body)
            out += found
        return out

    def _items(self, body, key: str, n: int) -> list[dict]:
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list) or len(items) != n or not all(isinstance(i, dict) for i in items):
            raise UpstreamError(f"quco serve at {self.url}: expected {n} answers under {key!r}")
        self._same_index(body)
        return items

    def _same_index(self, body: dict) -> None:
        if self._info is not None and body.get("corpus_tokens") != self._info["corpus_tokens"]:
            # The server swapped its index since we learnt its size: sums would mix two corpora.
            raise UpstreamError(f"quco serve at {self.url}: its index changed size since this client opened it")

    def _value(self, item: dict, what) -> int:
        count = item.get("count")
        if count is None:
            raise ShardFailed(self.identity, f"{what}: {item.get('error') or 'no count'}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise UpstreamError(f"quco serve at {self.url}: not a count for {what}: {count!r}")
        return count

    def close(self) -> None:
        self.http.session.close()


def _source(s: dict) -> Source:
    tokens = s["tokens"]
    return Source(int(s["doc"]), s.get("doc_id"), s.get("title"), (int(tokens[0]), int(tokens[1])),
                  s.get("start"), s.get("end"), s.get("text"))


def _chunks(items: list, n: int):
    for i in range(0, len(items), n):
        yield items[i: i + n]

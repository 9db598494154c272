"""Counts from Ray actors: ``RayShard`` is the ``CountBackend`` that asks one actor, and the plain
tuples actors answer with (``answer``), so an unknown count crosses the process boundary as data,
never as a pickled exception. Ray does placement, restarts (``max_restarts``) and transport; quco
adds only the per-call timeout and retries (``ShardedBackend``). Ray is imported only when used
(``pip install 'quco[ray]'``); the actors that open an index are ``quco.index.sharded.ray``.
"""

from __future__ import annotations

from collections.abc import Sequence

from quco.backends.base import DEFAULT_WINDOW, Cooccurrence, Corpus, Count, CountBackend, InArticle, Provenance, check_window
from quco.backends.sharded import ShardFailed
from quco.errors import BackendError, BackendUnavailable, ConfigError, QueryError
from quco.normalize import Normalizer


def require_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("Ray shards and --ray need Ray: pip install 'quco[ray]'") from None
    return ray


def init_ray(address: str | None = None):
    """Connect to the Ray cluster at ``address`` ("auto", "ray://host:10001", or ``RAY_ADDRESS``);
    without one, start a local Ray with this machine's cores. Idempotent."""
    import os

    ray = require_ray()
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS") or None
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        except ConnectionError as exc:
            raise ConfigError(f"cannot reach the Ray cluster at {address}: {exc}") from None
    return ray


def answer(fn):
    try:
        return ("ok", fn())
    except QueryError as exc:
        return ("query", str(exc))
    except BackendError as exc:
        return ("unknown", str(exc))


class RayShard(CountBackend):
    """A ``CountBackend`` over an ``IndexShardActor`` handle."""

    name = "ray"
    remote = True

    def __init__(self, actor, name: str, *, timeout: float = 30.0):
        self.actor, self.shard_name, self.timeout = actor, name, timeout
        self._info: dict | None = None

    def _get(self, ref):
        ray = require_ray()
        try:
            return ray.get(ref, timeout=self.timeout)
        except ray.exceptions.GetTimeoutError:
            ray.cancel(ref)
            raise BackendUnavailable(f"no answer within {self.timeout:g} s") from None
        except ray.exceptions.RayError as exc:  # the actor died, is restarting, or cannot be reached
            raise BackendUnavailable(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None

    @property
    def info(self) -> dict:
        if self._info is None:
            self._info = self._get(self.actor.info.remote())
        return self._info

    @property
    def corpus(self) -> Corpus:
        return Corpus(int(self.info["tokens"]), int(self.info["documents"]))

    @property
    def normalizer(self) -> Normalizer | None:
        n = self.info["normalizer"]
        return Normalizer.from_dict(n) if n else None

    @property
    def identity(self) -> str:
        return f"ray:{self.shard_name}"

    def _unwrap(self, result):
        status, value = result
        if status == "ok":
            return value
        if status == "query":
            raise QueryError(value)
        raise ShardFailed(self.identity, value)

    def count_many(self, phrases: Sequence[str]) -> list[Count]:
        phrases = list(phrases)
        values = self._unwrap(self._get(self.actor.count_many.remote(phrases)))
        return [Count(p, c, a) for p, (c, a) in zip(phrases, values)]

    def cooccur_many(self, pairs: Sequence[tuple[str, str]], window: int = DEFAULT_WINDOW) -> list[Cooccurrence]:
        window = check_window(window)
        pairs = [(a, b) for a, b in pairs]
        values = self._unwrap(self._get(self.actor.cooccur_many.remote(pairs, window)))
        return [Cooccurrence(a, b, c, window, ap) for (a, b), (c, ap) in zip(pairs, values)]

    def titles_many(self, phrases: Sequence[str], limit: int = 20) -> list[tuple[str, ...] | None]:
        return self._unwrap(self._get(self.actor.titles_many.remote(list(phrases), limit)))

    def passages_many(self, phrases: Sequence[str], window: int = DEFAULT_WINDOW,
                      limit: int = 20) -> list[tuple[str, ...] | None]:
        return self._unwrap(self._get(self.actor.passages_many.remote(list(phrases), check_window(window), limit)))

    def provenance_many(self, pairs: Sequence[tuple[str, str]], window: int = DEFAULT_WINDOW,
                        limit: int = 2) -> list[Provenance]:
        pairs = [(a, b) for a, b in pairs]
        return self._unwrap(self._get(self.actor.provenance_many.remote(pairs, check_window(window), limit)))

    def in_articles_many(self, pairs: Sequence[tuple[str, str]]) -> list[InArticle | None]:
        return self._unwrap(self._get(self.actor.in_articles_many.remote([(t, p) for t, p in pairs])))

    def article_places_many(self, pairs: Sequence[tuple[str, str]], limit: int = 2) -> list[Provenance]:
        return self._unwrap(self._get(self.actor.article_places_many.remote([(t, p) for t, p in pairs], limit)))

    def close(self) -> None:
        self.actor = None

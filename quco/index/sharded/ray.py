"""Shards held by Ray actors: each actor opens its index once (memory-mapped, so actors on one
node share the page cache) and answers batches; ``quco.backends.ray.RayShard`` asks it."""

from __future__ import annotations

from collections.abc import Sequence

from quco.backends.ray import RayShard, answer, require_ray

__all__ = ["IndexShardActor", "start_ray_shards"]


class IndexShardActor:
    """The actor's body (wrapped with ``ray.remote`` by ``start_ray_shards``)."""

    def __init__(self, index: str, backend: str = "auto", budget: int | None = None):
        from quco.index.open import open_backend

        self.backend = open_backend(index, backend=backend, budget=budget)

    def info(self) -> dict:
        b = self.backend
        norm = getattr(b, "normalizer", None)
        return {"tokens": b.corpus.tokens, "documents": b.corpus.documents, "identity": b.identity,
                "normalizer": norm.to_dict() if norm is not None else None}

    def count_many(self, phrases: list[str]):
        return answer(lambda: [(c.count, c.approx) for c in self.backend.count_many(phrases)])

    def cooccur_many(self, pairs: list[tuple[str, str]], window: int):
        return answer(lambda: [(c.count, c.approx) for c in self.backend.cooccur_many(pairs, window)])

    def titles_many(self, phrases: list[str], limit: int):
        return answer(lambda: self.backend.titles_many(phrases, limit))

    def passages_many(self, phrases: list[str], window: int, limit: int):
        return answer(lambda: self.backend.passages_many(phrases, window, limit))

    def provenance_many(self, pairs: list[tuple[str, str]], window: int, limit: int):
        return answer(lambda: self.backend.provenance_many(pairs, window, limit))

    def in_articles_many(self, pairs: list[tuple[str, str]]):
        return answer(lambda: self.backend.in_articles_many(pairs))

    def article_places_many(self, pairs: list[tuple[str, str]], limit: int):
        return answer(lambda: self.backend.article_places_many(pairs, limit))






def start_ray_shards(indexes: Sequence[str], *, backend: str = "auto", budget: int | None = None,
                     timeout: float = 30.0, max_restarts: int = 2, num_cpus: float = 0.5,
                     actor_options: dict | None = None) -> list[RayShard]:
    """One actor per index path (node-local or shared storage, as each actor sees it); Ray places
    them and restarts a dead one up to ``max_restarts`` times. Ray must be initialised already."""
    ray = require_ray()
    cls = ray.remote(IndexShardActor)
    opts = {"max_restarts": max_restarts, "max_task_retries": 0, "num_cpus": num_cpus, **(actor_options or {})}
    return [RayShard(cls.options(**opts).remote(str(p), backend, budget), str(p), timeout=timeout) for p in indexes]

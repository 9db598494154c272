"""Counts and co-occurrences asked of a backend for one batch, as the decision reads them:
``phrase -> (count or None, approx, error)``. One batch call; if it fails, item by item, so only
the failing items are unknown (never 0). An approximate zero co-occurrence from a sampled engine
is not evidence of absence: it is unknown too."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from quco.backends.base import CountBackend, answer_each
from quco.errors import BackendError


def counts_of(backend: CountBackend, phrases: Sequence[str]) -> dict:
    """phrase -> (count or None, approx, error)."""
    return isolating_failures(backend.count_many, list(phrases), lambda c: (c.count, c.approx, None))


def cooccurrences_of(backend: CountBackend, pairs: Sequence[tuple[str, str]], window: int) -> dict:
    """(head, tail) -> (co-occurrence or None, approx, error)."""
    return isolating_failures(lambda batch: backend.cooccur_many(batch, window), list(pairs), cooccur_value)


def isolating_failures(batch_call: Callable, items: list, value: Callable) -> dict:
    """Answer ``items`` with one batch call; if it fails, retry item by item so that only the
    failing items become ``(None, False, error)``. Results are keyed by the input item."""
    if not items:
        return {}
    return {item: (None, False, str(r)) if isinstance(r, BackendError) else value(r)
            for item, r in zip(items, answer_each(batch_call, items))}


def cooccur_value(c) -> tuple:
    """A co-occurrence as ``(count or None, approx, error)``; an approximate zero is unknown."""
    if c.approx and c.count == 0:
        return (None, True, "approximate zero from a sampled count")
    return (c.count, c.approx, None)

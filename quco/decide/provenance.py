"""Where the evidence is: the corpus passages behind each checked claim.

A claim's evidence is a co-occurrence (its anchor near it), or for a claim supported through a
bridge two of them (anchor near bridge, bridge near claim). ``attach`` asks the backend, in one
batch, for the first places each of those pairs occur together (``CountBackend.provenance_many``:
document, title, the sentence holding both) and returns each claim's sources, or a note saying
why there are none: the pair never occurs together, the claim has no anchor, or the backend cannot
list places (it keeps no positions; the pair is too common to list within the work budget).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from quco.backends.base import CountBackend, Provenance, Source
from quco.decide.evidence import Bridge
from quco.decide.report import RiskReport
from quco.errors import BackendError, QueryError

PER_LINK = 2  # places shown per co-occurrence


@dataclass(frozen=True)
class Claimed:
    """What provenance needs of one checked claim: its anchor, the claim, their co-occurrence and
    the bridge that supports it, if any."""

    anchor: str | None
    claim: str
    cooccur: int | None
    bridge: Bridge | None = None


def links(c: Claimed) -> list[tuple[str, str]]:
    """The co-occurrences whose places back the claim."""
    if c.bridge is not None:
        return [(c.bridge.entity, c.bridge.via), (c.bridge.via, c.bridge.claim)]
    if c.anchor is not None and c.cooccur:
        return [(c.anchor, c.claim)]
    return []


def attach(backend: CountBackend, claims: Sequence[Claimed], window: int,
           limit: int = PER_LINK) -> list[tuple[tuple[Source, ...], str | None]]:
    """For each claim: (sources, note). Sources are the places of each link (the bridge's two
    links in order); the note says why there are none, or what is missing."""
    pairs = sorted({pair for c in claims for pair in links(c)})
    try:
        found = dict(zip(pairs, backend.provenance_many(pairs, window, limit))) if pairs else {}
    except (QueryError, BackendError) as exc:
        found = {p: Provenance(p[0], p[1], why=f"places could not be listed: {exc}") for p in pairs}
    return [_sources(c, found, window) for c in claims]


def with_sources(backend: CountBackend, reports: Sequence[RiskReport], window: int) -> list[RiskReport]:
    """The reports with each checked pair's corpus places (``sources``, ``source_note``), in one
    backend batch: ``with_sources(detector.backend, detector.check_many(items), detector.window)``."""
    found = iter(attach(backend, [Claimed(p.head, p.tail, p.cooccur, p.bridge) for r in reports for p in r.pairs], window))
    out = []
    for r in reports:
        pairs = []
        for p in r.pairs:
            sources, note = next(found)
            pairs.append(replace(p, sources=sources, source_note=note))
        out.append(replace(r, pairs=tuple(pairs)))
    return out


def _sources(c: Claimed, found: dict, window: int) -> tuple[tuple[Source, ...], str | None]:
    ls = links(c)
    if not ls:
        if c.anchor is None:
            return (), "no anchor in the corpus to read the claim against"
        if c.cooccur is None:
            return (), "the co-occurrence is unknown"
        return (), f"{c.claim!r} is never within {window:,} tokens of {c.anchor!r}: no passage holds both"
    sources: list[Source] = []
    notes = []
    for pair in ls:
        prov = found[pair]
        sources.extend(prov.sources)
        if not prov.sources:
            notes.append(f"{pair[0]!r} with {pair[1]!r}: " + (prov.why or "no place listed (counted over other word forms)"))
    return tuple(sources), "; ".join(notes) or None

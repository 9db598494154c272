"""Where the evidence is: the corpus passages behind each checked claim.

A checked pair's evidence is a co-occurrence (its anchor near its claim). ``attach`` asks the
backend, in one batch, for the first places each such pair occurs together (``CountBackend.provenance_many``:
document, title, the sentence holding both) and returns each claim's sources, or a note saying
why there are none: the pair never occurs together, the claim has no anchor, or the backend cannot
list places (it keeps no positions; the pair is too common to list within the work budget).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from quco.backends.base import CountBackend, Provenance, Source
from quco.decide.evidence import ClaimEvidence, word_forms
from quco.decide.report import RiskReport
from quco.errors import BackendError, QueryError

PER_LINK = 2  # places shown per co-occurrence


@dataclass(frozen=True)
class Claimed:
    """What provenance needs of one checked claim: its anchor, the claim and their co-occurrence."""

    anchor: str | None
    claim: str
    cooccur: int | None
    article: str | None = None  # the title of the anchor's article that states the claim (quco.decide.articles)


def link(c: Claimed) -> tuple[str, str] | None:
    """The co-occurrence whose places back the claim, if it has any."""
    return (c.anchor, c.claim) if c.anchor is not None and c.cooccur else None


def attach(backend: CountBackend, claims: Sequence[Claimed], window: int,
           limit: int = PER_LINK) -> list[tuple[tuple[Source, ...], str | None]]:
    """For each claim: (sources, note). Sources are the places of its co-occurrence; the note says
    why there are none."""
    pairs = sorted({pair for c in claims if c.article is None and (pair := link(c)) is not None})
    in_article = sorted({(c.article, c.claim) for c in claims if c.article is not None})

    def near(asked: list) -> list[Provenance]:
        return backend.provenance_many(asked, window, limit)

    def in_text(asked: list) -> list[Provenance]:
        return backend.article_places_many(asked, limit)

    try:
        found = dict(zip(pairs, near(pairs))) if pairs else {}
        found.update(_other_forms(found, near))
        stated = dict(zip(in_article, in_text(in_article))) if in_article else {}
        stated.update(_other_forms(stated, in_text))
    except (QueryError, BackendError) as exc:
        found = {p: Provenance(p[0], p[1], why=f"places could not be listed: {exc}") for p in pairs + in_article}
        stated = found
    return [_article_sources(c, stated) if c.article is not None else _sources(c, found, window) for c in claims]


def _other_forms(found: dict, places_of: Callable[[list], list[Provenance]]) -> dict:
    """For the pairs whose claim was counted together with its other word forms ("voice actors" with
    "voice actress", "theatrical director" with "theatre director") and listed no place as written:
    the places of the first form that has some (``places_of``: near the anchor, or in its article)."""
    bare = {pair: [(pair[0], f) for f in word_forms(pair[1])[1:]] for pair, prov in found.items() if not prov.sources}
    asked = sorted({p for ps in bare.values() for p in ps})
    if not asked:
        return {}
    places = dict(zip(asked, places_of(asked)))
    return {pair: next((places[p] for p in ps if places[p].sources), found[pair]) for pair, ps in bare.items()}


def _article_sources(c: Claimed, stated: dict) -> tuple[tuple[Source, ...], str | None]:
    prov = stated[(c.article, c.claim)]
    return (prov.sources, None) if prov.sources else ((), prov.why or f"{c.claim!r}: no place listed in {c.article!r}")


def with_sources(backend: CountBackend, reports: Sequence[RiskReport], window: int) -> list[RiskReport]:
    """The reports with each checked pair's corpus places (``sources``, ``source_note``), in one
    backend batch: ``with_sources(detector.backend, detector.check_many(items), detector.window)``.
    A pair supported through a bridge (``path``) has the places of each link of its chain."""
    wanted = [[_path_links(p.path) if p.path else [Claimed(p.head, p.alias or p.tail, p.cooccur, p.article)]
               for p in r.pairs]
              for r in reports]
    return [replace(r, pairs=tuple(replace(p, sources=s, source_note=n) for p, (s, n) in zip(r.pairs, per)))
            for r, per in zip(reports, _placed(backend, wanted, window))]


def answer_sources(backend: CountBackend, reports: Sequence, window: int) -> list:
    """``AnswerReport``s with each claim's corpus places (``sources``, ``source_note``), in one backend
    batch: the claim with its anchor, or for a claim supported through a bridge, each link of its
    chain (the question's entity with the bridge, the bridge with the claim; three for a three-hop chain)."""
    wanted = [[_links(c) for c in r.claims] for r in reports]
    return [replace(r, claims=tuple(replace(c, sources=s, source_note=n) for c, (s, n) in zip(r.claims, per)))
            for r, per in zip(reports, _placed(backend, wanted, window))]


def _placed(backend: CountBackend, wanted: list[list[list[Claimed]]], window: int) -> list[list[tuple]]:
    """Per report, per checked claim: (sources, note) over the claim's links, in one batch."""
    found = iter(attach(backend, [link for per in wanted for links in per for link in links], window))
    out = []
    for per in wanted:
        done = []
        for links in per:
            places = [next(found) for _ in links]
            sources = tuple(s for ss, _ in places for s in ss)
            notes = [n for _, n in places if n]
            done.append((sources, None if sources else "; ".join(notes) or None))
        out.append(done)
    return out


def _path_links(path: tuple[str, ...]) -> list[Claimed]:
    """A chain's links: every one was seen within the window (a chain is made of such links)."""
    return [Claimed(a, b, 1) for a, b in zip(path, path[1:])]


def _links(c: ClaimEvidence) -> list[Claimed]:
    if c.bridge is not None:
        return _path_links(c.bridge.path)
    return [Claimed(c.anchor, c.alias or c.phrase, c.cooccur, c.article.title if c.article is not None else None)]


def _sources(c: Claimed, found: dict, window: int) -> tuple[tuple[Source, ...], str | None]:
    pair = link(c)
    if pair is None:
        if c.anchor is None:
            return (), "no anchor in the corpus to read the claim against"
        if c.cooccur is None:
            return (), "the co-occurrence is unknown"
        return (), f"{c.claim!r} is never within {window:,} tokens of {c.anchor!r}: no passage holds both"
    prov = found[pair]
    if prov.sources:
        return prov.sources, None
    return (), f"{pair[0]!r} with {pair[1]!r}: " + (prov.why or "no place listed (counted over other word forms)")

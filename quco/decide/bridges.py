"""Multi-hop support: a claim not seen near the question's entities may be supported through a bridge.

A multi-hop question's answer sits in a second-hop article, not next to the question's entity:
"the first president of the association which published *Journal X*" is answered in the article
of the association, which the article of Journal X names. The corpus shows that chain when

- an article holding the claim is titled by something the question's entity is seen near
  (entity → title, title's article → claim), or
- an article holding the question's entity is titled by something seen near the claim
  (entity's article → title → claim).

The bridge is the title. Both links are counted — the entity near the title, and the title near
the claim — and the chain is as strong as its weaker link (the higher of the two risks of
``quco.decide.evidence``'s association). A claim's risk is the lower of its direct risk and its
best bridge's. The search is bounded: only question entities found in at most ``limit``
documents are bridged from, and only titles of such phrases' documents are tried (a frequent phrase
is near everything and bridges nothing: "American" would vouch for any American name).
A backend whose documents have no titles (``titles_many`` raises ``QueryError``) offers no bridges.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from quco.backends.base import Corpus, CountBackend
from quco.decide.evidence import Bridge, association
from quco.decide.lookups import cooccurrences_of, counts_of
from quco.errors import BackendError, QueryError

DOCS_PER_PHRASE = 20


@dataclass(frozen=True)
class BridgeLookups:
    """What a batch looked up for its bridges: titles of each phrase's documents (None: too common),
    and the counts and co-occurrences of the links (all empty when the backend has no titles)."""

    titles: dict
    counts: dict
    cooccur: dict


def lookup_bridges(backend: CountBackend, items: Sequence[tuple[Sequence[str], Sequence[str]]], window: int,
                   canon: Callable[[str], str], limit: int = DOCS_PER_PHRASE) -> BridgeLookups:
    """One batch of lookups for ``items`` = (question entities, claims) pairs: every phrase's
    document titles, then the titles' counts, then every link's co-occurrence."""
    phrases = sorted({p for ents, claims in items for p in (*ents, *claims) if canon(p)})
    try:
        titles = dict(zip(phrases, backend.titles_many(phrases, limit))) if phrases else {}
    except (QueryError, BackendError):
        return BridgeLookups({}, {}, {})
    counts = counts_of(backend, sorted({t for ts in titles.values() if ts for t in ts if canon(t)}))
    pairs: set[tuple[str, str]] = set()
    for ents, claims in items:
        for e in ents:
            if titles.get(e) is None:  # too common to bridge anything
                continue
            for c in claims:
                for t in _candidates(titles, e, c, canon, counts):
                    pairs.update([(e, t), (t, c)])
    return BridgeLookups(titles, counts, cooccurrences_of(backend, sorted(pairs), window))


def _candidates(titles: dict, entity: str, claim: str, canon, counts: dict) -> list[str]:
    """Titles that may link ``entity`` to ``claim``: of the claim's documents or of the entity's."""
    found = _titles(titles, claim, (entity, claim), canon, counts) + _titles(titles, entity, (entity, claim), canon, counts)
    return list(dict.fromkeys(found))


def _titles(titles: dict, phrase: str, exclude: tuple[str, str], canon, counts: dict) -> list[str]:
    """The titles of ``phrase``'s documents that can bridge: known, and neither end of the chain."""
    ends = {canon(x) for x in exclude}
    return [t for t in titles.get(phrase) or () if canon(t) and canon(t) not in ends and (counts.get(t, (None,))[0] or 0) > 0]


def best_bridge(entities: Sequence[str], claim: str, claim_count: int, entity_counts: dict, b: BridgeLookups,
                corpus: Corpus, window: int, canon: Callable[[str], str]) -> Bridge | None:
    """The bridge giving ``claim`` the lowest risk from any of the question's ``entities``, or None."""
    best = None
    for e in entities:
        e_count = entity_counts.get(e, (None,))[0]
        if not e_count or b.titles.get(e) is None:  # unknown, absent, or too common to bridge anything
            continue
        for t in _candidates(b.titles, e, claim, canon, b.counts):
            first, second = b.cooccur.get((e, t), (None,))[0], b.cooccur.get((t, claim), (None,))[0]
            if not first or not second:
                continue
            t_count = b.counts[t][0]
            _, pmi1, risk1 = association(first, e_count, t_count, corpus, window)
            _, pmi2, risk2 = association(second, t_count, claim_count, corpus, window)
            risk = max(risk1, risk2)  # a chain is as strong as its weaker link
            if best is None or risk < best.risk:
                direction = "entity" if t in (b.titles.get(claim) or ()) else "claim"
                best = Bridge(e, t, claim, direction, int(min(first, second)), round(min(pmi1, pmi2), 4), round(risk, 6))
    return best

"""Multi-hop support: a claim not seen near the question's entities may be supported through a bridge.

A multi-hop question's answer sits in a second-hop passage, not next to the question's entity:
"the first president of the association which published *Journal X*" is answered in a passage
about the association, which the passage about Journal X names. The corpus shows that chain
through a *bridge* phrase B with the question's entity E near B, and B near the claim C:

- B is **named near E**: a name (a capitalised run or a quoted title; not a date, a year or a
  number) in the passages around E's occurrences (``passages_many``, read by ``NamesMemo``);
- or B is the **title of a document holding E** or **holding C** (``titles_many``).

Both links are counted exactly — E near B, B near C — with ``quco.decide.evidence``'s association,
and the chain is supported only as far as both links are: its risk is ``1 − (1 − r₁)(1 − r₂)``
(support probabilities multiply, so a chain of two merely rare links is weaker than either).

**Many bridges tried, chance corrected.** Every bridge tried is a chance for the claim to land
near one of them at random: the link a bridge was *not* chosen by is scored against all of them
at once. For bridges named near E (chosen by E), "C near B" is expected by chance as often as C
near any of those bridges (their counts summed, the 2-hop *reach* of E); for titles of C's
documents (chosen by C), "E near B" is scored against all of C's titles. A generic bridge
("American", "city") thus vouches for little, and trying more bridges does not add support.

**Three hops.** Where no bridge links them: E near x near y near C, x from E's side (named near
E, or titling E's documents), y a title of one of C's documents — the middle paragraph of a
chain names both. The middle link is scored against every middle link tried (the chance
co-occurrence of the two sides' summed counts), the end links like a bridge's, and the risk is
``1 − (1 − r₁)(1 − r₂)(1 − r₃)``.

The search is bounded: only phrases found in at most ``limit`` documents are read or bridged
from (a frequent phrase is near everything and bridges nothing), at most ``MAX_BRIDGES`` bridges
per entity (``CHAIN_ENDS`` from each end of a three-hop chain), and only claims the corpus is
*silent* about near the question's entities are bridged (never seen there, and chance would not
have put them there: ``silent``). A backend that
keeps no text or titles (``QueryError``) offers those bridges only that it can.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from quco.backends.base import Corpus, CountBackend
from quco.decide.evidence import Bridge, ClaimEvidence, association, overlaps
from quco.decide.hops import describes_chain
from quco.decide.lookups import cooccurrences_of, counts_of
from quco.errors import BackendError, QueryError

DOCS_PER_PHRASE = 20  # a phrase in more documents is too common to read passages or titles of
MAX_BRIDGES = 64  # bridges tried per question entity
CHAIN_ENDS = 16  # three-hop chains: bridges tried from each end (so at most 16 x 16 middle links)
SILENT_EXPECTED = 1.0  # a claim expected near the anchor less than once by chance: its absence says nothing
NOT_NAMES = frozenset({"DATE", "TIME", "CARDINAL", "ORDINAL", "QUANTITY", "PERCENT", "MONEY", "YEAR"})
CALENDAR_WORDS = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split())


@dataclass(frozen=True)
class BridgeLookups:
    """What a batch looked up for its bridges: per question entity, the bridges named near it;
    per phrase, its documents' titles (None: too common); the counts and co-occurrences of the
    links. All empty when nothing was silent or the backend has neither text nor titles."""

    named: dict
    titles: dict
    counts: dict
    cooccur: dict


NO_BRIDGES = BridgeLookups({}, {}, {}, {})


def silent(ev: ClaimEvidence) -> bool:
    """A claim present in the corpus, never seen near its anchors where chance would not put it."""
    return silent_counts(ev.count, ev.cooccur, ev.expected)


def silent_counts(count: int | None, cooccur: int | None, expected: float | None) -> bool:
    """``silent`` from a claim's count, its co-occurrence with its anchor and what chance expects."""
    return bool(count) and not cooccur and (expected is None or expected < SILENT_EXPECTED)


def unbridged(setting: bool | None, question: str, entities, flagged, pairs: Sequence) -> str | None:
    """Why a draft's flagged claim (``FlaggedSentence``) never near the question's entity had no
    bridge: bridges by default (``setting`` None) and a question describing no chain
    (``quco.decide.hops``); None otherwise. ``pairs``: the draft's ``PairEvidence``."""
    t, names = flagged.triplet, [e.text for e in entities]
    if setting is not None or t is None or t.kind != "claim" or t.head not in names \
            or describes_chain(question, names) or not any(  # silent: where a bridge would be looked for
                p.sentence == flagged.index and p.tail == t.tail and p.cooccur is not None and p.verdict is None
                and silent_counts(p.tail_count, p.cooccur, p.expected) for p in pairs):
        return None
    return (f"no bridge looked for: the question asks one attribute of {t.head!r}, not through a chain it "
            "describes (the corpus states the fact near it or does not hold it)")


def lookup_bridges(backend: CountBackend, names: NamesMemo, items: Sequence[tuple[Sequence[str], Sequence[str]]],
                   window: int, canon: Callable[[str], str], limit: int = DOCS_PER_PHRASE) -> BridgeLookups:
    """One batch of lookups for ``items`` = (question entities, silent claims) pairs: the entities'
    passages (their names read by ``names``) and titles, the claims' titles, then every bridge's count and
    every link's co-occurrence."""
    items = [(list(dict.fromkeys(e for e in ents if canon(e))), list(dict.fromkeys(cs))) for ents, cs in items if cs]
    entities = sorted({e for ents, _ in items for e in ents})
    if not entities:
        return NO_BRIDGES
    named = _named_near(backend, names, entities, window, limit, canon)
    titles = _titles_of(backend, sorted(set(entities) | {c for _, cs in items for c in cs}), limit)
    counts = counts_of(backend, sorted({b for bs in named.values() for b in bs}
                                       | {t for ts in titles.values() if ts for t in ts if canon(t)}))
    lookups = BridgeLookups(named, titles, counts, {})
    ends = [(e, c, candidates(lookups, e, c, canon)) for ents, claims in items for e in ents for c in claims]
    cooccur = cooccurrences_of(backend, sorted({p for e, c, found in ends for b, _ in found for p in ((e, b), (b, c))}),
                               window)
    # Three-hop chains only where no bridge links the two: their middle links are most of the work.
    lookups = BridgeLookups(named, titles, counts, cooccur)
    unlinked = [(e, c, found) for e, c, found in ends if not any(_linked(lookups, e, b, c) for b, _ in found)]
    middle = sorted({p for _, _, found in unlinked for p in middle_links(found, canon)} - set(cooccur))
    if middle:
        cooccur.update(cooccurrences_of(backend, middle, window))
    return lookups


def _linked(b: BridgeLookups, entity: str, via: str, claim: str) -> bool:
    """Both links of the bridge were seen."""
    return bool(b.cooccur.get((entity, via), (None,))[0]) and bool(b.cooccur.get((via, claim), (None,))[0])


def chain_ends(found: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """The bridges a three-hop chain may pass through: from the entity's side (named near it, or
    titling its documents) and from the claim's (titling its documents), at most ``CHAIN_ENDS`` each."""
    return ([x for x, how in found if how != "claim"][:CHAIN_ENDS], [x for x, how in found if how == "claim"][:CHAIN_ENDS])


def middle_links(found: list[tuple[str, str]], canon: Callable[[str], str]) -> set[tuple[str, str]]:
    """The (entity-side bridge, claim-side bridge) pairs a three-hop chain needs counted."""
    near_entity, near_claim = chain_ends(found)
    return {(x, y) for x in near_entity for y in near_claim if not overlaps(x, y, canon)}


class NamesMemo:
    """The names in corpus passages, read for bridges and remembered for the last ``size`` passages:
    passages are corpus text, so the names in one never change, and consecutive batches (a scoring
    run, a training step's samples) read many of the same documents again. Safe to share between
    threads.

    ``reader`` (an ``Extractor``) reads them; by default the rule pipeline (``Extractor("rules")``:
    capitalised runs, quoted titles), about ten times cheaper than the entity recogniser and as good
    a source of bridges on multi-hop questions (``scripts/eval_multihop.py``), since every bridge is
    then counted and chance-corrected anyway. Calendar words and years are not names: a month or
    a year is near everything of its time and bridges nothing."""

    def __init__(self, reader=None, size: int = 8192):
        import threading
        from collections import OrderedDict

        if reader is None:
            from quco.extract import Extractor

            reader = Extractor("rules")
        self.reader, self.size = reader, size
        self._seen: OrderedDict[str, tuple] = OrderedDict()
        self._lock = threading.Lock()

    def names_many(self, texts: Sequence[str]) -> list[tuple[str, ...]]:
        """The names in each text, in order."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._seen))
        found = dict(zip(missing, (_names(xs) for xs in self.reader.names_many(missing)))) if missing else {}
        with self._lock:
            for t in texts:
                if t in self._seen:
                    self._seen.move_to_end(t)
                    found.setdefault(t, self._seen[t])
            for t in missing:
                self._seen[t] = found[t]
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)
        return [found[t] for t in texts]


def _names(found) -> tuple[str, ...]:
    """The names among the reader's entities, a calendar word leading one cut off ("Monday for
    Orla Tamsin" is "Orla Tamsin")."""
    from quco.extract.entities import CONNECTORS  # spaCy: loaded with the reader, not at import

    out = []
    for x in found:
        if x.label in NOT_NAMES:
            continue
        words = x.text.split()
        while words and (words[0].lower() in CALENDAR_WORDS or words[0].lower() in CONNECTORS):
            words.pop(0)
        if words:
            out.append(" ".join(words) if len(words) < len(x.text.split()) else x.text)
    return tuple(out)


def _named_near(backend: CountBackend, names: NamesMemo, entities: list[str], window: int, limit: int,
                canon: Callable[[str], str]) -> dict:
    """entity -> the named entities in the passages around it (first seen first), for entities in
    at most ``limit`` documents; {} when the backend keeps no text."""
    try:
        passages = backend.passages_many(entities, window, limit)
    except (QueryError, BackendError):
        return {}
    texts = [(e, p) for e, ps in zip(entities, passages) if ps for p in ps]
    found: dict[str, dict[str, None]] = {e: {} for e, ps in zip(entities, passages) if ps}
    for (e, _), ents in zip(texts, names.names_many([p for _, p in texts])):
        for x in ents:
            if canon(x) and len(found[e]) < MAX_BRIDGES:
                found[e].setdefault(x)
    return {e: tuple(xs) for e, xs in found.items()}


def _titles_of(backend: CountBackend, phrases: list[str], limit: int) -> dict:
    try:
        return dict(zip(phrases, backend.titles_many(phrases, limit))) if phrases else {}
    except (QueryError, BackendError):
        return {}


def candidates(b: BridgeLookups, entity: str, claim: str, canon: Callable[[str], str]) -> list[tuple[str, str]]:
    """(bridge, how it was found) that may link ``entity`` to ``claim``: named near the entity,
    titling the entity's documents ("entity"), or titling the claim's ("claim"). A bridge must be
    in the corpus, and neither end of the chain nor part of one."""
    found = [(x, "named") for x in b.named.get(entity) or ()] + [(t, "entity") for t in b.titles.get(entity) or ()]
    found += [(t, "claim") for t in b.titles.get(claim) or ()]
    out: dict[str, str] = {}
    for x, how in found:
        n = b.counts.get(x, (None,))[0]
        if canon(x) and n and x not in out and not overlaps(x, entity, canon) and not overlaps(x, claim, canon):
            out[x] = how
    return list(out.items())


def best_bridge(entities: Sequence[str], claim: str, claim_count: int, entity_counts: dict, b: BridgeLookups,
                corpus: Corpus, window: int, canon: Callable[[str], str]) -> Bridge | None:
    """The bridge giving ``claim`` the lowest risk from any of the question's ``entities``, or None."""
    best = None
    for e in entities:
        e_count = entity_counts.get(e, (None,))[0]
        if not e_count:  # unknown or absent
            continue
        found = candidates(b, e, claim, canon)
        reach = {how: sum(b.counts[x][0] for x, h in found if h == how) for how in ("named", "entity", "claim")}
        for x, how in found:
            first, second = b.cooccur.get((e, x), (None,))[0], b.cooccur.get((x, claim), (None,))[0]
            if not first or not second:
                continue
            x_count = b.counts[x][0]
            # The link the bridge was not chosen by is scored against every bridge chosen the same way.
            _, pmi1, risk1 = association(first, e_count, reach["claim"] if how == "claim" else x_count, corpus, window)
            _, pmi2, risk2 = association(second, claim_count, x_count if how == "claim" else reach[how], corpus, window)
            risk = 1.0 - (1.0 - risk1) * (1.0 - risk2)
            if best is None or risk < best.risk:
                best = Bridge(e, x, claim, how, int(min(first, second)), round(min(pmi1, pmi2), 4), round(risk, 6))
        if not any(_linked(b, e, x, claim) for x, _ in found):  # three hops only where no bridge links them
            chain = best_chain(e, e_count, claim, claim_count, found, b, corpus, window, canon)
            if chain is not None and (best is None or chain.risk < best.risk):
                best = chain
    return best


def best_chain(entity: str, e_count: int, claim: str, claim_count: int, found: list[tuple[str, str]],
               b: BridgeLookups, corpus: Corpus, window: int, canon: Callable[[str], str]) -> Bridge | None:
    """The best three-hop chain entity -> x -> y -> claim, x from the entity's side, y a title of
    the claim's documents: each end link is scored like a bridge's, and the middle link against
    every middle link tried (the sum of their chance co-occurrences, which is the chance
    co-occurrence of the two sides' counts summed)."""
    near_entity, near_claim = chain_ends(found)
    if not near_entity or not near_claim:
        return None
    reach_entity = sum(b.counts[x][0] for x in near_entity)
    reach_claim = sum(b.counts[y][0] for y in near_claim)
    best = None
    for x in near_entity:
        first = b.cooccur.get((entity, x), (None,))[0]
        if not first:
            continue
        _, pmi1, risk1 = association(first, e_count, b.counts[x][0], corpus, window)
        for y in near_claim:
            middle, last = b.cooccur.get((x, y), (None,))[0], b.cooccur.get((y, claim), (None,))[0]
            if not middle or not last:
                continue
            _, pmi2, risk2 = association(middle, reach_entity, reach_claim, corpus, window)
            _, pmi3, risk3 = association(last, claim_count, b.counts[y][0], corpus, window)
            risk = 1.0 - (1.0 - risk1) * (1.0 - risk2) * (1.0 - risk3)
            if best is None or risk < best.risk:
                best = Bridge(entity, x, claim, "chain", int(min(first, middle, last)), round(min(pmi1, pmi2, pmi3), 4),
                              round(risk, 6), then=y)
    return best


def bridged(ev: ClaimEvidence, entities: Sequence[str], counts: dict, b: BridgeLookups, corpus: Corpus, window: int,
            canon: Callable[[str], str]) -> ClaimEvidence:
    """The claim's evidence, through its best bridge when that supports it better. Only a silent
    claim is bridged: a claim that should have been near the question's entity and is not has
    evidence against it, which a detour does not outweigh."""
    if not silent(ev) or not b.cooccur:
        return ev
    bridge = best_bridge(entities, ev.phrase, ev.count or 0, counts, b, corpus, window, canon)
    if bridge is None or bridge.risk >= ev.risk:
        return ev
    return replace(ev, risk=bridge.risk, bridge=bridge)

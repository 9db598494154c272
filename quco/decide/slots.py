"""Relations with one filler, read from the subject's own statements: where a person was born, where
they died.

"In what city was Philipp Crone born?" answered "Thrissur": the corpus never names Thrissur near
Philipp Crone, which association reads as silence (no evidence either way). Yet the corpus does
say where he was born — "Philipp Crone (born 16 March 1977 in Cologne) is a German former field
hockey player" — and a person is born in one place. An answer
naming another place, never seen near the subject, is **contradicted**: the corpus links the subject
by the relation the question asks to a different filler. That is what this module reads:

1. the relation a question asks, from its wording: *birthplace* ("where was X born", "in what city
   was X born", "X's place of birth", "the birthplace of X") or *death place* ("where did X die"),
   in a question that describes no chain;
2. the places the subject's statements give for it — the capitalised name after "born … in" (or
   "died … in") in a sentence about the subject (``quco.decide.reading``);
3. the verdict, for an answer whose claim is never within the window of the subject:
   ``contradicted`` when the statements name a place for the relation and the claim is none of them —
   neither holds the other ("Lyon" and "Lyon, France", "Harlem" and "Harlem, New York City") nor is
   it another spelling of one ("Marousi" for "Maroussi"). Anything else leaves the claim's
   association to decide.

A claim seen near the subject is never contradicted here: a town and the region the corpus names
("Mutzig", "Alsace") both occur in a subject's article, and co-occurrence then speaks for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher

from quco.backends.base import CountBackend
from quco.decide.evidence import ClaimEvidence
from quco.decide.hops import describes_chain
from quco.decide.reading import CONTRADICTED, VERDICT_RISK, Statement, about, shorten, statements_with_variants

__all__ = ["SlotEvidence", "contradict_unseen", "slot_evidence", "slot_of", "unseen"]

_PLACE_WORDS = r"(?:city|town|village|place|country|state|region|county|province|location)"
_ASKS = {
    "birthplace": re.compile(rf"\bwhere\b.*\bborn\b|\b(?:what|which)\s+(?:[\w-]+\s+)?{_PLACE_WORDS}\b.*\bborn\b|"
                             r"\bborn\b.*\b(?:what|which)\s+(?:[\w-]+\s+)?" + _PLACE_WORDS + r"\b|"
                             r"\bplace\s+of\s+birth\b|\bbirth\s*place\b", re.I),
    "death place": re.compile(rf"\bwhere\b.*\bdie[ds]?\b|\b(?:what|which)\s+(?:[\w-]+\s+)?{_PLACE_WORDS}\b.*\bdie[ds]?\b|"
                              r"\bplace\s+of\s+death\b", re.I),
}
# "born 5 May 1942 in Lyon", "was born in Harlem, New York City": the capitalised run after "in".
# The words between stay in the clause: no full stop, closing bracket or new predicate ("born 25
# December 1983) is an English cricketer who played in England" states no birthplace).
_SAME_CLAUSE = r"(?:(?!\b(?:is|was|are|were|who|which|and|but)\b)[^.;)]){0,80}?"
_STATES = {
    "birthplace": re.compile(rf"\bborn\b{_SAME_CLAUSE}\bin\s+((?:[A-Z][\w'’.-]*(?:\s+|,\s*)?){{1,6}})"),
    "death place": re.compile(rf"\bdied\b{_SAME_CLAUSE}\bin\s+((?:[A-Z][\w'’.-]*(?:\s+|,\s*)?){{1,6}})"),
}
_PLACE_OF = re.compile(r"\bplace\s+of\s+(birth|death)\b", re.I)
_SAID = {"birthplace": "was born in", "death place": "died in"}
_SAME_SPELLING = 0.85  # a claim this close to a stated place (difflib ratio) is its other spelling


@dataclass(frozen=True)
class SlotEvidence:
    subject: str
    relation: str  # "birthplace", "death place"
    claim: str
    stated: tuple[str, ...]  # the places the subject's statements give for the relation
    sentence: str  # the sentence stating the first of them
    verdict: str
    risk: float

    @property
    def checked(self) -> bool:
        return True

    @property
    def reason(self) -> str:
        places = " or ".join(map(repr, self.stated))
        return (f"{self.verdict}: the corpus says {self.subject!r} {_SAID[self.relation]} {places} "
                f"(\"{shorten(self.sentence)}\"), and never names {self.claim!r} near it")


def slot_of(question: str, names: Sequence[str]) -> str | None:
    """The one-filler relation a question asks of its subject, or None: none asked, or a question
    describing a chain ("the city that has a courthouse in X's birthplace": ``quco.decide.hops``),
    whose answer is not the subject's birthplace. ``names``: the question's entities."""
    relation = next((name for name, asks in _ASKS.items() if asks.search(question)), None)
    # "place of birth" names the relation, not a hop: read as "birthplace" for the chain test
    return None if relation is None or describes_chain(_PLACE_OF.sub(r"\1place", question), names) else relation


def unseen(ev: ClaimEvidence | None) -> bool:
    """A claim the corpus holds that nothing saw near its anchor: no co-occurrence, bridge, article or alias."""
    return ev is not None and bool(ev.count) and not ev.cooccur and ev.anchor is not None \
        and ev.bridge is None and ev.article is None and ev.alias is None


def contradict_unseen(backend: CountBackend, evidence: dict, asked: dict, canon: Callable[[str], str]) -> dict:
    """``evidence`` ((claim, anchors) -> ``ClaimEvidence``) with each unseen claim whose key asks a
    one-filler relation (``asked``: key -> (relation, the question's names)) contradicted where its
    anchor — one of those names as written, not a shorter form standing in for it ("Pedersen" for
    "Erik Pedersen" reads namesakes) — has statements giving another filler
    (``ClaimEvidence.contradicted``, risk raised to the verdict's); one batch of reading."""
    keys = [key for key, (_, names) in asked.items()
            if (ev := evidence.get(key)) is not None and unseen(ev) and ev.anchor in names]
    if not keys:
        return evidence
    statements = statements_with_variants(backend, sorted({evidence[key].anchor for key in keys}))
    out = dict(evidence)
    for key in keys:
        ev = evidence[key]
        found = slot_evidence(asked[key][0], ev.anchor, ev.phrase, statements.get(ev.anchor), canon)
        if found is not None:
            out[key] = replace(ev, risk=max(ev.risk, found.risk), contradicted=found.reason)
    return out


def slot_evidence(relation: str, subject: str, claim: str, statements: Sequence[Statement] | None,
                  canon: Callable[[str], str]) -> SlotEvidence | None:
    """``contradicted`` when the subject's statements give places for ``relation`` and ``claim`` is
    none of them (the caller asks only of a claim never seen near the subject), else None."""
    if not claim[:1].isupper():  # a place is a name ("12th", "the coast" are not)
        return None
    found: list[tuple[str, str]] = []
    for s in about(statements):
        for text in (s.sentence, s.then):
            found += [(m.group(1).strip(" ,"), text) for m in _STATES[relation].finditer(text)]
    if not found:
        return None
    said = canon(claim)
    for place, _ in found:
        stated = canon(place)
        parts = [canon(p) for p in place.split(",")]  # "Mogilyev, Soviet Union": "Mogilev" is another spelling
        if not stated or not said or f" {said} " in f" {stated} " or f" {stated} " in f" {said} " \
                or any(SequenceMatcher(None, said, p).ratio() >= _SAME_SPELLING for p in parts if p):
            return None
    stated_places = tuple(dict.fromkeys(p for p, _ in found))
    return SlotEvidence(subject, relation, claim, stated_places, found[0][1], CONTRADICTED, VERDICT_RISK[CONTRADICTED])


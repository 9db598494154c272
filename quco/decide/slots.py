"""Relations with one filler, read from the subject's own statements: where a person was born, where
they died.

"In what city was Viator of Lyons born?" answered "Granada": the corpus never names Granada near
Viator of Lyons, which association reads as silence (no evidence either way). Yet the corpus does
say where Viator was born — "Viator (born in Lyon…)" — and a person is born in one place. An answer
naming another place, never seen near the subject, is **contradicted**: the corpus links the subject
by the relation the question asks to a different filler. That is what this module reads:

1. the relation a question asks, from its wording: *birthplace* ("where was X born", "in what city
   was X born", "X's place of birth", "the birthplace of X") or *death place* ("where did X die");
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
from dataclasses import dataclass
from difflib import SequenceMatcher

from quco.decide.reading import CONTRADICTED, VERDICT_RISK, Statement, about, shorten

__all__ = ["SlotEvidence", "slot_evidence", "slot_of"]

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


def slot_of(question: str) -> str | None:
    """The one-filler relation a question asks of its subject, or None."""
    return next((name for name, asks in _ASKS.items() if asks.search(question)), None)


def slot_evidence(relation: str, subject: str, claim: str, statements: Sequence[Statement] | None,
                  canon: Callable[[str], str]) -> SlotEvidence | None:
    """``contradicted`` when the subject's statements give places for ``relation`` and ``claim`` is
    none of them (the caller asks only of a claim never seen near the subject), else None."""
    found: list[tuple[str, str]] = []
    for s in about(statements):
        for text in (s.sentence, s.then):
            found += [(m.group(1).strip(" ,"), text) for m in _STATES[relation].finditer(text)]
    if not found:
        return None
    said = canon(claim)
    for place, _ in found:
        stated = canon(place)
        if not stated or not said or f" {said} " in f" {stated} " or f" {stated} " in f" {said} " \
                or SequenceMatcher(None, said, stated).ratio() >= _SAME_SPELLING:
            return None
    stated_places = tuple(dict.fromkeys(p for p, _ in found))
    return SlotEvidence(subject, relation, claim, stated_places, found[0][1], CONTRADICTED, VERDICT_RISK[CONTRADICTED])


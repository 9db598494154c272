"""Questions that rank two options by a count: "Which genus has more species, A or B?", "Which play
has more acts?", "Which city has a greater population?".

Association cannot rank these (``quco.decide.question_form`` leaves them unchecked); reading can,
where the corpus states each option's count in the sentences about it ("Paulownia is a genus of
six to 17 species", "Maskarade is an opera in three acts"). So:

1. the question's two options, its direction (*more*: "more", "most", "larger", "greater",
   "higher", "bigger"; *fewer*: "fewer", "less", "least", "smaller") and the noun it counts: the
   plural after the cue ("more members", "more studio albums", "a larger variety of species"), or
   "population" (counted as inhabitants, residents or people, or "a population of N");
2. the option the answer asserts (``quco.decide.compare.pick_between``: the one it names, turned
   round by a word of the other direction: "A has fewer species");
3. each option's count: the largest number before the noun (within three words: "six to 17
   species", "about 200 species", "three acts") in its statements, in digits or words;
4. the verdict: ``supported`` when the asserted option's count ranks it as asked, ``contradicted``
   when the other's does, ``unknown`` (with the reason) when a count is missing or the two are equal.

Units and measures ("taller", "a larger campus", "further from the centre") are not read: the corpus
writes them in too many units to compare; such questions stay unchecked and say why.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from quco.decide.compare import pick_between, rank_reason
from quco.decide.evidence import word_forms
from quco.decide.question_form import split_options
from quco.decide.reading import CONTRADICTED, SUPPORTED, UNKNOWN, VERDICT_RISK, Statement
from quco.normalize import NUMBER_WORDS, ORDINAL_WORDS

__all__ = ["AmountEvidence", "AmountRank", "amount_evidence", "amount_of", "amount_rank_of", "asserted_amount",
           "counted_noun"]

_MORE = re.compile(r"\b(?:more|most|larger|largest|greater|greatest|higher|highest|bigger|biggest)\b", re.I)
_FEWER = re.compile(r"\b(?:fewer|fewest|less|least|smaller|smallest|lower|lowest)\b", re.I)
# The counted noun: a plural within four words of the cue ("more Grand Slam singles titles",
# "a larger variety of species"), or "population".
_COUNTED = re.compile(r"^\s+(?:(?:[\w'-]+\s+){0,4}?)([a-z][a-z-]+s)\b(?!\s+(?:of|than)\b)|^\s+population\b", re.I)
_NEXT_PLURAL = re.compile(r"\s+([a-z][a-z-]+s)\b(?!\s+(?:of|than)\b)")
_NOT_COUNTS = frozenset({"is", "was", "has", "does", "this", "its", "his", "hers", "times", "years"})
_CARDINALS = {w: float(n) for w, n in NUMBER_WORDS.items() if w not in ORDINAL_WORDS} | {"dozen": 12.0}
_NUMBER = r"(?:\d[\d,]*(?:\.\d+)?|" + "|".join(sorted(_CARDINALS, key=len, reverse=True)) + r")\b"
_POPULATION = ("inhabitants", "residents", "people")
_READ_CHARS = 300


@dataclass(frozen=True)
class AmountRank:
    options: tuple[str, str]
    more: bool  # the question asks for the option with more (else fewer)
    noun: str  # what is counted ("species", "population")


@dataclass(frozen=True)
class AmountEvidence:
    chosen: str
    other: str
    more: bool
    noun: str
    amounts: tuple[float | None, float | None]  # the chosen option's count, the other's
    sentences: tuple[str, str]  # the sentence each count was read from ("" when none)
    verdict: str
    risk: float
    unread: tuple[str, ...] = ()  # options whose text could not be read

    @property
    def checked(self) -> bool:
        return self.verdict != UNKNOWN

    @property
    def reason(self) -> str:
        way = "more" if self.more else "fewer"
        (ac, ao) = self.amounts
        if ac is not None and ac == ao:
            return f"{self.chosen!r} and {self.other!r} both have {_n(ac)} {self.noun}: cannot tell which has {way}"
        return rank_reason(self, self.amounts, f"which has {way}", f"no count of {self.noun}", f"having {way} {self.noun}",
                           _n)


def amount_rank_of(question: str, entities: Sequence) -> AmountRank | None:
    """The options, direction and counted noun of a question ranking two options by a count, else None."""
    noun = counted_noun(question)
    if noun is None:
        return None
    more = _MORE.search(question) is not None
    options = split_options(question, entities, cut=_MORE if more else _FEWER)
    return AmountRank(options, more, noun) if options is not None else None


def counted_noun(question: str) -> str | None:
    """The noun a question ranks by counting ("species" in "Which genus has more species…?",
    "population"), or None: no direction word, both, or a measure ("taller", "more time")."""
    more, fewer = _MORE.search(question), _FEWER.search(question)
    cue = more or fewer
    if cue is None or (more and fewer):
        return None
    counted = _COUNTED.match(question[cue.end():])
    if counted is None:
        return None
    noun = (counted.group(1) or "population").lower()
    rest = question[cue.end() + counted.end():]
    while (nxt := _NEXT_PLURAL.match(rest)) is not None:  # "more singles titles": the last plural is counted
        noun, rest = nxt.group(1).lower(), rest[nxt.end():]
    if noun in _NOT_COUNTS or noun.endswith(("ss", "us", "is")):  # "class", "various", "campus", "axis"
        return None
    return noun


def asserted_amount(rank: AmountRank, answer: str, canon: Callable[[str], str]) -> tuple[str, str] | None:
    """(chosen, other): the option the answer says has more (or fewer) as asked, or None (it names
    neither or negates, or "the same")."""
    return pick_between(rank.options, answer, canon, *((_MORE, _FEWER) if rank.more else (_FEWER, _MORE)))


def amount_of(noun: str, statements: Sequence[Statement] | None) -> tuple[float | None, str]:
    """The count of ``noun`` the statements give (the largest number written before it, the first
    statement stating one) and the sentence giving it."""
    forms = _POPULATION if noun == "population" else tuple(dict.fromkeys(word_forms(noun)))
    before = re.compile(rf"\b({_NUMBER}(?:\s+(?:to|or|and|-|–)\s+{_NUMBER})?)\s+(?:[\w'-]+\s+){{0,3}}?"
                        rf"(?:{'|'.join(map(re.escape, forms))})\b", re.I)
    stated = re.compile(rf"\bpopulation\s+(?:of|was|is|at|:)?\s*(?:about|around|approximately|over|some)?\s*({_NUMBER})",
                        re.I) if noun == "population" else None
    for s in statements or ():
        for text, sentence in ((s.text[:_READ_CHARS], s.sentence), (s.then[:_READ_CHARS], s.then)):
            m = (stated.search(text) if stated is not None else None) or before.search(text)
            if m is not None and (value := _largest(m.group(1))) is not None:
                return value, sentence
    return None, ""


def amount_evidence(rank: AmountRank, chosen: str, other: str, statements: dict) -> AmountEvidence:
    """The verdict on ``chosen`` having more (or fewer) as asked, from each option's statements."""
    (ac, sc), (ao, so) = amount_of(rank.noun, statements.get(chosen)), amount_of(rank.noun, statements.get(other))
    if ac is None or ao is None or ac == ao:
        verdict = UNKNOWN
    else:
        verdict = SUPPORTED if (ac > ao) == rank.more else CONTRADICTED
    unread = tuple(o for o in (chosen, other) if statements.get(o) is None)
    return AmountEvidence(chosen, other, rank.more, rank.noun, (ac, ao), (sc, so), verdict,
                          VERDICT_RISK.get(verdict, 0.5), unread)


def _largest(numbers: str) -> float | None:
    values = []
    for w in re.findall(_NUMBER, numbers, re.I):
        w = w.lower()
        if w in _CARDINALS:
            values.append(_CARDINALS[w])
        elif (digits := w.replace(",", "")).replace(".", "", 1).isdigit():
            values.append(float(digits))
    return max(values) if values else None


def _n(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:,}"



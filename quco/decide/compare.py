"""Questions that rank two options by time: "Who was born first, A or B?", "Which film came out later?".

Association cannot rank (``quco.decide.question_form`` leaves these unchecked); reading can. The
corpus states each option's year in the sentence that introduces it ("A (born 5 May 1942) is…",
"B is a 1975 American film…"), so:

1. the question's two options and its direction: the *earlier* one ("first", "older", "earliest",
   "before") or the *later* one ("last", "younger", "latest", "after", "second");
2. the option the answer asserts: the one it names, or, naming both ("A was born before B"), the
   one it names first, turned round when its own words go the other way ("A was born later");
3. each option's year, read from its statements (``quco.decide.reading``): the first year after
   each mention within its sentence (or the next, when that one goes on about it); the year most
   statements give, the earliest on a tie. A name no sentence introduces is read in its fuller form
   ("Mark Anthony Aguirre (born 1959)" for "Mark Aguirre": ``quco.decide.reading.variant_statements``);
4. the verdict: ``supported`` when the asserted option's year ranks it as asked, ``contradicted``
   when the other's does, ``unknown`` (with the reason) when a year is missing or the two are equal.

Counts ("more species", "more acts") are ranked by ``quco.decide.amounts``; measures ("taller",
"further") are not read (the corpus writes them in too many units) and such questions stay
unchecked, saying why (``quco.decide.unchecked``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from quco.decide.question_form import own_words, pair_first, split_options
from quco.decide.reading import CONTRADICTED, SUPPORTED, UNKNOWN, VERDICT_RISK, Statement, about, shorten

__all__ = ["TimeRank", "TimeRankEvidence", "asserted", "is_time_cue", "pick_between", "rank_evidence", "rank_reason",
           "time_rank_of", "year_of"]

_EARLIER = re.compile(r"\b(?:first|earlier|earliest|older|oldest|before|prior)\b", re.I)
_LATER = re.compile(r"\b(?:later|latest|last|younger|youngest|newer|newest|after|second|more recent(?:ly)?|most recent(?:ly)?)\b",
                    re.I)
_QUANTITY = re.compile(r"\b(?:more|most|less|least|fewer|larger|largest|bigger|higher|highest|longer|longest|"
                       r"taller|tallest|shorter|smaller|many|much)\b", re.I)
_MORE_RECENT = re.compile(r"\b(?:more|most)\s+recent", re.I)  # a time, not a quantity ("produced more recently")
_SAME = re.compile(r"\b(?:same|equal|simultaneous|both)\b", re.I)
_NEGATION = re.compile(r"\b(?:not|never|neither|nor)\b|n't\b", re.I)
# A year: not inside "1,962,000" nor a decade ("the mid-1970s"); "in 1962, by…" is one.
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
# A year, also where a dash between two dates was lost ("(30 November 187424 January 1965)").
_YEAR = re.compile(r"(?<![\d,.])(1[0-9]{3}|20[0-9]{2})(?:(?!\d|,\d|s\b)|(?=[0-3]?\d (?:" + _MONTHS + r")\b))")
_READ_CHARS = 200  # characters of a sentence read for a year after the mention


@dataclass(frozen=True)
class TimeRank:
    options: tuple[str, str]
    earlier: bool  # the question asks for the earlier option (else the later one)


@dataclass(frozen=True)
class TimeRankEvidence:
    chosen: str
    other: str
    earlier: bool
    years: tuple[int | None, int | None]  # the chosen option's year, the other's
    sentences: tuple[str, str]  # the sentence each year was read from ("" when none)
    verdict: str
    risk: float
    unread: tuple[str, ...] = ()  # options whose text could not be read (no text kept, too common)

    @property
    def checked(self) -> bool:
        return self.verdict != UNKNOWN

    @property
    def reason(self) -> str:
        way = "earlier" if self.earlier else "later"
        (yc, yo) = self.years
        if yc is not None and yc == yo:
            return f"{self.chosen!r} and {self.other!r} are both of {yc}: cannot tell which came {way}"
        return rank_reason(self, self.years, f"which came {way}", "no year", f"coming {way}", str)


def is_time_cue(word: str) -> bool:
    """The word ranks by time ("first", "older", "later"), not by an amount."""
    return _EARLIER.fullmatch(word) is not None or _LATER.fullmatch(word) is not None


def time_rank_of(question: str, entities: Sequence) -> TimeRank | None:
    """The options and direction of a question ranking two options by time, else None."""
    earlier, later = _cue(_EARLIER, question), _cue(_LATER, question)
    if earlier == later or _QUANTITY.search(_MORE_RECENT.sub("", question)) or _SAME.search(question):
        return None
    options = split_options(question, entities, cut=_EARLIER if earlier else _LATER) or pair_first(question, entities)
    return TimeRank(options, earlier) if options is not None else None


def _cue(pattern: re.Pattern, question: str) -> bool:
    """The question turns on a word of ``pattern``, not one inside a title ("First for Women")."""
    return any(not (m.group(0)[0].isupper() and re.match(r"\s+[A-Z]", question[m.end():]))
               for m in pattern.finditer(question))


def rank_reason(e, values: tuple, cannot: str, missing: str, holds: str, show: Callable) -> str:
    """The reason of a ranking reading ``e`` (``chosen``, ``other``, ``sentences``, ``unread``,
    ``verdict``) whose ``values`` are the two options' years or counts: "cannot tell {cannot}" when
    one is unread or missing ("the corpus states {missing} for …"), else "the corpus supports (or
    contradicts) {chosen} {holds}" with each value (``show`` writes it) and its sentence."""
    (vc, vo), (sc, so) = values, e.sentences
    if e.unread:
        return (f"the corpus text about {e.unread[0]!r} cannot be read (an index without text, or a name "
                f"in too many documents): cannot tell {cannot}")
    if vc is None or vo is None:
        name = e.chosen if vc is None else e.other
        return f"the corpus states {missing} for {name!r}: cannot tell {cannot}"
    says = "supports" if e.verdict == SUPPORTED else "contradicts"
    return (f"the corpus {says} {e.chosen!r} {holds}: {e.chosen!r} {show(vc)} (\"{shorten(sc)}\"), "
            f"{e.other!r} {show(vo)} (\"{shorten(so)}\")")


def asserted(rank: TimeRank, answer: str, canon: Callable[[str], str]) -> tuple[str, str] | None:
    """(chosen, other): the option the answer says ranks as asked, or None (neither, a negation,
    "the same year")."""
    return pick_between(rank.options, answer, canon, *((_EARLIER, _LATER) if rank.earlier else (_LATER, _EARLIER)))


def pick_between(options: tuple[str, str], answer: str, canon: Callable[[str], str], asked: re.Pattern,
                 opposite: re.Pattern) -> tuple[str, str] | None:
    """(chosen, other): the option the answer names (the first it names, naming both), turned round
    when its own words go the other way (a word of ``opposite``, none of ``asked``: "A was born
    later"); None when it names neither, negates, or says "the same"."""
    a, b = options
    text = canon(answer)
    words = text.split()
    at_a = _first_at(words, own_words(a, b, canon))
    at_b = _first_at(words, own_words(b, a, canon))
    if (at_a is None and at_b is None) or _NEGATION.search(answer) or _SAME.search(answer):
        return None
    chosen, other = (a, b) if at_b is None or (at_a is not None and at_a < at_b) else (b, a)
    turned = opposite.search(answer) is not None and asked.search(answer) is None
    return (other, chosen) if turned else (chosen, other)


def _first_at(words: list[str], own: set[str]) -> int | None:
    return next((i for i, w in enumerate(words) if w in own), None)


def year_of(statements: Sequence[Statement] | None) -> tuple[int | None, str]:
    """The year the statements give (most often given, the earliest on a tie) and a sentence giving it."""
    found: list[tuple[int, str]] = []
    for s in about(statements):
        own = _YEAR.search(s.text[:_READ_CHARS])
        m = own or _YEAR.search(s.then[:_READ_CHARS])
        if m is not None:
            found.append((int(m.group(1)), s.sentence if own else s.then))
    if not found:
        return None, ""
    tally = Counter(y for y, _ in found)
    year = min(tally, key=lambda y: (-tally[y], y))
    return year, next(s for y, s in found if y == year)


def rank_evidence(rank: TimeRank, chosen: str, other: str, statements: dict) -> TimeRankEvidence:
    """The verdict on ``chosen`` ranking as asked, from each option's statements
    (``quco.decide.reading.read_statements``)."""
    (yc, sc), (yo, so) = year_of(statements.get(chosen)), year_of(statements.get(other))
    if yc is None or yo is None or yc == yo:
        verdict = UNKNOWN
    else:
        verdict = SUPPORTED if (yc < yo) == rank.earlier else CONTRADICTED
    unread = tuple(o for o in (chosen, other) if statements.get(o) is None)
    return TimeRankEvidence(chosen, other, rank.earlier, (yc, yo), (sc, so), verdict, VERDICT_RISK.get(verdict, 0.5),
                            unread)


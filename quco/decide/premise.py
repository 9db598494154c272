"""Answers that deny what the question takes for granted.

"What year did Pietro Ferrero introduce his famous hazelnut cocoa product?" answered "Pietro
Ferrero never introduced the product" names no new entity, so association has nothing to test;
yet it is a claim: that the fact the question presupposes does not exist. Corpus statistics can
vouch for what the corpus states, never for an absence, so such an answer is **unsupported**
(``quco.decide.reading.UNSUPPORTED``): before anyone relies on it, the fact should be retrieved.

So is an answer that says the fact cannot be told ("…cannot be determined", "…is unknown"): it
withholds what the question asks while the corpus may well state it.

A denial is a negation ("not", "never", "no", "none", "n't", "cannot", "unknown"…) in the answer to a *wh*-question
(what, which, who, when, where, how…) that does not itself negate. Yes/no questions are not
denied this way ("No" is one of their two answers). A "which one, A or B" choice is: "B is not
American" (for "Which director is American, A or B?") says what one option is not instead of
naming the one asked for, and "Neither game is…" rejects both; a contrast that names its pick
first ("A, not B", "A but not B") picks A and is read as a choice, and "not only … but also"
negates nothing.

An answer can also withhold what is asked by **restating** the question: "What retired American
soccer player is the head coach of the team owned by Anthony Precourt?" answered "Anthony Precourt
owns the team." is a statement whose every name is the question's own; it names no player. It is
unsupported for the same reason: the fact asked for is not in it. Only a *statement* is read so (a
finite verb: "owns", "is located", "was made by"); a phrase made of the question's words can be the
answer ("Tahirid dynasty" for "…in what dynasty?", "World War II" for
"…of what World War?"), and so is a statement naming anything the question does not: a number or a
capitalised word of its own ("The river is 200 mi long.") is an answer the claims did not catch,
left unchecked rather than called a restatement.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from quco.decide.question_form import asks_yes_no, offers_choice

__all__ = ["denial", "restatement"]

_NEGATION = re.compile(r"\b(?:not|never|no|none|nothing|nobody|nowhere|neither|nor|cannot|unknown|unclear|uncertain|"
                       r"undetermined|unspecified)\b|\w+n't\b", re.I)
_WH = re.compile(r"\b(?:what|which|who|whom|whose|when|where|how|why)\b", re.I)
_BETWEEN = re.compile(r"\s*(?:in\s+)?between\b", re.I)  # "Between the band A, and the quartet B, which…": a choice
_NOT_ONLY = re.compile(r"\s+only\b", re.I)  # "not only … but also" affirms
_CONTRAST = re.compile(r"\w\W*(?:,|\bbut|\brather)\s*$", re.I)  # "A, not B", "A but not B": the pick comes first
_WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*")
# Words that state nothing of their own: function words, and the adverbs of a hedge ("actually").
_EMPTY = frozenset("""a an the and or but of in on at to for from by with as into onto over under about after before
during between through than then also both either neither each all some any this that these those there here it its
they them their he him his she her we us our you your i me my is are was were be been being am do does did has have
had having can could will would shall should may might must not no so very just only actually really currently
still even which who whom whose what when where why how one ones same such""".split())


def denial(question: str, answer: str) -> str | None:
    """The negating words when ``answer`` denies the premise of the *wh*-question ``question``
    (as written, e.g. "never"), else None."""
    if asks_yes_no(question) or not _WH.search(question) or _NEGATION.search(question):
        return None
    choice = offers_choice(question)
    for m in _NEGATION.finditer(answer):
        if m.start() and m.group(0)[0].isupper():  # "Cats Don't Dance" is a title
            continue
        if _NOT_ONLY.match(answer, m.end()) or choice and _CONTRAST.search(answer, 0, m.start()):
            continue
        return m.group(0)
    return None


def restatement(question: str, answer: str, restated: Sequence[str], statement: bool) -> tuple[str, ...] | None:
    """The words an answer to the *wh*-question ``question`` states *instead* of an answer, when it
    is a ``statement`` (a finite verb: ``Extractor.statements_many``) whose phrases all restate the
    question's (``restated``, the answer's phrases that restate question entities or words) and
    which names nothing the question does not; else None. The caller asks only of an answer with
    no new claim."""
    if not statement or asks_yes_no(question) or not _WH.search(question) or offers_choice(question) \
            or _BETWEEN.match(question):
        return None
    rest = answer
    for phrase in sorted(restated, key=len, reverse=True):
        rest = re.sub(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)", " ", rest, flags=re.I)
    said = [w for w in _WORD.findall(rest) if w.lower() not in _EMPTY]
    if not said:
        return None
    asked = {w.lower() for w in _WORD.findall(question)}
    if any(w.lower() not in asked and (w[:1].isupper() or any(ch.isdigit() for ch in w)) for w in said):
        return None  # it names something of its own
    return tuple(said)

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
denied this way ("No" is one of their two answers), nor are "which one, A or B" choices.
"""

from __future__ import annotations

import re

__all__ = ["denial"]

_NEGATION = re.compile(r"\b(?:not|never|no|none|nothing|nobody|nowhere|neither|nor|cannot|unknown|unclear|uncertain|"
                       r"undetermined|unspecified)\b|\w+n't\b", re.I)
_WH = re.compile(r"\b(?:what|which|who|whom|whose|when|where|how|why)\b", re.I)
_YES_NO = re.compile(r"^\s*(?:is|are|was|were|do|does|did|can|could|has|have|had|will|would|should|shall)\b", re.I)
_CHOICE = re.compile(r"\s+or\s+", re.I)


def denial(question: str, answer: str) -> str | None:
    """The negating words when ``answer`` denies the premise of the *wh*-question ``question``
    (as written, e.g. "never"), else None."""
    if _YES_NO.match(question) or not _WH.search(question) or _CHOICE.search(question) or _NEGATION.search(question):
        return None
    for m in _NEGATION.finditer(answer):
        if m.start() == 0 or not m.group(0)[0].isupper():  # "Cats Don't Dance" is a title
            return m.group(0)
    return None

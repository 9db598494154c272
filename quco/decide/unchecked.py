"""Why an answer has nothing quco could check: the reason its report gives with the risk of ½.

An answer is checked through a claim of its own, a choice between the question's options, a
reading (which came first, which has more, yes or no about two subjects) or its own words (a
denial, a restatement). When none applies the risk is ½ — no evidence either way — and the report
says which case it is, so that a user can tell "the corpus was silent" from "quco does not read
this kind of question":

- a choice ranked by something quco does not read ("taller", "further", "more prominent") or
  comparing values ("the same"); an answer naming neither option, or both; options with nothing
  else in the question to weigh them by;
- a yes/no question not about two subjects ("Was A in more bands than B?");
- an answer naming only what the question names ("Tahirid dynasty" for "…in what dynasty?");
- an answer with no name, phrase or number to count.

A reading that ran and could not decide (a year or count the corpus does not state) gives its own
reason instead (``quco.decide.compare``, ``quco.decide.amounts``, ``quco.decide.yes_no``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from quco.decide.amounts import counted_noun
from quco.decide.compare import is_time_cue
from quco.decide.question_form import asks_yes_no, offers_choice, own_words, pair_first, ranking_cue, split_options

__all__ = ["nothing_checked"]



def nothing_checked(question: str, answer: str, restated: Sequence[str], canon: Callable[[str], str]) -> str:
    """The reason an answer to ``question`` has nothing checkable; ``restated``: its phrases that
    restate the question's (``AnswerReport.restated``)."""
    if offers_choice(question):
        return "nothing checked: " + _choice_case(question, answer, canon)
    if asks_yes_no(question):
        return ("nothing checked: quco reads yes/no questions about two subjects ('Are A and B both …?', "
                "'… the same …?'), not this one")
    if restated:
        names = ", ".join(map(repr, restated))
        return f"nothing checked: every name or phrase found in the answer is the question's ({names})"
    return "nothing checked: the answer holds no name, phrase or number of its own to count"


def _choice_case(question: str, answer: str, canon: Callable[[str], str]) -> str:
    cue = ranking_cue(question)
    if cue is not None and (is_time_cue(cue) or (noun := counted_noun(question)) is not None):
        by = repr(cue) if is_time_cue(cue) else f"a count of {noun}"
        return f"the question ranks its options by {by}, but its two options, or the one the answer picks, could not be told"
    if cue is not None:
        return (f"the question ranks or compares its options by {cue!r}, which quco does not read "
                "(it reads years and counts)")
    options = split_options(question, []) or pair_first(question, [])
    if options is None:
        return "the question's two options could not be told apart"
    a, b = options
    words = set(canon(answer).split())
    named = [bool(own_words(a, b, canon) & words), bool(own_words(b, a, canon) & words)]
    if named == [False, False]:
        return f"the answer names neither option ({a!r}, {b!r})"
    if all(named):
        return f"the answer names both options ({a!r}, {b!r})"
    return f"the question names nothing besides its options ({a!r}, {b!r}) that the corpus could weigh them by"

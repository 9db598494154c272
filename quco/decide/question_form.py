"""Answers that pick one of two options the question offers ("…, A or B?").

"Which documentary is about Finnish rock groups, Adam Clayton Powell or The Saimaa Gesture?"
answered "The Saimaa Gesture" only restates a question entity, so it has no claim of its own
(``quco.decide.answer``); yet it asserts something the corpus can speak to: *this* option, not the other,
goes with "Finnish rock groups". The evidence is the association of ``quco.decide.evidence`` (smoothed
PMI, co-occurrence above chance) between each option and the question's other phrases, its
*properties*:

    support = Σ_p [pmi(chosen, p) − pmi(other, p)],   risk = 1 / (1 + e^support)

how much better the corpus ties the chosen option than the rejected one to what the question asks
for. Each property is a separate condition, so their log-odds add.

What association cannot speak to stays unchecked here, never guessed:
- order and quantity ("who was born first", "which has more members", "which is longer"): the
  corpus does not rank options by co-occurrence (``quco.decide.compare`` reads which came first);
- "same"/"different" questions, which compare values;
- the word the question names its options by ("which *genus*"): both options are one;
- an answer naming both options or neither, or negating the one it names ("A is not …").

Yes/no questions ("Are A and B both singers?") are not checked this way: on HaluEval's dev rows
the association of each subject with the property separated right from wrong "yes" answers at
AUROC 0.64 and "no" answers at 0.59, too weak to put into a risk; ``quco.decide.yes_no`` reads them instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from quco.decide.evidence import NEUTRAL, claim_evidence, claim_pairs, outermost, overlaps, word_forms

__all__ = ["Choice", "ChoiceEvidence", "PairAssociation", "choice_evidence", "choice_of", "offers_choice",
           "asks_yes_no", "own_words", "pair_first", "pairs_needed", "phrases_needed", "picked", "ranking_cue",
           "split_options"]

_OR = re.compile(r"\s+or\s+", re.I)
_AND = re.compile(r"\s+and\s+", re.I)
# A question opening on its two options: "(In) between A and B, which…", "Of A and B, who…".
_PAIR_LEAD = re.compile(r"^\s*(?:in\s+)?(?:between|of)\s+([^,?]*?\s+and\s+[^,?]*?)(?:,|\s+(?=(?:which|who|whom|what|whose)\b))",
                        re.I)
LEADING_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.I)  # "the", "a", "an" opening a name or phrase
_COMPARES_VALUES = re.compile(r"\b(?:same|different|similar)\b", re.I)
_RANKS = re.compile(r"\b(?:more|most|less|least|fewer|fewest|first|last|earlier|earliest|later|latest|older|oldest|"
                    r"younger|youngest|newer|newest|longer|longest|shorter|shortest|larger|largest|bigger|biggest|"
                    r"smaller|smallest|higher|highest|lower|lowest|taller|tallest|farther|further|closer|before|after|"
                    r"prior|second|third|many|much|\w+er\s+than)\b", re.I)
_WH_TYPE = re.compile(r"\b(?:which|what|whose)\s+(?:[\w-]+\s+){0,2}?([\w-]+)\b", re.I)
_NEGATION = re.compile(r"\b(?:not|never|neither|nor|no)\b|n't\b", re.I)
_STOP = frozenset("""a an the and or of in on at to for from by with as both also either neither which what who whom
whose when where why how is are was were be been do does did has have had can could will would that this these those
there it its their his her one ones other than""".split())
MAX_OPTION_WORDS = 8
_AUXILIARY = re.compile(r"^\s*(?:was|were|is|are|did|does|do|has|have|had)\s+", re.I)
_VERB_AFTER = re.compile(r"\s+(?:was|were|is|are|born|released|founded|formed|published|introduced|established|"
                         r"came|come|created|built|opened|made|died)\b", re.I)


@dataclass(frozen=True)
class Choice:
    options: tuple[str, str]
    properties: tuple[str, ...]  # the question's other phrases: what the right option must go with


@dataclass(frozen=True)
class PairAssociation:
    option: str
    prop: str
    cooccur: int | None
    expected: float | None
    pmi: float


@dataclass(frozen=True)
class ChoiceEvidence:
    chosen: str
    other: str
    properties: tuple[str, ...]  # those the corpus holds, with both options
    support: float | None  # log-odds for the chosen option; None when the corpus cannot compare them
    risk: float
    pairs: tuple[PairAssociation, ...] = ()
    approx: bool = False
    unknown: bool = False  # a count the check needs is unknown (the risk is then 1)

    @property
    def checked(self) -> bool:
        return self.support is not None and not self.unknown

    @property
    def reason(self) -> str:
        if self.unknown:
            return f"choice of {self.chosen!r} over {self.other!r}: a count it needs is unknown"
        if self.support is None:
            return f"choice of {self.chosen!r} over {self.other!r}: the corpus cannot compare them"
        props = ", ".join(map(repr, self.properties))
        side = "closer to" if self.support > 0 else "no closer to"
        return f"{self.chosen!r} is {side} {props} than {self.other!r} (association margin {self.support:+.2f})"


_YES_NO = re.compile(r"^\s*(?:is|are|was|were|do|does|did|can|could|has|have|had|will|would|should|shall)\b", re.I)


def asks_yes_no(question: str) -> bool:
    """The question opens on an auxiliary ("Is…", "Did…", "Could…"): it asks yes or no."""
    return _YES_NO.match(question) is not None


def ranking_cue(question: str) -> str | None:
    """The word by which a question ranks or compares its options ("more", "taller", "first",
    "same"), or None: association cannot weigh such a choice."""
    m = _RANKS.search(question) or _COMPARES_VALUES.search(question)
    return m.group(0) if m is not None else None


def offers_choice(question: str) -> bool:
    """Cheap test before parsing: could the question offer two options ("A or B", or opening on
    them: ``pair_first``)?"""
    return _OR.search(question) is not None or _PAIR_LEAD.match(question) is not None


def choice_of(question: str, entities: Sequence, claims: Sequence[str], canon: Callable[[str], str]) -> Choice | None:
    """The two options of a choice question and its properties, or None (not a choice question, or
    one association cannot speak to). ``entities``: the question's entities (``.text``,
    ``.start``, ``.end``); ``claims``: its claims (``Extractor.claims_many``); ``canon``: the
    index's phrase normaliser."""
    options = split_options(question, entities)
    if options is None or not all(canon(o) for o in options) or _RANKS.search(question) \
            or _COMPARES_VALUES.search(question):
        return None
    props = _properties(claims, options, canon, _wh_type(question, canon))
    return Choice(options, props) if props else None


def picked(choice: Choice, answer: str, canon: Callable[[str], str]) -> tuple[str, str] | None:
    """(chosen, other) when the answer names exactly one option, by a word of its own
    ("Kevorkian" for "Jack Kevorkian"), and does not negate it; else None."""
    a, b = choice.options
    words = set(canon(answer).split())
    has_a, has_b = bool(own_words(a, b, canon) & words), bool(own_words(b, a, canon) & words)
    if has_a == has_b or _NEGATION.search(answer):
        return None
    return (a, b) if has_a else (b, a)


def phrases_needed(choice: Choice) -> set[str]:
    return set(choice.options) | {f for p in choice.properties for f in word_forms(p)}


def pairs_needed(choice: Choice, counts: dict) -> list[tuple[str, str]]:
    """Each option with each form of each property the corpus holds."""
    return [pair for o in choice.options for p in choice.properties for pair in claim_pairs(o, p, counts)]


def choice_evidence(choice: Choice, chosen: str, other: str, counts: dict, cooccur: dict, corpus,
                    window: int) -> ChoiceEvidence:
    """``counts``: phrase -> (count or None, approx, …); ``cooccur``: (option, phrase) -> same.
    Each option and property is weighed as a claim and its anchor are (``claim_evidence``)."""
    pairs, approx = [], False
    for o in (chosen, other):
        if counts[o][0] is None:
            return ChoiceEvidence(chosen, other, (), None, 1.0, unknown=True)
        for p in choice.properties:
            # An option the corpus does not hold is no anchor: its property is then not compared.
            ev = claim_evidence(p, [o] if counts[o][0] else [], counts, cooccur, corpus, window)
            if ev is None:
                return ChoiceEvidence(chosen, other, (), None, 1.0, unknown=True)
            if ev.pmi is None:
                continue
            approx = approx or ev.approx
            pairs.append(PairAssociation(o, p, ev.cooccur, ev.expected, ev.pmi))
    by = {(a.option, a.prop): a.pmi for a in pairs}
    props = tuple(p for p in choice.properties if (chosen, p) in by and (other, p) in by)
    if not props:  # an option or every property is unknown to the corpus: nothing to compare
        return ChoiceEvidence(chosen, other, (), None, NEUTRAL, tuple(pairs), approx)
    support = sum(by[chosen, p] - by[other, p] for p in props)
    risk = 1.0 / (1.0 + math.exp(max(-50.0, min(50.0, support))))
    return ChoiceEvidence(chosen, other, props, round(support, 4), round(risk, 6), tuple(pairs), approx)


def split_options(question: str, entities: Sequence, cut: re.Pattern | None = None) -> tuple[str, str] | None:
    """The options either side of the last " or ": the question's entities that end right
    before it and start right after it (past a "the"), else the short text segments between it and
    the punctuation around it ("…, the Indian pariah dog or …"). ``cut``: a pattern that also ends
    a segment (the word a ranking question turns on: "Which is older Bowdoin College or …")."""
    found = list(_OR.finditer(question))
    if not found:
        return None
    m = found[-1]
    spans = [e for e in entities if getattr(e, "start", None) is not None]  # entities given as text only: no spans
    left = next((e.text for e in spans if 0 <= m.start() - e.end <= 1), None)
    right = next((e.text for e in spans if e.start >= m.end()
                  and not LEADING_ARTICLE.sub("", question[m.end():e.start]).strip()), None)
    if left is not None:  # the recogniser cut a title short: "Charley and the Angel" read as "Angel"
        left = _whole_title(re.split(r"[,:;]", question[: m.start()])[-1], left, at_end=True)
    if right is not None:  # "Man on Wire" read as "Man", "Strickland v. Washington" as "Strickland"
        right = _whole_title(re.split(r"[?,;]", question[m.end():])[0], right, at_end=False)
    if left is None:
        parts = re.split(r"[,:;]", question[: m.start()])
        if cut is not None and len(cut.split(parts[-1])) > 1:
            parts = cut.split(parts[-1])
        elif cut is not None and _AUXILIARY.match(parts[-1]):
            parts = ["", _AUXILIARY.sub("", parts[-1])]
        left = _segment(parts[-1]) if len(parts) > 1 else None
    if right is None:
        rest = re.split(r"[?,;]", question[m.end():])[0]
        if cut is not None:
            rest = _VERB_AFTER.split(cut.split(rest)[0])[0]
        right = _segment(rest)
    if cut is not None and left and right:
        left, right = (_past_cue(o, cut) for o in (left, right))
    if not left or not right or left.lower() == right.lower():
        return None
    return left, right


_OPENERS = frozenset("was were is are did does do has have had which what who whom whose where when how why "
                     "between".split())  # a question's first word is no part of a title
_TITLE_JOINS = frozenset("and of the on in a an at to for with from v v. vs vs. de du la le von van der".split())


def _whole_title(segment: str, name: str, at_end: bool) -> str:
    """``name`` widened to the title it is part of in ``segment`` (the text between " or " and the
    punctuation around it): the run of capitalised words, and the small words joining them, that
    ends (``at_end``) or starts the segment and holds the name; the name itself otherwise."""
    words = segment.split()
    run: list[str] = []
    for w in reversed(words) if at_end else words:
        if not (w[:1].isupper() or w[:1].isdigit() or w.lower() in _TITLE_JOINS):
            break
        run.append(w)
    run = run[::-1] if at_end else run
    while run and (not (run[0][:1].isupper() or run[0][:1].isdigit()) or run[0].lower() in _OPENERS):
        run.pop(0)
    while run and not (run[-1][:1].isupper() or run[-1][:1].isdigit()):
        run.pop()
    title = " ".join(run)
    if len(run) > MAX_OPTION_WORDS or name not in title or len(title) <= len(name):
        return name
    return LEADING_ARTICLE.sub("", title)


def pair_first(question: str, entities: Sequence) -> tuple[str, str] | None:
    """The options of a question that opens on them, "between" or "of" the two ("Between two tennis
    players Kim Clijsters and Mary Pierce, who is older?", "Of the Wall Street Tower and 55 Hudson
    Yards, which one…"): two of its entities joined by "and" in that opening clause. Read for
    rankings by time (``quco.decide.compare``); the association of ``choice_of`` does not weigh
    them (on HaluEval's dev rows it ordered four of six such pairs right: no better than without)."""
    lead = _PAIR_LEAD.match(question)
    if lead is None:
        return None
    spans = sorted((e for e in entities if getattr(e, "start", None) is not None and e.end <= lead.end()),
                   key=lambda e: e.start)
    for a, b in zip(spans, spans[1:]):
        if _AND.fullmatch(question[a.end:b.start]) and not _AND.search(question[lead.start(1):a.start]):
            return (LEADING_ARTICLE.sub("", a.text), LEADING_ARTICLE.sub("", b.text)) if a.text != b.text else None
    # The recogniser found them not, or as one: the two names either side of the clause's one "and".
    parts = _AND.split(lead.group(1))
    # "two tennis players Kim Clijsters": the name after the words describing the pair
    found = [_segment(re.sub(r"^(?:[a-z][\w-]*\s+)+(?=[A-Z\d])", "", p.strip())) for p in parts] if len(parts) == 2 else []
    options = [o for o in found if o and (o[:1].isupper() or o[:1].isdigit() and not o.isdigit())]
    return (options[0], options[1]) if len(options) == 2 and options[0] != options[1] else None


def _past_cue(option: str, cut: re.Pattern) -> str | None:
    """The option without a leading lower-case cue word ("older Glenn Hughes"); "First for Women" stays."""
    cue = cut.match(option)
    return _segment(option[cue.end():]) if cue is not None and option[0].islower() else option


def _segment(text: str) -> str | None:
    text = LEADING_ARTICLE.sub("", text.strip().strip("\"'")).strip()
    return text if 1 <= len(text.split()) <= MAX_OPTION_WORDS else None


def own_words(option: str, other: str, canon) -> set[str]:
    return {w for w in canon(option).split() if w not in _STOP and len(w) > 1} - set(canon(other).split())


def _wh_type(question: str, canon) -> set[str]:
    """The word a "which …" question names its options by, in all its forms."""
    m = _WH_TYPE.search(question)
    return {canon(f) for f in word_forms(m.group(1).lower())} if m else set()


def _properties(claims: Sequence[str], options: Sequence[str], canon, skip: set[str]) -> tuple[str, ...]:
    """The question's phrases that are not (part of) an option nor the options' type word; a phrase
    nested in a longer one ("rock" in "Finnish rock groups") is not a property of its own."""
    out = []
    for c in claims:
        cc = canon(c)
        if cc and cc not in _STOP and cc not in skip and not any(overlaps(c, o, canon) for o in options):
            out.append(c)
    return tuple(dict.fromkeys(outermost(out, canon)))

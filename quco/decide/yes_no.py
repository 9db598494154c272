"""Yes/no questions about two subjects: "Are A and B both American?", "Did A and B have the same director?".

Association cannot answer these (on HaluEval's dev rows each subject's association with the
property separated right from wrong answers at AUROC 0.64 for "yes" and 0.59 for "no"); reading
each subject's statements (``quco.decide.reading``) can:

- **"both P"**: a subject *has* P when a sentence introducing it states P — P's words in any of
  their forms ("film directors" in "…is a French film director"); when P is a name of a kind (a
  nationality, a place: "American", "Florida") and the subject's introducing sentences name other
  things of that kind but not P ("…is an English author"), the subject *lacks* P. Both have it:
  the truth is yes; one lacks it: no; otherwise the corpus does not say.
- The question asks first ("Are A and B both P?") or names the pair first ("A and B, are P?"); a
  pair the recogniser ran into one name ("Promenaea and Machaeranthera") is cut in two. A question
  asking for a name after the pair ("A and B, are P of which country?") is not a yes/no question.
- **"the same X"**: each subject's values are the names of X's kind in its introducing sentences
  (nationality: nationalities; country, state, city: places; band, label, team: organisations;
  director, author: people). Shared values: yes; both have values and share none: no.

The answer's own polarity: "yes"/"no" (or a word meaning it) at its start, else a negation or an
opposition ("…, while B is…", "only A") says no, and naming both subjects without one says yes.
The verdict is ``supported`` when the polarity agrees with what the corpus states, ``contradicted``
when not, ``unknown`` (with the reason) when either is unclear.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from quco.decide.evidence import word_forms
from quco.decide.reading import CONTRADICTED, SUPPORTED, UNKNOWN, VERDICT_RISK, Statement, about

__all__ = ["Polar", "PolarEvidence", "polar_evidence", "polar_of", "polarity", "sentences_to_read"]

_ASKS = re.compile(r"^\s*(?:is|are|was|were|do|does|did|can|could|has|have|had)\b", re.I)
_ASKS_AFTER = re.compile(r"\s*,?\s*(?:is|are|was|were)\b", re.I)
_WH = re.compile(r"\b(?:which|what|who|whom|whose|where|when|how|why)\b", re.I)
_TRAILING_AND = re.compile(r"\s+(?:and|&)$")
_INNER_AND = re.compile(r"(?<=\w)\s+(?:and|&)\s+(?=[A-Z0-9\"'])")
_SAME = re.compile(r"\b(?:the\s+)?(?:same|similar)\s+((?:[\w-]+\s+){0,2}?[\w-]+)", re.I)
_JOIN = re.compile(r"\s+(?:and|ad|&)\s+(?:the\s+)?$", re.I)
_YES = re.compile(r"^\W*(?:yes|yeah|yep|correct|true|indeed|absolutely|certainly)\b", re.I)
_NO = re.compile(r"^\W*(?:no|nope|neither|not|false|incorrect)\b", re.I)
_SAYS_NO = re.compile(r"\b(?:not|never|neither|nor|only|while|whereas|but|unlike|different)\b|n't\b", re.I)
_STOP = frozenset("""a an the and or of in on at to for from by with as both also either is are was were be been do
does did has have had can could will would that this these those it its their his her they them considered
located known types type kind kinds one ones true same similar""".split())
# "the same X": which names are X's values; other kinds are not compared.
_KINDS = {("NORP", "LANGUAGE"): {"nationality", "nationalities", "citizenship", "ethnicity", "origin"},
          ("GPE", "LOC"): {"country", "countries", "state", "states", "city", "cities", "province", "region",
                           "county", "town", "place", "location", "continent"},
          ("ORG",): {"band", "bands", "label", "team", "company", "university", "college", "school", "network", "party"},
          ("PERSON",): {"director", "directors", "author", "authors", "writer", "producer", "creator", "founder",
                        "composer", "father", "mother", "parent"}}


_NATIONALITY = frozenset({"NORP", "LANGUAGE"})  # the small model often tags "English", "French" as a language


_COUNTRY = frozenset({"country", "countries", "nation"})
_PARTS_OF_COUNTRIES = frozenset({"state", "states", "province", "county", "city", "cities", "town", "region",
                                 "district", "village", "municipality"})


@dataclass(frozen=True)
class Polar:
    subjects: tuple[str, str]
    prop: str  # "same" questions: what is compared ("nationality"); "both" questions: the property's noun
    same: bool  # a "the same X" question
    name: str | None = None  # "both" questions: a nationality or place the property names ("American")
    name_label: str | None = None  # its entity label ("NORP")


@dataclass(frozen=True)
class PolarEvidence:
    says: bool | None  # the answer's polarity: True yes, False no, None unclear
    truth: bool | None  # what the corpus states, None when it does not say
    verdict: str
    risk: float
    why: str  # what was read, per subject

    @property
    def checked(self) -> bool:
        return self.verdict != UNKNOWN

    @property
    def reason(self) -> str:
        if self.says is None:
            return f"yes/no question: the answer says neither yes nor no ({self.why})"
        if self.truth is None:
            return f"yes/no question: the corpus does not say ({self.why})"
        return (f"{self.verdict}: the answer says {'yes' if self.says else 'no'}, the corpus "
                f"{'yes' if self.truth else 'no'} ({self.why})")


def polar_of(question: str, entities: Sequence) -> Polar | None:
    """The two subjects and the property of a yes/no question about them, else None. ``entities``:
    the question's entities (``.text``, ``.label``, ``.start``, ``.end``). The question asks first
    ("Are A and B both American?") or names the pair first ("A and B, are American?")."""
    spans = _pair_spans([e for e in entities if getattr(e, "start", None) is not None])
    pair = next(((a, b) for a, b in zip(spans, spans[1:]) if _JOIN.search(question[a.end:b.start] + " ")
                 or re.fullmatch(r"\s+(?:and|ad|&)\s+", question[a.end:b.start])), None)
    if pair is None:
        return None
    a, b = pair
    if not (_ASKS.match(question) or (_ASKS_AFTER.match(question, b.end) and not question[:a.start].strip())):
        return None
    if _WH.search(question, b.end):  # "A and B, are Americans of which occupation?" asks for a name
        return None
    subjects = (_ASKS.sub("", a.text).strip(), _ASKS.sub("", b.text).strip())  # "Are Horton Foote"
    same = _SAME.search(question)
    if same:
        return Polar(subjects, same.group(1).lower(), True)
    named = next((e for e in spans if e.start >= b.end and e.label in ("NORP", "LANGUAGE", "GPE", "LOC")), None)
    words = [w for w in re.findall(r"[\w'-]+", question[b.end:]) if w.lower() not in _STOP]
    noun = words[-1] if words and (named is None or words[-1] not in named.text.split()) else ""
    if named is None and not noun:
        return None
    return Polar(subjects, noun, False, named.text if named else None, named.label if named else None)


@dataclass(frozen=True)
class _Span:
    text: str
    label: str
    start: int
    end: int


def _pair_spans(spans: list) -> list:
    """The entities with one the recogniser ran over a pair ("Promenaea and Machaeranthera") cut in two."""
    out = []
    for e in spans:
        if (tail := _TRAILING_AND.search(e.text)) is not None:  # "Are Macworld and" | "College Humor"
            e = _Span(e.text[:tail.start()], e.label, e.start, e.start + tail.start())
        m = _INNER_AND.search(e.text)
        if m is None:
            out.append(e)
            continue
        left, right = e.text[:m.start()], e.text[m.end():]
        out += [_Span(left, e.label, e.start, e.start + len(left)), _Span(right, e.label, e.start + m.end(), e.end)]
    return out


def polarity(answer: str, polar: Polar, canon: Callable[[str], str]) -> bool | None:
    """True when the answer says yes, False no, None when it says neither."""
    if _YES.match(answer):
        return True
    if _NO.match(answer) or _SAYS_NO.search(answer):
        return False
    text = canon(answer)
    named = [any(w in text.split() for w in canon(s).split() if len(w) > 2) for s in polar.subjects]
    return True if all(named) else None


def sentences_to_read(statements: Sequence[Statement] | None) -> list[str]:
    """The sentences introducing a subject (all that mention it when none does), and their sequels,
    each on its own: a sentence's last place is its largest ("…in Jiangsu province, China.")."""
    return [t for s in about(statements) for t in (s.sentence, s.then) if t]


def polar_evidence(polar: Polar, says: bool | None, read: dict, canon: Callable[[str], str]) -> PolarEvidence:
    """``read``: subject -> [(sentence, its entities)] (``sentences_to_read`` and the extractor);
    a subject missing or None could not be read (no text kept, or in too many documents)."""
    truth, why = (_same(polar, read, canon) if polar.same else _both(polar, read, canon))
    if says is None or truth is None:
        return PolarEvidence(says, truth, UNKNOWN, 0.5, why)
    verdict = SUPPORTED if says == truth else CONTRADICTED
    return PolarEvidence(says, truth, verdict, VERDICT_RISK[verdict], why)


def _both(polar: Polar, read: dict, canon) -> tuple[bool | None, str]:
    has = [_all_of([_named(polar, read.get(s)), _has_noun(polar, read.get(s), canon)]) for s in polar.subjects]
    what = " ".join(x for x in (polar.name, polar.prop) if x)
    why = "; ".join(f"{s!r} {_SAYS[h]} {what!r}" if read.get(s) is not None else f"{s!r} cannot be read"
                    for s, h in zip(polar.subjects, has))
    if False in has:
        return False, why
    return (True, why) if all(h is True for h in has) else (None, why)


_SAYS = {True: "is stated as", False: "is stated as other than", None: "is not stated as"}


def _all_of(parts: list[bool | None | str]) -> bool | None:
    """Each part True, False, None (not stated) or "" (not asked): False if any is, True if all asked are."""
    asked = [p for p in parts if p != ""]
    if False in asked:
        return False
    return True if asked and all(p is True for p in asked) else None


def _has_noun(polar: Polar, sentences, canon) -> bool | None | str:
    """The property's noun in one of its forms in a sentence about the subject; "" when none is asked."""
    if not polar.prop:
        return ""
    forms = {canon(f) for f in word_forms(polar.prop.lower())} | {canon(polar.prop)}
    texts = [f" {canon(t)} " for t, _ in sentences or ()]
    return True if any(f" {f} " in t for f in forms if f for t in texts) else None


def _named(polar: Polar, sentences) -> bool | None | str:
    """The property's nationality or place among the names of that kind about the subject: True,
    False when others of that kind are named and not it, None when none is; "" when none is asked."""
    if polar.name is None:
        return ""
    kind = _NATIONALITY if polar.name_label in _NATIONALITY else {polar.name_label}
    names = {e.text.lower() for _, ents in sentences or () for e in ents if e.label in kind}
    if not names:
        return None
    return polar.name.lower() in names or any(polar.name.lower() in t.lower() for t, _ in sentences)


def _places_within(ents, labels, prop: str) -> list:
    """The names of the kind compared. For a part of a country ("the same state"), a sentence's last
    place is left out when it names several: English writes places small to large ("…in Jefferson
    County, New York, United States"), and two states share their country."""
    kept = [e for e in ents if e.label in labels]
    places = [e for e in kept if e.label in ("GPE", "LOC")]
    if prop.split()[-1] in _PARTS_OF_COUNTRIES and len(places) > 1:
        kept = [e for e in kept if e is not places[-1]]
    return kept


def _same(polar: Polar, read: dict, canon) -> tuple[bool | None, str]:
    labels = next((ls for ls, words in _KINDS.items() if polar.prop.split()[-1] in words), None)
    if labels is None:  # which names would be its values is not known: nothing to compare
        return None, f"{polar.prop!r} is not a kind of name quco reads"
    values = _values(polar, read, canon, labels)
    if polar.prop.split()[-1] in _COUNTRY and not all(values):
        # "the same country": a person's is written as a nationality ("an English author").
        # "an African American writer" is American: a nationality is its last word.
        nationalities = [{v.split()[-1] for v in vs} for vs in _values(polar, read, canon, _NATIONALITY)]
        values = nationalities if all(nationalities) else values
    why = "; ".join(f"{s!r}: {', '.join(sorted(v)[:4]) or 'no ' + polar.prop + ' stated'}" if read.get(s) is not None
                    else f"{s!r} cannot be read" for s, v in zip(polar.subjects, values))
    if not all(values):
        return None, why
    return bool(values[0] & values[1]), why


def _values(polar: Polar, read: dict, canon, labels) -> list[set[str]]:
    """Each subject's names of the kind compared, other than its own name's words."""
    values = []
    for s in polar.subjects:
        own = set(canon(s).split())
        values.append({canon(e.text) for _, ents in read.get(s) or [] for e in _places_within(ents, labels, polar.prop)
                       if canon(e.text) and not set(canon(e.text).split()) <= own})
    return values


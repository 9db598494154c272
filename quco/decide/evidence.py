"""One evidence model for drafts and answers: is a claim seen near its anchor more often than chance?

A *claim* is a phrase a text asserts (an entity or a noun phrase: "politician", "William
Shakespeare"); an *anchor* is what the claim is about (a question entity, a sentence's subject).
Co-occurrence alone favours frequent phrases, which are near everything; what says "the corpus
states this" is co-occurrence *above chance*:

- ``obs``: occurrences of the anchor with the claim within the window (clipped to the document);
- ``expected``: what unrelated phrases of the same frequencies would give,
  ``c(anchor) · min(1, c(claim) · span / N)``, where ``span`` is the part of the corpus a window
  can see: ``2W + 1`` tokens, or the mean document length when documents are shorter than that
  (co-occurrence never crosses a document boundary);
- the association is the smoothed pointwise mutual information ``ln((obs + ½) / (expected + ½))``
  and the claim's risk ``1 / (1 + e^association)``.

The risk is ½ when the corpus is silent (both rare, never together), → 1 when frequent phrases are
never together, → 0 for a strong association. A claim absent from the corpus has risk 1: nothing
vouches for it. Of several anchors the one with the strongest association speaks for the claim.

Where several claims are checked (an answer, a sentence), the risk is that of the *least supported*
claim (the maximum): one unsupported claim makes the text unsupported, and unlike a noisy-OR the
score does not climb merely because a text makes more claims.

**Word forms.** A common-noun claim ("actor", "film producer") is one claim in all the forms of
its last word: singular and plural, and the -tor/-ter and -tress forms of an agent noun ("actor",
"actors", "actress", "actresses"), and with an "-ical" modifier also under that modifier's noun
("theatrical director": "theatre director", "theater director"). Its count and its co-occurrences
are summed over the forms the corpus holds, so "X's occupation is actor" is supported by an
article that calls X an actress.
Names are matched only as written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from quco.backends.base import Corpus, InArticle
from quco.normalize import NUMBER_WORDS

NEUTRAL = 0.5


@dataclass(frozen=True)
class Bridge:
    """How a claim is supported through a bridge (``quco.decide.bridges``): ``entity`` near ``via``
    near ``claim``, or in a three-hop chain ``entity`` near ``via`` near ``then`` near ``claim``.
    ``how`` the bridge was found: "named" near the entity in its passages, or the title of a
    document holding the "entity" or the "claim" ("chain": ``via`` from the entity's side, ``then``
    a title of the claim's documents); ``cooccur`` and ``pmi`` are those of the weakest link,
    ``risk`` the chain's."""

    entity: str
    via: str
    claim: str
    how: str
    cooccur: int
    pmi: float
    risk: float
    then: str | None = None

    @property
    def path(self) -> tuple[str, ...]:
        """The chain's phrases in order, from the question's entity to the claim."""
        return (self.entity, self.via, *(() if self.then is None else (self.then,)), self.claim)


@dataclass(frozen=True)
class ClaimEvidence:
    phrase: str
    count: int | None  # None: unknown (a backend failure), never conflated with 0
    anchor: str | None  # the anchor giving the strongest association
    cooccur: int | None
    pmi: float | None  # the association: ln((obs + ½) / (expected + ½))
    risk: float
    anchor_count: int | None = None
    expected: float | None = None
    approx: bool = False
    forms: tuple[str, ...] = ()  # the claim's other word forms that were counted with it
    bridge: Bridge | None = None  # multi-hop support (quco.decide.bridges) when it beats the direct evidence
    article: InArticle | None = None  # stated in the subject's own article (quco.decide.articles)
    alias: str | None = None  # supported under the corpus's own other name for it (quco.decide.aliases)
    alias_said: str | None = None  # where the corpus gives that other name
    sources: tuple = ()  # where the corpus holds the evidence (quco.decide.provenance.answer_sources)
    source_note: str | None = None  # why there are no sources
    contradicted: str | None = None  # a reading of the subject's statements against it (quco.decide.slots): its reason


_COMMON = re.compile(r"[a-z]+(?: [a-z]+)*")


@lru_cache(maxsize=1 << 16)  # a pure function of the text, asked for every claim several times a batch
def word_forms(claim: str) -> tuple[str, ...]:
    """The claim, then the other forms of its last word when it is a common-noun phrase
    (lower-case letters): singular and plural, and the -tor/-ter and -tress forms of an agent noun;
    with an "-ical" modifier, the same under its noun ("theatre director" for "theatrical director")."""
    if not _COMMON.fullmatch(claim):
        return (claim,)
    if claim in NUMBER_WORDS:  # "four" is also written "4", "third" "3rd"
        return (claim, NUMBER_WORDS[claim])
    head, _, last = claim.rpartition(" ")
    if len(last) < 3:
        return (claim,)
    base = _singular(last)
    bases = [base]
    if base.endswith("tress") and len(base) > 6:
        bases += [base[:-5] + "tor", base[:-5] + "ter"]
    elif base.endswith(("tor", "ter")) and len(base) > 4:
        bases.append(base[:-2] + "ress")
    words = dict.fromkeys([last] + [w for b in bases for w in (b, _plural(b))])
    heads = [head, *_noun_modifiers(head)]
    return tuple(f"{h} {w}" if h else w for h in heads for w in words)


def _noun_modifiers(head: str) -> list[str]:
    """The noun an "-ical" modifier is made from: "-ic" ("music" for "musical", "classic"), "-logy"
    ("biology" for "biological"), "-atre"/"-ater" ("theatre", "theater" for "theatrical")."""
    first, _, rest = head.partition(" ")
    if not (first.endswith("ical") and len(first) >= 7):
        return []
    nouns = [first[:-2]]
    if first.endswith("logical"):
        nouns.append(first[:-4] + "y")
    elif first.endswith("atrical"):
        nouns += [first[:-4] + "e", first[:-5] + "er"]
    return [f"{n} {rest}".rstrip() for n in nouns]


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    return word + "s"


def backoff_forms(entity: str, label: str = "") -> tuple[str, ...]:
    """Shorter names standing for an entity the corpus never writes in full, most specific first:
    the name before a comma ("Harvey Peltier" for "Harvey Peltier, Sr."), without its middle
    initials ("Fairfax Cone" for "Fairfax M. Cone"), and for a person (``label`` "PERSON") the
    surname ("Rankin" for "George Rankin", "Crowther-Hunt" for "…, Baron Crowther-Hunt")."""
    base, _, rest = entity.partition(",")
    words = base.split()
    forms = [base.strip()] if rest else []
    if len(words) >= 3:
        kept = [w for w in words if not re.fullmatch(r"[A-Z]\.?", w)]
        if 2 <= len(kept) < len(words):
            forms.append(" ".join(kept))
    if label == "PERSON" and len(words) >= 2:
        tail = rest.split()[-1] if rest.split() else ""
        for surname in (tail, words[-1]):
            if len(surname) >= 4 and surname[:1].isupper() and surname.lower() not in _SUFFIXES:
                forms.append(surname)
    return tuple(f for f in dict.fromkeys(forms) if f and f != entity)


_SUFFIXES = frozenset({"sr.", "jr.", "sr", "jr", "iii", "ii"})


def with_forms(claims: Iterable[str]) -> set[str]:
    """Every phrase to count for these claims: each claim in all its word forms."""
    return {f for c in claims for f in word_forms(c)}


def claim_pairs(anchor: str, claim: str, counts: dict) -> list[tuple[str, str]]:
    """The co-occurrences to ask for a claim and an anchor: one per form the corpus holds."""
    return [(anchor, f) for f in held_forms(claim, counts)]


def held_forms(claim: str, counts: dict) -> list[str]:
    """The claim's word forms the corpus holds (counted above zero in ``counts``)."""
    return [f for f in word_forms(claim) if (counts.get(f, (None,))[0] or 0) > 0]


def window_span(corpus: Corpus, window: int) -> float:
    """Tokens a co-occurrence window can see: 2W+1, or the mean document length if smaller."""
    mean_doc = corpus.tokens / corpus.documents if corpus.documents else float(corpus.tokens)
    return float(min(2 * window + 1, max(1.0, mean_doc)))


def expected_cooccur(anchor_count: int, claim_count: int, corpus: Corpus, window: int) -> float:
    return anchor_count * chance_rate(claim_count, corpus, window)


def chance_rate(claim_count: int, corpus: Corpus, window: int) -> float:
    """The chance that one anchor occurrence has the claim within its window (at most 1)."""
    return min(1.0, claim_count * window_span(corpus, window) / max(1, corpus.tokens))


def association(obs: int, anchor_count: int, claim_count: int, corpus: Corpus, window: int) -> tuple[float, float, float]:
    """(expected, association, risk) of a pair seen ``obs`` times together."""
    expected = expected_cooccur(anchor_count, claim_count, corpus, window)
    return (expected, *observed_against(obs, expected))


def observed_against(obs: int, expected: float) -> tuple[float, float]:
    """(association, risk) of ``obs`` sightings where chance gives ``expected``:
    ``ln((obs + ½) / (expected + ½))`` and ``1 / (1 + e^association)``."""
    pmi = math.log((obs + 0.5) / (expected + 0.5))
    return pmi, 1.0 / (1.0 + math.exp(pmi))


def claim_evidence(claim: str, anchors: Sequence[str], counts: dict, cooccur: dict, corpus: Corpus,
                   window: int) -> ClaimEvidence | None:
    """The claim's evidence against its best anchor; ``None`` when a needed count is unknown.
    ``counts``: phrase -> (count or None, approx, error); ``cooccur``: (anchor, claim) -> same.
    Only the anchors paired with the claim in ``cooccur`` are used (``overlaps`` keeps an anchor
    that is part of the claim, or the claim part of it, out of those pairs)."""
    forms = word_forms(claim)
    count, approx, found = 0, False, []
    for f in forms:
        v = counts.get(f)
        if v is None or v[0] is None:
            return None
        count += v[0]
        if v[1]:
            approx = True
        if v[0] > 0:
            found.append(f)
    present = tuple(found)
    others = tuple(f for f in present if f != claim)
    if count == 0:
        return ClaimEvidence(claim, 0, None, 0, None, 1.0, approx=approx)
    anchors = [a for a in anchors if all((a, f) in cooccur for f in present)]
    if not anchors:
        return ClaimEvidence(claim, count, None, None, None, NEUTRAL, approx=approx, forms=others)
    rate = chance_rate(count, corpus, window)  # ``association`` per anchor, this part once
    best: tuple | None = None  # the strongest association so far (its rounded pmi first), built once
    for a in anchors:
        obs, pair_approx = 0, False
        for f in present:
            p = cooccur[(a, f)]
            if p[0] is None:
                return None
            obs += p[0]
            if p[1]:
                pair_approx = True
        a_count = counts[a][0]
        expected = a_count * rate
        pmi, risk = observed_against(obs, expected)
        if best is None or pmi > best[0]:
            best = (round(pmi, 4), a, obs, risk, a_count, expected, approx or pair_approx or counts[a][1])
    assert best is not None  # anchors is not empty
    pmi4, a, obs, risk, a_count, expected, any_approx = best
    return ClaimEvidence(claim, count, a, obs, pmi4, round(risk, 6), a_count, round(expected, 4), any_approx, others)


def least_supported(evidence: Iterable[ClaimEvidence]) -> ClaimEvidence | None:
    """The claim that decides a text's risk: the highest risk (first of equals)."""
    worst = None
    for e in evidence:
        if worst is None or e.risk > worst.risk:
            worst = e
    return worst


def new_claims(claims: Sequence[str], anchors: Sequence[str], canon: Callable[[str], str],
               context: str = "") -> tuple[list[str], list[str]]:
    """Split claims into (new, restated): a claim that restates an anchor ("George Rankin's
    occupation" for the anchor "George Rankin") or only repeats words of ``context`` (the
    question, canonical form: "the song" when the question asks about a song) says nothing new.
    A claim nested in a longer new claim ("State" in "Enemy of the State") is not a claim of its own."""
    return split_claims(claims, anchor_keys(anchors, canon), canon, context)


def anchor_keys(anchors: Sequence[str], canon: Callable[[str], str]) -> list[str]:
    """The anchors as ``split_claims`` compares them: canonical, padded with spaces (whole words:
    "art" is not within "martin", as ``_within``). A caller splitting many sentences' claims
    against the same anchors computes them once."""
    return [f" {k} " for k in map(canon, anchors) if k]


def split_claims(claims: Sequence[str], keys: Sequence[str], canon: Callable[[str], str],
                 context: str = "") -> tuple[list[str], list[str]]:
    """``new_claims`` against anchors given as their ``anchor_keys``."""
    if not claims:
        return [], []
    around = f" {context} " if context else ""
    new: list[str] = []
    same: list[str] = []
    for c in claims:
        cc = canon(c)
        if not cc:
            continue
        pc = f" {cc} "
        restates = any(pc in k or k in pc and not _extends_name(c, k, canon) for k in keys) \
            or bool(around) and pc in around
        (same if restates else new).append(c)
    return outermost(new, canon), same


# Words that name no one of their own beside a name: articles and honorifics ("Sir Francis Nethersole").
_NOT_NAMES = frozenset("the a an sir dame lord lady dr mr mrs ms st saint".split())


def _extends_name(claim: str, key: str, canon: Callable[[str], str]) -> bool:
    """The claim holds an anchor (``key``, padded canonical) and names more: a capitalised word of
    its own ("East Sussex United" holding "East Sussex", "Senator George W. Norris" holding
    "Senator"), another name, not the anchor's attribute ("George Rankin's occupation")."""
    own = set(key.split()) | _NOT_NAMES
    return any(len(cw) > 1 and cw not in own for w in claim.split() if w[:1].isupper() for cw in canon(w).split())


def outermost(phrases: Sequence[str], canon: Callable[[str], str]) -> list[str]:
    """The phrases not nested in a longer one of them: "State" in "Enemy of the State" is not a
    phrase of its own."""
    if len(phrases) < 2:
        return list(phrases)
    padded = [f" {canon(c)} " for c in phrases]
    return [c for c, pc in zip(phrases, padded)
            if not any(c != o and pc in po for o, po in zip(phrases, padded))]


def overlaps(a: str, b: str, canon: Callable[[str], str]) -> bool:
    """One phrase is part of the other (whole words): "script" and "cuneiform script"."""
    return _overlap(canon(a), canon(b))


def canonical_of(backend) -> Callable[[str], str]:
    """The backend's phrase normaliser (how the index sees a phrase), or the default one."""
    norm = getattr(backend, "normalizer", None)
    if norm is not None:
        return norm.canonical
    from quco.normalize import Normalizer

    return Normalizer().canonical


def _overlap(a: str, b: str) -> bool:
    return _within(a, b) or _within(b, a)


def _within(part: str, whole: str) -> bool:
    """Whole words: "art" is not within "martin"."""
    return f" {part} " in f" {whole} "

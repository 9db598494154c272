"""Reading the corpus's sentences about a phrase: what a text *states* about it, not only what is near it.

Association (``quco.decide.evidence``) says whether two phrases go together; some questions need a
value the corpus states — the year a film was released, what a person is — or the relation a
sentence asserts. This module finds the sentences that state something *about* a phrase, in the
passages a backend returns around its occurrences (``CountBackend.passages_many``):

- a phrase's **statements** are the sentences that mention it, each with the sentence after it when
  that one goes on about the same subject ("The band formed in 1988…", "Founded in 1764, it…"); a
  mention inside a longer name ("Charles George Marshall Plumer") is not one, and a name no sentence
  introduces is looked for in its fuller form ("Mark Anthony Aguirre" for "Mark Aguirre");
- the sentences are cut at a full stop followed by a space or directly by a capital letter
  ("…an island.The Apple Dumpling Gang is…": documents made by joining sentences keep no space).

A reading ends in one of four **verdicts**, with the sentence that decided it:
``supported`` (the text states what the answer says), ``contradicted`` (it states something else in
its place), ``unsupported`` (the corpus states nothing the answer could be checked against, and the
answer's own words cannot be true as phrased) and ``unknown`` (nothing to read: no text, or a
phrase too common to read all of).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from quco.backends.base import CountBackend
from quco.decide.question_form import LEADING_ARTICLE
from quco.errors import BackendError, QueryError

__all__ = ["CONTRADICTED", "SUPPORTED", "UNKNOWN", "UNSUPPORTED", "VERDICT_RISK", "Statement", "about", "mentions",
           "read_statements", "sentence_after", "shorten", "statements_about", "statements_with_variants",
           "variant_statements"]

SUPPORTED, CONTRADICTED, UNSUPPORTED, UNKNOWN = "supported", "contradicted", "unsupported", "unknown"
# The risk a verdict stands for. Reading is right about nine times in ten on the dev rows it was
# built on (a mention of a namesake, a year that is not the one asked for), so neither end is 0 or 1.
VERDICT_RISK = {SUPPORTED: 0.1, CONTRADICTED: 0.9, UNSUPPORTED: 0.8}
DOCS_TO_READ = 20  # a phrase in more documents is not read (its statements would be a sample)
READ_WINDOW = 40  # words of text read after each mention

_SENTENCE_END = re.compile(r"(?<=[a-z0-9)\]\"'])[.!?](?=\s|[A-Z]|$)")
# The next sentence goes on about the subject: a pronoun or "The band…", or an opening participle
# with no subject of its own ("Founded in 1764, it is…", "Born in Ohio, he…").
_GOES_ON = re.compile(r"\s*(?:The\s+[a-z]|(?:It|He|She|They|This|Its|His|Her|Their)\b|"
                      r"[A-Z][a-z]+(?:ed|en|wn)\s+(?:in|on|at|by|as|from|during|under)\b)")
_NAME_AFTER = re.compile(r" (?!(?:Jr|Sr)\b)[A-Z][a-z]")  # "Albert Horton Foote Jr." is Horton Foote
# A sentence opening on the subject's fuller name still introduces it ("Albert Horton Foote Jr. (March
# 14, 1916…) was…" for "Horton Foote").
_GIVEN_NAMES = re.compile(r"(?!(?:The|This|That|These|Those|An?|In|On|At|By|For|From|As|After|Before|When|While|With|"
                          r"Of|To|It|He|She|They|We|His|Her|Its|Their|Our|My|Your)\b)(?:[A-Z][a-z-]+|[A-Z]\.)"
                          r"(?:\s+(?:[A-Z][a-z-]+|[A-Z]\.))?")
_NAME_BEFORE = re.compile(r"(?<![\w.])[A-Z][a-z][\w'-]* $")
# A sentence opening on another form of the name that it then calls the subject by: "Maxwell Scott
# Green (born December 15, 1984), better known as Max Green, is…" introduces Max Green, and what it
# states before the mention (the dates) is about it too.
_KNOWN_AS = re.compile(r"[A-Z][^.;]{0,150}\b(?:better|also|commonly|professionally|popularly|simply) known as,?$")
_ABBREVIATION = re.compile(r"(?:\b(?:Mt|St|Dr|Mr|Mrs|Ms|Jr|Sr|Lt|Col|Gen|Capt|Co|Inc|Ltd|No|vs|etc|ca|c)|\b[A-Z])$")


@dataclass(frozen=True)
class Statement:
    """A sentence stating something about ``subject``: ``text`` from the mention to the sentence's
    end (``sentence`` the whole sentence), and ``then``, the next sentence when it goes on about
    the same subject ("" otherwise)."""

    subject: str
    sentence: str
    text: str
    then: str = ""
    introduces: bool = False  # the sentence starts with the subject: it is about it, not naming it in passing


def shorten(sentence: str, limit: int = 100) -> str:
    """A sentence cut to ``limit`` characters for a reason line (an ellipsis says so)."""
    return sentence if len(sentence) <= limit else sentence[: limit - 1] + "…"


def statements_with_variants(backend: CountBackend, phrases: Sequence[str]) -> dict[str, list[Statement] | None]:
    """``read_statements``, with a name no sentence introduces also read in its fuller form
    (``variant_statements``: "Mark Anthony Aguirre (born…" for "Mark Aguirre")."""
    statements = read_statements(backend, phrases)
    unintroduced = [p for p, st in statements.items() if st is not None and not any(x.introduces for x in st)]
    for name, fuller in variant_statements(backend, unintroduced).items():
        statements[name] = [*(statements[name] or ()), *fuller]
    return statements


def mentions(phrase: str) -> re.Pattern:
    """A pattern for the phrase as written in running text: its words in order, any punctuation or
    spacing between them, case-insensitive."""
    words = [re.escape(w) for w in re.findall(r"\w+", phrase)]
    return re.compile(r"(?<!\w)" + r"\W+".join(words) + r"(?!\w)", re.I) if words else re.compile(r"(?!x)x")


def sentence_after(text: str, start: int) -> tuple[str, int]:
    """The text from ``start`` to the end of its sentence, and where the next sentence starts."""
    end = _SENTENCE_END.search(text, start)
    while end is not None and _ABBREVIATION.search(text, 0, end.start()):
        end = _SENTENCE_END.search(text, end.end())
    return (text[start:end.start()], end.end()) if end else (text[start:], len(text))


def statements_about(phrase: str, passages: Sequence[str], pattern: re.Pattern | None = None) -> list[Statement]:
    """The first statement about ``phrase`` in each passage (one passage per document); ``pattern``
    finds its mentions (default: ``mentions(phrase)``)."""
    found = []
    pattern = pattern or mentions(phrase)
    for p in passages:
        m = next((m for m in pattern.finditer(p) if not _inside_name(p, m)), None)
        if m is None:
            continue
        begin = _sentence_start(p, m.start())
        lead = p[begin:m.start()].strip()
        rest, nxt = sentence_after(p, m.end())
        following, _ = sentence_after(p, nxt)
        then = following if _GOES_ON.match(following) else ""
        sentence = (p[begin:m.end()] + rest).strip()
        known_as = _KNOWN_AS.fullmatch(lead) is not None  # what the lead states is about the subject too
        found.append(Statement(phrase, sentence, sentence if known_as else p[m.start():m.end()] + rest, then.strip(),
                               known_as or not lead or LEADING_ARTICLE.fullmatch(lead + " ") is not None
                               or _GIVEN_NAMES.fullmatch(lead) is not None))
    return found


def _inside_name(text: str, m: re.Match) -> bool:
    """The mention is inside a longer name, capitalised words on both sides ("Charles George Marshall
    Plumer" does not mention "George Marshall"): what that sentence states is about someone else."""
    return bool(_NAME_AFTER.match(text, m.end()) and _NAME_BEFORE.search(text, max(0, m.start() - 40), m.start()))


def about(statements: Sequence[Statement] | None) -> list[Statement]:
    """The statements introducing their subject ("A (born 1952) is…"), or all of them when none
    does: a sentence naming it in passing ("…graduated from A in 1864") states another fact."""
    statements = list(statements or ())
    return [s for s in statements if s.introduces] or statements


def _sentence_start(text: str, before: int) -> int:
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, before) if not _ABBREVIATION.search(text, 0, m.start())]
    return ends[-1] if ends else 0


def read_statements(backend: CountBackend, phrases: Sequence[str], window: int = READ_WINDOW,
                    limit: int = DOCS_TO_READ) -> dict[str, list[Statement] | None]:
    """phrase -> its statements (``[]``: the corpus has none), or None when they cannot be read: a
    backend without text, a failure, or a phrase in more than ``limit`` documents."""
    phrases = list(dict.fromkeys(phrases))
    if not phrases:
        return {}
    try:
        passages = backend.passages_many(phrases, window, limit)
    except (QueryError, BackendError):
        return dict.fromkeys(phrases)
    return {p: None if ps is None else statements_about(p, ps) for p, ps in zip(phrases, passages)}


_NAME = re.compile(r"[A-Z][\w'-]*(?: [A-Z][\w'-]*){1,3}")  # "Mark Aguirre", "Frank De Winne"


def variant_mentions(name: str) -> re.Pattern:
    """A pattern for a name written with one or two more names or initials after its first word, as
    an article opens on its subject ("Mark Anthony Aguirre", "George E. Marshall", "Frank, Viscount
    De Winne" for "Mark Aguirre", "George Marshall", "Frank De Winne")."""
    first, *rest = [re.escape(w) for w in name.split()]
    return re.compile(rf"(?<!\w){first}\W+(?:[A-Z][\w'-]*\.?\W+){{1,2}}" + r"\W+".join(rest) + r"(?!\w)")


def variant_statements(backend: CountBackend, names: Sequence[str], limit: int = 6) -> dict[str, list[Statement]]:
    """name -> the statements introducing it under a fuller form of the name (``variant_mentions``),
    read from the sentences where its first and last words occur close together
    (``CountBackend.provenance_many``); only for names of two to four capitalised words. A backend
    that cannot list places, or fails, gives none."""
    names = [n for n in dict.fromkeys(names) if _NAME.fullmatch(n)]
    if not names:
        return {}
    pairs = [(n.split()[0], n.split()[-1]) for n in names]
    try:
        places = backend.provenance_many(pairs, window=len(max(names, key=len).split()) + 2, limit=limit)
    except (QueryError, BackendError):
        return {}
    out = {}
    for name, place in zip(names, places):
        texts = [src.text for src in place.sources if src.text]
        found = [st for st in statements_about(name, texts, variant_mentions(name)) if st.introduces]
        if found:
            out[name] = found
    return out


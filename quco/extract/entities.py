"""Entity spans from a spaCy ``Doc``: NER, capitalised proper-noun runs, quoted titles, years.

Candidates from all sources are cleaned (leading articles, possessives, punctuation) and merged
so that the longest span wins ("Arthur's Magazine" over "Arthur"). The rules read the doc's
words as plain lists (``quco.extract.spans.Words``); spaCy is imported by the caller only.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import NamedTuple

from quco.extract.spans import Words, words_of

# NER labels worth counting in a corpus; CARDINAL/ORDINAL/PERCENT/MONEY/QUANTITY/TIME are too
# generic ("two", "first") to say anything about knowledge of a topic.
KEEP_LABELS = frozenset(
    {"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE", "DATE"}
)
# Lower-case words allowed inside a capitalised name: "Bank of England", "First for Women".
CONNECTORS = frozenset({"of", "for", "the", "and", "de", "du", "da", "von", "van", "der", "la", "le", "del", "&"})
LEADING_DROP = frozenset({"the", "a", "an", "which", "who", "whom", "whose", "what", "when", "where", "how", "why", "is",
                          "was", "are", "were", "did", "does", "do", "in", "on", "at", "of", "and", "or", "but", "if"})
_QUOTED = re.compile(r'"([^"\n]{2,120})"|“([^”\n]{2,120})”')
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
_MAX_TOKENS = 12
# What may follow a name after a comma and still be part of it: "Harvey Peltier, Sr.",
# "Charles Strachey, 4th Baron O'Hagan", "Anthony Eden, 1st Earl of Avon".
SUFFIXES = frozenset({"sr", "sr.", "jr", "jr.", "ii", "iii", "iv", "v", "vi"})
TITLES = frozenset({"baron", "baroness", "baronet", "earl", "count", "countess", "duke", "duchess", "viscount",
                    "viscountess", "marquess", "marquis", "lord", "lady", "prince", "princess"})
_ARTICLES = ("the", "a", "an")
_ORDINAL = re.compile(r"^\d+(st|nd|rd|th)$", re.I)


class NameSpan(NamedTuple):
    """An entity span of a doc: token bounds, label, character bounds and text. Read like a spaCy
    ``Span`` by the code that also reads noun chunks (``start``, ``end``, ``label_``,
    ``start_char``, ``end_char``, ``text``), without building the doc's tokens. A named tuple:
    thousands are made per batch, most of them dropped as overlapping, and a tuple is the
    cheapest immutable record to build."""

    start: int
    end: int
    label_: str
    start_char: int
    end_char: int
    text: str


def _span(w: Words, start: int, end: int, label: str) -> NameSpan:
    a, b = w.char_bounds(start, end)
    return NameSpan(start, end, label, a, b, w.doc_text[a:b])


def _is_cap(word: str) -> bool:
    """Capitalised, with a letter in it (a first upper-case letter settles that, "Ⅷ" does not)."""
    return word[:1].isupper() and (word[0].isalpha() or any(c.isalpha() for c in word))


_OPENERS = frozenset({".", "!", "?", ":", ";", '"', "“", "(", "\n"})


def _sent_initial(w: Words, i: int) -> bool:
    """Does token ``i`` open a sentence (or a quotation, a parenthesis)?"""
    if i == 0:
        return True
    prev = w.text[i - 1]
    return prev in _OPENERS or prev.endswith("\n")


def capitalised_runs(w: Words, *, has_pos: bool) -> list[tuple[int, int]]:
    """Token bounds of the capitalised runs of ``w`` that read as names."""
    spans = []
    lower, n = w.lower, len(w)
    cap = [t[:1].isupper() and _is_cap(t) for t in w.text]  # most words are not: no call for them
    # Bounds for "the run is the whole text": only spaces before it, only punctuation after it.
    lead = next((k for k in range(n) if not w.space[k]), n)
    tail = next((k + 1 for k in range(n - 1, -1, -1) if not (w.punct[k] or w.space[k])), 0)
    i = 0
    while i < n:
        if not cap[i]:
            i += 1
            continue
        j = i + 1
        while j < n:
            if cap[j] or w.text[j] == "'s" and j + 1 < n and cap[j + 1]:
                j += 1
            elif lower[j] == "of" and j + 2 < n and lower[j + 1] == "the" and cap[j + 2] and not _sent_initial(w, j + 2):
                j += 2  # "Enemy of the State", "President of the United States": one name
            elif lower[j] in CONNECTORS and j + 1 < n and cap[j + 1] and not _sent_initial(w, j + 1):
                # "Pride and Prejudice" is one name; "Peter O'Meara and Norman Dike" are two.
                if lower[j] in ("and", "&") and (j - i > 1 or j + 2 < n and cap[j + 2]):
                    break
                j += 1
            else:
                break
        start = i
        # A capitalised sentence opener is usually just grammar ("The", "Which", "In").
        while start < j and _sent_initial(w, start) and (lower[start] in LEADING_DROP or w.stop[start]):
            start += 1
        # A bare title as the whole text (a short answer): "It Happened One Night", "All Saints".
        whole = i <= lead and j >= tail and j - i > 1
        if i < start < j and _title_opener(w, i, start, whole):
            start = i  # "This Is England", "Their Satanic Majesties Request": the opener is the title's
        if start < j:
            if has_pos:
                keep = any(w.propn[start:j]) or whole and all(t in _ARTICLES for t in lower[i:start])
            else:
                keep = not (j - start == 1 and (w.stop[start] or _sent_initial(w, start) and lower[start] in LEADING_DROP))
            if keep:
                spans.append((start, j))
        i = j
    return spans


def _title_opener(w: Words, i: int, start: int, whole: bool) -> bool:
    """Is the dropped opener (tokens ``i:start``) part of a title rather than grammar?

    Yes when what is left starts with a capitalised function word ("This *Is* England",
    "These *Are* the Days"): nothing but a title capitalises "Is" mid-run. Yes too when the run is
    the whole text, as a bare answer is ("Their Satanic Majesties Request", "All Saints",
    "He Zizhen"). Never when the opener is an article, a question word, an auxiliary or a
    preposition: "Which One Direction album" names "One Direction"."""
    if any(t in LEADING_DROP for t in w.lower[i:start]):
        return False
    return whole or bool(w.stop[start]) and w.lower[start] not in ("and", "or", "of", "the")


def quoted_spans(doc, text: str) -> list[tuple[int, int]]:
    """``text``: ``doc.text``, read once by the caller (spaCy rebuilds it from the tokens on each access)."""
    if '"' not in text and "“" not in text:
        return []
    spans = []
    for m in _QUOTED.finditer(text):
        group = 1 if m.group(1) is not None else 2
        span = doc.char_span(m.start(group), m.end(group), alignment_mode="expand")
        if span is not None and len(span) <= _MAX_TOKENS:
            spans.append((span.start, span.end))
    return spans


def year_spans(w: Words) -> list[tuple[int, int]]:
    """Token bounds of the years written in the text, where a year is whole tokens (as
    ``doc.char_span(..., alignment_mode="strict")`` finds them), read from the words' offsets."""
    spans: list[tuple[int, int]] = []
    if "1" not in w.doc_text and "2" not in w.doc_text:  # no year can start (most texts): skip the search
        return spans
    for m in _YEAR.finditer(w.doc_text):
        k = bisect_left(w.idx, m.start())
        if k < len(w) and w.idx[k] == m.start():
            j = bisect_left(w.idx, m.end(), lo=k)  # the first token past the year: it ends where j - 1 ends
            if w.idx[j - 1] + len(w.text[j - 1]) == m.end():
                spans.append((k, j))
    return spans


def _clean(w: Words, start: int, end: int, label: str) -> NameSpan | None:
    """Tokens ``start:end`` trimmed of articles, possessives and punctuation, as a labelled span;
    ``None`` if nothing countable remains."""
    while start < end and (w.punct[start] or w.lower[start] in _ARTICLES):
        start += 1
    while end > start and (w.punct[end - 1] or w.text[end - 1] in ("'s", "'", "’s")):
        end -= 1
    if start >= end or end - start > _MAX_TOKENS:
        return None
    for k in range(start, end):  # a word neither a stop word nor punctuation (a loop: most spans are short)
        if not (w.stop[k] or w.punct[k]):
            break
    else:
        return None
    if not any(w.alpha[start:end]) and not any(c.isalnum() for t in w.text[start:end] for c in t):
        return None  # an alphabetic token settles it; else look for a digit (or a letter in a mixed token)
    return _span(w, start, end, label or "PROPN")


def entity_spans(doc, *, has_model: bool, text: str | None = None, has_pos: bool | None = None,
                 words: Words | None = None) -> list[NameSpan]:
    """Cleaned, non-overlapping entity spans of ``doc`` in text order. ``text``: the text the doc
    was made from, when the caller holds it (``doc.text`` is rebuilt from the tokens). ``has_pos``:
    whether the doc was tagged (as ``has_model`` unless said: a doc run through the entity
    recogniser alone has labels but no tags). ``words``: ``words_of(doc, text)``, when the caller
    has read them."""
    candidates: list[tuple[int, int, str]] = []
    text = doc.text if text is None else text
    tagged = has_model if has_pos is None else has_pos
    w = words_of(doc, text, tagged=tagged) if words is None else words
    if has_model:
        for ent in doc.ents:
            if ent.label_ in KEEP_LABELS and (ent.label_ != "DATE" or any(c.isdigit() for c in ent.text)):
                candidates.append((ent.start, ent.end, ent.label_))
    else:
        candidates.extend((a, b, "YEAR") for a, b in year_spans(w))
    candidates.extend((a, b, "PROPN") for a, b in capitalised_runs(w, has_pos=tagged))
    candidates.extend((a, b, "QUOTED") for a, b in quoted_spans(doc, text))
    cleaned = [c for c in (_clean(w, *cand) for cand in candidates) if c is not None]
    return _join_name_parts(w, _longest_first(cleaned))


def _longest_first(spans: list[NameSpan]) -> list[NameSpan]:
    """Overlapping spans resolved as spaCy's ``filter_spans`` does (the longest, then the first,
    wins), in text order; written for ``NameSpan``, which that function is not typed for."""
    ordered = sorted(spans, key=lambda s: s.start)
    if all(b.start >= a.end for a, b in zip(ordered, ordered[1:])):
        return ordered  # none overlaps (the usual case): nothing to resolve
    kept: list[NameSpan] = []
    seen: set[int] = set()
    for span in sorted(spans, key=lambda s: (s.end - s.start, -s.start), reverse=True):
        if span.start not in seen and span.end - 1 not in seen:
            kept.append(span)
            seen.update(range(span.start, span.end))
    return sorted(kept, key=lambda s: s.start)


def _join_name_parts(w: Words, spans: list[NameSpan]) -> list[NameSpan]:
    """Keep appositive and title-bearing names whole: "Harvey Peltier, Sr.", "Charles Strachey,
    4th Baron O'Hagan", "Steven Ernest "Steve" Sailer" are one name each, not two that would
    then be checked as a pair that never co-occurs."""
    out: list[NameSpan] = []
    for span in spans:
        if out:
            prev = out[-1]
            if span.start < prev.end:  # the suffix taken into the name before it
                continue
            end = _name_continues(w, prev, span)
            if end is not None:
                out[-1] = _span(w, prev.start, end, prev.label_)
                continue
        out.append(_with_suffix(w, span))
    return out


def _with_suffix(w: Words, span: NameSpan) -> NameSpan:
    """"Harvey Peltier" + ", Sr." (a suffix the entity finder left out)."""
    end, n = span.end, len(w)
    if span.label_ in ("PERSON", "PROPN") and end + 1 < n and w.text[end] == "," \
            and w.lower[end + 1] in SUFFIXES and w.text[end + 1][:1].isupper():
        stop = end + 2
        if w.text[end + 1] in ("Sr", "Jr") and stop < n and w.text[stop] == ".":
            stop += 1
        return _span(w, span.start, stop, span.label_)
    return span


def _name_continues(w: Words, prev: NameSpan, span: NameSpan) -> int | None:
    """The end token of ``prev`` + ``span`` as one name, or None if they are two."""
    words = w.text[prev.end : span.start]
    if prev.label_ not in ("PERSON", "PROPN"):
        return None
    # "Steven Ernest "Steve" Sailer": a quoted nickname between (or ending) the two parts.
    if words and words[0] in ('"', "“") and '"' in span.text + "".join(words[1:]) + "”":
        if len(words) <= 4 and all(t in ('"', "“", "”") or _is_cap(t) for t in words):
            return span.end
    if not words or words[0] != ",":
        return None
    rest = words[1:]
    # ", 4th Baron O'Hagan", ", 1st Earl of Avon", ", Baron Crowther-Hunt"
    if rest and _ORDINAL.match(rest[0]):
        rest = rest[1:]
    title_in_span = w.lower[span.start] in TITLES
    if (not rest and title_in_span) or (len(rest) == 1 and rest[0].lower() in TITLES):
        return span.end
    return None

"""Entity spans from a spaCy ``Doc``: NER, capitalised proper-noun runs, quoted titles, years.

Candidates from all sources are cleaned (leading articles, possessives, punctuation) and merged
with ``filter_spans`` so that the longest span wins ("Arthur's Magazine" over "Arthur").
"""

from __future__ import annotations

import re

# Imported only when extraction runs (quco.extract imports this module inside its methods).
from spacy.tokens import Span
from spacy.util import filter_spans

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


def _is_cap(tok) -> bool:
    text = tok.text
    return text[:1].isupper() and any(c.isalpha() for c in text)


def _is_propn(tok) -> bool:
    # The tag is set by the tagger itself; POS only by the attribute ruler, which questions skip.
    return tok.pos_ == "PROPN" or tok.tag_ in ("NNP", "NNPS")


def _sent_initial(tok, toks: list) -> bool:
    """Does ``tok`` open a sentence (or a quotation, a parenthesis)? ``toks``: the doc's tokens."""
    i = tok.i
    if i == 0:
        return True
    prev = toks[i - 1].text
    return prev in {".", "!", "?", ":", ";", '"', "“", "(", "\n"} or prev.endswith("\n")


def capitalised_runs(doc, toks: list, *, has_pos: bool) -> list:
    """``toks``: ``list(doc)``, built once by the caller (indexing a Doc builds a new Token each time)."""
    spans = []
    cap = [_is_cap(t) for t in toks]
    n = len(toks)
    i = 0
    while i < n:
        if not cap[i]:
            i += 1
            continue
        j = i + 1
        while j < n:
            tok = toks[j]
            if cap[j] or tok.text == "'s" and j + 1 < n and cap[j + 1]:
                j += 1
            elif (tok.lower_ == "of" and j + 2 < n and toks[j + 1].lower_ == "the"
                  and cap[j + 2] and not _sent_initial(toks[j + 2], toks)):
                j += 2  # "Enemy of the State", "President of the United States": one name
            elif tok.lower_ in CONNECTORS and j + 1 < n and cap[j + 1] and not _sent_initial(toks[j + 1], toks):
                # "Pride and Prejudice" is one name; "Peter O'Meara and Norman Dike" are two.
                if tok.lower_ in ("and", "&") and (j - i > 1 or j + 2 < n and cap[j + 2]):
                    break
                j += 1
            else:
                break
        start = i
        # A capitalised sentence opener is usually just grammar ("The", "Which", "In").
        while start < j and _sent_initial(toks[start], toks) and (toks[start].lower_ in LEADING_DROP or toks[start].is_stop):
            start += 1
        # A bare title as the whole text (a short answer): "It Happened One Night", "All Saints".
        whole = all(t.is_space for t in toks[:i]) and all(t.is_punct or t.is_space for t in toks[j:]) and j - i > 1
        if i < start < j and _title_opener(toks, i, start, whole):
            start = i  # "This Is England", "Their Satanic Majesties Request": the opener is the title's
        if start < j:
            span = doc[start:j]
            run = toks[start:j]
            if has_pos:
                keep = any(_is_propn(t) for t in run) or whole and all(t.lower_ in _ARTICLES for t in toks[i:start])
            else:
                keep = not (len(run) == 1 and (run[0].is_stop or _sent_initial(run[0], toks) and run[0].lower_ in LEADING_DROP))
            if keep:
                spans.append(span)
        i = j
    return spans


def _title_opener(toks: list, i: int, start: int, whole: bool) -> bool:
    """Is the dropped opener ``doc[i:start]`` part of a title rather than grammar?

    Yes when what is left starts with a capitalised function word ("This *Is* England",
    "These *Are* the Days"): nothing but a title capitalises "Is" mid-run. Yes too when the run is
    the whole text, as a bare answer is ("Their Satanic Majesties Request", "All Saints",
    "He Zizhen"). Never when the opener is an article, a question word, an auxiliary or a
    preposition: "Which One Direction album" names "One Direction"."""
    if any(t.lower_ in LEADING_DROP for t in toks[i:start]):
        return False
    rest = toks[start]
    return whole or rest.is_stop and rest.lower_ not in ("and", "or", "of", "the")


def quoted_spans(doc, text: str) -> list:
    """``text``: ``doc.text``, read once by the caller (spaCy rebuilds it from the tokens on each access)."""
    if '"' not in text and "“" not in text:
        return []
    spans = []
    for m in _QUOTED.finditer(text):
        group = 1 if m.group(1) is not None else 2
        span = doc.char_span(m.start(group), m.end(group), alignment_mode="expand")
        if span is not None and len(span) <= _MAX_TOKENS:
            spans.append(span)
    return spans


def year_spans(doc, text: str) -> list:
    spans = []
    for m in _YEAR.finditer(text):
        span = doc.char_span(m.start(), m.end(), alignment_mode="strict")
        if span is not None:
            spans.append(span)
    return spans


def _clean(doc, toks: list, start: int, end: int, label: str):
    """The span ``toks[start:end]`` trimmed of articles, possessives and punctuation, as a labelled
    ``Span``; ``None`` if nothing countable remains."""
    while start < end and (toks[start].is_punct or toks[start].lower_ in _ARTICLES):
        start += 1
    while end > start and (toks[end - 1].is_punct or toks[end - 1].text in ("'s", "'", "’s")):
        end -= 1
    if start >= end or end - start > _MAX_TOKENS:
        return None
    out = toks[start:end]
    if all(t.is_stop or t.is_punct for t in out) or not any(c.isalnum() for t in out for c in t.text):
        return None
    return Span(doc, start, end, label=label or "PROPN")


def entity_spans(doc, *, has_model: bool, text: str | None = None, has_pos: bool | None = None) -> list:
    """Cleaned, non-overlapping entity spans of ``doc`` in text order. ``text``: the text the doc
    was made from, when the caller holds it (``doc.text`` is rebuilt from the tokens). ``has_pos``:
    whether the doc was tagged (as ``has_model`` unless said: a doc run through the entity
    recogniser alone has labels but no tags)."""
    candidates: list[tuple[int, int, str]] = []
    text = doc.text if text is None else text
    toks = list(doc)
    if has_model:
        for ent in doc.ents:
            if ent.label_ in KEEP_LABELS and (ent.label_ != "DATE" or any(c.isdigit() for c in ent.text)):
                candidates.append((ent.start, ent.end, ent.label_))
    else:
        candidates.extend((s.start, s.end, "YEAR") for s in year_spans(doc, text))
    tagged = has_model if has_pos is None else has_pos
    candidates.extend((s.start, s.end, "PROPN") for s in capitalised_runs(doc, toks, has_pos=tagged))
    candidates.extend((s.start, s.end, "QUOTED") for s in quoted_spans(doc, text))
    cleaned = [c for c in (_clean(doc, toks, *cand) for cand in candidates) if c is not None]
    return _join_name_parts(sorted(filter_spans(cleaned), key=lambda s: s.start))


def _join_name_parts(spans: list) -> list:
    """Keep appositive and title-bearing names whole: "Harvey Peltier, Sr.", "Charles Strachey,
    4th Baron O'Hagan", "Steven Ernest "Steve" Sailer" are one name each, not two that would
    then be checked as a pair that never co-occurs."""
    out: list = []
    for span in spans:
        doc = span.doc
        if out:
            prev = out[-1]
            if span.start < prev.end:  # the suffix taken into the name before it
                continue
            end = _name_continues(prev, span)
            if end is not None:
                out[-1] = Span(doc, prev.start, end, label=prev.label_)
                continue
        out.append(_with_suffix(span))
    return out


def _with_suffix(span):
    """"Harvey Peltier" + ", Sr." (a suffix the entity finder left out)."""
    doc, end = span.doc, span.end
    if span.label_ in ("PERSON", "PROPN") and end + 1 < len(doc) and doc[end].text == "," \
            and doc[end + 1].lower_ in SUFFIXES and doc[end + 1].text[:1].isupper():
        stop = end + 2
        if doc[end + 1].text in ("Sr", "Jr") and stop < len(doc) and doc[stop].text == ".":
            stop += 1
        return Span(doc, span.start, stop, label=span.label_)
    return span


def _name_continues(prev, span) -> int | None:
    """The end token of ``prev`` + ``span`` as one name, or None if they are two."""
    doc = prev.doc
    gap = doc[prev.end : span.start]
    words = [t for t in gap]
    if prev.label_ not in ("PERSON", "PROPN"):
        return None
    # "Steven Ernest "Steve" Sailer": a quoted nickname between (or ending) the two parts.
    if words and words[0].text in ('"', "“") and '"' in span.text + "".join(t.text for t in gap[1:]) + "”":
        if len(words) <= 4 and all(t.text in ('"', "“", "”") or _is_cap(t) for t in words):
            return span.end
    if not words or words[0].text != ",":
        return None
    rest = words[1:]
    # ", 4th Baron O'Hagan", ", 1st Earl of Avon", ", Baron Crowther-Hunt"
    if rest and _ORDINAL.match(rest[0].text):
        rest = rest[1:]
    title_in_span = span[0].lower_ in TITLES
    if (not rest and title_in_span) or (len(rest) == 1 and rest[0].lower_ in TITLES):
        return span.end
    return None

"""Entity spans from a spaCy ``Doc``: NER, capitalised proper-noun runs, quoted titles, years.

Candidates from all sources are cleaned (leading articles, possessives, punctuation) and merged
with ``filter_spans`` so that the longest span wins ("Arthur's Magazine" over "Arthur").
"""

from __future__ import annotations

import re

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


def _is_cap(tok) -> bool:
    text = tok.text
    return text[:1].isupper() and any(c.isalpha() for c in text)


def _is_propn(tok) -> bool:
    # The tag is set by the tagger itself; POS only by the attribute ruler, which questions skip.
    return tok.pos_ == "PROPN" or tok.tag_ in ("NNP", "NNPS")


def _sent_initial(tok) -> bool:
    i = tok.i
    if i == 0:
        return True
    prev = tok.doc[i - 1].text
    return prev in {".", "!", "?", ":", ";", '"', "“", "(", "\n"} or prev.endswith("\n")


def capitalised_runs(doc, *, has_pos: bool) -> list:
    spans = []
    n = len(doc)
    i = 0
    while i < n:
        if not _is_cap(doc[i]):
            i += 1
            continue
        j = i + 1
        while j < n:
            tok = doc[j]
            if _is_cap(tok) or tok.text == "'s" and j + 1 < n and _is_cap(doc[j + 1]):
                j += 1
            elif tok.lower_ in CONNECTORS and j + 1 < n and _is_cap(doc[j + 1]) and not _sent_initial(doc[j + 1]):
                # "Pride and Prejudice" is one name; "Peter O'Meara and Norman Dike" are two.
                if tok.lower_ in ("and", "&") and (j - i > 1 or j + 2 < n and _is_cap(doc[j + 2])):
                    break
                j += 1
            else:
                break
        start = i
        # A capitalised sentence opener is usually just grammar ("The", "Which", "In").
        while start < j and _sent_initial(doc[start]) and (doc[start].lower_ in LEADING_DROP or doc[start].is_stop):
            start += 1
        if start < j:
            span = doc[start:j]
            if has_pos:
                keep = any(_is_propn(t) for t in span)
            else:
                keep = not (len(span) == 1 and (span[0].is_stop or _sent_initial(span[0]) and span[0].lower_ in LEADING_DROP))
            if keep:
                spans.append(span)
        i = j
    return spans


def quoted_spans(doc) -> list:
    spans = []
    for m in _QUOTED.finditer(doc.text):
        group = 1 if m.group(1) is not None else 2
        span = doc.char_span(m.start(group), m.end(group), alignment_mode="expand")
        if span is not None and len(span) <= _MAX_TOKENS:
            spans.append(span)
    return spans


def year_spans(doc) -> list:
    spans = []
    for m in _YEAR.finditer(doc.text):
        span = doc.char_span(m.start(), m.end(), alignment_mode="strict")
        if span is not None:
            spans.append(span)
    return spans


def _clean(span):
    """Trim articles, possessives and punctuation; ``None`` if nothing countable remains."""
    start, end = span.start, span.end
    doc = span.doc
    while start < end and (doc[start].is_punct or doc[start].lower_ in ("the", "a", "an")):
        start += 1
    while end > start and (doc[end - 1].is_punct or doc[end - 1].text in ("'s", "'", "’s")):
        end -= 1
    if start >= end or end - start > _MAX_TOKENS:
        return None
    out = doc[start:end]
    if all(t.is_stop or t.is_punct for t in out) or not any(c.isalnum() for c in out.text):
        return None
    label = span.label_ if span.label_ else "PROPN"
    from spacy.tokens import Span

    return Span(doc, start, end, label=label)


def entity_spans(doc, *, has_model: bool) -> list:
    """Cleaned, non-overlapping entity spans of ``doc`` in text order."""
    from spacy.tokens import Span
    from spacy.util import filter_spans

    candidates = []
    if has_model:
        for ent in doc.ents:
            if ent.label_ in KEEP_LABELS and (ent.label_ != "DATE" or any(c.isdigit() for c in ent.text)):
                candidates.append(ent)
    else:
        candidates.extend(Span(doc, s.start, s.end, label="YEAR") for s in year_spans(doc))
    has_pos = has_model
    candidates.extend(Span(doc, s.start, s.end, label="PROPN") for s in capitalised_runs(doc, has_pos=has_pos))
    candidates.extend(Span(doc, s.start, s.end, label="QUOTED") for s in quoted_spans(doc))
    cleaned = [c for c in (_clean(s) for s in candidates) if c is not None]
    return sorted(filter_spans(cleaned), key=lambda s: s.start)

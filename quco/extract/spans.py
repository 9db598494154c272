"""Reading a spaCy ``Doc`` without building a ``Token`` per access.

Iterating or indexing a Doc creates a Python ``Token`` object each time, which is most of what
extraction costs on short texts (a reward batch: thousands of three-sentence completions). These
read the same values from the Doc's arrays and its text instead; the results are those of
``doc.sents`` and ``span.text``. spaCy is imported only when a Doc is read.
"""

from __future__ import annotations


def span_text(doc_text: str, span) -> str:
    """``span.text``, as a slice of ``doc_text`` (``doc.text``, read once by the caller): a span's
    text runs from its first token's start to its last token's end, which ``start_char`` and
    ``end_char`` give without building the tokens."""
    return doc_text[span.start_char : span.end_char]


def sentence_spans(doc) -> list:
    """``list(doc.sents)``: a sentence starts at the first token and at each token whose
    sentence-start flag is set (by the parser or the sentencizer)."""
    from spacy.attrs import SENT_START

    n = len(doc)
    if n == 0:
        return []
    flags = doc.to_array(SENT_START)
    starts = [0, *(int(i) + 1 for i in (flags[1:] == 1).nonzero()[0])]
    return [doc[a:b] for a, b in zip(starts, [*starts[1:], n])]

"""Reading a spaCy ``Doc`` without building a ``Token`` per access.

Iterating or indexing a Doc creates a Python ``Token`` object each time, which is most of what
extraction costs on short texts (a reward batch: thousands of three-sentence completions). These
read the same values from the Doc's arrays (one ``to_array`` call) and its text instead; the
results are those of ``doc.sents``, ``span.text`` and the tokens' flags. spaCy is imported only
when a Doc is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache


def span_text(doc_text: str, span) -> str:
    """``span.text``, as a slice of ``doc_text`` (``doc.text``, read once by the caller): a span's
    text runs from its first token's start to its last token's end, which ``start_char`` and
    ``end_char`` give without building the tokens."""
    return doc_text[span.start_char : span.end_char]


@dataclass(slots=True)
class Words:
    """A doc's tokens as plain lists, read from its arrays in one call (``words_of``): what the
    rules over a doc's words need, without a ``Token`` per look. Flags are 0 or 1; ``propn`` is
    all 0 for an untagged doc."""

    doc_text: str
    text: list[str]
    lower: list[str]
    stop: list[int]
    punct: list[int]
    space: list[int]
    propn: list[int]
    alpha: list[int]
    idx: list[int]  # character offset of each token in ``doc_text``
    sentences: list[tuple[int, int]]  # token bounds of each sentence, as ``doc.sents``

    def __len__(self) -> int:
        return len(self.text)

    def char_bounds(self, start: int, end: int) -> tuple[int, int]:
        """Character offsets of tokens ``start:end`` (as ``span.start_char``, ``span.end_char``)."""
        return self.idx[start], self.idx[end - 1] + len(self.text[end - 1])


def words_of(doc, doc_text: str, *, tagged: bool = True, sentence_ends: frozenset[str] | None = None) -> Words:
    """``doc``'s tokens as ``Words``; ``doc_text``: the text the doc was made from. ``tagged``:
    whether the doc went through a tagger (if not, its tags are not read: ``propn`` is all 0).
    ``sentence_ends``: for a doc that skipped the rule pipeline's sentencizer, its punctuation
    characters: the sentences are then split by the sentencizer's rule (``rule_sentences``) instead
    of read from the doc."""
    n = len(doc)
    if n == 0:
        return Words(doc_text, [], [], [], [], [], [], [], [], [])
    # The sentence starts are read only when the doc has them (not split by ``sentence_ends``).
    attrs = _columns(tagged, sentence_ends is None)
    columns = doc.to_array(attrs).T.tolist()
    idx, length, punct, stop, space, alpha = columns[:6]
    sent_start = columns[6] if sentence_ends is None else []
    text = [doc_text[i : i + size] for i, size in zip(idx, length)]
    if sentence_ends is None:
        # A sentence starts at the first token and at each token flagged as a start (by the parser
        # or the sentencizer): the bounds of ``doc.sents``.
        starts = [0, *(k for k in range(1, n) if sent_start[k] == 1)]
    else:
        starts = rule_sentences(text, punct, sentence_ends)
    sentences = list(zip(starts, [*starts[1:], n]))
    pos, tag = columns[-2:] if tagged else ([], [])
    if any(pos) or any(tag):
        propn_pos, proper_tags = _proper()
        propn = [int(p == propn_pos or t in proper_tags) for p, t in zip(pos, tag)]
    else:
        propn = [0] * n  # untagged
    return Words(doc_text, text, [t.lower() for t in text], stop, punct, space, propn, alpha, idx, sentences)


def rule_sentences(text: list[str], punct: list[int], ends: frozenset[str]) -> list[int]:
    """The first token of each sentence, by spaCy's ``Sentencizer`` rule: after a token in
    ``ends`` (its punctuation characters), the next token that is neither punctuation nor in
    ``ends`` starts a sentence. The same bounds as that pipe gives a fresh doc, without a ``Token``
    per look (which is most of its cost on short texts)."""
    starts = [0]
    seen_end = False
    for k, word in enumerate(text):
        if word in ends:
            seen_end = True
        elif seen_end and not punct[k]:
            starts.append(k)
            seen_end = False
    return starts


@cache
def _columns(tagged: bool, sentence_starts: bool) -> list[int]:
    """The attribute ids ``words_of`` reads (imported once: an import per call is a cost here)."""
    from spacy.attrs import IDX, IS_ALPHA, IS_PUNCT, IS_SPACE, IS_STOP, LENGTH, POS, SENT_START, TAG

    return [IDX, LENGTH, IS_PUNCT, IS_STOP, IS_SPACE, IS_ALPHA] + ([SENT_START] if sentence_starts else []) \
        + ([POS, TAG] if tagged else [])


_PROPER: list = []


def _proper() -> tuple[int, frozenset[int]]:
    """The proper-noun POS id and tag ids (looked up once)."""
    if not _PROPER:
        from spacy.strings import get_string_id
        from spacy.symbols import PROPN

        _PROPER.append((int(PROPN), frozenset({get_string_id("NNP"), get_string_id("NNPS")})))
    return _PROPER[0]

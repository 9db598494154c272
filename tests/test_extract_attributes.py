"""The attribute ruler as a table lookup (quco.extract.attributes) gives the ruler's attributes,
token for token; a ruler it cannot evaluate exactly is kept."""

from __future__ import annotations

import json

import pytest
from conftest import CORPUS_FILES

# Every kind of pattern the pinned model's ruler has: tag-only, lower + tag, dependency-bound
# (aux, expl + "is", mark, det vs pronoun), two-token lemmas ("gon na", "got ta", "let 's"),
# regular expressions ("nothin'", "y' all"), whitespace tokens, and plain prose.
TRICKY = [
    "Y'all gonna got ta let's c'mon, doin' nothin' ain't right 'nuff.  \n\n There is a cat; there were two.",
    "I gave it to you and you gave it to me, but it was fine. Did he have it? He did have it!",
    "That is the book that she wrote, if that is what you mean; those who can, do.",
    "  \n Hello\n\n   world  again \t\n",
    "The first president of the association which published the Journal of Psychotherapy Integration was G. Stanley Hall.",
    "Somebody said something to everyone, and nobody answered anything; whether they would is unclear.",
    "",
]


def _attrs(doc):
    from spacy.attrs import DEP, ENT_IOB, ENT_TYPE, HEAD, LEMMA, MORPH, POS, TAG

    return doc.to_array([POS, TAG, DEP, LEMMA, MORPH, HEAD, ENT_IOB, ENT_TYPE]).tolist()


def _same_as_the_ruler(nlp, texts):
    from quco.extract.attributes import fast_attributes

    fast = fast_attributes(nlp)
    assert fast is not None
    with_ruler = list(nlp.pipe(texts))
    with_table = [fast(d) for d in nlp.pipe(texts, disable=["attribute_ruler"])]
    for text, a, b in zip(texts, with_ruler, with_table):
        assert _attrs(a) == _attrs(b), text[:80]
        assert [t.pos_ for t in a] == [t.pos_ for t in b]
        assert [c.text for c in a.noun_chunks] == [c.text for c in b.noun_chunks]
        assert [s.text for s in a.sents] == [s.text for s in b.sents]


def test_the_table_gives_the_rulers_attributes(model_extractor):
    _same_as_the_ruler(model_extractor.nlp, TRICKY)


def test_the_table_gives_the_rulers_attributes_on_corpus_text(model_extractor):
    if not CORPUS_FILES:
        pytest.skip("../shared/data/corpus is absent (it ships beside the repo in CI)")
    texts = []
    for path in CORPUS_FILES[:3]:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                texts.extend(p for p in json.loads(line)["text"].split("\n") if p.strip())
                if len(texts) >= 150:
                    break
    _same_as_the_ruler(model_extractor.nlp, texts[:150])


def test_a_draft_reads_the_same_with_and_without_the_table(model_extractor, monkeypatch):
    from quco.extract import Extractor

    texts = TRICKY[:3] + ["Ada Lovelace worked on the Analytical Engine. She was born in London in 1815."]
    fast = (model_extractor.sentences_many(texts), model_extractor.claims_many(texts))
    monkeypatch.setattr("quco.extract.attributes.fast_attributes", lambda nlp: None)  # the ruler runs
    plain = Extractor(nlp=model_extractor.nlp)
    assert (plain.sentences_many(texts), plain.claims_many(texts)) == fast


def test_a_ruler_it_cannot_evaluate_is_kept():
    import spacy

    from quco.extract.attributes import fast_attributes

    nlp = spacy.blank("en")
    assert fast_attributes(nlp) is None  # no ruler at all
    ruler = nlp.add_pipe("attribute_ruler")
    ruler.add([[{"ORTH": "x"}]], {"LEMMA": "ex"})  # a key the table does not read
    assert fast_attributes(nlp) is None
    other = spacy.blank("en")
    other.add_pipe("attribute_ruler").add([[{"LOWER": "x"}]], {"NORM": "ex"})  # an attribute it does not set
    assert fast_attributes(other) is None


def test_later_patterns_win_and_two_token_patterns_set_their_token():
    import spacy

    from quco.extract.attributes import fast_attributes

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("attribute_ruler")
    ruler.add([[{"LOWER": "x"}]], {"LEMMA": "first"})
    ruler.add([[{"LOWER": {"IN": ["x", "y"]}}]], {"LEMMA": "second"})
    ruler.add([[{"LOWER": "a"}, {"LOWER": {"REGEX": "^b+$"}}]], {"LEMMA": "bee"}, index=1)
    text = "X y a bbb a c x"
    expected = [t.lemma_ for t in nlp(text)]
    assert expected == ["second", "second", "", "bee", "", "", "second"]
    fast = fast_attributes(nlp)
    assert fast is not None
    assert [t.lemma_ for t in fast(nlp.make_doc(text))] == expected

"""Extraction with the pinned spaCy model and with the rule-based fallback."""

import pytest

QUESTIONS = {
    "Which magazine was started first Arthur's Magazine or First for Women?": {"Arthur's Magazine", "First for Women"},
    "What is George Rankin's occupation?": {"George Rankin"},
    "In what year was the Bank of England founded?": {"Bank of England"},
    'Who directed the film "The Night of the Hunter"?': {"Night of the Hunter"},
    "Which tennis player won more Grand Slam titles, Henri Leconte or Jonathan Stark?": {"Henri Leconte", "Jonathan Stark"},
}


@pytest.mark.parametrize("which", ["model_extractor", "rules_extractor"])
def test_question_entities(which, request):
    ex = request.getfixturevalue(which)
    results = ex.entities_many(list(QUESTIONS))
    for (q, expected), ents in zip(QUESTIONS.items(), results):
        texts = {e.text for e in ents}
        assert expected <= texts, (q, texts)
        for e in ents:
            assert q[e.start : e.end] == e.text  # offsets point into the input


def test_model_triplets(model_extractor):
    sents = model_extractor.sentences(
        "Hamlet is a tragedy written by William Shakespeare. Teutberga was a queen of Lotharingia. "
        "She was the daughter of Boso the Elder."
    )
    assert len(sents) == 3
    assert ("Hamlet", "written by", "William Shakespeare") in {(t.head, t.relation, t.tail) for t in sents[0].triplets}
    assert any(t.head == "Teutberga" and t.tail == "Lotharingia" for t in sents[1].triplets)
    # The pronoun subject resolves to the entity the text is about.
    assert any(t.head == "Teutberga" and t.tail == "Boso the Elder" for t in sents[2].triplets)
    assert sents[2].start == sents[2].start and sents[2].text.startswith("She")


def test_relation_stops_at_the_name_its_entity_hangs_from(model_extractor):
    """The relation (the retrieval query's second half) is the words tying the entity to its verb:
    "in" ties Vienna to Dickens, so the words beyond Dickens ("by") are his, not Vienna's."""
    (s,) = model_extractor.sentences("Hamlet was first staged by Charles Dickens in Vienna.")
    relations = {t.tail: t.relation for t in s.triplets}
    assert relations == {"Charles Dickens": "staged by", "Vienna": "staged in"}


def test_rules_pairs_without_parse(rules_extractor):
    (s,) = rules_extractor.sentences("Henri Leconte beat Jonathan Stark in Paris.")
    pairs = {(t.head, t.tail) for t in s.triplets}
    assert ("Henri Leconte", "Jonathan Stark") in pairs and all(t.kind == "pair" for t in s.triplets)


def test_empty_and_odd_inputs(model_extractor):
    assert model_extractor.entities_many(["", "???", "the of and"]) == [(), (), ()]
    assert model_extractor.sentences("") == ()


def test_repeated_texts_are_parsed_once(model_extractor, monkeypatch):
    """A batch that repeats a text (one question, several candidate answers) parses it once and
    gives every repeat the same result, in input order."""
    nlp = model_extractor.nlp
    seen = []
    real_pipe = nlp.pipe

    def counting_pipe(texts, **kwargs):
        texts = list(texts)
        seen.extend(texts)
        return real_pipe(texts, **kwargs)

    monkeypatch.setattr(nlp, "pipe", counting_pipe)
    q1 = "Which magazine was started first Arthur's Magazine or First for Women?"
    q2 = "What is George Rankin's occupation?"
    batch = [q1, q2, q1, q1, q2]
    for method in ("entities_many", "claims_many", "sentences_many"):
        seen.clear()
        out = getattr(model_extractor, method)(batch)
        assert sorted(seen) == sorted([q1, q2]), method
        assert out[0] == out[2] == out[3] and out[1] == out[4] and out[0] != out[1], method
        assert out == [getattr(model_extractor, method)([t])[0] for t in batch], method
    with pytest.raises(Exception, match="expected text"):
        model_extractor.entities_many([q1, ["not text"]])


def test_a_bare_number_is_a_claim_in_words_and_digits(model_extractor):
    from quco.decide.evidence import word_forms

    assert model_extractor.claims_many(["four", "third", "Nine."]) == [("four",), ("third",), ("Nine",)]
    assert word_forms("four") == ("four", "4") and word_forms("third") == ("third", "3rd")


WORD_TEXTS = [
    "Hamlet is a tragedy written by William Shakespeare. It was first staged in 1609!  She said: \"Go.\"\n\nNew line",
    "  Harvey Peltier, Sr. was born in Thibodaux, Louisiana. Why? Because (he said) it's true...",
    "",
    "???",
    "Émile Zola's J'accuse…! appeared in L'Aurore on 13 January 1898.",
]


@pytest.mark.parametrize("which", ["model_extractor", "rules_extractor"])
def test_words_read_from_arrays_are_the_tokens(which, request):
    """``words_of`` reads the doc's arrays instead of its tokens: the same words, flags and
    sentences as spaCy's own ``Token`` and ``doc.sents``."""
    from quco.extract.spans import words_of

    nlp = request.getfixturevalue(which).nlp
    for text in WORD_TEXTS:
        doc = nlp(text)
        w = words_of(doc, text)
        assert w.text == [t.text for t in doc] and w.lower == [t.lower_ for t in doc]
        assert w.idx == [t.idx for t in doc]
        for flags, attr in ((w.stop, "is_stop"), (w.punct, "is_punct"), (w.space, "is_space"), (w.alpha, "is_alpha")):
            assert [bool(f) for f in flags] == [getattr(t, attr) for t in doc], attr
        assert [bool(f) for f in w.propn] == [t.pos_ == "PROPN" or t.tag_ in ("NNP", "NNPS") for t in doc]
        assert w.sentences == [(s.start, s.end) for s in doc.sents]
        for a, b in w.sentences:
            assert w.char_bounds(a, b) == (doc[a:b].start_char, doc[a:b].end_char)


def test_the_rule_pipeline_splits_sentences_as_its_sentencizer(rules_extractor):
    """The rule pipeline's sentencizer is applied as its rule to the words already read
    (``spans.rule_sentences``): the same sentences as the pipe gives, on texts with every kind of
    ending (several marks, quotes and brackets after them, none at all, whitespace, an empty text)."""
    import json

    from conftest import CORPUS_FILES

    from quco.extract.spans import rule_sentences, words_of

    nlp = rules_extractor.nlp
    ends = frozenset(nlp.get_pipe("sentencizer").punct_chars)
    texts = WORD_TEXTS + ["", "   ", "No end", "Wait... what?! Yes.) Then \"quoted.\" Next!", "a.b. c . . d", "Ends.\n\nNew one"]
    for path in CORPUS_FILES[:1]:
        with open(path, encoding="utf-8") as fh:
            texts += [json.loads(line)["text"][:2000] for _, line in zip(range(200), fh)]
    for text in texts:
        doc = nlp(text)  # the sentencizer as a pipe
        w = words_of(nlp.make_doc(text), text, tagged=False, sentence_ends=ends)  # no pipe run
        assert w.sentences == words_of(doc, text, tagged=False).sentences
        if len(doc):
            assert rule_sentences(w.text, w.punct, ends) == [s.start for s in doc.sents]
    for text, sents in zip(texts, rules_extractor.sentences_many(texts)):
        doc = nlp(text)
        expected = [(s.start_char, s.end_char) for s in doc.sents if s.text.strip()] if len(doc) else []
        assert [(s.start, s.end) for s in sents] == expected

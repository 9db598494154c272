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


def test_rules_pairs_without_parse(rules_extractor):
    (s,) = rules_extractor.sentences("Henri Leconte beat Jonathan Stark in Paris.")
    pairs = {(t.head, t.tail) for t in s.triplets}
    assert ("Henri Leconte", "Jonathan Stark") in pairs and all(t.kind == "pair" for t in s.triplets)


def test_empty_and_odd_inputs(model_extractor):
    assert model_extractor.entities_many(["", "???", "the of and"]) == [(), (), ()]
    assert model_extractor.sentences("") == ()

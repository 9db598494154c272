"""Choice questions ("…, A or B?"): the answer's pick is checked against the rest of the question."""

import pytest
from conftest import write_jsonl

from quco.decide.answer import AnswerScorer
from quco.decide.question_form import choice_of, picked
from quco.errors import BackendError, RiskAbort
from quco.index.duckdb.build import build_index
from quco.index.duckdb.reader import DuckDBIndex
from quco.normalize import Normalizer

canon = Normalizer().canonical
DOCUMENTARY = "Which documentary is about Finnish rock groups, Adam Clayton Powell or The Saimaa Gesture?"


def _choice(extractor, question):
    (ents,), (claims,) = extractor.entities_many([question]), extractor.claims_many([question])
    return choice_of(question, ents, claims, canon)


def test_options_and_properties_of_real_questions(model_extractor):
    ch = _choice(model_extractor, DOCUMENTARY)
    assert ch.options == ("Adam Clayton Powell", "Saimaa Gesture")
    # "documentary" names both options, so it cannot tell them apart; "Finnish" is inside a longer phrase
    assert ch.properties == ("Finnish rock groups",)
    # options the parser does not find as entities come from the text between the commas and "or"
    dog = _choice(model_extractor, "Which is the progenitor of the dingo, the Indian pariah dog or the "
                                    "Anglo-Français de Petite Vénerie?")
    assert dog.options == ("Indian pariah dog", "Anglo-Français de Petite Vénerie")
    assert set(dog.properties) == {"progenitor", "dingo"}
    # order, quantity and sameness are not what co-occurrence can rank: no check
    for q in ("Who was born first, Francis Nethersole or Elizabeth Stuart?",
              "Which band has more members, Saint Motel or Curve?",
              "Is George Duran or Richard Dekmejian older?",
              "Were Scott Derrickson and Ed Wood of the same nationality?",
              "Who wrote Hamlet?"):
        assert _choice(model_extractor, q) is None, q


def test_what_an_answer_picks(model_extractor):
    ch = _choice(model_extractor, "Which of the following is best known for publicly championing a terminal patient's "
                                  "right to die via physician-assisted suicide: Christy Canyon or Jack Kevorkian?")
    assert ch.options == ("Christy Canyon", "Jack Kevorkian")
    assert picked(ch, 'Jacob "Jack" Kevorkian', canon) == ("Jack Kevorkian", "Christy Canyon")
    assert picked(ch, "Christy Canyon became an advocate for it.", canon) == ("Christy Canyon", "Jack Kevorkian")
    assert picked(ch, "Christy Canyon, not Jack Kevorkian.", canon) is None  # both named
    assert picked(ch, "Jack Kevorkian did not.", canon) is None  # a negated pick asserts nothing clear
    assert picked(ch, "Nobody did.", canon) is None


@pytest.fixture(scope="module")
def scorer(tmp_path_factory, model_extractor):
    d = tmp_path_factory.mktemp("choice")
    filler = " ".join(f"filler{k}" for k in range(40))
    docs = [f"The Saimaa Gesture is a film about Finnish rock groups touring lake Saimaa. {filler}"] * 3
    docs += [f"Adam Clayton Powell is a film about a civil rights leader. {filler}"] * 3
    docs += [f"Finnish rock groups toured the north in {k}. {filler}" for k in range(8)]
    docs += [f"Unrelated record {k} of the archive. {filler}" for k in range(300)]
    build_index([write_jsonl(d / "c.jsonl", docs)], d / "i.duckdb", progress=False)
    return AnswerScorer(DuckDBIndex(d / "i.duckdb"), model_extractor, window=50)


def test_a_pick_is_checked_against_the_rest_of_the_question(scorer):
    right, wrong, both = scorer.score_many([(DOCUMENTARY, "The Saimaa Gesture"),
                                            (DOCUMENTARY, "Adam Clayton Powell"),
                                            (DOCUMENTARY, "Adam Clayton Powell or The Saimaa Gesture")])
    # Without the choice check both picks only restate question entities: ½ each, uncheckable.
    assert right.checkable and wrong.checkable and right.claims == () == wrong.claims
    assert right.risk < 0.5 < wrong.risk
    assert right.choice.chosen == "Saimaa Gesture" and right.choice.other == "Adam Clayton Powell"
    assert right.choice.support > 0 and wrong.choice.support == -right.choice.support
    assert "'Saimaa Gesture' is closer to 'Finnish rock groups' than 'Adam Clayton Powell'" in right.choice.reason
    assert {(p.option, p.cooccur) for p in right.choice.pairs} == {("Saimaa Gesture", 3), ("Adam Clayton Powell", 0)}
    assert both.choice is None and not both.checkable and both.risk == 0.5
    assert right.to_dict()["choice"]["chosen"] == "Saimaa Gesture"


class _FailingPairs:
    """The scorer's backend, except that co-occurrences with ``bad`` fail (a backend error)."""

    def __init__(self, backend, bad):
        self.backend, self.bad = backend, bad

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def cooccur_many(self, pairs, window):
        if any(self.bad in p for p in pairs):
            raise BackendError("shard timed out")
        return self.backend.cooccur_many(pairs, window)


def test_an_unknown_count_makes_the_choice_risky_never_neutral(scorer, model_extractor):
    failing = _FailingPairs(scorer.backend, "Adam Clayton Powell")
    r = AnswerScorer(failing, model_extractor, window=50).score(DOCUMENTARY, "The Saimaa Gesture")
    assert r.unknown and r.choice.unknown and r.risk == 1.0 and "unknown" in r.choice.reason
    ignored = AnswerScorer(failing, model_extractor, window=50, unknown_policy="ignore").score(DOCUMENTARY, "The Saimaa Gesture")
    assert ignored.unknown and ignored.risk == 0.5
    with pytest.raises(RiskAbort):
        AnswerScorer(failing, model_extractor, window=50, unknown_policy="error").score(DOCUMENTARY, "The Saimaa Gesture")

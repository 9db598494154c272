"""One-filler relations read from the subject's statements: an answer naming another birthplace, never
seen near the subject, is contradicted."""

import pytest
from conftest import FILLER, duckdb_of

DOCS = [
    {"id": "a", "text": "Parlo Venn (born 3 May 1931 in Ostrell, Brindland) was a painter. He died in Quarm."},
    {"id": "b", "text": "Ostrell is a city in Brindland. Tessaly is a town in Orrin. Quarm is a port."},
    {"id": "c", "text": "Dalia Roskin (born 1957) is a sculptor who worked in Tessaly for many years."},
    {"id": "d", "text": "Hobart Quill (born in Maroussi) is a poet. Marousi is a suburb of Athens."},
    {"id": "e", "text": "Hal Pedersen (born in Quarm) was a sailor."},
    *FILLER,
]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return duckdb_of(tmp_path_factory, DOCS, "slots")


@pytest.mark.parametrize("question, relation", [
    ("In what city was Parlo Venn born?", "birthplace"),
    ("Where was Parlo Venn born?", "birthplace"),
    ("Parlo Venn was born in which town?", "birthplace"),
    ("What is Parlo Venn's place of birth?", "birthplace"),
    ("Where did Parlo Venn die?", "death place"),
    ("In what year was Parlo Venn born?", None),  # a year, not a place
    ("What is Parlo Venn's occupation?", None),
    # a chain through the birthplace asks something else
    ("What is the population of the city that has a courthouse in Parlo Venn's birthplace?", None),
])
def test_the_relation_a_question_asks(question, relation):
    from quco.decide.slots import slot_of

    assert slot_of(question, ["Parlo Venn"]) == relation


def test_a_birthplace_the_subject_never_comes_near_is_contradicted(index, rules_extractor):
    from quco.decide.answer import AnswerScorer

    scorer = AnswerScorer(index, rules_extractor)
    q = "In what city was Parlo Venn born?"
    wrong, right, died, spelled, unstated = scorer.score_many([
        (q, "Tessaly"), (q, "Ostrell"), ("Where did Parlo Venn die?", "Tessaly"),
        ("Where was Hobart Quill born?", "Marousi"),  # another spelling of the stated place
        ("Where was Dalia Roskin born?", "Quarm")])  # her statements give no birthplace ("worked in Tessaly")
    assert wrong.slot is not None and wrong.verdict == "contradicted" and wrong.risk == pytest.approx(0.9)
    assert wrong.slot.stated == ("Ostrell, Brindland",)
    assert any("the corpus says 'Parlo Venn' was born in 'Ostrell, Brindland'" in x and "never names 'Tessaly'" in x
               for x in wrong.readings)
    assert right.slot is None and right.verdict is None  # seen near the subject: association decides
    assert died.slot is not None and died.slot.relation == "death place" and died.slot.stated == ("Quarm",)
    assert spelled.slot is None and unstated.slot is None


def test_a_draft_stating_another_birthplace_is_contradicted(index, model_extractor):
    from quco.decide.detector import Detector

    q = "In what city was Parlo Venn born?"
    wrong, right = Detector(index, model_extractor).check_many([(q, "Parlo Venn was born in Tessaly."),
                                                                (q, "Parlo Venn was born in Ostrell.")])
    (pair,) = [p for p in wrong.pairs if p.tail == "Tessaly"]
    assert pair.verdict == "contradicted" and pair.risk == pytest.approx(0.9) and wrong.flagged is not None
    assert any("the corpus says 'Parlo Venn' was born in 'Ostrell, Brindland'" in r for r in wrong.reasons)
    assert all(p.verdict is None for p in right.pairs)
    # A name the corpus never writes in full is anchored by a shorter form ("Pedersen"), whose
    # statements are a namesake's: they contradict nothing.
    (namesake,) = Detector(index, model_extractor).check_many([("In what city was Erik Pedersen born?",
                                                                "Erik Pedersen was born in Tessaly.")])
    assert any(p.head == "Pedersen" for p in namesake.pairs) and all(p.verdict is None for p in namesake.pairs)


def test_quco_check_says_a_claim_is_contradicted(index, model_extractor):
    from quco.cli.render import render_report
    from quco.decide.detector import Detector

    (r,) = Detector(index, model_extractor).check_many([("In what city was Parlo Venn born?",
                                                         "Parlo Venn was born in Tessaly.")])
    shown = render_report(r, "Parlo Venn was born in Tessaly.")
    assert "RETRIEVE (stage 2: contradicted claim in the draft)" in shown
    assert "<- flagged (contradicted)" in shown and "was born in 'Ostrell, Brindland'" in shown


def test_an_answer_is_anchored_by_a_shorter_name_where_the_corpus_holds_only_that(tmp_path_factory, model_extractor):
    """As drafts are: "Rankin" stands in for "Tobias Rankin" when the question names nothing the corpus
    holds as written; beside a name the corpus holds, no stand-in is used."""
    from quco.decide.answer import AnswerScorer

    ix = duckdb_of(tmp_path_factory, [{"id": "a", "text": "Rankin was a politician and lawyer in Quebec."},
                                      {"id": "b", "text": "An astronaut flew to the Moon."},
                                      {"id": "c", "text": "Quebec is a province of Canada."}, *FILLER],
                   "stand-ins")
    q = "What is Tobias Rankin's occupation?"
    right, wrong, beside = AnswerScorer(ix, model_extractor).score_many([
        (q, "politician"), (q, "astronaut"), ("What was the occupation of Tobias Rankin in Quebec?", "politician")])
    assert right.anchors == ("Rankin",) and right.risk < 0.5 < wrong.risk
    assert beside.anchors == ("Quebec",)

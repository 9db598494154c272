"""Questions ranking two options by a count ("Which genus has more species, A or B?"): the count
each option's sentences state, compared as asked."""

import pytest
from conftest import FILLER, duckdb_of

DOCS = [
    {"id": "a", "text": "Quarmia is a genus of six to 17 species of flowering plants."},
    {"id": "b", "text": "Tessalia, the rock poppy, is a genus of one or two species of shrubs."},
    {"id": "c", "text": "Orvik Hall is an opera in three acts by Parlo Venn."},
    {"id": "d", "text": "Selby Rest is an opera in two acts. It was first staged in 1901."},
    {"id": "e", "text": "Lannermouth has 2,334,000 inhabitants."},
    {"id": "f", "text": "Darrowby had a population of 7,674,439 in 2010."},
    {"id": "g", "text": "Brelle is a genus of ferns."},
    *FILLER,
]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return duckdb_of(tmp_path_factory, DOCS, "amounts")


@pytest.mark.parametrize("question, options, more, noun", [
    ("Which genus has more species, Quarmia or Tessalia?", ("Quarmia", "Tessalia"), True, "species"),
    ("Which genus of plants contains a larger variety of species, Quarmia or Tessalia?", ("Quarmia", "Tessalia"),
     True, "species"),
    ("Who won more Grand Slam singles titles, Parlo Venn or Dalia Roskin?", ("Parlo Venn", "Dalia Roskin"), True,
     "titles"),
    ("Which has a greater population, Lannermouth or Darrowby?", ("Lannermouth", "Darrowby"), True, "population"),
    ("Which opera has fewer acts, Orvik Hall or Selby Rest?", ("Orvik Hall", "Selby Rest"), False, "acts"),
])
def test_count_questions(question, options, more, noun):
    from quco.decide.amounts import AmountRank, amount_rank_of

    assert amount_rank_of(question, []) == AmountRank(options, more, noun)


@pytest.mark.parametrize("question", [
    "Which is taller, Orvik Hall or Selby Rest?",  # a measure, not a count
    "Which university has a larger main campus, Orvik Hall or Selby Rest?",
    "Who was born first, Parlo Venn or Dalia Roskin?",
])
def test_not_count_questions(question):
    from quco.decide.amounts import amount_rank_of

    assert amount_rank_of(question, []) is None


def test_an_answer_ranking_two_options_by_a_count_is_read_against_their_counts(index, rules_extractor):
    from quco.decide.answer import AnswerScorer

    scorer = AnswerScorer(index, rules_extractor)
    species = "Which genus has more species, Quarmia or Tessalia?"
    acts = "Which opera has more acts, Orvik Hall or Selby Rest?"
    people = "Which has a greater population, Lannermouth or Darrowby?"
    right, wrong, turned, opera, city, unread = scorer.score_many([
        (species, "Quarmia"), (species, "Tessalia has more species."), (species, "Quarmia has fewer species."),
        (acts, "Selby Rest"), (people, "Darrowby"),
        ("Which genus has more species, Quarmia or Brelle?", "Brelle")])
    assert right.rank.verdict == "supported" and right.rank.amounts == (17, 2) and right.risk == pytest.approx(0.1)
    assert "six to 17 species" in right.rank.sentences[0]
    assert wrong.rank.verdict == "contradicted" and wrong.risk == pytest.approx(0.9) and wrong.checkable
    assert "the corpus contradicts 'Tessalia' having more species" in wrong.readings[0]
    assert turned.rank.chosen == "Tessalia" and turned.rank.verdict == "contradicted"  # "fewer" turns it round
    assert opera.rank.verdict == "contradicted" and opera.rank.amounts == (2, 3)
    assert city.rank.verdict == "supported" and city.rank.amounts == (7_674_439, 2_334_000)
    # A count no sentence states stays unknown (½), and the reading says whose is missing.
    assert unread.rank.verdict == "unknown" and not unread.checkable and unread.risk == 0.5
    assert unread.readings == ("the corpus states no count of species for 'Brelle': cannot tell which has more",)


@pytest.mark.parametrize("question, answer, restated, says", [
    ("Which mountain is higher, Quarmia or Tessalia?", "Quarmia", (), "by 'higher', which quco does not read"),
    ("Who is older, Parlo Venn or Dalia Roskin?", "Both", (), "by 'older', but its two options"),
    ("Which band has more members, the rock band Quarm, or the rock band Tessaly?", "Quarm", (),
     "by a count of members, but its two options"),
    ("Which is Brindish, Parlo Venn or Dalia Roskin?", "Parlo Venn and Dalia Roskin", (), "names both options"),
    ("Which is Brindish, Parlo Venn or Dalia Roskin?", "Quarm", (), "names neither option"),
    ("Which is Brindish, Parlo Venn or Dalia Roskin?", "Parlo Venn", (), "nothing besides its options"),
    ("Was Parlo Venn in more bands than Quarm?", "yes", (), "yes/no questions about two subjects"),
    ("In what dynasty did Tahir serve?", "Tahirid dynasty", ("Tahirid dynasty",),
     "every name or phrase found in the answer is the question's ('Tahirid dynasty')"),
    ("What is it?", "it", (), "no name, phrase or number of its own"),
])
def test_why_nothing_was_checked(question, answer, restated, says):
    from quco.decide.unchecked import nothing_checked
    from quco.normalize import Normalizer

    reason = nothing_checked(question, answer, restated, Normalizer().canonical)
    assert reason.startswith("nothing checked: ") and says in reason


def test_an_unchecked_answer_says_why_and_a_checked_one_does_not(index, rules_extractor):
    from quco.decide.answer import AnswerScorer

    unchecked, read = AnswerScorer(index, rules_extractor).score_many([
        ("Which opera is taller, Orvik Hall or Selby Rest?", "Orvik Hall"),
        ("Which opera has more acts, Orvik Hall or Selby Rest?", "Orvik Hall")])
    assert not unchecked.checkable and unchecked.risk == 0.5
    assert unchecked.readings == (unchecked.unchecked,) and "'taller'" in unchecked.unchecked
    assert unchecked.to_dict()["readings"] == [unchecked.unchecked]
    assert read.checkable and read.unchecked is None and read.rank.verdict == "supported"

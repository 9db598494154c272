"""Which questions describe a chain (quco.decide.hops): the wording alone decides, names masked."""

import pytest


@pytest.mark.parametrize("question, names", [
    ("What is Aki Hata's occupation?", ["Aki Hata"]),
    ("In what city was Ferenc Puskás born?", ["Ferenc Puskás"]),
    ("Who was the director of Jump for Glory?", ["Jump for Glory"]),  # the description is the answer asked for
    ("Who founded the Bank of America?", ["the Bank of America"]),  # a name's own "of" is no relation
    ("What genre is Man on Wire?", ["Man on Wire"]),
])
def test_a_question_asking_one_attribute_of_its_entity_is_no_chain(question, names):
    from quco.decide.hops import describes_chain, relations

    assert relations(question, names) <= 1 and not describes_chain(question, names)


@pytest.mark.parametrize("question, names", [
    ("Who is the spouse of the director of Jump for Glory?", ["Jump for Glory"]),
    ("What county shares a border with the county in which Johnnycake, West Virginia is located?",
     ["Johnnycake, West Virginia"]),
    ("What year did the company Novair International Airways is part of dissolve?", ["Novair International Airways"]),
    ("What position did the receiver of the 2007 FIFA U-20 Golden Shoe play?", ["the 2007 FIFA U-20 Golden Shoe"]),
    ("What is the most popular hotel in Gisvi's city of birth?", ["Gisvi"]),
    ("What is the occupation of Aki Hata's father?", ["Aki Hata"]),
    ("When did the country containing Nugegoda leave the British Empire?", ["Nugegoda", "the British Empire"]),
])
def test_a_question_walking_through_something_it_describes_is_a_chain(question, names):
    from quco.decide.hops import describes_chain

    assert describes_chain(question, names)


def test_names_are_masked_longest_first_and_an_unmasked_name_can_count():
    from quco.decide.hops import relations

    question = "Who was the first president of the Society of Arts?"
    assert relations(question, ["the Society of Arts", "Arts"]) == 1  # "president of" only
    assert relations(question, []) == 2  # without its name, "Society of" reads as a relation too


@pytest.mark.parametrize("value", [1, 0, "yes", "chains"])
def test_bridges_is_true_false_or_unset_and_nothing_else(value):
    from quco.decide.answer import AnswerScorer
    from quco.decide.trigger import Thresholds
    from quco.errors import InvalidValue, UsageError

    with pytest.raises(InvalidValue, match="bridges must be"):
        Thresholds(bridges=value)
    with pytest.raises(UsageError, match="bridges must be"):
        AnswerScorer(object(), object(), bridges=value)

"""Reading what the corpus states: statements about a phrase, questions ranking two options by
time ("who was born first, A or B?") and answers denying the question's premise."""

import pytest
from conftest import FILLER, duckdb_of

DOCS = [
    # Sentences joined without a space, as some corpora keep them; an abbreviation mid-sentence.
    {"id": "a", "text": "Parlo Venn (born 3 May 1931) was a Brindish painter.Quarm Tessaly is a 1975 film set on Mt. "
                        "Orrin in 1940."},
    {"id": "b", "text": "Dalia Roskin is a Brindish sculptor. She was born in 1957 in Ostrell."},
    {"id": "c", "text": "In 1999 the museum of Ostrell bought a statue by Dalia Roskin."},
    {"id": "d", "text": "Hobart Quill is a Brindish poet."},
    *FILLER,
]


def built(tmp_path_factory, docs, store_text: bool = True):
    """A DuckDB index of ``docs`` (with their text unless ``store_text`` is False)."""
    return duckdb_of(tmp_path_factory, docs, "reading", store_text)


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return built(tmp_path_factory, DOCS), built(tmp_path_factory, DOCS, store_text=False)


def test_statements_are_the_sentences_about_a_phrase(index):
    from quco.decide.reading import read_statements, sentence_after

    ix, bare = index
    got = read_statements(ix, ["Quarm Tessaly", "Dalia Roskin", "Nobody Here", "Quarm Tessaly"])
    (film,) = got["Quarm Tessaly"]
    assert film.sentence == "Quarm Tessaly is a 1975 film set on Mt. Orrin in 1940"  # glued start, "Mt." kept
    assert film.introduces
    intro, passing = got["Dalia Roskin"]  # one statement per document, in corpus order
    assert intro.introduces and intro.then == "She was born in 1957 in Ostrell"
    assert not passing.introduces and passing.sentence.startswith("In 1999 the museum")
    assert got["Nobody Here"] == []
    assert read_statements(bare, ["Dalia Roskin"]) == {"Dalia Roskin": None}  # no text: unread, not "none"
    assert sentence_after("A b. C d.", 0) == ("A b", 4)
    (orrin,) = read_statements(ix, ["Orrin"])["Orrin"]  # a sentence does not start after "Mt."
    assert orrin.sentence.startswith("Quarm Tessaly is") and not orrin.introduces


def test_a_sentence_calling_its_subject_by_this_name_introduces_it_with_its_dates():
    """"Maxwell Tarn Green (born December 15, 1984), better known as Max Green, is…" is about Max
    Green, and the year before the mention is his; a lifespan whose dash was lost still gives years."""
    from quco.decide.compare import year_of
    from quco.decide.reading import statements_about

    texts = ["Maxwell Tarn Green (born December 15, 1984), better known as Max Green, is a Brindish bassist.",
             "In 1999 a statue of the bassist Max Green was unveiled in Ostrell.",
             "Parlo Venn (30 November 187424 January 1965) was a Brindish painter."]
    intro, passing = statements_about("Max Green", texts[:2])
    assert intro.introduces and intro.text.startswith("Maxwell Tarn Green (born")
    assert not passing.introduces
    assert year_of([intro, passing])[0] == 1984  # the introducing sentence, not the passing one
    assert year_of(statements_about("Parlo Venn", texts[2:]))[0] == 1874
    assert year_of(statements_about("Parlo Venn", ["Parlo Venn (born 1874) left in the 1890s, 12,1990."]))[0] == 1874


@pytest.mark.parametrize("question, options, earlier", [
    ("Who was born first, Parlo Venn or Dalia Roskin?", ("Parlo Venn", "Dalia Roskin"), True),
    ("Which is older Parlo Venn or Dalia Roskin?", ("Parlo Venn", "Dalia Roskin"), True),
    ("Was Parlo Venn or Dalia Roskin born later?", ("Parlo Venn", "Dalia Roskin"), False),
    ("Which film came out second, Quarm Tessaly or First Light?", ("Quarm Tessaly", "First Light"), False),
    # opening on the pair, "between" or "of" the two
    ("Between two tennis players Parlo Venn and Dalia Roskin, who is older?", ("Parlo Venn", "Dalia Roskin"), True),
    ("Of Parlo Venn and Dalia Roskin, who was born later?", ("Parlo Venn", "Dalia Roskin"), False),
    # "more recently" is a time, not a quantity
    ("Which movie, Quarm Tessaly or Orrin Hall, was produced more recently?", ("Quarm Tessaly", "Orrin Hall"), False),
])
def test_time_rank_questions(question, options, earlier):
    from quco.decide.compare import time_rank_of

    rank = time_rank_of(question, [])
    assert rank is not None and (rank.options, rank.earlier) == (options, earlier)


@pytest.mark.parametrize("question", [
    "Which genus has more species, Scilla or Anemonopsis?",  # a quantity: not read
    "Were Parlo Venn and Dalia Roskin born in the same year?",
    "Who painted the first portrait of Parlo Venn?",  # no two options
    "Between 1990 and 2000, who was the oldest player?",  # a span of years, not two options
])
def test_not_time_rank_questions(question):
    from quco.decide.compare import time_rank_of

    assert time_rank_of(question, []) is None


def test_the_option_an_answer_asserts():
    from quco.decide.compare import asserted, time_rank_of
    from quco.normalize import Normalizer

    canon = Normalizer().canonical
    rank = time_rank_of("Who was born first, Parlo Venn or Dalia Roskin?", [])
    assert asserted(rank, "Parlo Venn", canon) == ("Parlo Venn", "Dalia Roskin")
    assert asserted(rank, "Roskin was born before Venn.", canon) == ("Dalia Roskin", "Parlo Venn")
    assert asserted(rank, "Parlo Venn was born later.", canon) == ("Dalia Roskin", "Parlo Venn")  # turned round
    assert asserted(rank, "Dalia Roskin was not born first.", canon) is None
    assert asserted(rank, "They were born the same year.", canon) is None
    assert asserted(rank, "Hobart Quill", canon) is None


def test_an_answer_ranking_two_options_is_read_against_their_years(index, rules_extractor):
    from quco.decide.answer import AnswerScorer

    ix, bare = index
    question = "Who was born first, Parlo Venn or Dalia Roskin?"
    right, wrong, unread = AnswerScorer(ix, rules_extractor).score_many(
        [(question, "Parlo Venn"), (question, "Dalia Roskin was born first."), (question, "Hobart Quill")])
    assert right.rank.verdict == "supported" and right.rank.years == (1931, 1957) and right.risk == pytest.approx(0.1)
    assert "Parlo Venn (born 3 May 1931)" in right.rank.sentences[0]
    assert wrong.rank.verdict == "contradicted" and wrong.risk >= 0.9 and wrong.checkable
    assert "1957" in wrong.rank.reason and "contradicts" in wrong.rank.reason
    assert unread.rank is None
    # The same read for a question that opens on its pair ("Between A and B, who is older?").
    first = "Between the two writers Parlo Venn and Dalia Roskin, who is older?"
    right, wrong = AnswerScorer(ix, rules_extractor).score_many([(first, "Parlo Venn"), (first, "Dalia Roskin")])
    assert right.rank.verdict == "supported" and wrong.rank.verdict == "contradicted" and right.risk < wrong.risk
    # Hobart Quill's statement gives no year: nothing to rank, the answer stays unchecked (½).
    (hobart,) = AnswerScorer(ix, rules_extractor).score_many([("Who was born first, Parlo Venn or Hobart Quill?",
                                                                "Parlo Venn")])
    assert hobart.rank.verdict == "unknown" and "no year for 'Hobart Quill'" in hobart.rank.reason
    assert not hobart.checkable and hobart.risk == 0.5
    # An index without text cannot be read: unknown, never a guess.
    (blind,) = AnswerScorer(bare, rules_extractor).score_many([(question, "Parlo Venn")])
    assert blind.rank.verdict == "unknown" and blind.risk == 0.5
    assert blind.rank.unread == ("Parlo Venn", "Dalia Roskin") and "cannot be read" in blind.rank.reason


@pytest.mark.parametrize("question, answer, word", [
    ("What year did Parlo Venn paint his famous mural?", "Parlo Venn never painted a mural.", "never"),
    ("Who directed the film?", "The film doesn't have a director.", "doesn't"),
    ("Which episode was made with the program?", "Make Love, Not Warcraft", None),  # a title
    ("Is Parlo Venn a painter?", "No", None),  # a yes/no question
    # A choice answered by what an option is not, or by rejecting both: no option named as asked.
    ("Which came first, Quarm Tessaly or Dalia Roskin?", "Not Quarm Tessaly", "Not"),
    ("Which director is Brindish, Parlo Venn or Hobart Quill?", "Hobart Quill is not Brindish.", "not"),
    ("Which of the games is Brindish, Quarm or Tessaly?", "Neither game is Brindish.", "Neither"),
    # ... but a contrast naming its pick first picks it, and "not only … but also" affirms.
    ("Which came first, Quarm Tessaly or Dalia Roskin?", "Quarm Tessaly, not Dalia Roskin", None),
    ("Which came first, Quarm Tessaly or Dalia Roskin?", "Quarm Tessaly but not Dalia Roskin", None),
    ("Who was an actor, Parlo Venn or Hobart Quill?", "Parlo Venn was not only an actor but also a painter.", None),
    ("Which painter did not study in Ostrell?", "Not Parlo Venn", None),  # the question negates
])
def test_denials(question, answer, word):
    from quco.decide.premise import denial

    assert denial(question, answer) == word


def test_a_denial_is_unsupported_and_says_so(index, rules_extractor):
    from quco.decide.answer import AnswerScorer

    ix, _ = index
    (r,) = AnswerScorer(ix, rules_extractor).score_many([("What year did Parlo Venn paint his mural?",
                                                          "Parlo Venn never painted a mural.")])
    assert r.denial == "never" and r.checkable and r.risk >= 0.8
    assert any("denies what the question presupposes" in x for x in r.readings)


YES_NO_DOCS = [
    {"id": "y1", "text": "Marta Olvenk (born 1950) is an English novelist and critic."},
    {"id": "y2", "text": "Jorge Peltrano is an Argentine novelist. He lives in Rosario."},
    {"id": "y3", "text": "Edda Saarvik is a Norwegian novelist."},
    {"id": "y4", "text": "Tomas Brelle was a Norwegian painter."},
    {"id": "y5", "text": "Orvik Airport is an airport in Lanner County, Montana, United States."},
    {"id": "y6", "text": "Selby Field is an airport in Darrow, Ohio, United States."},
    *({"id": f"g{i}", "text": f"Village number {i} has a church and a mill."} for i in range(50)),
]


@pytest.fixture(scope="module")
def yes_no_index(tmp_path_factory):
    return built(tmp_path_factory, YES_NO_DOCS)


@pytest.mark.parametrize("answer, says", [
    ("yes", True), ("No.", False), ("Absolutely, both are.", True),
    ("Marta Olvenk is English, while Jorge Peltrano is Argentine.", False),
    ("Only Marta Olvenk is.", False), ("Marta Olvenk and Jorge Peltrano are both novelists.", True),
    ("Marta Olvenk writes books.", None),
])
def test_the_polarity_of_an_answer(answer, says):
    from quco.decide.yes_no import Polar, polarity
    from quco.normalize import Normalizer

    polar = Polar(("Marta Olvenk", "Jorge Peltrano"), "novelist", False)
    assert polarity(answer, polar, Normalizer().canonical) is says


def test_yes_no_questions_are_read_from_each_subjects_introducing_sentence(yes_no_index, model_extractor):
    from quco.decide.answer import AnswerScorer

    scorer = AnswerScorer(yes_no_index, model_extractor)
    both = "Are Marta Olvenk and Jorge Peltrano both novelists?"
    same = "Are Edda Saarvik and Tomas Brelle of the same nationality?"
    differ = "Are Marta Olvenk and Jorge Peltrano of the same nationality?"
    yes, no, same_yes, same_no, differ_no, differ_yes = scorer.score_many(
        [(both, "yes"), (both, "no"), (same, "yes"), (same, "no"), (differ, "no"), (differ, "yes")])
    assert yes.polar.verdict == "supported" and yes.polar.truth is True and yes.risk == pytest.approx(0.1)
    assert no.polar.verdict == "contradicted" and no.risk == pytest.approx(0.9) and no.checkable
    assert "'Jorge Peltrano' is stated as 'novelists'" in no.polar.reason
    assert same_yes.polar.verdict == "supported" and same_no.polar.verdict == "contradicted"
    assert "norwegian" in same_yes.polar.why
    assert differ_no.polar.verdict == "supported" and differ_yes.polar.verdict == "contradicted"
    # Two states share their country: the sentence's last place is not compared for "the same state".
    (airports,) = scorer.score_many([("Are Orvik Airport and Selby Field in the same state?", "yes")])
    assert airports.polar.truth is False and airports.polar.verdict == "contradicted"
    assert "united states" not in airports.polar.why
    # What no introducing sentence states stays unknown (½): painters are not asked about here.
    (unread,) = scorer.score_many([("Are Edda Saarvik and Tomas Brelle both poets?", "yes")])
    assert unread.polar.verdict == "unknown" and not unread.checkable and unread.risk == 0.5
    assert "does not say" in unread.polar.reason


def test_a_hedge_is_unsupported_like_a_denial():
    from quco.decide.premise import denial

    assert denial("What is the population of Rosario?", "The population cannot be determined.") == "cannot"
    assert denial("What is the population of Rosario?", "It is unknown.") == "unknown"


@pytest.mark.parametrize("question, answer, restated, statement, said", [
    # A statement whose names are all the question's: it names no player.
    ("What retired player coaches the team owned by Parlo Venn?", "Parlo Venn owns the team.",
     ("Parlo Venn", "team"), True, ("owns",)),
    ("Which museum is in Ostrell?", "The museum is located in Ostrell.", ("museum", "Ostrell"), True, ("located",)),
    # A phrase of the question's words may be the answer ("Tahirid dynasty" for "in what dynasty?").
    ("Parlo Venn served in what dynasty?", "Venn dynasty", ("Venn dynasty",), False, None),
    # A statement naming something of its own (a number, a name) is an answer the claims missed.
    ("How long is the river that begins in Ostrell?", "The river is 200 mi long.", ("river",), True, None),
    ("Who painted the mural in Ostrell?", "Berman painted the mural.", ("mural",), True, None),
    # Not a wh-question, or a choice: answered otherwise.
    ("Is Parlo Venn a painter?", "Parlo Venn is a painter.", ("Parlo Venn", "painter"), True, None),
    ("Who is older, Parlo Venn or Dalia Roskin?", "Parlo Venn is older.", ("Parlo Venn",), True, None),
    ("Between Parlo Venn and Dalia Roskin, who was born in Ostrell?", "Dalia Roskin was born in Ostrell.",
     ("Dalia Roskin", "Ostrell"), True, None),
])
def test_restatements(question, answer, restated, statement, said):
    from quco.decide.premise import restatement

    assert restatement(question, answer, restated, statement) == said


def test_a_restatement_is_unsupported_and_a_phrase_of_the_questions_words_is_not(index, model_extractor):
    from quco.decide.answer import AnswerScorer

    ix, _ = index
    question = "What Brindish painter made the statue that the museum of Ostrell bought?"
    evasive, phrase = AnswerScorer(ix, model_extractor).score_many(
        [(question, "The museum of Ostrell bought the statue."), (question, "Brindish painter")])
    assert evasive.evasion == ("bought",) and evasive.verdict == "unsupported" and evasive.risk >= 0.8
    assert any("restates the question" in x and "names nothing it asks for" in x for x in evasive.readings)
    assert phrase.evasion is None and not phrase.checkable and phrase.risk == 0.5


def test_statements_are_told_from_phrases_by_a_finite_verb(model_extractor):
    assert model_extractor.statements_many(["Parlo Venn owns the team.", "Tahirid dynasty",
                                            "directed by Damien Chazelle", "The river was made longer."]) \
        == [True, False, False, True]


def test_a_claim_extending_a_question_name_with_a_name_of_its_own_is_new():
    from quco.decide.evidence import new_claims
    from quco.normalize import Normalizer

    canon = Normalizer().canonical
    new, same = new_claims(["East Sussex United", "Sir Parlo Venn", "Parlo Venn's occupation",
                            "Senator George Norris"], ["East Sussex", "Parlo Venn", "Senator"], canon)
    assert new == ["East Sussex United", "Senator George Norris"]
    assert same == ["Sir Parlo Venn", "Parlo Venn's occupation"]


def test_a_view_without_documents_reads_none_of_their_text(index):
    ix, _ = index
    view = ix.without_documents(["b"])
    assert len(ix.passages_many(["Dalia Roskin"], 3)[0]) == 2
    (only,) = view.passages_many(["Dalia Roskin"], 3)[0]  # document "b" is left out
    assert only == "a statue by Dalia Roskin"
    assert view.titles_many(["Dalia Roskin"]) == [()]  # these documents have no titles


def test_an_answer_report_as_data_says_what_reading_decided(index, rules_extractor):
    import json

    from quco.decide.answer import AnswerScorer

    ix, _ = index
    (r,) = AnswerScorer(ix, rules_extractor).score_many([("Who was born first, Parlo Venn or Dalia Roskin?",
                                                          "Dalia Roskin")])
    data = json.loads(json.dumps(r.to_dict()))
    assert data["verdict"] == "contradicted" and data["checkable"] is True
    assert data["rank"]["years"] == [1957, 1931] and "contradicts" in data["readings"][0]


def test_a_scored_row_has_every_reading_column_in_the_schemas_order(index, rules_extractor):
    from quco.batch.rows import REPORT_COLUMNS, flatten
    from quco.decide.answer import AnswerScorer
    from quco.decide.detector import Detector

    ix, _ = index
    question = "Who was born first, Parlo Venn or Dalia Roskin?"
    report = Detector(ix, rules_extractor).check_many([question])[0]
    (answer,) = AnswerScorer(ix, rules_extractor).score_many([(question, "Dalia Roskin")])
    row = flatten(1, {"question": question, "answer": "Dalia Roskin"},
                  {"question": "question", "answer": "answer", "id": None}, report, answer)
    assert list(row) == list(REPORT_COLUMNS)
    assert row["answer_verdict"] == "contradicted" and "coming earlier" in row["answer_reading"]


def test_a_yes_no_reading_says_when_the_text_cannot_be_read(tmp_path_factory, model_extractor):
    from quco.decide.answer import AnswerScorer

    bare = built(tmp_path_factory, YES_NO_DOCS, store_text=False)
    (r,) = AnswerScorer(bare, model_extractor).score_many([("Are Marta Olvenk and Jorge Peltrano both novelists?",
                                                            "yes")])
    assert r.polar.verdict == "unknown" and r.risk == 0.5
    assert "'Marta Olvenk' cannot be read" in r.polar.reason

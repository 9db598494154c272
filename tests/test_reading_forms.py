"""Reading the forms a corpus and a question take: years beside commas and decades, a sentence that
goes on about its subject without naming it, a name inside a longer name, a name written in full
("Marko Anton Velt" for "Marko Velt"), and yes/no questions that name their pair first."""

import pytest
from conftest import FILLER, duckdb_of, write_jsonl

DOCS = [
    {"id": "a", "text": "Squall Run is a board game that was launched at the Orrin Show in 1962, invented by Tam Bly."},
    {"id": "b", "text": "Pellow Deck is a board game published, as of 1985, by Ostrell Games."},
    {"id": "c", "text": "Vardo College is a private college in Ostrell. Founded in 1794, it is the oldest in the state."},
    {"id": "d", "text": "Marko Anton Velt (born 2 March 1940) is a Brindish painter."},
    {"id": "e", "text": "His son Edric Marko Velt Hallam (born in 1870) was an officer."},
    {"id": "f", "text": "Ilsa Mure (born 1951) is a Brindish painter."},
    {"id": "f2", "text": "Albert Quen Dallow Jr. (born 1916) was a Brindish playwright."},
    {"id": "f3", "text": "This vantage is debated. The Woman's Vantage was a magazine founded in 1923."},
    {"id": "g", "text": "Rook Tally is a band formed in Ostrell in the mid-1970s by Tam Bly."},
    {"id": "h", "text": "Kesta Lund is a Norwegian novelist."},
    {"id": "i", "text": "Bram Oddny is a Norwegian novelist."},
    {"id": "j", "text": "Orla Quist is an English poet."},
    {"id": "k", "text": "Tavin Roe is an African American novelist."},
    {"id": "l", "text": "Dace Wilmer is an American poet."},
    {"id": "m", "text": "Nantong is a city in Jiangsu province, China. Located on the bank of the Yangtze River, it is "
                        "a port."},
    {"id": "n", "text": "Jingdezhen is a city in Jiangxi province, China, bordering Anhui to the north."},
    *FILLER,
]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return duckdb_of(tmp_path_factory, DOCS, "forms")


def test_years_are_read_beside_commas_not_in_decades_and_from_an_opening_participle(index):
    from quco.decide.compare import year_of
    from quco.decide.reading import read_statements

    got = read_statements(index, ["Squall Run", "Pellow Deck", "Vardo College", "Rook Tally"])
    assert year_of(got["Squall Run"])[0] == 1962  # "in 1962, invented by"
    assert year_of(got["Pellow Deck"])[0] == 1985  # "as of 1985, by"
    (vardo,) = got["Vardo College"]
    assert vardo.then == "Founded in 1794, it is the oldest in the state"  # goes on without naming it
    assert year_of(got["Vardo College"]) == (1794, vardo.then)
    assert year_of(got["Rook Tally"]) == (None, "")  # "the mid-1970s" is a decade, not a year


def test_a_name_inside_a_longer_name_is_not_a_mention_but_a_fuller_form_is(index):
    from quco.decide.compare import year_of
    from quco.decide.reading import read_statements, variant_mentions, variant_statements

    got = read_statements(index, ["Marko Velt"])
    assert got["Marko Velt"] == []  # "Edric Marko Velt Hallam" is someone else
    (full,) = variant_statements(index, ["Marko Velt"])["Marko Velt"]
    assert full.introduces and year_of([full])[0] == 1940
    assert variant_mentions("George Marshall").search("George E. Marshall (1891) was")
    assert variant_mentions("Frank De Winne").search("Frank, Viscount De Winne (born 1961)")
    assert not variant_mentions("Marko Velt").search("Marko Velt")  # the plain form is read already
    assert variant_statements(index, ["ostrell games", "Nobody Here At All"]) == {}
    (dallow,) = read_statements(index, ["Quen Dallow"])["Quen Dallow"]  # "Jr." ends no longer name
    assert dallow.introduces and year_of([dallow])[0] == 1916  # opening on the fuller name introduces it
    (vantage,) = read_statements(index, ["Vantage"])["Vantage"]  # "This", "The Woman's" are no given names
    assert not vantage.introduces


def test_a_time_rank_reads_a_name_from_its_fuller_form(index, rules_extractor):
    from quco.decide.answer import AnswerScorer

    question = "Who was born first, Marko Velt or Ilsa Mure?"
    right, wrong = AnswerScorer(index, rules_extractor).score_many(
        [(question, "Marko Velt"), (question, "Ilsa Mure was born first.")])
    assert right.rank.verdict == "supported" and right.rank.years == (1940, 1951)
    assert "Marko Anton Velt (born 2 March 1940)" in right.rank.sentences[0]
    assert wrong.rank.verdict == "contradicted" and wrong.checkable


def _entities(question, *names, label="PERSON"):
    from quco.extract.types import Entity

    return [Entity(n, label, question.index(n), question.index(n) + len(n)) for n in names]


@pytest.mark.parametrize("question, names, subjects", [
    ("Kesta Lund and Bram Oddny, are novelists?", ("Kesta Lund", "Bram Oddny"), ("Kesta Lund", "Bram Oddny")),
    ("Are both Kesta Lund and Bram Oddny novelists?", ("Kesta Lund and Bram Oddny",), ("Kesta Lund", "Bram Oddny")),
    ("Are Kesta Lund and Bram Oddny both novelists?", ("Are Kesta Lund and", "Bram Oddny"),
     ("Kesta Lund", "Bram Oddny")),
])
def test_yes_no_questions_in_their_forms(question, names, subjects):
    from quco.decide.yes_no import polar_of

    polar = polar_of(question, _entities(question, *names))
    assert polar is not None and polar.subjects == subjects and polar.prop == "novelists"


@pytest.mark.parametrize("question, names", [
    ("Kesta Lund and Bram Oddny, are novelists of which country?", ("Kesta Lund", "Bram Oddny")),  # asks a name
    ("Tam Bly said Kesta Lund and Bram Oddny, are novelists?", ("Tam Bly", "Kesta Lund", "Bram Oddny")),
    ("Kesta Lund and Bram Oddny wrote novels.", ("Kesta Lund", "Bram Oddny")),
])
def test_not_yes_no_questions(question, names):
    from quco.decide.yes_no import polar_of

    assert polar_of(question, _entities(question, *names)) is None


def test_a_yes_no_question_naming_its_pair_first_is_read(index, model_extractor):
    from quco.decide.answer import AnswerScorer

    question = "Kesta Lund and Bram Oddny, are Norwegian?"
    yes, no = AnswerScorer(index, model_extractor).score_many([(question, "yes"), (question, "no")])
    assert yes.polar.verdict == "supported" and no.polar.verdict == "contradicted"


def test_the_same_country_is_read_from_nationalities(index, model_extractor):
    from quco.decide.answer import AnswerScorer

    scorer = AnswerScorer(index, model_extractor)
    same, differ, wide = scorer.score_many([
        ("Are Kesta Lund and Bram Oddny from the same country?", "yes"),
        ("Are Kesta Lund and Orla Quist from the same country?", "yes"),
        ("Are Tavin Roe and Dace Wilmer from the same country?", "yes")])  # "African American" is American
    assert same.polar.truth is True and same.polar.verdict == "supported"
    assert differ.polar.truth is False and differ.polar.verdict == "contradicted"
    assert "english" in differ.polar.why
    assert wide.polar.truth is True


def test_a_sentence_and_its_sequel_are_read_apart(index, model_extractor):
    from quco.decide.answer import AnswerScorer

    # "…province, China." then "Located on the … Yangtze River": China stays the first sentence's
    # largest place, not a province both cities share.
    (r,) = AnswerScorer(index, model_extractor).score_many([("Are Nantong and Jingdezhen in the same province?", "no")])
    assert r.polar.truth is False and r.polar.verdict == "supported"



@pytest.mark.parametrize("question, names, options", [
    ("Which was released second, Charley and the Angel or Planes?", ("Angel", "Planes"),
     ("Charley and the Angel", "Planes")),
    ("Which movie came out first, 51 Birch Street or Man on Wire?", ("51 Birch Street", "Man"),
     ("51 Birch Street", "Man on Wire")),
    ("Which case came first, Strickland v. Washington or Barron v. Baltimore?", ("Washington", "Barron"),
     ("Strickland v. Washington", "Barron v. Baltimore")),
    ("Is George Duran or Richard Dekmejian older?", ("George Duran", "Richard Dekmejian"),
     ("George Duran", "Richard Dekmejian")),  # the question's first word is not part of a name
    ("Was the board game Java or Tikal published first?", ("Java", "Tikal"), ("Java", "Tikal")),
])
def test_options_are_whole_titles(question, names, options):
    from quco.decide.compare import time_rank_of

    rank = time_rank_of(question, _entities(question, *names, label="WORK_OF_ART"))
    assert rank is not None and rank.options == options


def test_every_local_backend_reads_a_fuller_form_as_duckdb_does(index, tmp_path_factory, rules_extractor):
    from quco.decide.answer import AnswerScorer
    from quco.decide.reading import variant_statements
    from quco.index.mmap.build import build_mmap_index
    from quco.index.open import open_backend
    from quco.index.sharded.build import build_sharded_index

    d = tmp_path_factory.mktemp("forms-backends")
    src = write_jsonl(d / "c.jsonl", DOCS)
    build_mmap_index([src], d / "seg", progress=False, segment_tokens=200, merge=False)
    build_sharded_index([src], d / "shards", shards=3, processes=1, progress=False)
    build_mmap_index([src], d / "bare", progress=False, store_text=False)
    question = "Who was born first, Marko Velt or Ilsa Mure?"
    want = [s.sentence for s in variant_statements(index, ["Marko Velt"])["Marko Velt"]]
    for backend in (open_backend(d / "seg"), open_backend(d / "shards")):
        assert [s.sentence for s in variant_statements(backend, ["Marko Velt"])["Marko Velt"]] == want
        (r,) = AnswerScorer(backend, rules_extractor).score_many([(question, "Marko Velt")])
        assert r.rank.verdict == "supported" and r.rank.years == (1940, 1951)
    # An index without text reads nothing: no fuller form, the ranking unknown (½), never a guess.
    bare = open_backend(d / "bare")
    assert variant_statements(bare, ["Marko Velt"]) == {}
    (r,) = AnswerScorer(bare, rules_extractor).score_many([(question, "Marko Velt")])
    assert r.rank.verdict == "unknown" and r.risk == 0.5

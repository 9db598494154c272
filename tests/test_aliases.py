"""The corpus's own aliases for a claim: a draft saying "playwright" where the subject's article says
"dramatist" is supported when the corpus's article titled "Playwright" says they are one thing."""

import pytest
from conftest import duckdb_of, write_jsonl

DOCS = [
    {"id": "t1", "title": "Playwright", "text": "A playwright or dramatist is a person who writes plays."},
    {"id": "t2", "title": "Disc jockey", "text": "A disc jockey, more commonly abbreviated as DJ, is a person who plays "
                                                "recorded music."},
    {"id": "t3", "title": "Painter", "text": "A painter is an artist who paints pictures."},
    {"id": "s1", "title": "Orla Quist", "text": "Orla Quist (born 1950) is a Brindish poet and dramatist. She lives in "
                                               "Darrow."},
    {"id": "s2", "title": "Tavin Roe", "text": "Tavin Roe is a Brindish DJ and producer from Ostrell."},
    {"id": "s3", "title": "Dace Wilmer", "text": "Dace Wilmer is a Brindish sculptor from Ostrell."},
    # places: the corpus's other names for them, glossed or "previously known as"
    {"id": "p1", "title": "Port Veyra", "text": "Port Veyra (Brindish: Veyrahaven; Old Ostic: Vejra) is a port town in "
                                               "Ostrell."},
    {"id": "p2", "title": "Kelmouth", "text": "Kelmouth, previously romanized as Kelmuth, is a city in Darrow."},
    {"id": "s4", "title": "Ansel Drae", "text": "Ansel Drae (born 1940 in Veyrahaven) was a Brindish painter."},
    # a claim given as another name elsewhere: an opening on the other name, a gloss in parentheses
    {"id": "t4", "title": "Glass artist", "text": "A glass artist, also known as a vitrier, is an artist who works glass."},
    {"id": "t5", "title": "Song in Brindel", "text": "In Brindel, ballad singers (歌手, kantorū) have fan clubs."},
    {"id": "s5", "title": "Mira Fenn", "text": "Mira Fenn (born 1961) is a Brindish glass artist from Darrow."},
    {"id": "s6", "title": "Lio Vant", "text": "Lio Vant (born 1970) is a Brindish ballad singer from Ostrell."},
    {"id": "s7", "title": "Nell Arro", "text": "Nell Arro (born 1958) is a Brindish actress from Darrow."},
    *({"id": f"f{i}", "text": f"Town number {i} has a market, a theatre where a dramatist once lived, and a school."}
      for i in range(40)),
    *({"id": f"g{i}", "text": f"Village number {i} has a painter, a playwright and a DJ at its fair."} for i in range(40)),
]


@pytest.mark.parametrize("sentence, claim, aliases", [
    ("A playwright or dramatist is a person who writes plays", "playwright", ("dramatist",)),
    ("A disc jockey, more commonly abbreviated as DJ, is a person who plays music", "disc jockey", ("DJ",)),
    ("A screenwriter (also called scriptwriter, scribe, or scenarist) is someone who writes", "screenwriter",
     ("scriptwriter", "scribe", "scenarist")),
    ("A dentist, also known as a dental surgeon, is a health care professional", "dentist", ("dental surgeon",)),
    ("An actor or actress is a person who portrays a character", "actor", ()),  # a word form already counted
    ("A painter is an artist who paints pictures", "painter", ()),
    ("The playwright or dramatist John Orr wrote plays", "playwright", ()),  # no definition, no alias
    # names: "previously romanized as", and another language's name glossed after the title (Latin letters only)
    ("Guangzhou, previously romanized as Canton or Kwangchow, is the capital of Guangdong", "Guangzhou",
     ("Canton", "Kwangchow")),
    ("Santurtzi (Spanish: Santurce; Basque: Santurtzi [santuɾts̻i]) is a port town", "Santurtzi", ("Santurce",)),
    ("Turin ( Piedmontese: [tyˈriŋ] ; Italian: Torino [toˈriːno] ) is a city", "Turin", ("Torino",)),
    ("Cairo ( KY-roh; Arabic: القاهرة, romanized: al-Qāhirah ) is the capital", "Cairo", ()),
    ("Kolkata, also known as Calcutta, is the capital of West Bengal", "Kolkata", ("Calcutta",)),
    ("A painter (French: peintre) is an artist", "painter", ()),  # glosses are read for names only
])
def test_aliases_are_read_from_an_articles_opening(sentence, claim, aliases):
    from quco.decide.aliases import aliases_of

    assert aliases_of(sentence, claim) == aliases


@pytest.mark.parametrize("sentence, claim, aliases", [
    ("A manga artist, also known as a mangaka (Japanese: 漫画家), is a comic artist", "mangaka", ("manga artist",)),
    ("In Japan, voice actors (声優, seiyū) and actresses have fan clubs", "seiyū", ("voice actors",)),
    ("The famous and voice actors (seiyū) met", "seiyū", ("voice actors",)),  # function words dropped
    ("Mangaka (漫画家) is the Japanese word for a comic artist", "mangaka", ()),  # its own article: aliases_of
    ("He worked as a seiyū for the studio", "seiyū", ()),  # named, not glossed
    ("Aki Hata (born 1960) is a mangaka", "mangaka", ()),
])
def test_a_claim_given_as_another_name_in_other_articles(sentence, claim, aliases):
    from quco.decide.aliases import given_as

    assert given_as(sentence, claim) == aliases


def names(found: dict) -> dict:
    """``lookup_aliases``'s answer with each alias's name only."""
    return {c: tuple(a.name for a in aliases) for c, aliases in found.items()}


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return duckdb_of(tmp_path_factory, DOCS, "aliases")


def test_a_claim_is_supported_under_the_corpus_own_alias_and_only_there(index, model_extractor):
    from quco.decide.aliases import lookup_aliases
    from quco.decide.answer import AnswerScorer
    from quco.decide.detector import Detector

    found = lookup_aliases(index, ["playwright", "disc jockey", "painter", "Orla Quist"])
    assert names(found) == {"playwright": ("dramatist",), "disc jockey": ("DJ",)}
    assert found["playwright"][0].said == ("the article 'Playwright' opens 'A playwright or dramatist is a person who "
                                           "writes plays.'")
    det = Detector(index, model_extractor)
    true, false, dj, absent = det.check_many([
        ("What is Orla Quist's occupation?", "Orla Quist's occupation is playwright."),
        ("What is Orla Quist's occupation?", "Orla Quist's occupation is painter."),
        ("What is Tavin Roe's occupation?", "Tavin Roe's occupation is disc jockey."),
        ("What is Dace Wilmer's occupation?", "Dace Wilmer's occupation is playwright.")])
    (pair,) = [p for p in true.pairs if p.tail == "playwright"]
    assert pair.alias == "dramatist" and not pair.flagged and true.flagged is None
    assert false.flagged is not None  # "painter" has no alias near Orla Quist
    assert [p.alias for p in dj.pairs if p.tail == "disc jockey"] == ["DJ"] and dj.flagged is None
    assert absent.flagged is not None and all(p.alias is None for p in absent.pairs)  # an alias never vouches alone
    (answer,) = AnswerScorer(index, model_extractor).score_many([("What is Orla Quist's occupation?", "playwright")])
    assert answer.claims[0].alias == "dramatist" and answer.risk < 0.5


def test_a_claim_is_supported_under_a_name_other_articles_give_it(index, model_extractor):
    from quco.decide.aliases import lookup_aliases
    from quco.decide.detector import Detector

    found = lookup_aliases(index, ["vitrier", "kantorū", "painter"])
    assert names(found) == {"vitrier": ("glass artist",), "kantorū": ("ballad singers",)}
    assert found["kantorū"][0].said == "a sentence says 'In Brindel, ballad singers (歌手, kantorū) have fan clubs'"
    det = Detector(index, model_extractor)
    glass, singer, wrong = det.check_many([
        ("What is Mira Fenn's occupation?", "Mira Fenn's occupation is vitrier."),
        ("What is Lio Vant's occupation?", "Lio Vant's occupation is kantorū."),
        ("What is Mira Fenn's occupation?", "Mira Fenn's occupation is kantorū.")])
    assert [p.alias for p in glass.pairs if p.tail == "vitrier"] == ["glass artist"] and glass.flagged is None
    (pair,) = [p for p in singer.pairs if p.tail == "kantorū"]
    assert pair.alias == "ballad singers" and pair.alias_said.startswith("a sentence says") and singer.flagged is None
    assert wrong.flagged is not None  # the alias is not near Mira Fenn


def test_a_place_is_supported_under_the_corpus_own_other_name_for_it(index, model_extractor):
    from quco.decide.aliases import lookup_aliases
    from quco.decide.detector import Detector

    assert names(lookup_aliases(index, ["Port Veyra", "Kelmouth", "Ansel Drae"])) == {
        "Port Veyra": ("Veyrahaven", "Vejra"), "Kelmouth": ("Kelmuth",)}
    question = "In what city was Ansel Drae born?"
    true, false = Detector(index, model_extractor).check_many(
        [(question, "Ansel Drae was born in Port Veyra."), (question, "Ansel Drae was born in Kelmouth.")])
    (pair,) = [p for p in true.pairs if p.tail == "Port Veyra"]
    assert pair.alias == "Veyrahaven" and true.flagged is None
    assert false.flagged is not None and all(p.alias is None for p in false.pairs)


def test_a_backend_without_text_or_titles_gives_no_aliases(tmp_path):
    from quco.decide.aliases import lookup_aliases
    from quco.index.duckdb.build import build_index
    from quco.index.duckdb.reader import DuckDBIndex

    build_index([write_jsonl(tmp_path / "c.jsonl", DOCS)], tmp_path / "bare.duckdb", progress=False, store_text=False)
    assert lookup_aliases(DuckDBIndex(tmp_path / "bare.duckdb"), ["playwright"]) == {}


def test_check_shows_the_alias_and_the_sentence_holding_it(tmp_path, capsys):
    from quco.cli.main import main
    from quco.index.duckdb.build import build_index

    build_index([write_jsonl(tmp_path / "c.jsonl", DOCS)], tmp_path / "i.duckdb", progress=False)
    args = ["check", "--index", str(tmp_path / "i.duckdb"), "What is Orla Quist's occupation?",
            "--draft", "Orla Quist's occupation is playwright."]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert ("as 'dramatist', the corpus's own other name for 'playwright' (the article 'Playwright' opens 'A "
            "playwright or dramatist is a person who writes plays.')") in out
    assert "in s1 'Orla Quist': 'Orla Quist (born 1950) is a Brindish poet and dramatist.'" in out
    args[-1] = "Lio Vant's occupation is kantorū."
    args[-3] = "What is Lio Vant's occupation?"
    assert main(args) == 0
    assert ("as 'ballad singers', the corpus's own other name for 'kantorū' (a sentence says 'In Brindel, ballad "
            "singers (歌手, kantorū) have fan clubs')") in capsys.readouterr().out


def test_aliases_are_remembered_and_a_failure_is_not(index):
    from quco.decide.aliases import AliasMemo
    from quco.errors import BackendError

    class Failing:
        def article_places_many(self, pairs, limit=2):
            raise BackendError("index unreachable")

    memo = AliasMemo(size=2)
    assert names(memo.aliases_many(index, ["playwright", "painter"])) == {"playwright": ("dramatist",)}
    assert names(memo.aliases_many(Failing(), ["playwright", "painter"])) == {"playwright": ("dramatist",)}  # not asked again
    assert memo.aliases_many(Failing(), ["disc jockey"]) == {}  # unknown now, and not remembered as "none"
    assert names(memo.aliases_many(index, ["disc jockey"])) == {"disc jockey": ("DJ",)}
    assert memo.aliases_many(Failing(), ["playwright"]) == {}  # the oldest claims left a memo of two


def test_a_claim_counted_in_another_word_form_shows_where_that_form_is(index, model_extractor):
    """"actor" is counted with "actress": the source shown is the sentence holding "actress"."""
    from quco.decide.detector import Detector
    from quco.decide.provenance import with_sources

    det = Detector(index, model_extractor)
    (report,) = with_sources(index, det.check_many([("What is Nell Arro's occupation?",
                                                    "Nell Arro's occupation is actor.")]), det.window)
    (pair,) = [p for p in report.pairs if p.tail == "actor"]
    assert not pair.flagged and pair.source_note is None
    assert [s.text for s in pair.sources] == ["Nell Arro (born 1958) is a Brindish actress from Darrow."]

"""Multi-hop support and provenance: passages around a phrase, bridges named in them, chance
correction over every bridge tried, and `quco check` showing where the evidence is."""

import json

import pytest
from conftest import write_jsonl

FILLER = [f"Town number {i} has a market, a school and a small harbour." + (" Gorland trade passes through it." * (i < 40))
          for i in range(200)]
DOCS = [
    {"id": "j", "title": "Zorblat Journal", "text": "The Zorblat Journal is published by the Quennic Society. "
                                                   "It covers research in Gorland."},
    {"id": "s", "title": "Quennic Society", "text": "The first president of the Quennic Society was Marvin Pellwood."},
    {"id": "o", "title": "Dorian Fexley", "text": "Dorian Fexley was a baker in Gorland."},
    # A three-hop chain, each link seen twice: atlas -> press (named near it) -> guild (titling the
    # answer's document) -> answer.
    {"id": "a", "title": "Brindle Atlas", "text": "The Brindle Atlas was printed by the Varnholt Press. "
                                                 "The Brindle Atlas made the Varnholt Press famous."},
    {"id": "p", "title": "Varnholt Press", "text": "The Varnholt Press belongs to the Keswin Guild. "
                                                  "The Varnholt Press prints for the Keswin Guild."},
    {"id": "g", "title": "Keswin Guild", "text": "The Keswin Guild was led by Orla Tamsin. The Keswin Guild honoured Orla Tamsin."},
    {"id": "h", "title": "Pellam Guild", "text": "The Pellam Guild was led by Edric Voss. The Pellam Guild honoured Edric Voss."},
    *({"id": f"f{i}", "title": f"Town {i}", "text": t} for i, t in enumerate(FILLER)),
]
QUESTION = "Who was the first president of the society which published the Zorblat Journal?"


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    from quco.index.duckdb.build import build_index
    from quco.index.duckdb.reader import DuckDBIndex

    d = tmp_path_factory.mktemp("bridges")
    build_index([write_jsonl(d / "c.jsonl", DOCS)], d / "i.duckdb", progress=False)
    build_index([write_jsonl(d / "c.jsonl", DOCS)], d / "bare.duckdb", progress=False, store_text=False)
    return DuckDBIndex(d / "i.duckdb"), DuckDBIndex(d / "bare.duckdb"), d / "i.duckdb"


def test_passages_are_windows_around_a_phrase_or_none_when_too_common(index):
    from quco.errors import QueryError

    ix, bare, _ = index
    (journal, society), common, absent = ix.passages_many(["Quennic Society", "Gorland", "Nowhere Land"], window=3)
    assert journal == "published by the Quennic Society. It covers research"
    assert society == "president of the Quennic Society was Marvin Pellwood"
    assert common is None and absent == ()
    wide = ix.passages_many(["Quennic Society"], window=1000)[0]
    assert [p.split()[1] for p in wide] == ["Zorblat", "first"]  # one passage per document, in corpus order
    with pytest.raises(QueryError, match="no document text"):
        bare.passages_many(["Quennic Society"])


def test_a_silent_answer_is_supported_through_a_named_bridge_and_a_stranger_is_not(index, rules_extractor):
    from quco.decide.answer import AnswerScorer

    ix, bare, _ = index
    right, stranger = AnswerScorer(ix, rules_extractor).score_many([(QUESTION, "Marvin Pellwood"), (QUESTION, "Dorian Fexley")])
    (claim,) = right.claims
    assert claim.cooccur == 0 and claim.bridge is not None
    assert (claim.bridge.via, claim.bridge.how) == ("Quennic Society", "named") and right.risk < 0.5
    # Dorian Fexley is near "Gorland", which is also named near the journal: a bridge tried, but
    # a common one, scored against every bridge tried: no support.
    assert stranger.risk >= 0.5 and stranger.risk > right.risk
    # Without text or titles there is nothing to bridge through: the answer stays silent.
    (unbridged,) = AnswerScorer(bare, rules_extractor).score_many([(QUESTION, "Marvin Pellwood")])
    assert unbridged.claims[0].bridge is None or unbridged.claims[0].bridge.how != "named"


def test_a_three_hop_answer_is_supported_through_a_chain_and_each_link_has_its_source(index, rules_extractor):
    from quco.decide.answer import AnswerScorer
    from quco.decide.provenance import answer_sources

    ix, _, _ = index
    scorer = AnswerScorer(ix, rules_extractor)
    question = "Who led the guild that owns the press which printed the Brindle Atlas?"
    right, stranger = answer_sources(ix, scorer.score_many([(question, "Orla Tamsin"), (question, "Edric Voss")]),
                                     scorer.window)
    (claim,) = right.claims
    assert claim.cooccur == 0 and claim.bridge is not None and claim.bridge.how == "chain"
    assert claim.bridge.path == ("Brindle Atlas", "Varnholt Press", "Keswin Guild", "Orla Tamsin") and right.risk < 0.5
    assert [s.doc_id for s in claim.sources] == ["a", "p", "g"]  # one place per link
    # Edric Voss leads another guild, which nothing ties to the press: no chain, no support.
    assert stranger.claims[0].bridge is None and stranger.risk >= 0.5


def test_check_shows_each_claims_sentence_or_why_there_is_none(index, capsys):
    from quco.cli.main import main

    _, _, path = index
    draft = "The Zorblat Journal is published by the Quennic Society. Its first president was Marvin Pellwood."
    assert main(["check", "--index", str(path), "--model", "rules", QUESTION, "--draft", draft]) == 0
    out = capsys.readouterr().out
    assert "in j 'Zorblat Journal': 'The Zorblat Journal is published by the Quennic Society.'" in out
    # The draft states its hops: the second is read against the first's claim, hop by hop.
    assert "in s 'Quennic Society': 'The first president of the Quennic Society was Marvin Pellwood.'" in out
    assert main(["check", "--index", str(path), "--model", "rules", "--json", QUESTION, "--draft", draft]) == 0
    report = json.loads(capsys.readouterr().out)
    by_tail = {p["tail"]: p for p in report["pairs"]}
    assert [s["doc_id"] for s in by_tail["Quennic Society"]["sources"]] == ["j"]
    assert by_tail["Marvin Pellwood"]["head"] == "Quennic Society" and by_tail["Marvin Pellwood"]["cooccur"] == 1
    # A claim never near its anchors says why it has no source.
    stray = "The Zorblat Journal is published by the Quennic Society. Its printer was Dorian Fexley."
    assert main(["check", "--index", str(path), "--model", "rules", QUESTION, "--draft", stray]) == 0
    assert "no source: 'Dorian Fexley' is never within 1,000 tokens of" in capsys.readouterr().out


def test_answer_claims_carry_the_corpus_places_behind_them(index, rules_extractor):
    from quco.decide.answer import AnswerScorer
    from quco.decide.provenance import answer_sources

    ix, bare, _ = index
    scorer = AnswerScorer(ix, rules_extractor)
    bridged, direct, stranger = answer_sources(ix, scorer.score_many(
        [(QUESTION, "Marvin Pellwood"), ("Who publishes the Zorblat Journal?", "Quennic Society"),
         ("Who publishes the Zorblat Journal?", "Dorian Fexley")]), scorer.window)
    (claim,) = bridged.claims
    assert claim.bridge is not None and [s.doc_id for s in claim.sources] == ["j", "s"]  # both links
    assert "Marvin Pellwood" in claim.sources[1].text and claim.source_note is None
    (society,) = direct.claims
    assert [s.title for s in society.sources] == ["Zorblat Journal"]
    assert "published by the Quennic Society" in society.sources[0].text
    (fexley,) = stranger.claims
    assert fexley.sources == () and "never within" in fexley.source_note
    # An index without text still lists the places, without their sentences.
    (plain,) = answer_sources(bare, AnswerScorer(bare, rules_extractor).score_many(
        [("Who publishes the Zorblat Journal?", "Quennic Society")]), scorer.window)
    assert plain.claims[0].sources and plain.claims[0].sources[0].text is None


@pytest.fixture(scope="module")
def mmap_indexes(tmp_path_factory):
    """The same documents as a memory-mapped index in several segments, as a sharded one (answered
    in process), and as one built without text."""
    from quco.index.mmap.build import build_mmap_index
    from quco.index.open import open_backend
    from quco.index.sharded.build import build_sharded_index

    d = tmp_path_factory.mktemp("bridges-mmap")
    src = write_jsonl(d / "c.jsonl", DOCS)
    build_mmap_index([src], d / "seg", progress=False, segment_tokens=400, merge=False)
    build_sharded_index([src], d / "shards", shards=3, processes=1, progress=False)
    build_mmap_index([src], d / "bare", progress=False, store_text=False)
    return open_backend(d / "seg"), open_backend(d / "shards"), open_backend(d / "bare"), d


def test_a_memory_mapped_index_lists_titles_passages_and_places_as_duckdb_does(index, mmap_indexes):
    from quco.errors import QueryError

    ix, _, _ = index
    segmented, sharded, bare, _ = mmap_indexes
    assert len(segmented.segments) > 2 and len(sharded.segments) == 3
    phrases = ["Quennic Society", "Gorland", "Nowhere Land", "Orla Tamsin", "Varnholt Press"]
    pairs = [("Quennic Society", "Marvin Pellwood"), ("Gorland", "Town"), ("Zorblat Journal", "Orla Tamsin")]

    def places(backend):
        return [(p.a, p.b, [(s.doc_id, s.title, s.text) for s in p.sources], p.why)
                for p in backend.provenance_many(pairs, window=1000)]

    want = (ix.titles_many(phrases), ix.passages_many(phrases, window=3), places(ix))
    assert (segmented.titles_many(phrases), segmented.passages_many(phrases, window=3), places(segmented)) == want
    # A sharded index numbers documents in shard order, so titles and places come in another order.
    assert [None if t is None else sorted(t) for t in sharded.titles_many(phrases)] == \
        [None if t is None else sorted(t) for t in want[0]]
    quennic, gorland, never = places(sharded)
    assert (quennic, never) == (want[2][0], want[2][2])
    assert len(gorland[2]) == 2 and all(title.startswith("Town") and "Gorland" in text for _, title, text in gorland[2])
    # Without text: titles and ids, but no passages to read and no sentences in the places.
    assert bare.titles_many(phrases) == want[0]
    with pytest.raises(QueryError, match="no document text"):
        bare.passages_many(["Quennic Society"])
    (prov,) = bare.provenance_many(pairs[:1])
    assert [(s.doc_id, s.title, s.text) for s in prov.sources] == [("s", "Quennic Society", None)]


def test_bridges_and_chains_work_on_a_memory_mapped_index(mmap_indexes, rules_extractor):
    from quco.decide.answer import AnswerScorer

    segmented, sharded, _, _ = mmap_indexes
    question = "Who led the guild that owns the press which printed the Brindle Atlas?"
    for backend in (segmented, sharded):
        named, chained = AnswerScorer(backend, rules_extractor).score_many(
            [(QUESTION, "Marvin Pellwood"), (question, "Orla Tamsin")])
        assert named.claims[0].bridge is not None and named.claims[0].bridge.via == "Quennic Society"
        assert chained.claims[0].bridge is not None and chained.claims[0].bridge.how == "chain"


def test_segments_merged_keep_their_documents_records_and_text(mmap_indexes, tmp_path):
    import shutil

    from quco.index.mmap.build import compact_index
    from quco.index.open import open_backend

    _, _, _, d = mmap_indexes
    copy = tmp_path / "seg"
    shutil.copytree(d / "seg", copy)
    compact_index(copy, progress=False)
    merged = open_backend(copy)
    assert len(merged.segments) == 1
    assert merged.titles_many(["Orla Tamsin"]) == [("Keswin Guild",)]
    assert merged.passages_many(["Orla Tamsin"], window=2) == [("led by Orla Tamsin. The Keswin Guild honoured Orla Tamsin",)]


def test_a_phrase_in_a_subjects_article_is_counted_alike_on_every_local_index(index, mmap_indexes):
    ix, bare_duckdb, _ = index
    segmented, sharded, bare, _ = mmap_indexes
    pairs = [("Keswin Guild", "Orla Tamsin"), ("keswin guild", "guild"), ("Brindle Atlas", "Orla Tamsin"),
             ("Nowhere Land", "Gorland"), ("Town 3", "Gorland")]
    want = ix.in_articles_many(pairs)
    assert [(a.count, a.documents) if a else None for a in want] == [(2, 1), (2, 1), (0, 1), None, (1, 1)]
    assert segmented.in_articles_many(pairs) == sharded.in_articles_many(pairs) == bare.in_articles_many(pairs) == want
    assert bare_duckdb.in_articles_many(pairs) == want  # titles are kept without text too


def test_every_wrapping_backend_passes_every_optional_lookup_on():
    """A backend wrapping others (the reward's count cache, a sharded index, a remote or Ray shard)
    answers each optional lookup of the contract itself: the contract's default would say "cannot"
    and silently switch provenance, bridges, reading or article support off."""
    from quco.backends.base import CountBackend
    from quco.backends.cached import CachedBackend
    from quco.backends.ray import RayShard
    from quco.backends.remote import RemoteShard
    from quco.backends.sharded import ShardedBackend

    optional = ["titles_many", "passages_many", "provenance_many", "in_articles_many", "article_places_many"]
    for cls in (CachedBackend, ShardedBackend, RemoteShard, RayShard):
        for name in optional:
            assert getattr(cls, name) is not getattr(CountBackend, name), f"{cls.__name__}.{name}"


def test_a_claim_written_only_in_its_subjects_article_is_supported_there(tmp_path, rules_extractor, capsys):
    """The article titled "Ambrose Quill" calls him "Ambrose T. Quill": the draft's name never comes
    within a window of the claim, yet the article states it. A claim the article does not state
    stays unsupported; on an index without titles only a bridge can support it."""
    from quco.decide.answer import AnswerScorer
    from quco.decide.detector import Detector
    from quco.decide.trigger import Thresholds
    from quco.index.duckdb.build import build_index
    from quco.index.duckdb.reader import DuckDBIndex

    filler = [{"id": f"f{i}", "title": f"Town {i}", "text": f"Town number {i} has a market and a school."}
              for i in range(300)]
    docs = [{"id": "q", "title": "Ambrose Quill", "text": "Ambrose T. Quill was born in Marrowby. He wrote plays."},
            {"id": "m", "title": "Marrowby", "text": "Marrowby is a village near Tarn Hollow."},
            {"id": "x", "title": "Ambrose Quill's critic", "text": "Ambrose Quill was praised in Tarn Hollow once."},
            {"id": "y", "title": "Olm", "text": "Olm Fenwick was born in Gallowmere."}, *filler]
    build_index([write_jsonl(tmp_path / "c.jsonl", docs)], tmp_path / "i.duckdb", progress=False)
    no_titles = [{k: v for k, v in d.items() if k != "title"} for d in docs]
    build_index([write_jsonl(tmp_path / "n.jsonl", no_titles)], tmp_path / "n.duckdb", progress=False)
    ix, untitled = DuckDBIndex(tmp_path / "i.duckdb"), DuckDBIndex(tmp_path / "n.duckdb")
    question = "Where was Ambrose Quill born?"
    right, wrong = Detector(ix, rules_extractor).check_many(
        [(question, "Ambrose Quill was born in Marrowby."), (question, "Ambrose Quill was born in Gallowmere.")])
    assert not right.retrieve and wrong.retrieve
    answers = AnswerScorer(ix, rules_extractor).score_many([(question, "Marrowby"), (question, "Gallowmere")])
    (claim,) = answers[0].claims
    assert claim.cooccur == 0 and claim.article is not None and claim.article.title == "Ambrose Quill"
    assert answers[0].risk < 0.5 <= answers[1].risk and answers[1].claims[0].article is None
    (plain,) = Detector(untitled, rules_extractor, Thresholds(bridges=True)).check_many(
        [(question, "Ambrose Quill was born in Marrowby.")])
    # Without titles there is no article; what is left, with bridges on, is the two-hop path the passages show.
    (pair,) = plain.pairs
    assert pair.article is None and pair.path == ("Ambrose Quill", "Tarn Hollow", "Marrowby")
    # The deciding sentence is the article's, shown by `quco check` and in the answer's sources.
    from quco.cli.main import main
    from quco.decide.provenance import answer_sources

    assert main(["check", "--index", str(tmp_path / "i.duckdb"), "--model", "rules", question,
                 "--draft", "Ambrose Quill was born in Marrowby."]) == 0
    shown = capsys.readouterr().out
    assert "stated in the article 'Ambrose Quill'" in shown
    assert "in q 'Ambrose Quill': 'Ambrose T. Quill was born in Marrowby.'" in shown
    (sourced,) = answer_sources(ix, answers[:1], 1000)
    assert [(s.doc_id, s.text) for s in sourced.claims[0].sources] == [("q", "Ambrose T. Quill was born in Marrowby.")]


@pytest.mark.parametrize("form", ["The first president of the society which published the Zorblat Journal was {}.",
                                  "{} was the first president of the society which published the Zorblat Journal."])
def test_a_draft_is_bridged_like_an_answer_even_when_the_answer_is_its_subject(index, model_extractor, form):
    """With bridges on (and by default, for a question describing a chain), a draft's claim silent
    near the question's entity is supported through the same bridge as the bare answer; a draft
    stating its answer as the subject has that answer checked too."""
    from quco.decide.detector import Detector
    from quco.decide.trigger import Thresholds

    ix, bare, _ = index
    bridged = Thresholds(bridges=True)
    right, stranger = Detector(ix, model_extractor, bridged).check_many(
        [(QUESTION, form.format("Marvin Pellwood")), (QUESTION, form.format("Dorian Fexley"))])
    (pair,) = [p for p in right.pairs if p.tail == "Marvin Pellwood"]
    assert pair.cooccur == 0 and pair.path == ("Zorblat Journal", "Quennic Society", "Marvin Pellwood")
    assert not right.retrieve and pair.risk < 0.5
    (other,) = [p for p in stranger.pairs if p.tail == "Dorian Fexley"]
    assert other.path == () and other.risk >= 0.5 and stranger.stage2_risk > right.stage2_risk
    # An index without text still has its documents' titles: the answer's document is titled
    # with the bridge.
    (plain,) = Detector(bare, model_extractor, bridged).check_many([(QUESTION, form.format("Marvin Pellwood"))])
    assert [p.path for p in plain.pairs if p.tail == "Marvin Pellwood"] == [pair.path]
    # By default a draft is bridged as its question describes a chain ("the society which published"),
    # and with bridges off not at all: the claim stays silent, and is flagged.
    (chained,) = Detector(ix, model_extractor).check_many([(QUESTION, form.format("Marvin Pellwood"))])
    assert [p.path for p in chained.pairs if p.tail == "Marvin Pellwood"] == [pair.path] and not chained.retrieve
    (silent,) = Detector(ix, model_extractor, Thresholds(bridges=False)).check_many([(QUESTION, form.format("Marvin Pellwood"))])
    (quiet,) = [p for p in silent.pairs if p.tail == "Marvin Pellwood"]
    assert quiet.path == () and quiet.cooccur == 0 and silent.retrieve


@pytest.mark.parametrize("bridges", [None, False, True])
def test_a_question_asking_one_attribute_of_its_entity_is_bridged_only_when_asked_to(index, model_extractor, bridges):
    """"Who founded the Zorblat Journal?" describes no chain: the corpus states the founder near the
    journal or does not hold it, and a bridge through the society that publishes it would vouch
    for a fact it lacks. Drafts and answers alike, unless bridges are on for every question."""
    from quco.decide.answer import AnswerScorer
    from quco.decide.detector import Detector
    from quco.decide.trigger import Thresholds

    ix, _, _ = index
    question = "Who founded the Zorblat Journal?"
    (draft,) = Detector(ix, model_extractor, Thresholds(bridges=bridges)).check_many(
        [(question, "The Zorblat Journal was founded by Marvin Pellwood.")])
    (answer,) = AnswerScorer(ix, model_extractor, bridges=bridges).score_many([(question, "Marvin Pellwood")])
    (pair,) = [p for p in draft.pairs if p.tail == "Marvin Pellwood"]
    (claim,) = answer.claims
    if bridges:
        assert pair.path == claim.bridge.path == ("Zorblat Journal", "Quennic Society", "Marvin Pellwood")
        assert not draft.retrieve and answer.risk < 0.5
    else:
        assert pair.path == () and claim.bridge is None and pair.cooccur == claim.cooccur == 0
        assert draft.retrieve and answer.risk >= 0.5
    # The report says why no bridge was looked for, only where the question is the reason.
    said = [r for r in draft.reasons if r.startswith("no bridge looked for")]
    assert said == ([] if bridges is not None else
                    ["no bridge looked for: the question asks one attribute of 'Zorblat Journal', not through a chain it "
                     "describes (the corpus states the fact near it or does not hold it)"])


def test_a_question_naming_no_known_entity_anchors_the_draft_by_its_noun_phrases(tmp_path, model_extractor):
    from quco.decide.detector import Detector
    from quco.index.duckdb.build import build_index
    from quco.index.duckdb.reader import DuckDBIndex

    docs = [{"id": "m", "text": "The salt mine of the northern valley was run by Orla Tamsin for twenty years."},
            {"id": "b", "text": "Edric Voss ran a bakery by the river."},
            *({"id": f"f{i}", "text": t} for i, t in enumerate(FILLER))]
    build_index([write_jsonl(tmp_path / "c.jsonl", docs)], tmp_path / "i.duckdb", progress=False)
    question = "Who ran the salt mine?"  # no name: its noun phrase anchors the draft
    right, wrong = Detector(DuckDBIndex(tmp_path / "i.duckdb"), model_extractor).check_many(
        [(question, "The salt mine was run by Orla Tamsin."), (question, "The salt mine was run by Edric Voss.")])
    assert right.entities == () and [p.tail for p in right.pairs] == ["Orla Tamsin"]
    assert right.pairs[0].head in ("salt", "salt mine")  # a phrase of the question, the rarest
    assert right.pairs[0].cooccur == 1 and wrong.pairs[0].cooccur == 0
    assert right.stage2_risk < 0.5 < wrong.stage2_risk and not right.retrieve and wrong.retrieve


def test_passage_names_leave_out_dates_years_and_numbers():
    from quco.decide.bridges import NamesMemo

    (names,) = NamesMemo().names_many(["In October 1821 the Varnholt Press printed 300 copies on a Monday for Orla Tamsin."])
    assert names == ("Varnholt Press", "Orla Tamsin")

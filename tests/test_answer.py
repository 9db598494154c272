"""The answer-level signal on a corpus built so that the expected associations are known."""

import pytest
from conftest import write_jsonl

from quco.decide.answer import AnswerScorer
from quco.index.duckdb.build import build_index
from quco.index.duckdb.reader import DuckDBIndex

FILLER = "the river runs past the old mill and the green field near the quiet town"


@pytest.fixture(scope="module")
def scorer(tmp_path_factory, rules_extractor):
    d = tmp_path_factory.mktemp("answer")
    docs = [FILLER] * 300
    docs += ["Hamlet is a tragedy written by William Shakespeare."] * 3
    # Dickens shares no place with Hamlet: no bridge (quco.decide.bridges) links them.
    docs += ["William Shakespeare lived in London.", "Charles Dickens lived in Portsmouth."] * 20
    docs += ["Hamlet is performed in London."] * 5
    build_index([write_jsonl(d / "c.jsonl", docs)], d / "i.duckdb", progress=False)
    return AnswerScorer(DuckDBIndex(d / "i.duckdb"), rules_extractor, window=10)


def test_supported_unsupported_absent_and_restated(scorer):
    right, wrong, absent, restated, two = scorer.score_many([
        ("Who wrote Hamlet?", "William Shakespeare"),
        ("Who wrote Hamlet?", "Charles Dickens wrote it."),
        ("Who wrote Hamlet?", "Christopher Marlowe"),
        ("Who wrote Hamlet?", "Hamlet was written long ago."),
        ("Who wrote Hamlet?", "William Shakespeare and Christopher Marlowe"),
    ])
    assert right.risk < 0.5 and right.claims[0].cooccur == 3 and right.claims[0].anchor == "Hamlet"
    assert right.claims[0].pmi > 0
    # Dickens is frequent and never near Hamlet: above chance expectation of co-occurring, so risky
    assert wrong.risk > 0.5 and wrong.claims[0].cooccur == 0
    assert absent.risk == 1.0 and absent.claims[0].count == 0
    assert restated.risk == 0.5 and restated.claims == () and restated.restated == ("Hamlet",)
    # noisy-OR: one absent claim makes the whole answer risky
    assert two.risk == 1.0 and [c.phrase for c in two.claims] == ["William Shakespeare", "Christopher Marlowe"]
    assert right.to_dict()["claims"][0]["phrase"] == "William Shakespeare"

"""End to end on ../shared/data: the real corpus, the pinned model, real questions."""

import json

import pytest
from conftest import SHARED

from quco.cli.demo import SCENARIOS
from quco.decide.detector import Detector


def test_demo_scenarios_on_shared_corpus(shared_index, model_extractor):
    det = Detector(shared_index, model_extractor)
    reports = det.check_many([(s["question"], s["draft"]) for s in SCENARIOS])
    for scenario, r in zip(SCENARIOS, reports):
        assert r.corpus_tokens == shared_index.corpus.tokens > 1_000_000
        if scenario["draft"] is None:
            continue
        fabricated = "fabricated" in scenario["title"]
        assert r.retrieve == fabricated, (scenario, r.reasons)
        if fabricated:
            assert r.stage == "draft" and r.flagged.index == 1 and r.suggested_query


def test_popqa_subjects_are_found_and_counted(shared_index, model_extractor):
    rows = [json.loads(l) for l in open(SHARED / "eval" / "popqa_1000.jsonl")][:200]
    det = Detector(shared_index, model_extractor)
    reports = det.check_many([r["question"] for r in rows])
    found = sum(any(e.text.lower() == r["subj"].lower() for e in rep.entities) for r, rep in zip(rows, reports))
    assert found / len(rows) > 0.8, found
    assert all(not rep.unknown and all(e.count is not None for e in rep.entities) for rep in reports)


def test_three_backends_agree_on_shared_corpus(shared_index, shared_infinigram, model_extractor):
    """A slice of scripts/agreement_backends.py: real entities and pairs, the whole corpus."""
    from quco.backends.infinigram_api import InfiniGramAPI
    from quco.index.infinigram.reader import InfiniGramLocal
    from quco.testing.contract_server import ContractServer

    popqa = [json.loads(l) for l in open(SHARED / "eval" / "popqa_1000.jsonl")][:150]
    entities = [r["subj"] for r in popqa] + [r["obj"] for r in popqa]
    pairs = [(r["subj"], r["obj"]) for r in popqa]
    from quco.index.duckdb.reader import DuckDBIndex

    budgeted = shared_index
    shared_index = DuckDBIndex(budgeted.path, budget=10**9)  # like-with-like: every answer exact
    local = InfiniGramLocal(shared_infinigram, budget=10**9)
    cnf = InfiniGramLocal(shared_infinigram, cooccur="cnf")
    assert local.corpus == shared_index.corpus
    with ContractServer(cnf) as server:
        api = InfiniGramAPI(endpoint=server.url, index="local", corpus_tokens=local.corpus.tokens)
        expected = [c.count for c in shared_index.count_many(entities)]
        assert sum(c > 0 for c in expected) > 200
        assert [c.count for c in local.count_many(entities)] == expected
        assert [c.count for c in api.count_many(entities)] == expected
        exact = [c.count for c in shared_index.cooccur_many(pairs, 1000)]
        assert [c.count for c in local.cooccur_many(pairs, 1000)] == exact
        assert [c.count for c in api.cooccur_many(pairs, 1000)] == [c.count for c in cnf.cooccur_many(pairs, 1000)]
        # Under the default work budget an answer is the exact one or a flagged estimate, never a false zero.
        for got, want in zip(budgeted.count_many(entities), expected):
            assert got.count == want or (got.approx and got.count > 0)
        from quco.errors import BackendError

        for (a, b), want in zip(pairs, exact):
            try:
                got = budgeted.cooccur(a, b, 1000)
            except BackendError:  # over the budget with no hit in the sample: unknown, which is allowed
                continue
            assert got.count == want or (got.approx and got.count > 0)


def test_quco_demo_end_to_end_on_the_same_wikipedia_text(tmp_path, capsys, model_extractor):
    """`quco demo` over ../shared's copy of the demo corpus: checks, then the loop, as JSON."""
    from quco.cli.main import main as cli

    corpus = SHARED / "corpus" / "wiki_vital_summaries.jsonl"
    if not corpus.exists():
        pytest.skip("../shared/data/corpus is absent (it ships beside the repo in CI)")
    assert cli(["demo", "--corpus", str(corpus), "--index", str(tmp_path / "demo.duckdb"), "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out[out.index("{"):])
    assert len(data["checks"]) == len(SCENARIOS)
    assert [c["report"]["retrieve"] for c in data["checks"]][:2] == [True, False]
    assert len(data["loops"]) == 2
    for loop in data["loops"]:
        actions = [r["action"] for r in loop["rounds"]]
        assert actions[:2] == ["no-retrieval-needed", "truncate-and-retrieve"] and loop["verified"]
        first = loop["rounds"][1]
        assert first["passages"] and first["query"] and first["kept"] and first["kept"] in loop["answer"]

"""End to end on ../shared/data: the real corpus, the pinned model, real questions."""

import json

from conftest import SHARED
from quco.demo import SCENARIOS
from quco.detector import Detector


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

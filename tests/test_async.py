"""Async and streaming: the same decisions as the sync calls, without blocking the event loop."""

import asyncio
import json

import pytest
from conftest import write_jsonl

import quco
from quco.decide.detector import Detector
from quco.index.duckdb.build import build_index
from quco.index.duckdb.reader import DuckDBIndex
from quco.rag.controller import Controller
from quco.rag.pregen import guard

DOCS = [
    {"id": "d1", "title": "Hamlet", "text": "Hamlet is a tragedy written by William Shakespeare. It is set in Denmark."},
    {"id": "d2", "title": "Shakespeare", "text": "William Shakespeare was an English playwright and poet."},
    {"id": "d3", "title": "Dickens", "text": "Charles Dickens was an English novelist. Dickens wrote Oliver Twist."},
]
QUESTION = "Who wrote Hamlet?"
LIE = "Hamlet is a tragedy set in Denmark. Hamlet was written by Charles Dickens. So the answer is Charles Dickens."
TRUTH = "Hamlet was written by William Shakespeare. So the answer is William Shakespeare."


@pytest.fixture(scope="module")
def detector(tmp_path_factory, rules_extractor):
    d = tmp_path_factory.mktemp("async")
    build_index([write_jsonl(d / "c.jsonl", DOCS)], d / "i.duckdb", progress=False)
    return Detector(DuckDBIndex(d / "i.duckdb"), rules_extractor)


def _decision(report) -> dict:
    out = report.to_dict()
    out.pop("timings_ms")
    return out


def test_concurrent_acheck_many_equals_sync_and_the_loop_keeps_running(detector):
    items = [(QUESTION, LIE), (QUESTION, TRUTH), "Who founded Arthur's Magazine?"] * 4
    want = [_decision(r) for r in detector.check_many(items)]

    async def main():
        loop = asyncio.get_running_loop()
        beats = []

        async def heartbeat():
            while True:
                beats.append(loop.time())
                await asyncio.sleep(0.005)

        beat = asyncio.create_task(heartbeat())
        await asyncio.sleep(0)  # its first beat, before the checks start
        start = loop.time()
        results = await asyncio.gather(*(detector.acheck_many(items) for _ in range(64)))
        end = loop.time()
        beat.cancel()
        return results, [b for b in beats if start < b < end]

    results, beats_meanwhile = asyncio.run(main())
    assert all([_decision(r) for r in batch] == want for batch in results)
    # The loop ran another task while the 64 batches were being checked (checks run in the loop's
    # thread would hold it until all were done): however fast the checks, however busy the machine.
    assert beats_meanwhile


def _script(*replies):
    replies = list(replies)
    prompts = []

    def generate(prompt):
        prompts.append(prompt)
        return replies.pop(0) if replies else ""

    return generate, prompts


def _retrieve(query, k):
    return [{"text": DOCS[0]["text"], "title": "Hamlet", "doc_id": "d1"}]


def test_arun_and_streams_give_the_result_of_run(detector):
    gen, _ = _script(LIE, TRUTH)
    want = Controller(gen, _retrieve, detector).run(QUESTION)
    assert [r.action for r in want.rounds] == ["no-retrieval-needed", "truncate-and-retrieve", "accept"]

    async def agen_factory():
        replies = [LIE, TRUTH]

        async def agen(prompt):
            await asyncio.sleep(0)
            return replies.pop(0) if replies else ""

        async def aretrieve(query, k):
            return _retrieve(query, k)

        return agen, aretrieve

    async def main():
        agen, aretrieve = await agen_factory()
        got_async = await Controller(agen, aretrieve, detector).arun(QUESTION)
        gen2, _ = _script(LIE, TRUTH)  # plain callables from async code: run off the loop
        got_sync_callables = await Controller(gen2, _retrieve, detector).arun(QUESTION)
        gen3, _ = _script(LIE, TRUTH)
        events = [e async for e in Controller(gen3, _retrieve, detector).astream(QUESTION)]
        return got_async, got_sync_callables, events

    got_async, got_sync_callables, events = asyncio.run(main())
    for got in (got_async, got_sync_callables):
        assert got.answer == want.answer and [r.action for r in got.rounds] == [r.action for r in want.rounds]
        assert [r.query for r in got.rounds] == [r.query for r in want.rounds]
    gen4, _ = _script(LIE, TRUTH)
    sync_events = list(Controller(gen4, _retrieve, detector).stream(QUESTION))
    for evs in (events, sync_events):
        kinds = [e.kind for e in evs]
        assert kinds[-1] == "result" and kinds.count("result") == 1
        texts = [e.text for e in evs if e.kind == "text"]
        # one chunk per verified sentence, given out as soon as it is verified; joined, the answer
        assert texts == ["Hamlet is a tragedy set in Denmark.", " Hamlet was written by William Shakespeare.",
                         " So the answer is William Shakespeare."]
        assert "".join(texts) == evs[-1].result.answer == want.answer
        # the flagged sentence's round comes before any text that follows it
        flagged = next(i for i, e in enumerate(evs) if e.kind == "round" and e.round.action == "truncate-and-retrieve")
        assert kinds.index("text") > flagged
        json.dumps([e.to_dict() for e in evs])


def test_round_limit_streams_the_unverified_rest_as_such(detector):
    gen, _ = _script(LIE, LIE)
    events = list(Controller(gen, _retrieve, detector, max_rounds=2).stream(QUESTION))
    chunks = [(e.text, e.verified) for e in events if e.kind == "text"]
    assert chunks[0] == ("Hamlet is a tragedy set in Denmark.", True)
    assert (" Hamlet was written by Charles Dickens.", False) in chunks
    assert "".join(t for t, _ in chunks) == events[-1].result.answer and not events[-1].result.verified


def test_async_guard_and_ahook(detector):
    seen = []

    async def answer(prompt):
        seen.append(prompt)
        return "ok"

    guarded = guard(answer, retrieve=_retrieve, detector=detector)
    assert asyncio.iscoroutinefunction(guarded)

    async def main():
        rare = await quco.ahook("Who founded Arthur's Magazine?", detector=detector)
        common = await quco.ahook(QUESTION, detector=detector)
        return rare, common, await guarded("Who founded Arthur's Magazine?"), await guarded(QUESTION)

    rare, common, *_ = asyncio.run(main())
    assert rare.retrieve and not common.retrieve
    assert "Context" in seen[0] or DOCS[0]["text"] in seen[0]
    assert seen[1] == QUESTION
    assert _decision(rare) == _decision(detector.check_question("Who founded Arthur's Magazine?"))

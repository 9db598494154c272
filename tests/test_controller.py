"""The dynamic loop, the hook/guard, BM25 retrieval and the framework adapters. No network, no LLM."""

import json
import math
from collections import Counter

import pytest
from conftest import write_jsonl

from quco.decide.detector import Detector
from quco.errors import IndexOpenError, QueryError, UsageError
from quco.index.duckdb.build import build_index
from quco.index.duckdb.reader import DuckDBIndex
from quco.rag.controller import Controller
from quco.rag.pregen import guard, hook
from quco.rag.retrieve import BM25Retriever, Passage

SMALL = [
    {"id": "d1", "title": "Hamlet", "text": "Hamlet is a tragedy written by William Shakespeare. It is set in Denmark."},
    {"id": "d2", "title": "Shakespeare", "text": "William Shakespeare was an English playwright and poet."},
    {"id": "d3", "title": "Dickens", "text": "Charles Dickens was an English novelist. Dickens wrote Oliver Twist."},
    {"id": "d4", "title": "Denmark", "text": "Denmark is a Nordic country. Copenhagen is the capital of Denmark."},
]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("small")
    build_index([write_jsonl(d / "c.jsonl", SMALL)], d / "i.duckdb", progress=False)
    return d / "i.duckdb"


class Script:
    """A scripted generator: returns its replies in order and records every prompt."""

    def __init__(self, *replies):
        self.replies = list(replies)
        self.prompts = []

    def __call__(self, prompt):
        self.prompts.append(prompt)
        return self.replies.pop(0) if self.replies else ""


def test_loop_catches_a_fabrication_on_the_shared_corpus(shared_index, model_extractor):
    detector = Detector(shared_index, model_extractor)
    retriever = BM25Retriever(shared_index.path)
    gen = Script(
        "Hamlet is a tragedy set in Denmark. Hamlet was written by Charles Dickens. So the answer is Charles Dickens.",
        "Hamlet was written by William Shakespeare. So the answer is William Shakespeare.",
    )
    result = Controller(gen, retriever, detector, k=3).run("Who wrote the play Hamlet?")
    stage1, first, second = result.rounds
    assert stage1.action == "no-retrieval-needed" and not stage1.report.retrieve
    assert first.action == "truncate-and-retrieve"
    assert first.report.flagged.text == "Hamlet was written by Charles Dickens."
    assert first.report.flagged.triplet.tail == "Charles Dickens"
    assert first.query == "Hamlet written by"
    assert first.kept == "Hamlet is a tragedy set in Denmark."
    assert first.passages[0].title == "Hamlet" and "William Shakespeare" in first.passages[0].text
    # the regeneration prompt carries the retrieved passages and continues from the verified prefix
    assert "William Shakespeare" in gen.prompts[1].split("Question:")[0]
    assert gen.prompts[1].rstrip().endswith("Answer: Hamlet is a tragedy set in Denmark.")
    assert second.action == "accept" and second.report.flagged is None
    assert result.answer == (
        "Hamlet is a tragedy set in Denmark. Hamlet was written by William Shakespeare. "
        "So the answer is William Shakespeare."
    )
    assert result.verified and result.retrieved and result.final_answer == "William Shakespeare"
    trace = json.loads(json.dumps(result.to_dict()))
    assert trace["rounds"][1]["passages"][0]["title"] == "Hamlet"
    assert set(trace["rounds"][1]["timings_ms"]) == {"generate", "check", "retrieve"}


def test_stage_one_retrieves_with_the_question(small, rules_extractor):
    detector = Detector(DuckDBIndex(small), rules_extractor)
    gen = Script("Which magazine? So the answer is unknown.")
    bm25 = BM25Retriever(small)
    result = Controller(gen, bm25, detector, k=1).run("Which novelist wrote for Arthur's Magazine?")
    assert result.rounds[0].action == "retrieve-before-generation"
    assert result.rounds[0].query == "Which novelist wrote for Arthur's Magazine?"
    assert [p.doc_id for p in result.rounds[0].passages] == ["d3"]  # "novelist", "wrote": the Dickens passage
    assert gen.prompts[0].startswith("Context:\n[1] (Dickens) Charles Dickens was an English novelist.")
    assert result.rounds[1].action == "accept" and len(result.rounds) == 2


def test_round_limit_and_question_queries(small, rules_extractor):
    detector = Detector(DuckDBIndex(small), rules_extractor)
    lie = "Hamlet is a tragedy written by William Shakespeare. Hamlet was written by Charles Dickens."
    queries = []

    def retrieve(query, k):
        queries.append(query)
        return [{"text": "Hamlet is a tragedy written by William Shakespeare.", "title": "Hamlet"}]

    result = Controller(Script(lie, lie, lie), retrieve, detector, max_rounds=3, query="question").run("Who wrote Hamlet?")
    assert [r.action for r in result.rounds[1:]] == ["truncate-and-retrieve", "truncate-and-retrieve", "stop-round-limit"]
    assert queries == ["Who wrote Hamlet?", "Who wrote Hamlet?"]
    assert not result.verified and result.answer.endswith("Charles Dickens.")
    with pytest.raises(UsageError):
        Controller(lambda p: 3, retrieve, detector).run("Who wrote Hamlet?")
    with pytest.raises(UsageError):
        Controller(Script(), retrieve, detector, max_rounds=0)


def test_bm25_matches_the_formula(small):
    r = BM25Retriever(small)
    query = "Dickens English novelist"
    docs = [DuckDBIndex(small).normalizer.tokens(d["text"]) for d in SMALL]
    n, avgdl = len(docs), sum(map(len, docs)) / len(docs)
    expected = {}
    for i, d in enumerate(docs):
        tf, score = Counter(d), 0.0
        for w in ["dickens", "english", "novelist"]:
            df = sum(w in x for x in docs)
            if tf[w]:
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                score += idf * tf[w] * 2.2 / (tf[w] + 1.2 * (1 - 0.75 + 0.75 * len(d) / avgdl))
        if score:
            expected[SMALL[i]["id"]] = round(score, 4)
    got = r(query, 10)
    assert {p.doc_id: p.score for p in got} == pytest.approx(expected, abs=1e-3)
    assert [p.doc_id for p in got] == sorted(expected, key=lambda k: -expected[k])
    assert r("the of and", 3) == []
    with pytest.raises(QueryError):
        r("Dickens", 0)


def test_bm25_needs_stored_text(tmp_path):
    build_index([write_jsonl(tmp_path / "c.jsonl", SMALL)], tmp_path / "i.duckdb", progress=False, store_text=False)
    with pytest.raises(IndexOpenError, match="no-text"):
        BM25Retriever(tmp_path / "i.duckdb")


def test_hook_and_guard(small, rules_extractor):
    detector = Detector(DuckDBIndex(small), rules_extractor)
    assert not hook("Who wrote Hamlet?", detector=detector).retrieve
    assert hook("Who founded Arthur's Magazine?", detector=detector).retrieve
    seen, decisions = [], []

    def generate(prompt):
        seen.append(prompt)
        return "ok"

    def retrieve(query, k):
        return [Passage("Arthur's Magazine was a literary periodical.", title="Arthur's Magazine")]

    guarded = guard(generate, retrieve=retrieve, detector=detector, on_report=lambda r, p: decisions.append(r.retrieve))
    assert guarded("Who wrote Hamlet?") == "ok" and seen[-1] == "Who wrote Hamlet?"
    guarded("Who founded Arthur's Magazine?")
    assert "Context:" in seen[-1] and "literary periodical" in seen[-1] and seen[-1].endswith("Answer:")
    assert decisions == [False, True]

    @guard(retrieve=retrieve, detector=detector)
    def answer(prompt):
        return prompt.upper()

    assert answer("Who wrote Hamlet?") == "WHO WROTE HAMLET?"


def test_langchain_adapter(small, rules_extractor):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnablePassthrough

    from quco.adapters.langchain import GatedRetriever, QucoBM25Retriever, quco_gate

    detector = Detector(DuckDBIndex(small), rules_extractor)
    bm25 = QucoBM25Retriever(index=str(small), k=2)
    gated = GatedRetriever(retriever=bm25, detector=detector)
    assert gated.invoke("Who wrote Hamlet?") == []  # well covered: no retrieval
    docs = gated.invoke("Which novelist visited Elsinore Castle?")  # "Elsinore Castle" is absent: retrieve
    assert docs and docs[0].metadata["title"] == "Dickens" and docs[0].metadata["quco_risk"] > 0.5

    model = FakeListChatModel(responses=["Shakespeare wrote it."])
    prompt = ChatPromptTemplate.from_template("Context: {context}\nQuestion: {question}")
    chain = {"context": gated, "question": RunnablePassthrough()} | prompt | model
    assert chain.invoke("Who wrote Hamlet?").content == "Shakespeare wrote it."
    gate = quco_gate(detector)
    assert gate.invoke({"question": "Who wrote Hamlet?"})["retrieve"] is False
    assert gate.invoke("Which novelist visited Elsinore Castle?")["retrieve"] is True


def test_flashrag_judger(small, rules_extractor):
    from quco.adapters.flashrag import QucoJudger

    class Dataset:  # FlashRAG's Dataset exposes the questions as `.question`
        def __init__(self, questions):
            self.question = questions

    judger = QucoJudger({"judger_name": "quco"}, detector=Detector(DuckDBIndex(small), rules_extractor))
    questions = ["Who wrote Hamlet?", "Who founded Arthur's Magazine?"]
    assert judger.judge(Dataset(questions)) == [False, True]
    assert judger.judge(questions) == [False, True]
    assert judger.judge("Who founded Arthur's Magazine?") == [True]
    assert [r.retrieve for r in judger.judge_reports(questions)] == [False, True] and not hasattr(judger, "last_reports")
    with pytest.raises(TypeError):
        judger.judge(42)
    judger = QucoJudger({"judger_config": {"index": str(small), "model": "rules"}})
    assert judger.judge(questions) == [False, True]


def test_langchain_stage_two_runnable_and_a_closed_gate_you_can_see(small, rules_extractor):
    import asyncio

    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_core.runnables import RunnableLambda

    from quco.adapters.langchain import GatedRetriever, QucoBM25Retriever, quco_verify

    detector = Detector(DuckDBIndex(small), rules_extractor)
    bm25 = QucoBM25Retriever(index=str(small), k=2)
    gated = GatedRetriever(retriever=bm25, detector=detector)
    events = []

    async def collect():
        chain = RunnableLambda(lambda q: gated.invoke(q))
        async for ev in chain.astream_events("Who wrote Hamlet?", version="v2"):
            if ev["event"] == "on_custom_event" and ev["name"] == "quco_gate":
                events.append(ev["data"])

    asyncio.run(collect())
    assert events and events[0]["retrieve"] is False and events[0]["query"] == "Who wrote Hamlet?"
    assert events[0]["report"]["retrieve"] is False  # closed, not "no hits", and plain JSON
    assert not hasattr(gated, "last_report")  # no state shared between calls

    # Stage 2: the first draft pairs Hamlet with Charles Dickens (never together in the corpus):
    # flagged, truncated, retrieved with the claim, regenerated; the second draft is accepted.
    replies = ["Hamlet was written by Charles Dickens.",
               "Hamlet was written by William Shakespeare. So the answer is Shakespeare."]
    verify = quco_verify(FakeListChatModel(responses=replies), bm25, detector, max_rounds=3)
    out = verify.invoke({"question": "Who wrote Hamlet?"})
    actions = [r["action"] for r in out["rounds"]]
    assert actions == ["no-retrieval-needed", "truncate-and-retrieve", "accept"], actions
    assert out["verified"] and out["retrieved"] and out["final_answer"] == "Shakespeare"
    assert out["report"]["draft_checked"] and not out["report"]["retrieve"]
    assert out["rounds"][1]["query"].startswith("Hamlet")
    assert out["answer"] == "Hamlet was written by William Shakespeare. So the answer is Shakespeare."
    assert json.loads(json.dumps(out)) == out  # plain JSON: LangGraph checkpoints and logs take it as is

    # Streaming: a chunk per verified sentence (the flagged one never appears), then the rest;
    # each round is an event. Sync and async give the same chunks, and they add up to invoke's output.
    streamed = list(quco_verify(FakeListChatModel(responses=replies), bm25, detector, max_rounds=3)
                    .stream("Who wrote Hamlet?"))
    assert [c["answer"] for c in streamed[:-1]] == ["Hamlet was written by William Shakespeare.",
                                                   " So the answer is Shakespeare."]
    total = streamed[0]
    for c in streamed[1:]:
        total = total + c
    assert _untimed(total) == _untimed(out)

    async def astream():
        chunks, rounds = [], []
        chain = quco_verify(FakeListChatModel(responses=replies), bm25, detector, max_rounds=3)
        async for ev in chain.astream_events("Who wrote Hamlet?", version="v2"):
            if ev["event"] == "on_custom_event" and ev["name"] == "quco_round":
                rounds.append(ev["data"]["action"])
            elif ev["event"] == "on_chain_stream" and ev["name"] == "quco_verify":
                chunks.append(ev["data"]["chunk"])
        return chunks, rounds

    chunks, rounds = asyncio.run(astream())
    assert _untimed(chunks) == _untimed(streamed) and rounds == actions
    assert asyncio.run(gated.ainvoke("Who wrote Hamlet?")) == []
    gate = asyncio.run(__import__("quco.adapters.langchain", fromlist=["quco_gate"]).quco_gate(detector)
                       .ainvoke("Which novelist visited Elsinore Castle?"))
    assert gate["retrieve"] is True and json.dumps(gate)


def _untimed(value):
    """``value`` without its timings (which differ between two runs of the same decision)."""
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if k != "timings_ms"}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


def test_llamaindex_gated_retriever_and_verified_query_engine(small, rules_extractor):
    pytest.importorskip("llama_index.core", reason="LlamaIndex is optional (installed by the test set-up)")
    import asyncio

    from llama_index.core import Document, Settings, VectorStoreIndex
    from llama_index.core.embeddings import MockEmbedding
    from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata

    from quco.adapters.llamaindex import GatedRetriever, VerifiedQueryEngine

    class Scripted(CustomLLM):
        replies: list = []
        prompts: list = []

        @property
        def metadata(self):
            return LLMMetadata()

        def complete(self, prompt, formatted=False, **kw):
            self.prompts.append(prompt)
            return CompletionResponse(text=self.replies.pop(0))

        def stream_complete(self, prompt, formatted=False, **kw):
            text = self.complete(prompt).text
            for k in range(0, len(text), 7):  # a few tokens at a time, as a streaming model gives them
                yield CompletionResponse(text=text[: k + 7], delta=text[k : k + 7])

    detector = Detector(DuckDBIndex(small), rules_extractor)
    llm = Scripted(replies=["Hamlet was written by Charles Dickens.", "Hamlet was written by William Shakespeare."])
    Settings.embed_model = MockEmbedding(embed_dim=8)
    index = VectorStoreIndex.from_documents([Document(text=d["text"], metadata={"title": d["title"]}) for d in SMALL])
    gated = GatedRetriever(index.as_retriever(similarity_top_k=2), detector)
    closed = gated.retrieve("Who wrote Hamlet?")  # well covered: the gate is closed, and says so
    assert len(closed) == 1 and closed[0].node.text == "" and closed[0].node.metadata["quco_gate"] == "closed"
    assert closed[0].node.metadata["quco_report"]["retrieve"] is False and not hasattr(gated, "last_report")
    nodes = gated.retrieve("Which novelist visited Elsinore Castle?")
    assert len(nodes) == 2 and nodes[0].node.metadata["quco_risk"] > 0.5
    assert [n.node.text for n in asyncio.run(gated.aretrieve("Which novelist visited Elsinore Castle?"))] == \
        [n.node.text for n in nodes]

    # A standard engine over the gate: closed, the model answers without context (not "Empty Response")
    from llama_index.core.query_engine import RetrieverQueryEngine

    llm.replies = ["Shakespeare."]
    answer = RetrieverQueryEngine.from_args(gated, llm=llm).query("Who wrote Hamlet?")
    assert str(answer) == "Shakespeare." and answer.source_nodes[0].node.metadata["quco_gate"] == "closed"
    assert "quco_report" not in llm.prompts[-1] and "Hamlet is a tragedy" not in llm.prompts[-1]
    json.dumps(answer.source_nodes[0].node.metadata)

    llm.replies = ["Hamlet was written by Charles Dickens.", "Hamlet was written by William Shakespeare."]
    engine = VerifiedQueryEngine(query_engine=index.as_query_engine(llm=llm, similarity_top_k=2), detector=detector)
    response = engine.query("Who wrote Hamlet?")
    assert str(response) == "Hamlet was written by William Shakespeare."
    assert response.metadata["quco_verified"] and response.metadata["quco_rounds"] == 2
    assert "Hamlet" in llm.prompts[-1] and "Charles Dickens" not in str(response)
    json.dumps(response.metadata["quco_report"])

    llm.replies = ["Hamlet was written by Charles Dickens.", "Hamlet was written by William Shakespeare."]
    aresponse = asyncio.run(engine.aquery("Who wrote Hamlet?"))
    assert str(aresponse) == str(response) and aresponse.metadata["quco_rounds"] == 2

    # A streaming engine stays streaming: the verified answer a sentence at a time
    llm.replies = ["Hamlet was written by Charles Dickens. It is a tragedy.",
                   "Hamlet was written by William Shakespeare. It is a tragedy."]
    streaming = VerifiedQueryEngine(query_engine=index.as_query_engine(llm=llm, similarity_top_k=2, streaming=True),
                                    detector=detector)
    streamed = streaming.query("Who wrote Hamlet?")
    assert hasattr(streamed, "response_gen") and streamed.metadata["quco_verified"]
    assert list(streamed.response_gen) == ["Hamlet was written by William Shakespeare.", " It is a tragedy."]


def test_flashrag_pipelines_with_the_real_package(small, rules_extractor, tmp_path):
    pytest.importorskip("flashrag", reason="flashrag-dev is installed by the test set-up (without torch)")
    from flashrag_shim import flashrag_imported

    with flashrag_imported() as (_, mocked):  # transformers, when absent: see tests/flashrag_shim.py
        _flashrag_pipelines(small, rules_extractor, tmp_path, mocked)
    import sys

    assert "transformers" not in sys.modules or "transformers" not in mocked  # nothing mocked is left behind


def test_flashrag_active_pipeline_needs_no_transformers(small, rules_extractor, tmp_path):
    """quco's own FlashRAG path runs on FlashRAG's Dataset and Evaluator with no shim: the install
    the README gives (flashrag-dev without its dependencies) is enough; FlashRAG's own conditional
    pipeline says in one line what it needs instead of failing deep in an import."""
    pytest.importorskip("flashrag", reason="flashrag-dev is installed by the test set-up (without torch)")
    import importlib.util
    import sys

    from flashrag.dataset import Dataset
    from flashrag.dataset.dataset import Item

    from quco.adapters.flashrag import quco_active_pipeline, quco_conditional_pipeline

    class Generator:
        def __init__(self, replies):
            self.replies = list(replies)

        def generate(self, inputs, **kw):
            return [self.replies.pop(0) for _ in inputs]

    class Retriever:
        def search(self, query, num=None, return_score=False):
            return [{"id": d["id"], "contents": d["text"]} for d in SMALL if "Hamlet" in d["text"]][: num or 3]

    config = {"dataset_name": "t", "metrics": ["em"], "save_dir": str(tmp_path), "save_metric_score": False,
              "save_intermediate_data": False}
    items = [Item({"id": "1", "question": "Who wrote Hamlet?", "golden_answers": ["Shakespeare"]})]
    pipe = quco_active_pipeline(config, detector=Detector(DuckDBIndex(small), rules_extractor), retriever=Retriever(),
                                generator=Generator(["Hamlet was written by Charles Dickens.",
                                                     "Hamlet was written by William Shakespeare. So the answer is Shakespeare."]))
    done = pipe.run(Dataset(config, data=items), do_eval=True, pred_process_fun=str.lower)
    assert done.pred == ["shakespeare"] and done.raw_pred == ["Shakespeare"] and done.quco_verified == [True]
    assert pipe.eval_result["em"] == 1.0
    if importlib.util.find_spec("transformers") is None:
        assert "transformers" not in sys.modules
        with pytest.raises(UsageError, match="full install .*transformers"):
            quco_conditional_pipeline(config, detector=Detector(DuckDBIndex(small), rules_extractor))


def _flashrag_pipelines(small, rules_extractor, tmp_path, mocked):
    from flashrag.dataset import Dataset
    from flashrag.dataset.dataset import Item

    from quco.adapters.flashrag import QucoJudger, quco_active_pipeline, quco_conditional_pipeline

    class Generator:  # FlashRAG's generator interface: generate(list of prompts) -> list of texts
        def __init__(self, replies):
            self.replies, self.prompts = list(replies), []

        def generate(self, inputs, **kw):
            self.prompts += list(inputs)
            return [self.replies.pop(0) for _ in inputs]

    class Retriever:  # FlashRAG's retriever interface: search / batch_search -> documents
        def search(self, query, num=None, return_score=False):
            return [{"id": d["id"], "contents": d["text"]} for d in SMALL if any(
                w.lower() in d["text"].lower() for w in query.split() if len(w) > 3)][: num or 3]

        def batch_search(self, queries, num=None, return_score=False):
            return [self.search(q, num) for q in queries]

    config = {"device": "cpu", "save_retrieval_cache": False, "dataset_name": "t", "judger_name": "quco",
              "framework": "hf", "generator_max_input_len": 1024, "generator_model_path": "none",
              "metrics": ["em"], "save_dir": str(tmp_path), "save_metric_score": False, "save_intermediate_data": False,
              "use_fid": False, "refiner_name": None}
    items = [Item({"id": "1", "question": "Who wrote Hamlet?", "golden_answers": ["Shakespeare"]}),
             Item({"id": "2", "question": "Which novelist visited Elsinore Castle?", "golden_answers": ["Dickens"]})]
    detector = Detector(DuckDBIndex(small), rules_extractor)
    pipe = quco_conditional_pipeline(config, detector=detector, retriever=Retriever(),
                                     generator=Generator(["Shakespeare.", "Dickens."]))
    assert isinstance(pipe.judger, QucoJudger)  # installed without FlashRAG's get_judger
    out = pipe.run(Dataset(config, data=items), do_eval=False)
    assert out.judge_result == [False, True] and sorted(out.pred) == ["Dickens.", "Shakespeare."]
    assert [r["retrieve"] for r in out.quco_report] == [False, True]  # each decision travels with its item

    generator = Generator(["Hamlet was written by Charles Dickens.",
                           "Hamlet was written by William Shakespeare. So the answer is Shakespeare."])
    active = quco_active_pipeline(config, detector=detector, retriever=Retriever(), generator=generator)
    done = active.run(Dataset(config, data=items[:1]), do_eval=False)
    assert done.pred == ["Shakespeare"] and done.quco_verified == [True]
    assert done.quco_rounds[0] == ["no-retrieval-needed", "truncate-and-retrieve", "accept"]
    assert "Hamlet is a tragedy" in generator.prompts[1]  # regenerated with the retrieved evidence
    assert set(mocked) <= {"transformers", "torch", "tiktoken"}


def test_langgraph_branches_on_the_gate_and_checkpoints_its_decision(small, rules_extractor):
    """A LangGraph graph routes on ``quco_gate`` and keeps its output in a checkpointed state: the
    decision is plain JSON, so the checkpoint holds it and a later step reads it back."""
    pytest.importorskip("langgraph", reason="LangGraph is installed by the test set-up")
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    from quco.adapters.langchain import quco_gate

    class State(TypedDict, total=False):
        question: str
        gate: dict
        path: str

    gate = quco_gate(Detector(DuckDBIndex(small), rules_extractor))
    graph = StateGraph(State)
    graph.add_node("gate", lambda s: {"gate": gate.invoke(s["question"])})
    graph.add_node("retrieve", lambda s: {"path": "retrieved"})
    graph.add_node("answer", lambda s: {"path": "answered"})
    graph.add_edge(START, "gate")
    graph.add_conditional_edges("gate", lambda s: "retrieve" if s["gate"]["retrieve"] else "answer")
    graph.add_edge("retrieve", END)
    graph.add_edge("answer", END)
    app = graph.compile(checkpointer=InMemorySaver())
    for n, (question, path) in enumerate([("Who wrote Hamlet?", "answered"),
                                          ("Which novelist visited Elsinore Castle?", "retrieved")]):
        config = {"configurable": {"thread_id": str(n)}}
        out = app.invoke({"question": question}, config)
        assert out["path"] == path
        saved = app.get_state(config).values["gate"]
        assert saved == out["gate"] and json.loads(json.dumps(saved)) == saved
        assert saved["report"]["question"] == question

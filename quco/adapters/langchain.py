"""LangChain adapters (extra ``quco[langchain]``): retrieve only when quco says so.

Every output is plain JSON (a report is its ``to_dict()``), and each call's decision travels with
its own output or event — nothing is kept on the object between calls. Each runnable has its
async and streaming forms (``ainvoke``, ``astream``, ``astream_events``), which never block the
event loop.

* ``GatedRetriever(retriever=..., detector=...)``: a retriever that returns no documents unless
  stage 1 fires for the query; the documents it does return carry the report's risk and reasons.
  A closed gate is told apart from "no hits" by the custom event ``quco_gate`` ({"query",
  "retrieve", "risk", "report"}), dispatched on every call (seen by ``astream_events`` and callback
  handlers), or by branching on ``quco_gate`` instead.
* ``quco_verify(llm, retriever, detector=...)``: stage 2 as a runnable — QuCo-RAG's loop around any
  chat model: generate, check the draft, and on a flagged sentence truncate there, retrieve with
  the claim and regenerate; ``{"question"} -> {"answer", "final_answer", "verified", "retrieved",
  "report", "rounds"}``. Streamed, it gives ``{"answer": <sentence>}`` once each sentence is
  verified, then the other keys; each round (a flag and its retrieval) is a ``quco_round`` event.
* ``QucoBM25Retriever(index=...)``: quco's built-in BM25 over a DuckDB index, as a LangChain retriever.
* ``quco_gate(detector)``: a runnable ``question -> {"question", "retrieve", "risk", "report"}``
  for branching chains (e.g. with ``RunnableBranch``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.callbacks.manager import adispatch_custom_event, dispatch_custom_event
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableGenerator, RunnableLambda
from langchain_core.runnables.utils import AddableDict
from pydantic import ConfigDict


def _detector(detector):
    if detector is not None:
        return detector
    from quco.rag.pregen import default_detector

    return default_detector()


class GatedRetriever(BaseRetriever):
    """Wraps any LangChain retriever (or runnable returning documents) behind quco's stage-1 check."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    retriever: Any
    detector: Any = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        report = _detector(self.detector).check_question(query)
        _tell(dispatch_custom_event, _gate_event(query, report))
        return _with_risk(self.retriever.invoke(query), report) if report.retrieve else []

    async def _aget_relevant_documents(self, query: str, *,
                                       run_manager: AsyncCallbackManagerForRetrieverRun) -> list[Document]:
        report = await _detector(self.detector).acheck_question(query)
        await _atell(_gate_event(query, report))
        return _with_risk(await self.retriever.ainvoke(query), report) if report.retrieve else []


def _gate_event(query: str, report) -> dict:
    return {"query": query, "retrieve": report.retrieve, "risk": report.risk, "report": report.to_dict()}


def _tell(dispatch, data: dict, name: str = "quco_gate") -> None:
    try:
        dispatch(name, data)
    except RuntimeError:  # called outside a runnable context: no one to tell
        pass


async def _atell(data: dict, name: str = "quco_gate") -> None:
    try:
        await adispatch_custom_event(name, data)
    except RuntimeError:  # called outside a runnable context: no one to tell
        pass


def _with_risk(docs, report) -> list[Document]:
    return [Document(page_content=d.page_content, metadata={**d.metadata, "quco_risk": report.risk,
                                                             "quco_reasons": list(report.reasons)}) for d in docs]


class QucoBM25Retriever(BaseRetriever):
    """BM25 over the passages of a quco DuckDB index."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    index: Any  # path to the index, or a quco.rag.retrieve.BM25Retriever
    k: int = 3

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        from quco.rag.retrieve import BM25Retriever

        if not isinstance(self.index, BM25Retriever):
            self.index = BM25Retriever(self.index)
        return [Document(page_content=p.text, metadata={"title": p.title, "doc_id": p.doc_id, "score": p.score})
                for p in self.index.retrieve(query, self.k)]


def quco_gate(detector=None) -> RunnableLambda:
    def out(question: str, report) -> dict:
        return {"question": question, "retrieve": report.retrieve, "risk": report.risk, "report": report.to_dict()}

    def gate(inputs) -> dict:
        question = _question(inputs)
        return out(question, _detector(detector).check_question(question))

    async def agate(inputs) -> dict:
        question = _question(inputs)
        return out(question, await _detector(detector).acheck_question(question))

    return RunnableLambda(gate, afunc=agate, name="quco_gate")


def quco_verify(llm, retriever, detector=None, *, max_rounds: int = 4, k: int = 3, prompt=None) -> RunnableGenerator:
    """Stage 2 in LCEL: the ``quco.Controller`` loop with a LangChain chat model (or any runnable
    returning a message or text) and a LangChain retriever (or runnable returning documents).

    Input: a question, or ``{"question": ...}``. Output: ``{"question", "answer", "final_answer",
    "verified", "retrieved", "report", "rounds"}`` where ``report`` is the last report's
    ``to_dict()`` and ``rounds`` records every generate / check / truncate-and-retrieve step.
    Streamed: ``{"answer": <sentence>}`` chunks as sentences are verified, then one chunk with the
    other keys (the chunks add up to the output); a ``quco_round`` event per round."""
    from quco.rag.controller import Controller, default_prompt
    from quco.rag.retrieve import Passage

    def text_of(out) -> str:
        return out.content if hasattr(out, "content") else str(out)

    def passages(docs, n: int) -> list[Passage]:
        return [Passage(text=d.page_content, title=d.metadata.get("title"), doc_id=d.metadata.get("doc_id"))
                for d in docs[:n]]

    def controller(generate, retrieve) -> Controller:
        return Controller(generate, retrieve, _detector(detector), max_rounds=max_rounds, k=k,
                          prompt=prompt or default_prompt)

    def transform(inputs: Iterator) -> Iterator[AddableDict]:
        ctl = controller(lambda text: text_of(llm.invoke(text)), lambda q, n: passages(retriever.invoke(q), n))
        for question in map(_question, inputs):
            for event in ctl.stream(question):
                if event.round is not None:
                    _tell(dispatch_custom_event, event.round.to_dict(), "quco_round")
                if (chunk := _chunk(event)) is not None:
                    yield chunk

    async def atransform(inputs: AsyncIterator) -> AsyncIterator[AddableDict]:
        async def generate(text: str) -> str:
            return text_of(await llm.ainvoke(text))

        async def retrieve(query: str, n: int) -> list[Passage]:
            return passages(await retriever.ainvoke(query), n)

        ctl = controller(generate, retrieve)
        async for item in inputs:
            async for event in ctl.astream(_question(item)):
                if event.round is not None:
                    await _atell(event.round.to_dict(), "quco_round")
                if (chunk := _chunk(event)) is not None:
                    yield chunk

    return RunnableGenerator(transform, atransform, name="quco_verify")


def _question(inputs) -> str:
    return inputs if isinstance(inputs, str) else inputs["question"]


def _chunk(event) -> AddableDict | None:
    """A stream event as an output chunk: verified text under "answer", the result's other keys last
    (with an empty "answer", so that an empty answer still has its key)."""
    if event.kind == "text":
        return AddableDict(answer=event.text)
    if event.kind != "result":
        return None
    result = event.result
    last = next((r.report for r in reversed(result.rounds) if r.report is not None), None)
    return AddableDict(answer="", question=result.question, final_answer=result.final_answer, verified=result.verified,
                       retrieved=result.retrieved, report=None if last is None else last.to_dict(),
                       rounds=[r.to_dict() for r in result.rounds])

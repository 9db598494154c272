"""LangChain adapters (extra ``quco[langchain]``): retrieve only when quco says so.

* ``GatedRetriever(retriever=..., detector=...)``: a retriever that returns no documents unless
  stage 1 fires for the query; the documents it does return carry the report's risk. A closed
  gate is told apart from "no hits": ``last_report`` holds the decision, and a custom callback
  event ``quco_gate`` ({"query", "retrieve", "risk"}) is dispatched on every call (seen by
  ``astream_events`` and callback handlers).
* ``quco_verify(llm, retriever, detector=...)``: stage 2 as a runnable — QuCo-RAG's loop around any
  chat model: generate, check the draft, and on a flagged sentence truncate there, retrieve with
  the claim and regenerate; ``{"question"} -> {"answer", "verified", "retrieved", "report",
  "rounds"}``.
* ``QucoBM25Retriever(index=...)``: quco's built-in BM25 over a DuckDB index, as a LangChain retriever.
* ``quco_gate(detector)``: a runnable ``question -> {"question", "retrieve", "risk", "report"}``
  for branching chains (e.g. with ``RunnableBranch``).
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda
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
    last_report: Any = None  # the RiskReport of the latest query: retrieve False means the gate was closed

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        report = _detector(self.detector).check_question(query)
        self.last_report = report
        try:
            from langchain_core.callbacks.manager import dispatch_custom_event

            dispatch_custom_event("quco_gate", {"query": query, "retrieve": report.retrieve, "risk": report.risk})
        except RuntimeError:  # called outside a runnable context: no one to tell
            pass
        if not report.retrieve:
            return []
        docs = self.retriever.invoke(query)
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
    def gate(inputs) -> dict:
        question = inputs if isinstance(inputs, str) else inputs["question"]
        report = _detector(detector).check_question(question)
        return {"question": question, "retrieve": report.retrieve, "risk": report.risk, "report": report}

    return RunnableLambda(gate, name="quco_gate")


def quco_verify(llm, retriever, detector=None, *, max_rounds: int = 4, k: int = 3, prompt=None) -> RunnableLambda:
    """Stage 2 in LCEL: the ``quco.Controller`` loop with a LangChain chat model (or any runnable
    returning a message or text) and a LangChain retriever (or runnable returning documents).

    Input: a question, or ``{"question": ...}``. Output: ``{"question", "answer", "final_answer",
    "verified", "retrieved", "report", "rounds"}`` where ``report`` is the last ``RiskReport`` and
    ``rounds`` records every generate / check / truncate-and-retrieve step."""
    from quco.rag.controller import Controller, default_prompt
    from quco.rag.retrieve import Passage

    def generate(text: str) -> str:
        out = llm.invoke(text)
        return out.content if hasattr(out, "content") else str(out)

    def retrieve(query: str, n: int) -> list[Passage]:
        docs = retriever.invoke(query)[:n]
        return [Passage(text=d.page_content, title=d.metadata.get("title"), doc_id=d.metadata.get("doc_id"))
                for d in docs]

    def run(inputs) -> dict:
        question = inputs if isinstance(inputs, str) else inputs["question"]
        controller = Controller(generate, retrieve, _detector(detector), max_rounds=max_rounds, k=k,
                                prompt=prompt or default_prompt)
        result = controller.run(question)
        last = next((r.report for r in reversed(result.rounds) if r.report is not None), None)
        return {"question": question, "answer": result.answer, "final_answer": result.final_answer,
                "verified": result.verified, "retrieved": result.retrieved, "report": last,
                "rounds": [r.to_dict() for r in result.rounds]}

    return RunnableLambda(run, name="quco_verify")

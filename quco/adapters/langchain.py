"""LangChain adapters (extra ``quco[langchain]``): retrieve only when quco says so.

* ``GatedRetriever(retriever=..., detector=...)``: a retriever that returns no documents unless
  stage 1 fires for the query; the documents it does return carry the report's risk.
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
    from ..pregen import default_detector

    return default_detector()


class GatedRetriever(BaseRetriever):
    """Wraps any LangChain retriever (or runnable returning documents) behind quco's stage-1 check."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    retriever: Any
    detector: Any = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        report = _detector(self.detector).check_question(query)
        if not report.retrieve:
            return []
        docs = self.retriever.invoke(query)
        return [Document(page_content=d.page_content, metadata={**d.metadata, "quco_risk": report.risk,
                                                                 "quco_reasons": list(report.reasons)}) for d in docs]


class QucoBM25Retriever(BaseRetriever):
    """BM25 over the passages of a quco DuckDB index."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    index: Any  # path to the index, or a quco.retrieve.BM25Retriever
    k: int = 3

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        from ..retrieve import BM25Retriever

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

"""LlamaIndex adapters (``pip install llama-index-core``): both QuCo-RAG stages in a LlamaIndex app.

Each call's decision travels with its own result (node or response metadata, plain JSON); nothing
is kept on the object between calls. Sync and async (``aretrieve``, ``aquery``) give the same.

* ``GatedRetriever(retriever, detector)``: a retriever that retrieves only when stage 1 fires for
  the query; the nodes it returns carry ``quco_risk`` in their metadata. When the gate is closed it
  returns one empty node whose metadata holds the decision (``quco_gate: "closed"`` and the
  report): a standard ``RetrieverQueryEngine`` then answers from the model alone, without context,
  instead of "Empty Response", and the response's ``source_nodes`` say why.
* ``VerifiedQueryEngine(query_engine, detector)``: runs any query engine, checks the answer with
  stage 2, and when a sentence's claim is flagged, queries again with the question plus the flagged
  claim (so the engine's retriever fetches evidence for it) — up to ``max_rounds`` times. The
  response's metadata carries ``quco_report`` (the last report, as a dict), ``quco_verified`` and
  ``quco_rounds``. A streaming engine stays streaming: the response is a ``StreamingResponse``
  whose generator gives the verified answer a sentence at a time (the answer is read and checked
  whole before its first sentence is given: a flagged sentence is never shown).

LlamaIndex is imported only here, when this module is used.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.response.schema import Response, StreamingResponse
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from pydantic import ConfigDict, Field

from quco.rag.loop import sentence_chunks


def _detector(detector):
    if detector is not None:
        return detector
    from quco.rag.pregen import default_detector

    return default_detector()


class GatedRetriever(BaseRetriever):
    """Retrieve with ``retriever`` only when quco's stage 1 says the question needs it."""

    def __init__(self, retriever: BaseRetriever, detector=None, **kwargs):
        super().__init__(**kwargs)
        self._inner = retriever
        self._detector = detector

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        report = _detector(self._detector).check_question(query_bundle.query_str)
        return _marked(self._inner.retrieve(query_bundle), report) if report.retrieve else [_closed(report)]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        report = await _detector(self._detector).acheck_question(query_bundle.query_str)
        return _marked(await self._inner.aretrieve(query_bundle), report) if report.retrieve else [_closed(report)]


def _marked(nodes: list[NodeWithScore], report) -> list[NodeWithScore]:
    for n in nodes:
        n.node.metadata["quco_risk"] = report.risk
    return nodes


_DECISION_KEYS = ["quco_gate", "quco_risk", "quco_report"]


def _closed(report) -> NodeWithScore:
    """The closed gate as a node: no text (the model answers without context), the decision in
    metadata that neither the model nor an embedding ever sees."""
    node = TextNode(text="", metadata={"quco_gate": "closed", "quco_risk": report.risk, "quco_report": report.to_dict()},
                    excluded_llm_metadata_keys=_DECISION_KEYS, excluded_embed_metadata_keys=_DECISION_KEYS)
    return NodeWithScore(node=node, score=None)


class VerifiedQueryEngine(CustomQueryEngine):
    """Stage 2 around any LlamaIndex query engine (see the module docstring)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    query_engine: Any
    detector: Any = None
    max_rounds: int = Field(default=2, ge=1)

    def custom_query(self, query_str: str) -> Response | StreamingResponse:
        detector = _detector(self.detector)
        query, rounds, report, response, text = query_str, 0, None, None, ""
        while rounds < self.max_rounds:
            rounds += 1
            response = self.query_engine.query(query)
            text = str(response)  # a streaming response is read to its end: the whole answer is checked
            report = detector.check_draft(query_str, text)
            if report.flagged is None:
                break
            query = _requery(query_str, report)
        metadata = _metadata(response, report, rounds)
        if isinstance(response, StreamingResponse):
            return StreamingResponse(response_gen=(chunk for chunk in sentence_chunks(text)), source_nodes=_sources(response),
                                     metadata=metadata)
        return Response(response=text, source_nodes=_sources(response), metadata=metadata)

    async def acustom_query(self, query_str: str) -> Response:
        detector = _detector(self.detector)
        query, rounds, report, response, text = query_str, 0, None, None, ""
        while rounds < self.max_rounds:
            rounds += 1
            response = await self.query_engine.aquery(query)
            text = await _atext(response)
            report = await detector.acheck_draft(query_str, text)
            if report.flagged is None:
                break
            query = _requery(query_str, report)
        return Response(response=text, source_nodes=_sources(response), metadata=_metadata(response, report, rounds))


def _requery(question: str, report) -> str:
    flagged = report.flagged
    claim = flagged.triplet.query if flagged.triplet is not None else (report.suggested_query or "")
    return f"{question} {claim}".strip()


def _metadata(response, report, rounds: int) -> dict:
    metadata = dict(getattr(response, "metadata", None) or {})
    metadata.update({"quco_report": None if report is None else report.to_dict(),
                     "quco_verified": report is not None and report.flagged is None, "quco_rounds": rounds})
    return metadata


def _sources(response) -> list:
    return list(getattr(response, "source_nodes", []) or [])


async def _atext(response) -> str:
    gen = getattr(response, "async_response_gen", None)
    if callable(gen):  # an async streaming response: read it to its end
        return "".join([token async for token in gen()])
    return str(response)

"""LlamaIndex adapters (``pip install llama-index-core``): both QuCo-RAG stages in a LlamaIndex app.

* ``GatedRetriever(retriever, detector)``: a retriever that retrieves only when stage 1 fires for
  the query; the nodes it returns carry ``quco_risk`` in their metadata. When the gate is closed it
  returns no nodes and ``last_report`` says why (retrieve False), so "closed" is not "no hits".
* ``VerifiedQueryEngine(query_engine, detector)``: runs any query engine, checks the answer with
  stage 2, and when a sentence's claim is flagged, queries again with the question plus the flagged
  claim (so the engine's retriever fetches evidence for it) — up to ``max_rounds`` times. The
  response's metadata carries ``quco_report`` (the last ``RiskReport``), ``quco_verified`` and
  ``quco_rounds``.

LlamaIndex is imported only here, when this module is used.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.response.schema import Response
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle
from pydantic import ConfigDict, Field


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
        self.last_report = None

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        report = _detector(self._detector).check_question(query_bundle.query_str)
        self.last_report = report
        if not report.retrieve:
            return []
        nodes = self._inner.retrieve(query_bundle)
        for n in nodes:
            n.node.metadata["quco_risk"] = report.risk
        return nodes


class VerifiedQueryEngine(CustomQueryEngine):
    """Stage 2 around any LlamaIndex query engine (see the module docstring)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    query_engine: Any
    detector: Any = None
    max_rounds: int = Field(default=2, ge=1)

    def custom_query(self, query_str: str) -> Response:
        detector = _detector(self.detector)
        query, rounds, report, response = query_str, 0, None, None
        while rounds < self.max_rounds:
            rounds += 1
            response = self.query_engine.query(query)
            report = detector.check_draft(query_str, str(response))
            flagged = report.flagged
            if flagged is None:
                break
            claim = flagged.triplet.query if flagged.triplet is not None else (report.suggested_query or "")
            query = f"{query_str} {claim}".strip()
        metadata = dict(getattr(response, "metadata", None) or {})
        metadata.update({"quco_report": report, "quco_verified": report is not None and report.flagged is None,
                         "quco_rounds": rounds})
        return Response(response=str(response), source_nodes=list(getattr(response, "source_nodes", []) or []),
                        metadata=metadata)

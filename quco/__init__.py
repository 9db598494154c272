"""quco: decide when an LLM must retrieve, from pretraining-corpus statistics (QuCo-RAG)."""

from __future__ import annotations

__version__ = "0.2.1"

# Public names resolve lazily so `import quco` stays cheap (no spaCy, DuckDB or NumPy).
_LAZY = {
    "Detector": ("quco.detector", "Detector"),
    "RiskReport": ("quco.report", "RiskReport"),
    "Thresholds": ("quco.trigger", "Thresholds"),
    "DuckDBIndex": ("quco.backends.duckdb_index", "DuckDBIndex"),
    "build_index": ("quco.backends.duckdb_build", "build_index"),
    "Extractor": ("quco.extract", "Extractor"),
    "Normalizer": ("quco.normalize", "Normalizer"),
    "QucoError": ("quco.errors", "QucoError"),
    "hook": ("quco.pregen", "hook"),
    "score": ("quco.batch.scoring", "score"),
    "evaluate": ("quco.batch.evaluation", "evaluate"),
    "Calibration": ("quco.calibration", "Calibration"),
    "AnswerScorer": ("quco.answer", "AnswerScorer"),
    "guard": ("quco.pregen", "guard"),
    "Controller": ("quco.controller", "Controller"),
    "Passage": ("quco.retrieve", "Passage"),
    "BM25Retriever": ("quco.retrieve", "BM25Retriever"),
    "report_schema": ("quco.batch.scoring", "report_schema"),
    "MmapIndex": ("quco.index.mmap_query", "MmapIndex"),
    "ShardedBackend": ("quco.shard.sharded", "ShardedBackend"),
    "AuditLog": ("quco.service.audit", "AuditLog"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'quco' has no attribute {name!r}")

"""quco: decide when an LLM must retrieve, from pretraining-corpus statistics (QuCo-RAG)."""

from __future__ import annotations

__version__ = "0.2.1"

# Public names resolve lazily so `import quco` stays cheap (no spaCy, DuckDB or NumPy).
_LAZY = {
    "Detector": ("quco.decide.detector", "Detector"),
    "RiskReport": ("quco.decide.report", "RiskReport"),
    "Thresholds": ("quco.decide.trigger", "Thresholds"),
    "DuckDBIndex": ("quco.index.duckdb.reader", "DuckDBIndex"),
    "build_index": ("quco.index.duckdb.build", "build_index"),
    "Extractor": ("quco.extract", "Extractor"),
    "Normalizer": ("quco.normalize", "Normalizer"),
    "QucoError": ("quco.errors", "QucoError"),
    "hook": ("quco.rag.pregen", "hook"),
    "ahook": ("quco.rag.pregen", "ahook"),
    "score": ("quco.batch.api", "score"),
    "evaluate": ("quco.batch.api", "evaluate"),
    "Calibration": ("quco.decide.calibration", "Calibration"),
    "AnswerScorer": ("quco.decide.answer", "AnswerScorer"),
    "guard": ("quco.rag.pregen", "guard"),
    "Controller": ("quco.rag.controller", "Controller"),
    "Passage": ("quco.rag.retrieve", "Passage"),
    "BM25Retriever": ("quco.rag.retrieve", "BM25Retriever"),
    "report_schema": ("quco.batch.rows", "report_schema"),
    "MmapIndex": ("quco.index.mmap.reader", "MmapIndex"),
    "ShardedBackend": ("quco.backends.sharded", "ShardedBackend"),
    "AuditLog": ("quco.audit.log", "AuditLog"),
    "open_backend": ("quco.index.open", "open_backend"),
    "load_settings": ("quco.config", "load_settings"),
    "ScoreOptions": ("quco.batch.scoring", "ScoreOptions"),
    "Reward": ("quco.reward.core", "Reward"),
    "open_reward": ("quco.reward", "open_reward"),
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

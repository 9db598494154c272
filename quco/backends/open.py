"""Open a local index by path: a file is a DuckDB index, a directory an infini-gram index."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError, IndexOpenError
from ..normalize import Normalizer
from .base import CountBackend

LOCAL_BACKENDS = ("auto", "duckdb", "infinigram-local")


def open_backend(
    index: str | os.PathLike,
    *,
    backend: str = "auto",
    require: Normalizer | None = None,
    cooccur: str = "exact",
    tokenizer: str | None = None,
    token_dtype: str | None = None,
) -> CountBackend:
    if backend not in LOCAL_BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(LOCAL_BACKENDS)} for a local index, not {backend!r}")
    path = Path(index)
    if backend == "auto":
        if not path.exists():
            raise IndexOpenError(f"{path}: index not found (build one with `quco index build SRC... --out {path}`)")
        backend = "infinigram-local" if path.is_dir() else "duckdb"
    if backend == "duckdb":
        from .duckdb_index import DuckDBIndex

        return DuckDBIndex(path, require=require)
    from .infinigram_local import InfiniGramLocal

    encode = hf_encoder(tokenizer) if tokenizer else None
    return InfiniGramLocal(path, require=require, cooccur=cooccur, encode=encode, token_dtype=token_dtype)


def hf_encoder(name: str):
    """Token ids for an index built elsewhere with a Hugging Face tokenizer ("hf:NAME")."""
    if not name.startswith("hf:"):
        raise ConfigError(f"tokenizer must be 'hf:<name or path>', not {name!r}")
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise ConfigError("a token-level index needs `transformers` for its tokenizer: pip install transformers") from None
    try:
        tok = AutoTokenizer.from_pretrained(name[3:], add_bos_token=False, add_eos_token=False)
    except Exception as exc:  # network, missing files: one line for the user
        raise ConfigError(f"cannot load tokenizer {name[3:]!r}: {exc}") from None
    return lambda text: tok.encode(text, add_special_tokens=False)

"""Every DuckDB connection quco opens, configured once.

DuckDB's Python client draws a progress bar on *stdout* for queries that run longer than two
seconds (loading a large index, writing a large Parquet file). quco's stdout carries JSON and
scored rows, so the bar is always off. (It is a per-connection setting, not a ``config`` key.)
"""

from __future__ import annotations

from typing import Any


def connect(database: str = ":memory:", *, read_only: bool = False, **config: Any) -> Any:
    """A DuckDB connection (``duckdb.DuckDBPyConnection``) with quco's settings."""
    import duckdb

    con = duckdb.connect(database, read_only=read_only, config=config)
    con.execute("SET enable_progress_bar = false")
    return con

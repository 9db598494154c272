"""The embedded DuckDB n-gram index (the default format)."""

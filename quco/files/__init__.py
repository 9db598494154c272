"""Ground files: corpus sources, the output rule, atomic build directories, DuckDB connections."""

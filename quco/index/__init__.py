"""Local index formats, one folder each (identity, build, reader), and ``open``: the one table of formats."""

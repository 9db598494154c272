"""Index formats that scale past RAM: the segmented, memory-mapped positional index."""

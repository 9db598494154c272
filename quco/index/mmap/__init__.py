"""The memory-mapped, segmented positional index (scales past RAM; `--backend mmap`)."""

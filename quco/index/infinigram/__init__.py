"""Byte-level infini-gram suffix-array indexes (extra `quco[infinigram]`)."""

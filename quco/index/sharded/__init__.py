"""Document-partitioned shards of memory-mapped indexes, built locally or on Ray."""

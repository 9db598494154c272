"""The audit trail: the log, its single writer for the service, and `quco monitor` over it."""

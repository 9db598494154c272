"""One exception tree for everything quco raises.

The library raises these; only the CLI turns them into one-line messages and exit codes.
Every exit code of ``quco`` (documented in the README):

  0 success            5 index build failed          9 output refused or unwritable
  1 other quco error   6 count backend unavailable  10 score: every row failed
  2 usage / config     7 extraction failed         130 interrupted (Ctrl-C)
  3 unreadable source  8 unknown count (policy=error) 143 terminated (SIGTERM)
  4 index cannot open                               11 serve: cannot listen on the address
                                                    70 a bug in quco (please report it)
"""

from __future__ import annotations


class QucoError(Exception):
    """Base class of every error quco raises on purpose."""

    exit_code = 1


class UsageError(QucoError):
    """The caller asked for something invalid (empty question, oversized draft, bad option)."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration file or QUCO_* variable is malformed."""


class InvalidValue(ConfigError, ValueError):
    """A value outside its domain (a threshold, a worker count, labels a metric cannot use). Also a
    ``ValueError``, so callers that catch the built-in keep working."""


class InvalidArgument(UsageError, TypeError):
    """An argument of the wrong kind (also a ``TypeError``)."""


class SourceError(QucoError):
    """A corpus source file cannot be read as documents (missing, binary, malformed line)."""

    exit_code = 3


class IndexOpenError(QucoError):
    """An index is missing, corrupt, of an unsupported format, or built with other settings."""

    exit_code = 4


class IndexFormatError(IndexOpenError):
    """The index was written by an incompatible (usually newer) version of quco."""


class IndexSettingsError(IndexOpenError):
    """The index's normalisation differs from what the caller requires."""


class BuildError(QucoError):
    """Building an index failed; the output path was left untouched."""

    exit_code = 5


class BackendError(QucoError):
    """A count backend could not answer. The count is unknown, never zero."""

    exit_code = 6


class QueryError(BackendError):
    """A query cannot be expressed for this backend (empty after normalisation, too long...)."""


class BackendUnavailable(BackendError):
    """The backend could not be reached or loaded (timeouts, refused connections, missing package).

    ``retry_after``: seconds the upstream asked callers to wait, when it said (``quco serve``
    passes it on as a ``Retry-After`` header)."""

    def __init__(self, message: str = "", *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamError(BackendError):
    """An upstream count service answered, but with an error or an unusable body (a 502 in serve)."""


class ExtractionError(QucoError):
    """The NLP pipeline failed on an input."""

    exit_code = 7


class RiskAbort(QucoError):
    """A count was unknown and the unknown-count policy is 'error'."""

    exit_code = 8


class OutputError(QucoError):
    """An output cannot be written: it would overwrite an input or a file quco did not write, its
    directory is missing or read-only, or another quco run is writing it."""

    exit_code = 9


class AuditError(QucoError):
    """The audit trail cannot be written (its writer process would not start)."""


class AddressInUse(QucoError):
    """``quco serve`` cannot listen on its address (taken, or not this machine's)."""

    exit_code = 11


class AllRowsFailed(QucoError):
    """``quco score`` finished but not one row could be scored (every row is in the errors file)."""

    exit_code = 10


class Terminated(BaseException):
    """SIGTERM arrived during a build; raised after the temporary file was removed.

    A ``BaseException`` like ``KeyboardInterrupt``: ordinary ``except Exception`` must not swallow it.
    """

"""Client for the hosted infini-gram API (the counts QuCo-RAG uses), hardened.

JSON contract: POST {index, query_type: "count", query[, max_diff_tokens, max_clause_freq]} ->
{count, approx, latency, ...} or {error}. Every request has connect/read timeouts; connection
errors, timeouts, malformed bodies, 408/425/429 and every 5xx are retried with exponential backoff
and jitter, honouring Retry-After up to ``max_retry_after`` within a total per-request
``deadline``; an upstream ``{error}`` is ``UpstreamError`` (a 502 in ``quco serve``); batches run with bounded concurrency;
successful answers are cached on
disk so a re-run costs no requests. A failure raises ``BackendError``: never a count of 0.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from quco.backends.base import DEFAULT_WINDOW, Cooccurrence, Corpus, Count, CountBackend, check_window
from quco.backends.http_retry import HttpClient, RetryPolicy
from quco.errors import BackendError, ConfigError, InvalidValue, QueryError, UpstreamError

__all__ = ["HttpClient", "InfiniGramAPI", "ResponseCache", "RetryPolicy", "query_term"]

DEFAULT_ENDPOINT = "https://api.infini-gram.io/"
DEFAULT_INDEX = "v4_olmo-2-0325-32b-instruct_llama"
OLMO2_TOKENS = 4_600_000_000_000
MAX_QUERY_CHARS = 1000
MAX_CLAUSES = 4
MAX_TERMS = 4
log = logging.getLogger("quco.infinigram_api")
_OPERATOR = re.compile(r"(?:^|\s)(AND|OR)(?:\s|$)")


class ResponseCache:
    """Successful answers on disk (SQLite), keyed by endpoint, index, query and parameters."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
            with self._lock:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, count INTEGER, approx INTEGER)")
                self._db.execute("SELECT count, approx FROM answers LIMIT 1").fetchall()
                self._db.commit()
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(
                f"{self.path}: cannot be used as the API answer cache ({exc}); "
                "delete it, point api_cache elsewhere, or set api_cache = \"none\""
            ) from None

    @staticmethod
    def key(endpoint: str, payload: dict) -> str:
        return hashlib.sha256(json.dumps([endpoint, payload], sort_keys=True).encode()).hexdigest()

    # A cache that breaks mid-run (disk full, file damaged) costs requests, never answers: a failed
    # read is a miss and a failed write is skipped, each logged once.
    def get(self, key: str) -> tuple[int, bool] | None:
        try:
            with self._lock:
                row = self._db.execute("SELECT count, approx FROM answers WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            self._warn(exc)
            return None
        return None if row is None else (int(row[0]), bool(row[1]))

    def put(self, key: str, count: int, approx: bool) -> None:
        try:
            with self._lock:
                self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?)", (key, count, int(approx)))
                self._db.commit()
        except sqlite3.Error as exc:
            self._warn(exc)

    _warned = False

    def _warn(self, exc) -> None:
        if not self._warned:
            self._warned = True
            log.warning("API answer cache %s failed (%s); continuing without it", self.path, exc)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class InfiniGramAPI(CountBackend):
    """``CountBackend`` over the infini-gram HTTP API (or any server speaking its contract)."""

    name = "infinigram-api"
    remote = True  # as a shard, asked in parallel with a timeout (quco.shard.ShardedBackend)

    def __init__(
        self,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        index: str = DEFAULT_INDEX,
        corpus_tokens: int = OLMO2_TOKENS,
        corpus_documents: int = 0,
        http: HttpClient | None = None,
        max_workers: int = 4,
        max_clause_freq: int = 50_000,
        cache: ResponseCache | None = None,
    ):
        """``http``: the transport (session, timeout, retry policy, clock, sleep; ``HttpClient()``
        by default: a 3.05 s connect and 20 s read timeout, ``RetryPolicy()``)."""
        if max_workers < 1:
            raise InvalidValue("max_workers must be at least 1")
        self.endpoint = endpoint
        self.index = index
        self.http = http if http is not None else HttpClient()
        self.max_workers = max_workers
        self.max_clause_freq = max_clause_freq
        self.cache = cache
        self._corpus = Corpus(int(corpus_tokens), int(corpus_documents))
        self.requests_sent = 0
        self._count_lock = threading.Lock()

    @property
    def corpus(self) -> Corpus:
        return self._corpus

    @property
    def identity(self) -> str:
        return f"infinigram-api:{self.index}@{self.endpoint}"

    # -- queries -------------------------------------------------------------------------------
    def count_many(self, phrases: Sequence[str]) -> list[Count]:
        payloads = [{"index": self.index, "query_type": "count", "query": query_term(p)} for p in phrases]
        answers = self._run_many(payloads)
        return [Count(p, c, a) for p, (c, a) in zip(phrases, answers)]

    def cooccur_many(self, pairs: Sequence[tuple[str, str]], window: int = DEFAULT_WINDOW) -> list[Cooccurrence]:
        window = check_window(window)
        payloads = []
        for a, b in pairs:
            query = f"{query_term(a)} AND {query_term(b)}"
            _check_cnf(query)
            # CNF parameters go only with CNF queries.
            payloads.append({"index": self.index, "query_type": "count", "query": query,
                             "max_diff_tokens": window, "max_clause_freq": self.max_clause_freq})
        answers = self._run_many(payloads)
        return [Cooccurrence(a, b, c, window, ap) for (a, b), (c, ap) in zip(pairs, answers)]

    # -- transport -----------------------------------------------------------------------------
    def _run_many(self, payloads: list[dict]) -> list[tuple[int, bool]]:
        results: list[tuple[int, bool] | BackendError | None] = [None] * len(payloads)
        todo = []
        for i, payload in enumerate(payloads):
            hit = self.cache.get(ResponseCache.key(self.endpoint, payload)) if self.cache else None
            if hit is not None:
                results[i] = hit
            else:
                todo.append(i)

        # One deadline for the whole batch: requests queued behind others get what is left of it.
        batch_end = self.http.clock() + self.http.policy.deadline

        def one(i: int):
            try:
                return i, self._request(payloads[i], batch_end)
            except BackendError as exc:
                return i, exc

        if len(todo) <= 1 or self.max_workers == 1:
            done = [one(i) for i in todo]
        else:
            with ThreadPoolExecutor(max_workers=min(self.max_workers, len(todo))) as pool:
                done = list(pool.map(one, todo))
        for i, value in done:
            results[i] = value
        failures = [r for r in results if isinstance(r, BackendError)]
        if failures:
            raise failures[0]
        return results  # type: ignore[return-value]

    def _request(self, payload: dict, give_up_at: float | None = None) -> tuple[int, bool]:
        body = self.http.post_json(self.endpoint, payload, what="infini-gram API", describe=repr(payload["query"]),
                                   on_attempt=self._sent, give_up_at=give_up_at)
        answer = _parse_answer(body, payload["query"])
        if self.cache:
            self.cache.put(ResponseCache.key(self.endpoint, payload), *answer)
        return answer

    def _sent(self) -> None:
        with self._count_lock:
            self.requests_sent += 1

    def close(self) -> None:
        self.http.session.close()
        if self.cache:
            self.cache.close()


def query_term(phrase: str) -> str:
    if not isinstance(phrase, str) or not phrase.strip():
        raise QueryError("empty phrase")
    text = " ".join(phrase.split())
    if _OPERATOR.search(text):
        # The server would split "NORAD AND NASA" into two clauses: refuse rather than miscount.
        raise QueryError(f"{phrase!r} contains a standalone AND/OR, which the infini-gram API parses as an operator")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"phrase has {len(text)} characters; the API accepts at most {MAX_QUERY_CHARS}")
    return text


def _check_cnf(query: str) -> None:
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"query has {len(query)} characters; the API accepts at most {MAX_QUERY_CHARS}")
    clauses = query.split(" AND ")
    if len(clauses) > MAX_CLAUSES or any(len(c.split(" OR ")) > MAX_TERMS for c in clauses):
        raise QueryError(f"query exceeds the API's limit of {MAX_CLAUSES} clauses x {MAX_TERMS} terms")


def _parse_answer(body, query: str) -> tuple[int, bool]:
    if not isinstance(body, dict):
        raise UpstreamError(f"infini-gram API returned {type(body).__name__}, expected an object, for {query!r}")
    if "error" in body:  # upstream refused or failed: not the caller's input error, and not a count
        raise UpstreamError(f"infini-gram API error for {query!r}: {body['error']}")
    count = body.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise UpstreamError(f"infini-gram API returned no valid count for {query!r}")
    return count, bool(body.get("approx", False))

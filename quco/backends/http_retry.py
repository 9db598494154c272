"""One JSON request (``HttpClient.post_json``) with a timeout and bounded retries: the transport of every HTTP count backend.

Connection errors, timeouts, malformed bodies, 408/425/429 and every 5xx are retried with
exponential backoff and jitter, honouring Retry-After up to ``max_retry_after``, all within a
total ``deadline`` per request — the body included: it is read as it arrives and cut when the
deadline passes, however slowly it drips. Any other 4xx is ``UpstreamError`` (the server refused:
retrying cannot help), and so are a redirect (never followed: a count from another origin is not
this backend's) and a body over ``max_bytes`` (refused while read, never held); running out of
attempts or time is ``BackendUnavailable``. Never a silent default: each is an unknown count.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from quco.errors import BackendUnavailable, UpstreamError

MAX_RESPONSE_BYTES = 8 << 20  # a count answer is a few hundred bytes; a shard's batch of 256, tens of KB


@dataclass(frozen=True)
class RetryPolicy:
    """How one request is retried. Every wait is bounded twice: by ``max_retry_after`` (what a
    server may ask for) and by ``deadline`` (the whole request, all attempts and waits)."""

    attempts: int = 4  # total tries per request
    backoff: float = 0.5  # first wait, doubled each retry
    max_backoff: float = 8.0  # cap of our own exponential backoff
    jitter: float = 0.25  # +- fraction of each wait, so parallel clients do not retry in lockstep
    max_retry_after: float = 120.0  # a server's Retry-After is honoured up to this many seconds
    deadline: float = 300.0  # seconds for one request, every attempt and wait included

    @staticmethod
    def retryable(status: int) -> bool:
        # Timeouts, throttling and every server-side class (500, 501, 502-504, Cloudflare's 52x).
        return status in (408, 425, 429) or 500 <= status <= 599

    def wait(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        base = min(self.backoff * (2**attempt), self.max_backoff)
        return max(0.0, base * (1 + rng.uniform(-self.jitter, self.jitter)))


@dataclass
class HttpClient:
    """The transport of an HTTP count backend: a ``requests``-like session (a new
    ``requests.Session`` by default), the (connect, read) timeout, the retry policy, and the clock,
    sleep and random source its waits use; tests inject their own."""

    session: Any = None
    timeout: tuple[float, float] = (3.05, 20.0)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    max_bytes: int = MAX_RESPONSE_BYTES  # a longer body is refused while it is read, never held

    def __post_init__(self) -> None:
        if self.session is None:
            import requests

            self.session = requests.Session()

    def post_json(self, url: str, payload: dict | None, *, what: str, describe: str, headers: dict | None = None,
                  on_attempt: Callable[[], None] | None = None, give_up_at: float | None = None):
        """POST ``payload`` to ``url`` and return the decoded JSON body; ``payload=None`` sends a
        GET instead. ``what``/``describe`` name the server and the query in errors. ``give_up_at``:
        an earlier end (on ``clock``) than the policy's deadline, e.g. the end of a whole batch."""
        import requests
        import urllib3

        policy, timeout, clock, session = self.policy, self.timeout, self.clock, self.session
        end = clock() + policy.deadline
        give_up_at = end if give_up_at is None else min(end, give_up_at)
        if clock() >= give_up_at:
            raise BackendUnavailable(f"{what}: the batch's {policy.deadline:g} s deadline passed before {describe} "
                                     "could be sent")
        last = "no attempt made"
        retry_after = None
        for attempt in range(policy.attempts):
            retry_after = None
            remaining = give_up_at - clock()
            if on_attempt is not None:
                on_attempt()
            try:
                read = max(0.001, min(timeout[1], remaining))
                # Redirects are never followed: a count from another origin is not this backend's.
                extra = {"headers": headers} if headers else {}
                if payload is None:
                    resp = session.get(url, timeout=(timeout[0], read), stream=True, allow_redirects=False, **extra)
                else:
                    resp = session.post(url, json=payload, timeout=(timeout[0], read), stream=True,
                                        allow_redirects=False, **extra)
                with resp:
                    body = self._body(resp, give_up_at, what)
            except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:  # connection errors, timeouts, dropped bodies
                last = f"{type(exc).__name__}: {exc}"
            else:
                if policy.retryable(resp.status_code):
                    last = f"HTTP {resp.status_code}"
                    retry_after = _retry_after(resp.headers.get("Retry-After"))
                elif 300 <= resp.status_code < 400:
                    raise UpstreamError(f"{what} answered HTTP {resp.status_code} (a redirect to "
                                        f"{resp.headers.get('Location', '?')!r}) for {describe}: redirects are not followed")
                elif resp.status_code >= 400:
                    raise UpstreamError(f"{what} answered HTTP {resp.status_code} for {describe}{_detail(body)}")
                else:
                    try:
                        return json.loads(body)
                    except ValueError:
                        last = "malformed JSON in response"
            if attempt + 1 < policy.attempts:
                self._pause(attempt, retry_after, give_up_at, what, last)
        raise BackendUnavailable(f"{what} failed after {policy.attempts} attempts ({last})", retry_after=retry_after)

    def _body(self, resp: Any, give_up_at: float, what: str) -> bytes:
        """The response body, read as it arrives: refused past ``max_bytes`` (declared or read) and
        cut when the request's deadline passes, however slowly the server sends it."""
        declared = resp.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise UpstreamError(f"{what} announced a {int(declared):,}-byte response; the limit is {self.max_bytes:,}")
        raw, size = resp.raw, 0
        chunks: list[bytes] = []
        while True:
            if self.clock() >= give_up_at:
                raise BackendUnavailable(f"{what}: the {self.policy.deadline:g} s deadline passed while the response "
                                         f"was still arriving ({size:,} bytes so far)")
            # read1: whatever has arrived (one read, at most the read timeout), so the deadline is
            # checked between pieces however slowly the body drips.
            chunk = raw.read1(65536, decode_content=True)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_bytes:
                raise UpstreamError(f"{what} sent more than {self.max_bytes:,} bytes; the response is refused")
            chunks.append(chunk)

    def _pause(self, attempt: int, retry_after: float | None, give_up_at: float, what: str, last: str) -> None:
        """Wait before the next attempt, or give up when the wait would pass a bound."""
        policy = self.policy
        if retry_after is not None and retry_after > policy.max_retry_after:
            raise BackendUnavailable(f"{what} asked to retry after {retry_after:g} s, beyond max_retry_after "
                                     f"({policy.max_retry_after:g} s) ({last})", retry_after=retry_after)
        pause = policy.wait(attempt, retry_after, self.rng)
        if self.clock() + pause >= give_up_at:
            raise BackendUnavailable(f"{what}: the next retry would pass the {policy.deadline:g} s deadline ({last})",
                                     retry_after=retry_after)
        self.sleep(pause)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None  # HTTP-date form: fall back to our own backoff


def _detail(raw: bytes) -> str:
    try:
        body = json.loads(raw)
    except ValueError:
        return ""
    return f": {body['error']}" if isinstance(body, dict) and isinstance(body.get("error"), str) else ""

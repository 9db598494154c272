"""Plain ASGI middleware in front of every route: the bearer token (before a byte of the body is
read), the body cap, the request deadline, and the per-path metrics."""

from __future__ import annotations

import asyncio
import hmac
import json
import time

from quco.errors import UsageError
from quco.service.prom import Metrics


def token_ok(header: str, token: bytes) -> bool:
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token)


PROTECTED = ("/v1/", "/metrics")


PATHS = {"/v1/check", "/v1/check_many", "/v1/count", "/v1/cooccur", "/v1/info", "/v1/feedback", "/v1/reward", "/healthz",
         "/readyz", "/metrics",
          "/openapi.json", "/docs"}


class LimitsAndMetrics:
    """Plain ASGI middleware (cheaper than Starlette's BaseHTTPMiddleware): body cap, timeout, metrics."""

    def __init__(self, app, metrics: Metrics, max_body: int, timeout: float, token: bytes | None = None):
        self.app, self.metrics, self.max_body, self.timeout, self.token = app, metrics, max_body, timeout, token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        path = scope["path"] if scope["path"] in PATHS else "other"
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        status = {"code": 500}
        sent = {"started": False}

        async def send_tracking(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                sent["started"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body") and not sent.get("observed"):
                # Record before the last byte leaves: a client that saw the response sees it counted.
                sent["observed"] = True
                self.metrics.observe(path, status["code"], time.perf_counter() - start)
            await send(message)

        async def reply(code: int, message: str, extra: list | None = None):
            body = json.dumps({"error": message}).encode()
            await send_tracking({"type": "http.response.start", "status": code,
                                 "headers": [(b"content-type", b"application/json"),
                                             (b"content-length", str(len(body)).encode()), *(extra or [])]})
            await send_tracking({"type": "http.response.body", "body": body})

        received = {"bytes": 0, "done": scope["method"] in ("GET", "HEAD")}

        async def receive_capped():
            message = await receive()
            if message["type"] == "http.request":
                received["bytes"] += len(message.get("body", b""))
                if received["bytes"] > self.max_body:
                    raise TooLarge()
                received["done"] = not message.get("more_body", False)
            return message

        try:
            if self.token is not None and scope["path"].startswith(PROTECTED) and not token_ok(
                    headers.get(b"authorization", b"").decode("latin-1"), self.token):
                # Before a byte of the body is read: an unauthenticated client costs nothing.
                await reply(401, "missing or wrong bearer token", [(b"www-authenticate", b"Bearer")])
            elif length is not None and (not length.isdigit() or int(length) > self.max_body):
                await reply(413, f"request body larger than {self.max_body} bytes")
            elif length is None and scope["method"] == "POST" and headers.get(b"transfer-encoding"):
                await reply(411, "chunked request bodies are not accepted; send Content-Length")
            else:
                await asyncio.wait_for(self.app(scope, receive_capped, send_tracking), self.timeout)
        except TooLarge:
            if not sent["started"]:
                await reply(413, f"request body larger than {self.max_body} bytes")
        except TimeoutError:
            if not sent["started"] and not received["done"]:  # the client never sent the body it announced
                await reply(408, f"request body not received within {self.timeout} s")
            elif not sent["started"]:
                await reply(504, f"request took longer than {self.timeout} s")
        finally:
            if not sent.get("observed"):
                self.metrics.observe(path, status["code"], time.perf_counter() - start)


class TooLarge(UsageError):
    """A request body over the limit (control flow inside the size-capping middleware)."""

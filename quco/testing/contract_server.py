"""A local HTTP server speaking the hosted infini-gram API's JSON contract, with injectable faults.

The hosted API is not always reachable (and never from an offline machine); this server lets the
``InfiniGramAPI`` client be tested and benchmarked against real HTTP. Answers come from any quco
``CountBackend``; with an ``InfiniGramLocal`` index, ``a AND b`` goes to the engine's ``count_cnf``
with the request's ``max_diff_tokens`` and ``max_clause_freq``, as on the hosted API.

Faults are queued and each consumed by one request: "slow:S" sleeps S seconds before answering,
"500", "status:N" (any status, e.g. 501 or Cloudflare's 520), "429:S" (Retry-After S), "badjson",
"error200" (a 200 whose body is ``{"error": ...}``), "drop" (close the connection without a response),
"drip:S" (a valid answer sent one byte every S seconds), "redirect:URL" (a 307 to URL),
"huge:N" (a 200 whose body is N bytes, sent in pieces without a Content-Length).
It binds 127.0.0.1 only.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that gave up (its timeout, an injected drop) is part of the test, not an error.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ContractServer:
    def __init__(self, backend, port: int = 0):
        self.backend = backend
        self.faults: deque[str] = deque()
        self.requests = 0
        self.payloads: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                server.requests += 1
                fault = server.faults.popleft() if server.faults else None
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault and fault.startswith("slow:"):
                    time.sleep(float(fault.split(":")[1]))
                if fault == "500":
                    return self._send(500, b'{"error": "internal"}')
                if fault and fault.startswith("429:"):
                    return self._send(429, b'{"error": "rate limited"}', {"Retry-After": fault.split(":")[1]})
                if fault and fault.startswith("status:"):
                    return self._send(int(fault.split(":")[1]), b'{"error": "injected"}')
                if fault == "badjson":
                    return self._send(200, b'{"count": 12')
                if fault == "error200":
                    return self._send(200, b'{"error": "upstream refused the query"}')
                if fault and fault.startswith("redirect:"):
                    return self._send(307, b"{}", {"Location": fault.split(":", 1)[1]})
                if fault and fault.startswith("huge:"):
                    return _send_huge(self, int(fault.split(":")[1]))
                if fault and fault.startswith("drip:"):
                    return _send_drip(self, b'{"count": 1, "approx": false}', float(fault.split(":")[1]))
                try:
                    payload = json.loads(raw)
                    server.payloads.append(payload)
                    body = server.answer(payload)
                except Exception as exc:  # the contract reports errors in the body
                    body = {"error": str(exc)}
                self._send(200, json.dumps(body).encode())

            def _send(self, status, body, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = _QuietServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, payload: dict) -> dict:
        if payload.get("query_type") != "count" or not isinstance(payload.get("query"), str):
            return {"error": "bad request"}
        query = payload["query"]
        start = time.perf_counter()
        if " AND " in query:
            a, b = query.split(" AND ", 1)
            window = int(payload.get("max_diff_tokens", 1000))
            if hasattr(self.backend, "cooccur_cnf_many"):
                freq = int(payload.get("max_clause_freq", self.backend.max_clause_freq))
                c = self.backend.cooccur_cnf_many([(a, b)], window, freq)[0]
            else:
                c = self.backend.cooccur(a, b, window)
            count, approx = c.count, c.approx
        else:
            if "max_diff_tokens" in payload:
                return {"error": "CNF parameters sent with a simple query"}
            c = self.backend.count(query)
            count, approx = c.count, c.approx
        return {"count": count, "approx": approx, "latency": (time.perf_counter() - start) * 1000}

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _send_drip(handler, body: bytes, every: float) -> None:
    """A valid answer, one byte every ``every`` seconds (fault "drip:S")."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    for i in range(len(body)):
        handler.wfile.write(body[i:i + 1])
        handler.wfile.flush()
        time.sleep(every)


def _send_huge(handler, n: int) -> None:
    """``n`` bytes of body with no Content-Length: it ends when the connection does (fault "huge:N")."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = True
    piece = b" " * 65536
    sent = 0
    while sent < n:
        handler.wfile.write(piece[: min(len(piece), n - sent)])
        sent += min(len(piece), n - sent)


def main(argv: list[str] | None = None) -> int:
    """``python -m quco.testing.contract_server INDEX [--port N]``: serve an index on 127.0.0.1."""
    import argparse

    from quco.index.open import open_backend

    parser = argparse.ArgumentParser(prog="python -m quco.testing.contract_server")
    parser.add_argument("index")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    backend = open_backend(args.index, cooccur="cnf")
    with ContractServer(backend, args.port) as server:
        print(f"serving {args.index} at {server.url}", flush=True)
        try:
            server.thread.join()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A real HTTP server on 127.0.0.1 speaking the infini-gram API's JSON contract, with faults.

Answers come from a quco ``CountBackend`` ("a AND b" -> cooccur with max_diff_tokens). Faults are
queued and each consumed by one request: "slow:S" sleeps S seconds before answering, "500",
"429:S" (Retry-After S), "badjson", "drop" (close the connection without a response).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ContractServer:
    def __init__(self, backend):
        self.backend = backend
        self.faults: deque[str] = deque()
        self.requests = 0
        self.payloads: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

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
                if fault == "badjson":
                    return self._send(200, b'{"count": 12')
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

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
            c = self.backend.cooccur(a, b, int(payload.get("max_diff_tokens", 1000)))
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

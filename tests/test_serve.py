"""`quco serve` over real HTTP: a server subprocess on 127.0.0.1, every endpoint, bad inputs,
schema-driven fuzzing, an index swapped under load, and a restart with requests in flight."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from conftest import ROOT, write_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quco.index.duckdb.build import build_index

TOKEN = "s3cret-token"
TEXTS = ["Hamlet is a tragedy written by William Shakespeare.", "Copenhagen is the capital of Denmark.",
         "Charles Dickens wrote Oliver Twist."]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, index, port=None, token=TOKEN, workers=1, extra_env=None, args=(), ready=True):
        """Starts `quco serve`; returns once /readyz answers 200 (as an orchestrator would wait), or
        with ready=False as soon as the server listens (/healthz)."""
        self.port = port or free_port()
        env = {**os.environ, "QUCO_API_TOKEN": token or "", **(extra_env or {})}
        env.pop("QUCO_CONFIG", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "quco.cli.main", "serve", "--index", str(index), "--model", "rules",
             "--port", str(self.port), "--workers", str(workers), *map(str, args)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if self.request("GET", "/readyz" if ready else "/healthz", auth=False)[0] == 200:
                    return
                time.sleep(0.1)
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not start: " + self.proc.stderr.read().decode()[-2000:])

    def request(self, method, path, body=None, auth=True, raw=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = {"Content-Type": "application/json", **(headers or {})}
        if auth:
            h["Authorization"] = f"Bearer {TOKEN}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        try:
            conn.request(method, path, body=data, headers=h)
            resp = conn.getresponse()
            payload = resp.read()
        finally:
            conn.close()
        ctype = resp.getheader("content-type", "")
        return resp.status, json.loads(payload) if "json" in ctype else payload.decode()

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    d = tmp_path_factory.mktemp("serve")
    build_index([write_jsonl(d / "c.jsonl", TEXTS)], d / "i.duckdb", progress=False)
    return d / "i.duckdb"


@pytest.fixture(scope="module")
def server(index):
    srv = Server(index)
    yield srv
    srv.stop()


def test_readiness_and_first_check_after_start(index):
    """A check sent the moment the server listens waits for the warm-up instead of timing out;
    /readyz says 503 (starting) until a check can be answered, then 200; /healthz is liveness."""
    srv = Server(index, ready=False)  # returns as soon as /healthz answers
    try:
        status, report = srv.request("POST", "/v1/check", {"question": "Who wrote Hamlet?",
                                                           "draft": "Hamlet was written by Charles Dickens."})
        assert status == 200 and report["retrieve"] is True
        deadline = time.time() + 60
        while (reply := srv.request("GET", "/readyz", auth=False))[0] != 200 and time.time() < deadline:
            assert reply[0] == 503 and reply[1]["status"] == "starting"
            time.sleep(0.2)
        assert reply == (200, {"status": "ready"})
    finally:
        srv.stop()


def test_every_endpoint(server):
    status, health = server.request("GET", "/healthz", auth=False)
    assert status == 200 and health["status"] == "ok" and "index" not in health  # no paths without the token
    status, health = server.request("GET", "/healthz")
    assert status == 200 and health["corpus_tokens"] == 19 and health["extractor"] == "rules"
    status, report = server.request("POST", "/v1/check", {"question": "Who founded Arthur's Magazine?"})
    assert status == 200 and report["retrieve"] is True and report["stage"] == "question"
    status, report = server.request("POST", "/v1/check", {
        "question": "Who wrote Hamlet?", "draft": "Hamlet is a tragedy. Hamlet was written by Charles Dickens."})
    assert status == 200 and report["flagged"]["index"] == 1 and report["suggested_query"]
    status, many = server.request("POST", "/v1/check_many", {"items": [{"question": "Who wrote Hamlet?"}] * 3})
    assert status == 200 and len(many["reports"]) == 3 and not many["reports"][0]["retrieve"]
    status, counts = server.request("POST", "/v1/count", {"phrases": ["Hamlet", "NORAD AND NASA", "Denmark"]})
    assert status == 200 and [c["count"] for c in counts["counts"]] == [1, 0, 1]
    status, co = server.request("POST", "/v1/cooccur", {"pairs": [{"a": "Hamlet", "b": "William Shakespeare"}], "window": 10})
    assert status == 200 and co["results"][0]["count"] == 1
    status, rw = server.request("POST", "/v1/reward", {"prompts": ["Who wrote Hamlet?"] * 2, "completions": [
        "Hamlet was written by William Shakespeare.", "Hamlet was written by Charles Dickens."]})
    assert status == 200 and rw["rewards"][0] > rw["rewards"][1] and rw["scheme"] == "evidence" and rw["corpus_tokens"] == 19
    status, rw = server.request("POST", "/v1/reward", {  # OpenRLHF's remote reward body: query = prompt + completion
        "query": ["Who wrote Hamlet? Hamlet was written by Charles Dickens."], "prompts": ["Who wrote Hamlet? "],
        "labels": [""], "details": True})
    assert status == 200 and rw["rewards"][0] < 0 and rw["details"][0]["sentences"][0]["claims"][0]["claim"] == "Charles Dickens"
    status, err = server.request("POST", "/v1/reward", {"prompts": ["a", "b"], "completions": ["x"]})
    assert status == 400 and "one prompt per completion" in err["error"]
    status, text = server.request("GET", "/metrics")
    assert 'quco_rewards_total{checked="true",scheme="evidence"} 3.0' in text
    assert status == 200 and 'quco_requests_total{path="/v1/check",status="200"}' in text
    assert "quco_request_seconds_bucket" in text and "quco_backend_errors_total 0.0" in text
    assert 'quco_phrase_cache{result="miss"}' in text and 'quco_decisions_total{approx="false",decision="no-retrieve"' in text
    assert "quco_risk_bucket" in text and "quco_process_resident_memory_bytes" in text
    status, schema = server.request("GET", "/openapi.json", auth=False)
    assert status == 200 and {"/v1/check", "/v1/check_many", "/v1/count", "/v1/cooccur"} <= set(schema["paths"])


@pytest.mark.parametrize("case", ["oversize", "invalid_json", "wrong_type", "batch_10k", "missing_token", "wrong_token",
                                  "extra_field", "empty_question", "negative_window", "chunked"])
def test_bad_inputs_get_clear_4xx(server, case):
    post = lambda body=None, **kw: server.request("POST", "/v1/check", body, **kw)
    if case == "oversize":
        status, body = server.request("POST", "/v1/count", raw=b'{"phrases": ["' + b"a" * (2 << 20) + b'"]}')
        assert status == 413 and "larger than" in body["error"]
    elif case == "invalid_json":
        status, body = post(raw=b"{not json")
        assert status == 422 and "JSON" in body["error"]
    elif case == "wrong_type":
        status, body = post({"question": 42})
        assert status == 422 and body["error"].startswith("question:")
    elif case == "batch_10k":
        status, body = server.request("POST", "/v1/count", {"phrases": [f"entity {i}" for i in range(10_000)]})
        assert status == 422 and "at most 256" in body["error"]
    elif case == "missing_token":
        status, body = post({"question": "Who wrote Hamlet?"}, auth=False)
        assert status == 401 and body["error"] == "missing or wrong bearer token"
    elif case == "wrong_token":
        status, body = post({"question": "Who wrote Hamlet?"}, auth=False, headers={"Authorization": "Bearer nope"})
        assert status == 401
    elif case == "extra_field":
        assert post({"question": "Who wrote Hamlet?", "oops": 1})[0] == 422
    elif case == "empty_question":
        assert post({"question": ""})[0] == 422
    elif case == "negative_window":
        assert server.request("POST", "/v1/cooccur", {"pairs": [{"a": "x", "b": "y"}], "window": -1})[0] == 422
    elif case == "chunked":
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("POST", "/v1/check", body=iter([b'{"question": "Who wrote Hamlet?"}']),
                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
                     encode_chunked=True)
        assert conn.getresponse().status == 411


def _schema_bodies(schema):
    """Hypothesis strategies for each POST body: values of the declared types, and wrong ones."""
    comps = schema["components"]["schemas"]

    def for_schema(s, depth=0):
        if "$ref" in s:
            return for_schema(comps[s["$ref"].split("/")[-1]], depth)
        if "anyOf" in s:
            return st.one_of([for_schema(x, depth) for x in s["anyOf"]])
        t = s.get("type")
        if t == "string":  # any text, and words a handler answers (random text is mostly refused)
            return st.text(max_size=50) | st.sampled_from(["Who wrote Hamlet?", "Hamlet", "Shakespeare", "quco"])
        if t == "integer":
            return st.integers(-10**6, 10**6)
        if t == "null":
            return st.none()
        if t == "array":
            return st.lists(for_schema(s["items"], depth + 1), max_size=5)
        if t == "object":
            props = s.get("properties", {})
            required = set(s.get("required", ()))  # always drawn, so that bodies of the declared shape succeed
            return st.fixed_dictionaries({k: for_schema(v, depth + 1) for k, v in props.items() if k in required},
                                         optional={k: for_schema(v, depth + 1) for k, v in props.items() if k not in required})
        return st.none()

    wrong = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                         lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                         max_leaves=8)
    out = {}
    for path, ops in schema["paths"].items():
        if "post" in ops:
            ref = ops["post"]["requestBody"]["content"]["application/json"]["schema"]
            out[path] = st.one_of(for_schema(ref), wrong)
    return out


def test_schema_driven_fuzzing_finds_no_5xx(server):
    _, schema = server.request("GET", "/openapi.json", auth=False)
    bodies = _schema_bodies(schema)
    seen = []

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        path = data.draw(st.sampled_from(sorted(bodies)))
        body = data.draw(bodies[path])
        status, reply = server.request("POST", path, body)
        seen.append(status)
        assert status < 500, (path, body, reply)

    run()
    # The fuzzer reached both the handlers and the validation (a run seeing no 200 has tested
    # only the validation: the bodies it draws are of the declared shape about half the time).
    assert 200 in seen and 422 in seen, sorted(set(seen))


def test_index_swapped_under_load_is_never_an_error(index, tmp_path):
    live = tmp_path / "live.duckdb"
    build_index([write_jsonl(tmp_path / "a.jsonl", TEXTS)], live, progress=False)
    srv = Server(live)
    statuses, stop = [], threading.Event()

    def client():
        while not stop.is_set():
            statuses.append(srv.request("POST", "/v1/check", {"question": "Who wrote Hamlet?"})[0])

    threads = [threading.Thread(target=client) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        time.sleep(0.5)
        bigger = TEXTS + ["Hamlet was first performed around 1600 in London."]
        build_index([write_jsonl(tmp_path / "b.jsonl", bigger)], live, progress=False)  # atomic rename over it
        deadline = time.time() + 20
        while time.time() < deadline and srv.request("GET", "/healthz")[1]["corpus_tokens"] == 19:
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
        health = srv.request("GET", "/healthz")[1]
        srv.stop()
    assert health["corpus_tokens"] == 27  # the new index is being served
    assert len(statuses) > 50 and set(statuses) == {200}


def test_restart_finishes_in_flight_requests(index):
    srv = Server(index)
    big = {"items": [{"question": "Who wrote Hamlet? " * 200, "draft": "Hamlet was written by Charles Dickens. " * 100}] * 14}
    result = {}

    def slow():
        result["reply"] = srv.request("POST", "/v1/check_many", big)

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)  # the request is being processed
    os.killpg(srv.proc.pid, signal.SIGTERM)  # graceful shutdown: stop accepting, finish in-flight work
    t.join(60)
    srv.proc.wait(60)
    assert result["reply"][0] == 200 and len(result["reply"][1]["reports"]) == 14
    with pytest.raises(OSError):
        srv.request("GET", "/healthz", auth=False)  # no longer accepting
    again = Server(index, port=srv.port)
    try:
        assert again.request("GET", "/healthz", auth=False)[0] == 200
    finally:
        again.stop()


def test_per_request_timeout_is_a_504(index):
    srv = Server(index, extra_env={"QUCO_SERVE_TIMEOUT": "0.5", "QUCO_SERVE_MAX_REQUEST_CHARS": "2000000"})
    try:
        deadline = time.time() + 30  # the check worker starts in the background; wait until it answers
        while srv.request("POST", "/v1/check", {"question": "Who?", "draft": TEXTS[0]})[0] != 200:
            assert time.time() < deadline
        # Distinct items, so that no repeat is answered from what an earlier one looked up: well over 0.5 s of work.
        big = {"items": [{"question": f"Who wrote Hamlet {k}? " * 100, "draft": f"Hamlet {k} was written by Charles Dickens. " * 100}
                         for k in range(150)]}
        t = time.time()
        status, body = srv.request("POST", "/v1/check_many", big)
        assert status == 504 and "longer than 0.5 s" in body["error"] and time.time() - t < 5
        # The worker running it was killed, not left to finish: a new one answers the next draft at once.
        t = time.time()
        status, report = srv.request("POST", "/v1/check", {"question": "Who wrote Hamlet?", "draft": TEXTS[0]})
        assert status == 200 and report["draft_checked"] and time.time() - t < 5
        status, text = srv.request("GET", "/metrics")
        assert status == 200 and 'quco_requests_total{path="/v1/check_many",status="504"} 1.0' in text
    finally:
        srv.stop()


def test_refuses_to_expose_itself_without_a_token(index, tmp_path):
    env = {**os.environ, "QUCO_API_TOKEN": ""}
    base = [sys.executable, "-m", "quco.cli.main", "serve", "--index", str(index), "--model", "rules", "--port", str(free_port())]
    proc = subprocess.run(base + ["--host", "0.0.0.0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "without a token" in proc.stderr and proc.stderr.count("\n") == 1
    short = tmp_path / "token"
    short.write_text("abc\n")
    proc = subprocess.run(base + ["--token-file", str(short)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "at least 16 characters" in proc.stderr


def test_token_file_auth_before_body_and_header_deadline(index, tmp_path):
    token = tmp_path / "token"
    token.write_text(TOKEN + "-from-a-file\n")
    port = free_port()
    env = {**os.environ, "QUCO_API_TOKEN": "", "QUCO_SERVE_HEADER_TIMEOUT": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "quco.cli.main", "serve", "--index", str(index), "--model", "rules",
                             "--port", str(port), "--token-file", str(token), "--header-timeout", "1"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline
                time.sleep(0.1)
        # Auth comes before the body: a client announcing 900 KB and sending none gets its 401 at once.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 900000\r\n\r\n")
            t = time.time()
            reply = s.recv(4096)
            assert reply.startswith(b"HTTP/1.1 401") and time.time() - t < 2
        # The token from the file works.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/v1/check", json.dumps({"question": "Who wrote Hamlet?"}),
                     {"Authorization": f"Bearer {TOKEN}-from-a-file", "Content-Type": "application/json"})
        assert conn.getresponse().status == 200
        conn.close()
        # Slowloris: a header byte now and then is cut off at the header deadline (1 s here).
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            t = time.time()
            s.sendall(b"GET /healthz HTTP/1.1\r\n")
            closed = False
            for _ in range(10):
                time.sleep(0.4)
                try:
                    s.sendall(b"X-a: b\r\n")
                    if s.recv(1, socket.MSG_DONTWAIT) == b"":
                        closed = True
                        break
                except BlockingIOError:
                    continue
                except OSError:
                    closed = True
                    break
            assert closed and time.time() - t < 3
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def test_upstream_failures_are_502_or_503_never_4xx(index):
    from fastapi.testclient import TestClient

    from quco.config import load_settings
    from quco.errors import BackendUnavailable, UpstreamError
    from quco.index.duckdb.reader import DuckDBIndex
    from quco.service.app import create_app

    settings = load_settings(index=str(index), model="rules", env={})
    app = create_app(settings, heavy_workers=1)
    real = DuckDBIndex(index)

    class Flaky:
        name, identity, corpus, normalizer = real.name, real.identity, real.corpus, real.normalizer
        fault = None

        def count_many(self, phrases):
            raise self.fault

        def cooccur_many(self, pairs, window=1000):
            raise self.fault

    flaky = Flaky()
    app.state.holder.detector.backend = flaky
    with TestClient(app) as client:
        flaky.fault = UpstreamError("infini-gram API error: upstream refused the query")
        r = client.post("/v1/count", json={"phrases": ["Hamlet"]})
        assert r.status_code == 502
        flaky.fault = BackendUnavailable("infini-gram API failed", retry_after=30)
        r = client.post("/v1/count", json={"phrases": ["Hamlet"]})
        assert r.status_code == 503 and r.headers["retry-after"] == "30"
    app.state.pool.close()


def _group(pgid: int) -> list[int]:
    """Live processes of a process group (zombies excluded)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                fields = open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(d))
    return out


def test_kill_9_of_the_main_process_leaves_no_orphan_and_a_restart_binds(index):
    srv = Server(index, workers=2)
    try:
        assert srv.request("POST", "/v1/check", {"question": "Who wrote Hamlet?"})[0] == 200
        pgid = srv.proc.pid
        assert len(_group(pgid)) >= 3  # the server and its two workers
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(10)
        deadline = time.time() + 30
        while time.time() < deadline and _group(pgid):
            time.sleep(0.2)
        assert _group(pgid) == []  # every worker (and its helpers) went with it
        again = Server(index, port=srv.port)  # the port is free again
        try:
            assert again.request("POST", "/v1/check", {"question": "Who wrote Hamlet?"})[0] == 200
        finally:
            again.stop()
    finally:
        if _group(srv.proc.pid):
            os.killpg(srv.proc.pid, signal.SIGKILL)


def test_an_address_in_use_is_exit_11_in_one_line(index):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "QUCO_API_TOKEN": TOKEN}
        res = subprocess.run([sys.executable, "-m", "quco.cli.main", "serve", "--index", str(index), "--model", "rules",
                              "--port", str(port)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 11 and f"cannot listen on 127.0.0.1:{port}" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr


def test_traceparent_is_joined_and_spans_are_exported_over_otlp(index):
    """With an OTLP endpoint in the standard variables, each /v1/ request is a server span in the
    caller's trace (its W3C traceparent), with the check's extract/count/decide spans as children,
    exported over OTLP/HTTP to a collector (here a local one on 127.0.0.1)."""
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="the otel extra is installed by the test set-up")
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    spans = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for rs in request.resource_spans:
                service = next(a.value.string_value for a in rs.resource.attributes if a.key == "service.name")
                for ss in rs.scope_spans:
                    spans.extend((service, s) for s in ss.spans)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    collector = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    srv = Server(index, extra_env={"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_port}",
                                   "OTEL_BSP_SCHEDULE_DELAY": "100"})
    try:
        status, _ = srv.request("POST", "/v1/check", {"question": "Who wrote Hamlet?"},
                                headers={"traceparent": f"00-{trace_id}-{parent}-01"})
        assert status == 200
        deadline = time.time() + 20
        while time.time() < deadline and not any(s.name == "quco.decide" for _, s in spans):
            time.sleep(0.1)
    finally:
        srv.stop()
        collector.shutdown()
    by_name = {s.name: (service, s) for service, s in spans}
    # One server span per request, under the caller's span (it joined the caller's trace); found by
    # its parent, not by which span of its name an export batch delivered last.
    roots = [(service, s) for service, s in spans if s.parent_span_id.hex() == parent]
    assert [s.name for _, s in roots] == ["POST /v1/check"]
    service, server_span = roots[0]
    assert service == "quco-serve" and server_span.trace_id.hex() == trace_id
    attributes = {a.key: a.value for a in server_span.attributes}
    assert attributes["http.response.status_code"].int_value == 200
    # the check's spans sit under the span current in the handler (the server span, or the
    # framework's endpoint span inside it), which carries the check's attributes
    in_trace = {s.span_id: s for _, s in spans if s.trace_id == server_span.trace_id}
    holder = in_trace[by_name["quco.extract"][1].parent_span_id]
    assert {a.key: a.value for a in holder.attributes}["quco.batch_size"].int_value == 1
    for child in ("quco.extract", "quco.count", "quco.decide"):
        span = by_name[child][1]
        assert span.trace_id == server_span.trace_id and span.parent_span_id == holder.span_id
    while holder.span_id != server_span.span_id:  # ... which descends from the server span
        holder = in_trace[holder.parent_span_id]

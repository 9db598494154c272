"""Every script in examples/ runs as a user would run it (a fresh process, offline), and says what
its docstring promises. The OpenAI-compatible endpoint is a scripted local server; the service
client talks to a real `quco serve`."""

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import ROOT, write_jsonl

EXAMPLES = ROOT / "examples"


def run_example(name, tmp_path, env=None, timeout=300):
    full = {**os.environ, "TMPDIR": str(tmp_path), **(env or {})}
    full.pop("QUCO_INDEX", None)
    full.pop("QUCO_CONFIG", None)
    out = subprocess.run([sys.executable, str(EXAMPLES / name)], cwd=tmp_path, env=full, capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.splitlines()


def test_every_example_has_a_test():
    tested = {"hook.py", "controller_openai.py", "langchain_verify.py", "llamaindex_query.py", "score_and_eval.py",
              "serve_client.py"}
    assert {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")} == tested


def test_hook(tmp_path):
    lines = run_example("hook.py", tmp_path)
    assert lines[:2] == ["'Who wrote Hamlet?': no-retrieve (risk 0.00)",
                         "'Which novelist visited Elsinore Castle?': retrieve (risk 1.00)"]
    assert lines[2] == "[1 prompt lines]" and lines[3] != lines[2] and lines[4] == lines[3]


class _ChatServer(BaseHTTPRequestHandler):
    """OpenAI's chat-completions contract, with scripted replies."""

    replies: list = []
    prompts: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.path == "/v1/chat/completions" and body["messages"][0]["role"] == "user"
        type(self).prompts.append(body["messages"][0]["content"])
        reply = type(self).replies.pop(0) if type(self).replies else ""
        data = json.dumps({"id": "x", "object": "chat.completion", "model": body["model"], "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_controller_with_an_openai_compatible_endpoint(tmp_path):
    _ChatServer.replies = ["Hamlet is a tragedy set in Denmark. Hamlet was written by Charles Dickens.",
                           "Hamlet was written by William Shakespeare. So the answer is William Shakespeare."]
    _ChatServer.prompts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChatServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        lines = run_example("controller_openai.py", tmp_path,
                            {"OPENAI_BASE_URL": f"http://127.0.0.1:{server.server_port}/v1"})
    finally:
        server.shutdown()
    assert lines == ["flagged: 'Hamlet was written by Charles Dickens.' -> retrieving with 'Hamlet was written by'",
                     "verified: 'Hamlet is a tragedy set in Denmark.'",
                     "verified: 'Hamlet was written by William Shakespeare.'",
                     "verified: 'So the answer is William Shakespeare.'",
                     "answer: William Shakespeare | verified: True"]
    assert "William Shakespeare" in _ChatServer.prompts[1].split("Question:")[0]  # the retrieved passage


def test_langchain(tmp_path):
    pytest.importorskip("langchain_core")
    lines = run_example("langchain_verify.py", tmp_path)
    assert lines == ["gate: False []", "round: no-retrieval-needed", "round: truncate-and-retrieve", "round: accept",
                     "sentence: Hamlet was written by William Shakespeare.", "sentence: So the answer is Shakespeare.",
                     "verified: True | final answer: Shakespeare"]


def test_llamaindex(tmp_path):
    pytest.importorskip("llama_index.core")
    lines = run_example("llamaindex_query.py", tmp_path)
    assert lines[:2] == ["'Who wrote Hamlet?': answered without context",
                         "'Which novelist visited Elsinore Castle?': 2 passages"]
    assert lines[2].startswith("verified: ")


def test_score_and_eval(tmp_path):
    pytest.importorskip("pandas")
    lines = run_example("score_and_eval.py", tmp_path)
    assert len(lines) == 6 and lines[-1] == "rows 4, AUROC 1.00"


def test_serve_client(tmp_path):
    from test_serve import TOKEN, Server

    from quco.index.duckdb.build import build_index

    sys.path.insert(0, str(EXAMPLES))
    from _tiny import DOCS

    build_index([write_jsonl(tmp_path / "d.jsonl", DOCS)], tmp_path / "i.duckdb", progress=False)
    srv = Server(tmp_path / "i.duckdb", ready=False)
    try:
        lines = run_example("serve_client.py", tmp_path, {"QUCO_URL": f"http://127.0.0.1:{srv.port}",
                                                          "QUCO_API_TOKEN": TOKEN})
    finally:
        srv.stop()
    assert lines == ["200 retrieve draft Hamlet was written by Charles Dickens."]

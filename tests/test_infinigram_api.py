"""The infini-gram API client against a real HTTP server on 127.0.0.1, with injected faults."""

import random
import time

import pytest
from conftest import write_jsonl

from quco.backends.infinigram_api import HttpClient, InfiniGramAPI, ResponseCache, RetryPolicy
from quco.decide.detector import Detector
from quco.errors import BackendUnavailable, QueryError, UpstreamError
from quco.extract import Extractor
from quco.index.infinigram.build import build_infinigram_index
from quco.index.infinigram.reader import InfiniGramLocal
from quco.testing.contract_server import ContractServer

TEXTS = ["Hamlet is a tragedy written by William Shakespeare.", "NORAD and NASA track objects.", "Paris is in France."]


@pytest.fixture(scope="module")
def local_index(tmp_path_factory):
    d = tmp_path_factory.mktemp("api")
    build_infinigram_index([write_jsonl(d / "c.jsonl", TEXTS)], d / "ig", progress=False)
    return InfiniGramLocal(d / "ig", cooccur="cnf")  # byte-level, answering a AND b with count_cnf


@pytest.fixture()
def server(local_index):
    with ContractServer(local_index) as srv:
        yield srv


def client(server, **kw):
    waits = []
    policy = kw.pop("retry", RetryPolicy(attempts=3, backoff=0.01, max_backoff=2.0))
    http = HttpClient(timeout=(1.0, 0.5), policy=policy, sleep=waits.append, rng=random.Random(1))
    api = InfiniGramAPI(endpoint=server.url, index="test", http=http, **kw)
    return api, waits


def test_counts_match_local_index(server, local_index):
    api, _ = client(server)
    phrases = ["Hamlet", "William Shakespeare", "tragedy written", "absent words", "Paris"]
    assert [c.count for c in api.count_many(phrases)] == [c.count for c in local_index.count_many(phrases)]
    assert api.cooccur("Hamlet", "William Shakespeare", 1000).count == 1
    assert local_index.cooccur_cnf_many([("Hamlet", "William Shakespeare")], 1000)[0].count == 1
    simple, cnf = server.payloads[0], server.payloads[-1]
    assert "max_diff_tokens" not in simple and "max_clause_freq" not in simple
    assert cnf["max_diff_tokens"] == 1000 and cnf["query"] == "Hamlet AND William Shakespeare"


@pytest.mark.parametrize("fault", ["500", "badjson", "drop", "slow:1.0"])
def test_transient_faults_are_retried(server, fault):
    api, waits = client(server)
    server.faults.extend([fault, fault])
    assert api.count("Hamlet").count == 1
    assert server.requests == 3 and len(waits) == 2
    assert waits[1] > waits[0] > 0  # exponential backoff


def test_retry_after_is_honoured(server):
    api, waits = client(server)
    server.faults.append("429:1.5")
    assert api.count("Paris").count == 1
    assert waits == [1.5]


def test_persistent_failure_is_unknown_not_zero(server, local_index):
    api, _ = client(server)
    server.faults.extend(["500"] * 10)
    with pytest.raises(BackendUnavailable, match="after 3 attempts"):
        api.count("Hamlet")
    server.faults.clear()
    server.faults.extend(["500"] * 3)  # the batch fails: an unavailable upstream is not asked again item by item
    det = Detector(api, Extractor("rules"))
    before = server.requests
    report = det.check_question("Who wrote Hamlet?")
    assert report.entities[0].count is None and report.unknown and report.retrieve
    assert server.requests - before == 3  # the batch's attempts only
    assert det.check_question("Who wrote Hamlet?").entities[0].count == 1  # answered again once it recovers
    server.faults.extend(["500"] * 10)
    report = det.check_question("Where is Paris?")
    assert report.entities[0].count is None and report.unknown and report.retrieve


def test_operators_inside_names_are_refused(server):
    api, _ = client(server)
    with pytest.raises(QueryError, match="AND/OR"):
        api.count("NORAD AND NASA")
    assert api.count("NORAD").count == 1  # "OR" inside a word is not an operator
    with pytest.raises(QueryError, match="at most 1000"):
        api.count("x" * 1001)
    assert server.requests == 1


def test_cache_makes_reruns_free(server, tmp_path):
    cache = ResponseCache(tmp_path / "cache.sqlite")
    api, _ = client(server, cache=cache, max_workers=3)
    phrases = ["Hamlet", "Paris", "France", "NASA"]
    first = [c.count for c in api.count_many(phrases)]
    assert server.requests == 4
    again = InfiniGramAPI(endpoint=server.url, index="test", cache=ResponseCache(tmp_path / "cache.sqlite"))
    assert [c.count for c in again.count_many(phrases)] == first
    assert server.requests == 4 and again.requests_sent == 0
    other_index = InfiniGramAPI(endpoint=server.url, index="other", cache=ResponseCache(tmp_path / "cache.sqlite"))
    other_index.count("Hamlet")
    assert server.requests == 5  # the key includes the index name


def test_cli_check_through_the_api_backend(server, tmp_path, monkeypatch, capsys):
    import json

    from quco.cli.main import main as cli

    monkeypatch.setenv("QUCO_API_ENDPOINT", server.url)
    monkeypatch.setenv("QUCO_API_INDEX", "local")
    monkeypatch.setenv("QUCO_API_CACHE", str(tmp_path / "cache.sqlite"))
    args = ["check", "Who wrote Hamlet?", "--backend", "infinigram-api", "--model", "rules", "--json"]
    assert cli(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["backend"] == "infinigram-api" and report["corpus_tokens"] == 4_600_000_000_000
    sent = server.requests
    assert sent > 0 and cli(args) == 0 and server.requests == sent  # the re-run is served by the cache
    capsys.readouterr()
    server.faults.extend(["500"] * 20)
    monkeypatch.setenv("QUCO_API_CACHE", "none")
    assert cli(args + ["--unknown-policy", "error"]) == 8
    assert "unknown" in capsys.readouterr().err


def test_contract_server_runs_standalone(tmp_path):
    """`python -m quco.testing.contract_server INDEX` serves an index on 127.0.0.1."""
    import json as _json
    import subprocess
    import sys
    import urllib.request

    build_infinigram_index([write_jsonl(tmp_path / "c.jsonl", TEXTS)], tmp_path / "ig", progress=False)
    proc = subprocess.Popen([sys.executable, "-m", "quco.testing.contract_server", str(tmp_path / "ig")],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = line.split(" at ")[1].strip()
        req = urllib.request.Request(url, data=_json.dumps({"index": "x", "query_type": "count", "query": "Hamlet"}).encode(),
                                     headers={"Content-Type": "application/json"})
        assert _json.loads(urllib.request.urlopen(req, timeout=10).read())["count"] == 1
    finally:
        proc.terminate()
        proc.wait(10)


# -- a hostile or broken upstream: every failure is an unknown count, within the deadline ----------
def _deadline_client(server, deadline: float):
    http = HttpClient(timeout=(1.0, 2.0), policy=RetryPolicy(attempts=2, backoff=0.01, deadline=deadline),
                      max_bytes=1 << 20)
    return InfiniGramAPI(endpoint=server.url, index="test", http=http)


def test_a_dripping_body_is_cut_at_the_deadline(server):
    api = _deadline_client(server, deadline=2.0)
    server.faults.append("drip:0.2")  # a 30-byte answer over 6 s, one byte at a time
    t = time.monotonic()
    with pytest.raises(BackendUnavailable, match="deadline passed while the response was still arriving"):
        api.count_many(["Hamlet"])
    assert time.monotonic() - t < 2.0 + 1.0


def test_a_redirect_is_not_followed(server, local_index):
    with ContractServer(local_index) as stranger:
        api = _deadline_client(server, deadline=5.0)
        server.faults.append(f"redirect:{stranger.url}")
        with pytest.raises(UpstreamError, match="redirects are not followed"):
            api.count_many(["Hamlet"])
        assert stranger.requests == 0


def test_a_body_over_the_limit_is_refused_while_read(server):
    api = _deadline_client(server, deadline=10.0)
    server.faults.append("huge:50000000")  # 50 MB, no Content-Length
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(UpstreamError, match="more than 1,048,576 bytes"):
        api.count_many(["Hamlet"])
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 20_000  # KB: never held whole


def test_a_detector_over_a_broken_upstream_retrieves(server):
    """Fail closed: an unknown count from a bad upstream means retrieve, never "no risk"."""
    api = _deadline_client(server, deadline=3.0)
    det = Detector(api, Extractor("rules"))
    for fault in ("drip:0.3", "redirect:http://127.0.0.1:9/", "huge:5000000"):
        server.faults.extend([fault] * 4)
        report = det.check_question("Who wrote Hamlet?")
        assert report.unknown and report.retrieve, fault
        server.faults.clear()

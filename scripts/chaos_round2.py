"""The second round of fault-injection cases of scripts/chaos.py (each states its invariant).

  audit_writer   kill -9 of `quco serve --audit`'s writer under load: every decision answered 200
                 has its audit row or is a counted loss; feedback never 500s; the writer restarts
  request_ids    one caller X-Request-ID reused by many requests: every decision its own id, the
                 caller's echoed; feedback on one labels that one only
  resume_ident   `quco score` killed, then the index rebuilt at the same path (or the input edited
                 keeping size and mtime): the resumed run is refused naming what changed, never an
                 output mixing corpora
  damaged_files  every file of a memory-mapped and an infini-gram index truncated, bit-flipped or
                 with a zeroed page: refused (exit 4) naming it; large (background-verified)
                 indexes answer approx or unknown, never exact
  disk_full      every command that writes, on a 3 MB tmpfs: exit 5 or 9 in one line, no temp
                 file left, the previous output intact (skipped where a tmpfs cannot be mounted)
  api_client     an upstream that drips, redirects to a stranger or sends a huge body: every
                 decision unknown (retrieve) within the deadline + 1 s, client RSS <= 300 MB
  kill_vocab     kill -9 during `quco index vocab`: the index answers the same throughout, the
                 re-run succeeds and leaves nothing behind
  concurrent_add two `quco index add` on one index at once: each succeeds or is refused in one
                 line; the index holds exactly the documents of the runs that succeeded
  readonly       an index its user cannot write (another uid): checks answer; writes are refused
                 in one line, never a traceback (skipped where the uid cannot be changed)
  shared_detector one Detector shared by 8 threads: every report identical to a sequential run's
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from benchlib import tree_pids
from chaoslib import PY, ROOT, SHARED, Server, digest, killpg, one_line_error, quco


def _halueval(n: int) -> list[dict]:
    return [json.loads(line) for line in list(open(SHARED / "eval" / "halueval_qa_dev.jsonl"))[:n]]


def _metric(text: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ") or
               line.startswith(name + "{"))


def writer_pid(pids: list[int], audit: Path) -> int | None:
    """The process holding the audit database open (the writer)."""
    for p in pids:
        try:
            if any(os.readlink(f"/proc/{p}/fd/{fd}") == str(audit) for fd in os.listdir(f"/proc/{p}/fd")):
                return p
        except OSError:
            continue
    return None


def case_audit_writer(w: Path, idx: Path, quick: bool) -> dict:
    import duckdb

    audit = (w / "writer-audit.duckdb").resolve()
    srv = Server(idx, "--audit", audit, "--workers", "2")
    answered, statuses, feedback = [], {}, []
    stop = threading.Event()

    def client(k: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                status, body = srv.request("POST", "/v1/check", {"question": f"Who wrote Hamlet, take {k}-{i}?"}, timeout=15)
            except OSError:
                continue
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                answered.append(json.loads(body)["request_id"])

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(4)]
    for t in threads:
        t.start()
    kills = 0
    try:
        for _ in range(1 if quick else 3):
            time.sleep(2)
            writer = writer_pid(tree_pids(srv.proc.pid), audit)
            if writer is not None:
                os.kill(writer, signal.SIGKILL)
                kills += 1
            time.sleep(0.3)  # the writer is down: feedback must answer, never 500
            if answered:
                feedback.append(srv.request("POST", "/v1/feedback", {"request_id": answered[0], "label": "correct"})[0])
        time.sleep(3)  # restarted by now; the workers resend what it had not committed
        stop.set()
        for t in threads:
            t.join(20)
        time.sleep(1.5)
        metrics = srv.request("GET", "/metrics")[1].decode()
        health = json.loads(srv.request("GET", "/healthz")[1])
    finally:
        stop.set()
        srv.stop()
    con = duckdb.connect(str(audit), read_only=True)
    try:
        stored = {r[0] for r in con.execute("SELECT request_id FROM decisions").fetchall()}
    finally:
        con.close()
    missing = [r for r in answered if r not in stored]
    lost = _metric(metrics, "quco_audit_rows_lost_total")
    ok = (kills > 0 and len(missing) <= lost and 500 not in feedback and 500 not in statuses
          and _metric(metrics, "quco_audit_writer_restarts") >= 1)
    return {"invariant": "every decision answered 200 has its audit row or is a counted loss; feedback never "
                         "500s; the writer is restarted", "writer_kills": kills, "answered_200": len(answered),
            "statuses": {str(k): v for k, v in sorted(statuses.items())}, "without_row": len(missing),
            "counted_lost": lost, "unaccounted": max(0, len(missing) - int(lost)), "feedback_statuses": feedback,
            "restarts": _metric(metrics, "quco_audit_writer_restarts"), "healthz_audit": health.get("audit"), "ok": ok}


def case_request_ids(w: Path, idx: Path) -> dict:
    import duckdb

    audit = (w / "ids-audit.duckdb").resolve()
    srv = Server(idx, "--audit", audit)
    bodies = []
    try:
        for i in range(20):
            status, body = srv.request("POST", "/v1/check", {"question": f"Who wrote Hamlet {i}?"},
                                       headers={"X-Request-ID": "same-id-for-everyone"})
            bodies.append(json.loads(body) if status == 200 else {"status": status})
        ours = [b.get("request_id") for b in bodies]
        fb = srv.request("POST", "/v1/feedback", {"request_id": ours[3], "label": "fabricated"})[0]
        fb_client = srv.request("POST", "/v1/feedback", {"request_id": "same-id-for-everyone", "label": "correct"})[0]
        time.sleep(1)
    finally:
        srv.stop()
    con = duckdb.connect(str(audit), read_only=True)
    try:
        labelled = con.execute("SELECT request_id FROM feedback").fetchall()
        clients = {r[0] for r in con.execute("SELECT client_request_id FROM decisions").fetchall()} - {None}
    finally:
        con.close()
    echoed = all(b.get("client_request_id") == "same-id-for-everyone" for b in bodies)
    ok = len(set(ours)) == 20 and None not in ours and echoed and labelled == [(ours[3],)] and fb == 200 \
        and fb_client == 404 and clients == {"same-id-for-everyone"}
    return {"invariant": "a reused caller id never merges decisions; feedback labels exactly the one named",
            "decisions": len(ours), "distinct_ids": len(set(ours)), "caller_id_echoed": echoed,
            "feedback_status": fb, "feedback_rows": len(labelled), "feedback_labels_the_one_named": labelled == [(ours[3],)],
            "caller_ids_stored": sorted(clients)[:3], "feedback_by_caller_id_status": fb_client, "ok": ok}


def case_resume_ident(w: Path, rng: random.Random) -> dict:
    lines = (SHARED / "corpus" / "halueval_knowledge.jsonl").read_text(encoding="utf-8").splitlines()
    a, b = w / "ri-a.jsonl", w / "ri-b.jsonl"
    a.write_text("\n".join(lines[:3000]) + "\n", encoding="utf-8")
    b.write_text("\n".join(lines[3000:9000]) + "\n", encoding="utf-8")
    ix = w / "ri.mmap"
    assert quco("index", "build", a, "--out", ix, "--backend", "mmap", "--no-progress", "--force").returncode == 0
    src = w / "ri-rows.jsonl"
    src.write_text("".join(json.dumps({"question": r["question"], "id": i}) + "\n" for i, r in enumerate(_halueval(400) * 10)))
    out = w / "ri-out.jsonl"
    common = ["--index", ix, "--model", "rules", "--chunk-size", "100", "--no-progress"]
    runs = []
    for change in ("index rebuilt", "input edited"):
        out.unlink(missing_ok=True)
        shutil.rmtree(w / "ri-out.jsonl.quco-parts", ignore_errors=True)
        proc = subprocess.Popen([PY, "-m", "quco.cli.main", "score", str(src), "-o", str(out), *map(str, common)],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                env={**os.environ, "QUCO_API_TOKEN": ""})
        parts = w / "ri-out.jsonl.quco-parts"
        deadline = time.time() + 60
        while time.time() < deadline and not list(parts.glob("part-*.jsonl")):
            time.sleep(0.05)
        time.sleep(rng.uniform(0, 0.3))
        killpg(proc)
        if change == "index rebuilt":
            assert quco("index", "build", b, "--out", ix, "--backend", "mmap", "--no-progress", "--force").returncode == 0
        else:
            st = src.stat()
            data = src.read_bytes().replace(b"Who", b"Wha", 1)  # same size
            src.write_bytes(data)
            os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the same mtime
        resumed = quco("score", src, "-o", out, *common)
        corpora = {json.loads(line)["corpus_tokens"] for line in out.read_text().splitlines()} if out.exists() else set()
        named = ("index" in resumed.stderr) if change == "index rebuilt" else ("input" in resumed.stderr)
        runs.append({"change": change, "exit": resumed.returncode, "one_line": one_line_error(resumed),
                     "names_it": named, "corpora_in_output": len(corpora),
                     "ok": resumed.returncode != 0 and one_line_error(resumed) and named and len(corpora) <= 1})
        restarted = quco("score", src, "-o", out, *common, "--restart")
        runs[-1]["restart_exit"] = restarted.returncode
        runs[-1]["ok"] = runs[-1]["ok"] and restarted.returncode == 0
    return {"invariant": "a resumed run over another index or input is refused naming it; never a mixed output",
            "runs": runs, "mixed_outputs": sum(r["corpora_in_output"] > 1 for r in runs), "ok": all(r["ok"] for r in runs)}


def _damage(path: Path, how: str, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncate":
        data = data[: rng.randrange(max(1, len(data)))]
    elif how == "flip":
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    else:
        start = rng.randrange(max(1, len(data))) & ~4095
        page = bytes(min(4096, len(data) - start))
        if data[start:start + 4096] == page:
            data[-1] ^= 0xFF
        else:
            data[start:start + 4096] = page
    path.write_bytes(bytes(data))


def case_damaged_files(w: Path, rng: random.Random, quick: bool) -> dict:
    """Every file, three ways: refused at open (exit 4 naming it); then the same damage with the
    index treated as large (verified in the background), queried in-process: approx or unknown."""
    import logging

    from quco.index import checksums

    logging.getLogger("quco.index").setLevel(logging.CRITICAL)  # each damage found is logged: expected here
    lines = (SHARED / "corpus" / "halueval_knowledge.jsonl").read_text(encoding="utf-8").splitlines()[:1500]
    src = w / "dmg.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    good = {"mmap": w / "dmg.mmap", "infinigram": w / "dmg.ig"}
    for backend, path in good.items():
        assert quco("index", "build", src, "--out", path, "--backend", backend, "--no-progress", "--force").returncode == 0
    probes = ["William Shakespeare", "Denmark", "the United States"]
    results, bad = {"exit_4_naming_file": 0}, []
    exact_wrong = 0
    hows = ("truncate", "flip") if quick else ("truncate", "flip", "zero-page")
    for backend, path in good.items():
        files = sorted(p.relative_to(path) for p in path.rglob("*") if p.is_file() and not p.name.startswith(("quco-index", "quco.json")))
        for rel in files:
            for how in hows:
                copy = w / f"dmg-{backend}-copy"
                shutil.rmtree(copy, ignore_errors=True)
                shutil.copytree(path, copy)
                _damage(copy / rel, how, rng)
                if digest(copy / rel) == digest(path / rel):
                    continue  # the damage happened to change nothing
                proc = quco("check", "Who wrote Hamlet?", "--index", copy, "--model", "rules", timeout=60)
                if proc.returncode == 4 and one_line_error(proc) and str(rel.name) in proc.stderr:
                    results["exit_4_naming_file"] += 1
                else:
                    bad.append({"backend": backend, "file": str(rel), "how": how, "exit": proc.returncode,
                                "stderr": proc.stderr[-200:]})
                exact_wrong += _background_answers(copy, backend, probes, checksums)
    results.update({"invariant": "a damaged file is refused naming it; a large index answers approx or unknown "
                                 "until verified, never exact", "violations": bad[:5], "cases": results["exit_4_naming_file"]
                    + len(bad), "damaged_answered_exact": exact_wrong, "ok": not bad and exact_wrong == 0})
    return results


def _background_answers(path: Path, backend: str, probes: list[str], checksums) -> int:
    """Answers given as exact by a damaged index opened as a large one (verified in the background)."""
    from quco.errors import QucoError

    saved = checksums.VERIFY_AT_OPEN_BYTES
    checksums.VERIFY_AT_OPEN_BYTES = 0
    os.environ["QUCO_CACHE_DIR"] = str(path.parent / "dmg-cache")
    try:
        if backend == "mmap":
            from quco.index.mmap.reader import MmapIndex as Index
        else:
            from quco.index.infinigram.reader import InfiniGramLocal as Index
        try:
            ix = Index(path)
        except QucoError:
            return 0  # refused at open (a damaged manifest or array header)
        except Exception:  # a crash at open instead of a refusal: counted
            return 1
        exact = 0
        for _ in range(40):
            try:
                exact += sum(not c.approx for c in ix.count_many(probes))
            except QucoError:
                break  # unknown: found damaged
            except Exception:  # anything but a QucoError is a violation too: counted
                return 1
            time.sleep(0.02)
        return exact
    finally:
        checksums.VERIFY_AT_OPEN_BYTES = saved


def case_disk_full(w: Path) -> dict:
    mnt = w / "small-disk"
    mnt.mkdir(exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True).returncode:
        return {"skipped": "cannot mount a small tmpfs here (needs root)", "ok": True}
    try:
        return _fill_disk(w, mnt)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill_disk(w: Path, mnt: Path) -> dict:
    lines = (SHARED / "corpus" / "halueval_knowledge.jsonl").read_text(encoding="utf-8").splitlines()
    small, big = w / "df-small.jsonl", w / "df-big.jsonl"
    small.write_text("\n".join(lines[:600]) + "\n", encoding="utf-8")
    big.write_text("\n".join(lines[:12000]) + "\n", encoding="utf-8")
    rows = w / "df-rows.jsonl"
    rows.write_text("".join(json.dumps({"question": f"Who wrote Hamlet, part {i}?", "answer": "Shakespeare",
                                        "label": i % 2}) + "\n" for i in range(20_000)))
    ix = mnt / "m"
    assert quco("index", "build", small, "--out", ix, "--backend", "mmap", "--no-progress").returncode == 0
    runs = []

    def attempt(name, *args, keep: Path | None = None):
        before = digest(keep) if keep is not None else None
        proc = quco(*args, timeout=300)
        intact = keep is None or digest(keep) == before
        temps = [p.name for p in mnt.rglob("*") if ".tmp-" in p.name or ".building-" in p.name or ".writing-" in p.name]
        runs.append({"command": name, "exit": proc.returncode, "one_line": proc.returncode == 0 or one_line_error(proc),
                     "previous_intact": intact, "temps_left": temps[:3],
                     "ok": proc.returncode in (0, 5, 9) and (proc.returncode == 0 or one_line_error(proc)) and intact
                     and not temps})

    for backend in ("duckdb", "mmap", "infinigram"):
        attempt(f"index build --backend {backend}", "index", "build", big, "--out", mnt / f"b-{backend}",
                "--backend", backend, "--no-progress")
    for _ in range(4):
        attempt("index add", "index", "add", ix, big, "--no-progress", "--no-merge", keep=ix)
    attempt("index compact", "index", "compact", ix, keep=ix)
    attempt("score", "score", rows, "-o", mnt / "s.jsonl", "--index", ix, "--model", "rules", "--no-progress")
    scored = w / "df-scored.jsonl"
    quco("score", rows, "-o", scored, "--index", ix, "--model", "rules", "--no-progress", "--answer-field", "answer")
    attempt("eval", "eval", scored, "--label-field", "label", "--score-field", "risk", "--out", mnt / "eval")
    return {"invariant": "every write to a full disk: exit 5 or 9 in one line, no temp file, previous output intact",
            "runs": runs, "exit_70": sum(r["exit"] == 70 for r in runs), "ok": all(r["ok"] for r in runs)}


# The API client in a child process, so its own peak RSS is what is measured.
_CLIENT = r"""
import json, resource, sys, time
from quco.backends.infinigram_api import HttpClient, InfiniGramAPI, RetryPolicy
from quco.decide.detector import Detector
from quco.extract import Extractor
url, deadline = sys.argv[1], float(sys.argv[2])
api = InfiniGramAPI(endpoint=url, index="chaos", max_workers=2,
                    http=HttpClient(timeout=(1.0, 1.0), policy=RetryPolicy(attempts=2, backoff=0.01, deadline=deadline)))
det = Detector(api, Extractor("rules"))
out = []
for batch in (["William Shakespeare"], ["Denmark", "Hamlet", "Paris", "London", "Rome", "Berlin"]):
    t = time.perf_counter()
    try:
        c = api.count_many(batch)[0]
        out.append({"call": "count", "seconds": time.perf_counter() - t, "unknown": False, "count": c.count})
    except Exception as exc:
        out.append({"call": "count", "seconds": time.perf_counter() - t, "unknown": True, "error": type(exc).__name__})
t = time.perf_counter()
r = det.check_question("Who wrote Hamlet, William Shakespeare or Christopher Marlowe?")
out.append({"call": "check_question", "seconds": time.perf_counter() - t, "unknown": r.unknown, "retrieve": r.retrieve})
print(json.dumps({"calls": out, "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def case_api_client(w: Path, corpus: Path) -> dict:
    from quco.index.infinigram.build import build_infinigram_index
    from quco.index.infinigram.reader import InfiniGramLocal
    from quco.testing.contract_server import ContractServer

    ig = w / "api.ig"
    if not ig.exists():
        build_infinigram_index([corpus], ig, progress=False)
    local = InfiniGramLocal(ig, cooccur="cnf")
    deadline = 3.0
    rows = []
    with ContractServer(local) as stranger:
        for fault in ("drip:0.2", f"redirect:{stranger.url}", "huge:400000000"):
            with ContractServer(local) as srv:
                srv.faults.extend([fault] * 1000)
                t = time.time()
                proc = subprocess.run([PY, "-c", _CLIENT, srv.url, str(deadline)], capture_output=True, text=True,
                                      cwd=ROOT, timeout=120)
                if proc.returncode:
                    rows.append({"fault": fault.split(":")[0], "crashed": proc.stderr[-300:], "ok": False})
                    continue
                rep = json.loads(proc.stdout)
                slowest = max(c["seconds"] for c in rep["calls"] if c["call"] == "count")
                ok = (all(c["unknown"] for c in rep["calls"]) and rep["calls"][-1]["retrieve"]
                      and slowest <= deadline + 1 and rep["max_rss_mb"] <= 300 and stranger.requests == 0)
                rows.append({"fault": fault.split(":")[0], "slowest_count_s": round(slowest, 2),
                             "check_question_s": round(rep["calls"][-1]["seconds"], 2), "all_unknown":
                             all(c["unknown"] for c in rep["calls"]), "retrieve": rep["calls"][-1]["retrieve"],
                             "client_max_rss_mb": round(rep["max_rss_mb"]), "stranger_asked": stranger.requests,
                             "wall_s": round(time.time() - t, 1), "ok": ok})
    return {"invariant": f"every upstream failure is unknown (retrieve) within the deadline ({deadline} s) + 1 s, "
                         "client RSS <= 300 MB, a redirect's target never asked", "faults": rows,
            "ok": all(r["ok"] for r in rows)}


def _shard_counts(path: Path, phrases: list[str]) -> list:
    from quco.index.sharded.reader import open_sharded

    ix = open_sharded(path)
    try:
        return [(c.count, c.approx) for c in ix.count_many(phrases)]
    finally:
        ix.close()


def case_kill_vocab(w: Path, rounds: int, rng: random.Random) -> dict:
    corpus_files = sorted((SHARED / "corpus").glob("*.jsonl"))
    ix = w / "kv.shards"
    built = quco("index", "build", *corpus_files, "--out", ix, "--shards", "3", "--backend", "mmap", "--no-progress",
                 "--force")
    assert built.returncode == 0, built.stderr
    phrases = ["William Shakespeare", "Denmark", "the", "Paris", "Barack Obama", "Hamlet", "quantum mechanics"]
    want = _shard_counts(ix, phrases)
    t = time.time()
    assert quco("index", "vocab", ix).returncode == 0
    whole = time.time() - t  # the kills land anywhere within a whole rewrite
    runs = []
    for _ in range(rounds):
        proc = subprocess.Popen([PY, "-m", "quco.cli.main", "index", "vocab", str(ix)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        delay = rng.uniform(0.2, whole)
        time.sleep(delay)
        killpg(proc)
        during = _shard_counts(ix, phrases)
        rerun = quco("index", "vocab", ix)
        left = [p.name for p in ix.iterdir() if p.name.startswith(".vocab.") or ".tmp" in p.name]
        verified = quco("index", "verify", ix)
        after = _shard_counts(ix, phrases)
        runs.append({"kill_after_s": round(delay, 2), "answers_same_after_kill": during == want,
                     "rerun_exit": rerun.returncode, "left_behind": left, "verify_exit": verified.returncode,
                     "ok": during == want and after == want and rerun.returncode == 0 and not left
                     and verified.returncode == 0})
    return {"invariant": "a killed vocabulary rewrite changes no answer; the re-run succeeds, nothing left behind",
            "rewrite_s": round(whole, 2), "runs": runs, "ok": all(r["ok"] for r in runs)}


def case_concurrent_add(w: Path, rounds: int) -> dict:
    lines = (SHARED / "corpus" / "halueval_knowledge.jsonl").read_text(encoding="utf-8").splitlines()
    base = w / "ca-base.jsonl"
    base.write_text("\n".join(lines[:2000]) + "\n", encoding="utf-8")
    parts = []
    for k in range(2):
        p = w / f"ca-{k}.jsonl"
        p.write_text("\n".join(lines[2000 + 3000 * k: 5000 + 3000 * k]) + "\n", encoding="utf-8")
        parts.append(p)
    runs = []
    for r in range(rounds):
        ix = w / "ca.mmap"
        assert quco("index", "build", base, "--out", ix, "--backend", "mmap", "--no-progress", "--force").returncode == 0
        docs0 = json.loads(quco("index", "info", ix, "--json").stdout)["documents"]
        procs = [subprocess.Popen([PY, "-m", "quco.cli.main", "index", "add", str(ix), str(p), "--no-progress"],
                                  cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for p in (parts if r % 2 == 0 else parts[::-1])]
        results = [(p.wait(300), p.stderr.read()) for p in procs]
        info = json.loads(quco("index", "info", ix, "--json").stdout)
        added = sum(3000 for code, _ in results if code == 0)
        clean = all(code == 0 or (err.strip().startswith("quco: ") and len(err.strip().splitlines()) == 1
                                  and "Traceback" not in err) for code, err in results)
        verified = quco("index", "verify", ix).returncode
        runs.append({"exits": [c for c, _ in results], "documents": info["documents"], "expected": docs0 + added,
                     "refusals_one_line": clean, "verify_exit": verified,
                     "ok": info["documents"] == docs0 + added and clean and verified == 0})
    return {"invariant": "concurrent adds: each succeeds or is refused in one line; the index holds exactly the "
                         "documents of those that succeeded and verifies", "runs": runs, "ok": all(r["ok"] for r in runs)}


def case_readonly(w: Path, idx: Path) -> dict:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return {"skipped": "needs root and setpriv to run quco as another user", "ok": True}
    ro = w / "ro"
    ro.mkdir(exist_ok=True)
    os.chmod(w, 0o755)
    lines = (SHARED / "corpus" / "halueval_knowledge.jsonl").read_text(encoding="utf-8").splitlines()
    src = ro / "more.jsonl"
    src.write_text("\n".join(lines[:500]) + "\n", encoding="utf-8")
    for backend in ("mmap", "duckdb"):
        assert quco("index", "build", src, "--out", ro / f"ix.{backend}", "--backend", backend,
                    "--no-progress").returncode == 0
    assert quco("index", "build", src, "--out", ro / "ix.shards", "--shards", "2", "--backend", "mmap",
                "--no-progress").returncode == 0
    for p in [ro, *ro.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    before = digest(ro)
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", PY, "-m", "quco.cli.main"]
    env = {**os.environ, "QUCO_API_TOKEN": "", "HOME": "/nonexistent", "QUCO_CACHE_DIR": str(ro / "no-cache")}
    runs = []
    for name, args, should_work in [
            ("check mmap", ["check", "Who wrote Hamlet?", "--index", ro / "ix.mmap", "--model", "rules"], True),
            ("check duckdb", ["check", "Who wrote Hamlet?", "--index", ro / "ix.duckdb", "--model", "rules"], True),
            ("check sharded", ["check", "Who wrote Hamlet?", "--index", ro / "ix.shards", "--model", "rules"], True),
            ("index verify", ["index", "verify", ro / "ix.mmap"], True),
            ("index add", ["index", "add", ro / "ix.mmap", src, "--no-progress"], False),
            ("index compact", ["index", "compact", ro / "ix.mmap"], False),
            ("index vocab", ["index", "vocab", ro / "ix.shards"], False),
            ("index build over it", ["index", "build", src, "--out", ro / "ix.duckdb", "--force", "--no-progress"], False),
            ("score into it", ["score", src, "-o", ro / "out.jsonl", "--index", ro / "ix.mmap", "--model", "rules",
                               "--question-field", "text", "--no-progress"], False)]:
        proc = subprocess.run(as_nobody + [str(a) for a in args], capture_output=True, text=True, cwd="/", env=env,
                              timeout=300)
        ok = proc.returncode == 0 if should_work else (proc.returncode not in (0, 70) and one_line_error(proc))
        runs.append({"command": name, "exit": proc.returncode, "ok": ok,
                     **({} if ok else {"stderr": proc.stderr[-300:]})})
    intact = digest(ro) == before
    return {"invariant": "a read-only index answers; every write to it is refused in one line; nothing changes",
            "runs": runs, "unchanged": intact, "ok": intact and all(r["ok"] for r in runs)}


def case_shared_detector(idx: Path, quick: bool) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    from quco.decide.detector import Detector
    from quco.extract import Extractor
    from quco.index.duckdb.reader import DuckDBIndex

    rows = _halueval(100 if quick else 400)
    items = [(r["question"], f"The answer is {a}.") for r in rows for a in (r["right_answer"], r["hallucinated_answer"])]
    det = Detector(DuckDBIndex(idx), Extractor("rules"))

    def key(rep) -> str:  # the whole report but its timings
        from dataclasses import asdict

        return json.dumps({k: v for k, v in asdict(rep).items() if k not in ("timings_ms", "request_id")},
                          sort_keys=True, default=str)

    want = [key(det.check_draft(q, d)) for q, d in items]
    det = Detector(DuckDBIndex(idx), Extractor("rules"))  # fresh caches: the threads fill them together
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda it: key(det.check_draft(*it)), items * 2))
    differ = sum(a != b for a, b in zip(want * 2, got))
    return {"invariant": "a Detector shared by 8 threads gives each report exactly as a sequential run does",
            "checks": len(got), "threads": 8, "differ": differ, "ok": differ == 0}

"""What the fault-injection cases of scripts/chaos.py share: running quco, a server on 127.0.0.1, digests."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from benchlib import tree_pids

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("QUCO_SHARED_DATA", ROOT.parent / "shared" / "data"))
PY = sys.executable


# -- helpers ---------------------------------------------------------------------------------------
def quco(*args, timeout=300, env=None, **kw):
    return subprocess.run([PY, "-m", "quco.cli.main", *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env={**os.environ, "QUCO_API_TOKEN": "", **(env or {})}, **kw)


def digest(path: Path) -> str:
    if path.is_dir():
        return hashlib.sha256("".join(digest(p) for p in sorted(path.iterdir())).encode()).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


def one_line_error(proc) -> bool:
    err = proc.stderr.strip()
    return "Traceback" not in proc.stderr and len(err.splitlines()) == 1 and err.startswith("quco: ")


def temps_left(d: Path) -> list[str]:
    return [p.name for p in d.iterdir() if ".building-" in p.name or ".tmp-" in p.name or p.name.endswith(".lock")]


def tree_cpu_s(pid: int) -> float:
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for p in tree_pids(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, index: Path, *args, env=None, model="rules", port: int | None = None):
        self.port = port or free_port()
        self.proc = subprocess.Popen(
            [PY, "-m", "quco.cli.main", "serve", "--index", str(index), "--model", model, "--port", str(self.port), *args],
            cwd=ROOT, env={**os.environ, "QUCO_API_TOKEN": "", **(env or {})},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError("server did not start")
        # The check worker starts in the background: wait until a draft is answered.
        while time.time() < deadline and self.request("POST", "/v1/check", {"question": "Who?", "draft": "Paris is."})[0] != 200:
            time.sleep(0.2)

    def request(self, method, path, body=None, raw=None, headers=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        try:
            conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def docs(n_chars: int) -> list[str]:
    out, total = [], 0
    with open(SHARED / "corpus" / "wiki_paragraphs.jsonl") as fh:
        for line in fh:
            t = json.loads(line)["text"]
            out.append(t)
            total += len(t)
            if total >= n_chars:
                break
    return out


def draft(n_chars: int, offset: int = 0) -> str:
    return " ".join(docs(n_chars + offset))[offset: offset + n_chars]


def killpg(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:  # it finished before the kill
        pass
    proc.wait()


def zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def swallow(fn, *a, **kw):
    try:
        return fn(*a, **kw)
    except OSError as exc:
        return (0, str(exc).encode())



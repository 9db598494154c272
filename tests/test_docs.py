"""The documentation site builds without a warning, every page is in its navigation, and the
README keeps its promises: short, set-up commands first, links that resolve."""

import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT


def test_readme_is_short_and_starts_with_install():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 500
    first_screen = "\n".join(text.splitlines()[:40])
    for command in ("pip install quco", "quco model install", "quco index build", "quco check",
                    "bash scripts/demo.sh", "bash scripts/test.sh"):
        assert command in first_screen, command
    assert "## Contents" in text
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target
    for anchor in re.findall(r"\]\(#([^)]+)\)", text):
        headings = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^## (.+)$", text, re.M)}
        assert anchor in headings, anchor


def test_changelog_keeps_a_changelog():
    text = (ROOT / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog") and "## [Unreleased]" in text
    from quco import __version__

    assert f"## [{__version__}]" in text


def test_the_site_builds_strictly_and_renders_in_headless_chromium(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs is installed by the test set-up")
    site = tmp_path / "site"
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    import yaml

    nav = [next(iter(item.values())) for item in yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]]
    assert sorted(nav) == sorted(p.name for p in (ROOT / "docs").glob("*.md"))  # no page left out of the navigation
    page = site / "rag" / "index.html"
    assert "quco_verify" in page.read_text()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'chromium'}",
             "--window-size=1200,1600"]
    shot = tmp_path / "rag.png"
    subprocess.run(flags + [f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    dom = subprocess.run(flags + ["--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert shot.stat().st_size > 50_000
    assert "In a RAG pipeline" in dom and "Rewards for RL" in dom and "Async and streaming" in dom


PRELUDE = '''
import json, os
import pandas as pd
import quco

os.makedirs("indexes", exist_ok=True)
docs = ["Hamlet is a tragedy written by William Shakespeare. It is set in Denmark.",
        "William Shakespeare was an English playwright and poet.",
        "Charles Dickens was an English novelist. Dickens wrote Oliver Twist.",
        "Arthur's Magazine was an American literary periodical first published in 1844."]
with open("docs.jsonl", "w") as f:
    f.writelines(json.dumps({"id": f"d{i}", "text": t}) + "\\n" for i, t in enumerate(docs))
quco.build_index(["docs.jsonl"], "indexes/wiki.duckdb", progress=False)
question, draft = "Who wrote Hamlet?", "Hamlet was written by Charles Dickens."
q1, q2, draft2 = "Who wrote Oliver Twist?", "Who wrote Hamlet?", "Hamlet was written by William Shakespeare."
replies = ["Hamlet was written by Charles Dickens.", "Hamlet was written by William Shakespeare. So the answer is Shakespeare."]
def my_llm(prompt): return "an answer"
def generate(prompt): return replies[len(prompt) % 2]
def retrieve(query, k): return quco.BM25Retriever("indexes/wiki.duckdb")(query, k)
async def agenerate(prompt): return generate(prompt)
async def aretrieve(query, k): return retrieve(query, k)
df = pd.DataFrame({"question": [question, question], "answer": ["William Shakespeare", "Charles Dickens"],
                   "hallucinated": [False, True]})
prompts, completions = [question, question], [draft2, draft]
'''


def test_the_readme_python_runs_as_written(tmp_path):
    """Every Python block of the README, in order, in one fresh process (top-level await allowed),
    after a prelude giving the names the README leaves to the reader."""
    pytest.importorskip("pandas")
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert len(blocks) >= 4
    script = tmp_path / "readme.py"
    script.write_text(PRELUDE + "\n".join(blocks))
    runner = ("import ast, asyncio, sys; src = open(sys.argv[1]).read(); "
              "code = compile(src, 'README.md', 'exec', flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT); "
              "r = eval(code, {'__name__': '__main__'}); asyncio.run(r) if r is not None else None; print('README ok')")
    env = {k: v for k, v in os.environ.items() if k not in ("QUCO_INDEX", "QUCO_CONFIG")}
    out = subprocess.run([sys.executable, "-c", runner, str(script)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0 and "README ok" in out.stdout, out.stderr[-3000:]
    assert "text Hamlet was written by" in out.stdout  # the streamed, verified sentence

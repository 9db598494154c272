"""The documentation site builds without a warning, every page is in its navigation, and the
README keeps its promises: short, set-up commands first, links that resolve."""

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

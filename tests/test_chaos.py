"""The CI subset of scripts/chaos.py: every invariant of every case must hold."""

import json
import subprocess
import sys

import pytest
from conftest import CORPUS_FILES, ROOT


@pytest.mark.skipif(not CORPUS_FILES, reason="../shared/data/corpus is absent (it ships beside the repo in CI)")
def test_chaos_quick():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "chaos.py"), "--quick"], capture_output=True,
                          text=True, timeout=1200, cwd=ROOT)
    report = json.loads(proc.stdout)
    failed = {k: c for k, c in report["cases"].items() if not c["ok"]}
    assert not failed, json.dumps(failed, indent=1)[:4000]
    assert proc.returncode == 0
    summary = report["summary"]
    assert summary["lost_or_modified_data"] == 0 and summary["fail_open_decisions"] == 0
    assert summary["orphans"] == 0 and summary["unaccounted_audit_rows"] == 0 and summary["mixed_outputs"] == 0
    assert summary["damaged_answered_exact"] == 0 and not summary["full_disk_exit_70"]

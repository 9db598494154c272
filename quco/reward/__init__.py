"""Corpus-grounded rewards for RL fine-tuning (TRL, verl, OpenRLHF): ``Reward``, ``open_reward``.

``open_reward("wiki.qidx")`` opens an index and returns a ``Reward``; ``quco.reward.verl``
holds verl's ``compute_score`` entry point. Nothing heavy is imported until a reward is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quco.reward.core import Reward

__all__ = ["Reward", "from_settings", "open_reward"]


def open_reward(index, *, model: str | None = None, scheme: str = "evidence", **options) -> Reward:
    """A ``Reward`` over the index at ``index`` (any format ``quco index build`` writes), or over a
    ``CountBackend`` passed as ``index``; ``model``: the spaCy pipeline (``"rules"`` for the
    rule-based one); other options as ``Reward``'s."""
    from quco.backends.base import CountBackend
    from quco.extract import Extractor
    from quco.index.open import open_backend
    from quco.reward.core import Reward

    backend = index if isinstance(index, CountBackend) else open_backend(index)
    return Reward(backend, Extractor(model), scheme=scheme, **options)


def from_settings(settings) -> Reward:
    """The ``Reward`` a ``quco.config.Settings`` describes (index, model, window, thresholds and
    ``reward_scheme``/``reward_unknown``, ``bridges``): what the CLI, ``quco serve`` and verl's entry
    point use."""
    from quco.extract import Extractor
    from quco.reward.core import Reward

    return Reward(settings.open_backend(), Extractor(settings.model), settings.thresholds(),
                  scheme=settings.reward_scheme, unknown=settings.reward_unknown, window=settings.window)


def __getattr__(name: str):
    if name == "Reward":
        from quco.reward.core import Reward

        return Reward
    raise AttributeError(f"module 'quco.reward' has no attribute {name!r}")

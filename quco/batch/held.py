"""What a score run needs from its configuration, taken from a ``Detector`` the caller already
holds (``quco.score(table, detector=d)``) instead of from settings.

The run's workers receive the detector itself (a Detector pickles by configuration: each worker
reopens the index and loads the pipeline); a resumed run is matched by the index's identity and
the detector's thresholds, as a settings-based run is by its settings.
"""

from __future__ import annotations

from dataclasses import asdict


class HeldDetector:
    """The settings interface of a score run (``detector``, ``answer_scorer``, ``index_identity``,
    ``record``, ``inputs``) over a held ``Detector``."""

    def __init__(self, detector):
        self.held = detector

    def detector(self):
        return self.held

    def answer_scorer(self, detector):
        from quco.decide.answer import AnswerScorer

        return AnswerScorer(detector.backend, detector.extractor, window=detector.window,
                            unknown_policy=detector.thresholds.unknown_policy, bridges=detector.thresholds.bridges)

    def index_identity(self) -> str:
        return self.held.backend.identity

    def record(self) -> dict:
        """What a resumed run must share with the interrupted one."""
        d = self.held
        return {"detector": {"thresholds": asdict(d.thresholds), "window": d.window,
                             "extractor": d.extractor.model_name, "backend": d.backend.name}}

    def inputs(self) -> list[str]:
        """The files the run reads besides its input (an output must not overwrite them)."""
        path = getattr(self.held.backend, "path", None)
        return [str(path)] if path is not None else []

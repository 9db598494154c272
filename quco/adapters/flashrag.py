"""A FlashRAG judger (no FlashRAG import needed): ``judge(dataset) -> list[bool]``.

FlashRAG's ``ConditionalPipeline`` asks its judger whether each question needs retrieval and
splits the dataset on the answer (True: retrieval). Plug quco in with::

    pipeline = ConditionalPipeline(config, prompt_template)
    pipeline.judger = QucoJudger(config)          # or QucoJudger(detector=my_detector)

``config["judger_config"]`` may name the quco ``index`` (and ``model``); otherwise quco's own
configuration (quco.toml / QUCO_*) is used. ``judge`` accepts what FlashRAG's judgers accept: a
FlashRAG ``Dataset`` (anything with a ``.question`` list), a list of questions, or one question.
The reports of the last call are kept in ``last_reports``.
"""

from __future__ import annotations


class QucoJudger:
    def __init__(self, config=None, *, detector=None):
        self.config = config
        self.name = "quco"
        self.last_reports: list = []
        if detector is None:
            judger_config = config["judger_config"] if config is not None and "judger_config" in config else None
            if judger_config:
                from ..config import load_settings

                settings = load_settings(**{k: judger_config[k] for k in ("index", "model", "window") if k in judger_config})
                detector = settings.detector()
            else:
                from ..pregen import default_detector

                detector = default_detector()
        self.detector = detector

    def judge(self, dataset) -> list[bool]:
        if isinstance(dataset, str):
            questions = [dataset]
        elif isinstance(dataset, list):
            questions = dataset
        elif hasattr(dataset, "question"):
            questions = list(dataset.question)
        else:
            raise TypeError("dataset must be a FlashRAG Dataset (with .question), a list of str, or a str")
        self.last_reports = self.detector.check_many(questions)
        return [bool(r.retrieve) for r in self.last_reports]

    def batch_run(self, dataset, batch_size=None) -> list[bool]:
        return self.judge(dataset)

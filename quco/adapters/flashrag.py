"""FlashRAG adapters: quco's judger for stage 1 and an active pipeline for stage 2.

* ``QucoJudger`` (no FlashRAG import needed): ``judge(dataset) -> list[bool]``, True = retrieve.
* ``quco_conditional_pipeline(config, ...)``: FlashRAG's own ``ConditionalPipeline`` with the quco
  judger installed. (Its constructor calls ``get_judger(config)``, which refuses any judger but
  FlashRAG's SKR/Adaptive ones, so "build it, then set ``.judger``" never gets that far; the
  pipeline here is built with quco's judger in place of that call.)
* ``quco_active_pipeline(config, ...)``: stage 2 in FlashRAG's active-pipeline style (like its
  FLARE pipeline): for each item, generate, check the draft, truncate at a flagged sentence,
  retrieve with the claim and regenerate (``quco.Controller``); predictions go to ``pred`` and the
  rounds to ``quco_rounds`` in the dataset.

FlashRAG's pipeline package imports ``torch`` and ``transformers`` at import time; the two
factories import it only when called.

``config["judger_config"]`` may name the quco ``index`` (and ``model``); otherwise quco's own
configuration (quco.toml / QUCO_*) is used. ``judge`` accepts what FlashRAG's judgers accept: a
FlashRAG ``Dataset`` (anything with a ``.question`` list), a list of questions, or one question.
The reports of the last call are kept in ``last_reports``.
"""

from __future__ import annotations

import threading

from quco.errors import InvalidArgument

_PATCH_LOCK = threading.Lock()


class QucoJudger:
    def __init__(self, config=None, *, detector=None):
        self.config = config
        self.name = "quco"
        self.last_reports: list = []
        if detector is None:
            judger_config = config["judger_config"] if config is not None and "judger_config" in config else None
            if judger_config:
                from quco.config import load_settings

                settings = load_settings(**{k: judger_config[k] for k in ("index", "model", "window") if k in judger_config})
                detector = settings.detector()
            else:
                from quco.rag.pregen import default_detector

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
            raise InvalidArgument("dataset must be a FlashRAG Dataset (with .question), a list of str, or a str")
        self.last_reports = self.detector.check_many(questions)
        return [bool(r.retrieve) for r in self.last_reports]

    def batch_run(self, dataset, batch_size=None) -> list[bool]:
        return self.judge(dataset)


def quco_conditional_pipeline(config, prompt_template=None, *, detector=None, retriever=None, generator=None):
    """FlashRAG's ``ConditionalPipeline`` judged by quco (retriever/generator: FlashRAG's from
    ``config`` unless given)."""
    import flashrag.pipeline.pipeline as fp

    judger = QucoJudger(config, detector=detector)
    with _PATCH_LOCK:  # the constructor looks these up in its module: answer with ours, then restore
        saved = fp.get_judger, fp.get_retriever, fp.get_generator
        fp.get_judger = lambda cfg: judger
        if retriever is not None:
            fp.get_retriever = lambda cfg: retriever
        if generator is not None:
            fp.get_generator = lambda cfg, **kw: generator
        try:
            return fp.ConditionalPipeline(config, prompt_template)
        finally:
            fp.get_judger, fp.get_retriever, fp.get_generator = saved


def quco_active_pipeline(config, prompt_template=None, *, detector=None, retriever=None, generator=None,
                         max_rounds: int = 4, k: int = 3):
    """Stage 2 as a FlashRAG pipeline: ``run(dataset, do_eval=True, pred_process_fun=None)``."""
    from flashrag.pipeline import BasicPipeline

    class QucoActivePipeline(BasicPipeline):
        def __init__(self):
            super().__init__(config, prompt_template)
            from flashrag.utils import get_generator, get_retriever

            self.retriever = retriever if retriever is not None else get_retriever(config)
            self.generator = generator if generator is not None else get_generator(config)
            self.judger = QucoJudger(config, detector=detector)

        def run(self, dataset, do_eval=True, pred_process_fun=None):
            from quco.rag.controller import Controller
            from quco.rag.retrieve import Passage

            def generate(prompt: str) -> str:
                return self.generator.generate([prompt])[0]

            def retrieve(query: str, n: int):
                return [Passage(text=d.get("contents", ""), doc_id=str(d.get("id")) if d.get("id") is not None else None)
                        for d in self.retriever.search(query, num=n)]

            controller = Controller(generate, retrieve, self.judger.detector, max_rounds=max_rounds, k=k)
            results = [controller.run(q) for q in dataset.question]
            dataset.update_output("pred", [r.final_answer or r.answer for r in results])
            dataset.update_output("quco_verified", [r.verified for r in results])
            dataset.update_output("quco_rounds", [[x.action for x in r.rounds] for r in results])
            return self.evaluate(dataset, do_eval=do_eval, pred_process_fun=pred_process_fun)

    return QucoActivePipeline()

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

FlashRAG's pipeline package imports ``torch`` and ``transformers`` at import time: only
``quco_conditional_pipeline`` (FlashRAG's own pipeline class) needs it, when called. The judger and
the active pipeline need only FlashRAG's ``Dataset`` and ``Evaluator``, which import neither (install:
``pip install "quco[flashrag]"`` then ``pip install --no-deps flashrag-dev``; see the README).

``config["judger_config"]`` may name the quco ``index`` (and ``model``); otherwise quco's own
configuration (quco.toml / QUCO_*) is used. ``judge`` accepts what FlashRAG's judgers accept: a
FlashRAG ``Dataset`` (anything with a ``.question`` list), a list of questions, or one question.
Each decision travels with its data: a dataset judged gains a ``quco_report`` output (each report's
``to_dict()``); ``judge_reports`` returns the reports themselves. Nothing is kept between calls.
"""

from __future__ import annotations

import threading

from quco.errors import InvalidArgument, UsageError

_PATCH_LOCK = threading.Lock()


class QucoJudger:
    def __init__(self, config=None, *, detector=None):
        self.config = config
        self.name = "quco"
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
        return [bool(r.retrieve) for r in self.judge_reports(dataset)]

    def judge_reports(self, dataset) -> list:
        """The stage-1 ``RiskReport`` of each question; a FlashRAG dataset also gets them as its
        ``quco_report`` output (plain JSON), beside the judgement FlashRAG records."""
        if isinstance(dataset, str):
            questions = [dataset]
        elif isinstance(dataset, list):
            questions = dataset
        elif hasattr(dataset, "question"):
            questions = list(dataset.question)
        else:
            raise InvalidArgument("dataset must be a FlashRAG Dataset (with .question), a list of str, or a str")
        reports = self.detector.check_many(questions)
        if hasattr(dataset, "update_output"):
            dataset.update_output("quco_report", [r.to_dict() for r in reports])
        return reports

    def batch_run(self, dataset, batch_size=None) -> list[bool]:
        return self.judge(dataset)


def quco_conditional_pipeline(config, prompt_template=None, *, detector=None, retriever=None, generator=None):
    """FlashRAG's ``ConditionalPipeline`` judged by quco (retriever/generator: FlashRAG's from
    ``config`` unless given)."""
    try:
        import flashrag.pipeline.pipeline as fp
    except ModuleNotFoundError as exc:
        raise UsageError(f"FlashRAG's ConditionalPipeline needs FlashRAG's full install ({exc.name} is missing); "
                         "QucoJudger and quco_active_pipeline do not") from None

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
    """Stage 2 as a FlashRAG pipeline: ``run(dataset, do_eval=True, pred_process_fun=None)``.

    It keeps FlashRAG's pipeline contract (the dataset's ``pred`` and extra outputs, its
    ``Evaluator`` and ``pred_process_fun``) without importing FlashRAG's pipeline package, so with a
    retriever and generator passed in it needs neither torch nor transformers; without them it
    builds FlashRAG's own from ``config`` (which does). ``prompt_template``: a FlashRAG
    ``PromptTemplate`` is not needed — the loop writes its own prompts (``quco.Controller``)."""
    return QucoActivePipeline(config, detector=detector, retriever=retriever, generator=generator,
                              max_rounds=max_rounds, k=k)


class QucoActivePipeline:
    """See ``quco_active_pipeline``."""

    def __init__(self, config, *, detector=None, retriever=None, generator=None, max_rounds: int = 4, k: int = 3):
        self.config = config
        if retriever is None or generator is None:
            from flashrag.utils import get_generator, get_retriever  # FlashRAG's full install (torch, transformers)

            retriever = retriever if retriever is not None else get_retriever(config)
            generator = generator if generator is not None else get_generator(config)
        self.retriever, self.generator = retriever, generator
        self.judger = QucoJudger(config, detector=detector)
        self.max_rounds, self.k = max_rounds, k

    def run(self, dataset, do_eval=True, pred_process_fun=None):
        from quco.rag.controller import Controller
        from quco.rag.retrieve import Passage

        def generate(prompt: str) -> str:
            return self.generator.generate([prompt])[0]

        def retrieve(query: str, n: int):
            return [Passage(text=d.get("contents", ""), doc_id=str(d.get("id")) if d.get("id") is not None else None)
                    for d in self.retriever.search(query, num=n)]

        controller = Controller(generate, retrieve, self.judger.detector, max_rounds=self.max_rounds, k=self.k)
        results = [controller.run(q) for q in dataset.question]
        dataset.update_output("pred", [r.final_answer or r.answer for r in results])
        dataset.update_output("quco_verified", [r.verified for r in results])
        dataset.update_output("quco_rounds", [[x.action for x in r.rounds] for r in results])
        return self.evaluate(dataset, do_eval=do_eval, pred_process_fun=pred_process_fun)

    def evaluate(self, dataset, do_eval=True, pred_process_fun=None):
        """As FlashRAG's pipelines evaluate: processed predictions (the raw ones kept), then its
        ``Evaluator`` over the config's metrics."""
        if pred_process_fun is not None:
            raw = dataset.pred
            dataset.update_output("raw_pred", raw)
            dataset.update_output("pred", [pred_process_fun(p) for p in raw])
        if do_eval:
            from flashrag.evaluator import Evaluator

            self.eval_result = Evaluator(self.config).evaluate(dataset)
        return dataset

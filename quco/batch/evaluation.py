"""`quco eval`: a report to pick an operating point from, on a scored dataset with labels.

Reads the output of `quco score` (JSONL, CSV or Parquet), takes a label column (positive = the
case quco should flag: a hallucinated answer, a question that needed retrieval) and reports:
AUROC and AUPRC; precision, recall and F1 at quco's decision; a threshold table (risk threshold ->
precision, recall, retrieval rate); the in-run baselines that matter (random scores, answer length,
answer rarity: a score that loses to length says so); rows with no checkable claim (their risk is
½ by construction, counted apart rather than silently "not flagged"); calibration (reliability
bins, ECE, Brier score) of ``p_fabrication`` when the rows carry it; the worst false positives and
false negatives with their reasons; breakdowns by stage and question type; and the provenance of
the scores. ``quco.batch.eval_page`` draws the figures and writes the HTML page.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from quco.batch.metrics import auprc, auroc, bootstrap_ci, precision_recall_f1
from quco.decide.calibration import reliability
from quco.errors import OutputError, SourceError, UsageError
from quco.files.duckdb_conn import connect
from quco.files.outputs import OutputLock, check_outputs

_YES_NO = re.compile(r"^(is|are|was|were|do|does|did|can|could|has|have|had|will|would|should)\b", re.I)


def question_type(question: str) -> str:
    q = question.strip()
    if re.search(r"\bor\b", q, re.I) and re.search(r"\b(which|who|what|was|is|are|were)\b", q, re.I):
        return "comparison"
    if _YES_NO.match(q):
        return "yes/no"
    m = re.search(r"\b(who|what|when|where|which|how|why)\b", q, re.I)
    return m.group(1).lower() if m else "other"


@dataclass(frozen=True)
class EvalResult:
    rows: int
    positives: int
    score_field: str
    auroc: float | None
    auprc: float | None
    decision: dict
    retrieval_rate: float | None
    by_stage: dict
    by_question_type: dict
    png: str | None = None
    html: str | None = None
    notes: list = field(default_factory=list)
    unknown: int = 0  # decisions that rest on at least one unknown count
    thresholds: list = field(default_factory=list)  # risk threshold -> precision, recall, retrieval rate
    baselines: dict = field(default_factory=dict)  # name -> AUROC, computed on the same rows
    uncheckable: dict = field(default_factory=dict)  # rows with no checkable claim
    calibration: dict = field(default_factory=dict)  # of p_fabrication when present: ECE, Brier, bins
    worst: dict = field(default_factory=dict)  # false positives / negatives with the highest / lowest score
    provenance: dict = field(default_factory=dict)  # index, corpus size, extractor, backend, quco version
    label_values: dict = field(default_factory=dict)  # {"positive": [...], "negative": [...]} as written in the file
    operating_point: dict = field(default_factory=dict)  # quco's decision as (fpr, tpr, precision, recall)
    auroc_ci: list | None = None  # 95% percentile bootstrap interval (stratified, fixed seed)
    auprc_ci: list | None = None
    baseline_ci: dict = field(default_factory=dict)  # name -> the baseline's AUROC interval, same resampling

    def to_dict(self) -> dict:
        return asdict(self)


def load_scored(path: Path) -> list[dict]:
    import duckdb

    if not path.is_file():
        raise SourceError(f"{path}: scored file not found")
    con = connect()
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            rel = con.read_parquet(str(path))
        elif suffix == ".csv":
            rel = con.read_csv(str(path))
        elif suffix in (".jsonl", ".json"):
            rel = con.read_json(str(path), format="newline_delimited", union_by_name=True, sample_size=-1)
        else:
            raise UsageError(f"{path}: unknown format (use .jsonl, .csv or .parquet)")
        names = rel.columns
        return [dict(zip(names, r)) for r in rel.fetchall()]
    except duckdb.Error as exc:
        raise SourceError(f"{path}: unreadable ({str(exc).splitlines()[0]})") from None
    finally:
        con.close()


def _truthy(value) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1")


def is_positive(value, positive) -> bool:
    if positive is not None:
        return str(value).strip().lower() == str(positive).strip().lower()
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower().strip('"')
    if text in ("1", "true", "yes", "positive", "hallucinated", "hallucination", "fabricated"):
        return True
    if text in ("0", "false", "no", "negative", "right", "correct", "none", ""):
        return False
    raise UsageError(f"label value {value!r} is not boolean-like; pass --positive VALUE")


def evaluate_file(
    scored,
    *,
    label_field: str,
    positive=None,
    score_field: str | None = None,
    threshold: float = 0.5,
    type_field: str | None = None,
    out_prefix: str | Path | None = None,
    force: bool = False,
) -> EvalResult:
    png = html_path = None
    if out_prefix is not None:
        prefix = Path(out_prefix)
        png = str(prefix.with_name(prefix.name + ".png"))
        html_path = str(prefix.with_name(prefix.name + ".html"))
        check_outputs([scored], {"PNG": (png, "eval-png"), "HTML": (html_path, "eval-html")}, force=force)
    rows, score_field = _labelled_rows(scored, label_field, score_field)
    labels = [is_positive(r[label_field], positive) for r in rows]
    scores = [_score_value(r[score_field], score_field, i) for i, r in enumerate(rows, 1)]
    unknown = sum(bool(_truthy(r.get("unknown")) or _truthy(r.get("answer_unknown"))) for r in rows)
    # quco's own decision: stage 1's `retrieve` for the question risk; risk > threshold otherwise.
    if score_field == "risk" and "retrieve" in rows[0]:
        decisions = [_truthy(r["retrieve"]) for r in rows]
    else:
        decisions = [s > threshold for s in scores]
    both = 0 < sum(labels) < len(labels)
    result_auroc = round(auroc(scores, labels), 4) if both else None
    result_auprc = round(auprc(scores, labels), 4) if both else None
    prf = {k: round(v, 4) if isinstance(v, float) else v for k, v in precision_recall_f1(decisions, labels).items()}
    prf["threshold"] = threshold if score_field != "risk" else "stage-1 decision"
    retrieve = [r.get("retrieve") for r in rows if r.get("retrieve") is not None]
    rate = round(sum(map(_truthy, retrieve)) / len(retrieve), 4) if retrieve else None
    by_stage = _breakdown(rows, labels, scores, lambda r: str(r.get("stage") or "none"))
    typer = (lambda r: str(r.get(type_field))) if type_field else (lambda r: question_type(str(r.get("question") or "")))
    by_type = _breakdown(rows, labels, scores, typer)
    baseline_values = baseline_scores(rows, score_field) if both else {}
    baselines = {name: _r(auroc(values, labels)) for name, values in baseline_values.items()}
    auroc_ci, auprc_ci, baseline_ci = _intervals(scores, labels, baseline_values) if both else (None, None, {})
    uncheckable = _uncheckable(rows, labels, score_field)
    notes = _notes(len(rows), both, unknown, baselines, result_auroc, score_field, uncheckable)
    p_fab = [r.get("p_fabrication") for r in rows]
    calibration = {}
    if all(v is not None for v in p_fab):
        calibration = {"of": "p_fabrication", **reliability([float(v) for v in p_fab if v is not None], labels)}
    elif 0 <= min(scores) and max(scores) <= 1:
        calibration = {"of": f"{score_field} (uncalibrated: run quco calibrate for p_fabrication)",
                       **reliability(scores, labels)}
    result = EvalResult(len(rows), sum(labels), score_field, result_auroc, result_auprc, prf, rate, by_stage, by_type,
                        png, html_path, notes, unknown, _threshold_table(scores, labels), baselines, uncheckable,
                        calibration, _worst(rows, labels, scores, decisions, score_field), _provenance(rows),
                        _label_values(rows, labels, label_field), _operating_point(prf, labels), auroc_ci, auprc_ci,
                        baseline_ci)
    if png is not None and html_path is not None:
        _write_page(result, scores, labels, (png, html_path), str(scored), label_field, baseline_values)
    return result


def _labelled_rows(scored, label_field: str, score_field: str | None) -> tuple[list[dict], str]:
    """The scored rows that have a label and a score, and the score column (default: answer_risk
    when present, else risk)."""
    rows = load_scored(Path(scored))
    if not rows:
        raise UsageError(f"{scored}: no rows")
    if label_field not in rows[0]:
        raise UsageError(f"{scored}: no column {label_field!r} (columns: {', '.join(rows[0])})")
    if score_field is None:
        score_field = "answer_risk" if any(r.get("answer_risk") is not None for r in rows) else "risk"
    if score_field not in rows[0]:
        raise UsageError(f"{scored}: no column {score_field!r}")
    return [r for r in rows if r.get(score_field) is not None and r.get(label_field) is not None], score_field


def _notes(n: int, both: bool, unknown: int, baselines: dict, result_auroc, score_field: str,
           uncheckable: dict) -> list[str]:
    """What a reader of the report must know before trusting its figures."""
    notes = []
    if not both:
        notes.append("only one label value present: AUROC/AUPRC undefined")
    if unknown:
        notes.append(f"{unknown} of {n} decisions rest on an unknown count (backend failures)")
    length = baselines.get("answer length (words)")
    if length is not None and result_auroc is not None and length >= result_auroc:
        notes.append(f"answer length alone (AUROC {length}) ranks these rows at least as well as {score_field} "
                     f"({result_auroc}): on this data the score is no better than counting words")
    if uncheckable.get("rows"):
        notes.append(f"{uncheckable['rows']} of {n} rows have no checkable claim (risk ½ by construction); "
                     f"{uncheckable['positives']} of them are positive")
    return notes


def _write_page(result: EvalResult, scores: list, labels: list, paths: tuple[str, str], scored: str,
                label_field: str, baselines: dict) -> None:
    """The PNG and the HTML page, each written under a temporary name and renamed into place."""
    from quco.batch.eval_page import page as _page
    from quco.batch.eval_page import plot as _plot

    png, html_path = paths
    with OutputLock(png, "eval"), OutputLock(html_path, "eval"):
        tmp_png = Path(png).with_name(f".{Path(png).name}.tmp-{os.getpid()}")
        tmp_html = Path(html_path).with_name(f".{Path(html_path).name}.tmp-{os.getpid()}")
        try:
            _plot(scores, labels, result, tmp_png, baselines)
            page = _page(result, tmp_png, scored, label_field)
            tmp_html.write_text(page, encoding="utf-8")
            os.replace(tmp_png, png)
            os.replace(tmp_html, html_path)
        except OSError as exc:
            raise OutputError(f"cannot write {html_path}: {exc.strerror}") from None
        finally:
            tmp_png.unlink(missing_ok=True)
            tmp_html.unlink(missing_ok=True)


def _score_value(value, field: str, row: int) -> float:
    """A score must be a finite number: NaN or text would make every metric silently wrong."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"row {row}: {field} is {value!r}, not a number") from None
    if not math.isfinite(x):
        raise UsageError(f"row {row}: {field} is {value!r}; scores must be finite numbers")
    return x


def _breakdown(rows, labels, scores, key) -> dict:
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(key(r), []).append(i)
    out = {}
    for name, idx in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        ys = [labels[i] for i in idx]
        ss = [scores[i] for i in idx]
        ok = 0 < sum(ys) < len(ys)
        out[name] = {"rows": len(idx), "positives": sum(ys), "auroc": round(auroc(ss, ys), 4) if ok else None,
                     "mean_score": round(sum(ss) / len(ss), 4)}
    return out


def _threshold_table(scores, labels) -> list[dict]:
    """Flag risk > t for t on a grid (the score's own quantiles when it is not within [0, 1])."""
    import numpy as np

    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    if s.min() >= 0 and s.max() <= 1:
        grid = np.round(np.arange(0.05, 1.0, 0.05), 2)
    else:
        grid = np.unique(np.quantile(s, np.linspace(0.05, 0.95, 19)))
    out = []
    for t in grid:
        flag = s > t
        tp = int((flag & y).sum())
        out.append({"threshold": float(t), "precision": _r(tp / flag.sum()) if flag.any() else None,
                    "recall": _r(tp / y.sum()) if y.any() else None, "retrieval_rate": _r(flag.mean()),
                    "flagged": int(flag.sum())})
    return out


def rarity(count: int) -> float:
    """The answer-rarity baseline's risk of one phrase from its count alone: 1 / (1 + sqrt(count))."""
    return 1.0 / (1.0 + math.sqrt(count))


def answer_rarity(claims_json) -> float:
    """Baseline: risk from how rare the answer's claims are, ignoring the question."""
    counts = [n for c in _claims(claims_json) if isinstance(c, dict) and (n := c.get("count")) is not None]
    return max((rarity(c) for c in counts), default=0.5)


def _claims(claims_json) -> list:
    """A scored row's ``answer_claims``, [] when absent or unreadable."""
    return _json_column(claims_json, list) or []


def _choice(choice_json) -> dict | None:
    """A scored row's ``answer_choice``, None when absent or unreadable."""
    return _json_column(choice_json, dict)


def _json_column(value, kind: type):
    """A JSON column of a scored row (text, or already parsed by the reader) if it holds a ``kind``."""
    try:
        value = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return None
    return value if isinstance(value, kind) else None


def baseline_scores(rows, score_field) -> dict:
    """The in-run baselines' scores for the same rows: random, answer length, answer rarity and
    stage 1's question-entity rarity (each where the rows have what it needs)."""
    import random

    rng = random.Random(0)
    out = {"random": [rng.random() for _ in rows]}
    if any(r.get("answer") for r in rows):
        out["answer length (words)"] = [float(len(str(r.get("answer") or "").split())) for r in rows]
    if score_field == "answer_risk" and any(r.get("answer_claims") for r in rows):
        out["answer rarity"] = [answer_rarity(r.get("answer_claims")) for r in rows]
    stage1 = [float(r.get("stage1_risk") or 0) for r in rows]
    if any(r.get("stage1_risk") is not None for r in rows) and stage1 != [float(r[score_field]) for r in rows]:
        out["question-entity rarity (stage 1)"] = stage1  # not when it is the score itself
    return out


def _intervals(scores, labels, baselines: dict) -> tuple[list, list, dict]:
    """95% bootstrap intervals: the score's AUROC and AUPRC, each baseline's AUROC."""
    def ci(metric, values) -> list:
        return [round(v, 4) for v in bootstrap_ci(metric, values, labels)]

    return ci(auroc, scores), ci(auprc, scores), {name: ci(auroc, values) for name, values in baselines.items()}


def _uncheckable(rows, labels, score_field) -> dict:
    if score_field == "answer_risk" and any(r.get("answer_checkable") is not None for r in rows):
        idx = [i for i, r in enumerate(rows) if r.get("answer_checkable") is not None and not _truthy(r["answer_checkable"])]
        what = ("answers with no claim beyond the question's own entities, no choice the corpus can weigh and "
                "nothing read (a restated name; a yes/no or \"who was born first\" the corpus does not settle)")
    elif any(r.get("n_entities") is not None for r in rows):
        idx = [i for i, r in enumerate(rows) if r.get("n_entities") == 0]
        what = "questions with no entity to count"
    else:
        return {}
    return {"rows": len(idx), "positives": sum(labels[i] for i in idx), "what": what}


def _worst(rows, labels, scores, decisions, score_field, k: int = 5) -> dict:
    def item(i):
        r = rows[i]
        why = r.get("reasons") or ""
        if score_field == "answer_risk" and (r.get("answer_claims") or r.get("answer_choice")):
            claims, choice = _claims(r.get("answer_claims")), _choice(r.get("answer_choice"))
            c = max(claims, key=lambda c: c.get("risk") or 0) if claims else None
            if choice and choice.get("support") is not None and (c is None or (choice.get("risk") or 0) >= (c.get("risk") or 0)):
                why = (f"chose {choice.get('chosen')!r} over {choice.get('other')!r}: association margin "
                       f"{choice.get('support')} with {', '.join(map(repr, choice.get('properties') or []))}, "
                       f"risk {choice.get('risk')}")
            elif c is not None:
                why = (f"claim {c.get('phrase')!r}: count {c.get('count')}, with {c.get('anchor')!r} "
                       f"{c.get('cooccur')} times, {c.get('expected')} expected, risk {c.get('risk')}")
            else:
                why = "no checkable claim"
        if score_field == "answer_risk" and r.get("answer_verdict") in ("contradicted", "unsupported"):
            why = r.get("answer_reading") or why  # what reading the corpus decided outweighs the counts
        return {"row": r.get("row"), "id": r.get("id"), "question": r.get("question"), "answer": r.get("answer"),
                "score": scores[i], "reason": why}

    fp = sorted((i for i in range(len(rows)) if decisions[i] and not labels[i]), key=lambda i: -scores[i])[:k]
    fn = sorted((i for i in range(len(rows)) if not decisions[i] and labels[i]), key=lambda i: scores[i])[:k]
    return {"false_positives": [item(i) for i in fp], "false_negatives": [item(i) for i in fn]}


def _provenance(rows) -> dict:
    from quco import __version__

    out = {}
    for key in ("index", "backend", "corpus_tokens", "extractor", "quco_version"):
        values = sorted({r[key] if key == "corpus_tokens" else str(r[key]) for r in rows if r.get(key) is not None})
        out[key] = values[0] if len(values) == 1 else values
    out["evaluated_with"] = f"quco {__version__}"
    return out


def _label_values(rows, labels, label_field) -> dict:
    pos = sorted({str(r[label_field]) for r, y in zip(rows, labels) if y})[:5]
    neg = sorted({str(r[label_field]) for r, y in zip(rows, labels) if not y})[:5]
    return {"positive": pos, "negative": neg}


def _operating_point(prf: dict, labels) -> dict:
    """quco's decision as a point on the ROC and precision-recall curves (from its counts in ``prf``)."""
    tp, fp = prf["tp"], prf["fp"]
    pos, neg = sum(labels), len(labels) - sum(labels)
    return {"fpr": _r(fp / neg) if neg else None, "tpr": _r(tp / pos) if pos else None,
            "precision": _r(tp / (tp + fp)) if tp + fp else None}


def _r(v) -> float | None:
    return None if v is None else round(float(v), 4)

"""`quco eval`: how well do quco's risks separate the labels of a scored dataset?

Reads the output of `quco score` (JSONL, CSV or Parquet), takes a label column (positive = the
case quco should flag: a hallucinated answer, a question that needed retrieval) and reports AUROC,
AUPRC, precision/recall/F1 at quco's decision, the retrieval rate, and breakdowns by stage and by
question type. Writes a PNG (ROC curve and risk histograms by label) and a self-contained HTML
report (the PNG inlined).
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..duckdb_conn import connect
from ..errors import OutputError, SourceError, UsageError
from ..metrics import auprc, auroc, precision_recall_f1, roc_curve
from ..outputs import PNG_MARKER, OutputLock, check_outputs

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


def _is_positive(value, positive) -> bool:
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


def evaluate(
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
    from .frames import evaluate_frame, frame_kind

    kind = frame_kind(scored)
    if kind is not None:  # an in-memory table of scored rows
        return evaluate_frame(scored, kind, label_field=label_field, positive=positive, score_field=score_field,
                              threshold=threshold, type_field=type_field, out_prefix=out_prefix, force=force)
    png = html_path = None
    if out_prefix is not None:
        prefix = Path(out_prefix)
        png = str(prefix.with_name(prefix.name + ".png"))
        html_path = str(prefix.with_name(prefix.name + ".html"))
        check_outputs([scored], {"PNG": (png, "eval-png"), "HTML": (html_path, "eval-html")}, force=force)
    rows = load_scored(Path(scored))
    if not rows:
        raise UsageError(f"{scored}: no rows")
    if label_field not in rows[0]:
        raise UsageError(f"{scored}: no column {label_field!r} (columns: {', '.join(rows[0])})")
    if score_field is None:
        score_field = "answer_risk" if any(r.get("answer_risk") is not None for r in rows) else "risk"
    if score_field not in rows[0]:
        raise UsageError(f"{scored}: no column {score_field!r}")
    rows = [r for r in rows if r.get(score_field) is not None and r.get(label_field) is not None]
    labels = [_is_positive(r[label_field], positive) for r in rows]
    scores = [_score_value(r[score_field], score_field, i) for i, r in enumerate(rows, 1)]
    unknown = sum(bool(_truthy(r.get("unknown")) or _truthy(r.get("answer_unknown"))) for r in rows)
    # quco's own decision: stage 1's `retrieve` for the question risk; risk > threshold otherwise.
    if score_field == "risk" and "retrieve" in rows[0]:
        decisions = [_truthy(r["retrieve"]) for r in rows]
    else:
        decisions = [s > threshold for s in scores]
    notes = []
    both = 0 < sum(labels) < len(labels)
    if not both:
        notes.append("only one label value present: AUROC/AUPRC undefined")
    result_auroc = round(auroc(scores, labels), 4) if both else None
    result_auprc = round(auprc(scores, labels), 4) if both else None
    prf = {k: round(v, 4) if isinstance(v, float) else v for k, v in precision_recall_f1(decisions, labels).items()}
    prf["threshold"] = threshold if score_field != "risk" else "stage-1 decision"
    retrieve = [r.get("retrieve") for r in rows if r.get("retrieve") is not None]
    rate = round(sum(map(_truthy, retrieve)) / len(retrieve), 4) if retrieve else None
    by_stage = _breakdown(rows, labels, scores, lambda r: str(r.get("stage") or "none"))
    typer = (lambda r: str(r.get(type_field))) if type_field else (lambda r: question_type(str(r.get("question") or "")))
    by_type = _breakdown(rows, labels, scores, typer)
    if unknown:
        notes.append(f"{unknown} of {len(rows)} decisions rest on an unknown count (backend failures)")
    result = EvalResult(len(rows), sum(labels), score_field, result_auroc, result_auprc, prf, rate, by_stage, by_type,
                        png, html_path, notes, unknown)
    if out_prefix is not None:
        with OutputLock(png, "eval"), OutputLock(html_path, "eval"):
            tmp_png = Path(png).with_name(f".{Path(png).name}.tmp-{os.getpid()}")
            _plot(scores, labels, score_field, result_auroc, tmp_png)
            page = _html(result, tmp_png, str(scored), label_field)
            tmp_html = Path(html_path).with_name(f".{Path(html_path).name}.tmp-{os.getpid()}")
            try:
                tmp_html.write_text(page, encoding="utf-8")
                os.replace(tmp_png, png)
                os.replace(tmp_html, html_path)
            except OSError as exc:
                raise OutputError(f"cannot write {html_path}: {exc.strerror}") from None
            finally:
                tmp_png.unlink(missing_ok=True)
                tmp_html.unlink(missing_ok=True)
    return result


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


def _plot(scores, labels, score_field, area, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("plots need matplotlib: pip install 'quco[eval]'") from None
    import numpy as np

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    if area is not None:
        fpr, tpr = roc_curve(scores, labels)
        ax1.plot(fpr, tpr, lw=2, label=f"quco {score_field} (AUROC {area:.3f})")
    ax1.plot([0, 1], [0, 1], ls="--", color="grey", label="chance")
    ax1.set_xlabel("false positive rate")
    ax1.set_ylabel("true positive rate")
    ax1.set_title("ROC")
    ax1.legend(loc="lower right")
    s, y = np.asarray(scores), np.asarray(labels, dtype=bool)
    bins = np.linspace(0, 1, 26) if s.min() >= 0 and s.max() <= 1 else 25
    ax2.hist(s[~y], bins=bins, alpha=0.6, label="negative")
    ax2.hist(s[y], bins=bins, alpha=0.6, label="positive")
    ax2.set_xlabel(score_field)
    ax2.set_ylabel("rows")
    ax2.set_title("risk by label")
    ax2.legend()
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=110, format="png", metadata={"Software": PNG_MARKER.decode()})
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from None
    plt.close(fig)


def _table(d: dict) -> str:
    head = "<tr><th></th>" + "".join(f"<th>{html.escape(k)}</th>" for k in next(iter(d.values()), {})) + "</tr>"
    body = "".join(
        "<tr><th>" + html.escape(name) + "</th>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row.values()) + "</tr>"
        for name, row in d.items()
    )
    return f"<table>{head}{body}</table>"


def _html(result: EvalResult, png: Path, scored: str, label_field: str) -> str:
    image = base64.b64encode(png.read_bytes()).decode()
    summary = {
        "rows": result.rows, "positives": result.positives, "score": result.score_field,
        "AUROC": result.auroc, "AUPRC": result.auprc, "retrieval rate": result.retrieval_rate,
        "decisions on unknown counts": result.unknown,
        **{f"decision {k}": v for k, v in result.decision.items()},
    }
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in summary.items())
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>quco eval: {html.escape(scored)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}th{{background:#f4f4f4}}</style></head>
<body><h1>quco eval</h1><p>{html.escape(scored)} &mdash; label <code>{html.escape(label_field)}</code></p>
<table>{rows}</table>
<img alt="ROC curve and risk histograms" src="data:image/png;base64,{image}">
<h2>By stage</h2>{_table(result.by_stage)}
<h2>By question type</h2>{_table(result.by_question_type)}
<h2>Raw</h2><pre>{html.escape(json.dumps(result.to_dict(), indent=2))}</pre>
</body></html>
"""

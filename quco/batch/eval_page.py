"""The figures and the HTML page of `quco eval` (``quco.batch.evaluation`` computes what they show).

One PNG with four panels: ROC curves (the score's and the in-run baselines') and the
precision-recall curve, with quco's operating point and 95% bootstrap intervals marked, the
score's histogram per label value (named as the file writes them), and the reliability diagram.
The page inlines the PNG scaled to the page width, then the tables a user picks an operating point
from.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from quco.batch.metrics import pr_curve, roc_curve
from quco.errors import OutputError, UsageError
from quco.files.outputs import PNG_MARKER


def plot(scores, labels, result, path: Path, baselines: dict | None = None) -> None:
    """``baselines``: name -> scores of the in-run baselines, drawn as thin ROC curves beside the score's."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("plots need matplotlib: pip install 'quco[eval]'") from None
    import numpy as np

    name = result.score_field
    op = result.operating_point
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5))
    (roc, pr), (hist, rel) = axes
    if result.auroc is not None:
        fpr, tpr = roc_curve(scores, labels)
        roc.plot(fpr, tpr, lw=2, label=f"{name} (AUROC {with_interval(result.auroc, result.auroc_ci)})")
        for base_name, values in (baselines or {}).items():
            bfpr, btpr = roc_curve(values, labels)
            roc.plot(bfpr, btpr, lw=1, alpha=0.8,
                     label=f"{base_name} ({with_interval(result.baselines.get(base_name), result.baseline_ci.get(base_name))})")
        recall, precision = pr_curve(scores, labels)
        pr.plot(recall, precision, lw=2, label=f"{name} (AUPRC {with_interval(result.auprc, result.auprc_ci)})")
        if op.get("fpr") is not None and op.get("tpr") is not None:
            roc.plot([op["fpr"]], [op["tpr"]], "o", ms=9, color="crimson", label="quco's decision")
        if op.get("precision") is not None and op.get("tpr") is not None:
            pr.plot([op["tpr"]], [op["precision"]], "o", ms=9, color="crimson", label="quco's decision")
    roc.plot([0, 1], [0, 1], ls="--", color="grey", label="chance")
    base = sum(labels) / len(labels) if labels else 0
    pr.axhline(base, ls="--", color="grey", label=f"chance ({base:.2f})")
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    pr.set(xlabel="recall", ylabel="precision", title="precision-recall", ylim=(0, 1.02))
    roc.legend(loc="lower right", fontsize=8)
    pr.legend(loc="lower left", fontsize=8)

    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    bins = np.linspace(0, 1, 26) if s.min() >= 0 and s.max() <= 1 else 25
    lv = result.label_values
    neg = "label " + " / ".join(lv.get("negative") or ["negative"])
    pos = "label " + " / ".join(lv.get("positive") or ["positive"])
    hist.hist(s[~y], bins=bins, alpha=0.6, label=f"{neg} ({int((~y).sum()):,})")
    hist.hist(s[y], bins=bins, alpha=0.6, label=f"{pos} ({int(y.sum()):,})")
    hist.set(xlabel=name, ylabel="rows", title=f"{name} by label")
    hist.legend(fontsize=8)

    cal = result.calibration
    rel.plot([0, 1], [0, 1], ls="--", color="grey", label="perfectly calibrated")
    if cal.get("bins"):
        xs = [b["mean_p"] for b in cal["bins"]]
        ys = [b["observed"] for b in cal["bins"]]
        sizes = [20 + 200 * b["rows"] / max(1, result.rows) for b in cal["bins"]]
        rel.plot(xs, ys, "-", color="tab:blue")
        rel.scatter(xs, ys, s=sizes, color="tab:blue", zorder=3,
                    label=f"{cal['of'].split(' ')[0]}: ECE {cal['ece']}, Brier {cal['brier']}")
    rel.set(xlabel="predicted probability (bin mean)", ylabel="observed positive rate", xlim=(0, 1), ylim=(0, 1),
            title="reliability" + ("" if cal.get("of") == "p_fabrication" else " (risk, not calibrated)"))
    rel.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100, format="png", metadata={"Software": PNG_MARKER.decode()})
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from None
    plt.close(fig)


def _table(rows: list[dict], cols: list[str] | None = None) -> str:
    if not rows:
        return "<p>(none)</p>"
    cols = cols or list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _named(d: dict) -> str:
    head = "<tr><th></th>" + "".join(f"<th>{html.escape(k)}</th>" for k in next(iter(d.values()), {})) + "</tr>"
    body = "".join("<tr><th>" + html.escape(name) + "</th>" + "".join(f"<td>{html.escape(_fmt(v))}</td>"
                                                                       for v in row.values()) + "</tr>"
                   for name, row in d.items())
    return f"<table>{head}{body}</table>"


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) >= 1e4 else f"{v:.4g}"
    return str(v)


def with_interval(value, interval) -> str:
    """"0.836 [0.824, 0.848]": a metric with its 95% bootstrap interval, three decimals."""
    if value is None:
        return "–"
    return f"{value:.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")


def page(result, png: Path, scored: str, label_field: str) -> str:
    image = base64.b64encode(png.read_bytes()).decode()
    prov = result.provenance
    summary = {
        "rows": result.rows, "positives": result.positives, "score": result.score_field,
        "AUROC (95% CI)": with_interval(result.auroc, result.auroc_ci),
        "AUPRC (95% CI)": with_interval(result.auprc, result.auprc_ci), "stage-1 retrieval rate": result.retrieval_rate,
        "decisions on unknown counts": result.unknown,
        **{f"decision {k}": v for k, v in result.decision.items()},
        "no checkable claim": (f"{result.uncheckable['rows']} rows ({result.uncheckable['positives']} positive): "
                               f"{result.uncheckable['what']}") if result.uncheckable else "–",
        "calibration": (f"{result.calibration['of']}: ECE {result.calibration['ece']}, Brier {result.calibration['brier']}"
                        if result.calibration else "–"),
    }
    provenance = {"index": prov.get("index"), "corpus tokens": prov.get("corpus_tokens"), "backend": prov.get("backend"),
                  "extractor": prov.get("extractor"), "scored with": prov.get("quco_version"),
                  "evaluated with": prov.get("evaluated_with")}
    kv = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in summary.items())
    pv = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in provenance.items())
    baselines = [{"method": f"quco {result.score_field}", "AUROC (95% CI)": with_interval(result.auroc, result.auroc_ci)}] + [
        {"method": f"baseline: {k}", "AUROC (95% CI)": with_interval(v, result.baseline_ci.get(k))}
        for k, v in result.baselines.items()]
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    worst = result.worst
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>quco eval: {html.escape(scored)}</title>
<style>body{{font-family:sans-serif;margin:1.5em auto;max-width:72em;padding:0 1em}}
table{{border-collapse:collapse;margin:.8em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
th{{background:#f4f4f4}}td:nth-child(n){{max-width:36em;overflow-wrap:anywhere}}
img{{max-width:100%;height:auto;display:block}}.cols{{display:flex;gap:2em;flex-wrap:wrap}}</style></head>
<body><h1>quco eval</h1><p>{html.escape(scored)} &mdash; label <code>{html.escape(label_field)}</code>
(positive: {html.escape(", ".join(result.label_values.get("positive", [])))}; negative:
{html.escape(", ".join(result.label_values.get("negative", [])))})</p>
<div class="cols"><table>{kv}</table><table>{pv}</table></div>
{f"<ul>{notes}</ul>" if notes else ""}
<img alt="ROC and precision-recall curves, risk histograms by label, reliability diagram" src="data:image/png;base64,{image}">
<h2>Operating points</h2><p>Flag a row when its {html.escape(result.score_field)} exceeds the threshold:</p>
{_table(result.thresholds, ["threshold", "precision", "recall", "retrieval_rate", "flagged"])}
<h2>Baselines (same rows)</h2>{_table(baselines)}
<h2>Worst false positives</h2>{_table(worst.get("false_positives", []), ["row", "question", "answer", "score", "reason"])}
<h2>Worst false negatives</h2>{_table(worst.get("false_negatives", []), ["row", "question", "answer", "score", "reason"])}
<h2>Reliability bins</h2>{_table(result.calibration.get("bins", []))}
<h2>By stage</h2>{_named(result.by_stage)}
<h2>By question type</h2>{_named(result.by_question_type)}
<details><summary>Raw</summary><pre>{html.escape(json.dumps(result.to_dict(), indent=2, default=str))}</pre></details>
</body></html>
"""

"""``quco monitor AUDIT``: what quco decided over time, from its audit log (``quco.audit.log``).

Per period (hour or day, chosen from the span unless given): decisions, retrieval rate, the share
resting on an unknown count or an estimate, backend errors, latency p50/p95/p99 and mean risk.
Over the whole log: the risk distribution and its drift between the first and the second half
(population stability index, PSI: < 0.1 stable, 0.1–0.25 moderate, > 0.25 a shift worth a look),
the rare entities that most often triggered retrieval, and — where feedback exists — the
precision and recall of the trigger against the labels and a calibration check (observed
fabrication rate per risk bin, expected calibration error). ``calibrate`` refits a monotone map
from risk to P(fabrication) on the labelled decisions (isotonic regression, pool-adjacent-
violators), stored with the index, extractor and quco version it was fitted for.

The input is the DuckDB audit file (read-only: stop the writing server first, or pass a Parquet
export of it) or that export. The HTML page is self-contained (charts are embedded PNGs).
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from datetime import UTC
from pathlib import Path

from quco.errors import QucoError, UsageError

PSI_BINS = 10
RISK_BINS = [i / 10 for i in range(11)]
# The smallest samples a figure is given from; below them the report says what it lacks instead.
MINIMUM = {
    "drift_rows_per_half": 100,  # PSI over 10 bins: fewer rows per half and noise alone reads as a shift
    "labelled_retrievals_for_precision": 20,  # retrieve decisions with a label
    "fabricated_labels_for_recall": 20,  # decisions labelled fabricated
    "labels_for_calibration": 50,  # labelled decisions, at least 10 of each label
    "labels_of_each_kind_for_calibration": 10,
}


def load_decisions(path: str | os.PathLike):
    """(decisions DataFrame-like dict of NumPy columns, list of feedback labels per decision)."""
    import duckdb

    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: audit log not found")
    con = duckdb.connect()
    try:
        if path.suffix == ".parquet":
            rel = con.read_parquet(str(path))
            cols = rel.columns
            if "feedback_label" not in cols:
                raise UsageError(f"{path}: not a quco audit export (no feedback_label column)")
            con.register("audit_rows", rel)
            query = ("SELECT epoch(ts) AS t, decision, risk, stage, unknown, approx, error, latency_ms, entities, "
                     "feedback_label AS label, backend, index_name, corpus_tokens, extractor, quco_version "
                     "FROM audit_rows ORDER BY ts")
        else:
            try:
                con.execute("ATTACH ? AS audit (READ_ONLY)", [str(path)])
            except duckdb.Error as exc:
                raise UsageError(f"{path}: cannot read the audit log ({str(exc).splitlines()[0]}); if quco serve is "
                                 "writing it, stop the server or monitor a Parquet export") from None
            query = ("SELECT epoch(d.ts) AS t, d.decision, d.risk, d.stage, d.unknown, d.approx, d.error, d.latency_ms, "
                     "d.entities, f.label, d.backend, d.index_name, d.corpus_tokens, d.extractor, d.quco_version "
                     "FROM audit.decisions d LEFT JOIN audit.feedback f USING (request_id) ORDER BY d.ts")
        return _plain(con.execute(query).fetchnumpy())
    except duckdb.Error as exc:
        raise UsageError(f"{path}: not a quco audit log ({str(exc).splitlines()[0]})") from None
    finally:
        con.close()


def _plain(columns: dict) -> dict:
    """NULLs come back as masked arrays: numbers -> NaN, flags -> False, text -> None."""
    import numpy as np

    out = {}
    for k, col in columns.items():
        if isinstance(col, np.ma.MaskedArray):
            if col.dtype.kind == "b":
                col = col.filled(False)
            elif col.dtype.kind in "iuf":
                col = np.ma.filled(col.astype(float), np.nan)
            else:
                col = np.array(col.tolist(), dtype=object)
        out[k] = col
    return out


def psi(expected, actual, bins=None) -> float:
    """Population stability index of ``actual`` against ``expected`` (risk values in [0, 1])."""
    import numpy as np

    edges = np.asarray(bins if bins is not None else np.linspace(0, 1, PSI_BINS + 1))
    e = np.histogram(np.clip(expected, 0, 1), edges)[0].astype(float)
    a = np.histogram(np.clip(actual, 0, 1), edges)[0].astype(float)
    e = np.maximum(e / max(e.sum(), 1), 1e-4)  # an empty bin would make the index infinite
    a = np.maximum(a / max(a.sum(), 1), 1e-4)
    return float(((a - e) * np.log(a / e)).sum())


def monitor(path: str | os.PathLike, *, period: str = "auto", top: int = 15) -> dict:
    """The report as a dict (``render_html`` draws it)."""
    import numpy as np

    d = load_decisions(path)
    n = len(d["t"])
    if n == 0:
        raise UsageError(f"{path}: the audit log holds no decisions yet")
    t = d["t"].astype(float)
    span = float(t.max() - t.min())
    if period == "auto":
        period = "hour" if span < 3 * 86400 else "day"
    if period not in ("minute", "hour", "day"):
        raise UsageError("--period must be minute, hour, day or auto")
    step = {"minute": 60, "hour": 3600, "day": 86400}[period]
    bucket = (t // step).astype(np.int64)
    risk = d["risk"].astype(float)
    retrieve = d["decision"] == "retrieve"
    unknown, approx = d["unknown"].astype(bool), d["approx"].astype(bool)
    error = np.array([e is not None for e in d["error"]])
    latency = d["latency_ms"].astype(float)
    periods = []
    for b in np.unique(bucket):
        m = bucket == b
        lat = latency[m & ~np.isnan(latency)]
        periods.append({
            "start": _iso(b * step), "decisions": int(m.sum()), "retrieval_rate": _r(retrieve[m].mean()),
            "unknown_rate": _r(unknown[m].mean()), "approx_rate": _r(approx[m].mean()), "error_rate": _r(error[m].mean()),
            "mean_risk": _r(risk[m].mean()),
            "latency_ms": {q: _r(np.percentile(lat, int(q[1:]))) if len(lat) else None for q in ("p50", "p95", "p99")},
        })
    half = n // 2
    lat_all = latency[~np.isnan(latency)]
    report = {
        "audit": str(path), "decisions": n, "period": period, "from": _iso(t.min()), "to": _iso(t.max()),
        "retrieval_rate": _r(retrieve.mean()), "unknown_rate": _r(unknown.mean()), "approx_rate": _r(approx.mean()),
        "error_rate": _r(error.mean()),
        "latency_ms": {q: _r(np.percentile(lat_all, int(q[1:]))) if len(lat_all) else None for q in ("p50", "p95", "p99")},
        "risk_histogram": np.histogram(np.clip(risk, 0, 1), RISK_BINS)[0].tolist(),
        "risk_psi_second_half_vs_first": _r(psi(risk[:half], risk[half:])) if half >= MINIMUM["drift_rows_per_half"] else None,
        "drift_note": None if half >= MINIMUM["drift_rows_per_half"] else
        f"not enough rows: {half:,} per half, drift needs {MINIMUM['drift_rows_per_half']:,}",
        "minimum_sample_sizes": dict(MINIMUM),
        "by_period": periods,
        "top_rare_entities": _top_entities(d, retrieve, top),
        "backends": sorted({f"{b} {i} ({c:,} tokens)" for b, i, c in zip(d["backend"], d["index_name"], d["corpus_tokens"])}),
        "feedback": _feedback(d, retrieve, risk),
    }
    return report


def _top_entities(d, retrieve, top: int) -> list[dict]:
    from collections import Counter

    seen: Counter = Counter()
    lowest: dict = {}
    for is_retrieve, stage, ents in zip(retrieve, d["stage"], d["entities"]):
        if not is_retrieve or stage != "question" or not ents:
            continue
        for e in json.loads(ents):
            if e.get("count") is None:
                continue
            seen[e["text"]] += 1
            lowest[e["text"]] = min(lowest.get(e["text"], e["count"]), e["count"])
    return [{"entity": k, "retrievals": v, "count": lowest[k]} for k, v in seen.most_common(top)]


def _feedback(d, retrieve, risk) -> dict | None:
    import numpy as np

    labels = d["label"]
    has = np.array([lab is not None for lab in labels])
    if not has.any():
        return None
    y = np.array([lab == "fabricated" for lab in labels])[has]
    pred = retrieve[has]
    tp, fp, fn = int((pred & y).sum()), int((pred & ~y).sum()), int((~pred & y).sum())
    bins = []
    r = np.clip(risk[has], 0, 1)
    ece = 0.0
    for lo, hi in zip(RISK_BINS[:-1], RISK_BINS[1:]):
        m = (r >= lo) & ((r < hi) | (hi == 1.0))
        if m.any():
            bins.append({"risk_from": lo, "risk_to": hi, "n": int(m.sum()), "mean_risk": _r(r[m].mean()),
                         "fabricated_rate": _r(y[m].mean())})
            ece += m.sum() / len(r) * abs(r[m].mean() - y[m].mean())
    labelled, fabricated = int(has.sum()), int(y.sum())
    enough = {"precision": tp + fp >= MINIMUM["labelled_retrievals_for_precision"],
              "recall": tp + fn >= MINIMUM["fabricated_labels_for_recall"],
              "calibration": labelled >= MINIMUM["labels_for_calibration"] and min(fabricated, labelled - fabricated)
              >= MINIMUM["labels_of_each_kind_for_calibration"]}
    notes = {
        "precision": f"not enough labels: {tp + fp:,} labelled retrieve decisions, precision needs "
                     f"{MINIMUM['labelled_retrievals_for_precision']}",
        "recall": f"not enough labels: {tp + fn:,} decisions labelled fabricated, recall needs "
                  f"{MINIMUM['fabricated_labels_for_recall']}",
        "calibration": f"not enough labels: {labelled:,} labelled ({fabricated:,} fabricated, {labelled - fabricated:,} "
                       f"correct), calibration needs {MINIMUM['labels_for_calibration']} with "
                       f"{MINIMUM['labels_of_each_kind_for_calibration']} of each",
    }
    return {"labelled": labelled, "fabricated": fabricated,
            "trigger_precision": _r(tp / (tp + fp)) if enough["precision"] else None,
            "trigger_recall": _r(tp / (tp + fn)) if enough["recall"] else None,
            "calibration_bins": bins if enough["calibration"] else [], "ece": _r(ece) if enough["calibration"] else None,
            "notes": {k: v for k, v in notes.items() if not enough[k]}}


def calibrate(path: str | os.PathLike, out: str | os.PathLike) -> dict:
    """Fit risk -> P(fabrication) on the labelled decisions of the audit log (``quco.decide.calibration``,
    the same file ``quco calibrate`` writes); write it to ``out``."""
    import numpy as np

    from quco import __version__
    from quco.decide.calibration import fit

    d = load_decisions(path)
    has = np.array([lab is not None for lab in d["label"]])
    if has.sum() < 20:
        raise UsageError(f"{path}: {int(has.sum())} labelled decisions; calibration needs at least 20")
    y = [lab == "fabricated" for lab in d["label"][has]]
    if len(set(y)) == 1:
        raise UsageError(f"{path}: the feedback labels are all {'fabricated' if y[0] else 'correct'}; need both")
    fitted_for = {"quco_version": __version__}
    for key, column in (("index", "index_name"), ("extractor", "extractor")):
        values = sorted({str(v) for v in d[column][has]})
        if len(values) > 1:
            raise UsageError(f"{path}: the labelled decisions come from {len(values)} different {key}es "
                             f"({', '.join(values[:3])}); a calibration holds for one: export and fit them apart")
        fitted_for[key] = values[0]
    cal = fit([float(r) for r in d["risk"][has]], y, score="risk", fitted_for=fitted_for, source=str(path))
    cal.save(out)
    return {**cal.to_dict(), "labelled": cal.rows}


# -- the page ---------------------------------------------------------------------------------
def render_html(report: dict) -> str:
    charts = _charts(report)
    fb = report["feedback"]
    rows = "".join(
        f"<tr><td>{html.escape(p['start'])}</td><td>{p['decisions']:,}</td><td>{_pct(p['retrieval_rate'])}</td>"
        f"<td>{_pct(p['unknown_rate'])}</td><td>{_pct(p['approx_rate'])}</td><td>{_pct(p['error_rate'])}</td>"
        f"<td>{p['latency_ms']['p50']}</td><td>{p['latency_ms']['p99']}</td><td>{p['mean_risk']}</td></tr>"
        for p in report["by_period"][-48:])
    ents = "".join(f"<tr><td>{html.escape(e['entity'])}</td><td>{e['retrievals']:,}</td><td>{e['count']:,}</td></tr>"
                   for e in report["top_rare_entities"]) or "<tr><td colspan=3>none</td></tr>"
    psi_v = report["risk_psi_second_half_vs_first"]
    drift = report["drift_note"] if psi_v is None else \
        f"{psi_v} ({'stable' if psi_v < 0.1 else 'moderate shift' if psi_v < 0.25 else 'shift'})"
    feedback = "<p>No feedback yet: send <code>POST /v1/feedback</code> or <code>quco feedback import</code>.</p>"
    if fb:
        feedback = html.escape(feedback_line(fb))
    minimum = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report["minimum_sample_sizes"].items())
    imgs = "".join(f'<figure><img alt="{html.escape(k)}" src="data:image/png;base64,{v}"><figcaption>{html.escape(k)}'
                   "</figcaption></figure>" for k, v in charts.items())
    lat = report["latency_ms"]
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>quco monitor</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:first-child{{text-align:left}}
figure{{display:inline-block;margin:0 1em 1em 0}}img{{width:520px}}</style></head><body>
<h1>quco monitor</h1>
<p>{report['decisions']:,} decisions from {html.escape(report['from'])} to {html.escape(report['to'])}
({html.escape(', '.join(report['backends']))}).</p>
<ul><li>retrieval rate {_pct(report['retrieval_rate'])}</li><li>resting on an unknown count {_pct(report['unknown_rate'])},
on an estimate {_pct(report['approx_rate'])}</li><li>backend errors {_pct(report['error_rate'])}</li>
<li>latency p50 / p95 / p99: {lat['p50']} / {lat['p95']} / {lat['p99']} ms</li>
<li>risk drift, second half vs first (PSI): {drift}</li></ul>
{imgs}
<h2>Feedback</h2><p>{feedback}</p>
<p><small>Minimum samples for a figure: {html.escape(minimum)}.</small></p>
<h2>Rare entities that triggered retrieval most</h2>
<table><tr><th>entity</th><th>retrievals</th><th>corpus count</th></tr>{ents}</table>
<h2>By {html.escape(report['period'])} (latest 48)</h2>
<table><tr><th>start</th><th>decisions</th><th>retrieve</th><th>unknown</th><th>approx</th><th>errors</th>
<th>p50 ms</th><th>p99 ms</th><th>mean risk</th></tr>{rows}</table>
</body></html>"""


def feedback_line(fb: dict) -> str:
    """The feedback figures in words; a figure without enough labels says so instead of a number."""
    notes = fb.get("notes", {})

    def figure(name: str, value, note: str) -> str:
        return f"{name} {value}" if value is not None else f"{name}: {notes.get(note, 'n/a')}"

    return (f"{fb['labelled']:,} labelled decisions ({fb['fabricated']:,} fabricated). "
            f"{figure('trigger precision', fb['trigger_precision'], 'precision')}; "
            f"{figure('recall', fb['trigger_recall'], 'recall')}; "
            f"{figure('expected calibration error', fb['ece'], 'calibration')}.")


def _charts(report: dict) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    per = report["by_period"]
    x = list(range(len(per)))
    fig, ax = plt.subplots(figsize=(6.5, 3.2), dpi=80)
    ax.bar(x, [p["decisions"] for p in per], color="#9ecae1", label="decisions")
    ax2 = ax.twinx()
    ax2.plot(x, [p["retrieval_rate"] for p in per], color="#d62728", marker="o", label="retrieval rate")
    ax2.plot(x, [p["unknown_rate"] for p in per], color="#7f7f7f", marker=".", label="unknown rate")
    ax2.set_ylim(0, 1)
    ax.set_xlabel(f"{report['period']} (from {report['from'][:16]})")
    ax.set_ylabel("decisions")
    ax2.legend(loc="upper right", fontsize=8)
    out["Decisions and retrieval rate over time"] = _png(fig, plt)
    fig, ax = plt.subplots(figsize=(6.5, 3.2), dpi=80)
    ax.bar([b + 0.05 for b in RISK_BINS[:-1]], report["risk_histogram"], width=0.09, color="#6baed6")
    ax.set_xlabel("risk")
    ax.set_ylabel("decisions")
    out["Risk distribution"] = _png(fig, plt)
    fig, ax = plt.subplots(figsize=(6.5, 3.2), dpi=80)
    for q, c in (("p50", "#2ca02c"), ("p99", "#d62728")):
        ax.plot(x, [p["latency_ms"][q] for p in per], marker=".", color=c, label=q)
    ax.set_ylabel("ms")
    ax.legend(fontsize=8)
    out["Latency per decision"] = _png(fig, plt)
    fb = report["feedback"]
    if fb and fb["calibration_bins"]:
        fig, ax = plt.subplots(figsize=(6.5, 3.2), dpi=80)
        ax.plot([0, 1], [0, 1], color="#bbb", linestyle="--")
        ax.plot([b["mean_risk"] for b in fb["calibration_bins"]], [b["fabricated_rate"] for b in fb["calibration_bins"]],
                marker="o")
        ax.set_xlabel("risk")
        ax.set_ylabel("fabricated (feedback)")
        out["Calibration against feedback"] = _png(fig, plt)
    return out


def _png(fig, plt) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def write_report(report: dict, out: str | os.PathLike) -> Path:
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(render_html(report), encoding="utf-8")
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise QucoError(f"{out}: cannot write the report ({exc.strerror})") from None
    return out


def _iso(seconds) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(float(seconds), UTC).isoformat(timespec="minutes")


def _r(v) -> float | None:
    return None if v is None else round(float(v), 4)


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"

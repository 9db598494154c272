"""``/metrics`` through ``prometheus_client``, correct across worker processes.

``quco serve --workers N`` runs N processes; each counts its own requests. With
``PROMETHEUS_MULTIPROC_DIR`` set (``quco serve`` sets it to a fresh directory before the workers
start), every process writes its metrics to memory-mapped files there and a scrape — answered by
whichever worker gets it — aggregates them all, so counters never go backwards between scrapes.
Without it (the library, tests with one app) the metrics of this process are exported.

Besides requests and latency: the decision mix (retrieve by stage, unknown, approx) and the risk
distribution, so an existing Prometheus/Grafana stack can alert on what quco decides, not only on
errors; backend errors; index reloads; the phrase cache; and each worker's resident memory.
"""

from __future__ import annotations

import os
import time

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RISK_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


class Metrics:
    """The service's metrics (one instance per app; see the module docstring)."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self._registry = CollectorRegistry(auto_describe=True)
        r = self._registry
        self.requests = Counter("quco_requests", "HTTP requests by path and status.", ["path", "status"], registry=r)
        self.latency = Histogram("quco_request_seconds", "Request latency.", ["path"], buckets=BUCKETS, registry=r)
        self.backend_errors = Counter("quco_backend_errors", "Backend failures (answered as unknown, 502 or 503).",
                                      registry=r)
        self.reloads = Counter("quco_index_reloads", "Index swaps after the index was replaced on disk.", registry=r)
        self.decisions = Counter("quco_decisions", "Decisions by outcome and stage; unknown: a count could not be "
                                 "had; approx: an estimate was used.", ["decision", "stage", "unknown", "approx"],
                                 registry=r)
        self.risk = Histogram("quco_risk", "Risk of each decision.", buckets=RISK_BUCKETS, registry=r)
        self.cache = Gauge("quco_phrase_cache", "Phrase-position cache lookups of the serving processes.", ["result"],
                           multiprocess_mode="livesum", registry=r)
        self.rss = Gauge("quco_process_resident_memory_bytes", "Resident memory of each serving process.", ["pid"],
                         multiprocess_mode="liveall", registry=r)
        self.audit_lost = Counter("quco_audit_rows_lost", "Decisions answered whose audit row could not be written "
                                  "(its writer unreachable for the resend window): counted, never silent.", registry=r)
        self.audit_refused = Counter("quco_audit_refused", "Checks refused with 503 because their audit row could not "
                                     "be written (audit policy required).", registry=r)
        self.audit_up = Gauge("quco_audit_writer_up", "1 when the audit writer could be reached at the latest check "
                              "or scrape (each scrape asks it afresh).", multiprocess_mode="livemostrecent", registry=r)
        self.audit_restarts = Gauge("quco_audit_writer_restarts", "Times the server restarted its audit writer.",
                                    multiprocess_mode="livemax", registry=r)
        self.rewards = Counter("quco_rewards", "Completions rewarded by /v1/reward, by scheme and whether a claim was "
                               "checked.", ["scheme", "checked"], registry=r)
        self.reward_unknown = Counter("quco_reward_unknown_claims", "Claims of rewarded completions whose counts were "
                                      "unknown (scored by the unknown policy, never silently).", registry=r)
        self._rss_at = 0.0

    def observe(self, path: str, status: int, seconds: float) -> None:
        self.requests.labels(path, str(status)).inc()
        self.latency.labels(path).observe(seconds)
        now = time.monotonic()
        if now - self._rss_at > 1.0:  # /proc read at most once a second
            self._rss_at = now
            self.rss.labels(str(os.getpid())).set(_rss_bytes())

    def count_backend_error(self) -> None:
        self.backend_errors.inc()

    def count_audit_lost(self, rows: int) -> None:
        self.audit_lost.inc(rows)

    def count_audit_refused(self) -> None:
        self.audit_refused.inc()

    def audit_state(self, up: bool, restarts: int | None = None) -> None:
        """The audit writer's state as just seen by this process (a scrape shows the most recent
        view of any process), and the server's restart count when known."""
        self.audit_up.set(1 if up else 0)
        if restarts is not None:
            self.audit_restarts.set(restarts)

    def count_reload(self) -> None:
        self.reloads.inc()

    def count_decision(self, report) -> None:
        self.decisions.labels(report.decision, report.stage or "none", str(bool(report.unknown)).lower(),
                              str(bool(report.approx)).lower()).inc()
        self.risk.observe(float(report.risk))

    def count_rewards(self, results) -> None:
        for r in results:
            self.rewards.labels(r.scheme, str(r.checked > 0).lower()).inc()
        unknown = sum(r.unknown for r in results)
        if unknown:
            self.reward_unknown.inc(unknown)

    def render(self, cache_hits: int, cache_misses: int) -> tuple[bytes, str]:
        """(body, content type) of a scrape."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        self.cache.labels("hit").set(cache_hits)
        self.cache.labels("miss").set(cache_misses)
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self._registry), CONTENT_TYPE_LATEST


def mark_dead(pid: int) -> None:
    """Drop a finished worker's live gauges (its counters stay in the totals)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0

"""The serving worker's current detector, swapped for a new one when the index file is replaced."""

from __future__ import annotations

import logging
import os
import threading
import time

from quco.service.prom import Metrics

log = logging.getLogger("quco.serve")


class DetectorHolder:
    """The current detector; notices a replaced index file and swaps in a new one when loaded."""

    def __init__(self, settings, metrics: Metrics, check_every: float = 1.0):
        self.settings = settings
        self.metrics = metrics
        self.check_every = check_every
        self.detector = settings.detector()
        self._signature = self._stat()
        self._checked = time.monotonic()
        self._loading = False
        self._lock = threading.Lock()

    def _stat(self):
        try:
            st = os.stat(self.settings.index)
            return (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            return None

    def current(self):
        now = time.monotonic()
        if now - self._checked >= self.check_every:
            self._checked = now
            sig = self._stat()
            if sig is not None and sig != self._signature:
                with self._lock:
                    if not self._loading:
                        self._loading = True
                        threading.Thread(target=self._reload, args=(sig,), daemon=True).start()
        return self.detector

    def _reload(self, sig) -> None:
        try:
            detector = self.settings.detector()
            detector.extractor = self.detector.extractor  # keep the loaded spaCy pipeline
            self.detector, self._signature = detector, sig
            self.metrics.count_reload()
            log.info("index %s reloaded", self.settings.index)
        except Exception as exc:  # a half-copied or corrupt file: keep serving the old index
            log.warning("index %s changed but could not be loaded (%s); still serving the previous one",
                        self.settings.index, exc)
        finally:
            self._loading = False

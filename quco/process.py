"""Child processes that must not outlive their parent (kill -9 included): a watcher thread notices
the re-parenting and ends the child."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable


def exit_with_parent(parent: int, on_orphan: Callable[[], None] | None = None, every: float = 0.5) -> None:
    """Watch for this process being re-parented away from ``parent`` (which then died, however):
    call ``on_orphan`` (a graceful stop), or exit at once without one."""

    def watch() -> None:
        while True:
            time.sleep(every)
            if os.getppid() != parent:
                if on_orphan is None:
                    os._exit(1)
                on_orphan()
                return

    threading.Thread(target=watch, daemon=True, name="quco-parent-watch").start()

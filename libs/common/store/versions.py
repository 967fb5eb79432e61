"""Row versions for ReplacingMergeTree tables: nanoseconds since the epoch, strictly
increasing within a process so that two writes in one tick still order."""

from __future__ import annotations

import threading
import time

_lock = threading.Lock()
_last = 0


def next_version() -> int:
    global _last
    with _lock:
        _last = max(_last + 1, time.time_ns())
        return _last

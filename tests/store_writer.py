"""A separate process that records call records; run by test_store.py.

Usage: python -m tests.store_writer COUNT. Writes COUNT records through the
buffered recorder and exits without flushing by hand, as a script would.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

from clients.recording import CallRecord
from console.recorder import BufferedRecorder
from console.store import Store

MINUTE = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def main() -> None:
    store = Store(os.environ["DATABASE_URL"])
    recorder = BufferedRecorder(store)
    for index in range(int(sys.argv[1])):
        recorder.record(CallRecord(vendor="apollo", operation="people_enrich", outcome="success",
                                   mode="batch", started_at=MINUTE.replace(second=index % 60),
                                   latency_ms=40.0, attempts=1, credits=1.0, cost_usd=0.2))


if __name__ == "__main__":
    main()

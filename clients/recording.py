"""Call records and the DogStatsD metrics sent for every vendor call."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from datadog.dogstatsd import DogStatsd

log = logging.getLogger(__name__)

SUCCESS = "success"


@dataclass
class CallRecord:
    """One vendor call as the pipeline saw it, after all its attempts.

    `outcome` is "success" or the name of the error class it ended in. No field
    contains a request body or a credential.
    """

    vendor: str
    operation: str
    outcome: str
    mode: str
    started_at: datetime
    latency_ms: float
    attempts: int
    status_code: int | None = None
    request_id: str | None = None
    credits: float = 0.0
    cost_usd: float = 0.0
    # Counted by the breaker as a vendor failure (see clients.errors.BREAKER_FAILURES).
    breaker_failure: bool = False
    error_message: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome == SUCCESS

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        return data


class RecordSink(Protocol):
    def record(self, record: CallRecord) -> None: ...


class Metrics:
    """DogStatsD metrics with the names of the integrations guide.

    `roleferry.integrations.<vendor>.calls` (tag `method:<operation>`), `.success`,
    `.error` (tag `error:<class>`), and a timer `roleferry.integrations.<vendor>.<operation>`.
    """

    prefix = "roleferry.integrations"

    def __init__(self, host: str = "127.0.0.1", port: int = 8125, flush_interval: float = 0.3) -> None:
        # Buffered: the client packs metrics in memory and a background thread of
        # its own sends them every flush_interval seconds.
        self._statsd = DogStatsd(host=host, port=port, disable_telemetry=True, disable_buffering=False,
                                 flush_interval=flush_interval)
        # Formatting three metrics costs tens of microseconds, so a call only
        # queues its record and this thread does the rest.
        self._queue: queue.SimpleQueue[CallRecord | threading.Event] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="dogstatsd-metrics", daemon=True)
        self._thread.start()

    def send(self, record: CallRecord) -> None:
        self._queue.put(record)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, threading.Event):
                item.set()
                continue
            self._emit(item)

    def _emit(self, record: CallRecord) -> None:
        base = f"{self.prefix}.{record.vendor}"
        method = [f"method:{record.operation}"]
        try:
            self._statsd.increment(f"{base}.calls", tags=method)
            if record.ok:
                self._statsd.increment(f"{base}.success", tags=method)
            else:
                self._statsd.increment(f"{base}.error", tags=[*method, f"error:{record.outcome}"])
            self._statsd.timing(f"{base}.{record.operation}", record.latency_ms, tags=method)
        except OSError as exc:
            # Metrics are best effort, so a missing agent only loses packets.
            log.debug("dogstatsd send failed: %s", exc)

    def flush(self, timeout: float = 5.0) -> None:
        """Send everything queued so far."""
        drained = threading.Event()
        self._queue.put(drained)
        drained.wait(timeout)
        self._statsd.flush()

    def close(self) -> None:
        self.flush()
        self._statsd.close_socket()


class MemorySink:
    """Keeps records in a list; for scripts and tests that read them back."""

    def __init__(self) -> None:
        self.records: list[CallRecord] = []

    def record(self, record: CallRecord) -> None:
        self.records.append(record)


def utcnow() -> datetime:
    return datetime.now(UTC)


def fan_out(sinks: Iterable[RecordSink], record: CallRecord) -> None:
    for sink in sinks:
        try:
            sink.record(record)
        except Exception:  # a broken sink must not turn a good call into a failure
            log.exception("call record sink %r failed for %s.%s", sink, record.vendor, record.operation)

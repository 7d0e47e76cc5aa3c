"""A DogStatsD listener on loopback UDP, so the sandbox can show what the clients sent.

Parses the datagram format `name:value|type[|@rate][|#tag,tag][|...]`, one metric
per line, several lines per packet. Events (`_e{...}`) and service checks (`_sc|...`)
are counted as lines but not kept, because the console only sends metrics.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections import Counter, deque
from dataclasses import asdict, dataclass, field

log = logging.getLogger(__name__)

METRIC_TYPES = frozenset({"c", "g", "ms", "h", "s", "d"})


@dataclass(frozen=True)
class StatsdMetric:
    name: str
    # Packed values (`name:1:2:3|h`, DogStatsD protocol 1.1) give several values.
    values: tuple[str, ...]
    type: str
    tags: tuple[str, ...] = ()
    sample_rate: float = 1.0
    extensions: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class StatsdParseError(ValueError):
    pass


def parse_line(line: str) -> StatsdMetric:
    """Parse one DogStatsD metric line, raising StatsdParseError when it is not one."""
    head, *sections = line.split("|")
    name, sep, raw_values = head.partition(":")
    if not sep or not name or not raw_values or not sections:
        raise StatsdParseError(f"not a DogStatsD metric line: {line!r}")

    metric_type = sections[0]
    if metric_type not in METRIC_TYPES:
        raise StatsdParseError(f"unknown metric type {metric_type!r} in {line!r}")

    values = tuple(raw_values.split(":"))
    for value in values:
        try:
            float(value)
        except ValueError:
            # Sets (`s`) count distinct strings, so any text is a valid value there.
            if metric_type != "s":
                raise StatsdParseError(f"value {value!r} of {name} is not a number") from None

    tags: tuple[str, ...] = ()
    sample_rate = 1.0
    extensions: list[str] = []
    for section in sections[1:]:
        if section.startswith("#"):
            tags = tuple(tag for tag in section[1:].split(",") if tag)
        elif section.startswith("@"):
            try:
                sample_rate = float(section[1:])
            except ValueError:
                raise StatsdParseError(f"sample rate {section!r} is not a number") from None
        else:
            # Container ids (`c:`), external data (`e:`), cardinality, timestamps (`T`).
            extensions.append(section)
    return StatsdMetric(name, values, metric_type, tags, sample_rate, tuple(extensions))


class StatsdListener:
    """Receives DogStatsD datagrams on 127.0.0.1 and keeps the last `keep` metrics.

    Port 0 picks a free port; read it back from `port` after `start`.
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1", keep: int = 1000) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((host, port))
        # A timeout lets the receive loop notice `stop` without another packet.
        self._socket.settimeout(0.2)
        self._lock = threading.Lock()
        self._recent: deque[StatsdMetric] = deque(maxlen=keep)
        self._counts: Counter[str] = Counter()
        self._invalid = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._socket.getsockname()[0])

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    def start(self) -> StatsdListener:
        self._thread = threading.Thread(target=self._receive_loop, name="sandbox-statsd",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._socket.close()

    def _receive_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                packet = self._socket.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                raise
            self.ingest(packet)

    def ingest(self, packet: bytes) -> None:
        """Parse one datagram and store each metric line in it."""
        text = packet.decode("utf-8", errors="replace")
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith(("_e{", "_sc|")):
                continue
            try:
                metric = parse_line(line)
            except StatsdParseError as exc:
                with self._lock:
                    self._invalid += 1
                    invalid = self._invalid
                # Log the first few and then every hundredth, so a noisy sender
                # cannot flood the log.
                if invalid <= 5 or invalid % 100 == 0:
                    log.warning("sandbox statsd dropped an invalid line (%d so far): %s",
                                invalid, exc)
                continue
            with self._lock:
                self._recent.append(metric)
                self._counts[metric.name] += 1

    def snapshot(self) -> dict[str, object]:
        """Return the kept metrics (oldest first), counts per metric name and invalid lines."""
        with self._lock:
            return {
                "port": self.port,
                "recent": [metric.as_dict() for metric in self._recent],
                "counts": dict(self._counts),
                "invalid_lines": self._invalid,
            }

    def received(self, name: str) -> list[StatsdMetric]:
        with self._lock:
            return [metric for metric in self._recent if metric.name == name]

    def reset(self) -> None:
        with self._lock:
            self._recent.clear()
            self._counts.clear()
            self._invalid = 0

"""Shared benchmark helpers: a sandbox in its own process and a UDP sink for metrics."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def sandbox_process(limits: str = "", faults: str = "") -> Iterator[str]:
    """Start `roleferry-console sandbox` in its own process and return its URL.

    A separate process keeps the sandbox's threads from competing with the
    measured client for this process's interpreter lock.
    """
    port = free_port()
    env = {**os.environ, "ROLEFERRY_RATE_LIMITS": limits, "ROLEFERRY_SANDBOX_FAULTS": faults}
    process = subprocess.Popen([sys.executable, "-m", "console.cli.main", "sandbox", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/_admin/stats", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("sandbox did not start within 30 s") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def metrics_sink() -> Iterator[int]:
    """Bind a UDP socket that receives DogStatsD packets and drops them unread; yield its port."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]

"""Start the sandbox and the console as real processes on loopback, and Chromium to look at them.

The browser tests and `scripts/screenshots.py` share these helpers. Each console
gets its own SQLite file; `roleferry-console run` starts the backfill worker
beside Streamlit, so the Backfill page works as it does after `make run`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from clients.registry import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("ROLEFERRY_CHROMIUM", "/usr/bin/chromium"))
# Flags that stop Chromium from calling Google's services: the tests reach loopback only.
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
# Generous client-side limits, so a backfill of a few rows never waits on the rate limiter.
RATE_LIMITS = ",".join(f"{name}=1000/1" for name in REGISTRY)


class LaunchFailed(RuntimeError):
    """A process did not come up; the message contains the end of its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chromium_launch_options() -> dict[str, object]:
    """Return `browser_type.launch` arguments for Debian's Chromium, or raise LaunchFailed if it is missing."""
    if not CHROMIUM.is_file():
        raise LaunchFailed(f"Chromium not found at {CHROMIUM}; install it (Debian: apt-get install chromium, "
                           "which scripts/test-services does when run as root) or point ROLEFERRY_CHROMIUM "
                           "at another Chromium binary")
    args = list(CHROMIUM_ARGS)
    if os.geteuid() == 0:
        # Chromium refuses to start as root with its sandbox on.
        args.append("--no-sandbox")
    return {"executable_path": str(CHROMIUM), "headless": True, "args": args}


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise LaunchFailed(f"{what} exited with code {process.returncode}; its log:\n{_log_tail(log)}")
        if time.monotonic() > deadline:
            raise LaunchFailed(f"{what} did not answer {url} within {START_TIMEOUT:g} s; its log:\n{_log_tail(log)}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process started in its own session, with everything it started there.

    SIGTERM goes to the whole process group because `roleferry-console run` may
    inherit SIGINT ignored (a background job of a shell), and its worker and
    Streamlit each stop cleanly on SIGTERM.
    """
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        process.poll()  # reaps the group leader, which would otherwise linger as a zombie
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=STOP_TIMEOUT)


@dataclass
class SandboxProcess:
    """`roleferry-console sandbox` in a subprocess, with its admin endpoint for switching faults."""

    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SandboxProcess:
        log = self.workdir / "sandbox.log"
        env = {**os.environ, "ROLEFERRY_RATE_LIMITS": RATE_LIMITS, "ROLEFERRY_SANDBOX_FAULTS": ""}
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "console.cli.main", "sandbox", "--port", str(self.port)],
                cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_for(f"{self.url}/_admin/stats", self.process, log, "the sandbox")
        return self

    def set_fault(self, vendor: str, fault: str) -> None:
        response = httpx.post(f"{self.url}/_admin/faults", json={"vendor": vendor, "fault": fault}, timeout=5.0)
        response.raise_for_status()

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)


@dataclass
class ConsoleProcess:
    """`roleferry-console run` (Streamlit plus a backfill worker) on its own SQLite file.

    `roles` narrows the sandbox user's roles (ROLEFERRY_SANDBOX_ROLES), e.g. "leadership".
    """

    workdir: Path
    sandbox_url: str
    roles: str = ""
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.workdir / 'console.db'}"

    def env(self) -> dict[str, str]:
        """Return the environment of the console and of CLI commands run against the same store."""
        env = dict(os.environ)
        # Unset keys get the sandbox's own keys. An empty key would count as removed
        # on purpose and make the vendor misconfigured. SANDBOX_URL keeps every call
        # on the sandbox even if `.env` sets a key.
        names = [name for spec in REGISTRY.values() for name in spec.secret_names]
        for name in [*names, "REDIS_URL", "ROLEFERRY_SANDBOX_FAULTS", "ROLEFERRY_ROLES_FILE"]:
            env.pop(name, None)
        env.update({
            "DATABASE_URL": self.database_url,
            "SANDBOX_URL": self.sandbox_url,
            "ROLEFERRY_RATE_LIMITS": RATE_LIMITS,
            "ROLEFERRY_SANDBOX_ROLES": self.roles,
            "DD_DOGSTATSD_PORT": "9",  # the discard port: metrics go nowhere
            "STREAMLIT_SERVER_ADDRESS": "127.0.0.1",
            "STREAMLIT_SERVER_HEADLESS": "true",
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
            "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none",
        })
        return env

    def cli(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run `roleferry-console ARGS` against this console's store and sandbox."""
        return subprocess.run([sys.executable, "-m", "console.cli.main", *args], cwd=ROOT, env=self.env(),
                              capture_output=True, text=True, timeout=timeout)

    def start(self) -> ConsoleProcess:
        log = self.workdir / "console.log"
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "console.cli.main", "run", "--port", str(self.port)],
                cwd=ROOT, env=self.env(), stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_for(f"{self.url}/_stcore/health", self.process, log, "the console")
        return self

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)

"""The sandbox: every vendor on one loopback HTTP server, plus an admin endpoint.

Paths are the vendor's own under a per-vendor prefix, e.g.
`/apollo/api/v1/people/match`. Admin endpoints:

    GET  /_admin/faults                 current fault per vendor
    POST /_admin/faults                 {"vendor": "apollo", "mode": "down"} or "fault": "slow:1.5"
    GET  /_admin/stats                  requests, charges and credits per vendor
    GET  /_admin/statsd                 DogStatsD metrics the UDP listener received
    POST /_admin/reset                  normal mode, counters and credits back to the start
    POST /_admin/usage                  {"vendor": "apollo", "credits_used": 420}: set the usage
                                        the vendor reports, as if credits were spent elsewhere;
                                        {"vendor": "stripe", "cost_usd": 12.5} sets the month's
                                        cost of a vendor that reports dollars (Stripe fees,
                                        Anthropic cost report, Datadog estimated cost)
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from clients.registry import REGISTRY
from clients.registry.spec import RateLimit
from console.sandbox.anthropic import AnthropicSandbox
from console.sandbox.apollo import ApolloSandbox
from console.sandbox.base import SandboxRequest, SandboxResponse, SandboxVendor
from console.sandbox.clay import ClaySandbox
from console.sandbox.datadog import DatadogSandbox
from console.sandbox.faults import Fault, FaultBoard, FaultSpecError, parse_fault
from console.sandbox.sendgrid import SendGridSandbox
from console.sandbox.statsd import StatsdListener
from console.sandbox.stripe import StripeSandbox

log = logging.getLogger(__name__)

VENDOR_CLASSES: dict[str, type[SandboxVendor]] = {
    "apollo": ApolloSandbox,
    "clay": ClaySandbox,
    "sendgrid": SendGridSandbox,
    "stripe": StripeSandbox,
    "anthropic": AnthropicSandbox,
    "datadog": DatadogSandbox,
}


class Sandbox:
    """The vendors, their faults and their counters, independent of HTTP."""

    def __init__(self, limits: dict[str, RateLimit] | None = None,
                 faults: dict[str, Fault] | None = None) -> None:
        limits = limits or {}
        self.vendors: dict[str, SandboxVendor] = {}
        for name, cls in VENDOR_CLASSES.items():
            limit = limits.get(name) or REGISTRY[name].rate_limit
            self.vendors[name] = cls(limit.requests, limit.per_seconds)
        self.faults = FaultBoard(list(self.vendors))
        for vendor, fault in (faults or {}).items():
            self.faults.set(vendor, fault)
        # Set by SandboxServer, which runs the UDP listener beside the HTTP server.
        self.statsd: StatsdListener | None = None

    def vendor_for(self, path: str) -> SandboxVendor | None:
        for vendor in self.vendors.values():
            if path == vendor.prefix or path.startswith(vendor.prefix + "/"):
                return vendor
        return None

    def handle(self, vendor: SandboxVendor, request: SandboxRequest) -> SandboxResponse | None:
        """Return the response, or None when the connection must be dropped unanswered."""
        vendor.count(request)
        fault = self.faults.get(vendor.name)
        mode = fault.mode
        if mode == "slow":
            time.sleep(fault.delay)
        if mode == "auth_failure" or not vendor.authenticate(request):
            return vendor.error(401, "invalid or missing API key")
        if mode == "down" or (mode == "flaky" and self.faults.roll(fault.rate)):
            return vendor.error(503, "service unavailable")
        if mode == "overloaded":
            return vendor.error(529, "overloaded")
        if mode == "out_of_credits":
            return vendor.error(402, "out of credits")
        if mode == "rate_limited":
            response = vendor.error(429, "too many requests")
            response.headers["Retry-After"] = f"{fault.retry_after:g}"
            return response
        allowed, remaining, reset_in = vendor.window.take()
        if not allowed:
            with vendor.lock:
                vendor.rate_limited += 1
            response = vendor.error(429, "rate limit exceeded")
            response.headers["Retry-After"] = str(max(int(reset_in + 0.999), 1))
            response.headers.update(vendor.rate_headers(0, reset_in))
            return response
        try:
            response = vendor.route(request)
        except (ValueError, KeyError, TypeError) as exc:
            return vendor.error(400, f"invalid request body: {exc}")
        if mode == "drop":
            return None
        if mode == "malformed" and response.status < 300:
            return SandboxResponse(200, raw=b"<html><body>502 Bad Gateway</body></html>",
                                   content_type="text/html")
        if response.status < 300:
            response.headers.update(vendor.rate_headers(remaining, reset_in))
        return response

    def admin(self, method: str, path: str, body: bytes) -> SandboxResponse:
        if path == "/_admin/faults" and method == "GET":
            return SandboxResponse(200, self.faults.all())
        if path == "/_admin/faults" and method == "POST":
            try:
                payload = json.loads(body or b"{}")
                vendor = str(payload["vendor"])
                fault = parse_fault(str(payload.get("fault") or payload.get("mode") or "normal"))
                for name in ("delay", "rate", "retry_after"):
                    if name in payload:
                        setattr(fault, name, float(payload[name]))
                self.faults.set(vendor, fault)
            except (KeyError, ValueError, FaultSpecError) as exc:
                return SandboxResponse(400, {"error": f"invalid fault request: {exc}"})
            log.info("sandbox fault for %s set to %s", vendor, fault.mode)
            return SandboxResponse(200, self.faults.all())
        if path == "/_admin/stats" and method == "GET":
            return SandboxResponse(200, {name: v.stats() for name, v in self.vendors.items()})
        if path == "/_admin/usage" and method == "POST":
            return self._set_usage(body)
        if path == "/_admin/statsd" and method == "GET" and self.statsd is not None:
            return SandboxResponse(200, self.statsd.snapshot())
        if path == "/_admin/reset" and method == "POST":
            for name, vendor in self.vendors.items():
                vendor.reset()
                self.faults.set(name, Fault())
            if self.statsd is not None:
                self.statsd.reset()
            return SandboxResponse(200, {"reset": True})
        return SandboxResponse(404, {"error": f"no admin route {method} {path}"})


    def _set_usage(self, body: bytes) -> SandboxResponse:
        try:
            payload = json.loads(body or b"{}")
            vendor = self.vendors[str(payload["vendor"])]
            if "cost_usd" in payload:
                field, value = "cost_usd", payload["cost_usd"]
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"cost_usd must be a number of US dollars >= 0, got {value!r}")
            else:
                field, value = "credits_used", payload["credits_used"]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"credits_used must be a whole number >= 0, got {value!r}")
        except (KeyError, ValueError) as exc:
            return SandboxResponse(400, {"error": f"invalid usage request: {exc}"})
        setter = getattr(vendor, f"set_{field}", None)
        if setter is None:
            other = "cost_usd" if field == "credits_used" else "credits_used"
            return SandboxResponse(400, {"error": f"invalid usage request: sandbox {vendor.name} "
                                                  f"reports no {field}; send {other} instead"})
        try:
            setter(value)
        except ValueError as exc:
            return SandboxResponse(400, {"error": f"invalid usage request: {exc}"})
        log.info("sandbox usage for %s: %s set to %s", vendor.name, field, value)
        return SandboxResponse(200, {vendor.name: vendor.stats()})


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Without this, a response written as headers then body waits on the
        # client's delayed ACK and every call takes 40 ms longer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("sandbox %s", format % args)

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        sandbox = self.server.sandbox
        if split.path.startswith("/_admin/"):
            self._send(sandbox.admin(self.command, split.path, body))
            return
        vendor = sandbox.vendor_for(split.path)
        if vendor is None:
            self._send(SandboxResponse(404, {"error": f"no sandbox vendor serves {split.path}"}))
            return
        request = SandboxRequest(
            method=self.command,
            path=split.path[len(vendor.prefix):] or "/",
            query=parse_qs(split.query),
            headers={key.lower(): value for key, value in self.headers.items()},
            body=body,
        )
        vendor.enter()
        try:
            response = sandbox.handle(vendor, request)
        finally:
            vendor.leave()
        if response is None:
            self.close_connection = True
            self.connection.close()
            return
        self._send(response)

    def _send(self, response: SandboxResponse) -> None:
        payload = response.encoded()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-request-id", f"sbx-{uuid.uuid4().hex[:12]}")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        super().__init__(address, _Handler)
        self.sandbox = sandbox


class SandboxServer:
    """Serves a Sandbox on 127.0.0.1, with a DogStatsD listener on UDP beside it.

    Port 0 picks a free port; `statsd_port` None runs no listener.
    """

    def __init__(self, sandbox: Sandbox, port: int = 0, host: str = "127.0.0.1",
                 statsd_port: int | None = 0) -> None:
        self.sandbox = sandbox
        self._server = _Server((host, port), sandbox)
        self._thread: threading.Thread | None = None
        self.statsd = StatsdListener(statsd_port, host) if statsd_port is not None else None
        sandbox.statsd = self.statsd

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SandboxServer:
        if self.statsd is not None:
            self.statsd.start()
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        if self.statsd is not None:
            self.statsd.start()
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self.statsd is not None:
            self.statsd.stop()

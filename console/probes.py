"""Test calls: run one vendor's probe and report what happened, for people to read."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from clients.errors import VendorError
from clients.recording import CallRecord
from clients.registry import Probe, get_spec
from console.access import TEST_CALL_ROLES, User
from console.audit import record_audit, require_role_audited
from console.runtime import Runtime

COST_WARNINGS = {
    "credits": "This probe spends vendor credits.",
    "money": "This probe costs money (in the sandbox, play money).",
    "mail": "This probe sends an e-mail.",
}


def request_summary(runtime: Runtime, vendor: str, operation: str) -> str:
    """Describe where a probe goes and with which key, never showing the key itself."""
    spec = get_spec(vendor)
    key = runtime.secrets.status(spec.secret_names[0])
    return (f"{spec.display_name} {operation} at {runtime.base_urls[vendor]}; "
            f"{spec.secret_names[0]} {key.masked}"
            + (f" from {key.source}" if key.source else ""))


@dataclass
class ProbeResult:
    vendor: str
    operation: str
    outcome: str
    status_code: int | None
    latency_ms: float
    attempts: int
    cost: str
    response: object
    message: str | None = None
    request_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "success"

    def as_json(self) -> dict[str, object]:
        return {"vendor": self.vendor, "operation": self.operation, "outcome": self.outcome,
                "status_code": self.status_code, "latency_ms": round(self.latency_ms, 1),
                "attempts": self.attempts}


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def run_probe(runtime: Runtime, vendor: str, operation: str | None = None,
              actor: User | None = None) -> ProbeResult:
    """Run `operation`, or the vendor's free probe when None. Raises KeyError for unknown names.

    With `actor` set, a probe that spends credits or money or sends mail needs a
    test-call role (PermissionDenied otherwise) and is written to the audit log.
    """
    spec = get_spec(vendor)
    probe = spec.free_probe if operation is None else next(
        (p for p in spec.probes if p.operation == operation), None)
    if probe is None:
        raise KeyError(f"{vendor} has no probe {operation!r}")
    if actor is not None and probe.cost != "free":
        require_role_audited(runtime.store, actor, TEST_CALL_ROLES, "probe", f"a {probe.cost} test call",
                             vendor=vendor, detail=probe.operation)
        result = _run(runtime, vendor, probe)
        record_audit(runtime.store, actor.name, "probe", vendor=vendor,
                     detail=f"{probe.operation} ({probe.cost})", outcome="ok" if result.ok else result.outcome)
        return result
    return _run(runtime, vendor, probe)


def _run(runtime: Runtime, vendor: str, probe: Probe) -> ProbeResult:
    client = runtime.client(vendor)
    try:
        result = client.run_probe(probe.operation)  # type: ignore[attr-defined]
    except VendorError as exc:
        record = exc.record if isinstance(exc.record, CallRecord) else None
        return ProbeResult(vendor, probe.operation, exc.error_class, exc.status_code,
                           record.latency_ms if record else 0.0, record.attempts if record else 0,
                           probe.cost, None, exc.message, exc.request_id)
    record = result.record
    return ProbeResult(vendor, probe.operation, record.outcome, record.status_code, record.latency_ms,
                       record.attempts, probe.cost, _plain(result.value), None, record.request_id)

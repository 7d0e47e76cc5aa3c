"""The vendor registry: one declarative entry per vendor.

Clients, health rules, spend figures and runbooks all read these entries, so a
vendor's base URL, limits, prices and escalation path are written down once.
Adding a vendor is one module here plus one client module.
"""

from __future__ import annotations

from clients.registry.anthropic import ANTHROPIC
from clients.registry.apollo import APOLLO
from clients.registry.clay import CLAY
from clients.registry.datadog import DATADOG
from clients.registry.sendgrid import SENDGRID
from clients.registry.spec import (
    BreakerPolicy,
    ErrorCode,
    Plan,
    Probe,
    RateLimit,
    RetryPolicy,
    Timeouts,
    VendorSpec,
)
from clients.registry.stripe import STRIPE

REGISTRY: dict[str, VendorSpec] = {
    spec.name: spec for spec in (APOLLO, CLAY, SENDGRID, STRIPE, ANTHROPIC, DATADOG)
}


def get_spec(vendor: str) -> VendorSpec:
    """Return the registry entry for `vendor`, raising KeyError with the known names."""
    try:
        return REGISTRY[vendor]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise KeyError(f"unknown vendor {vendor!r}; known vendors: {known}") from None


__all__ = [
    "REGISTRY",
    "BreakerPolicy",
    "ErrorCode",
    "Plan",
    "Probe",
    "RateLimit",
    "RetryPolicy",
    "Timeouts",
    "VendorSpec",
    "get_spec",
]

"""Reconciliation: each vendor's own usage report, stored beside our metering.

A fetcher takes the runtime and returns what the vendor reports for the current
billing month, in credits, dollars or both. The vendor's figure is the
authoritative one; the Spend page and CLI show how far our metering drifts from it.
Fetchers call the vendor through the pipeline, so each report is rate limited,
guarded by the breaker and recorded like any other call.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

from clients.anthropic import AnthropicClient
from clients.apollo import ApolloClient
from clients.clay import ClayClient
from clients.datadog import DatadogClient
from clients.errors import MalformedResponse, VendorError
from clients.http import json_body, raise_for_status, request_id_of, transport_errors
from clients.pipeline import Reply
from clients.sendgrid import SendGridClient
from clients.stripe import StripeClient
from console.runtime import Runtime
from console.spend.figures import month_label, spend_report
from console.spend.plans import VendorPlan
from console.spend.pricing import fees_from_balance_transactions
from console.store.spend_models import VendorUsageSnapshot
from console.store.times import as_utc, utcnow

log = logging.getLogger(__name__)

# Apollo's usage stats are keyed by a JSON-encoded [resource, action] pair.
APOLLO_ENRICH_KEY = json.dumps(["api/v1/people", "match"])


class UsageUnavailable(Exception):
    """The vendor responded, but its report contains no figure to compare with our metering."""


@dataclass(frozen=True)
class VendorUsage:
    """A vendor's own figure for the current month; either may be None, not both."""

    credits: float | None
    usd: float | None
    source: str


Fetcher = Callable[[Runtime], VendorUsage]


def fetch_apollo(runtime: Runtime) -> VendorUsage:
    """Read enrichment credits consumed from Apollo's usage stats (a free call).

    NOTE: Apollo documents these windows as per day, hour and minute, and no
    monthly balance for API keys, so against the live API this reads today's
    count. The sandbox reports its whole billing period in each window.
    """
    client = runtime.client("apollo")
    assert isinstance(client, ApolloClient)

    def send(key: str, attempt: int) -> Reply[dict[str, object]]:
        with transport_errors("apollo", "usage_stats"):
            response = client.http.post("/usage_stats/api_usage_stats", headers={"x-api-key": key})
        raise_for_status(response, "apollo", "usage_stats")
        return Reply(json_body(response, "apollo", "usage_stats"), response.status_code,
                     request_id_of(response.headers))

    body = runtime.pipeline.call("apollo", "usage_stats", send).value
    entry = body.get(APOLLO_ENRICH_KEY)
    window = entry.get("day") if isinstance(entry, dict) else None
    consumed = window.get("consumed") if isinstance(window, dict) else None
    if isinstance(consumed, bool) or not isinstance(consumed, int | float):
        raise MalformedResponse(f"usage stats have no numeric {APOLLO_ENRICH_KEY} day.consumed",
                                vendor="apollo", operation="usage_stats")
    return VendorUsage(float(consumed), None, f"usage_stats {APOLLO_ENRICH_KEY} day.consumed")


def fetch_clay(runtime: Runtime) -> VendorUsage:
    """Read data credits used from the `period_quota` of a one-row people search.

    The search costs one action and no data credits. Clay's documented quota
    counts actions only. The sandbox adds a `data_credits` figure, and without it
    UsageUnavailable is raised, because we meter data credits.
    """
    client = runtime.client("clay")
    assert isinstance(client, ClayClient)
    result = client.search_people("acme.com", ["VP Engineering"], limit=1)
    quota = result.record.extra.get("period_quota")
    data_credits = quota.get("data_credits") if isinstance(quota, dict) else None
    used = data_credits.get("used") if isinstance(data_credits, dict) else None
    if isinstance(used, bool) or not isinstance(used, int | float):
        raise UsageUnavailable("Clay's period_quota reports actions only, no data credits used")
    return VendorUsage(float(used), None, "people search period_quota.data_credits.used")


def _month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def fetch_sendgrid(runtime: Runtime) -> VendorUsage:
    """Read the e-mail credits used this period from GET /v3/user/credits (a free call)."""
    client = runtime.client("sendgrid")
    assert isinstance(client, SendGridClient)
    body = client.credits().value
    used = body.get("used")
    if isinstance(used, bool) or not isinstance(used, int | float):
        raise MalformedResponse(f"credits response has no numeric 'used', got {used!r}",
                                vendor="sendgrid", operation="credits")
    return VendorUsage(float(used), None, "/v3/user/credits used")


def fetch_stripe(runtime: Runtime) -> VendorUsage:
    """Sum Stripe's fees on this month's charges from the balance transactions.

    Only charge and payment transactions count (see
    console.spend.pricing.fees_from_balance_transactions), because our metering
    prices the fee of each successful charge.
    """
    client = runtime.client("stripe")
    assert isinstance(client, StripeClient)
    since = _month_start(utcnow())
    report = client.balance_transactions(created_gte=int(since.timestamp()))
    if report.truncated:
        raise UsageUnavailable(f"Stripe listed more than {report.pages} pages of balance "
                               "transactions this month; the fee sum would be partial")
    usd = [asdict(transaction) for transaction in report.transactions if transaction.currency == "usd"]
    return VendorUsage(None, fees_from_balance_transactions(usd),
                       f"balance transactions since {since:%Y-%m-%d}, fees of charges and payments")


def fetch_anthropic(runtime: Runtime) -> VendorUsage:
    """Read this month's cost from the Admin API cost report (needs ANTHROPIC_ADMIN_KEY).

    NOTE: the client reads only the report's first page, which Anthropic caps at
    7 daily buckets by default, so against the live API a month later than its
    7th day is under-reported. The sandbox returns one bucket for any range.
    """
    client = runtime.client("anthropic")
    assert isinstance(client, AnthropicClient)
    now = utcnow()
    report = client.cost_report(_month_start(now), now).value
    return VendorUsage(None, report.total_usd, "admin cost report, tokens and other costs")


def fetch_datadog(runtime: Runtime) -> VendorUsage:
    """Read Datadog's estimated cost for this month (needs billing_read on the application key)."""
    client = runtime.client("datadog")
    assert isinstance(client, DatadogClient)
    month = f"{utcnow():%Y-%m}"
    estimate = client.estimated_cost(month).value
    return VendorUsage(None, estimate.total_usd, f"estimated cost for {month}")


# Vendors with a usage report; a vendor missing here is shown without a vendor figure.
FETCHERS: dict[str, Fetcher] = {
    "apollo": fetch_apollo,
    "clay": fetch_clay,
    "sendgrid": fetch_sendgrid,
    "stripe": fetch_stripe,
    "anthropic": fetch_anthropic,
    "datadog": fetch_datadog,
}


@dataclass
class ReconcileResult:
    vendor: str
    snapshot: VendorUsageSnapshot | None = None
    error: str | None = None


def reconcile(runtime: Runtime, plans: dict[str, VendorPlan], now: datetime | None = None,
              fetchers: dict[str, Fetcher] | None = None) -> list[ReconcileResult]:
    """Fetch every vendor's usage report and store it with our metering for the current month.

    A vendor whose fetch fails gets a result with the error and no snapshot, so
    one vendor being down never hides the others' reports.
    """
    now = as_utc(now or utcnow())
    fetchers = FETCHERS if fetchers is None else fetchers
    vendors = [name for name in plans if name in fetchers]
    results: list[ReconcileResult] = []
    for vendor in vendors:
        try:
            usage = fetchers[vendor](runtime)
        except (VendorError, UsageUnavailable) as exc:
            log.warning("usage report of %s not fetched: %s", vendor, exc)
            results.append(ReconcileResult(vendor, error=str(exc)))
            continue
        results.append(ReconcileResult(vendor, snapshot=_store_snapshot(runtime, plans, vendor, usage, now)))
    return results


def _store_snapshot(runtime: Runtime, plans: dict[str, VendorPlan], vendor: str, usage: VendorUsage,
                    now: datetime) -> VendorUsageSnapshot:
    # The report reflects calls up to now, so our side must include every call
    # recorded so far, including those still queued in the recorder.
    runtime.recorder.flush()
    ours = spend_report(runtime.store, {vendor: plans[vendor]}, now=now).vendors[0]
    snapshot = VendorUsageSnapshot(
        vendor=vendor, month=month_label(now.date()), fetched_at=now,
        vendor_credits=usage.credits, vendor_usd=usage.usd,
        metered_credits=ours.credits_used, metered_usd=ours.total_usd, source=usage.source,
    )
    with runtime.store.session() as session:
        session.add(snapshot)
    log.info("usage report of %s: vendor credits=%s usd=%s, metered credits=%s usd=%.2f",
             vendor, usage.credits, usage.usd, ours.credits_used, ours.total_usd)
    return snapshot

"""Datadog: key validation, metric intake, monitors and the estimated cost report."""

from clients.registry.spec import ErrorCode, Plan, Probe, RateLimit, VendorSpec

DATADOG = VendorSpec(
    name="datadog",
    display_name="Datadog",
    purpose="Monitoring: receives the integration metrics and holds the alerting monitors.",
    base_url="https://api.datadoghq.com",
    sandbox_prefix="/datadog",
    auth="Header `DD-API-KEY: <key>` on every call; reads and monitor management also need "
    "`DD-APPLICATION-KEY: <app key>`.",
    secret_names=("DATADOG_API_KEY", "DATADOG_APP_KEY"),
    plan=Plan(
        name="Pro",
        monthly_fee_usd=310.0,
        credit_unit="hosts",
        monthly_budget_usd=310.0,
    ),
    # NOTE: Datadog sets limits per endpoint and sends X-RateLimit-* headers; the
    # monitor endpoints' defaults are not documented, so 300 a minute is a guess.
    rate_limit=RateLimit(requests=300, per_seconds=60),
    probes=(
        Probe("validate", "GET /api/v1/validate: is the API key accepted", "free"),
        Probe("list_monitors", "List the monitors (API and application key)", "free"),
        Probe("estimated_cost", "Estimated cost for this month (needs billing_read)", "free"),
        # Each new custom metric name adds to the bill.
        Probe("submit_metric", "Submit one gauge point of a custom metric", "money"),
    ),
    error_codes=(
        ErrorCode(400, "Invalid request body or monitor query", "A bug in our request; read "
                  "the `errors` list."),
        ErrorCode(401, "Missing application key or key pair invalid", "Check DATADOG_APP_KEY."),
        ErrorCode(403, "API key invalid, or the application key lacks a scope (usage_read, "
                  "billing_read, monitors_write)",
                  "Check DATADOG_API_KEY and the application key's scopes."),
        ErrorCode(404, "Unknown monitor id or endpoint", "Check the id; it may have been deleted."),
        ErrorCode(429, "Endpoint rate limit reached", "Retried after X-RateLimit-Reset seconds."),
        ErrorCode(500, "Datadog server error",
                  "Retried automatically; check status.datadoghq.com."),
    ),
    support_contact="support@datadoghq.com; status at status.datadoghq.com",
    escalation="If Datadog is down, metrics are lost but vendor calls go on; the console's own "
    "alerts still evaluate its rollups. Post in #eng-integrations.",
    docs_url="https://docs.datadoghq.com/api/latest/",
)

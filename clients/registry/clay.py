"""Clay: people search by company domain and titles, second in the waterfall."""

from clients.registry.spec import ErrorCode, Plan, Probe, RateLimit, VendorSpec

CLAY = VendorSpec(
    name="clay",
    display_name="Clay",
    purpose="Company and contact enrichment; the fallback when Apollo cannot answer.",
    base_url="https://api.clay.com/public/v0",
    sandbox_prefix="/clay/public/v0",
    auth="Header `clay-api-key: <key>` (a personal key from Settings, Account).",
    secret_names=("CLAY_API_KEY",),
    plan=Plan(
        name="Explorer",
        monthly_fee_usd=349.0,
        included_credits=6000,
        credit_unit="data credits",
        overage_usd_per_credit=0.08,
        monthly_budget_usd=600.0,
    ),
    # NOTE: Clay publishes no rate limit; 10 requests a second is from a Clay support reply, not documentation.
    rate_limit=RateLimit(requests=10, per_seconds=1),
    credits_per_call={"people_search": 0, "email_lookup": 1, "me": 0},
    probes=(
        Probe("me", "GET /me: is the key accepted", "free"),
        Probe("people_search", "Search engineers at acme.com (actions, no data credits)", "free"),
        Probe("email_lookup", "Find work e-mails for acme.com engineers (data credits)", "credits"),
    ),
    error_codes=(
        ErrorCode(401, "Key missing or invalid", "Check CLAY_API_KEY."),
        ErrorCode(402, "Workspace out of actions or data credits", "Do not retry; top up the workspace."),
        ErrorCode(403, "Plan lacks the feature", "Check the Clay plan."),
        ErrorCode(404, "Unknown search or routine id", "A bug in our request; file it."),
        ErrorCode(429, "Rate limited; Retry-After is always sent", "Retried after the wait."),
        ErrorCode(500, "Clay server error", "Retried automatically."),
    ),
    support_contact="support@clay.com",
    escalation="If Clay and Apollo are both down, enrichment falls back to manual entry; "
    "tell support in #support-ops.",
    docs_url="https://developers.clay.com",
)

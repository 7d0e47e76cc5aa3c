"""Apollo.io: people search and enrichment, first in the enrichment waterfall."""

from clients.registry.spec import (
    ErrorCode,
    Plan,
    Probe,
    RateLimit,
    RetryPolicy,
    VendorSpec,
)

APOLLO = VendorSpec(
    name="apollo",
    display_name="Apollo",
    purpose="Contact enrichment: finds people at a company and reveals their work e-mail.",
    base_url="https://api.apollo.io/api/v1",
    sandbox_prefix="/apollo/api/v1",
    auth="Header `x-api-key: <key>` (a master key for people search and usage stats). "
    "Never in the request body: a body is what gets logged.",
    secret_names=("APOLLO_API_KEY",),
    plan=Plan(
        name="Growth",
        monthly_fee_usd=99.0,
        included_credits=1000,
        credit_unit="credits",
        overage_usd_per_credit=0.20,
        monthly_budget_usd=499.0,
    ),
    # Apollo documents 50 requests a minute as its example per-minute window.
    rate_limit=RateLimit(requests=50, per_seconds=60),
    # Apollo states a 429 lasts until the minute window resets; without a
    # Retry-After header the client waits the full 60 s.
    retry=RetryPolicy(default_retry_after=60.0),
    credits_per_call={"people_search": 0, "people_enrich": 1, "health": 0},
    probes=(
        Probe("health", "GET /auth/health: is the key accepted", "free"),
        Probe("people_search", "People API search for acme.com engineers (no credits)", "free"),
        Probe("people_enrich", "Enrich one person from acme.com (1 credit)", "credits"),
    ),
    error_codes=(
        ErrorCode(401, "Key missing or invalid", "Check APOLLO_API_KEY; rotate it in Apollo settings."),
        ErrorCode(403, "Key lacks permission (not a master key, or plan lacks the feature)",
                  "Use a master key; check the plan."),
        ErrorCode(402, "Out of credits", "Buy credits or wait for the monthly reset; "
                  "enrichment falls through to Clay meanwhile."),
        ErrorCode(422, "Invalid request fields", "A bug in our request; file it with the request id."),
        ErrorCode(429, "Rate window exhausted", "Wait for Retry-After (60 s when absent); "
                  "lower the backfill rate."),
        ErrorCode(500, "Apollo server error", "Retried automatically; check status.apollo.io."),
    ),
    support_contact="support@apollo.io",
    escalation="If Apollo is down for over an hour, force its breaker open so enrichment "
    "goes to Clay, and post in #eng-integrations.",
    docs_url="https://docs.apollo.io/reference",
)

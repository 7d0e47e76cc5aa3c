"""Anthropic (Claude): the Messages API, token counting and the Admin usage and cost reports."""

from clients.registry.spec import ErrorCode, Plan, Probe, RateLimit, Timeouts, VendorSpec

# USD per million tokens (input, output), standard tier, from Anthropic's pricing
# page (platform.claude.com/docs/about-claude/pricing). Keys are model id prefixes:
# the client picks the longest prefix of the model id a response names, so dated
# ids such as claude-sonnet-4-5-20250929 find their family's price.
# NOTE: prices of models newer than this table are not confirmed. Such a model is
# metered at 0 USD and its call record names it under `unpriced_model`.
ANTHROPIC_TOKEN_PRICES: dict[str, tuple[float, float]] = {
    "claude-opus-4-6": (5.0, 25.0),
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-1": (15.0, 75.0),
    "claude-opus-4-0": (15.0, 75.0),
    "claude-opus-4-20250514": (15.0, 75.0),
    "claude-sonnet-4-6": (3.0, 15.0),
    "claude-sonnet-4-5": (3.0, 15.0),
    "claude-sonnet-4-0": (3.0, 15.0),
    "claude-sonnet-4-20250514": (3.0, 15.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-3-5-haiku": (0.80, 4.0),
    "claude-3-haiku": (0.25, 1.25),
}

ANTHROPIC = VendorSpec(
    name="anthropic",
    display_name="Anthropic",
    purpose="Claude models for drafting and classification; billed per token.",
    base_url="https://api.anthropic.com",
    sandbox_prefix="/anthropic",
    auth="Headers `x-api-key: <key>` and `anthropic-version`. Usage and cost reports need "
    "an organisation admin key (`sk-ant-admin...`) in the same header.",
    secret_names=("ANTHROPIC_API_KEY", "ANTHROPIC_ADMIN_KEY"),
    plan=Plan(
        name="API, usage-based",
        monthly_fee_usd=0.0,
        credit_unit="tokens",
        # Expected spend is 500 to 2,000 USD a month; the budget is the top of that range.
        monthly_budget_usd=2000.0,
    ),
    # NOTE: Anthropic's limits depend on the organisation's usage tier; 50 requests
    # a minute is a conservative guess. Override it with ROLEFERRY_RATE_LIMITS.
    rate_limit=RateLimit(requests=50, per_seconds=60),
    # A message of a few hundred tokens takes seconds, far longer than a lookup.
    timeouts=Timeouts(connect=3.0, read=60.0, interactive_deadline=30.0, batch_deadline=600.0),
    token_prices=ANTHROPIC_TOKEN_PRICES,
    probes=(
        Probe("list_models", "GET /v1/models: is the key accepted", "free"),
        Probe("count_tokens", "Count the tokens of a one-line prompt (no charge)", "free"),
        Probe("message", "Send a one-line prompt to the cheapest model (a few tokens, billed)",
              "money"),
        Probe("usage_report", "Token usage for the last day (admin key)", "free"),
        Probe("cost_report", "Cost for the last day (admin key)", "free"),
    ),
    error_codes=(
        ErrorCode(400, "invalid_request_error: a bad request field, or the credit balance or "
                  "spend limit is used up", "Fix the request; for credits, top up under Plans "
                  "& Billing."),
        ErrorCode(401, "authentication_error: key missing or invalid", "Check ANTHROPIC_API_KEY."),
        ErrorCode(403, "permission_error: the key may not use this resource (e.g. a normal key "
                  "on the admin reports)", "Use ANTHROPIC_ADMIN_KEY for usage and cost reports."),
        ErrorCode(404, "not_found_error: unknown model or path", "Check the model id."),
        ErrorCode(413, "request_too_large: request over 32 MB", "Send a smaller prompt."),
        ErrorCode(429, "rate_limit_error: over the organisation's request or token limit, or "
                  "the monthly spend limit (error.details.error_code "
                  "enforced_spend_limit_reached)", "Retried after retry-after; a spend limit is "
                  "not retried, raise it in the console."),
        ErrorCode(500, "api_error: Anthropic server error", "Retried automatically."),
        ErrorCode(529, "overloaded_error: the API as a whole is overloaded, not our quota",
                  "Retried with backoff; check status.anthropic.com."),
    ),
    support_contact="support.anthropic.com (help centre chat); status at status.anthropic.com",
    escalation="If Claude calls fail for over 30 minutes, force the breaker open so drafting "
    "falls back to templates, and post in #eng-integrations with the request ids.",
    docs_url="https://docs.claude.com/en/api",
)

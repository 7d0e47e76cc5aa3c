"""Twilio SendGrid v3: transactional e-mail (application updates to candidates)."""

from clients.registry.spec import ErrorCode, Plan, Probe, RateLimit, RetryPolicy, VendorSpec

SENDGRID = VendorSpec(
    name="sendgrid",
    display_name="SendGrid",
    purpose="Transactional e-mail: application status updates and contact introductions.",
    base_url="https://api.sendgrid.com",
    # The SDK appends `/v3` to the host it is given, so sandbox paths are /sendgrid/v3/...
    sandbox_prefix="/sendgrid",
    auth="Header `Authorization: Bearer <key>` (an API key with the Mail Send and Stats scopes; "
    "`https://api.eu.sendgrid.com` for EU subusers).",
    secret_names=("SENDGRID_API_KEY",),
    plan=Plan(
        name="Essentials 50K",
        monthly_fee_usd=19.95,
        included_credits=50000,
        credit_unit="e-mails",
        # NOTE: an estimate of the Essentials overage price per e-mail. Check the
        # current invoice, because SendGrid changes it with the plan tier.
        overage_usd_per_credit=0.00133,
        monthly_budget_usd=100.0,
    ),
    # SendGrid reports `X-RateLimit-Limit: 600` (per minute) on v3 endpoints. Mail
    # send responses have been seen without any X-RateLimit headers.
    rate_limit=RateLimit(requests=600, per_seconds=60),
    # SendGrid sends no Retry-After on 429, so the client waits until X-RateLimit-Reset
    # and falls back to this many seconds when that header is missing too.
    retry=RetryPolicy(default_retry_after=5.0),
    credits_per_call={"send": 1, "test_send": 0, "stats": 0, "credits": 0},
    probes=(
        Probe("credits", "GET /v3/user/credits: e-mail credits left this period", "free"),
        Probe("stats", "GET /v3/stats for today: requests, delivered, bounces", "free"),
        # NOTE: sandbox mode validates the message and delivers nothing. SendGrid does
        # not document whether it uses an e-mail credit, so the probe is marked as if it does.
        Probe("test_send", "Validate one message with sandbox_mode on (nothing is delivered)",
              "credits"),
    ),
    error_codes=(
        ErrorCode(400, "Invalid request body (the `field` of the error names the culprit)",
                  "A bug in our message; file it with the X-Message-Id or the error field."),
        ErrorCode(401, "Key invalid, revoked or missing a scope; also \"Maximum credits exceeded\"",
                  "Check SENDGRID_API_KEY and its scopes; for the credits message, "
                  "upgrade the plan or wait for the reset date from /v3/user/credits."),
        ErrorCode(403, "Sender identity not verified, or a temporary block after repeated "
                  "bad requests", "Verify the from address in SendGrid Sender Authentication."),
        ErrorCode(413, "Message over 30 MB with attachments", "Send smaller attachments or links."),
        ErrorCode(429, "Rate limited until X-RateLimit-Reset", "Retried after the reset time."),
        ErrorCode(500, "SendGrid server error",
                  "Retried automatically; check status.sendgrid.com."),
        ErrorCode(503, "v3 API unavailable", "Retried automatically; check status.sendgrid.com."),
    ),
    support_contact="https://support.sendgrid.com (ticket from the SendGrid console)",
    escalation="If sends fail for over 30 minutes, check status.sendgrid.com, open a "
    "priority ticket with the X-Message-Id values, and post in #eng-integrations; "
    "sends that failed are not retried automatically once the vendor may have accepted them.",
    docs_url="https://www.twilio.com/docs/sendgrid/api-reference",
)

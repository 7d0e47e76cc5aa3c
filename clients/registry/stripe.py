"""Stripe: subscription billing for RoleFerry customers, and the fees Stripe takes."""

from clients.registry.spec import ErrorCode, Plan, Probe, RateLimit, RetryPolicy, VendorSpec

# Standard US card pricing per successful charge: 2.9 % of the amount plus $0.30.
# Plan has no field for a percentage, so the rate lives here and the fixed part
# is the plan's per-unit price.
CARD_FEE_RATE = 0.029
CARD_FEE_FIXED_USD = 0.30


def card_fee_usd(amount_usd: float) -> float:
    """Return Stripe's standard fee for one successful card charge of `amount_usd`."""
    if amount_usd <= 0:
        return 0.0
    return round(amount_usd * CARD_FEE_RATE + CARD_FEE_FIXED_USD, 2)


STRIPE = VendorSpec(
    name="stripe",
    display_name="Stripe",
    purpose="Customer billing: customers, subscriptions, balance and processing fees.",
    base_url="https://api.stripe.com",
    sandbox_prefix="/stripe",
    auth="Header `Authorization: Bearer <secret key>` (or HTTP Basic with the key as user). "
    "`sk_test_` keys see test data only, `sk_live_` keys live data; the sandbox rejects live keys.",
    secret_names=("STRIPE_SECRET_KEY",),
    plan=Plan(
        name="Standard (pay as you go)",
        # No monthly fee: Stripe charges 2.9 % + $0.30 per successful card charge
        # (CARD_FEE_RATE above); the $0.30 is the per-unit price here.
        monthly_fee_usd=0.0,
        included_credits=None,
        credit_unit="successful charges",
        overage_usd_per_credit=CARD_FEE_FIXED_USD,
        monthly_budget_usd=500.0,
    ),
    # Stripe allows 100 reads and 100 writes a second in live mode but only 25 a
    # second in test mode. The client-side budget uses the test-mode figure, so a
    # test key stays under Stripe's own limiter.
    rate_limit=RateLimit(requests=25, per_seconds=1),
    # Stripe documents no Retry-After on 429 and recommends exponential backoff.
    retry=RetryPolicy(default_retry_after=1.0),
    credits_per_call={"balance": 0, "balance_transactions": 0, "create_customer": 0,
                      "create_subscription": 1},
    probes=(
        Probe("balance", "GET /v1/balance: available and pending amounts", "free"),
        Probe("balance_transactions", "GET /v1/balance_transactions: the newest page of fees",
              "free"),
        # Creating a customer costs no fee, but it writes to the billing account,
        # so it needs the same role and confirmation as anything that moves money.
        Probe("create_customer", "Create one test customer (a write to the billing account)",
              "money"),
    ),
    error_codes=(
        ErrorCode(400, "Invalid parameters (`param` names the field), or an Idempotency-Key "
                  "reused with different parameters (type idempotency_error)",
                  "A bug in our request; file it with the Request-Id."),
        ErrorCode(401, "Key missing, invalid or revoked; a live key against the sandbox",
                  "Check STRIPE_SECRET_KEY (sk_test_ in test mode, sk_live_ in live mode)."),
        ErrorCode(402, "Card declined or payment failed (type card_error)",
                  "Not retried; the customer must update the payment method."),
        ErrorCode(403, "Restricted key lacks the permission",
                  "Grant the permission to the rk_ key."),
        ErrorCode(404, "No such object (code resource_missing)", "Check the id; file it if ours."),
        ErrorCode(409, "Concurrent request with the same Idempotency-Key",
                  "Retried after a short wait; the replay returns the first result."),
        ErrorCode(429, "Rate limited (code rate_limit) or lock contention (code lock_timeout)",
                  "Retried with backoff; lower the batch rate if it persists."),
        ErrorCode(500, "Stripe server error", "Retried with the same Idempotency-Key; "
                  "check status.stripe.com."),
    ),
    support_contact="https://support.stripe.com/contact (dashboard login required)",
    escalation="If billing calls fail for over 15 minutes, check status.stripe.com, open a "
    "support case with the Request-Id values from the call records, and page the billing "
    "owner in #eng-billing.",
    docs_url="https://docs.stripe.com/api",
)

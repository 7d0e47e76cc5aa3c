"""Pricing arithmetic per plan kind, in US dollars.

Two kinds of plan exist:

- allowance: a fixed monthly fee buys `included_credits`; each credit above them
  costs `overage_usd_per_credit` (Apollo credits, Clay data credits, SendGrid e-mails).
- pay-as-you-go: no allowance. The month's spend is the sum of each call's
  metered cost (Stripe's fee per charge, Anthropic's tokens by model) plus any
  fixed fee, such as Datadog's, which has nothing metered.

A call record's `cost_usd` prices its credits at the overage price. That is a
marginal estimate, right only once the allowance is used up, so the month's money
for an allowance plan comes from `allowance_cost_usd` over the month's credits,
never from summing `cost_usd`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from clients.registry.spec import Plan
from console.spend.plans import ChargeFee, TokenPrice

TOKENS_PER_MTOK = 1_000_000
# Balance transaction types whose `fee` is the processing fee on money taken in.
CHARGE_TRANSACTION_TYPES = ("charge", "payment")


def overage_usd(plan: Plan, credits: float) -> float:
    """Price of the credits above the plan's allowance; zero without an allowance."""
    if plan.included_credits is None:
        return 0.0
    return max(credits - plan.included_credits, 0.0) * plan.overage_usd_per_credit


def allowance_cost_usd(plan: Plan, credits: float) -> float:
    """Return the month's bill for `credits` used: the fixed fee plus overage."""
    return plan.monthly_fee_usd + overage_usd(plan, credits)


def charge_fee_usd(fee: ChargeFee, amount_usd: float) -> float:
    """Processing fee on one successful charge, rounded to the cent as card processors bill it."""
    return round(amount_usd * fee.percent / 100.0 + fee.fixed_usd, 2)


def fees_from_balance_transactions(transactions: Iterable[Mapping[str, object]]) -> float:
    """Sum Stripe's `fee` (cents) over charge and payment balance transactions, in dollars.

    Refunds, payouts and other types are skipped, because their fee fields are not
    a processing cost of money taken in.
    """
    cents = 0
    for transaction in transactions:
        if transaction.get("type") not in CHARGE_TRANSACTION_TYPES:
            continue
        fee = transaction.get("fee") or 0
        if not isinstance(fee, int):
            raise ValueError(f"balance transaction {transaction.get('id')!r} has a non-integer fee {fee!r}")
        cents += fee
    return cents / 100.0


def token_cost_usd(prices: Mapping[str, TokenPrice], model: str, input_tokens: int, output_tokens: int) -> float:
    """Cost of one Messages call by model, from USD-per-million-token prices.

    Raises KeyError naming the priced models when `model` has no price.
    """
    try:
        price = prices[model]
    except KeyError:
        known = ", ".join(sorted(prices)) or "none"
        raise KeyError(f"no token price for model {model!r}; priced models: {known}") from None
    return (input_tokens * price.input_usd_per_mtok + output_tokens * price.output_usd_per_mtok) / TOKENS_PER_MTOK

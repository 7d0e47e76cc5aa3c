"""Each vendor's pricing arithmetic, with hand-worked values from the shipped plans."""

from __future__ import annotations

from datetime import date

import pytest

from console.spend.figures import vendor_spend
from console.spend.plans import shipped_plans
from console.spend.pricing import (
    allowance_cost_usd,
    charge_fee_usd,
    fees_from_balance_transactions,
    overage_usd,
    token_cost_usd,
)

PLANS = shipped_plans()


def test_shipped_plans_cover_six_vendors():
    assert set(PLANS) == {"apollo", "clay", "sendgrid", "stripe", "anthropic", "datadog"}


@pytest.mark.parametrize(("credits", "expected"), [
    (0, 99.00),
    (1000, 99.00),         # the whole allowance, nothing above it
    (1001, 99.20),         # one credit of overage at $0.20
    (1250, 149.00),        # 99 + 250 x 0.20
])
def test_apollo_fee_plus_overage(credits, expected):
    assert allowance_cost_usd(PLANS["apollo"].plan, credits) == pytest.approx(expected)


@pytest.mark.parametrize(("credits", "expected"), [
    (5999, 349.00),
    (6500, 389.00),        # 349 + 500 x 0.08
])
def test_clay_fee_plus_overage(credits, expected):
    assert allowance_cost_usd(PLANS["clay"].plan, credits) == pytest.approx(expected)


def test_sendgrid_emails_above_plan():
    plan = PLANS["sendgrid"].plan
    assert allowance_cost_usd(plan, 40_000) == pytest.approx(20.00)
    assert overage_usd(plan, 60_000) == pytest.approx(10.00)            # 10,000 x $0.001
    assert allowance_cost_usd(plan, 60_000) == pytest.approx(30.00)


@pytest.mark.parametrize(("amount", "fee"), [
    (100.00, 3.20),        # 2.90 + 0.30
    (49.00, 1.72),         # 1.421 + 0.30 = 1.721, billed as 1.72
    (10.00, 0.59),         # 0.29 + 0.30
])
def test_stripe_fee_per_charge(amount, fee):
    assert charge_fee_usd(PLANS["stripe"].charge_fee, amount) == pytest.approx(fee)


def test_stripe_fees_from_balance_transactions():
    transactions = [
        {"id": "txn_1", "type": "charge", "amount": 10000, "fee": 320},
        {"id": "txn_2", "type": "payment", "amount": 4900, "fee": 172},
        {"id": "txn_3", "type": "refund", "amount": -4900, "fee": 0},
        {"id": "txn_4", "type": "payout", "amount": -9000, "fee": 25},
    ]
    assert fees_from_balance_transactions(transactions) == pytest.approx(4.92)


def test_stripe_fee_rejects_non_integer_cents():
    with pytest.raises(ValueError, match="txn_9"):
        fees_from_balance_transactions([{"id": "txn_9", "type": "charge", "fee": "3.20"}])


def test_stripe_has_no_allowance():
    assert not PLANS["stripe"].has_allowance
    assert PLANS["stripe"].plan.monthly_fee_usd == 0.0


@pytest.mark.parametrize(("model", "input_tokens", "output_tokens", "expected"), [
    ("claude-sonnet-4-5", 10_000, 2_000, 0.06),              # 0.03 + 0.03
    ("claude-haiku-4-5", 1_000_000, 1_000_000, 6.00),        # 1 + 5
    ("claude-opus-4-5", 200_000, 40_000, 2.00),              # 1.00 + 1.00
])
def test_anthropic_tokens_by_model(model, input_tokens, output_tokens, expected):
    prices = PLANS["anthropic"].token_prices
    assert token_cost_usd(prices, model, input_tokens, output_tokens) == pytest.approx(expected)


def test_anthropic_unknown_model_names_priced():
    with pytest.raises(KeyError, match="claude-sonnet-4-5"):
        token_cost_usd(PLANS["anthropic"].token_prices, "claude-unknown", 1, 1)


def test_datadog_fixed_fee_only():
    figures, days = vendor_spend(PLANS["datadog"], {}, date(2026, 12, 1), 10)
    assert figures.total_usd == 310.00
    assert figures.metered_usd == 0.00
    assert figures.projected_usd == 310.00
    assert figures.credits_left is None
    assert days[0].fixed_usd == 310.00


def test_pay_as_you_go_sums_metered_cost():
    # Stripe on 2 Dec: a $100 and a $49 charge; on 8 Dec another $100.
    usage = {date(2026, 12, 2): (2, 0.0, 4.92, 0.0), date(2026, 12, 8): (1, 0.0, 3.20, 0.0)}
    figures, days = vendor_spend(PLANS["stripe"], usage, date(2026, 12, 1), 10)
    assert figures.total_usd == 8.12
    # 8.12 / 10 days = 0.812 a day, for 21 more days: 8.12 + 17.052 = 25.172
    assert figures.projected_usd == 25.17
    assert sum(day.total_usd for day in days) == pytest.approx(8.12)

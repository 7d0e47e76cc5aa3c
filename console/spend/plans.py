"""Vendor plans and budgets: the shipped `console/plans.toml`, then a deployment's file.

Each vendor's plan starts from its registry entry, then takes the keys of the
shipped defaults, then the keys of the file named in ROLEFERRY_PLANS_FILE, so an
override file holds only what it changes.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from clients.registry import REGISTRY
from clients.registry.spec import Plan

DEFAULTS_FILE = Path(__file__).resolve().parent.parent / "plans.toml"
PLANS_FILE_ENV = "ROLEFERRY_PLANS_FILE"

# Keys of a vendor table and the Plan field each one sets.
PLAN_KEYS = {
    "plan": "name",
    "monthly_fee_usd": "monthly_fee_usd",
    "included_credits": "included_credits",
    "credit_unit": "credit_unit",
    "overage_usd_per_credit": "overage_usd_per_credit",
    "monthly_budget_usd": "monthly_budget_usd",
}
CHARGE_FEE_KEYS = ("percent_fee", "fixed_fee_usd")
MODEL_KEYS = ("input_usd_per_mtok", "output_usd_per_mtok")
VENDOR_KEYS = (*PLAN_KEYS, *CHARGE_FEE_KEYS, "models")


class PlanError(ValueError):
    """A plans file that cannot be used; the message names the file, the key and the fix."""


@dataclass(frozen=True)
class ChargeFee:
    """A card processor's fee on one successful charge: a percentage plus a fixed amount."""

    percent: float
    fixed_usd: float


@dataclass(frozen=True)
class TokenPrice:
    """USD per million tokens of one model."""

    input_usd_per_mtok: float
    output_usd_per_mtok: float


@dataclass(frozen=True)
class VendorPlan:
    vendor: str
    plan: Plan
    charge_fee: ChargeFee | None = None
    token_prices: dict[str, TokenPrice] = field(default_factory=dict)

    @property
    def has_allowance(self) -> bool:
        """True when a fixed fee buys included credits and only credits above them cost more."""
        return self.plan.included_credits is not None


def _number(value: object, where: str, source: Path, unit: str) -> float:
    # bool is an int subclass, and `true` as a price is a typo, not a number.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PlanError(f"{source}: {where} must be a number ({unit}), got {value!r}; "
                        f"write it without quotes, e.g. {where.rsplit('.', 1)[-1]} = 99.0")
    if value < 0:
        raise PlanError(f"{source}: {where} must not be negative, got {value!r}")
    return float(value)


def _apply_table(base: VendorPlan, table: Mapping[str, object], source: Path) -> VendorPlan:
    vendor = base.vendor
    unknown = sorted(set(table) - set(VENDOR_KEYS))
    if unknown:
        raise PlanError(f"{source}: unknown key {vendor}.{unknown[0]}; "
                        f"a vendor table may hold: {', '.join(VENDOR_KEYS)}")

    plan_changes: dict[str, object] = {}
    for key, attribute in PLAN_KEYS.items():
        if key not in table:
            continue
        value = table[key]
        where = f"{vendor}.{key}"
        if key in ("plan", "credit_unit"):
            if not isinstance(value, str) or not value.strip():
                raise PlanError(f"{source}: {where} must be a non-empty string, got {value!r}")
            plan_changes[attribute] = value
        elif key == "included_credits":
            if isinstance(value, bool) or not isinstance(value, int):
                raise PlanError(f"{source}: {where} must be a whole number of credits, got {value!r}; "
                                "remove the key for a pay-as-you-go vendor")
            plan_changes[attribute] = int(_number(value, where, source, "credits"))
        else:
            plan_changes[attribute] = _number(value, where, source, "US dollars")
    result = replace(base, plan=replace(base.plan, **plan_changes))  # type: ignore[arg-type]

    if any(key in table for key in CHARGE_FEE_KEYS):
        current = result.charge_fee or ChargeFee(0.0, 0.0)
        percent = table.get("percent_fee", current.percent)
        fixed = table.get("fixed_fee_usd", current.fixed_usd)
        result = replace(result, charge_fee=ChargeFee(
            _number(percent, f"{vendor}.percent_fee", source, "percent of the charge"),
            _number(fixed, f"{vendor}.fixed_fee_usd", source, "US dollars per charge"),
        ))

    if "models" in table:
        models = table["models"]
        if not isinstance(models, dict):
            raise PlanError(f"{source}: {vendor}.models must be a table of models, "
                            f'e.g. [{vendor}.models."claude-sonnet-4-5"]')
        prices = dict(result.token_prices)
        for model, price in models.items():
            prices[model] = _token_price(vendor, model, price, source)
        result = replace(result, token_prices=prices)
    return result


def _token_price(vendor: str, model: str, price: object, source: Path) -> TokenPrice:
    where = f'{vendor}.models."{model}"'
    if not isinstance(price, dict):
        raise PlanError(f"{source}: {where} must be a table with {' and '.join(MODEL_KEYS)}")
    unknown = sorted(set(price) - set(MODEL_KEYS))
    if unknown:
        raise PlanError(f"{source}: unknown key {where}.{unknown[0]}; "
                        f"a model table may hold: {', '.join(MODEL_KEYS)}")
    missing = [key for key in MODEL_KEYS if key not in price]
    if missing:
        raise PlanError(f"{source}: {where} is missing {missing[0]}; add it in USD per million tokens")
    return TokenPrice(*(_number(price[key], f"{where}.{key}", source, "USD per million tokens")
                        for key in MODEL_KEYS))


def read_plans_file(path: Path) -> dict[str, dict[str, object]]:
    """Parse one plans file into its vendor tables, raising PlanError on bad TOML."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise PlanError(f"plans file {path} not found; fix {PLANS_FILE_ENV} or create the file") from None
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{path}: invalid TOML: {exc}") from None
    for vendor, table in data.items():
        if not isinstance(table, dict):
            raise PlanError(f"{path}: top-level key {vendor!r} must be a table; write it as [{vendor}]")
    return data


def shipped_plans() -> dict[str, VendorPlan]:
    """Return every vendor of the shipped defaults, registered in this build or not.

    A vendor missing from the registry starts from an empty plan, so its figures
    are exactly those of `console/plans.toml`.
    """
    plans = {}
    for vendor, table in read_plans_file(DEFAULTS_FILE).items():
        spec = REGISTRY.get(vendor)
        base = VendorPlan(vendor, spec.plan if spec else Plan(name=vendor, monthly_fee_usd=0.0))
        plans[vendor] = _apply_table(base, table, DEFAULTS_FILE)
    return plans


def load_plans(path: Path | None = None, environ: Mapping[str, str] | None = None) -> dict[str, VendorPlan]:
    """Return the plan of every registry vendor: registry entry, shipped defaults, then overrides.

    `path` names the override file; without it ROLEFERRY_PLANS_FILE is read from
    `environ` (the process environment by default). Vendors of the shipped
    defaults that this build's registry lacks are skipped. An unknown vendor in an
    override file raises PlanError, because it is almost always a typo.
    """
    environ = os.environ if environ is None else environ
    if path is None and environ.get(PLANS_FILE_ENV):
        path = Path(environ[PLANS_FILE_ENV])

    plans = {name: VendorPlan(name, spec.plan) for name, spec in REGISTRY.items()}
    for vendor, table in read_plans_file(DEFAULTS_FILE).items():
        if vendor in plans:
            plans[vendor] = _apply_table(plans[vendor], table, DEFAULTS_FILE)
    if path is not None:
        for vendor, table in read_plans_file(path).items():
            if vendor not in plans:
                raise PlanError(f"{path}: unknown vendor [{vendor}]; known vendors: {', '.join(plans)}")
            plans[vendor] = _apply_table(plans[vendor], table, path)
    return plans

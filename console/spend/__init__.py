"""Spend: plans and budgets, month-to-date figures, reconciliation and seeded history."""

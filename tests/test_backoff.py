"""Backoff delays and Retry-After parsing."""

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from clients.backoff import full_jitter, parse_retry_after

NOW = 1_800_000_000.0


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (9, 8.0)])
def test_full_jitter_ceiling(attempt, ceiling):
    assert full_jitter(attempt, 0.5, 8.0, rand=lambda: 0.999999) == pytest.approx(ceiling, rel=1e-5)
    assert full_jitter(attempt, 0.5, 8.0, rand=lambda: 0.0) == 0.0


def test_full_jitter_stays_in_range():
    delays = [full_jitter(3, 0.5, 8.0) for _ in range(500)]
    assert min(delays) >= 0.0
    assert max(delays) < 2.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after": " 60 "}, 60.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"Retry-After": format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True)}, 30.0),
        ({"Retry-After": format_datetime(datetime.fromtimestamp(NOW - 30, UTC), usegmt=True)}, 0.0),
        ({"Retry-After": "-5"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers, expected):
    assert parse_retry_after(headers, now=lambda: NOW) == expected

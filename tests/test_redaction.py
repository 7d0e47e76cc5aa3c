"""No key in logs or call records."""

from __future__ import annotations

import logging

from sqlalchemy import select

from clients.secrets import RedactSecretsFilter, SecretChain, StaticProvider, mask
from console.enrichment import enrich
from console.runtime import sandbox_keys
from console.store.models import CallRecordRow
from tests.conftest import set_fault


def test_keys_absent_from_logs_and_records(runtime, sandbox, no_sleep, caplog):
    caplog.set_level(logging.DEBUG)
    enrich(runtime, "acme.com", ["CTO"])
    set_fault(sandbox, "apollo", "auth_failure")
    enrich(runtime, "globex.com", ["CTO"])
    runtime.recorder.flush()
    keys = [sandbox_keys()["APOLLO_API_KEY"], sandbox_keys()["CLAY_API_KEY"]]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "apollo.people_search" in logged
    for key in keys:
        assert key not in logged
    with runtime.store.session() as session:
        rows = session.scalars(select(CallRecordRow)).all()
    assert rows
    dumped = "\n".join(repr(vars(row)) for row in rows)
    for key in keys:
        assert key not in dumped


def test_filter_masks_known_keys():
    chain = SecretChain([StaticProvider("test", {"APOLLO_API_KEY": "live-key-abcdef123456"})])
    chain.get("APOLLO_API_KEY")
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "request failed with key %s",
                               ("live-key-abcdef123456",), None)
    RedactSecretsFilter(chain).filter(record)
    assert record.getMessage() == "request failed with key ****3456"


def test_mask_shows_last_four():
    assert mask("sk_test_1234567890abcd") == "set (****abcd)"
    assert mask("short") == "set (****)"
    assert mask(None) == "unset"

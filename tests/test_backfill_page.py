"""The Backfill page through Streamlit's AppTest, against the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from clients.registry import REGISTRY
from console.backfill import jobs
from console.backfill.upload import parse_upload
from console.ui import get_runtime

PAGE = Path(__file__).resolve().parent.parent / "pages" / "backfill.py"


@pytest.fixture
def page_env(tmp_path, sandbox, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'console.db'}")
    monkeypatch.setenv("SANDBOX_URL", sandbox.url)
    monkeypatch.setenv("ROLEFERRY_RATE_LIMITS", ",".join(f"{name}=1000/1" for name in REGISTRY))
    for spec in REGISTRY.values():
        for name in spec.secret_names:
            monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_page_without_jobs(page_env):
    app = AppTest.from_file(str(PAGE), default_timeout=30)
    app.run()
    assert not app.exception, app.exception
    assert any("No backfill jobs yet" in info.value for info in app.info)


def test_page_shows_job_progress(page_env):
    runtime = get_runtime()
    parsed = parse_upload(b"domain,titles\nacme.com,CTO\nbad,CTO\n", "page.csv")
    job_id = jobs.create_job(runtime.store, parsed, created_by="tester")
    jobs.pause(runtime.store, job_id, by="tester")

    app = AppTest.from_file(str(PAGE), default_timeout=30)
    app.run()
    assert not app.exception, app.exception
    assert any("paused by tester" in warning.value for warning in app.warning)
    assert [button.label for button in app.button][:2] == ["Resume", "Cancel"]
    app.button[1].click().run()
    assert not app.exception, app.exception
    assert jobs.get_job(runtime.store, job_id).status == jobs.JOB_CANCELLED

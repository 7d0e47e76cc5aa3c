"""The sandbox's DogStatsD listener and the metrics every pipeline call sends to it."""

from __future__ import annotations

import logging
import socket
import time
from datetime import UTC, datetime

import httpx
import pytest

from clients.errors import AuthFailed
from clients.recording import MemorySink
from clients.registry import REGISTRY
from clients.secrets import RedactSecretsFilter
from console.config import Settings
from console.runtime import open_runtime, sandbox_key
from console.sandbox.statsd import StatsdListener, StatsdParseError, parse_line
from tests.conftest import TEST_LIMITS, set_fault


def send_packet(listener: StatsdListener, payload: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(payload, (listener.host, listener.port))


def wait_for(check, timeout: float = 10.0) -> None:
    """Poll until `check()` is true; UDP delivery to the listener thread is asynchronous."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within the timeout")
        time.sleep(0.02)


@pytest.fixture
def listener():
    server = StatsdListener(keep=3).start()
    yield server
    server.stop()


def test_parse_count_with_tags():
    metric = parse_line("roleferry.integrations.apollo.calls:1|c|#method:health,env:dev")
    assert metric.name == "roleferry.integrations.apollo.calls"
    assert metric.values == ("1",)
    assert metric.type == "c"
    assert metric.tags == ("method:health", "env:dev")


def test_parse_timer_with_sample_rate():
    metric = parse_line("a.timer:12.5|ms|@0.5|#vendor:stripe")
    assert metric.type == "ms"
    assert metric.sample_rate == 0.5
    assert metric.tags == ("vendor:stripe",)


def test_parse_packed_values_and_extensions():
    metric = parse_line("a.hist:1:2:3|h|#x:y|c:abc123|T1700000000")
    assert metric.values == ("1", "2", "3")
    assert metric.extensions == ("c:abc123", "T1700000000")


def test_parse_set_accepts_text():
    assert parse_line("users.seen:alice|s").values == ("alice",)


@pytest.mark.parametrize("line", ["no-separator", "name:1", "name:abc|c", "name:1|x",
                                  "name:1|c|@often"])
def test_parse_rejects(line):
    with pytest.raises(StatsdParseError):
        parse_line(line)


def test_listener_multi_line_packet(listener):
    send_packet(listener, b"a.count:1|c|#k:v\nb.gauge:7|g\na.count:2|c")
    wait_for(lambda: sum(listener.snapshot()["counts"].values()) == 3)
    snapshot = listener.snapshot()
    assert snapshot["counts"] == {"a.count": 2, "b.gauge": 1}
    assert [m.values for m in listener.received("a.count")] == [("1",), ("2",)]


def test_listener_keeps_last_n(listener):
    send_packet(listener, b"\n".join(f"m{i}:1|c".encode() for i in range(5)))
    wait_for(lambda: sum(listener.snapshot()["counts"].values()) == 5)
    recent = listener.snapshot()["recent"]
    assert [m["name"] for m in recent] == ["m2", "m3", "m4"]
    assert listener.snapshot()["counts"]["m0"] == 1


def test_listener_counts_invalid_lines(listener, caplog):
    with caplog.at_level(logging.WARNING, logger="console.sandbox.statsd"):
        send_packet(listener, b"good:1|c\nnot a metric\n_e{1,1}:a|b")
        wait_for(lambda: listener.snapshot()["invalid_lines"] == 1)
        # The listener thread counts the line before it logs it.
        wait_for(lambda: "not a metric" in caplog.text)
    assert listener.snapshot()["counts"] == {"good": 1}


def test_listener_binds_loopback(listener):
    assert listener.host == "127.0.0.1"
    assert listener.port > 0


def test_admin_endpoint_shows_metrics(sandbox):
    assert sandbox.statsd is not None
    send_packet(sandbox.statsd, b"x.y:1|c|#a:b")
    wait_for(lambda: sandbox.statsd.snapshot()["counts"].get("x.y") == 1)
    body = httpx.get(f"{sandbox.url}/_admin/statsd").json()
    assert body["counts"] == {"x.y": 1}
    assert body["recent"][0]["tags"] == ["a:b"]
    httpx.post(f"{sandbox.url}/_admin/reset").raise_for_status()
    assert httpx.get(f"{sandbox.url}/_admin/statsd").json()["counts"] == {}


@pytest.fixture
def own_sandbox_runtime(tmp_path, monkeypatch):
    """A runtime that starts its own sandbox, as a first run with no keys does."""
    for spec in REGISTRY.values():
        for name in spec.secret_names:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ROLEFERRY_AWS_SECRETS_PREFIX", raising=False)
    settings = Settings(root=tmp_path, database_url=f"sqlite:///{tmp_path / 'console.db'}",
                        statsd_port=9, rate_limits=dict(TEST_LIMITS))
    runtime = open_runtime(settings)
    runtime.pipeline._sleep = lambda seconds: None
    yield runtime
    runtime.close()


def test_runtime_points_metrics_at_listener(own_sandbox_runtime):
    server = own_sandbox_runtime.sandbox_server
    assert server is not None
    assert server.statsd is not None
    assert own_sandbox_runtime.settings.statsd_port == server.statsd.port


def test_every_call_reaches_listener(own_sandbox_runtime):
    runtime = own_sandbox_runtime
    listener = runtime.sandbox_server.statsd
    runtime.client("anthropic").list_models()
    runtime.client("datadog").validate()
    set_fault(runtime.sandbox_server, "anthropic", "auth_failure")
    with pytest.raises(AuthFailed):
        runtime.client("anthropic").count_tokens("hi")

    prefix = "roleferry.integrations"
    wait_for(lambda: len(listener.received(f"{prefix}.anthropic.count_tokens")) == 1)
    wait_for(lambda: len(listener.received(f"{prefix}.datadog.validate")) == 1)

    anthropic_calls = listener.received(f"{prefix}.anthropic.calls")
    assert sorted(m.tags for m in anthropic_calls) == [("method:count_tokens",),
                                                       ("method:list_models",)]
    assert [m.tags for m in listener.received(f"{prefix}.anthropic.success")] == [
        ("method:list_models",)]
    assert [m.tags for m in listener.received(f"{prefix}.anthropic.error")] == [
        ("method:count_tokens", "error:AuthFailed")]
    assert [m.type for m in listener.received(f"{prefix}.anthropic.list_models")] == ["ms"]
    assert [m.tags for m in listener.received(f"{prefix}.datadog.calls")] == [
        ("method:validate",)]
    assert len(listener.received(f"{prefix}.datadog.success")) == 1


def test_no_key_in_logs_or_records(own_sandbox_runtime, caplog):
    runtime = own_sandbox_runtime
    sink = MemorySink()
    runtime.pipeline.sinks.append(sink)
    anthropic_client = runtime.client("anthropic")
    datadog_client = runtime.client("datadog")
    with caplog.at_level(logging.DEBUG):
        anthropic_client.message("hello there", max_tokens=20)
        anthropic_client.usage_report(datetime(2026, 12, 1, tzinfo=UTC))
        datadog_client.create_monitor("m", "avg(last_5m):avg:x{*} > 1", critical=1.0)
        for fault in ("auth_failure", "rate_limited", "malformed"):
            set_fault(runtime.sandbox_server, "anthropic", fault)
            set_fault(runtime.sandbox_server, "datadog", fault)
            for call in (anthropic_client.list_models, datadog_client.list_monitors):
                with pytest.raises(Exception):  # noqa: B017 - any taxonomy class will do
                    call()
    keys = [sandbox_key(spec, name) for spec in REGISTRY.values() for name in spec.secret_names]
    assert len(sink.records) == 9
    logged = "\n".join(record.getMessage() for record in caplog.records)
    # The SDK logs its request options, headers included, at DEBUG.
    assert "Request options" in logged
    for key in keys:
        assert key not in logged
        assert all(key not in repr(record.as_dict()) for record in sink.records)


def test_sdk_debug_log_masks_key(own_sandbox_runtime, caplog):
    """The client masks the key itself, without the runtime's redaction filter."""
    for handler in logging.getLogger().handlers:
        for log_filter in list(handler.filters):
            if isinstance(log_filter, RedactSecretsFilter):
                handler.removeFilter(log_filter)
    key = sandbox_key(REGISTRY["anthropic"], "ANTHROPIC_API_KEY")
    with caplog.at_level(logging.DEBUG):
        own_sandbox_runtime.client("anthropic").list_models()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Request options" in logged
    assert key not in logged
    assert f"****{key[-4:]}" in logged

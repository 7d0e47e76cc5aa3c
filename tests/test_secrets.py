"""The secrets chain: environment, .env, secrets.toml and AWS Secrets Manager (moto)."""

from __future__ import annotations

import json
import logging

import boto3
import pytest
from moto import mock_aws

from clients.errors import NotConfigured
from clients.secrets import (
    AWS_PREFIX_ENV,
    AwsSecretsManagerProvider,
    SecretChain,
    StaticProvider,
    default_chain,
    mask,
)
from tests.conftest import sandbox_stats

KEY = "APOLLO_API_KEY"
PREFIX = "roleferry/prod"
SECRET_ID = "roleferry/prod/apollo_api_key"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def aws(monkeypatch):
    """An in-process moto AWS with fake credentials; no request leaves the process."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


@pytest.fixture
def layered(tmp_path, monkeypatch, aws):
    """The same key in all four sources, each with its own value."""
    monkeypatch.setenv(AWS_PREFIX_ENV, PREFIX)
    monkeypatch.setenv(KEY, "from-environment-0001")
    (tmp_path / ".env").write_text(f"{KEY}=from-dotenv-0002\n")
    (tmp_path / ".streamlit").mkdir()
    secrets_toml = tmp_path / ".streamlit" / "secrets.toml"
    secrets_toml.write_text(f'{KEY} = "from-toml-0003"\n')
    aws.create_secret(Name=SECRET_ID, SecretString="from-aws-0004")
    return tmp_path


def test_chain_order(layered, monkeypatch):
    chain = default_chain(layered)
    assert [p.name for p in chain.providers] == ["environment", ".env", "secrets.toml",
                                                 "aws-secrets-manager"]
    assert chain.lookup(KEY) == ("from-environment-0001", "environment")

    monkeypatch.delenv(KEY)
    assert default_chain(layered).lookup(KEY) == ("from-dotenv-0002", ".env")

    (layered / ".env").write_text("")
    assert default_chain(layered).lookup(KEY) == ("from-toml-0003", "secrets.toml")

    (layered / ".streamlit" / "secrets.toml").write_text("")
    assert default_chain(layered).lookup(KEY) == ("from-aws-0004", "aws-secrets-manager")


def test_chain_extra_after_aws(layered, monkeypatch):
    monkeypatch.delenv(KEY)
    (layered / ".env").write_text("")
    (layered / ".streamlit" / "secrets.toml").write_text("")
    chain = default_chain(layered, [StaticProvider("sandbox", {KEY: "sandbox-0005"})])
    assert chain.lookup(KEY) == ("from-aws-0004", "aws-secrets-manager")
    assert chain.lookup("CLAY_API_KEY") == (None, None)


def test_empty_env_stops_chain(layered, monkeypatch):
    monkeypatch.setenv(KEY, "")
    chain = default_chain(layered)
    assert chain.lookup(KEY) == (None, "environment")
    assert chain.status(KEY).is_set is False


def test_empty_dotenv_stops_chain(layered, monkeypatch):
    monkeypatch.delenv(KEY)
    (layered / ".env").write_text(f"{KEY}=\n")
    assert default_chain(layered).lookup(KEY) == (None, ".env")


def test_aws_off_without_prefix(tmp_path, monkeypatch):
    monkeypatch.delenv(AWS_PREFIX_ENV, raising=False)
    names = [p.name for p in default_chain(tmp_path).providers]
    assert "aws-secrets-manager" not in names


def test_aws_secret_name_from_env_name():
    provider = AwsSecretsManagerProvider("roleferry/prod/")
    assert provider.secret_id("APOLLO_API_KEY") == "roleferry/prod/apollo_api_key"
    assert provider.secret_id("DATADOG_APP_KEY") == "roleferry/prod/datadog_app_key"


def test_aws_missing_secret_is_none(aws):
    provider = AwsSecretsManagerProvider(PREFIX)
    assert provider.get("CLAY_API_KEY") is None


def test_aws_json_secret(aws):
    aws.create_secret(Name=SECRET_ID, SecretString=json.dumps({KEY: "json-held-0006"}))
    assert AwsSecretsManagerProvider(PREFIX).get(KEY) == "json-held-0006"


def test_aws_binary_secret(aws):
    aws.create_secret(Name=SECRET_ID, SecretBinary=b"binary-held-0007")
    assert AwsSecretsManagerProvider(PREFIX).get(KEY) == "binary-held-0007"


def test_aws_ttl_cache(aws):
    aws.create_secret(Name=SECRET_ID, SecretString="first-value-0008")
    clock = FakeClock()
    provider = AwsSecretsManagerProvider(PREFIX, ttl=60.0, clock=clock)
    assert provider.get(KEY) == "first-value-0008"

    aws.put_secret_value(SecretId=SECRET_ID, SecretString="second-value-0009")
    clock.now += 59.0
    assert provider.get(KEY) == "first-value-0008"

    clock.now += 2.0
    assert provider.get(KEY) == "second-value-0009"


def test_aws_caches_missing(aws):
    clock = FakeClock()
    provider = AwsSecretsManagerProvider(PREFIX, ttl=60.0, clock=clock)
    assert provider.get(KEY) is None
    aws.create_secret(Name=SECRET_ID, SecretString="created-later-0010")
    assert provider.get(KEY) is None
    clock.now += 61.0
    assert provider.get(KEY) == "created-later-0010"


def test_aws_error_logged_without_value(aws, caplog):
    aws.create_secret(Name=SECRET_ID, SecretString="doomed-value-0011")
    aws.delete_secret(SecretId=SECRET_ID, RecoveryWindowInDays=7)
    provider = AwsSecretsManagerProvider(PREFIX)
    with caplog.at_level(logging.WARNING, logger="clients.secrets"):
        assert provider.get(KEY) is None
    messages = [record.getMessage() for record in caplog.records]
    assert any(SECRET_ID in message for message in messages)
    assert all("doomed-value-0011" not in message for message in messages)


def test_aws_error_not_cached(aws):
    aws.create_secret(Name=SECRET_ID, SecretString="restored-0012")
    aws.delete_secret(SecretId=SECRET_ID, RecoveryWindowInDays=7)
    provider = AwsSecretsManagerProvider(PREFIX, ttl=3600.0)
    assert provider.get(KEY) is None
    aws.restore_secret(SecretId=SECRET_ID)
    assert provider.get(KEY) == "restored-0012"


def test_aws_no_region_treated_as_missing(monkeypatch, tmp_path, caplog):
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    provider = AwsSecretsManagerProvider(PREFIX)
    with caplog.at_level(logging.WARNING, logger="clients.secrets"):
        assert provider.get(KEY) is None
    assert "NoRegionError" in caplog.text


def test_mask_shows_last_four():
    assert mask("sk-ant-api03-abcdefgh1234") == "set (****1234)"
    assert "abcdefgh" not in mask("sk-ant-api03-abcdefgh1234")


def test_mask_short_and_unset():
    assert mask("short") == "set (****)"
    assert mask(None) == "unset"
    assert mask("") == "unset"


def test_status_masks_value():
    chain = SecretChain([StaticProvider("test", {KEY: "live-key-abcdef-9876"})])
    status = chain.status(KEY)
    assert status.masked == "set (****9876)"
    assert status.source == "test"
    assert "abcdef" not in repr(status)


def test_missing_key_is_not_configured(runtime, sandbox, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "")
    with pytest.raises(NotConfigured) as caught:
        runtime.client("anthropic").count_tokens("hello")
    assert "ANTHROPIC_API_KEY" in caught.value.message
    assert sandbox_stats(sandbox)["anthropic"]["requests_total"] == 0


def test_aws_key_reaches_client(runtime, sandbox, monkeypatch, aws):
    """A key held only in AWS is what the pipeline hands to the client."""
    aws.create_secret(Name="roleferry/test/datadog_api_key", SecretString="aws-dd-key-0013")
    runtime.secrets.providers.insert(3, AwsSecretsManagerProvider("roleferry/test"))
    assert runtime.secrets.lookup("DATADOG_API_KEY") == ("aws-dd-key-0013",
                                                         "aws-secrets-manager")
    assert runtime.client("datadog").validate().value is True

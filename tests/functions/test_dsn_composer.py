"""The DSN composer custom resource, against moto's Secrets Manager (the login itself is faked here;
tests/functions/test_dsn_postgres.py proves it against a real PostgreSQL)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from hydra_functions import dsn_composer, postgres
from hydra_functions.dsn import parse_dsn

PASSWORD = "s3cr3t^with#reserved/chars"


@pytest.fixture
def secrets(monkeypatch):
    logins = []

    class FakeConnection:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def run(self, sql):
            return [[1]]

    def fake_connect(**kwargs):
        logins.append(kwargs)
        return FakeConnection()
    monkeypatch.setattr(postgres, "connect", fake_connect)
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="eu-west-1")
        source = client.create_secret(Name="db", SecretString=json.dumps({
            "username": "hydra_admin", "password": PASSWORD, "host": "db.internal", "port": 5432,
            "dbname": "hydra"}))["ARN"]
        target = client.create_secret(Name="dsn", SecretString="generated-placeholder")["ARN"]
        yield client, source, target, logins


def event(kind: str, source: str, target: str, **extra) -> dict:
    return {"RequestType": kind, "ResourceProperties": {"SourceSecretArn": source, "TargetSecretArn": target,
                                                        "MaxConns": "10", "VerifyLogin": "true"}, **extra}


def test_create_writes_the_dsn_after_logging_in_with_it(secrets):
    client, source, target, logins = secrets
    response = dsn_composer.on_event(event("Create", source, target), secrets=client)
    stored = parse_dsn(client.get_secret_value(SecretId=target)["SecretString"])
    assert (stored.password, stored.host, stored.param("max_conns")) == (PASSWORD, "db.internal", "10")
    # No tls argument: verify-full, the default, against the bundled RDS CA bundle.
    assert logins == [{"host": "db.internal", "port": 5432, "user": "hydra_admin", "password": PASSWORD,
                       "database": "hydra"}]
    assert PASSWORD not in json.dumps(response)


def test_an_unchanged_dsn_is_not_written_again(secrets):
    client, source, target, _ = secrets
    dsn_composer.on_event(event("Create", source, target), secrets=client)
    versions = client.list_secret_version_ids(SecretId=target)["Versions"]
    dsn_composer.on_event(event("Update", source, target, PhysicalResourceId="hydra-dsn"), secrets=client)
    assert client.list_secret_version_ids(SecretId=target)["Versions"] == versions


def test_delete_leaves_the_secret_alone(secrets):
    client, source, target, logins = secrets
    response = dsn_composer.on_event(event("Delete", source, target, PhysicalResourceId="hydra-dsn"),
                                     secrets=client)
    assert response == {"PhysicalResourceId": "hydra-dsn"}
    assert client.get_secret_value(SecretId=target)["SecretString"] == "generated-placeholder"
    assert logins == []


def test_nothing_secret_is_logged(secrets, caplog):
    client, source, target, _ = secrets
    caplog.set_level(dsn_composer.LOG.level)  # what the function runs with in Lambda (INFO)
    dsn_composer.on_event(event("Create", source, target), secrets=client)
    assert PASSWORD not in caplog.text and "postgres://" not in caplog.text


def test_a_database_that_never_answers_fails_the_deploy_without_writing(monkeypatch, secrets):
    client, source, target, _ = secrets

    def unreachable(**kwargs):
        raise OSError("timed out")
    monkeypatch.setattr(postgres, "connect", unreachable)
    monkeypatch.setattr(dsn_composer.time, "sleep", lambda s: None)
    with pytest.raises(RuntimeError, match="after 6 attempts"):
        dsn_composer.on_event(event("Create", source, target), secrets=client)
    assert client.get_secret_value(SecretId=target)["SecretString"] == "generated-placeholder"

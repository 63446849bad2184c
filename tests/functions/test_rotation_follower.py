"""After an alternating-users rotation, the DSN is re-derived, logs in as the new user, and Hydra redeploys."""

from __future__ import annotations

import json

import psycopg
import pytest

from hydra_functions import dsn_composer
from hydra_functions.dsn import parse_dsn
from hydra_functions.postgres import password_clause

from tests.conftest import hydra_service
from .test_dsn_postgres import libpq_dsn

pytestmark = pytest.mark.postgres
OLD, NEW = "before:rotation/1^", "after@rotation#2%"


def rotation_event(secret_arn: str) -> dict:
    return {"source": "aws.secretsmanager", "detail-type": "AWS Service Event via CloudTrail",
            "detail": {"eventSource": "secretsmanager.amazonaws.com", "eventName": "RotationSucceeded",
                       "additionalEventData": {"SecretId": secret_arn}}}


@pytest.fixture
def rotated(postgres, moto_session, monkeypatch, request):
    user = f"follower_{request.node.name[-12:].strip('_')}"
    postgres.execute(f"CREATE ROLE {user} LOGIN {password_clause(OLD)}",
                     f"CREATE ROLE {user}_clone LOGIN {password_clause(NEW)}",
                     f"GRANT {user} TO {user}_clone")
    secrets = moto_session.client("secretsmanager")
    creds = {"username": user, "password": OLD, "host": postgres.host, "port": postgres.port,
             "dbname": "postgres", "engine": "postgres"}
    source = secrets.create_secret(Name="hydra-runtime", SecretString=json.dumps(creds))["ARN"]
    target = secrets.create_secret(Name="hydra-dsn", SecretString="old")["ARN"]
    # What the alternating-users rotation leaves behind: the clone is AWSCURRENT.
    secrets.put_secret_value(SecretId=source, SecretString=json.dumps(
        {**creds, "username": f"{user}_clone", "password": NEW}))
    hydra_service(moto_session)
    monkeypatch.setenv("DSN_TARGETS", json.dumps([{"source": source, "target": target, "maxConns": 7,
                                                    "redeploy": True}]))
    monkeypatch.setenv("CLUSTER", "hydra")
    monkeypatch.setenv("SERVICE", "hydra")
    return secrets, moto_session.client("ecs"), source, target, user


def test_the_rotated_password_reaches_the_dsn_and_logs_in(rotated):
    secrets, ecs, source, target, user = rotated
    calls = []

    class RecordingEcs:
        def update_service(self, **kwargs):
            calls.append(kwargs)
            return ecs.update_service(**kwargs)
    result = dsn_composer.on_rotation(rotation_event(source), secrets=secrets, ecs=RecordingEcs())
    assert result == {"status": "recomposed", "targets": [target]}
    dsn = secrets.get_secret_value(SecretId=target)["SecretString"]
    parts = parse_dsn(dsn)
    assert (parts.username, parts.password, parts.param("max_conns")) == (f"{user}_clone", NEW, "7")
    with psycopg.connect(libpq_dsn(dsn)) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (f"{user}_clone",)
    assert calls == [{"cluster": "hydra", "service": "hydra", "forceNewDeployment": True}]


def test_other_secrets_and_events_are_ignored(rotated):
    secrets, ecs, source, target, _ = rotated
    other = rotation_event("arn:aws:secretsmanager:eu-west-1:123456789012:secret:someone-else-AbCdEf")
    assert dsn_composer.on_rotation(other, secrets=secrets, ecs=None)["status"] == "ignored"
    started = rotation_event(source)
    started["detail"]["eventName"] = "RotationStarted"
    assert dsn_composer.on_rotation(started, secrets=secrets, ecs=None)["status"] == "ignored"
    assert secrets.get_secret_value(SecretId=target)["SecretString"] == "old"


def test_the_follower_keeps_the_pool_the_deploy_composed(rotated, postgres):
    """The pool size belongs to the deploy (the Stateful stack's composer writes it first); the follower's
    own copy (the Operations stack, deployed last) may be a deploy behind and must not write it back."""
    secrets, ecs, source, target, user = rotated
    secrets.put_secret_value(SecretId=target, SecretString="postgres://someone:x@db:5432/hydra?sslmode=require"
                                                           "&max_conns=40")
    dsn_composer.on_rotation(rotation_event(source), secrets=secrets, ecs=ecs)
    parts = parse_dsn(secrets.get_secret_value(SecretId=target)["SecretString"])
    assert (parts.username, parts.param("max_conns")) == (f"{user}_clone", "40"), "follower's copy says 7"
    assert dsn_composer.on_rotation({"detail-type": "Scheduled Event"}, secrets=secrets, ecs=ecs) == \
        {"status": "reconciled", "repaired": []}, "the hourly reconciler leaves a current DSN alone"


def test_without_a_dsn_yet_the_follower_uses_its_own_pool(rotated):
    secrets, ecs, source, target, _ = rotated  # the target holds "old", not a DSN
    dsn_composer.on_rotation(rotation_event(source), secrets=secrets, ecs=ecs)
    assert parse_dsn(secrets.get_secret_value(SecretId=target)["SecretString"]).param("max_conns") == "7"

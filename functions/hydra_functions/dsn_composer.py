"""Write Hydra's DSN secret from the database credentials secret.

Runs as a CloudFormation custom resource (provider framework ``onEvent``).
It reads the credentials, composes the DSN with every user/password character
percent-encoded, proves the DSN by logging in to the database with it, and
only then stores it. Nothing secret is logged or returned to CloudFormation.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import boto3

from . import postgres
from .dsn import dsn_from_secret, parse_dsn

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)


def verify_login(dsn: str, *, attempts: int = 6, delay: float = 10.0) -> None:
    """Log in with the DSN's own user and password, verifying the server (verify-full against the RDS CA
    bundle, stricter than the DSN's own sslmode=require); retry while the writer starts."""
    parts = parse_dsn(dsn)
    last: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            with postgres.connect(host=parts.host, port=parts.port, user=parts.username, password=parts.password,
                                  database=parts.dbname) as conn:
                conn.run("SELECT 1")
            return
        except postgres.PgError as exc:
            if postgres.sqlstate(exc) == "28P01":  # invalid_password: retrying cannot help
                raise RuntimeError("the database rejected the composed DSN's credentials (28P01)") from None
            last = exc
        except OSError as exc:
            last = exc
        LOG.info("database not reachable yet (attempt %d/%d): %s", attempt, attempts, type(last).__name__)
        if attempt < attempts:
            time.sleep(delay)
    raise RuntimeError(f"could not log in with the composed DSN after {attempts} attempts: "
                       f"{type(last).__name__}: {last}")


def _pool_of(dsn: str | None) -> int | None:
    """The ``max_conns`` a stored DSN names (None: no DSN there yet, or none named)."""
    try:
        value = parse_dsn(dsn).param("max_conns") if dsn else None
        return int(value) if value else None
    except ValueError:
        return None


def publish_dsn(*, secrets: Any, source_secret_id: str, target_secret_id: str, max_conns: int,
                verify: bool = True, source_version_stage: str = "AWSCURRENT", keep_pool: bool = False) -> bool:
    """Compose the DSN from ``source_secret_id`` and store it in ``target_secret_id``.

    ``keep_pool``: keep the ``max_conns`` of the DSN already stored (``max_conns`` only when there is
    none). The rotation follower recomposes with it: the deploy's composer (the Stateful stack) owns the
    pool size, and a follower whose own copy is a deploy behind must not write an old pool back.
    Returns whether a new DSN version was written. Raises before writing if
    the DSN cannot log in.
    """
    current = secrets.get_secret_value(SecretId=target_secret_id).get("SecretString")
    if keep_pool:
        max_conns = _pool_of(current) or max_conns
    credentials = json.loads(secrets.get_secret_value(
        SecretId=source_secret_id, VersionStage=source_version_stage)["SecretString"])
    dsn = dsn_from_secret(credentials, max_conns=max_conns)
    if verify:
        verify_login(dsn)
    if current == dsn:
        LOG.info("DSN secret already up to date")
        return False
    version = secrets.put_secret_value(SecretId=target_secret_id, SecretString=dsn)["VersionId"]
    LOG.info("stored a new DSN version %s", version)
    return True


def on_event(event: dict, _context: Any = None, *, secrets: Any = None) -> dict:
    """Custom resource handler (provider framework)."""
    props = event["ResourceProperties"]
    physical_id = event.get("PhysicalResourceId") or "hydra-dsn"
    LOG.info("%s request for %s", event["RequestType"], physical_id)
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": physical_id}
    publish_dsn(secrets=secrets or boto3.client("secretsmanager"),
                source_secret_id=props["SourceSecretArn"], target_secret_id=props["TargetSecretArn"],
                max_conns=int(props["MaxConns"]), verify=props.get("VerifyLogin", "true") == "true")
    return {"PhysicalResourceId": physical_id}


def same_secret(known_arn: str, reported: str | None) -> bool:
    """Rotation events name a secret by ARN (or, in older formats, by name)."""
    if not reported:
        return False
    if reported == known_arn:
        return True
    name = known_arn.split(":secret:", 1)[-1].rsplit("-", 1)[0]
    return reported == name or reported.split(":secret:", 1)[-1].rsplit("-", 1)[0] == name


def _redeploy(ecs: Any) -> None:
    (ecs or boto3.client("ecs")).update_service(cluster=os.environ["CLUSTER"], service=os.environ["SERVICE"],
                                                forceNewDeployment=True)
    LOG.info("forced a new deployment of %s", os.environ["SERVICE"])


def reconcile(*, secrets: Any = None, ecs: Any = None) -> dict:
    """Compare every DSN with the credentials it is composed from, and repair those that differ (with
    the same login proof). Runs on a schedule: a lost RotationSucceeded event is repaired within the
    hour, before the next alternating rotation could change the password the DSN still names."""
    secrets = secrets or boto3.client("secretsmanager")
    targets = json.loads(os.environ["DSN_TARGETS"])
    repaired = [t for t in targets
                if publish_dsn(secrets=secrets, source_secret_id=t["source"], target_secret_id=t["target"],
                               max_conns=int(t["maxConns"]), verify=True, keep_pool=True)]
    if any(t.get("redeploy") for t in repaired):
        _redeploy(ecs)
    return {"status": "reconciled", "repaired": [t["target"] for t in repaired]}


def on_rotation(event: dict, _context: Any = None, *, secrets: Any = None, ecs: Any = None) -> dict:
    """EventBridge target: Secrets Manager's RotationSucceeded (re-derive the DSNs behind the rotated
    secret, then redeploy), or the hourly schedule (reconcile every DSN).

    ``DSN_TARGETS`` (JSON) lists {source, target, maxConns, redeploy}; ``CLUSTER``
    and ``SERVICE`` name the Hydra service that a new runtime DSN must reach.
    New tasks read the new DSN; with alternating users the old one keeps
    working until the next rotation, so running tasks never fail.
    """
    if event.get("detail-type") == "Scheduled Event":
        return reconcile(secrets=secrets, ecs=ecs)
    detail = event.get("detail") or {}
    reported = (detail.get("additionalEventData") or {}).get("SecretId") or \
        (detail.get("requestParameters") or {}).get("secretId")
    if detail.get("eventName") != "RotationSucceeded":
        return {"status": "ignored", "reason": f"event {detail.get('eventName')!r}"}
    matches = [t for t in json.loads(os.environ["DSN_TARGETS"]) if same_secret(t["source"], reported)]
    if not matches:
        return {"status": "ignored", "reason": "not a secret behind a Hydra DSN"}
    secrets = secrets or boto3.client("secretsmanager")
    for target in matches:
        publish_dsn(secrets=secrets, source_secret_id=target["source"], target_secret_id=target["target"],
                    max_conns=int(target["maxConns"]), verify=True, keep_pool=True)
    if any(t.get("redeploy") for t in matches):
        _redeploy(ecs)
    return {"status": "recomposed", "targets": [t["target"] for t in matches]}

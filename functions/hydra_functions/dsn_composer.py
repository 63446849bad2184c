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

from . import pgwire
from .dsn import dsn_from_secret, parse_dsn

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)


def verify_login(dsn: str, *, attempts: int = 6, delay: float = 10.0) -> None:
    """Log in with the DSN's own user, password and TLS mode; retry while the writer starts."""
    parts = parse_dsn(dsn)
    last: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            with pgwire.connect(host=parts.host, port=parts.port, user=parts.username, password=parts.password,
                         database=parts.dbname, sslmode=parts.param("sslmode") or "require") as conn:
                conn.query("SELECT 1")
            return
        except pgwire.PgError as exc:
            if exc.code == "28P01":  # invalid_password: retrying cannot help
                raise RuntimeError("the database rejected the composed DSN's credentials (28P01)") from None
            last = exc
        except OSError as exc:
            last = exc
        LOG.info("database not reachable yet (attempt %d/%d): %s", attempt, attempts, type(last).__name__)
        if attempt < attempts:
            time.sleep(delay)
    raise RuntimeError(f"could not log in with the composed DSN after {attempts} attempts: "
                       f"{type(last).__name__}: {last}")


def publish_dsn(*, secrets: Any, source_secret_id: str, target_secret_id: str, max_conns: int,
                verify: bool = True, source_version_stage: str = "AWSCURRENT") -> bool:
    """Compose the DSN from ``source_secret_id`` and store it in ``target_secret_id``.

    Returns whether a new DSN version was written. Raises before writing if
    the DSN cannot log in.
    """
    credentials = json.loads(secrets.get_secret_value(
        SecretId=source_secret_id, VersionStage=source_version_stage)["SecretString"])
    dsn = dsn_from_secret(credentials, max_conns=max_conns)
    if verify:
        verify_login(dsn)
    current = secrets.get_secret_value(SecretId=target_secret_id).get("SecretString")
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


def on_rotation(event: dict, _context: Any = None, *, secrets: Any = None, ecs: Any = None) -> dict:
    """EventBridge target for Secrets Manager's RotationSucceeded: re-derive the DSNs, then redeploy.

    ``DSN_TARGETS`` (JSON) lists {source, target, maxConns, redeploy}; ``CLUSTER``
    and ``SERVICE`` name the Hydra service that a new runtime DSN must reach.
    New tasks read the new DSN; with alternating users the old one keeps
    working until the next rotation, so running tasks never fail.
    """
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
                    max_conns=int(target["maxConns"]), verify=True)
    if any(t.get("redeploy") for t in matches):
        (ecs or boto3.client("ecs")).update_service(cluster=os.environ["CLUSTER"], service=os.environ["SERVICE"],
                                                    forceNewDeployment=True)
        LOG.info("forced a new deployment of %s", os.environ["SERVICE"])
    return {"status": "recomposed", "targets": [t["target"] for t in matches]}

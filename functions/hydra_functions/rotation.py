"""Secrets Manager rotation of Hydra's database credentials, on PostgreSQL, in this repository.

Secrets Manager calls :func:`on_rotation` four times per rotation, with the same
``ClientRequestToken``: ``createSecret``, ``setSecret``, ``testSecret``, ``finishSecret``. Each
step may be retried, and a failed rotation may be started again (with the same token or a new
one), so every step is idempotent:

- ``createSecret`` reuses an AWSPENDING version that already has this token; otherwise it
  stores new credentials under this token as AWSPENDING;
- ``setSecret`` first tries to log in with the pending credentials: if that works, the
  database already has them;
- ``testSecret`` logs in with them;
- ``finishSecret`` moves AWSCURRENT (and so AWSPREVIOUS) to the pending version, and does
  nothing when it is current already. Labels move here only.

The strategy follows the secret (the format AWS's own rotation templates use):

- **alternating users** when the secret names its master (``masterarn``): Hydra's runtime
  user. The new version names the other user of the pair (``hydra`` <-> ``hydra_clone``); the
  master creates the clone as a member of ``hydra`` (rows only, like ``hydra``) and sets its
  password. The previous user keeps working until the next rotation, so running tasks never
  lose their logins while new tasks pick the new DSN up;
- **single user** otherwise: the master and ``hydra_owner`` change their own password.

Passwords reach PostgreSQL only as SCRAM verifiers; the server is verified (verify-full against
the RDS CA bundle). Nothing secret is logged.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3

from . import postgres
from .db_roles import CLONE_SUFFIX, ensure_clone
from .postgres import password_clause, quote_ident

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
PASSWORD_LENGTH = 32
# Characters DSNs and shells trip over; the DSN composer percent-encodes anyway.
EXCLUDED_CHARACTERS = "/@\"'\\`"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


class RotationError(RuntimeError):
    """The message becomes the rotation's failure reason (never a secret value)."""


def _get(secrets: Any, arn: str, stage: str, token: str | None = None) -> dict:
    kwargs = {"SecretId": arn, "VersionStage": stage}
    if token:
        kwargs["VersionId"] = token
    return json.loads(secrets.get_secret_value(**kwargs)["SecretString"])


def _login(credentials: dict, *, database: str | None = None) -> postgres.Connection:
    return postgres.connect(host=credentials["host"], port=int(credentials.get("port") or 5432),
                            user=credentials["username"], password=credentials["password"],
                            database=database or credentials.get("dbname") or "postgres")


def _logs_in(credentials: dict) -> bool:
    try:
        with _login(credentials) as conn:
            conn.run("SELECT 1")
        return True
    except postgres.PgError as error:
        if postgres.sqlstate(error) in ("28P01", "28000"):  # wrong password, no such role
            return False
        raise


def alternating(secret: dict) -> bool:
    return bool(secret.get("masterarn"))


def other_user(username: str) -> str:
    """hydra -> hydra_clone -> hydra."""
    return username.removesuffix(CLONE_SUFFIX) if username.endswith(CLONE_SUFFIX) else username + CLONE_SUFFIX


def create_secret(secrets: Any, arn: str, token: str) -> str:
    current = _get(secrets, arn, "AWSCURRENT")
    try:
        _get(secrets, arn, "AWSPENDING", token)
        return "pending version already there"
    except secrets.exceptions.ResourceNotFoundException:
        pass
    password = secrets.get_random_password(PasswordLength=PASSWORD_LENGTH, ExcludeCharacters=EXCLUDED_CHARACTERS,
                                           IncludeSpace=False)["RandomPassword"]
    pending = {**current, "password": password}
    if alternating(current):
        pending["username"] = other_user(current["username"])
    secrets.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(pending),
                             VersionStages=["AWSPENDING"])
    return f"pending version created for {pending['username']}"


def set_secret(secrets: Any, arn: str, token: str) -> str:
    pending = _get(secrets, arn, "AWSPENDING", token)
    if _logs_in(pending):
        return "the database already has the pending password"
    if alternating(pending):
        master = _get(secrets, pending["masterarn"], "AWSCURRENT")
        base = pending["username"].removesuffix(CLONE_SUFFIX)
        with _login(master, database=pending.get("dbname")) as conn:
            if pending["username"] == base:
                conn.run(f"ALTER ROLE {quote_ident(base)} WITH LOGIN {password_clause(pending['password'])}")
            else:
                ensure_clone(conn, base, pending["username"], password_clause(pending["password"]))
        return f"password set for {pending['username']} by the master"
    # Single user: log in as the user with a password it may have: the current one, the previous one,
    # or that of an abandoned rotation whose setSecret ran before it was given up.
    for credentials in _known_credentials(secrets, arn, token):
        if credentials["username"] != pending["username"] or not _logs_in(credentials):
            continue
        with _login(credentials) as conn:
            conn.run(f"ALTER ROLE {quote_ident(pending['username'])} WITH {password_clause(pending['password'])}")
        return f"password changed by {pending['username']} itself"
    raise RotationError(f"cannot log in as {pending['username']} with any password the secret has held: the "
                        "secret and the database disagree; set the database password to the AWSCURRENT value "
                        "(as the master), then rotate again")


def _known_credentials(secrets: Any, arn: str, token: str):
    """AWSCURRENT, AWSPREVIOUS, then every other version of the secret, newest first (not ``token``)."""
    yield _get(secrets, arn, "AWSCURRENT")
    try:
        yield _get(secrets, arn, "AWSPREVIOUS")
    except secrets.exceptions.ResourceNotFoundException:
        pass
    versions = secrets.list_secret_version_ids(SecretId=arn, IncludeDeprecated=True).get("Versions", [])
    for version in sorted(versions, key=lambda v: str(v.get("CreatedDate", "")), reverse=True):
        stages = set(version.get("VersionStages") or [])
        if version["VersionId"] == token or stages & {"AWSCURRENT", "AWSPREVIOUS"}:
            continue
        try:
            yield json.loads(secrets.get_secret_value(SecretId=arn, VersionId=version["VersionId"])["SecretString"])
        except (secrets.exceptions.ResourceNotFoundException, KeyError, ValueError):
            continue


def test_secret(secrets: Any, arn: str, token: str) -> str:
    pending = _get(secrets, arn, "AWSPENDING", token)
    with _login(pending) as conn:
        [[user]] = conn.run("SELECT current_user")
    if user != pending["username"]:
        raise RotationError(f"logged in as {user}, not {pending['username']}")
    return f"{user} logs in with the pending password"


def finish_secret(secrets: Any, arn: str, token: str) -> str:
    versions = secrets.describe_secret(SecretId=arn)["VersionIdsToStages"]
    current = next((v for v, stages in versions.items() if "AWSCURRENT" in stages), None)
    if current == token:
        return "already current"
    secrets.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                        RemoveFromVersionId=current)
    return "the pending version is now current"


HANDLERS = {"createSecret": create_secret, "setSecret": set_secret, "testSecret": test_secret,
            "finishSecret": finish_secret}


def on_rotation(event: dict, _context: Any = None, *, secrets: Any = None) -> None:
    """The rotation function Secrets Manager invokes, once per step."""
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    if step not in HANDLERS:
        raise RotationError(f"unknown step {step!r}")
    secrets = secrets or boto3.client("secretsmanager")
    versions = secrets.describe_secret(SecretId=arn).get("VersionIdsToStages", {})
    if token not in versions:
        raise RotationError(f"version {token} of the secret does not exist")
    if "AWSCURRENT" in versions[token] and step != "finishSecret":
        LOG.info("%s: version %s is already current", step, token)
        return
    if "AWSCURRENT" not in versions[token] and "AWSPENDING" not in versions[token] and step != "createSecret":
        raise RotationError(f"version {token} is not pending")
    LOG.info("%s: %s", step, HANDLERS[step](secrets, arn, token))
